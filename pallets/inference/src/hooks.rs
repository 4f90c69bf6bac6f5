//! Per-block work (`on_initialize`): drawing nodes for requests submitted in earlier blocks, and
//! closing the windows that end in this block. Both are bounded (`MaxSelectionsPerBlock`,
//! `MaxDeadlinesPerBlock`) and weighed by their benchmarks.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_support::{
	inference::{DisputeManager, OnInferenceOutcome, VerificationMode},
	sortition, ModelRegistry, NodeId, NodeRegistry, RequestId, SlashSplit,
};
use frame_support::{pallet_prelude::*, traits::Randomness};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Saturating, SaturatedConversion};

use crate::{
	pallet::*,
	selection,
	types::{FailureReason, Phase},
	WeightInfo,
};

/// How many blocks past a full deadline block a deadline may slip.
const MAX_DEADLINE_SLIP: u32 = 8;

impl<T: Config> Pallet<T> {
	pub(crate) fn do_tick(now: BlockNumberFor<T>) -> Weight {
		let selected = Self::select_pending(now);
		let deadlines = Deadlines::<T>::take(now);
		let closed = deadlines.len() as u32;
		for id in deadlines {
			Self::close_window(id, now);
		}
		let (visited, redrawn) = Self::replace_convicted(now);
		let (results, outputs) = Self::prune_expired(now);
		// A closing reveal window may open a dispute; a selection, a closing window or a taken
		// job may end a request, which tells its caller pallet.
		let disputes = T::Disputes::open_dispute_weight().saturating_mul(closed.into());
		let ended = selected.saturating_add(closed).saturating_add(redrawn);
		let callers = T::OnOutcome::max_weight().saturating_mul(ended.into());
		// A closing reveal window may settle its request, which records its work.
		let work = Self::work_ledger_weight().saturating_mul(closed.into());
		// Taking a job from a convicted node is the work of replacing a late node, without the
		// slash: weighed as a closing window each.
		let convicted = T::DbWeight::get()
			.reads_writes(1, 1)
			.saturating_add(T::DbWeight::get().reads(visited.into()))
			.saturating_add(T::WeightInfo::on_initialize_deadlines(redrawn));
		// Pruning reads both queues; each pruned entry is read, and it and the result or output
		// (a result's output too) removed.
		let pruned = u64::from(results.saturating_add(outputs));
		let pruning = T::DbWeight::get()
			.reads_writes(2, 2)
			.saturating_add(T::DbWeight::get().reads_writes(pruned, pruned.saturating_mul(3)));
		// Every draw (a selection, a closing window's replacements, a convicted node's) may read
		// its tries' worth of nodes that cannot take the job.
		let draws = selected.saturating_add(closed).saturating_add(redrawn);
		let refused_tries =
			T::WeightInfo::draw_tries(atoma_support::draw::max_tries(T::MaxQuorum::get()))
				.saturating_mul(draws.into());
		// The selection benchmarks run on a small index, and storage is slower in a deeper
		// trie: what one draw costs more among 10,000 subscribers than among 10, each.
		let at_scale = T::WeightInfo::select_at_scale(crate::MAX_SCALE)
			.saturating_sub(T::WeightInfo::select_at_scale(1))
			.saturating_mul(draws.into());
		T::WeightInfo::on_initialize_selection(selected)
			.saturating_add(refused_tries)
			.saturating_add(at_scale)
			.saturating_add(pruning)
			.saturating_add(T::WeightInfo::on_initialize_deadlines(closed))
			.saturating_add(disputes)
			.saturating_add(callers)
			.saturating_add(work)
			.saturating_add(convicted)
	}

	/// Queue `node`, which lost all its collateral in a dispute, so that its jobs in flight are
	/// taken from it in the next blocks.
	pub(crate) fn queue_convicted(node: NodeId) {
		let queued = ConvictedNodes::<T>::mutate(|queue| {
			queue.iter().any(|(n, _)| *n == node) || queue.try_push((node, None)).is_ok()
		});
		if !queued {
			log::warn!(
				target: crate::LOG_TARGET,
				"conviction queue full: the jobs of {node:?} run to their deadlines"
			);
		}
	}

	/// Take up to `MaxSelectionsPerBlock` jobs from convicted nodes, oldest conviction first:
	/// a commit window still open gets a fresh node (a verifier is dropped), and the node's
	/// commitment, if any, goes with it, as its collateral no longer backs it. Jobs past their
	/// commit window stay: a reveal or a dispute decides them. Returns the assignments looked
	/// at and the jobs taken.
	fn replace_convicted(now: BlockNumberFor<T>) -> (u32, u32) {
		let mut queue = ConvictedNodes::<T>::get();
		if queue.is_empty() {
			return (0, 0);
		}
		let budget = T::MaxSelectionsPerBlock::get() as usize;
		let (mut visited, mut taken) = (0usize, 0u32);
		while let Some((node, cursor)) = queue.first().copied() {
			let left = budget.saturating_sub(visited);
			if left == 0 {
				break;
			}
			let jobs: Vec<RequestId> = match cursor {
				Some(last) => Assignments::<T>::iter_key_prefix_from(
					node,
					Assignments::<T>::hashed_key_for(node, last),
				)
				.take(left)
				.collect(),
				None => Assignments::<T>::iter_key_prefix(node).take(left).collect(),
			};
			// The prefix read itself counts, even when it finds no job.
			visited = visited.saturating_add(jobs.len().max(1));
			for id in &jobs {
				if Self::take_from_convicted(*id, node, now) {
					taken = taken.saturating_add(1);
				}
			}
			match (jobs.len() < left, jobs.last()) {
				// All of this node's jobs were looked at.
				(true, _) | (_, None) => {
					queue.remove(0);
				},
				(false, Some(last)) => {
					if let Some(head) = queue.get_mut(0) {
						head.1 = Some(*last);
					}
				},
			}
		}
		ConvictedNodes::<T>::put(queue);
		(visited.saturated_into(), taken)
	}

	/// Take request `id` from the convicted `node` if its commit window is still open.
	fn take_from_convicted(id: RequestId, node: NodeId, now: BlockNumberFor<T>) -> bool {
		let Some(mut request) = Requests::<T>::get(id) else {
			Assignments::<T>::remove(node, id);
			return false;
		};
		let redrawing = matches!(request.phase, Phase::Redrawing { .. });
		if !matches!(request.phase, Phase::Executing { .. }) && !redrawing {
			return false;
		}
		let is_verifier = request.verifiers.contains(&node);
		if !is_verifier && !request.nodes.contains(&node) {
			return false;
		}
		if redrawing && request.excluded.contains(&node) {
			// Released already: it is being replaced.
			return false;
		}
		T::Nodes::release_collateral(node, T::JobCollateral::get());
		Commitments::<T>::remove(id, node);
		Assignments::<T>::remove(node, id);
		if redrawing && !is_verifier {
			// A draw is pending: it replaces this node too. `excluded` holds at most every node
			// ever drawn for the request, like its bound.
			let _ = request.excluded.try_push(node);
			Requests::<T>::insert(id, request);
			Self::deposit_event(Event::NodeReleased { request: id, node });
		} else if is_verifier {
			request.verifiers.retain(|n| *n != node);
			Requests::<T>::insert(id, request);
			Self::deposit_event(Event::VerifierDropped { request: id, node });
		} else {
			Self::redraw(id, request, Vec::from([node]), now);
		}
		true
	}

	/// Select nodes for up to `MaxSelectionsPerBlock` requests submitted `SelectionDelay` or more
	/// blocks before `now`. The queue is in submission order, so the scan stops at the first
	/// request not due yet: it reads at most `MaxSelectionsPerBlock + 1` requests whatever the
	/// queue's length.
	fn select_pending(now: BlockNumberFor<T>) -> u32 {
		let mut queue = PendingSelections::<T>::get();
		let mut done = 0u32;
		let mut consumed = 0usize;
		for id in queue.iter().copied() {
			if done >= T::MaxSelectionsPerBlock::get() {
				break;
			}
			let due = |r: crate::Request<T>| {
				now.saturating_sub(r.submitted_at) >= T::SelectionDelay::get().into()
			};
			match Requests::<T>::get(id).map(due) {
				Some(true) => {
					Self::select(id, now);
					done = done.saturating_add(1);
				},
				Some(false) => break,
				// Gone already: drop the stale entry.
				None => {},
			}
			consumed = consumed.saturating_add(1);
		}
		if consumed > 0 {
			let rest: Vec<RequestId> = queue.iter().skip(consumed).copied().collect();
			queue = BoundedVec::truncate_from(rest);
			PendingSelections::<T>::put(queue);
		}
		done
	}

	/// The randomness of this block's selections: BABE's VRF output of the parent block. With a
	/// `SelectionDelay` of 2 or more, that block came after the request's: neither the submitter
	/// nor the author that included the request knew it.
	fn selection_randomness() -> [u8; 32] {
		let (random, _) = T::Randomness::random(b"atoma/selection");
		let hash = random.unwrap_or_else(frame_system::Pallet::<T>::parent_hash);
		let mut out = [0u8; 32];
		let bytes = hash.as_ref();
		for (slot, byte) in out.iter_mut().zip(bytes.iter()) {
			*slot = *byte;
		}
		out
	}

	fn select(id: RequestId, now: BlockNumberFor<T>) {
		let Some(mut request) = Requests::<T>::get(id) else { return };
		let seed = selection::selection_seed(&Self::selection_randomness(), id);
		let wanted = request.mode.public_nodes();
		let drawn = Self::draw_nodes(&request.model, request.echelon, wanted, seed, &[]);
		if drawn.len() < wanted as usize {
			Self::fail(id, request, FailureReason::NoEligibleNodes);
			return;
		}
		let Ok(deadline) = Self::schedule_deadline(now.saturating_add(request.timeout.into()), id)
		else {
			Self::fail(id, request, FailureReason::Overloaded);
			return;
		};
		for node in &drawn {
			// Eligibility was checked with the job's collateral just above.
			let _ = T::Nodes::reserve_collateral(*node, T::JobCollateral::get());
			Assignments::<T>::insert(node, id, ());
		}
		if let VerificationMode::CrossValidation { n, p } = request.mode {
			// The verifiers come from the other subscribers: sortition expects `n` of them.
			let others =
				T::Models::indexed_count(&request.model, request.echelon).saturating_sub(1);
			request.sortition_threshold = sortition::threshold(p, n, others);
		}
		request.selection_seed = seed;
		request.params.seed = selection::sampler_seed(&seed);
		request.nodes = BoundedVec::truncate_from(drawn.clone());
		request.phase = Phase::Executing { deadline };
		let sampler_seed = request.params.seed;
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::NodesSelected {
			request: id,
			nodes: drawn,
			sampler_seed,
			deadline,
		});
	}

	/// Register `id` to be closed at `at`, or a few blocks later if that block is full.
	pub(crate) fn schedule_deadline(
		at: BlockNumberFor<T>,
		id: RequestId,
	) -> Result<BlockNumberFor<T>, ()> {
		for slip in 0..MAX_DEADLINE_SLIP {
			let block = at.saturating_add(slip.into());
			if Deadlines::<T>::try_mutate(block, |ids| ids.try_push(id)).is_ok() {
				return Ok(block);
			}
		}
		Err(())
	}

	/// A window of `id` ends at `now`.
	fn close_window(id: RequestId, now: BlockNumberFor<T>) {
		let Some(request) = Requests::<T>::get(id) else { return };
		match request.phase {
			Phase::Executing { deadline } if deadline == now => match request.mode {
				VerificationMode::CrossValidation { .. } => {
					let primary_committed = Self::primary_committed(id, &request);
					let awaiting_reveal =
						request.nodes.iter().chain(request.verifiers.iter()).any(|n| {
							Commitments::<T>::get(id, n).is_some_and(|c| c.awaits_reveal())
						});
					if primary_committed && !awaiting_reveal {
						// The primary attested "unservable" and no verifier joined.
						Self::conclude_cross_validation(id, request);
					} else if primary_committed {
						Self::start_reveal(id, request, now);
					} else {
						Self::replace_late_nodes(id, request, now);
					}
				},
				VerificationMode::Single | VerificationMode::Sampling { .. } => {
					Self::replace_late_nodes(id, request, now)
				},
			},
			Phase::Revealing { deadline } if deadline == now => Self::close_reveal(id, request),
			Phase::Redrawing { at } if at == now => Self::replace(id, request, now),
			// A stale entry: the window moved (redraw) or the request advanced.
			_ => {},
		}
	}

	pub(crate) fn start_reveal(
		id: RequestId,
		mut request: crate::Request<T>,
		now: BlockNumberFor<T>,
	) {
		let Ok(deadline) =
			Self::schedule_deadline(now.saturating_add(T::RevealWindow::get().into()), id)
		else {
			Self::fail(id, request, FailureReason::Overloaded);
			return;
		};
		request.phase = Phase::Revealing { deadline };
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::RevealStarted { request: id, deadline });
	}

	/// Slash the nodes of `request` that did not commit, and draw fresh ones in their places; if
	/// that is not possible, refund the request.
	fn replace_late_nodes(id: RequestId, request: crate::Request<T>, now: BlockNumberFor<T>) {
		let late: Vec<NodeId> = request
			.nodes
			.iter()
			.copied()
			.filter(|n| !Commitments::<T>::contains_key(id, n))
			.collect();
		for node in &late {
			Self::punish_late(id, &request.owner, *node);
		}
		Self::redraw(id, request, late, now);
	}

	/// Replace `late` (released already, and never drawn again for this request): the
	/// replacements are drawn `SelectionDelay - 1` blocks later (at once with a delay of 1) from
	/// randomness nobody has now: whoever decided who is late (the node itself, or an author
	/// censoring its commitment) cannot know who replaces it, and the index they are drawn from
	/// follows subscriptions `IndexDelay` blocks late, so it cannot be changed to suit that
	/// randomness either. If that is not possible (`MaxRedraws` rounds done, or too few nodes
	/// indexed), refund the request.
	fn redraw(
		id: RequestId,
		mut request: crate::Request<T>,
		late: Vec<NodeId>,
		now: BlockNumberFor<T>,
	) {
		let out_of_rounds = request.redraws >= T::MaxRedraws::get();
		let mut excluded: Vec<NodeId> = request.excluded.to_vec();
		excluded.extend(late.iter().copied());
		request.excluded = BoundedVec::truncate_from(excluded);
		// Enough nodes indexed besides those on the job, or none can be drawn.
		let on_job = (request.nodes.len() as u32).saturating_add(request.verifiers.len() as u32);
		let indexed = T::Models::indexed_count(&request.model, request.echelon);
		let too_few = indexed.saturating_sub(on_job) < late.len() as u32;
		if out_of_rounds || too_few {
			let reason = if out_of_rounds {
				FailureReason::TimedOut
			} else {
				FailureReason::NoEligibleNodes
			};
			return Self::fail_replacing(id, request, reason);
		}
		let delay: BlockNumberFor<T> = T::SelectionDelay::get().saturating_sub(1).into();
		if delay.is_zero() {
			return Self::replace(id, request, now);
		}
		let Ok(at) = Self::schedule_deadline(now.saturating_add(delay), id) else {
			return Self::fail_replacing(id, request, FailureReason::Overloaded);
		};
		request.phase = Phase::Redrawing { at };
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::RedrawScheduled { request: id, at });
	}

	/// The request fails while some of its nodes wait for replacement: they were released
	/// already, so they leave the request before it releases the others.
	fn fail_replacing(id: RequestId, mut request: crate::Request<T>, reason: FailureReason) {
		let excluded = request.excluded.clone();
		request.nodes.retain(|n| !excluded.contains(n));
		Self::fail(id, request, reason);
	}

	/// Draw replacements for the nodes of `request` that are in `excluded`, with this block's
	/// randomness, from the nodes not on the job nor excluded from it, and open a fresh commit
	/// window.
	fn replace(id: RequestId, mut request: crate::Request<T>, now: BlockNumberFor<T>) {
		let late: Vec<NodeId> =
			request.nodes.iter().copied().filter(|n| request.excluded.contains(n)).collect();
		let seed = selection::redraw_seed(
			&Self::selection_randomness(),
			&request.selection_seed,
			now.saturated_into(),
		);
		let mut busy: Vec<NodeId> = request.excluded.to_vec();
		busy.extend(request.nodes.iter().copied());
		busy.extend(request.verifiers.iter().copied());
		let fresh =
			Self::draw_nodes(&request.model, request.echelon, late.len() as u32, seed, &busy);
		if fresh.len() < late.len() {
			return Self::fail_replacing(id, request, FailureReason::NoEligibleNodes);
		}
		let Ok(deadline) = Self::schedule_deadline(now.saturating_add(request.timeout.into()), id)
		else {
			return Self::fail_replacing(id, request, FailureReason::Overloaded);
		};
		for (old, new) in late.iter().zip(fresh.iter()) {
			let _ = T::Nodes::reserve_collateral(*new, T::JobCollateral::get());
			Assignments::<T>::insert(new, id, ());
			for slot in request.nodes.iter_mut() {
				if slot == old {
					*slot = *new;
				}
			}
			Self::deposit_event(Event::NodeRedrawn {
				request: id,
				replaced: *old,
				node: *new,
				deadline,
			});
		}
		request.redraws = request.redraws.saturating_add(1);
		request.phase = Phase::Executing { deadline };
		Requests::<T>::insert(id, request);
	}

	/// The reveal window closed: nodes that did not reveal are late; the rest settle.
	fn close_reveal(id: RequestId, mut request: crate::Request<T>) {
		// An "unservable" attestation needs no reveal.
		let revealed =
			|n: &NodeId| Commitments::<T>::get(id, n).is_some_and(|c| !c.awaits_reveal());
		let late: Vec<NodeId> = request
			.nodes
			.iter()
			.chain(request.verifiers.iter())
			.copied()
			.filter(|n| !revealed(n))
			.collect();
		for node in &late {
			Self::punish_late(id, &request.owner, *node);
		}
		request.nodes.retain(|n| !late.contains(n));
		request.verifiers.retain(|n| !late.contains(n));
		if request.nodes.is_empty() {
			Self::fail(id, request, FailureReason::PrimaryDidNotReveal);
		} else {
			Self::conclude_cross_validation(id, request);
		}
	}

	/// Slash a late node (protocol §8), release its reservation and drop its commitment.
	fn punish_late(id: RequestId, owner: &T::AccountId, node: NodeId) {
		let split = SlashSplit {
			user: Some(owner.clone()),
			user_share: T::TimeoutUserShare::get(),
			treasury_share: T::TimeoutTreasuryShare::get(),
			..SlashSplit::treasury_only(T::TimeoutTreasuryShare::get())
		};
		let slashed = T::Nodes::slash(node, T::TimeoutSlash::get(), &split)
			.map(|outcome| outcome.slashed)
			.unwrap_or_default();
		T::Nodes::release_collateral(node, T::JobCollateral::get());
		Commitments::<T>::remove(id, node);
		Assignments::<T>::remove(node, id);
		Self::deposit_event(Event::NodeTimedOut { request: id, node, slashed });
	}
}

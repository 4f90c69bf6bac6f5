//! The dispute lifecycle (protocol §9): opening, arbiter draws with fresh randomness, sealed
//! verdicts and their reveal, the tally, escalation, and the two ways a dispute ends: resolved
//! (cheaters lose all their collateral, the user is refunded) or dismissed (refund, nobody
//! slashed). Every path ends by the dispute's final deadline and releases every hold it made.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::{collections::btree_map::BTreeMap, vec::Vec};

use atoma_support::{
	draw::draw,
	inference::{DisputeCase, DisputeOutcome, DisputedRequests},
	ModelRegistry, NodeId, NodeRegistry, RequestId, SlashSplit,
};
use codec::Encode;
use frame_support::{
	pallet_prelude::*,
	traits::{Defensive, Randomness},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{traits::Saturating, Perbill};

use crate::{
	pallet::*,
	round_quorum,
	types::{Dismissal, Dispute, DisputePhase, Vote, VotePayload},
	WeightInfo,
};

/// How many blocks past a full timer block a phase end may slip.
pub(crate) const MAX_TIMER_SLIP: u32 = 8;

impl<T: Config> Pallet<T> {
	/// The longest a dispute can last: every round's draw delay and windows, the governance
	/// window, and the slips of each phase end.
	pub fn max_duration() -> u32 {
		let phases_per_round = 3u32;
		let per_round = T::DrawDelay::get()
			.saturating_add(T::CommitWindow::get())
			.saturating_add(T::RevealWindow::get())
			.saturating_add(MAX_TIMER_SLIP.saturating_mul(phases_per_round));
		per_round
			.saturating_mul(T::MaxRounds::get())
			.saturating_add(T::GovernanceWindow::get())
			.saturating_add(MAX_TIMER_SLIP)
	}

	pub(crate) fn do_open_dispute(
		id: RequestId,
		case: DisputeCase<T::AccountId>,
	) -> DispatchResult {
		ensure!(!Disputes::<T>::contains_key(id), Error::<T>::DisputeExists);
		ensure!(!case.claims.is_empty(), Error::<T>::NoParties);
		let claims: BoundedVec<_, T::MaxParties> =
			case.claims.try_into().map_err(|_| Error::<T>::TooManyParties)?;
		let now = frame_system::Pallet::<T>::block_number();
		let draw_at = Self::schedule(now.saturating_add(T::DrawDelay::get().into()), id)
			.map_err(|_| Error::<T>::TimersFull)?;
		let final_deadline = now.saturating_add(Self::max_duration().into());
		let parties: Vec<NodeId> = claims.iter().map(|c| c.node).collect();
		Disputes::<T>::insert(
			id,
			Dispute {
				user: case.user,
				model: case.model,
				echelon: case.echelon,
				claims,
				opened_at: now,
				final_deadline,
				round: 0,
				phase: DisputePhase::AwaitingDraw { at: draw_at },
				arbiters: BoundedVec::new(),
				round_start: 0,
				round_drawn: 0,
				excluded: BoundedVec::new(),
			},
		);
		Self::deposit_event(Event::DisputeOpened { request: id, parties, draw_at, final_deadline });
		Ok(())
	}

	/// `on_initialize`: end every dispute phase that ends in this block.
	pub(crate) fn do_tick(now: BlockNumberFor<T>) -> Weight {
		let timers = Timers::<T>::take(now);
		let count = timers.len() as u32;
		for id in timers {
			let Some(dispute) = Disputes::<T>::get(id) else { continue };
			// A phase that ended early (every arbiter acted) leaves a stale timer behind.
			if dispute.phase.ends_at() != now {
				continue;
			}
			match dispute.phase {
				DisputePhase::AwaitingDraw { .. } => Self::draw_round(id, dispute, now),
				DisputePhase::Committing { .. } => Self::close_commit(id, dispute, now),
				DisputePhase::Revealing { .. } => Self::close_reveal(id, dispute, now),
				DisputePhase::AwaitingGovernance { .. } => {
					Self::dismiss(id, dispute, Dismissal::DeadlinePassed)
				},
			}
		}
		T::WeightInfo::on_initialize(count)
	}

	/// Register `id` to have its phase ended at `at`, or a few blocks later if that block is
	/// full.
	pub(crate) fn schedule(at: BlockNumberFor<T>, id: RequestId) -> Result<BlockNumberFor<T>, ()> {
		for slip in 0..MAX_TIMER_SLIP {
			let block = at.saturating_add(slip.into());
			if Timers::<T>::try_mutate(block, |ids| ids.try_push(id)).is_ok() {
				return Ok(block);
			}
		}
		Err(())
	}

	/// The randomness of this block's draws: BABE's VRF output of the parent block, produced
	/// after the round started.
	fn draw_randomness() -> [u8; 32] {
		let (random, _) = T::Randomness::random(b"atoma/arbiters");
		let hash = random.unwrap_or_else(frame_system::Pallet::<T>::parent_hash);
		let mut out = [0u8; 32];
		for (slot, byte) in out.iter_mut().zip(hash.as_ref().iter()) {
			*slot = *byte;
		}
		out
	}

	/// The seed of a round's draw: `H("atoma/arbiter-seed/v1" ‖ randomness ‖ request ‖ round)`.
	pub fn arbiter_seed(randomness: &[u8; 32], id: RequestId, round: u32) -> [u8; 32] {
		sp_io::hashing::blake2_256(&(b"atoma/arbiter-seed/v1", randomness, id.0, round).encode())
	}

	/// Draw the current round's arbiters: eligible subscribers of the model in the parties'
	/// echelon that are neither parties, nor arbiters already, nor timed out on this dispute.
	fn draw_round(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let collateral = T::ArbiterCollateral::get();
		let candidates: Vec<NodeId> = T::Models::subscribers(&dispute.model, dispute.echelon)
			.into_iter()
			.filter(|n| {
				!dispute.is_party(*n)
					&& !dispute.arbiters.contains(n)
					&& !dispute.excluded.contains(n)
					&& T::Nodes::is_eligible(*n, collateral)
			})
			.collect();
		let wanted = round_quorum(T::ArbiterQuorum::get(), dispute.round) as usize;
		let seed = Self::arbiter_seed(&Self::draw_randomness(), id, dispute.round);
		let round_start = dispute.arbiters.len() as u32;
		let mut drawn = Vec::new();
		for node in draw(candidates, wanted, seed) {
			// Eligibility was checked with the arbiter's collateral just above.
			if T::Nodes::reserve_collateral(node, collateral).is_err() {
				continue;
			}
			if dispute.arbiters.try_push(node).is_err() {
				T::Nodes::release_collateral(node, collateral);
				break;
			}
			drawn.push(node);
		}
		dispute.round_start = round_start;
		dispute.round_drawn = drawn.len() as u32;
		if drawn.is_empty() {
			return Self::escalate(id, dispute, now);
		}
		match Self::schedule(now.saturating_add(T::CommitWindow::get().into()), id) {
			Ok(deadline) => {
				dispute.phase = DisputePhase::Committing { deadline };
				let round = dispute.round;
				Disputes::<T>::insert(id, dispute);
				Self::deposit_event(Event::ArbitersDrawn {
					request: id,
					round,
					arbiters: drawn,
					deadline,
				});
			},
			Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
		}
	}

	/// The commit window closed: arbiters that did not seal are late; the rest reveal.
	fn close_commit(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let late: Vec<NodeId> = dispute
			.round_arbiters()
			.iter()
			.copied()
			.filter(|n| !Votes::<T>::contains_key(id, n))
			.collect();
		Self::punish_late(id, &mut dispute, &late);
		if dispute.round_arbiters().is_empty() {
			Self::tally(id, dispute, now)
		} else {
			Self::start_reveal(id, dispute, now)
		}
	}

	fn start_reveal(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		match Self::schedule(now.saturating_add(T::RevealWindow::get().into()), id) {
			Ok(deadline) => {
				dispute.phase = DisputePhase::Revealing { deadline };
				Disputes::<T>::insert(id, dispute);
				Self::deposit_event(Event::RevealStarted { request: id, deadline });
			},
			Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
		}
	}

	/// The reveal window closed: arbiters that did not reveal are late; the rest are tallied.
	fn close_reveal(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let late: Vec<NodeId> = dispute
			.round_arbiters()
			.iter()
			.copied()
			.filter(|n| !matches!(Votes::<T>::get(id, n), Some(Vote::Revealed(_))))
			.collect();
		Self::punish_late(id, &mut dispute, &late);
		Self::tally(id, dispute, now)
	}

	/// Slash late arbiters like late nodes, release their reservations, drop their votes and
	/// never draw them again for this dispute.
	fn punish_late(id: RequestId, dispute: &mut Dispute<T>, late: &[NodeId]) {
		let split = SlashSplit::treasury_only(T::ArbiterTimeoutTreasuryShare::get());
		for node in late {
			let slashed = T::Nodes::slash(*node, T::ArbiterTimeoutSlash::get(), &split)
				.map(|outcome| outcome.slashed)
				.unwrap_or_default();
			T::Nodes::release_collateral(*node, T::ArbiterCollateral::get());
			Votes::<T>::remove(id, node);
			dispute.arbiters.retain(|a| a != node);
			// `excluded` holds at most every arbiter ever drawn, like `arbiters`.
			let _ = dispute.excluded.try_push(*node);
			Self::deposit_event(Event::ArbiterTimedOut { request: id, arbiter: *node, slashed });
		}
	}

	/// Count the round's revealed verdicts. A verdict revealed by more than half of the arbiters
	/// drawn decides the dispute if it matches at least one party's claim, or if it comes from a
	/// later, larger round (one first round's word is not enough to slash every party). Anything
	/// else (no majority, arbiters that timed out, a first majority matching no
	/// party) goes to a larger round, and after the last round to governance.
	fn tally(id: RequestId, dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let mut counts = BTreeMap::<[u8; 32], (u32, VerdictOf<T>)>::new();
		for node in dispute.round_arbiters() {
			if let Some(Vote::Revealed(verdict)) = Votes::<T>::get(id, node) {
				let entry = counts.entry(verdict.digest()).or_insert((0, verdict));
				entry.0 = entry.0.saturating_add(1);
			}
		}
		let majority =
			counts.into_values().find(|(count, _)| count.saturating_mul(2) > dispute.round_drawn);
		match majority {
			Some((_, verdict))
				if dispute.round > 0 || dispute.claims.iter().any(|c| verdict.matches(c)) =>
			{
				Self::resolve(id, dispute, verdict, false)
			},
			_ => Self::escalate(id, dispute, now),
		}
	}

	/// Start the next, larger round, or hand the dispute to governance after the last.
	fn escalate(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let next = dispute.round.saturating_add(1);
		if next < T::MaxRounds::get() {
			match Self::schedule(now.saturating_add(T::DrawDelay::get().into()), id) {
				Ok(draw_at) => {
					dispute.round = next;
					dispute.phase = DisputePhase::AwaitingDraw { at: draw_at };
					Disputes::<T>::insert(id, dispute);
					Self::deposit_event(Event::DisputeEscalated {
						request: id,
						round: next,
						draw_at,
					});
				},
				Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
			}
			return;
		}
		match Self::schedule(now.saturating_add(T::GovernanceWindow::get().into()), id) {
			Ok(deadline) => {
				dispute.phase = DisputePhase::AwaitingGovernance { deadline };
				Disputes::<T>::insert(id, dispute);
				Self::deposit_event(Event::AwaitingGovernance { request: id, deadline });
			},
			Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
		}
	}

	/// `verdict` won: the request is concluded with it (the user refunded in full), every hold is
	/// released, and every party and arbiter whose commitment differs loses all its collateral,
	/// shared among the user, the honest parties, the arbiters that found the verdict and the
	/// treasury; the rest is burned.
	pub(crate) fn resolve(
		id: RequestId,
		dispute: Dispute<T>,
		verdict: VerdictOf<T>,
		by_governance: bool,
	) {
		let digest = verdict.digest();
		let (honest, cheating_parties): (Vec<_>, Vec<_>) =
			dispute.claims.iter().partition(|c| verdict.matches(c));
		let honest: Vec<NodeId> = honest.into_iter().map(|c| c.node).collect();
		let mut cheaters: Vec<NodeId> = cheating_parties.into_iter().map(|c| c.node).collect();
		let mut winning_arbiters = Vec::new();
		for node in dispute.arbiters.iter() {
			match Votes::<T>::get(id, node) {
				Some(Vote::Revealed(v)) if v.digest() == digest => winning_arbiters.push(*node),
				Some(Vote::Revealed(_)) => cheaters.push(*node),
				_ => {},
			}
		}
		let outcome = DisputeOutcome {
			output_commitment: Some(verdict.output_commitment()),
			output_tokens: verdict.output_tokens,
			honest: honest.clone(),
		};
		Self::conclude_request(id, outcome);
		Self::release_arbiters(&dispute);

		let operator = |node: &NodeId| T::Nodes::node(*node).map(|n| n.operator);
		let split = SlashSplit {
			user: Some(dispute.user.clone()),
			user_share: T::CheaterUserShare::get(),
			honest: honest.iter().filter_map(operator).collect(),
			honest_share: T::CheaterHonestShare::get(),
			arbiters: winning_arbiters.iter().filter_map(operator).collect(),
			arbiters_share: T::CheaterArbitersShare::get(),
			treasury_share: T::CheaterTreasuryShare::get(),
		};
		for node in &cheaters {
			match T::Nodes::slash(*node, Perbill::one(), &split) {
				Ok(outcome) => Self::deposit_event(Event::CheaterSlashed {
					request: id,
					node: *node,
					slashed: outcome.slashed,
				}),
				Err(e) => {
					log::warn!(target: crate::LOG_TARGET, "slash of {node:?} failed: {e:?}")
				},
			}
		}
		Self::forget(id);
		Self::deposit_event(Event::DisputeResolved {
			request: id,
			verdict: digest,
			output_commitment: verdict.output_commitment(),
			honest,
			cheaters,
			arbiters: winning_arbiters,
			by_governance,
		});
	}

	/// No output won: refund the user, release every hold, slash nobody.
	pub(crate) fn dismiss(id: RequestId, dispute: Dispute<T>, reason: Dismissal) {
		let outcome =
			DisputeOutcome { output_commitment: None, output_tokens: 0, honest: Vec::new() };
		Self::conclude_request(id, outcome);
		Self::release_arbiters(&dispute);
		Self::forget(id);
		Self::deposit_event(Event::DisputeDismissed { request: id, reason });
	}

	fn conclude_request(id: RequestId, outcome: DisputeOutcome) {
		// The request was put in dispute by the inference pallet, which concludes it: a failure
		// here would be a bug, and the dispute must end all the same.
		let _ = T::Requests::conclude_dispute(id, outcome).defensive_proof("disputed request");
	}

	fn release_arbiters(dispute: &Dispute<T>) {
		for node in dispute.arbiters.iter() {
			T::Nodes::release_collateral(*node, T::ArbiterCollateral::get());
		}
	}

	fn forget(id: RequestId) {
		Disputes::<T>::remove(id);
		let _ = Votes::<T>::clear_prefix(id, T::MaxArbiters::get(), None);
	}

	pub(crate) fn do_submit_vote(
		payload: VotePayloadOf<T>,
		signature: sp_core::sr25519::Signature,
	) -> DispatchResult {
		let checked = Self::check_vote(&payload, &signature)?;
		let VotePayload { request: id, node, vote } = payload;
		let dispute = checked.dispute;
		let now = frame_system::Pallet::<T>::block_number();
		match vote {
			Vote::Sealed(sealed) => {
				Votes::<T>::insert(id, node, Vote::Sealed(sealed));
				Self::deposit_event(Event::VerdictSealed { request: id, arbiter: node });
				let all_sealed =
					dispute.round_arbiters().iter().all(|a| Votes::<T>::contains_key(id, a));
				if all_sealed {
					Self::start_reveal(id, dispute, now);
				}
			},
			Vote::Revealed(verdict) => {
				let digest = verdict.digest();
				Votes::<T>::insert(id, node, Vote::Revealed(verdict));
				Self::deposit_event(Event::VerdictRevealed {
					request: id,
					arbiter: node,
					verdict: digest,
				});
				let all_revealed = dispute
					.round_arbiters()
					.iter()
					.all(|a| matches!(Votes::<T>::get(id, a), Some(Vote::Revealed(_))));
				if all_revealed {
					Self::tally(id, dispute, now);
				}
			},
		}
		Ok(())
	}

	pub(crate) fn do_resolve_by_governance(
		id: RequestId,
		verdict: Option<VerdictOf<T>>,
	) -> DispatchResult {
		let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::UnknownDispute)?;
		ensure!(
			matches!(dispute.phase, DisputePhase::AwaitingGovernance { .. }),
			Error::<T>::NotAwaitingGovernance
		);
		match verdict {
			Some(verdict) => {
				ensure!(
					verdict.leaves.len() as u32 == dispute.leaves(),
					Error::<T>::MalformedVerdict
				);
				Self::resolve(id, dispute, verdict, true);
			},
			None => Self::dismiss(id, dispute, Dismissal::NoFaultFound),
		}
		Ok(())
	}

	/// Invariants: every dispute's phase ends at or before its final deadline and has a timer;
	/// arbiters are never parties; votes belong to open disputes and to their arbiters.
	#[cfg(any(test, feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		for (id, dispute) in Disputes::<T>::iter() {
			let end = dispute.phase.ends_at();
			ensure!(end <= dispute.final_deadline, "a dispute phase outlives the final deadline");
			ensure!(Timers::<T>::get(end).contains(&id), "a dispute phase has no timer");
			ensure!(
				dispute.arbiters.iter().all(|a| !dispute.is_party(*a)),
				"a party arbitrates its own dispute"
			);
			ensure!(dispute.round_start as usize <= dispute.arbiters.len(), "round start");
		}
		for (id, node, _) in Votes::<T>::iter() {
			let dispute = Disputes::<T>::get(id).ok_or("a vote outlived its dispute")?;
			ensure!(dispute.arbiters.contains(&node), "a vote of a non-arbiter");
		}
		Ok(())
	}
}

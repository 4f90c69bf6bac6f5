//! The dispute lifecycle (protocol §9): opening, arbiter draws with fresh randomness, sealed
//! verdicts and their reveal, the tally, escalation, and the two ways a dispute ends: resolved
//! (cheaters lose all their collateral, the user is refunded) or dismissed (refund, nobody
//! slashed). Every path ends by the dispute's final deadline and releases every hold it made.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::{collections::btree_map::BTreeMap, vec::Vec};

use atoma_primitives::{
	bisection::{children, node_range, root_node, settle, Children, TreeNode},
	commitment::{output_digest, output_leaf},
	output::{decode_canonical, CANONICAL_OUTPUT_HEADER_LEN},
};
use atoma_support::{
	draw::{draw_indexed, max_tries},
	inference::{Claim, DisputeCase, DisputeOutcome, DisputedRequests},
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
	types::{
		Bisection, BisectionPayload, Dismissal, Dispute, DisputePhase, Game, OutputPayload,
		StepCheck, StepClaim, Trace, Verdict, Vote, VotePayload,
	},
	WeightInfo,
};

/// How many blocks past a full timer block a phase end may slip.
pub(crate) const MAX_TIMER_SLIP: u32 = 8;

impl<T: Config> Pallet<T> {
	/// The longest a dispute can last: a bisection of the longest publishable trace (one turn
	/// per tree level), every round's draw delay and windows, the output window, the governance
	/// window, and the slips of each phase end.
	pub fn max_duration() -> u32 {
		let phases_per_round = 3u32;
		let per_round = T::DrawDelay::get()
			.saturating_add(T::CommitWindow::get())
			.saturating_add(T::RevealWindow::get())
			.saturating_add(MAX_TIMER_SLIP.saturating_mul(phases_per_round));
		let turns = atoma_primitives::bisection::depth(Self::max_publishable_tokens());
		let per_turn = T::BisectionWindow::get().saturating_add(MAX_TIMER_SLIP);
		per_round
			.saturating_mul(T::MaxRounds::get())
			.saturating_add(per_turn.saturating_mul(turns))
			.saturating_add(T::OutputWindow::get().saturating_add(MAX_TIMER_SLIP))
			.saturating_add(T::GovernanceWindow::get())
			.saturating_add(MAX_TIMER_SLIP)
	}

	/// The most tokens an output survivors may publish can have (`MaxOutputLen`).
	pub fn max_publishable_tokens() -> u32 {
		let body = (T::MaxOutputLen::get() as usize).saturating_sub(CANONICAL_OUTPUT_HEADER_LEN);
		u32::try_from(body / 4).unwrap_or(u32::MAX)
	}

	/// How the arbiters of a new dispute decide. Two traces of equal length are bisected down to
	/// one step; two traces of other lengths are checked at the shorter one's end (one of them
	/// ends or goes on wrongly); anything else (more than two traces, one trace with
	/// disagreeing outputs, outputs too long to publish) is re-executed whole.
	pub(crate) fn choose_game(claims: &[Claim]) -> Game {
		// An "unservable" attestation has no trace: whether the request can be served at all is
		// for arbiters to find by trying.
		if claims.iter().any(|c| c.claim.is_unservable()) {
			return Game::Full;
		}
		let mut traces: Vec<Trace> = Vec::new();
		for claim in claims {
			let trace = claim.claim.trace();
			if !traces.contains(&trace) {
				traces.push(trace);
			}
		}
		let [a, b] = traces.as_slice() else { return Game::Full };
		let (a, b) = (*a, *b);
		if a.1.max(b.1) > Self::max_publishable_tokens() {
			return Game::Full;
		}
		let traces = [a, b];
		if a.1 != b.1 {
			let claims = if a.1 < b.1 {
				[StepClaim::Ends, StepClaim::Continues]
			} else {
				[StepClaim::Continues, StepClaim::Ends]
			};
			let step = a.1.min(b.1);
			return Game::StepCheck(StepCheck { traces, step, claims, agreed: Default::default() });
		}
		let steps = a.1;
		let node = settle(steps, root_node(steps));
		match children(steps, node) {
			Children::Step(step) => Game::StepCheck(StepCheck {
				traces,
				step,
				claims: [StepClaim::Digest(a.0), StepClaim::Digest(b.0)],
				agreed: Default::default(),
			}),
			Children::Pair(..) => Game::Bisection(Bisection {
				traces,
				level: node.level,
				index: node.index,
				hashes: [a.0, b.0],
				answers: [None, None],
				agreed: Default::default(),
			}),
			// No steps: two different roots of an empty trace; nothing to bisect.
			Children::Promoted(_) | Children::Empty => Game::Full,
		}
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
		let game = Self::choose_game(&claims);
		let phase = match &game {
			Game::Bisection(_) => DisputePhase::Bisecting {
				deadline: Self::schedule(now.saturating_add(T::BisectionWindow::get().into()), id)
					.map_err(|_| Error::<T>::TimersFull)?,
			},
			Game::Full | Game::StepCheck(_) => DisputePhase::AwaitingDraw {
				at: Self::schedule(now.saturating_add(T::DrawDelay::get().into()), id)
					.map_err(|_| Error::<T>::TimersFull)?,
			},
		};
		let final_deadline = now.saturating_add(Self::max_duration().into());
		let parties: Vec<NodeId> = claims.iter().map(|c| c.node).collect();
		for party in &parties {
			Duties::<T>::insert(party, id, ());
		}
		let started = match &game {
			Game::Bisection(b) => Some(Event::BisectionStarted {
				request: id,
				steps: b.traces[0].1,
				deadline: phase.ends_at(),
			}),
			Game::StepCheck(check) => Some(Event::StepCheckStarted {
				request: id,
				step: check.step,
				draw_at: phase.ends_at(),
			}),
			Game::Full => None,
		};
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
				phase,
				arbiters: BoundedVec::new(),
				round_start: 0,
				round_drawn: 0,
				excluded: BoundedVec::new(),
				game,
				convicted: BoundedVec::new(),
				step_verdict: None,
			},
		);
		Self::deposit_event(Event::DisputeOpened {
			request: id,
			parties,
			draw_at: phase.ends_at(),
			final_deadline,
		});
		if let Some(event) = started {
			Self::deposit_event(event);
		}
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
				DisputePhase::Bisecting { .. } => Self::close_turn(id, dispute, now),
				DisputePhase::AwaitingOutput { .. } => Self::close_output(id, dispute),
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

	/// Draw the current round's arbiters: subscribers of the model in the parties' echelon
	/// (from the model registry's draw index, `draw_indexed`: uniform, at most
	/// `draw::max_tries` positions read, whatever the number of subscribers) that are still
	/// subscribed, neither parties, nor arbiters already, nor timed out on this dispute, and
	/// have `ArbiterCollateral` free.
	fn draw_round(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let collateral = T::ArbiterCollateral::get();
		// Never more than the arbiters list can still take (`MaxArbiters` covers every round).
		let room = T::MaxArbiters::get().saturating_sub(dispute.arbiters.len() as u32);
		let wanted = round_quorum(T::ArbiterQuorum::get(), dispute.round).min(room);
		let seed = Self::arbiter_seed(&Self::draw_randomness(), id, dispute.round);
		let candidates = draw_indexed(
			T::Models::indexed_count(&dispute.model, dispute.echelon),
			wanted as usize,
			max_tries(wanted),
			seed,
			|position| T::Models::indexed_node(&dispute.model, dispute.echelon, position),
			|n| {
				!dispute.is_party(n)
					&& !dispute.arbiters.contains(&n)
					&& !dispute.excluded.contains(&n)
					&& T::Models::is_subscribed(n, &dispute.model)
					&& T::Nodes::is_eligible(n, collateral)
			},
		);
		let round_start = dispute.arbiters.len() as u32;
		let mut drawn = Vec::new();
		for node in candidates {
			// Eligibility was checked with the arbiter's collateral just above.
			if T::Nodes::reserve_collateral(node, collateral).is_err() {
				continue;
			}
			if dispute.arbiters.try_push(node).is_err() {
				T::Nodes::release_collateral(node, collateral);
				break;
			}
			Duties::<T>::insert(node, id, ());
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
			.filter(|n| Votes::<T>::get(id, n).is_none_or(|v| v.revealed_digest().is_none()))
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
			Duties::<T>::remove(node, id);
			dispute.arbiters.retain(|a| a != node);
			// `excluded` holds at most every arbiter ever drawn, like `arbiters`.
			let _ = dispute.excluded.try_push(*node);
			Self::deposit_event(Event::ArbiterTimedOut { request: id, arbiter: *node, slashed });
		}
	}

	/// Count the round's revealed verdicts. A verdict revealed by more than half of the arbiters
	/// drawn decides if it clears at least one party (or side of a one-step check), or if it
	/// comes from a later, larger round (one first round's word is not enough to convict every
	/// party). Anything else (no majority, arbiters that timed out, a first majority that clears
	/// nobody) goes to a larger round, and after the last round to governance.
	fn tally(id: RequestId, dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let unservable = Self::majority(id, &dispute, |vote| match vote {
			Vote::Revealed(verdict) => verdict.unservable_reason().map(|r| (verdict.digest(), r)),
			_ => None,
		});
		if let Some(reason) = unservable {
			// Nobody can be shown wrong about a request the arbiters cannot run either.
			return Self::dismiss(id, dispute, Dismissal::Unservable(reason));
		}
		if let Game::StepCheck(check) = &dispute.game {
			let check = check.clone();
			return Self::tally_step(id, dispute, check, now);
		}
		let majority = Self::majority(id, &dispute, |vote| match vote {
			Vote::Revealed(verdict) => Some((verdict.digest(), verdict)),
			_ => None,
		});
		match majority {
			Some(verdict)
				if dispute.round > 0 || dispute.survivors().any(|c| verdict.matches(c)) =>
			{
				Self::resolve(id, dispute, Some(verdict), false)
			},
			_ => Self::escalate(id, dispute, now),
		}
	}

	/// The verdict (of the kind `revealed` picks out of a vote, with its digest) revealed by
	/// more than half of the arbiters the current round drew.
	fn majority<V>(
		id: RequestId,
		dispute: &Dispute<T>,
		revealed: impl Fn(Vote<T::MaxParties>) -> Option<([u8; 32], V)>,
	) -> Option<V> {
		let mut counts = BTreeMap::<[u8; 32], (u32, V)>::new();
		for node in dispute.round_arbiters() {
			if let Some((digest, verdict)) = Votes::<T>::get(id, node).and_then(&revealed) {
				let entry = counts.entry(digest).or_insert((0, verdict));
				entry.0 = entry.0.saturating_add(1);
			}
		}
		counts
			.into_values()
			.find(|(count, _)| count.saturating_mul(2) > dispute.round_drawn)
			.map(|(_, verdict)| verdict)
	}

	/// [`Self::tally`] of a one-step check: the side whose claim of the step (or whose agreed
	/// prefix) differs from the majority's verdict is convicted.
	fn tally_step(
		id: RequestId,
		mut dispute: Dispute<T>,
		check: StepCheck,
		now: BlockNumberFor<T>,
	) {
		let majority = Self::majority(id, &dispute, |vote| match vote {
			Vote::RevealedStep(verdict) => Some((verdict.digest(), verdict)),
			_ => None,
		});
		let Some(verdict) = majority
			.filter(|v| dispute.round > 0 || check.side_holds(0, v) || check.side_holds(1, v))
		else {
			return Self::escalate(id, dispute, now);
		};
		dispute.step_verdict = Some(verdict.digest());
		let wrong: Vec<NodeId> = (0..2usize)
			.filter(|side| !check.side_holds(*side, &verdict))
			.filter_map(|side| check.traces.get(side).copied())
			.flat_map(|trace| Self::members(&dispute, trace))
			.collect();
		Self::convict(id, &mut dispute, wrong, Conviction::WrongStep);
		Self::after_conviction(id, dispute, now)
	}

	/// The unconvicted parties that committed `trace`.
	fn members(dispute: &Dispute<T>, trace: Trace) -> Vec<NodeId> {
		dispute.survivors().filter(|c| c.claim.trace() == trace).map(|c| c.node).collect()
	}

	/// Record `nodes` as proven wrong; they are slashed when the dispute ends.
	fn convict(id: RequestId, dispute: &mut Dispute<T>, nodes: Vec<NodeId>, reason: Conviction) {
		if nodes.is_empty() {
			return;
		}
		for node in &nodes {
			// Convicted nodes are parties: `MaxParties` of them at most.
			let _ = dispute.convicted.try_push(*node).defensive_proof("convicted are parties");
		}
		Self::deposit_event(Event::PartiesConvicted { request: id, nodes, reason });
	}

	/// Some parties were convicted by a bisection or a one-step check. With nobody left, the
	/// dispute is resolved without an output. If the survivors all committed to one output,
	/// one of them publishes it and the dispute is resolved with it; if they committed to
	/// different outputs, arbiters re-execute the whole request in the next round.
	fn after_conviction(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let mut outputs = Vec::new();
		for claim in dispute.survivors() {
			let output = claim.claim.output();
			if !outputs.contains(&output) {
				outputs.push(output);
			}
		}
		match outputs.len() {
			0 => Self::resolve(id, dispute, None, false),
			1 => match Self::schedule(now.saturating_add(T::OutputWindow::get().into()), id) {
				Ok(deadline) => {
					dispute.phase = DisputePhase::AwaitingOutput { deadline };
					Disputes::<T>::insert(id, dispute);
					Self::deposit_event(Event::AwaitingOutput { request: id, deadline });
				},
				Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
			},
			_ => {
				dispute.game = Game::Full;
				Self::escalate(id, dispute, now)
			},
		}
	}

	/// A bisection turn closed: sides that did not answer are convicted.
	fn close_turn(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let Game::Bisection(bisection) = &dispute.game else {
			// Only bisections have turns.
			return Self::dismiss(id, dispute, Dismissal::DeadlinePassed);
		};
		let silent: Vec<NodeId> = (0..2usize)
			.filter(|side| bisection.answers.get(*side).is_some_and(|a| a.is_none()))
			.filter_map(|side| bisection.traces.get(side).copied())
			.flat_map(|trace| Self::members(&dispute, trace))
			.collect();
		Self::convict(id, &mut dispute, silent, Conviction::NoAnswer);
		Self::after_conviction(id, dispute, now)
	}

	/// The output window closed with nothing published: the survivors are convicted too.
	fn close_output(id: RequestId, mut dispute: Dispute<T>) {
		let silent: Vec<NodeId> = dispute.survivors().map(|c| c.node).collect();
		Self::convict(id, &mut dispute, silent, Conviction::NoOutput);
		Self::resolve(id, dispute, None, false)
	}

	pub(crate) fn do_submit_bisection(
		payload: BisectionPayload,
		signature: sp_core::sr25519::Signature,
	) -> DispatchResult {
		let checked = Self::check_bisection(&payload, &signature)?;
		let (mut dispute, side) = (checked.dispute, checked.side);
		let id = payload.request;
		let Game::Bisection(bisection) = &mut dispute.game else {
			return Err(Error::<T>::NotBisecting.into());
		};
		if let Some(answer) = bisection.answers.get_mut(side) {
			*answer = Some((payload.left, payload.right));
		}
		Self::deposit_event(Event::BisectionAnswered {
			request: id,
			node: payload.node,
			level: payload.level,
			index: payload.index,
		});
		if bisection.answers.iter().all(Option::is_some) {
			let now = frame_system::Pallet::<T>::block_number();
			Self::next_turn(id, dispute, now);
		} else {
			Disputes::<T>::insert(id, dispute);
		}
		Ok(())
	}

	/// Both sides answered: go down to the leftmost child where they differ (recording the left
	/// child as agreed when it is the right one), then start the next turn, or the one-step
	/// check when the walk reached a step.
	fn next_turn(id: RequestId, mut dispute: Dispute<T>, now: BlockNumberFor<T>) {
		let Game::Bisection(mut b) = dispute.game.clone() else { return };
		let steps = b.traces[0].1;
		let node = TreeNode { level: b.level, index: b.index };
		let (Children::Pair(left, right), [Some((la, ra)), Some((lb, rb))]) =
			(children(steps, node), b.answers)
		else {
			// The walk only stops at inner nodes with two children, answered by both sides.
			let _ = Err::<(), ()>(()).defensive_proof("a complete turn at an inner node");
			dispute.game = Game::Full;
			return Self::escalate(id, dispute, now);
		};
		let (next, hashes) = if la != lb {
			(left, [la, lb])
		} else {
			let (start, end) = node_range(steps, left);
			// At most one agreed subtree per level: 32 levels at most.
			let _ = b.agreed.try_push((start, end.saturating_sub(start), la));
			(right, [ra, rb])
		};
		let next = settle(steps, next);
		match children(steps, next) {
			Children::Step(step) => {
				let check = StepCheck {
					traces: b.traces,
					step,
					claims: [StepClaim::Digest(hashes[0]), StepClaim::Digest(hashes[1])],
					agreed: b.agreed,
				};
				dispute.game = Game::StepCheck(check);
				match Self::schedule(now.saturating_add(T::DrawDelay::get().into()), id) {
					Ok(at) => {
						dispute.phase = DisputePhase::AwaitingDraw { at };
						Disputes::<T>::insert(id, dispute);
						Self::deposit_event(Event::StepCheckStarted {
							request: id,
							step,
							draw_at: at,
						});
					},
					Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
				}
			},
			_ => {
				b.level = next.level;
				b.index = next.index;
				b.hashes = hashes;
				b.answers = [None, None];
				dispute.game = Game::Bisection(b);
				match Self::schedule(now.saturating_add(T::BisectionWindow::get().into()), id) {
					Ok(deadline) => {
						dispute.phase = DisputePhase::Bisecting { deadline };
						Disputes::<T>::insert(id, dispute);
						Self::deposit_event(Event::BisectionTurn {
							request: id,
							level: next.level,
							index: next.index,
							deadline,
						});
					},
					Err(()) => Self::dismiss(id, dispute, Dismissal::DeadlinePassed),
				}
			},
		}
	}

	pub(crate) fn do_submit_output(
		payload: OutputPayloadOf<T>,
		signature: sp_core::sr25519::Signature,
	) -> DispatchResult {
		let checked = Self::check_output(&payload, &signature)?;
		let OutputPayload { request: id, node, .. } = payload;
		Self::deposit_event(Event::OutputPublished {
			request: id,
			node,
			output_digest: checked.verdict.output_digest,
		});
		Self::resolve(id, checked.dispute, Some(checked.verdict), false);
		Ok(())
	}

	/// The verdict a published output `O` stands for in `dispute`: `H(O)`, its token count and,
	/// for a Single or Sampling quorum, its leaves. `None` if `O` is not a canonical output.
	pub(crate) fn verdict_of_output(dispute: &Dispute<T>, output: &[u8]) -> Option<VerdictOf<T>> {
		let (tokens, _) = decode_canonical(output).ok()?;
		let leaves: Vec<[u8; 32]> = (0..dispute.leaves()).map(|i| output_leaf(output, i)).collect();
		Some(Verdict {
			output_digest: output_digest(output),
			output_tokens: u32::try_from(tokens.len()).ok()?,
			leaves: BoundedVec::try_from(leaves).ok()?,
		})
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

	/// The dispute is decided. With `verdict` (the winning output), the request is concluded
	/// with it; without (every party convicted), with no output. Either way the user is refunded
	/// in full and every hold released; convicted parties, unconvicted parties whose commitment
	/// differs from the verdict and arbiters whose verdict lost lose all their collateral,
	/// shared among the user, the honest parties, the arbiters that found the verdict and the
	/// treasury; the rest is burned.
	pub(crate) fn resolve(
		id: RequestId,
		dispute: Dispute<T>,
		verdict: Option<VerdictOf<T>>,
		by_governance: bool,
	) {
		let digest = verdict.as_ref().map(|v| v.digest());
		let mut honest = Vec::new();
		let mut cheaters: Vec<NodeId> = dispute.convicted.to_vec();
		if let Some(verdict) = &verdict {
			for claim in dispute.survivors() {
				if verdict.matches(claim) {
					honest.push(claim.node);
				} else {
					cheaters.push(claim.node);
				}
			}
		}
		let mut winning_arbiters = Vec::new();
		for node in dispute.arbiters.iter() {
			let (found, decided) = match Votes::<T>::get(id, node) {
				Some(Vote::Revealed(v)) => (Some(v.digest()), digest),
				Some(Vote::RevealedStep(v)) => (Some(v.digest()), dispute.step_verdict),
				_ => (None, None),
			};
			match (found, decided) {
				(Some(found), Some(decided)) if found == decided => winning_arbiters.push(*node),
				(Some(_), Some(_)) => cheaters.push(*node),
				// Sealed only (the round was cut short), or nothing was decided of its kind.
				_ => {},
			}
		}
		let outcome = DisputeOutcome {
			output_commitment: verdict.as_ref().map(|v| v.output_commitment()),
			output_tokens: verdict.as_ref().map_or(0, |v| v.output_tokens),
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
				Ok(outcome) => {
					// Nothing backs the cheater's other commitments any more.
					T::Requests::redraw_jobs_of_convicted(*node);
					Self::deposit_event(Event::CheaterSlashed {
						request: id,
						node: *node,
						slashed: outcome.slashed,
					})
				},
				Err(e) => {
					log::warn!(target: crate::LOG_TARGET, "slash of {node:?} failed: {e:?}")
				},
			}
		}
		Self::forget(id, &dispute);
		Self::deposit_event(Event::DisputeResolved {
			request: id,
			verdict: digest,
			output_commitment: verdict.as_ref().map(|v| v.output_commitment()),
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
		Self::forget(id, &dispute);
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

	fn forget(id: RequestId, dispute: &Dispute<T>) {
		for node in dispute.claims.iter().map(|c| &c.node).chain(dispute.arbiters.iter()) {
			Duties::<T>::remove(node, id);
		}
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
			revealed @ (Vote::Revealed(_) | Vote::RevealedStep(_)) => {
				let digest = revealed.revealed_digest().unwrap_or_default();
				Votes::<T>::insert(id, node, revealed);
				Self::deposit_event(Event::VerdictRevealed {
					request: id,
					arbiter: node,
					verdict: digest,
				});
				let all_revealed = dispute
					.round_arbiters()
					.iter()
					.all(|a| Votes::<T>::get(id, a).is_some_and(|v| v.revealed_digest().is_some()));
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
				Self::resolve(id, dispute, Some(verdict), true);
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
			ensure!(
				dispute.convicted.iter().all(|n| dispute.is_party(*n)),
				"only parties are convicted"
			);
			ensure!(
				!matches!(dispute.phase, DisputePhase::Bisecting { .. })
					|| matches!(dispute.game, Game::Bisection(_)),
				"bisection turns belong to bisections"
			);
		}
		for (id, node, _) in Votes::<T>::iter() {
			let dispute = Disputes::<T>::get(id).ok_or("a vote outlived its dispute")?;
			ensure!(dispute.arbiters.contains(&node), "a vote of a non-arbiter");
		}
		// Duties index exactly the parties and drawn arbiters of open disputes.
		let mut duties = alloc::collections::BTreeSet::new();
		for (id, dispute) in Disputes::<T>::iter() {
			for node in dispute.claims.iter().map(|c| &c.node).chain(dispute.arbiters.iter()) {
				ensure!(Duties::<T>::contains_key(node, id), "a duty is not indexed");
				duties.insert((*node, id));
			}
		}
		ensure!(Duties::<T>::iter().count() == duties.len(), "a duty outlived its dispute");
		Ok(())
	}
}

//! Who may vote (protocol §9): only an arbiter of the dispute's current round, once per kind,
//! inside its window, signed by the arbiter's current worker key, and a reveal only if it opens
//! the arbiter's own seal. The same checks authorize the unsigned transaction when it enters the
//! pool and run again when it is dispatched.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_primitives::commitment::sealed_commitment;
use atoma_support::{NodeId, NodeRegistry, RequestId};
use frame_support::{ensure, pallet_prelude::*};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{
	traits::{Saturating, Verify},
	transaction_validity::{
		InvalidTransaction, TransactionPriority, TransactionValidityWithRefund, ValidTransaction,
	},
};

use crate::{
	pallet::*,
	types::{BisectionPayload, Dispute, DisputePhase, Game, Vote},
};

/// What a valid vote was checked against.
pub(crate) struct CheckedVote<T: Config> {
	pub dispute: Dispute<T>,
	/// The block after which the transaction can no longer be valid.
	pub window_end: BlockNumberFor<T>,
}

impl<T: Config> Pallet<T> {
	/// The dispute over `request`, and the worker key of `node`, which signed `bytes`: what every
	/// signed call of a dispute checks first.
	fn signed_by_node(
		request: RequestId,
		node: NodeId,
		bytes: &[u8],
		signature: &sp_core::sr25519::Signature,
	) -> Result<(Dispute<T>, sp_core::sr25519::Public), Error<T>> {
		let dispute = Disputes::<T>::get(request).ok_or(Error::<T>::UnknownDispute)?;
		let worker_key = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?.worker_key;
		ensure!(signature.verify(bytes, &worker_key), Error::<T>::BadSignature);
		Ok((dispute, worker_key))
	}

	/// Check a vote against the chain state; the named error says what is wrong.
	pub(crate) fn check_vote(
		payload: &VotePayloadOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> Result<CheckedVote<T>, Error<T>> {
		let id = payload.request;
		let node = payload.node;
		let (dispute, worker_key) =
			Self::signed_by_node(id, node, &payload.signing_bytes(&Self::chain_id()), signature)?;
		ensure!(dispute.round_arbiters().contains(&node), Error::<T>::NotArbiter);
		let existing = Votes::<T>::get(id, node);
		let window_end = match (&payload.vote, dispute.phase) {
			(Vote::Sealed(_), DisputePhase::Committing { deadline }) => {
				ensure!(existing.is_none(), Error::<T>::AlreadySealed);
				deadline
			},
			(Vote::Sealed(_), _) => return Err(Error::<T>::NotCommitting),
			(revealed, DisputePhase::Revealing { deadline }) => {
				let sealed = match existing {
					Some(Vote::Sealed(sealed)) => sealed,
					Some(_) => return Err(Error::<T>::AlreadyRevealed),
					None => return Err(Error::<T>::NotSealed),
				};
				match (revealed, &dispute.game) {
					// An arbiter that cannot serve the request says so, whatever the game.
					(Vote::Revealed(verdict), _) if verdict.unservable_reason().is_some() => {},
					(Vote::Revealed(verdict), Game::Full) => ensure!(
						verdict.leaves.len() as u32 == dispute.leaves(),
						Error::<T>::MalformedVerdict
					),
					(Vote::RevealedStep(verdict), Game::StepCheck(check)) => {
						ensure!(verdict.step == check.step, Error::<T>::MalformedVerdict)
					},
					_ => return Err(Error::<T>::WrongVerdictKind),
				}
				let digest = revealed.revealed_digest().unwrap_or_default();
				ensure!(
					sealed_commitment(&digest, &worker_key.0) == sealed,
					Error::<T>::RevealMismatch
				);
				deadline
			},
			(_, _) => return Err(Error::<T>::NotRevealing),
		};
		// The window closes in `on_initialize` of its deadline block: votes count before it.
		let now = frame_system::Pallet::<T>::block_number();
		let closed = if matches!(payload.vote, Vote::Sealed(_)) {
			Error::<T>::NotCommitting
		} else {
			Error::<T>::NotRevealing
		};
		ensure!(now < window_end, closed);
		Ok(CheckedVote { dispute, window_end })
	}

	/// `#[pallet::authorize]` of `submit_vote`: valid once per (dispute, arbiter, kind) until the
	/// window ends, at high priority (votes are time-critical and pay no fee).
	pub(crate) fn authorize_vote(
		payload: &VotePayloadOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_vote(payload, signature).map_err(Self::invalid)?;
		let longevity = Self::blocks_until(checked.window_end);
		let kind: u8 = match payload.vote {
			Vote::Sealed(_) => 0,
			Vote::Revealed(_) | Vote::RevealedStep(_) => 1,
		};
		let validity = ValidTransaction::with_tag_prefix("atoma-arbiter-vote")
			.priority(TransactionPriority::MAX / 2)
			.and_provides((payload.request, payload.node, kind))
			.longevity(longevity)
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}
}

/// What a valid bisection answer was checked against.
pub(crate) struct CheckedAnswer<T: Config> {
	pub dispute: Dispute<T>,
	/// The side it answers for (0 or 1).
	pub side: usize,
	pub turn_end: BlockNumberFor<T>,
}

/// What a valid output publication was checked against.
pub(crate) struct CheckedOutput<T: Config> {
	pub dispute: Dispute<T>,
	/// The verdict the output stands for; it matches the publisher's own commitment.
	pub verdict: VerdictOf<T>,
	pub window_end: BlockNumberFor<T>,
}

impl<T: Config> Pallet<T> {
	/// Check a bisection answer: a party of a side that has not answered this turn, signed by
	/// its worker key, naming the current node, with children that hash to the side's node.
	pub(crate) fn check_bisection(
		payload: &BisectionPayload,
		signature: &sp_core::sr25519::Signature,
	) -> Result<CheckedAnswer<T>, Error<T>> {
		let (dispute, _) = Self::signed_by_node(
			payload.request,
			payload.node,
			&payload.signing_bytes(&Self::chain_id()),
			signature,
		)?;
		let DisputePhase::Bisecting { deadline } = dispute.phase else {
			return Err(Error::<T>::NotBisecting);
		};
		ensure!(frame_system::Pallet::<T>::block_number() < deadline, Error::<T>::NotBisecting);
		let Game::Bisection(bisection) = &dispute.game else {
			return Err(Error::<T>::NotBisecting);
		};
		let side = dispute.side_of(payload.node, &bisection.traces).ok_or(Error::<T>::NotASide)?;
		ensure!(
			(payload.level, payload.index) == (bisection.level, bisection.index),
			Error::<T>::StaleTurn
		);
		ensure!(
			bisection.answers.get(side).is_some_and(|a| a.is_none()),
			Error::<T>::AlreadyAnswered
		);
		ensure!(
			bisection.hashes.get(side)
				== Some(&atoma_primitives::bisection::inner_node(&payload.left, &payload.right)),
			Error::<T>::AnswerMismatch
		);
		Ok(CheckedAnswer { dispute, side, turn_end: deadline })
	}

	/// `#[pallet::authorize]` of `submit_bisection`: one answer per side and turn.
	pub(crate) fn authorize_bisection(
		payload: &BisectionPayload,
		signature: &sp_core::sr25519::Signature,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_bisection(payload, signature).map_err(Self::invalid)?;
		let validity = ValidTransaction::with_tag_prefix("atoma-bisection")
			.priority(TransactionPriority::MAX / 2)
			.and_provides((payload.request, payload.level, payload.index, checked.side as u8))
			.longevity(Self::blocks_until(checked.turn_end))
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	/// Check an output publication: a surviving party, signed by its worker key, in the output
	/// window, with a canonical output of the survivors' token count that matches its own
	/// commitment (so no survivor can publish an output that convicts the others).
	pub(crate) fn check_output(
		payload: &OutputPayloadOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> Result<CheckedOutput<T>, Error<T>> {
		let (dispute, _) = Self::signed_by_node(
			payload.request,
			payload.node,
			&payload.signing_bytes(&Self::chain_id()),
			signature,
		)?;
		let DisputePhase::AwaitingOutput { deadline } = dispute.phase else {
			return Err(Error::<T>::NotAwaitingOutput);
		};
		ensure!(
			frame_system::Pallet::<T>::block_number() < deadline,
			Error::<T>::NotAwaitingOutput
		);
		let claim = dispute
			.survivors()
			.find(|c| c.node == payload.node)
			.cloned()
			.ok_or(Error::<T>::NotASurvivor)?;
		let verdict = Self::verdict_of_output(&dispute, &payload.output)
			.filter(|v| v.output_tokens == claim.claim.trace().1 && v.matches(&claim))
			.ok_or(Error::<T>::MalformedOutput)?;
		Ok(CheckedOutput { dispute, verdict, window_end: deadline })
	}

	/// `#[pallet::authorize]` of `submit_output`: one publication per dispute.
	pub(crate) fn authorize_output(
		payload: &OutputPayloadOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_output(payload, signature).map_err(Self::invalid)?;
		let validity = ValidTransaction::with_tag_prefix("atoma-dispute-output")
			.priority(TransactionPriority::MAX / 2)
			.and_provides(payload.request)
			.longevity(Self::blocks_until(checked.window_end))
			.propagate(true)
			.build()?;
		Ok((validity, Weight::zero()))
	}

	/// The transaction validity error of a failed check.
	fn invalid(error: Error<T>) -> InvalidTransaction {
		match error {
			Error::<T>::BadSignature => InvalidTransaction::BadProof,
			Error::<T>::AlreadySealed
			| Error::<T>::AlreadyRevealed
			| Error::<T>::AlreadyAnswered
			| Error::<T>::StaleTurn
			| Error::<T>::NotCommitting
			| Error::<T>::NotRevealing
			| Error::<T>::NotBisecting
			| Error::<T>::NotAwaitingOutput => InvalidTransaction::Stale,
			other => InvalidTransaction::Custom(other.as_u8()),
		}
	}

	/// Blocks from now until `end`, at least 1: a transaction's longevity.
	fn blocks_until(end: BlockNumberFor<T>) -> u64 {
		let now = frame_system::Pallet::<T>::block_number();
		end.saturating_sub(now).try_into().unwrap_or(u64::MAX).max(1)
	}
}

impl<T> Error<T> {
	/// The error's index, used as the custom code of an invalid transaction.
	pub fn as_u8(&self) -> u8 {
		use codec::Encode;
		self.encode().first().copied().unwrap_or(u8::MAX)
	}
}

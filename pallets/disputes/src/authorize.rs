//! Who may vote (protocol §9): only an arbiter of the dispute's current round, once per kind,
//! inside its window, signed by the arbiter's current worker key, and a reveal only if it opens
//! the arbiter's own seal. The same checks authorize the unsigned transaction when it enters the
//! pool and run again when it is dispatched.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_primitives::commitment::sealed_commitment;
use atoma_support::NodeRegistry;
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
	types::{Dispute, DisputePhase, Vote},
};

/// What a valid vote was checked against.
pub(crate) struct CheckedVote<T: Config> {
	pub dispute: Dispute<T>,
	/// The block after which the transaction can no longer be valid.
	pub window_end: BlockNumberFor<T>,
}

impl<T: Config> Pallet<T> {
	/// Check a vote against the chain state; the named error says what is wrong.
	pub(crate) fn check_vote(
		payload: &VotePayloadOf<T>,
		signature: &sp_core::sr25519::Signature,
	) -> Result<CheckedVote<T>, Error<T>> {
		let id = payload.request;
		let node = payload.node;
		let dispute = Disputes::<T>::get(id).ok_or(Error::<T>::UnknownDispute)?;
		let summary = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(
			signature.verify(payload.signing_bytes().as_slice(), &summary.worker_key),
			Error::<T>::BadSignature
		);
		ensure!(dispute.round_arbiters().contains(&node), Error::<T>::NotArbiter);
		let existing = Votes::<T>::get(id, node);
		let window_end = match (&payload.vote, dispute.phase) {
			(Vote::Sealed(_), DisputePhase::Committing { deadline }) => {
				ensure!(existing.is_none(), Error::<T>::AlreadySealed);
				deadline
			},
			(Vote::Sealed(_), _) => return Err(Error::<T>::NotCommitting),
			(Vote::Revealed(verdict), DisputePhase::Revealing { deadline }) => {
				let sealed = match existing {
					Some(Vote::Sealed(sealed)) => sealed,
					Some(Vote::Revealed(_)) => return Err(Error::<T>::AlreadyRevealed),
					None => return Err(Error::<T>::NotSealed),
				};
				ensure!(
					verdict.leaves.len() as u32 == dispute.leaves(),
					Error::<T>::MalformedVerdict
				);
				ensure!(
					sealed_commitment(&verdict.digest(), &summary.worker_key.0) == sealed,
					Error::<T>::RevealMismatch
				);
				deadline
			},
			(Vote::Revealed(_), _) => return Err(Error::<T>::NotRevealing),
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
		let checked = Self::check_vote(payload, signature).map_err(|e| match e {
			Error::<T>::BadSignature => InvalidTransaction::BadProof,
			Error::<T>::AlreadySealed
			| Error::<T>::AlreadyRevealed
			| Error::<T>::NotCommitting
			| Error::<T>::NotRevealing => InvalidTransaction::Stale,
			other => InvalidTransaction::Custom(other.as_u8()),
		})?;
		let now = frame_system::Pallet::<T>::block_number();
		let longevity: u64 =
			checked.window_end.saturating_sub(now).try_into().unwrap_or(u64::MAX).max(1);
		let kind: u8 = match payload.vote {
			Vote::Sealed(_) => 0,
			Vote::Revealed(_) => 1,
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

impl<T> Error<T> {
	/// The error's index, used as the custom code of an invalid transaction.
	pub fn as_u8(&self) -> u8 {
		use codec::Encode;
		self.encode().first().copied().unwrap_or(u8::MAX)
	}
}

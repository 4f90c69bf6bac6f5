//! Who may commit (protocol §6-7): only a selected node, once per kind, inside its window, signed
//! by the node's current worker key. The same checks authorize the unsigned transaction when it
//! enters the pool and run again when it is dispatched.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_primitives::commitment::sealed_commitment;
use atoma_support::{
	inference::{DisputeManager, InputRead, InputReadRefusal, VerificationMode},
	sortition, ModelRegistry, NodeId, NodeRegistry, NodeSummary, RequestId,
};
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::{
	traits::{Saturating, Verify},
	transaction_validity::{
		InvalidTransaction, TransactionPriority, TransactionValidityWithRefund, ValidTransaction,
	},
	SaturatedConversion,
};

use crate::{
	pallet::*,
	types::{
		Commitment, CommitmentKind, CommitmentPayload, Phase, Request, StoredInput,
		UnservableReason,
	},
	WeightInfo,
};
use frame_system::pallet_prelude::BlockNumberFor;

/// What a valid commitment was checked against.
pub(crate) struct CheckedCommitment<T: Config> {
	pub request: Request<T>,
	/// The block after which the transaction can no longer be valid.
	pub window_end: BlockNumberFor<T>,
}

impl<T: Config> Pallet<T> {
	/// Check a commitment against the chain state; the named error says what is wrong.
	pub(crate) fn check_commitment(
		payload: &CommitmentPayload,
		signature: &sp_core::sr25519::Signature,
	) -> Result<CheckedCommitment<T>, Error<T>> {
		let id = payload.request;
		let node = payload.node;
		let request = Requests::<T>::get(id).ok_or(Error::<T>::UnknownRequest)?;
		let summary = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(
			signature
				.verify(payload.signing_bytes(&Self::chain_id()).as_slice(), &summary.worker_key),
			Error::<T>::BadSignature
		);
		let existing = Commitments::<T>::get(id, node);
		// The fee is charged on the prompt tokens the nodes count, never above what the escrow
		// pays for: a worker refuses a longer prompt, and the node attests it unservable.
		if let CommitmentKind::Quorum { input_tokens, .. }
		| CommitmentKind::Sealed { input_tokens, .. } = &payload.kind
		{
			ensure!(*input_tokens <= request.input_tokens, Error::<T>::InputTokensAboveDeclared);
		}
		let window_end = match (&payload.kind, request.phase, request.mode) {
			(
				CommitmentKind::Quorum { .. },
				Phase::Executing { deadline },
				VerificationMode::Single | VerificationMode::Sampling { .. },
			) => {
				ensure!(request.nodes.contains(&node), Error::<T>::NotSelected);
				ensure!(existing.is_none(), Error::<T>::AlreadyCommitted);
				deadline
			},
			(
				CommitmentKind::Sealed { vrf, .. },
				Phase::Executing { deadline },
				VerificationMode::CrossValidation { .. },
			) => {
				ensure!(existing.is_none(), Error::<T>::AlreadyCommitted);
				if !request.nodes.contains(&node) {
					Self::check_verifier_seat(id, &request, node, &summary, vrf.as_ref())?;
				}
				deadline
			},
			(CommitmentKind::Reveal { output_digest }, Phase::Revealing { deadline }, _) => {
				let Some(Commitment::Sealed { sealed, revealed, .. }) = existing else {
					return Err(Error::<T>::NotCommitted);
				};
				ensure!(revealed.is_none(), Error::<T>::AlreadyRevealed);
				ensure!(
					sealed_commitment(output_digest, &summary.worker_key.0) == sealed,
					Error::<T>::RevealMismatch
				);
				deadline
			},
			(CommitmentKind::Unservable { reason }, Phase::Executing { deadline }, _) => {
				// Verifiers do not attest: a verifier that cannot serve simply does not join.
				ensure!(request.nodes.contains(&node), Error::<T>::NotSelected);
				ensure!(existing.is_none(), Error::<T>::AlreadyCommitted);
				// The user uploads a by-hash input once it sees the selected nodes: "never
				// uploaded" counts only from the middle of the window on.
				if *reason == UnservableReason::InputUnavailable {
					let from = request.attest_unavailable_from().unwrap_or(deadline);
					ensure!(
						frame_system::Pallet::<T>::block_number() >= from,
						Error::<T>::TooEarlyToAttest
					);
				}
				deadline
			},
			(CommitmentKind::Reveal { .. }, _, _) => return Err(Error::<T>::NotRevealing),
			(_, Phase::Executing { .. }, _) => return Err(Error::<T>::WrongCommitmentKind),
			_ => return Err(Error::<T>::NotExecuting),
		};
		// The window closes in `on_initialize` of its deadline block: commitments count before it.
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now < window_end, Error::<T>::NotExecuting);
		Ok(CheckedCommitment { request, window_end })
	}

	/// Whether every public node of `request` (a Cross-Validation primary) has committed.
	pub(crate) fn primary_committed(id: RequestId, request: &Request<T>) -> bool {
		request.nodes.iter().all(|p| Commitments::<T>::contains_key(id, p))
	}

	/// Check that `node` (whose record is `summary`) won a Cross-Validation verifier seat of
	/// request `id` with the VRF proof `vrf`, and may take it now.
	pub(crate) fn check_verifier_seat(
		id: RequestId,
		request: &Request<T>,
		node: NodeId,
		summary: &NodeSummary<T::AccountId, BalanceOf<T>>,
		vrf: Option<&sortition::VrfProof>,
	) -> Result<(), Error<T>> {
		// A verifier: prove the private selection, and be able to do the work.
		let vrf = vrf.and_then(|proof| proof.to_signature()).ok_or(Error::<T>::NotSelected)?;
		ensure!(!request.excluded.contains(&node), Error::<T>::NotSelected);
		ensure!(summary.echelon == request.echelon, Error::<T>::NotSelected);
		ensure!(T::Models::is_subscribed(node, &request.model), Error::<T>::NotSelected);
		ensure!(T::Nodes::is_eligible(node, T::JobCollateral::get()), Error::<T>::NotSelected);
		// A key registered or rotated after the request could have been ground against its seed
		// until one won the sortition.
		ensure!(
			T::Nodes::worker_key_since(node) < request.submitted_at.saturated_into(),
			Error::<T>::WorkerKeyTooNew
		);
		// Nothing on chain may tell the primary, before its own commitment is in, whether anyone
		// verifies it: verifiers commit after it.
		ensure!(Self::primary_committed(id, request), Error::<T>::PrimaryNotCommitted);
		// The escrow pays `n` verifiers: later ones could be paid nothing.
		let seats = match request.mode {
			VerificationMode::CrossValidation { n, .. } => n as usize,
			_ => 0,
		};
		ensure!(request.verifiers.len() < seats, Error::<T>::TooManyVerifiers);
		let score =
			sortition::verified_score(&summary.worker_key, &request.selection_seed, id, &vrf)
				.ok_or(Error::<T>::NotSelected)?;
		ensure!(
			sortition::is_selected(score, request.sortition_threshold),
			Error::<T>::NotSelected
		);
		Ok(())
	}

	/// Whether the holder of the worker key `reader` may read the by-hash input `input_hash` of
	/// request `id` from another node's worker (inference runtime API `authorize_input_read`,
	/// asked by the serving worker's node; `atoma_primitives::input_read`). `signature` signs the
	/// read at unix time `timestamp` (the serving node checks the time against its clock).
	///
	/// Who may: the nodes the request selected (one the user skipped), its joined verifiers and
	/// replacements, the parties and arbiters of its dispute, and a Cross-Validation verifier
	/// whose VRF proof wins a seat, once the primary's commitment is on chain (its read would
	/// otherwise tell the primary that it is verified).
	pub fn authorize_input_read(read: &InputRead) -> Result<(), InputReadRefusal> {
		let InputRead { request: id, input_hash, reader, timestamp, signature, vrf } = read;
		let (id, input_hash, timestamp) = (*id, *input_hash, *timestamp);
		let request = Requests::<T>::get(id).ok_or(InputReadRefusal::UnknownRequest)?;
		ensure!(
			matches!(request.input, StoredInput::Hash(hash) if hash == input_hash),
			InputReadRefusal::NotThisInput
		);
		let message = atoma_primitives::input_read::signing_bytes(
			&Self::chain_id(),
			id.0,
			&input_hash,
			timestamp,
		);
		ensure!(signature.verify(message.as_slice(), reader), InputReadRefusal::BadSignature);
		let node = T::Nodes::node_by_worker_key(reader).ok_or(InputReadRefusal::UnknownReader)?;
		if request.nodes.contains(&node)
			|| Assignments::<T>::contains_key(node, id)
			|| T::Disputes::has_duty(id, node)
		{
			return Ok(());
		}
		let summary = T::Nodes::node(node).ok_or(InputReadRefusal::UnknownReader)?;
		match (request.mode, request.phase) {
			(VerificationMode::CrossValidation { .. }, Phase::Executing { .. }) => {
				Self::check_verifier_seat(id, &request, node, &summary, vrf.as_ref()).map_err(|e| {
					match e {
						Error::<T>::PrimaryNotCommitted => InputReadRefusal::PrimaryNotCommitted,
						_ => InputReadRefusal::NoRole,
					}
				})
			},
			_ => Err(InputReadRefusal::NoRole),
		}
	}

	/// `#[pallet::authorize]` of `submit_commitment`: valid once per (request, node, kind) until
	/// the window ends, at high priority (commitments are time-critical and pay no fee).
	pub(crate) fn authorize_commitment(
		payload: &CommitmentPayload,
		signature: &sp_core::sr25519::Signature,
	) -> TransactionValidityWithRefund {
		let checked = Self::check_commitment(payload, signature).map_err(|e| {
			let code = match e {
				Error::<T>::BadSignature => return InvalidTransaction::BadProof,
				Error::<T>::AlreadyCommitted | Error::<T>::AlreadyRevealed => {
					return InvalidTransaction::Stale
				},
				Error::<T>::NotExecuting | Error::<T>::NotRevealing => {
					return InvalidTransaction::Stale
				},
				other => other.as_u8(),
			};
			InvalidTransaction::Custom(code)
		})?;
		let now = frame_system::Pallet::<T>::block_number();
		let longevity: u64 =
			checked.window_end.saturating_sub(now).try_into().unwrap_or(u64::MAX).max(1);
		// A node's first commitment (an output or an attestation) shares one tag: the pool keeps
		// one of them, and the chain accepts one.
		let kind: u8 = match payload.kind {
			CommitmentKind::Quorum { .. } | CommitmentKind::Unservable { .. } => 0,
			CommitmentKind::Sealed { .. } => 1,
			CommitmentKind::Reveal { .. } => 2,
		};
		let validity = ValidTransaction::with_tag_prefix("atoma-commitment")
			.priority(TransactionPriority::MAX / 2)
			.and_provides((payload.request, payload.node, kind))
			.longevity(longevity)
			.propagate(true)
			.build()?;
		// The authorization's declared weight is a verifier's (its VRF proof checked); a quorum
		// commitment checks the signature alone, and gets the difference back.
		let unspent = match payload.kind {
			CommitmentKind::Quorum { .. } => T::WeightInfo::authorize_submit_commitment()
				.saturating_sub(T::WeightInfo::authorize_submit_commitment_quorum()),
			_ => Weight::zero(),
		};
		Ok((validity, unspent))
	}
}

/// How long a node's publication stays valid in the pool; its off-chain worker sends it again
/// each block until the output is on chain.
const PUBLICATION_LONGEVITY: u64 = 8;

impl<T: Config> Pallet<T> {
	/// `#[pallet::authorize]` of `publish_output`: the output of a settled `OnChain` request,
	/// matching its commitment, valid once per request (the pool keeps the first copy, from the
	/// fastest node). It needs no signature: only the settled output passes, and only once.
	pub(crate) fn authorize_publication(
		request: RequestId,
		output: &[u8],
	) -> TransactionValidityWithRefund {
		Self::check_publication(request, output.to_vec()).map_err(|e| match e {
			Error::<T>::AlreadyPublished => InvalidTransaction::Stale,
			other => InvalidTransaction::Custom(other.as_u8()),
		})?;
		let validity = ValidTransaction::with_tag_prefix("atoma-output")
			.priority(TransactionPriority::MAX / 4)
			.and_provides(request)
			.longevity(PUBLICATION_LONGEVITY)
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

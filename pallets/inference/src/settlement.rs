//! How a request ends: settlement when the nodes agree (fees to nodes and model owner, the rest
//! refunded), a dispute when they do not (concluded by the disputes pallet with a full refund),
//! or a refund when it cannot be served.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::commitment::root_matches_leaves;
use atoma_support::{
	inference::{
		Claim, ClaimedOutput, DisputeCase, DisputeManager, DisputeOutcome, DisputedRequests,
		InferenceOutcome, OnInferenceOutcome, VerificationMode,
	},
	ModelRegistry, NodeId, NodeRegistry, RequestId,
};
use frame_support::{
	pallet_prelude::*,
	traits::{
		fungible::{Mutate, MutateHold},
		tokens::{Precision, Preservation},
	},
	BoundedVec,
};
use sp_runtime::traits::{Saturating, Zero};

use crate::{
	pallet::*,
	types::{Commitment, Expiring, FailureReason, Phase, Request, RequestResult, UnservableReason},
};

impl<T: Config> Pallet<T> {
	/// Every public node of a Single or Sampling request has committed: settle if all roots are
	/// equal, the leaves (in quorum order) hash to that root, and the token counts and trace
	/// roots agree (a node that ran another model or precision to the same tokens differs in its
	/// logits, hence its trace).
	pub(crate) fn conclude_quorum(id: RequestId, request: Request<T>) {
		if let Some(reason) = Self::unanimously_unservable(id, &request.nodes) {
			let attesters = request.nodes.to_vec();
			return Self::end_unservable(id, request, reason, attesters);
		}
		let mut roots = Vec::new();
		let mut leaves = Vec::new();
		let mut traces = Vec::new();
		for node in request.nodes.iter() {
			if let Some(Commitment::Quorum {
				root,
				leaf,
				input_tokens,
				output_tokens,
				trace_root,
			}) = Commitments::<T>::get(id, node)
			{
				roots.push(root);
				leaves.push(leaf);
				traces.push((trace_root, output_tokens, input_tokens));
			}
		}
		let agreed = match (roots.first(), traces.first()) {
			(Some(root), Some(trace)) if leaves.len() == request.nodes.len() => {
				roots.iter().all(|r| r == root)
					&& traces.iter().all(|t| t == trace)
					&& root_matches_leaves(root, &leaves)
			},
			_ => false,
		};
		match (agreed, roots.first().copied(), traces.first().map(|(_, out, input)| (*out, *input)))
		{
			(true, Some(root), Some((count, input_tokens))) => {
				let executors = request.nodes.to_vec();
				Self::settle(id, request, root, input_tokens, count, executors)
			},
			_ => Self::dispute(id, request),
		}
	}

	/// Every committed Cross-Validation node has revealed (or the window closed): settle if the
	/// digests, token counts and trace roots agree.
	pub(crate) fn conclude_cross_validation(id: RequestId, request: Request<T>) {
		let mut digests = Vec::new();
		let mut traces = Vec::new();
		let executors: Vec<NodeId> =
			request.nodes.iter().chain(request.verifiers.iter()).copied().collect();
		if let Some(reason) = Self::unanimously_unservable(id, &executors) {
			return Self::end_unservable(id, request, reason, executors);
		}
		for node in &executors {
			if let Some(Commitment::Sealed {
				revealed: Some(d),
				input_tokens,
				output_tokens,
				trace_root,
				..
			}) = Commitments::<T>::get(id, node)
			{
				digests.push(d);
				traces.push((trace_root, output_tokens, input_tokens));
			}
		}
		match (digests.first().copied(), traces.first().copied()) {
			(Some(digest), Some((trace_root, count, input_tokens)))
				if digests.len() == executors.len()
					&& digests.iter().all(|d| *d == digest)
					&& traces.iter().all(|t| *t == (trace_root, count, input_tokens)) =>
			{
				Self::settle(id, request, digest, input_tokens, count, executors)
			},
			_ => Self::dispute(id, request),
		}
	}

	/// The reason, if every one of `nodes` (at least one) attested "unservable" with the same one.
	fn unanimously_unservable(id: RequestId, nodes: &[NodeId]) -> Option<UnservableReason> {
		let mut reasons =
			nodes.iter().map(|n| Commitments::<T>::get(id, n).and_then(|c| c.unservable()));
		let first = reasons.next()??;
		reasons.all(|r| r == Some(first)).then_some(first)
	}

	/// Every node of the request attested that it cannot be served, for the same reason: nobody
	/// is slashed and no result is recorded. Each attester is paid the fee of the declared input
	/// tokens (what reading and tokenizing the request is worth, and never more than its share
	/// of the escrow); the rest goes back to the owner.
	fn end_unservable(
		id: RequestId,
		request: Request<T>,
		reason: UnservableReason,
		attesters: Vec<NodeId>,
	) {
		let owner = request.owner.clone();
		let released = Self::release_escrow(&request);
		let fee = Self::execution_fee(&request, request.input_tokens, 0);
		let mut paid = BalanceOf::<T>::zero();
		for node in &attesters {
			let fee = fee.min(released.saturating_sub(paid));
			if T::Nodes::accrue_fee(*node, &owner, fee).is_ok() {
				paid = paid.saturating_add(fee);
			}
		}
		Self::release_all(id, &request);
		Requests::<T>::remove(id);
		Self::deposit_event(Event::RequestUnservable {
			request: id,
			reason,
			nodes: attesters,
			paid_to_nodes: paid,
			refunded: released.saturating_sub(paid),
		});
		Self::notify(id, request.caller, InferenceOutcome::Failed);
	}

	/// Pay each executor its fee (less the model owner's share), pay the owner, refund the rest,
	/// and record the result.
	fn settle(
		id: RequestId,
		request: Request<T>,
		output_commitment: [u8; 32],
		input_tokens: u32,
		output_tokens: u32,
		executors: Vec<NodeId>,
	) {
		let owner = request.owner.clone();
		// Charged on the prompt tokens the nodes agree they read, not on the declaration.
		let fee = Self::execution_fee(&request, input_tokens, output_tokens);
		let (model_owner, share) = T::Models::model(&request.model)
			.map(|m| (Some(m.owner), m.owner_share))
			.unwrap_or((None, Default::default()));
		let released = Self::release_escrow(&request);

		let mut to_nodes = BalanceOf::<T>::zero();
		let mut to_model_owner = BalanceOf::<T>::zero();
		let mut budget = released;
		let mut paid = Vec::with_capacity(executors.len());
		for node in &executors {
			let fee = fee.min(budget);
			let cut = match model_owner {
				Some(_) => share.mul_floor(fee),
				None => Zero::zero(),
			};
			let to_node = fee.saturating_sub(cut);
			if T::Nodes::accrue_fee(*node, &owner, to_node).is_ok() {
				to_nodes = to_nodes.saturating_add(to_node);
				budget = budget.saturating_sub(to_node);
				paid.push((*node, to_node));
			}
			if let (Some(model_owner), false) = (&model_owner, cut.is_zero()) {
				if T::Currency::transfer(&owner, model_owner, cut, Preservation::Expendable).is_ok()
				{
					to_model_owner = to_model_owner.saturating_add(cut);
					budget = budget.saturating_sub(cut);
				}
			}
		}
		let refunded = released.saturating_sub(to_nodes).saturating_sub(to_model_owner);
		// Verified work, for the epoch's emission: every executor ran the whole job, counted as
		// it was paid for.
		let (input, output) = Self::chargeable_tokens(&request, input_tokens, output_tokens);
		let tokens = u64::from(input).saturating_add(u64::from(output));
		<T::WorkLedger as atoma_support::WorkLedger<_>>::record_settled_work(
			&request.model,
			&paid,
			tokens,
		);
		Self::release_all(id, &request);
		let sampler_seed = request.params.seed;
		Results::<T>::insert(
			id,
			RequestResult {
				owner,
				mode: request.mode,
				output_commitment,
				output_tokens,
				nodes: BoundedVec::truncate_from(executors.clone()),
				sampler_seed,
				destination: request.destination,
				settled_at: frame_system::Pallet::<T>::block_number(),
			},
		);
		Self::expire_later(Expiring::Result, id);
		Requests::<T>::remove(id);
		Self::deposit_event(Event::RequestSettled {
			request: id,
			output_commitment,
			output_tokens,
			nodes: executors.clone(),
			paid_to_nodes: to_nodes,
			paid_to_model_owner: to_model_owner,
			refunded,
		});
		Self::notify(
			id,
			request.caller,
			InferenceOutcome::Settled { output_commitment, output_tokens, nodes: executors },
		);
	}

	/// What recording one settlement's work may weigh: a Cross-Validation request's executors are
	/// its quorum and as many verifiers at most.
	pub(crate) fn work_ledger_weight() -> Weight {
		<T::WorkLedger as atoma_support::WorkLedger<BalanceOf<T>>>::record_weight(
			T::MaxQuorum::get().saturating_mul(2),
		)
	}

	/// Disagreement: the request waits for the dispute, funds and reservations held, until the
	/// disputes pallet concludes it ([`DisputedRequests::conclude_dispute`]).
	fn dispute(id: RequestId, mut request: Request<T>) {
		let claims = Self::claims(id, &request);
		let parties: Vec<NodeId> = claims.iter().map(|c| c.node).collect();
		let case = DisputeCase {
			user: request.owner.clone(),
			model: request.model.clone(),
			echelon: request.echelon,
			claims,
		};
		if let Err(e) = T::Disputes::open_dispute(id, case) {
			log::warn!(target: crate::LOG_TARGET, "dispute of request {id:?} could not open: {e:?}");
			return Self::fail(id, request, FailureReason::DisputeUnavailable);
		}
		request.phase = Phase::Disputed;
		let caller = request.caller;
		Requests::<T>::insert(id, request);
		Self::deposit_event(Event::RequestDisputed { request: id, nodes: parties });
		Self::notify(id, caller, InferenceOutcome::Disputed);
	}

	/// What each committed node of `request` claims: `(root, leaf)` at its quorum position
	/// (Single, Sampling), or the revealed `H(O)` (Cross-Validation).
	fn claims(id: RequestId, request: &Request<T>) -> Vec<Claim> {
		let n = request.nodes.len() as u32;
		let quorum = (0u32..).zip(request.nodes.iter());
		let revealed = request.nodes.iter().chain(request.verifiers.iter());
		match request.mode {
			VerificationMode::Single | VerificationMode::Sampling { .. } => quorum
				.filter_map(|(position, node)| match Commitments::<T>::get(id, node) {
					Some(Commitment::Quorum { root, leaf, output_tokens, trace_root, .. }) => {
						Some(Claim {
							node: *node,
							claim: ClaimedOutput::Quorum {
								position,
								n,
								root,
								leaf,
								output_tokens,
								trace_root,
							},
						})
					},
					Some(Commitment::Unservable { reason }) => {
						Some(Claim { node: *node, claim: ClaimedOutput::Unservable { reason } })
					},
					_ => None,
				})
				.collect(),
			VerificationMode::CrossValidation { .. } => revealed
				.filter_map(|node| match Commitments::<T>::get(id, node) {
					Some(Commitment::Sealed {
						revealed: Some(digest),
						output_tokens,
						trace_root,
						..
					}) => Some(Claim {
						node: *node,
						claim: ClaimedOutput::Digest { digest, output_tokens, trace_root },
					}),
					Some(Commitment::Unservable { reason }) => {
						Some(Claim { node: *node, claim: ClaimedOutput::Unservable { reason } })
					},
					_ => None,
				})
				.collect(),
		}
	}

	/// End a disputed request as the disputes pallet decided: the owner gets the whole escrow
	/// back (the cheaters' collateral pays the honest), every reservation is released, and a
	/// winning output is recorded as a result the owner can check outputs against.
	pub(crate) fn do_conclude_dispute(id: RequestId, outcome: DisputeOutcome) -> DispatchResult {
		let request = Requests::<T>::get(id).ok_or(Error::<T>::UnknownRequest)?;
		ensure!(request.phase == Phase::Disputed, Error::<T>::NotDisputed);
		let refunded = Self::release_escrow(&request);
		Self::release_all(id, &request);
		Requests::<T>::remove(id);
		let notice = match outcome.output_commitment {
			Some(output_commitment) => {
				Results::<T>::insert(
					id,
					RequestResult {
						owner: request.owner.clone(),
						mode: request.mode,
						output_commitment,
						output_tokens: outcome.output_tokens,
						nodes: BoundedVec::truncate_from(outcome.honest.clone()),
						sampler_seed: request.params.seed,
						destination: request.destination,
						settled_at: frame_system::Pallet::<T>::block_number(),
					},
				);
				Self::expire_later(Expiring::Result, id);
				InferenceOutcome::Settled {
					output_commitment,
					output_tokens: outcome.output_tokens,
					nodes: outcome.honest.clone(),
				}
			},
			None => InferenceOutcome::Failed,
		};
		Self::deposit_event(Event::DisputeConcluded {
			request: id,
			output_commitment: outcome.output_commitment,
			honest: outcome.honest,
			refunded,
		});
		Self::notify(id, request.caller, notice);
		Ok(())
	}

	/// No result: refund the whole escrow and release every reservation.
	pub(crate) fn fail(id: RequestId, request: Request<T>, reason: FailureReason) {
		let refunded = Self::release_escrow(&request);
		if !matches!(request.phase, Phase::AwaitingSelection) {
			Self::release_all(id, &request);
		}
		Requests::<T>::remove(id);
		Self::deposit_event(Event::RequestFailed { request: id, reason, refunded });
		Self::notify(id, request.caller, InferenceOutcome::Failed);
	}

	/// Release the request's escrow to its owner's free balance (from where fees are paid).
	fn release_escrow(request: &Request<T>) -> BalanceOf<T> {
		T::Currency::release(
			&HoldReason::RequestEscrow.into(),
			&request.owner,
			request.escrow,
			Precision::BestEffort,
		)
		.unwrap_or_default()
	}

	/// Release the reservations of the request's nodes and drop its commitments.
	fn release_all(id: RequestId, request: &Request<T>) {
		for node in request.nodes.iter().chain(request.verifiers.iter()) {
			T::Nodes::release_collateral(*node, T::JobCollateral::get());
			Assignments::<T>::remove(node, id);
		}
		let _ = Commitments::<T>::clear_prefix(id, Self::max_executions(), None);
	}

	/// Invariants: each owner's escrow hold equals the escrow of its requests in flight; requests
	/// awaiting selection are queued; commitments belong to requests in flight.
	#[cfg(any(test, feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::InspectHold;

		let mut escrow = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		let queue = PendingSelections::<T>::get();
		for (id, request) in Requests::<T>::iter() {
			let sum = escrow.entry(request.owner.clone()).or_default();
			*sum = sum.saturating_add(request.escrow);
			if request.phase == Phase::AwaitingSelection {
				ensure!(queue.contains(&id), "a request awaiting selection is not queued");
			}
		}
		for (owner, sum) in escrow {
			let held = T::Currency::balance_on_hold(&HoldReason::RequestEscrow.into(), &owner);
			ensure!(held == sum, "held escrow differs from the requests in flight");
		}
		for (id, _, _) in Commitments::<T>::iter() {
			ensure!(Requests::<T>::contains_key(id), "a commitment outlived its request");
		}
		// Assignments index exactly the nodes and verifiers of the requests in flight.
		let mut assigned = 0usize;
		for (id, request) in Requests::<T>::iter() {
			// While a redraw is pending, the nodes it replaces keep their positions, unindexed.
			let redrawing = matches!(request.phase, Phase::Redrawing { .. });
			for node in request.nodes.iter().chain(request.verifiers.iter()) {
				if redrawing && request.excluded.contains(node) {
					continue;
				}
				ensure!(Assignments::<T>::contains_key(node, id), "a job is not indexed");
				assigned = assigned.saturating_add(1);
			}
		}
		ensure!(Assignments::<T>::iter().count() == assigned, "an assignment outlived its job");
		// Every result and output is queued to expire.
		for (kind, count) in [
			(crate::types::Expiring::Result, Results::<T>::iter_keys().count()),
			(crate::types::Expiring::Output, Outputs::<T>::iter_keys().count()),
		] {
			let (first, next) = ExpiryQueue::<T>::get(kind);
			ensure!(next.saturating_sub(first) >= count as u64, "a result or output never expires");
		}
		Ok(())
	}
}

impl<T: Config> DisputedRequests<T::AccountId> for Pallet<T> {
	fn conclude_dispute(request: RequestId, outcome: DisputeOutcome) -> DispatchResult {
		Self::do_conclude_dispute(request, outcome)
	}

	fn arbitration_job(request: RequestId, max_output_tokens: Option<u32>) -> Option<Vec<u8>> {
		let mut request = Requests::<T>::get(request).filter(|r| r.phase == Phase::Disputed)?;
		// Decoding is deterministic step by step, so stopping early changes none of the steps
		// before the limit: a one-step check computes exactly the steps the parties ran.
		if let Some(limit) = max_output_tokens {
			request.params.max_output_tokens = request.params.max_output_tokens.min(limit.max(1));
		}
		// The arbiter computes every quorum leaf from the output itself; position 0 of 1 only
		// shapes the worker's own commitment fields.
		Self::job_body(&request, &crate::offchain::Role::Public { index: 0, quorum: 1 })
	}

	fn redraw_jobs_of_convicted(node: NodeId) {
		Self::queue_convicted(node)
	}

	fn input_holders(request: RequestId) -> Option<([u8; 32], Vec<NodeId>)> {
		let request = Requests::<T>::get(request)?;
		match request.input {
			crate::types::StoredInput::Hash(hash) => Some((hash, request.nodes.into_inner())),
			crate::types::StoredInput::Inline(_) => None,
		}
	}

	fn conclude_dispute_weight() -> Weight {
		// The same work as a settlement: release the escrow and every reservation, record a
		// result, drop the request and its commitments, and tell the caller pallet.
		<T::WeightInfo as crate::WeightInfo>::submit_commitment()
			.saturating_add(T::OnOutcome::max_weight())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_disputed_request(
		user: &T::AccountId,
		parties: u32,
		subscribers: u32,
	) -> RequestId {
		crate::benchmarking::disputed_request::<T>(user, parties, subscribers)
	}
}

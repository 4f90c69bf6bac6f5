//! The calls' logic: submission, commitments and output publication. Checks come before writes.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_primitives::commitment::{output_digest, output_leaf};
use atoma_primitives::prompt::InlineInputError;
use atoma_support::{
	fees::request_fee,
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	ModelRegistry, ModelStatus, NodeRegistry, RequestId,
};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Preservation},
	},
	BoundedVec,
};
use sp_runtime::{traits::Saturating, SaturatedConversion};

use crate::{
	pallet::*,
	types::{Commitment, CommitmentKind, CommitmentPayload, Phase, Request, StoredInput},
};

impl<T: Config> Pallet<T> {
	/// Cross-Validation's `p` must reach the Nash bound of the echelon (whitepaper Appendix A,
	/// `atoma_support::nash`): `p >= C / ((1 - r)(R + S))`, with `C` the native cost of the job
	/// (governance's cost per token of the echelon, times the job's tokens), `R` the fee of one
	/// execution, `S` the collateral each executing node has reserved (`JobCollateral`), and `r`
	/// the share of the echelon governance assumes one party controls. Below it, cheating pays.
	/// No floor while governance has not set the echelon's economics.
	fn ensure_replication_floor(
		echelon: atoma_support::EchelonId,
		tokens: u32,
		p: sp_runtime::Perbill,
		fee: BalanceOf<T>,
	) -> DispatchResult {
		let Some((cost_per_token, control)) = T::Nodes::echelon_security(echelon) else {
			return Ok(());
		};
		let cost = cost_per_token.saturated_into::<u128>().saturating_mul(tokens.into());
		let floor = atoma_support::nash::min_replication_rate(
			cost,
			fee.saturated_into(),
			T::JobCollateral::get().saturated_into(),
			control,
		);
		// `p` in parts per billion, the floor in parts per quintillion.
		let p = u128::from(p.deconstruct()).saturating_mul(1_000_000_000);
		ensure!(p >= u128::from(floor.deconstruct()), Error::<T>::ReplicationBelowFloor);
		Ok(())
	}

	pub(crate) fn do_submit_request(
		owner: T::AccountId,
		spec: RequestSpec,
		caller: Option<[u8; 8]>,
	) -> Result<RequestId, DispatchError> {
		let model = T::Models::model(&spec.model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(model.status == ModelStatus::Approved, Error::<T>::ModelNotServable);
		// A job that cannot fit the model's context fails on every worker: refused here.
		if let Some(context) = model.context_length {
			let needed = spec.input_tokens.saturating_add(spec.params.max_output_tokens);
			ensure!(needed <= context, Error::<T>::ExceedsContextLength);
		}
		let input = match spec.input {
			RequestInput::Inline(bytes) => {
				ensure!(!bytes.is_empty(), Error::<T>::EmptyInput);
				let bytes: BoundedVec<u8, T::MaxInputLen> =
					BoundedVec::try_from(bytes).map_err(|_| Error::<T>::InputTooLarge)?;
				// A prompt no worker can serve would time out every node drawn for it, and pay
				// the user their timeout slashes: refused here, where it costs nobody anything.
				atoma_primitives::prompt::check_inline_input(&bytes).map_err(|e| match e {
					InlineInputError::NotUtf8 => Error::<T>::InputNotUtf8,
					InlineInputError::InvalidChat => Error::<T>::InvalidChatMessages,
				})?;
				StoredInput::Inline(bytes)
			},
			RequestInput::Hash(hash) => StoredInput::Hash(hash),
		};
		spec.params.validate().map_err(|_| Error::<T>::InvalidParams)?;
		let max_quorum = T::MaxQuorum::get();
		match spec.mode {
			VerificationMode::Single => {},
			VerificationMode::Sampling { n } => {
				ensure!((2..=max_quorum).contains(&n), Error::<T>::InvalidQuorum)
			},
			VerificationMode::CrossValidation { n, .. } => {
				ensure!((1..=max_quorum).contains(&n), Error::<T>::InvalidQuorum)
			},
		}
		ensure!(
			(T::MinTimeout::get()..=T::MaxTimeout::get()).contains(&spec.timeout),
			Error::<T>::InvalidTimeout
		);
		let price = T::Nodes::price_per_token(spec.echelon).ok_or(Error::<T>::NoPriceForEchelon)?;
		// Who can take the job is known only at the draw (nodes get busy, or leave): here, the
		// model must have enough subscribers in the echelon's draw index.
		let indexed = T::Models::indexed_count(&spec.model, spec.echelon);
		ensure!(indexed > 0, Error::<T>::NoEligibleNodes);
		ensure!(indexed >= spec.mode.public_nodes(), Error::<T>::TooFewEligibleNodes);
		let per_node = request_fee(spec.input_tokens, spec.params.max_output_tokens, price)
			.ok_or(Error::<T>::FeeOverflow)?;
		if let VerificationMode::CrossValidation { p, .. } = spec.mode {
			let tokens = spec.input_tokens.saturating_add(spec.params.max_output_tokens);
			Self::ensure_replication_floor(spec.echelon, tokens, p, per_node)?;
		}
		let escrow = per_node
			.checked_mul(&spec.mode.max_executions().into())
			.ok_or(Error::<T>::FeeOverflow)?;
		let free =
			T::Currency::reducible_balance(&owner, Preservation::Preserve, Fortitude::Polite);
		ensure!(free >= escrow, Error::<T>::InsufficientBalance);

		let id = RequestId(NextRequestId::<T>::get());
		let next = id.0.checked_add(1).ok_or(Error::<T>::TooManyPendingRequests)?;
		PendingSelections::<T>::try_mutate(|queue| queue.try_push(id))
			.map_err(|_| Error::<T>::TooManyPendingRequests)?;
		T::Currency::hold(&HoldReason::RequestEscrow.into(), &owner, escrow)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		NextRequestId::<T>::put(next);
		Requests::<T>::insert(
			id,
			Request {
				owner: owner.clone(),
				caller,
				model: spec.model.clone(),
				echelon: spec.echelon,
				input,
				input_tokens: spec.input_tokens,
				params: spec.params,
				mode: spec.mode,
				timeout: spec.timeout,
				destination: spec.destination,
				price_per_token: price,
				escrow,
				submitted_at: frame_system::Pallet::<T>::block_number(),
				phase: Phase::AwaitingSelection,
				selection_seed: [0; 32],
				nodes: BoundedVec::new(),
				verifiers: BoundedVec::new(),
				sortition_threshold: 0,
				excluded: BoundedVec::new(),
				redraws: 0,
			},
		);
		Self::deposit_event(Event::RequestSubmitted {
			request: id,
			owner,
			model: spec.model,
			echelon: spec.echelon,
			mode: spec.mode,
			escrow,
		});
		Ok(id)
	}

	/// Record a commitment; returns whether its request moved on (settled, failed, disputed or
	/// went to its reveal), which is what costs more than the commitment itself. A commit window
	/// made longer for verifiers is not moving on.
	pub(crate) fn do_submit_commitment(
		payload: CommitmentPayload,
		signature: sp_core::sr25519::Signature,
	) -> Result<bool, DispatchError> {
		// The transaction was authorized when it entered the pool; state may have moved since.
		let checked = Self::check_commitment(&payload, &signature)?;
		let CommitmentPayload { request: id, node, kind } = payload;
		let mut request = checked.request;
		let phase = request.phase;
		match kind {
			CommitmentKind::Quorum { root, leaf, input_tokens, output_tokens, trace_root } => {
				Commitments::<T>::insert(
					id,
					node,
					Commitment::Quorum { root, leaf, input_tokens, output_tokens, trace_root },
				);
				Self::deposit_event(Event::CommitmentSubmitted { request: id, node });
				Self::conclude_quorum_if_complete(id, request);
			},
			CommitmentKind::Unservable { reason } => {
				if matches!(request.mode, VerificationMode::CrossValidation { .. }) {
					Self::leave_verifiers_time(id, &mut request);
				}
				Commitments::<T>::insert(id, node, Commitment::Unservable { reason });
				Self::deposit_event(Event::UnservableAttested { request: id, node, reason });
				// Cross-Validation waits for the window's end: verifiers may still join.
				if !matches!(request.mode, VerificationMode::CrossValidation { .. }) {
					Self::conclude_quorum_if_complete(id, request);
				}
			},
			CommitmentKind::Sealed { sealed, input_tokens, output_tokens, trace_root, .. } => {
				let is_primary = request.nodes.contains(&node);
				if is_primary {
					// Verifiers commit after the primary: a primary that commits at the last
					// moment must not leave them no time.
					Self::leave_verifiers_time(id, &mut request);
				} else {
					// A verifier: it works from now on, so its collateral is reserved too.
					T::Nodes::reserve_collateral(node, T::JobCollateral::get())?;
					request.verifiers.try_push(node).map_err(|_| Error::<T>::TooManyVerifiers)?;
					Requests::<T>::insert(id, &request);
					Assignments::<T>::insert(node, id, ());
				}
				let seats_taken = match request.mode {
					VerificationMode::CrossValidation { n, .. } => {
						request.verifiers.len() >= n as usize
					},
					_ => false,
				};
				Commitments::<T>::insert(
					id,
					node,
					Commitment::Sealed {
						sealed,
						input_tokens,
						output_tokens,
						trace_root,
						revealed: None,
					},
				);
				Self::deposit_event(if is_primary {
					Event::CommitmentSubmitted { request: id, node }
				} else {
					Event::VerifierJoined { request: id, node }
				});
				// Every seat the escrow pays for is taken: nobody else may join, so the reveal
				// starts now instead of at the window's end.
				if seats_taken && !is_primary {
					let now = frame_system::Pallet::<T>::block_number();
					Self::start_reveal(id, request, now);
				}
			},
			CommitmentKind::Reveal { output_digest } => {
				Commitments::<T>::mutate(id, node, |c| {
					if let Some(Commitment::Sealed { revealed, .. }) = c {
						*revealed = Some(output_digest);
					}
				});
				Self::deposit_event(Event::DigestRevealed { request: id, node });
				let all_revealed = request
					.nodes
					.iter()
					.chain(request.verifiers.iter())
					.all(|n| Commitments::<T>::get(id, n).is_some_and(|c| !c.awaits_reveal()));
				if all_revealed {
					Self::conclude_cross_validation(id, request);
				}
			},
		}
		let moved_on =
			|r: Request<T>| core::mem::discriminant(&r.phase) != core::mem::discriminant(&phase);
		Ok(Requests::<T>::get(id).is_none_or(moved_on))
	}

	/// The Cross-Validation primary commits: the commit window lasts at least `VerifierWindow`
	/// more blocks, so that verifiers (who commit only after the primary) have time to.
	fn leave_verifiers_time(id: RequestId, request: &mut Request<T>) {
		let Phase::Executing { deadline } = request.phase else { return };
		let wanted = frame_system::Pallet::<T>::block_number()
			.saturating_add(T::VerifierWindow::get().into());
		if wanted <= deadline {
			return;
		}
		// A full deadline block keeps the old window: the request still ends.
		if let Ok(extended) = Self::schedule_deadline(wanted, id) {
			request.phase = Phase::Executing { deadline: extended };
			Requests::<T>::insert(id, &*request);
			Self::deposit_event(Event::CommitWindowExtended { request: id, deadline: extended });
		}
	}

	/// Conclude a Single or Sampling request once every selected node has committed.
	fn conclude_quorum_if_complete(id: RequestId, request: Request<T>) {
		let committed =
			request.nodes.iter().filter(|n| Commitments::<T>::contains_key(id, **n)).count();
		if committed == request.nodes.len() {
			Self::conclude_quorum(id, request);
		}
	}

	pub(crate) fn do_publish_output(request: RequestId, output: Vec<u8>) -> DispatchResult {
		let output = Self::check_publication(request, output)?;
		let bytes = output.len() as u32;
		Outputs::<T>::insert(request, output);
		Self::expire_later(crate::types::Expiring::Output, request);
		Self::deposit_event(Event::OutputPublished { request, bytes });
		Ok(())
	}

	/// Check that `output` is the output request `request` settled on, and that it is still to
	/// be published on chain; the named error says what is wrong. The same check authorizes a
	/// node's fee-less publication.
	pub(crate) fn check_publication(
		request: RequestId,
		output: Vec<u8>,
	) -> Result<BoundedVec<u8, T::MaxOutputLen>, Error<T>> {
		let result = Results::<T>::get(request).ok_or(Error::<T>::NotSettled)?;
		ensure!(
			result.destination == OutputDestination::OnChain,
			Error::<T>::NotOnChainDestination
		);
		ensure!(!Outputs::<T>::contains_key(request), Error::<T>::AlreadyPublished);
		let output: BoundedVec<u8, T::MaxOutputLen> =
			output.try_into().map_err(|_| Error::<T>::OutputTooLarge)?;
		let matches = match result.mode {
			VerificationMode::CrossValidation { .. } => {
				output_digest(&output) == result.output_commitment
			},
			// The root binds every leaf, and leaf 0 binds O: recompute both.
			VerificationMode::Single | VerificationMode::Sampling { .. } => {
				let n = result.nodes.len();
				let leaves: Vec<[u8; 32]> =
					(0..n as u32).map(|i| output_leaf(&output, i)).collect();
				atoma_primitives::commitment::root_matches_leaves(
					&result.output_commitment,
					&leaves,
				)
			},
		};
		ensure!(matches, Error::<T>::OutputMismatch);
		Ok(output)
	}

	/// Draw up to `wanted` nodes for a job of `model` in `echelon` from the model registry's draw
	/// index with `seed` (protocol §6, `atoma_support::draw::draw_indexed`): uniform positions,
	/// skipping nodes that cannot take the job (in `excluded`, no longer subscribed, or
	/// without `JobCollateral` free: busy, short of collateral, leaving), at most
	/// `draw::max_tries(wanted)` positions read. The cost does not depend on how many nodes
	/// serve the model.
	pub(crate) fn draw_nodes(
		model: &atoma_support::ModelId,
		echelon: atoma_support::EchelonId,
		wanted: u32,
		seed: [u8; 32],
		excluded: &[atoma_support::NodeId],
	) -> Vec<atoma_support::NodeId> {
		atoma_support::draw::draw_indexed(
			T::Models::indexed_count(model, echelon),
			wanted as usize,
			atoma_support::draw::max_tries(wanted),
			seed,
			|position| T::Models::indexed_node(model, echelon, position),
			|node| Self::can_take_job(node, model, excluded),
		)
	}

	/// Whether `node`, drawn from `model`'s index, can take a job of it now: not in `excluded`,
	/// still subscribed, and with `JobCollateral` free.
	pub(crate) fn can_take_job(
		node: atoma_support::NodeId,
		model: &atoma_support::ModelId,
		excluded: &[atoma_support::NodeId],
	) -> bool {
		!excluded.contains(&node)
			&& T::Models::is_subscribed(node, model)
			&& T::Nodes::is_eligible(node, T::JobCollateral::get())
	}

	/// The nodes of `model`'s draw index in `echelon` that could take a job now. Reads the
	/// whole index (up to `MaxSubscribersPerModel` nodes): for runtime APIs, never for calls.
	pub fn eligible_nodes(
		model: &atoma_support::ModelId,
		echelon: atoma_support::EchelonId,
	) -> Vec<atoma_support::NodeId> {
		let collateral = T::JobCollateral::get();
		(0..T::Models::indexed_count(model, echelon))
			.filter_map(|position| T::Models::indexed_node(model, echelon, position))
			.filter(|n| {
				T::Models::is_subscribed(*n, model) && T::Nodes::is_eligible(*n, collateral)
			})
			.collect()
	}

	/// What one execution of `request` costs with `input_tokens` prompt tokens and
	/// `output_tokens` generated, each at most what the request declared (and its escrow holds).
	pub(crate) fn execution_fee(
		request: &Request<T>,
		input_tokens: u32,
		output_tokens: u32,
	) -> BalanceOf<T> {
		let (input, output) = Self::chargeable_tokens(request, input_tokens, output_tokens);
		request_fee(input, output, request.price_per_token).unwrap_or_default().min(request.escrow)
	}

	/// The token counts a request pays for (and its work counts for in the emission): what the
	/// nodes agree they read and wrote, never more than the user declared and allowed. A node is
	/// its own quorum in Single mode, so its claim is bounded here, not trusted.
	pub(crate) fn chargeable_tokens(
		request: &Request<T>,
		input_tokens: u32,
		output_tokens: u32,
	) -> (u32, u32) {
		(
			input_tokens.min(request.input_tokens),
			output_tokens.min(request.params.max_output_tokens),
		)
	}
}

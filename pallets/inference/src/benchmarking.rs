//! Benchmarks (FRAME v2): submission, the settling commitment, the commitment authorization with a
//! VRF proof, output publication, and the two halves of `on_initialize`; each in its worst case.
//! Nodes and the model come from the registries' benchmark hooks; worker keys live in the
//! benchmark keystore, so commitments carry real signatures.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use alloc::{vec, vec::Vec};

use atoma_primitives::{
	commitment::quorum_commitments, CanonicalOutput, FinishReason, SamplingParams,
};
use atoma_support::{
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	sortition::VrfProof,
	worker_key::KEY_TYPE,
	EchelonId, ModelId, ModelRegistry, NodeId, NodeRegistry, RequestId, WorkerPublic,
};
use frame_benchmarking::v2::*;
use frame_support::{
	pallet_prelude::Authorize,
	traits::{fungible::Mutate, Get, Hooks},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::{traits::Saturating, transaction_validity::TransactionSource, Perbill};

use crate::{
	pallet::*,
	types::{Commitment, CommitmentKind, CommitmentPayload, Phase},
	Pallet as Inference,
};

/// Nodes subscribed to the benchmark model: enough for a `MaxQuorum` quorum, its replacements
/// and a verifier. A draw reads at most `draw::max_tries` positions of the index whatever its
/// length (`select_at_scale` shows it from 10 to 10,000 nodes); its refused tries are charged
/// separately (`draw_tries`).
fn subscribers<T: Config>() -> u32 {
	2 * T::MaxQuorum::get() + 2
}

/// 10^e nodes, at most as many as one model may have subscribers in one echelon (the node
/// registry's bound is as large).
fn scale<T: Config>(e: u32) -> u32 {
	10u32.saturating_pow(e).min(T::Models::benchmark_max_subscribers())
}

/// The block in which a request submitted now is drawn.
fn draw_block<T: Config>() -> BlockNumberFor<T> {
	frame_system::Pallet::<T>::block_number().saturating_add(T::SelectionDelay::get().into())
}

/// A fixed VRF vector: the sortition proof of the key `//atoma-bench-verifier` for request 0 with
/// selection seed `[0x5e; 32]` (checked by `tests::benchmark_vrf_vector_verifies`). The runtime
/// cannot VRF-sign (no host function), so the verifier's proof is precomputed.
pub const BENCH_VRF_SURI: &str = "//atoma-bench-verifier";
pub const BENCH_VRF_SEED: [u8; 32] = [0x5e; 32];
pub const BENCH_VRF_PROOF: [u8; 96] = [
	162, 198, 202, 110, 186, 135, 0, 250, 247, 172, 45, 135, 125, 169, 178, 108, 80, 64, 98, 104,
	37, 45, 210, 202, 53, 162, 196, 152, 20, 114, 224, 82, 44, 20, 182, 141, 154, 134, 24, 85, 63,
	171, 71, 55, 152, 169, 163, 168, 164, 33, 246, 25, 123, 36, 62, 200, 110, 149, 52, 61, 131, 91,
	212, 1, 69, 34, 2, 63, 5, 11, 242, 123, 153, 73, 41, 51, 90, 246, 152, 188, 250, 136, 105, 71,
	58, 34, 157, 207, 93, 153, 88, 129, 27, 216, 219, 3,
];

struct Setup<T: Config> {
	model: ModelId,
	echelon: EchelonId,
	nodes: Vec<(NodeId, WorkerPublic)>,
	_t: core::marker::PhantomData<T>,
}

/// `count` eligible nodes with keystore worker keys, all subscribed to a fresh approved model.
fn serving<T: Config>(count: u32) -> Setup<T> {
	serving_keyed::<T>(count, count)
}

/// `count` eligible nodes, the first `keyed` with keystore worker keys, all subscribed to a
/// fresh approved model.
fn serving_keyed<T: Config>(count: u32, keyed: u32) -> Setup<T> {
	let mut nodes = Vec::new();
	let mut echelon = None;
	for i in 0..count {
		let operator: T::AccountId = account("operator", i, 0);
		let node = T::Nodes::benchmark_node(&operator, echelon);
		let key = match i < keyed {
			true => {
				let key = sp_io::crypto::sr25519_generate(KEY_TYPE, None);
				T::Nodes::benchmark_set_worker_key(node, key);
				key
			},
			false => T::Nodes::node(node).map(|n| n.worker_key).unwrap_or_else(|| panic!("node")),
		};
		echelon = T::Nodes::node(node).map(|n| n.echelon);
		nodes.push((node, key));
	}
	let ids: Vec<NodeId> = nodes.iter().map(|(n, _)| *n).collect();
	let model = T::Models::benchmark_model(&ids);
	// Requests come a block later: sortition accepts only worker keys older than the request.
	let next = frame_system::Pallet::<T>::block_number().saturating_add(1u32.into());
	frame_system::Pallet::<T>::set_block_number(next);
	Setup { model, echelon: echelon.unwrap_or_default(), nodes, _t: Default::default() }
}

/// Request 7: a settled `MaxQuorum` Sampling request whose destination is on chain, and the largest
/// output it can have settled on; returns its owner and that output.
fn settled_on_chain<T: Config>() -> (T::AccountId, Vec<u8>) {
	let n = T::MaxQuorum::get();
	let header = atoma_primitives::output::CANONICAL_OUTPUT_HEADER_LEN as u32;
	let o = output((T::MaxOutputLen::get() - header) / 4);
	let root = quorum_commitments(&o, n).root;
	let owner = user::<T>();
	let nodes: Vec<NodeId> = (0..n).map(|i| NodeId(i.into())).collect();
	Results::<T>::insert(
		RequestId(7),
		crate::types::RequestResult {
			owner: owner.clone(),
			mode: VerificationMode::Sampling { n },
			output_commitment: root,
			output_tokens: 0,
			nodes: BoundedVec::truncate_from(nodes),
			sampler_seed: 0,
			destination: OutputDestination::OnChain,
			settled_at: 1u32.into(),
		},
	);
	(owner, o)
}

fn user<T: Config>() -> T::AccountId {
	let who: T::AccountId = whitelisted_caller();
	let plenty = T::JobCollateral::get().saturating_mul(1_000_000u32.into());
	T::Currency::set_balance(&who, plenty);
	who
}

fn spec(setup: &Setup<impl Config>, mode: VerificationMode, input: usize) -> RequestSpec {
	RequestSpec {
		model: setup.model.clone(),
		echelon: setup.echelon,
		input: RequestInput::Inline(vec![b'p'; input]),
		input_tokens: 100,
		params: SamplingParams {
			temperature_milli: 700,
			top_k: 40,
			top_p_milli: 900,
			max_output_tokens: 256,
			seed: 0,
		},
		mode,
		timeout: 10,
		destination: OutputDestination::OnChain,
	}
}

/// A request submitted by `owner` and selected (nodes drawn) `SelectionDelay` blocks later.
fn selected<T: Config>(owner: &T::AccountId, spec: RequestSpec) -> RequestId {
	let id = Inference::<T>::do_submit_request(owner.clone(), spec, None)
		.unwrap_or_else(|e| panic!("submit: {e:?}"));
	let next = draw_block::<T>();
	frame_system::Pallet::<T>::set_block_number(next);
	Inference::<T>::do_tick(next);
	id
}

fn key_of<T: Config>(setup: &Setup<T>, node: NodeId) -> WorkerPublic {
	setup.nodes.iter().find(|(n, _)| *n == node).map(|(_, k)| *k).unwrap_or_else(|| panic!("key"))
}

fn signed<T: Config>(
	payload: &CommitmentPayload,
	key: &WorkerPublic,
) -> sp_core::sr25519::Signature {
	sp_io::crypto::sr25519_sign(KEY_TYPE, key, &payload.signing_bytes(&Inference::<T>::chain_id()))
		.unwrap_or_else(|| panic!("the keystore holds the key"))
}

/// A canonical output of `tokens` tokens.
fn output(tokens: u32) -> Vec<u8> {
	let ids: Vec<u32> = (0..tokens).collect();
	CanonicalOutput::new(&ids, FinishReason::Length).encode_canonical()
}

/// The trace root of `output` as a worker recording no logits would commit it.
fn token_trace_root(output: &[u8]) -> [u8; 32] {
	let ids =
		atoma_primitives::output::decode_canonical(output).map(|(ids, _)| ids).unwrap_or_default();
	let steps: Vec<[u8; 32]> = (0u32..)
		.zip(ids)
		.map(|(step, id)| atoma_primitives::trace::step_digest(step, id, &[]))
		.collect();
	atoma_primitives::trace::trace_root(&steps)
}

/// The costliest submission, funded for `owner`: the largest inline input and Cross-Validation
/// quorum (the most executions to escrow), to a model whose every candidate node is checked. For
/// this pallet's `submit_request` and the benchmarks of pallets that request inference.
pub fn worst_case_submission<T: Config>(owner: &T::AccountId) -> RequestSpec {
	let setup = serving::<T>(subscribers::<T>());
	let plenty = T::JobCollateral::get().saturating_mul(1_000_000u32.into());
	T::Currency::set_balance(owner, plenty);
	let mode = VerificationMode::CrossValidation { n: T::MaxQuorum::get(), p: Perbill::one() };
	spec(&setup, mode, T::MaxInputLen::get() as usize)
}

/// `subscribers` nodes serving a fresh model, and a request of `owner` run by `parties` of them
/// (at most `MaxQuorum`; Single for one, Sampling otherwise) whose commitments all differ: it goes
/// to the dispute manager. For the disputes pallet's benchmarks.
pub fn disputed_request<T: Config>(
	owner: &T::AccountId,
	parties: u32,
	subscribers: u32,
) -> RequestId {
	let parties = parties.min(T::MaxQuorum::get());
	let setup = serving::<T>(subscribers.max(parties));
	let plenty = T::JobCollateral::get().saturating_mul(1_000_000u32.into());
	T::Currency::set_balance(owner, plenty);
	let mode = match parties {
		0 | 1 => VerificationMode::Single,
		n => VerificationMode::Sampling { n },
	};
	let id = selected::<T>(owner, spec(&setup, mode, 16));
	let request = Requests::<T>::get(id).unwrap_or_else(|| panic!("selected"));
	let n = request.nodes.len() as u32;
	for (i, node) in request.nodes.iter().enumerate() {
		// Each node its own output and trace: every pair disagrees.
		let o = output(i as u32 + 1);
		let q = quorum_commitments(&o, n);
		let commitment = Commitment::Quorum {
			root: q.root,
			leaf: q.leaves[i],
			input_tokens: 100,
			output_tokens: i as u32 + 1,
			trace_root: token_trace_root(&o),
		};
		Commitments::<T>::insert(id, node, commitment);
	}
	Inference::<T>::conclude_quorum(id, request);
	id
}

/// A `MaxQuorum` Sampling request just drawn, and the signed commitment of its first node: the
/// quorum's other nodes have not committed yet.
fn first_of_quorum<T: Config>() -> (RequestId, CommitmentPayload, sp_core::sr25519::Signature) {
	let setup = serving::<T>(subscribers::<T>());
	let owner = user::<T>();
	let n = T::MaxQuorum::get();
	let id = selected::<T>(&owner, spec(&setup, VerificationMode::Sampling { n }, 16));
	let first = Requests::<T>::get(id).and_then(|r| r.nodes.first().copied());
	let first = first.unwrap_or_else(|| panic!("a drawn node"));
	let o = output(256);
	let q = quorum_commitments(&o, n);
	let payload = CommitmentPayload {
		request: id,
		node: first,
		kind: CommitmentKind::Quorum {
			root: q.root,
			leaf: q.leaves[0],
			input_tokens: 100,
			output_tokens: 256,
			trace_root: token_trace_root(&o),
		},
	};
	let signature = signed::<T>(&payload, &key_of(&setup, first));
	(id, payload, signature)
}

/// A `MaxQuorum` Cross-Validation request whose primary committed, and the signed commitment of a
/// verifier (a subscribed node whose key is the fixed VRF vector's) joining it: one seat of many.
#[allow(clippy::type_complexity)]
fn verifier_joining<T: Config>(
) -> Result<(RequestId, CommitmentPayload, sp_core::sr25519::Signature), BenchmarkError> {
	NextRequestId::<T>::put(0);
	let setup = serving::<T>(subscribers::<T>());
	let owner = user::<T>();
	let mode = VerificationMode::CrossValidation { n: T::MaxQuorum::get(), p: Perbill::one() };
	let id = selected::<T>(&owner, spec(&setup, mode, 16));
	assert_eq!(id, RequestId(0));
	// The verifier: a subscribed node whose key is the fixed VRF vector's.
	let primary = Requests::<T>::get(id).and_then(|r| r.nodes.first().copied());
	let (verifier, _) = *setup
		.nodes
		.iter()
		.find(|(n, _)| Some(*n) != primary)
		.unwrap_or_else(|| panic!("another node"));
	let key = sp_io::crypto::sr25519_generate(KEY_TYPE, Some(BENCH_VRF_SURI.as_bytes().to_vec()));
	T::Nodes::benchmark_set_worker_key(verifier, key);
	Requests::<T>::mutate(id, |r| {
		if let Some(r) = r {
			r.selection_seed = BENCH_VRF_SEED;
			r.sortition_threshold = u128::MAX;
			// The key was set just now for the fixed VRF vector: date the request after it,
			// as sortition accepts only keys older than the request.
			r.submitted_at = frame_system::Pallet::<T>::block_number().saturating_add(1u32.into());
		}
	});
	let digest = atoma_primitives::commitment::output_digest(&output(16));
	// Verifiers commit after the primary.
	if let Some(primary) = primary {
		Commitments::<T>::insert(
			id,
			primary,
			Commitment::Sealed {
				sealed: [1; 32],
				input_tokens: 100,
				output_tokens: 16,
				trace_root: token_trace_root(&output(16)),
				revealed: None,
			},
		);
	}
	let payload = CommitmentPayload {
		request: id,
		node: verifier,
		kind: CommitmentKind::Sealed {
			sealed: atoma_primitives::commitment::sealed_commitment(&digest, &key.0),
			input_tokens: 100,
			output_tokens: 16,
			trace_root: token_trace_root(&output(16)),
			vrf: Some(VrfProof(BENCH_VRF_PROOF)),
		},
	};
	let signature = signed::<T>(&payload, &key);
	Ok((id, payload, signature))
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// The largest inline input, the largest Cross-Validation quorum (the most executions to
	/// escrow) and a full eligibility scan.
	#[benchmark]
	fn submit_request() {
		let owner = user::<T>();
		let spec = worst_case_submission::<T>(&owner);

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), spec);

		assert_eq!(NextRequestId::<T>::get(), 1);
	}

	/// The last commitment of a `MaxQuorum` Sampling request: it settles, paying every node.
	#[benchmark]
	fn submit_commitment() {
		let setup = serving::<T>(subscribers::<T>());
		let owner = user::<T>();
		let n = T::MaxQuorum::get();
		let id = selected::<T>(&owner, spec(&setup, VerificationMode::Sampling { n }, 16));
		let nodes = Requests::<T>::get(id).map(|r| r.nodes.to_vec()).unwrap_or_default();
		let o = output(256);
		let q = quorum_commitments(&o, n);
		let trace_root = token_trace_root(&o);
		for (i, node) in nodes.iter().enumerate().skip(1) {
			Commitments::<T>::insert(
				id,
				node,
				Commitment::Quorum {
					root: q.root,
					leaf: q.leaves[i],
					input_tokens: 100,
					output_tokens: 256,
					trace_root,
				},
			);
		}
		let last = nodes[0];
		let payload = CommitmentPayload {
			request: id,
			node: last,
			kind: CommitmentKind::Quorum {
				root: q.root,
				leaf: q.leaves[0],
				input_tokens: 100,
				output_tokens: 256,
				trace_root,
			},
		};
		let signature = signed::<T>(&payload, &key_of(&setup, last));

		#[extrinsic_call]
		_(RawOrigin::Authorized, payload, signature);

		assert!(Results::<T>::contains_key(id));
	}

	/// The heaviest commitment that leaves its request waiting for others: a Cross-Validation
	/// verifier joins (its VRF proof checked again, its collateral reserved, the request
	/// rewritten) while seats remain.
	#[benchmark]
	fn submit_commitment_pending() -> Result<(), BenchmarkError> {
		let (id, payload, signature) = verifier_joining::<T>()?;

		#[extrinsic_call]
		submit_commitment(RawOrigin::Authorized, payload, signature);

		let request = Requests::<T>::get(id).ok_or(BenchmarkError::Stop("the request"))?;
		assert_eq!(request.verifiers.len(), 1);
		assert!(matches!(request.phase, Phase::Executing { .. }));
		Ok(())
	}

	/// The first commitment of a `MaxQuorum` Sampling quorum: recorded, the request waits.
	#[benchmark]
	fn submit_commitment_quorum_pending() -> Result<(), BenchmarkError> {
		let (id, payload, signature) = first_of_quorum::<T>();

		#[extrinsic_call]
		submit_commitment(RawOrigin::Authorized, payload, signature);

		let request = Requests::<T>::get(id).ok_or(BenchmarkError::Stop("the request"))?;
		assert!(matches!(request.phase, Phase::Executing { .. }));
		Ok(())
	}

	/// Authorizing a quorum commitment: the signature check, no VRF.
	#[benchmark]
	fn authorize_submit_commitment_quorum() -> Result<(), BenchmarkError> {
		let (_, payload, signature) = first_of_quorum::<T>();
		let call = Call::<T>::submit_commitment { payload, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the node is authorized")?;
		}
		Ok(())
	}

	/// Authorizing a Cross-Validation verifier: signature check plus VRF verification.
	#[benchmark]
	fn authorize_submit_commitment() -> Result<(), BenchmarkError> {
		let (_, payload, signature) = verifier_joining::<T>()?;
		let call = Call::<T>::submit_commitment { payload, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the verifier is authorized")?;
		}
		Ok(())
	}

	/// Publishing the largest output of a `MaxQuorum` Sampling request: `MaxQuorum` leaves over it.
	#[benchmark]
	fn publish_output() {
		let (owner, o) = settled_on_chain::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), RequestId(7), o);

		assert!(Outputs::<T>::contains_key(RequestId(7)));
	}

	/// A node's fee-less publication of the same output, checked as it enters the pool.
	#[benchmark]
	fn authorize_publish_output() -> Result<(), BenchmarkError> {
		let (_, o) = settled_on_chain::<T>();
		let call = Call::<T>::publish_output { request: RequestId(7), output: o };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the output is authorized")?;
		}
		Ok(())
	}

	/// `t` tries of a draw that all land on nodes unable to take the job (their collateral all
	/// reserved): what a draw costs beyond the tries that succeed.
	#[benchmark]
	fn draw_tries(t: Linear<0, { atoma_support::draw::max_tries(T::MaxQuorum::get()) }>) {
		let setup = serving_keyed::<T>(subscribers::<T>(), 0);
		for (node, _) in &setup.nodes {
			let free = T::Nodes::node(*node).map(|n| n.collateral).unwrap_or_default();
			T::Nodes::reserve_collateral(*node, free).unwrap_or_else(|e| panic!("reserve: {e:?}"));
		}
		let count = T::Models::indexed_count(&setup.model, setup.echelon);
		let drawn;

		#[block]
		{
			drawn = atoma_support::draw::draw_indexed(
				count,
				T::MaxQuorum::get() as usize,
				t,
				[7; 32],
				|position| T::Models::indexed_node(&setup.model, setup.echelon, position),
				|node| Inference::<T>::can_take_job(node, &setup.model, &[]),
			);
		}

		assert!(drawn.is_empty());
	}

	/// Selecting one `MaxQuorum` Sampling request among 10^e subscribers (`--steps 4`: 10, 100,
	/// 1,000, 10,000), every other one busy: flat in `e`.
	#[benchmark]
	fn select_at_scale(e: Linear<1, 4>) {
		let count = scale::<T>(e).max(2 * T::MaxQuorum::get());
		let setup = serving_keyed::<T>(count, 0);
		for (node, _) in setup.nodes.iter().step_by(2) {
			let free = T::Nodes::node(*node).map(|n| n.collateral).unwrap_or_default();
			T::Nodes::reserve_collateral(*node, free).unwrap_or_else(|e| panic!("reserve: {e:?}"));
		}
		let owner = user::<T>();
		let n = T::MaxQuorum::get();
		let id = Inference::<T>::do_submit_request(
			owner,
			spec(&setup, VerificationMode::Sampling { n }, 16),
			None,
		)
		.unwrap_or_else(|e| panic!("submit: {e:?}"));
		let now = draw_block::<T>();
		frame_system::Pallet::<T>::set_block_number(now);

		#[block]
		{
			Inference::<T>::do_tick(now);
		}

		assert!(Requests::<T>::get(id).is_some_and(|r| r.phase != Phase::AwaitingSelection));
	}

	/// The commitment that settles a `MaxQuorum` Sampling request among 10^e subscribers:
	/// flat in `e` (settlement touches only the request's nodes).
	#[benchmark]
	fn settle_at_scale(e: Linear<1, 4>) {
		let count = scale::<T>(e).max(T::MaxQuorum::get());
		let setup = serving_keyed::<T>(count, 0);
		let owner = user::<T>();
		let n = T::MaxQuorum::get();
		let id = selected::<T>(&owner, spec(&setup, VerificationMode::Sampling { n }, 16));
		let nodes = Requests::<T>::get(id).map(|r| r.nodes.to_vec()).unwrap_or_default();
		assert_eq!(nodes.len() as u32, n, "a full quorum drawn");
		let o = output(256);
		let q = quorum_commitments(&o, n);
		let trace_root = token_trace_root(&o);
		for (i, node) in nodes.iter().enumerate().skip(1) {
			let commitment = Commitment::Quorum {
				root: q.root,
				leaf: q.leaves[i],
				input_tokens: 100,
				output_tokens: 256,
				trace_root,
			};
			Commitments::<T>::insert(id, node, commitment);
		}
		let last = nodes[0];
		let key = sp_io::crypto::sr25519_generate(KEY_TYPE, None);
		T::Nodes::benchmark_set_worker_key(last, key);
		let kind = CommitmentKind::Quorum {
			root: q.root,
			leaf: q.leaves[0],
			input_tokens: 100,
			output_tokens: 256,
			trace_root,
		};
		let payload = CommitmentPayload { request: id, node: last, kind };
		let signature = signed::<T>(&payload, &key);

		#[extrinsic_call]
		submit_commitment(RawOrigin::Authorized, payload, signature);

		assert!(Results::<T>::get(id).is_some());
	}

	/// Selecting `s` `MaxQuorum` Sampling requests in one block.
	#[benchmark]
	fn on_initialize_selection(s: Linear<0, { T::MaxSelectionsPerBlock::get() }>) {
		let setup = serving::<T>(subscribers::<T>());
		let owner = user::<T>();
		let n = T::MaxQuorum::get();
		for _ in 0..s {
			Inference::<T>::do_submit_request(
				owner.clone(),
				spec(&setup, VerificationMode::Sampling { n }, 16),
				None,
			)
			.unwrap_or_else(|e| panic!("submit: {e:?}"));
		}
		let now = draw_block::<T>();
		frame_system::Pallet::<T>::set_block_number(now);

		#[block]
		{
			Inference::<T>::do_tick(now);
		}

		assert!(PendingSelections::<T>::get().is_empty());
	}

	/// Closing `d` `MaxQuorum` Sampling windows in one block where no node committed: every node
	/// is slashed and replaced.
	#[benchmark]
	fn on_initialize_deadlines(
		d: Linear<
			0,
			{ T::MaxDeadlinesPerBlock::get().min(T::MaxSelectionsPerBlock::get()).min(16) },
		>,
	) {
		let setup = serving::<T>(subscribers::<T>());
		let owner = user::<T>();
		let n = T::MaxQuorum::get();
		let mut ids = Vec::new();
		for _ in 0..d {
			ids.push(
				Inference::<T>::do_submit_request(
					owner.clone(),
					spec(&setup, VerificationMode::Sampling { n }, 16),
					None,
				)
				.unwrap_or_else(|e| panic!("submit: {e:?}")),
			);
		}
		let start: BlockNumberFor<T> = frame_system::Pallet::<T>::block_number() + 1u32.into();
		frame_system::Pallet::<T>::set_block_number(start);
		Inference::<T>::do_tick(start);
		let deadline = start + 10u32.into();
		frame_system::Pallet::<T>::set_block_number(deadline);

		#[block]
		{
			Inference::<T>::on_initialize(deadline);
		}

		for id in ids {
			assert!(Requests::<T>::get(id).is_some_and(|r| r.phase != Phase::AwaitingSelection));
		}
	}

	impl_benchmark_test_suite!(Inference, crate::mock::new_test_ext(), crate::mock::Test);
}

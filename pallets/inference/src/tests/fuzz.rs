//! Every call of the pallet with random arguments and origins, a few thousand times, blocks
//! passing in between: no call (nor the authorization of a commitment) panics, every failure is
//! a named error that changes nothing, and the invariants hold after each call
//! (`build_and_execute` checks the fee accounting and the issuance rule at the end).

use atoma_support::{
	fuzz::{dispatch_checked, Rng},
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	EchelonId, ModelId, NodeId, RequestId,
};
use sp_core::Pair;
use sp_runtime::Perbill;

use super::*;
use crate::{mock::*, Call};

const CASES: usize = 3_000;
const NODES: u64 = 4;

fn random_mode(rng: &mut Rng) -> VerificationMode {
	match rng.below(3) {
		0 => VerificationMode::Single,
		1 => VerificationMode::Sampling { n: rng.below(5) as u32 },
		_ => VerificationMode::CrossValidation {
			n: rng.below(5) as u32,
			p: Perbill::from_percent(rng.edgy(100) as u32),
		},
	}
}

fn random_spec(rng: &mut Rng) -> RequestSpec {
	// Half of the requests are valid, so that the flows behind submission run too.
	if rng.one_in(2) {
		return spec(match rng.below(3) {
			0 => VerificationMode::Single,
			1 => VerificationMode::Sampling { n: 2 + rng.below(2) as u32 },
			_ => VerificationMode::CrossValidation {
				n: 1 + rng.below(3) as u32,
				p: Perbill::from_percent(rng.edgy(100) as u32),
			},
		});
	}
	let input = match rng.below(5) {
		0 => RequestInput::Hash([rng.below(3) as u8; 32]),
		1 => RequestInput::Inline(rng.bytes(80)),
		2 => RequestInput::Inline(br#"[{"role":"user","content":"hi"}]"#.to_vec()),
		_ => RequestInput::Inline(b"hello".to_vec()),
	};
	let mut spec = spec(random_mode(rng));
	spec.model = match rng.one_in(8) {
		true => ModelId::from_name(b"unknown").expect("valid id"),
		false => model(),
	};
	spec.echelon = EchelonId(rng.below(2) as u32 * rng.below(2) as u32);
	spec.input = input;
	spec.input_tokens = rng.edgy(u64::from(u32::MAX)) as u32 % 1_000_000 * rng.below(2) as u32
		+ rng.below(20) as u32;
	spec.params.temperature_milli = rng.edgy(3_000) as u32;
	spec.params.top_k = rng.edgy(100) as u32;
	spec.params.top_p_milli = rng.edgy(1_200) as u32;
	spec.params.max_output_tokens = rng.edgy(40) as u32;
	spec.timeout = rng.edgy(60) as u32;
	spec.destination = match rng.one_in(2) {
		true => OutputDestination::OnChain,
		false => OutputDestination::Worker,
	};
	spec
}

/// A commitment for a request in flight (or not), by a node that may or may not be selected,
/// signed by its own key or another's.
fn random_commitment(rng: &mut Rng) -> Call<Test> {
	let ids: Vec<RequestId> = crate::Requests::<Test>::iter_keys().collect();
	let request = match ids.is_empty() || rng.one_in(6) {
		true => RequestId(rng.below(50)),
		false => *rng.pick(&ids),
	};
	let selected =
		crate::Requests::<Test>::get(request).map(|r| r.nodes.to_vec()).unwrap_or_default();
	let node = match selected.is_empty() || rng.one_in(3) {
		true => NodeId(rng.below(NODES + 1)),
		false => *rng.pick(&selected),
	};
	// Agreeing outputs most of the time, so that requests settle as well as dispute.
	let o = output(rng.below(2) as u32, 1 + rng.below(3) as u32);
	let n = selected.len().max(1);
	let position = match rng.one_in(4) {
		true => rng.below(n as u64) as usize,
		false => selected.iter().position(|s| *s == node).unwrap_or(0),
	};
	// Now and then an "unservable" attestation, mostly the same reason so that some agree.
	let kind = match rng.below(4) {
		_ if rng.one_in(10) => CommitmentKind::Unservable {
			reason: match rng.one_in(4) {
				true => *rng.pick(&crate::UnservableReason::ALL),
				false => crate::UnservableReason::ExceedsContext,
			},
		},
		0 | 1 => quorum_kind(&o, position, n),
		2 => sealed_kind(request, node, &o, rng.one_in(2)),
		_ => reveal_kind(&o),
	};
	let payload = payload(request, node, kind);
	let signer = match rng.one_in(5) {
		true => NodeId(rng.below(NODES)),
		false => node,
	};
	let signature = pair_of(signer).sign(&payload.signing_bytes(&Inference::chain_id()));
	// The pool's check must not panic either, whatever it answers.
	let _ = Inference::authorize_commitment(&payload, &signature);
	Call::submit_commitment { payload, signature }
}

#[test]
fn random_calls_never_panic_and_failures_change_nothing() {
	ExtBuilder::default().nodes(NODES).build_and_execute(|| {
		MaxPendingSelections::set(16);
		let mut rng = Rng::new(0x1f_e4e0);
		let mut succeeded = 0;
		let (mut settled, mut unservable) = (false, false);
		for _ in 0..CASES {
			let (call, origin) = match rng.below(6) {
				0 | 1 => (
					Call::submit_request { spec: random_spec(&mut rng) },
					match rng.below(6) {
						0 => RuntimeOrigin::signed(PAUPER),
						1 => RuntimeOrigin::none(),
						_ => RuntimeOrigin::signed(USER),
					},
				),
				2 => {
					let ids: Vec<RequestId> = crate::Results::<Test>::iter_keys().collect();
					let request = match ids.is_empty() || rng.one_in(4) {
						true => RequestId(rng.below(50)),
						false => *rng.pick(&ids),
					};
					let o = output(rng.below(2) as u32, 1 + rng.below(3) as u32);
					let output = match rng.one_in(4) {
						true => rng.bytes(300),
						false => o,
					};
					(Call::publish_output { request, output }, RuntimeOrigin::signed(USER))
				},
				_ => (
					random_commitment(&mut rng),
					match rng.one_in(8) {
						true => RuntimeOrigin::signed(USER),
						false => frame_system::RawOrigin::Authorized.into(),
					},
				),
			};
			if dispatch_checked(RuntimeCall::Inference(call), origin) {
				succeeded += 1;
			}
			if rng.one_in(3) {
				next_block();
			}
			// Timeouts and disputes drain the nodes' collateral; operators top it up now and
			// then, as real ones would, so that requests keep finding nodes.
			if rng.one_in(40) {
				for i in 0..NODES {
					let _ = NodeRegistry::add_collateral(
						RuntimeOrigin::signed(OPERATOR_BASE + i),
						NodeId(i),
						NODE_COLLATERAL,
					);
				}
			}
			Inference::do_try_state().expect("invariants hold after every call");
			// Events live for a block: note the endings as they happen.
			for event in inference_events() {
				match event {
					crate::Event::RequestSettled { .. } => settled = true,
					crate::Event::RequestUnservable { .. } => unservable = true,
					_ => {},
				}
			}
		}
		// The generator reaches the success paths too, not only the errors.
		assert!(succeeded >= 100, "only {succeeded} of {CASES} calls succeeded");
		assert!(settled, "some requests settled");
		assert!(unservable, "some requests ended unservable");
	});
}

//! Runtime tests under test externalities: every genesis preset builds a consistent genesis, and
//! a signed transfer goes through the full extrinsic pipeline (signature, extensions, fees).

use crate::{
	configs::TreasuryAccount,
	currency::{EXISTENTIAL_DEPOSIT, UNITS},
	genesis_config_presets::{self, ENDOWMENT},
	signed_tx_extension, AccountId, Babe, Balances, BalancesCall, Executive, Grandpa, Runtime,
	RuntimeCall, RuntimeGenesisConfig, Session, SignedPayload, System, UncheckedExtrinsic, VERSION,
};
use codec::Encode;
use frame_support::{assert_ok, traits::fungible::Inspect};
use sp_genesis_builder::PresetId;
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use sp_runtime::{generic::Era, BuildStorage, MultiAddress, MultiSignature};

/// Builds the genesis storage of a preset the way a chain spec would: the preset's JSON patch
/// applied over the default genesis config.
fn preset_storage(name: &str) -> sp_runtime::Storage {
	let patch_bytes = genesis_config_presets::get_preset(&PresetId::from(name))
		.unwrap_or_else(|| panic!("preset {name} exists"));
	let patch: serde_json::Value = serde_json::from_slice(&patch_bytes).expect("preset is JSON");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).expect("serializes");
	sc_merge(&mut config, patch);
	let config: RuntimeGenesisConfig =
		serde_json::from_value(config).expect("patched preset is a valid genesis config");
	config.build_storage().expect("genesis builds")
}

/// JSON merge patch (RFC 7386), the same merge the node applies to a preset.
fn sc_merge(base: &mut serde_json::Value, patch: serde_json::Value) {
	match (base, patch) {
		(serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
			for (key, value) in patch {
				if value.is_null() {
					base.remove(&key);
				} else {
					sc_merge(base.entry(key).or_insert(serde_json::Value::Null), value);
				}
			}
		},
		(base, patch) => *base = patch,
	}
}

fn ext_for(preset: &str) -> sp_io::TestExternalities {
	let mut ext = sp_io::TestExternalities::new(preset_storage(preset));
	ext.execute_with(|| System::set_block_number(1));
	ext
}

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

#[test]
fn preset_names_are_listed_and_unknown_ones_rejected() {
	let names = genesis_config_presets::preset_names();
	assert_eq!(names.len(), 3);
	for name in &names {
		assert!(genesis_config_presets::get_preset(name).is_some(), "{name:?} resolves");
	}
	assert!(genesis_config_presets::get_preset(&PresetId::from("no_such_preset")).is_none());
}

fn assert_validators(preset: &str, validators: &[(Sr25519Keyring, Ed25519Keyring)]) {
	ext_for(preset).execute_with(|| {
		let expected_accounts: Vec<AccountId> =
			validators.iter().map(|(sr, _)| sr.to_account_id()).collect();
		assert_eq!(Session::validators(), expected_accounts, "{preset}: session validators");

		let babe: Vec<_> = Babe::authorities().iter().map(|(id, _)| id.clone()).collect();
		let expected_babe: Vec<sp_consensus_babe::AuthorityId> =
			validators.iter().map(|(sr, _)| sr.public().into()).collect();
		assert_eq!(babe, expected_babe, "{preset}: BABE authorities");

		let grandpa: Vec<_> =
			Grandpa::grandpa_authorities().into_iter().map(|(id, _)| id).collect();
		let expected_grandpa: Vec<sp_consensus_grandpa::AuthorityId> =
			validators.iter().map(|(_, ed)| ed.public().into()).collect();
		assert_eq!(grandpa, expected_grandpa, "{preset}: GRANDPA authorities");

		assert_eq!(
			pallet_sudo::Key::<Runtime>::get(),
			Some(account(Sr25519Keyring::Alice)),
			"{preset}: sudo"
		);
		assert_eq!(Babe::epoch_config(), Some(crate::BABE_GENESIS_EPOCH_CONFIG));

		// Every dev account is endowed; the treasury exists; issuance is exactly their sum.
		let dev_accounts = Sr25519Keyring::iter().count() as u128;
		for k in Sr25519Keyring::iter() {
			assert_eq!(Balances::total_balance(&k.to_account_id()), ENDOWMENT);
		}
		assert_eq!(Balances::total_balance(&TreasuryAccount::get()), EXISTENTIAL_DEPOSIT);
		assert_eq!(
			Balances::total_issuance(),
			dev_accounts * ENDOWMENT + EXISTENTIAL_DEPOSIT,
			"{preset}: total issuance"
		);
	});
}

/// Genesis storage of `preset` with `patch` merged into its JSON, as `--chain spec.json` would.
fn patched_preset_storage(
	name: &str,
	patch: serde_json::Value,
) -> Result<sp_runtime::Storage, String> {
	let patch_bytes = genesis_config_presets::get_preset(&PresetId::from(name)).expect("preset");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).expect("serializes");
	sc_merge(&mut config, serde_json::from_slice(&patch_bytes).expect("preset is JSON"));
	sc_merge(&mut config, patch);
	let config: RuntimeGenesisConfig = serde_json::from_value(config).map_err(|e| e.to_string())?;
	match std::panic::catch_unwind(|| config.build_storage()) {
		Ok(built) => built,
		Err(_) => Err("genesis panicked".to_string()),
	}
}

#[test]
fn every_preset_runs_three_second_slots() {
	for name in genesis_config_presets::preset_names() {
		sp_io::TestExternalities::new(preset_storage(&name)).execute_with(|| {
			assert_eq!(Babe::slot_duration(), 3_000, "{name}");
			assert_eq!(crate::block_time::SlotDuration::<Runtime>::get(), 3_000, "{name}");
		});
	}
}

/// A chain spec chooses its slot: BABE's slot duration (what every node reads at start) and the
/// timestamp pallet's minimum period follow it, and blocks are produced at that pace.
#[test]
fn a_chain_spec_sets_the_slot_duration() {
	use frame_support::traits::Get;
	let storage = patched_preset_storage(
		"development",
		serde_json::json!({ "blockTime": { "slotDuration": 1_000 } }),
	)
	.expect("a 1 s slot builds");
	sp_io::TestExternalities::new(storage).execute_with(|| {
		assert_eq!(Babe::slot_duration(), 1_000);
		assert_eq!(<Runtime as pallet_timestamp::Config>::MinimumPeriod::get(), 500);
		use sp_consensus_babe::runtime_decl_for_babe_api::BabeApiV2;
		assert_eq!(<Runtime as BabeApiV2<crate::Block>>::configuration().slot_duration, 1_000);
	});
	// A slot no node could keep, or one BABE cannot halve, gives no genesis at all.
	for bad in [400u64, 1_001] {
		let refused = patched_preset_storage(
			"development",
			serde_json::json!({ "blockTime": { "slotDuration": bad } }),
		);
		assert!(refused.is_err(), "{bad} ms was accepted");
	}
}

#[test]
fn development_preset_has_alice_as_only_validator() {
	assert_validators("development", &[(Sr25519Keyring::Alice, Ed25519Keyring::Alice)]);
}

#[test]
fn local_testnet_preset_has_three_validators() {
	assert_validators(
		"local_testnet",
		&[
			(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
	);
}

#[test]
fn testnet_template_preset_has_four_validators() {
	assert_validators(
		genesis_config_presets::TESTNET_TEMPLATE_RUNTIME_PRESET,
		&[
			(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
		],
	);
}

fn signed_extrinsic(signer: Sr25519Keyring, call: RuntimeCall, nonce: u32) -> UncheckedExtrinsic {
	let extension = signed_tx_extension(nonce, 0, Era::Immortal);
	// `new` reads the implicit data (spec version, genesis hash, ...) from the externalities.
	let payload = SignedPayload::new(call.clone(), extension.clone()).expect("valid payload");
	let signature = payload.using_encoded(|bytes| signer.sign(bytes));
	UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(signer.to_account_id()),
		MultiSignature::Sr25519(signature),
		extension,
	)
}

#[test]
fn signed_transfer_executes_and_pays_fees_to_treasury() {
	ext_for("development").execute_with(|| {
		let alice = account(Sr25519Keyring::Alice);
		let ferdie = account(Sr25519Keyring::Ferdie);
		let amount = 42 * UNITS;
		let issuance_before = Balances::total_issuance();
		let treasury_before = Balances::total_balance(&TreasuryAccount::get());

		let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
			dest: MultiAddress::Id(ferdie.clone()),
			value: amount,
		});
		let xt = signed_extrinsic(Sr25519Keyring::Alice, call, 0);
		assert_ok!(Executive::apply_extrinsic(xt.clone()).expect("valid transaction"));

		let fee = ENDOWMENT - amount - Balances::total_balance(&alice);
		assert!(fee > 0, "a fee was charged");
		assert_eq!(Balances::total_balance(&ferdie), ENDOWMENT + amount);
		assert_eq!(Balances::total_balance(&TreasuryAccount::get()), treasury_before + fee);
		// Fees move to the treasury; nothing is minted or burned.
		assert_eq!(Balances::total_issuance(), issuance_before);
		assert_eq!(System::account_nonce(&alice), 1);

		// Replaying the same signed transaction is rejected (stale nonce).
		assert!(Executive::apply_extrinsic(xt).is_err());
	});
}

#[test]
fn transfer_with_bad_signature_is_rejected_without_charge() {
	ext_for("development").execute_with(|| {
		let alice = account(Sr25519Keyring::Alice);
		let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
			dest: MultiAddress::Id(account(Sr25519Keyring::Bob)),
			value: UNITS,
		});
		let extension = signed_tx_extension(0, 0, Era::Immortal);
		let payload = SignedPayload::new(call.clone(), extension.clone()).expect("valid payload");
		// Bob signs, but the transaction claims to come from Alice.
		let signature = payload.using_encoded(|bytes| Sr25519Keyring::Bob.sign(bytes));
		let xt = UncheckedExtrinsic::new_signed(
			call,
			MultiAddress::Id(alice.clone()),
			MultiSignature::Sr25519(signature),
			extension,
		);
		assert!(Executive::apply_extrinsic(xt).is_err());
		assert_eq!(Balances::total_balance(&alice), ENDOWMENT);
	});
}

#[test]
fn runtime_version_names_the_chain() {
	assert_eq!(VERSION.spec_name, "atoma");
	assert!(VERSION.spec_version >= 100);
}

mod registries {
	//! The node and model registries as this runtime wires them: the dev preset's echelon, model
	//! and node, and the deregistration hook between the two pallets.

	use super::*;
	use crate::{
		currency::MICRO_UNITS,
		genesis_config_presets::{
			DEFAULT_MODEL_ID, DEFAULT_MODEL_TOKENIZER_HASH, DEFAULT_MODEL_WEIGHTS_ROOT,
			DEV_EPOCH_LENGTH, DEV_NODE_COLLATERAL, LOCAL_EPOCH_LENGTH, TESTNET_EPOCH_LENGTH,
		},
		ModelRegistry, NodeRegistry, RuntimeOrigin,
	};
	use atoma_support::{
		EchelonId, ModelId, ModelRegistry as _, ModelStatus, NodeId, NodeRegistry as _,
	};
	use frame_support::traits::Hooks;

	fn default_model() -> ModelId {
		ModelId::from_name(DEFAULT_MODEL_ID.as_bytes()).expect("valid id")
	}

	fn check_invariants() {
		NodeRegistry::do_try_state().expect("node registry invariants");
		ModelRegistry::do_try_state().expect("model registry invariants");
	}

	#[test]
	fn development_serves_the_default_model_from_genesis() {
		ext_for("development").execute_with(|| {
			let alice = Sr25519Keyring::Alice;
			let node = NodeRegistry::node(NodeId(0)).expect("Alice's node");
			assert_eq!(node.operator, alice.to_account_id());
			assert_eq!(node.worker_key, alice.public());
			assert_eq!(node.collateral, DEV_NODE_COLLATERAL);
			assert!(NodeRegistry::is_eligible(NodeId(0), 0), "serves from the first block");
			assert_eq!(NodeRegistry::price_per_token(EchelonId(0)), Some(MICRO_UNITS));

			let model = ModelRegistry::model(&default_model()).expect("default model");
			assert_eq!(model.status, ModelStatus::Approved);
			assert_eq!(model.weights_root, DEFAULT_MODEL_WEIGHTS_ROOT);
			assert_eq!(ModelRegistry::subscribers(&default_model(), EchelonId(0)), vec![NodeId(0)]);
			assert_eq!(pallet_node_registry::EpochLength::<Runtime>::get(), DEV_EPOCH_LENGTH);
			check_invariants();
		});
	}

	#[test]
	fn other_presets_leave_nodes_to_operators() {
		ext_for("local_testnet").execute_with(|| {
			assert!(NodeRegistry::echelon_exists(EchelonId(0)));
			assert!(ModelRegistry::model(&default_model()).is_some());
			assert!(NodeRegistry::node(NodeId(0)).is_none());
			assert_eq!(pallet_node_registry::EpochLength::<Runtime>::get(), LOCAL_EPOCH_LENGTH);
			check_invariants();
		});
		ext_for("testnet_template").execute_with(|| {
			assert!(!NodeRegistry::echelon_exists(EchelonId(0)));
			assert!(ModelRegistry::model(&default_model()).is_none());
			assert_eq!(pallet_node_registry::EpochLength::<Runtime>::get(), TESTNET_EPOCH_LENGTH);
		});
	}

	#[test]
	fn an_operator_joins_subscribes_and_leaves() {
		ext_for("development").execute_with(|| {
			let bob = Sr25519Keyring::Bob;
			let issuance = Balances::total_issuance();
			assert_ok!(NodeRegistry::register_node(
				RuntimeOrigin::signed(bob.to_account_id()),
				EchelonId(0),
				bob.public(),
				b"https://bob.example:8080".to_vec(),
				1_000 * UNITS,
				3 * MICRO_UNITS,
			));
			let node = NodeId(1);
			assert_ok!(ModelRegistry::subscribe(
				RuntimeOrigin::signed(bob.to_account_id()),
				node,
				default_model()
			));
			assert_eq!(
				ModelRegistry::subscribers(&default_model(), EchelonId(0)),
				vec![NodeId(0), node]
			);
			assert!(!NodeRegistry::is_eligible(node, 0), "from the next epoch");

			// Cross the epoch boundary: Bob's node is in, and the price is the median of 1 and 3.
			let boundary = pallet_node_registry::NextEpochStart::<Runtime>::get();
			System::set_block_number(boundary);
			NodeRegistry::on_initialize(boundary);
			assert!(NodeRegistry::is_eligible(node, 0));
			assert_eq!(NodeRegistry::price_per_token(EchelonId(0)), Some(2 * MICRO_UNITS));

			// Deregistering ends the subscription through the runtime's hook.
			assert_ok!(NodeRegistry::deregister_node(
				RuntimeOrigin::signed(bob.to_account_id()),
				node
			));
			assert_eq!(ModelRegistry::subscribers(&default_model(), EchelonId(0)), vec![NodeId(0)]);
			assert!(!ModelRegistry::is_subscribed(node, &default_model()));
			check_invariants();
			assert_eq!(Balances::total_issuance(), issuance, "holds move no issuance");
		});
	}

	/// The model file `scripts/fetch-model.sh` fetched, or `ATOMA_MODEL_GGUF`.
	fn model_file() -> std::path::PathBuf {
		let path = std::env::var_os("ATOMA_MODEL_GGUF")
			.map(std::path::PathBuf::from)
			.unwrap_or_else(|| {
				std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
					.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
			});
		assert!(
			path.exists(),
			"{} is missing: run scripts/fetch-model.sh (or set ATOMA_MODEL_GGUF)",
			path.display()
		);
		path
	}

	#[test]
	fn default_model_weights_root_matches_the_model_file() {
		use std::io::Read;
		let mut file = std::fs::File::open(model_file()).expect("model file opens");
		let mut hasher = atoma_primitives::WeightsHasher::new();
		let mut buf = vec![0u8; 1 << 20];
		loop {
			let n = file.read(&mut buf).expect("model file reads");
			if n == 0 {
				break;
			}
			hasher.update(&buf[..n]);
		}
		assert_eq!(hasher.finalize().root, DEFAULT_MODEL_WEIGHTS_ROOT);
	}

	/// The worker binary (built next to this test by `cargo build --workspace`) prints both
	/// hashes of the model file: they must equal the preset's constants.
	#[test]
	fn default_model_hashes_match_the_inference_worker() {
		let exe = std::env::current_exe().expect("test binary path");
		let worker = exe
			.parent()
			.and_then(|deps| deps.parent())
			.map(|dir| dir.join("atoma-worker"))
			.expect("target dir");
		assert!(
			worker.exists(),
			"{} is missing: build the workspace first (scripts/test.sh does)",
			worker.display()
		);
		let out = std::process::Command::new(&worker)
			.args(["weights-root", "--json"])
			.arg(model_file())
			.output()
			.expect("atoma-worker runs");
		assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
		let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
		let hex_of = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
		assert_eq!(json["root"].as_str(), Some(hex_of(DEFAULT_MODEL_WEIGHTS_ROOT).as_str()));
		assert_eq!(
			json["tokenizer_hash"].as_str(),
			Some(hex_of(DEFAULT_MODEL_TOKENIZER_HASH).as_str())
		);
	}
}

mod inference {
	//! The inference pallet as this runtime wires it: a request submitted by a signed extrinsic,
	//! selected with BABE's (here: parent-hash fallback) randomness, committed to by Alice's dev
	//! node through an authorized, fee-less transaction, settled; and the runtime API.

	use super::*;
	use crate::{genesis_config_presets::DEFAULT_MODEL_ID, Inference, NodeRegistry, RuntimeOrigin};
	use atoma_inference_runtime_api::runtime_decl_for_inference_api::InferenceApiV3;
	use atoma_primitives::{commitment::quorum_commitments, CanonicalOutput, FinishReason};
	use atoma_support::{
		inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
		EchelonId, ModelId, NodeId, RequestId,
	};
	use frame_support::traits::Hooks;
	use frame_system::offchain::CreateAuthorizedTransaction;
	use pallet_inference::{CommitmentKind, CommitmentPayload};
	use sp_runtime::{Perbill, Perquintill};

	pub(super) fn default_spec() -> RequestSpec {
		RequestSpec {
			model: ModelId::from_name(DEFAULT_MODEL_ID.as_bytes()).unwrap(),
			echelon: EchelonId(0),
			input: RequestInput::Inline(b"What is the capital of France?".to_vec()),
			input_tokens: 8,
			params: atoma_primitives::SamplingParams {
				temperature_milli: 0,
				top_k: 0,
				top_p_milli: 1_000,
				max_output_tokens: 16,
				seed: 0,
			},
			mode: VerificationMode::Single,
			timeout: 20,
			destination: OutputDestination::Worker,
		}
	}

	/// Bob submits `default_spec()` as request 0, and it is drawn two blocks after its inclusion
	/// (`SelectionDelay`), not in the next one.
	fn submit_and_draw() {
		submit_and_draw_through(RuntimeCall::Inference(pallet_inference::Call::submit_request {
			spec: default_spec(),
		}));
	}

	/// Bob sends `call`, which submits request 0, and it is drawn as in [`submit_and_draw`].
	fn submit_and_draw_through(call: RuntimeCall) {
		assert_ok!(Executive::apply_extrinsic(signed_extrinsic(Sr25519Keyring::Bob, call, 0))
			.expect("valid"));
		System::set_block_number(2);
		Inference::on_initialize(2);
		let request = pallet_inference::Requests::<Runtime>::get(RequestId(0)).expect("in flight");
		assert!(request.nodes.is_empty(), "not drawn in the block after its inclusion");
		System::set_block_number(3);
		Inference::on_initialize(3);
		let request = pallet_inference::Requests::<Runtime>::get(RequestId(0)).expect("in flight");
		assert_eq!(request.nodes.to_vec(), vec![NodeId(0)], "Alice's node is the only one");
	}

	/// Alice's node's commitment to the output `[1, 2, 3]` for request 0, as the authorized,
	/// fee-less transaction its off-chain worker sends.
	fn alices_commitment() -> UncheckedExtrinsic {
		let output = CanonicalOutput::new(&[1, 2, 3], FinishReason::Stop).encode_canonical();
		let q = quorum_commitments(&output, 1);
		let payload = CommitmentPayload {
			request: RequestId(0),
			node: NodeId(0),
			kind: CommitmentKind::Quorum {
				root: q.root,
				leaf: q.leaves[0],
				input_tokens: 8,
				output_tokens: 3,
				// The test's node records no logits; only agreement matters here.
				trace_root: [3; 32],
			},
		};
		let signature = Sr25519Keyring::Alice
			.sign(&payload.signing_bytes(&pallet_inference::Pallet::<Runtime>::chain_id()));
		let call = RuntimeCall::Inference(pallet_inference::Call::submit_commitment {
			payload,
			signature,
		});
		<Runtime as CreateAuthorizedTransaction<RuntimeCall>>::create_authorized_transaction(call)
	}

	#[test]
	fn a_request_settles_through_an_authorized_commitment() {
		ext_for("development").execute_with(|| {
			let alice = Sr25519Keyring::Alice;
			submit_and_draw();
			let xt = alices_commitment();
			let alice_before = Balances::total_balance(&alice.to_account_id());
			assert_ok!(Executive::apply_extrinsic(xt.clone()).expect("authorized"));
			assert!(pallet_inference::Results::<Runtime>::get(RequestId(0)).is_some());
			// Fee-less for the node; (8 + 3) tokens x 1 micro-TOMA, 95% to Alice's node as fees.
			let fees = pallet_node_registry::Fees::<Runtime>::get(NodeId(0)).accruing;
			assert_eq!(fees, 11 * crate::currency::MICRO_UNITS * 95 / 100);
			assert!(Balances::total_balance(&alice.to_account_id()) >= alice_before);
			// A replay is refused.
			assert!(Executive::apply_extrinsic(xt).is_err());
			NodeRegistry::do_try_state().expect("node registry invariants");
			Inference::do_try_state().expect("inference invariants");
		});
	}

	/// A pallet's request, as the runtime wires it: Bob asks through the oracle pallet, the
	/// request settles on Alice's commitment, the inference pallet reports the outcome to the
	/// oracle (`OnOutcome`), and Bob forgets the question to get its deposit back.
	#[test]
	fn the_oracle_pallet_asks_and_records_the_settled_answer() {
		use frame_support::traits::fungible::InspectHold;
		ext_for("development").execute_with(|| {
			let bob = account(Sr25519Keyring::Bob);
			let deposit_held = || {
				Balances::balance_on_hold(&pallet_oracle::HoldReason::QuestionDeposit.into(), &bob)
			};
			submit_and_draw_through(RuntimeCall::Oracle(pallet_oracle::Call::ask {
				spec: default_spec(),
			}));
			assert_eq!(deposit_held(), crate::configs::QuestionDeposit::get());
			let asked = pallet_oracle::Questions::<Runtime>::get(RequestId(0)).expect("kept");
			assert_eq!(asked.answer, pallet_oracle::Answer::Pending);

			assert_ok!(Executive::apply_extrinsic(alices_commitment()).expect("authorized"));
			let result = pallet_inference::Results::<Runtime>::get(RequestId(0)).expect("settled");
			let answered = pallet_oracle::Questions::<Runtime>::get(RequestId(0)).expect("kept");
			assert_eq!(
				answered.answer,
				pallet_oracle::Answer::Settled {
					output_commitment: result.output_commitment,
					output_tokens: 3,
					nodes: vec![NodeId(0)].try_into().unwrap(),
				}
			);
			crate::Oracle::do_try_state().expect("oracle invariants");

			let forget = RuntimeCall::Oracle(pallet_oracle::Call::forget { request: RequestId(0) });
			assert_ok!(Executive::apply_extrinsic(signed_extrinsic(
				Sr25519Keyring::Bob,
				forget,
				1
			))
			.expect("valid"));
			assert_eq!(deposit_held(), 0);
			assert!(pallet_oracle::Questions::<Runtime>::get(RequestId(0)).is_none());
			NodeRegistry::do_try_state().expect("node registry invariants");
			Inference::do_try_state().expect("inference invariants");
			crate::Oracle::do_try_state().expect("oracle invariants");
		});
	}

	#[test]
	fn the_view_api_follows_a_request_from_submission_to_settlement() {
		use crate::views::{runtime_decl_for_atoma_view_api::AtomaViewApiV1, RequestStatus};
		ext_for("development").execute_with(|| {
			let model = default_spec().model;
			assert_eq!(Runtime::request_status(RequestId(0)), RequestStatus::Unknown);
			assert_eq!(Runtime::eligible_nodes(model.clone(), EchelonId(0)), vec![NodeId(0)]);
			assert_eq!(Runtime::eligible_nodes(model.clone(), EchelonId(9)), vec![]);
			let unknown = ModelId::from_name(b"no-such-model").unwrap();
			assert_eq!(Runtime::eligible_nodes(unknown, EchelonId(0)), vec![]);

			let echelons = Runtime::echelons();
			assert_eq!(echelons.iter().map(|e| e.id).collect::<Vec<_>>(), vec![EchelonId(0)]);
			assert_eq!(
				echelons[0].price_per_token,
				pallet_node_registry::EchelonPrices::<Runtime>::get(EchelonId(0))
			);
			assert!(echelons[0].price_per_token.is_some(), "Alice's node bids at genesis");
			let models = Runtime::models();
			assert_eq!(models.len(), 1);
			assert_eq!(models[0].0, model);
			assert_eq!(
				Some(&models[0].1),
				pallet_model_registry::Models::<Runtime>::get(&model).as_ref()
			);

			submit_and_draw();
			match Runtime::request_status(RequestId(0)) {
				RequestStatus::InFlight { request, commitments } => {
					assert_eq!(request.nodes.to_vec(), vec![NodeId(0)]);
					assert_eq!(request.owner, account(Sr25519Keyring::Bob));
					assert!(commitments.is_empty(), "nobody committed yet");
				},
				other => panic!("in flight, not {other:?}"),
			}
			assert_eq!(Runtime::dispute(RequestId(0)), None);

			assert_ok!(Executive::apply_extrinsic(alices_commitment()).expect("authorized"));
			match Runtime::request_status(RequestId(0)) {
				RequestStatus::Settled { result } => {
					assert_eq!(result.nodes.to_vec(), vec![NodeId(0)]);
					assert_eq!(result.output_tokens, 3);
					assert_eq!(
						Some(result),
						pallet_inference::Results::<Runtime>::get(RequestId(0))
					);
				},
				other => panic!("settled, not {other:?}"),
			}
			assert_eq!(Runtime::request_status(RequestId(1)), RequestStatus::Unknown);
		});
	}

	#[test]
	fn the_runtime_api_quotes_and_gives_the_nash_bound() {
		ext_for("development").execute_with(|| {
			let quote = Runtime::quote(
				ModelId::from_name(DEFAULT_MODEL_ID.as_bytes()).unwrap(),
				EchelonId(0),
				8,
				16,
				VerificationMode::Sampling { n: 2 },
			);
			assert_eq!(quote, Some(2 * 24 * crate::currency::MICRO_UNITS));
			assert_eq!(
				Runtime::quote(
					ModelId::from_name(b"nope").unwrap(),
					EchelonId(0),
					8,
					16,
					VerificationMode::Single
				),
				None
			);
			// Whitepaper: R = 1.2C, r = 1/2, S = 250C gives p = 0.00796.
			let p = Runtime::min_replication_rate(1_000, 1_200, 250_000, Perbill::from_percent(50));
			assert_eq!(p.deconstruct() / 10_000_000_000_000, 796);
			assert_eq!(
				Runtime::tamper_probability(Perbill::from_percent(50), 3),
				Perquintill::from_rational(1u64, 8)
			);
			assert!(Runtime::sortition_tasks().is_empty());
		});
	}

	/// `authorize_input_read` as the node asks it: Alice's dev node, selected for a by-hash
	/// request, may read its input from another worker; a key no node holds may not.
	#[test]
	fn the_runtime_api_authorizes_input_reads_by_role() {
		use atoma_support::inference::{InputRead, InputReadRefusal};
		use sp_core::Pair;
		ext_for("development").execute_with(|| {
			let hash = sp_io::hashing::blake2_256(b"uploaded off chain");
			let mut spec = default_spec();
			spec.input = RequestInput::Hash(hash);
			let id = RequestId(pallet_inference::NextRequestId::<Runtime>::get());
			let bob = Sr25519Keyring::Bob.to_account_id();
			assert_ok!(Inference::submit_request(RuntimeOrigin::signed(bob), spec));
			let now = 1_700_000_000;
			let message = atoma_primitives::input_read::signing_bytes(
				&Inference::chain_id(),
				id.0,
				&hash,
				now,
			);
			let read = |pair: &sp_core::sr25519::Pair| {
				Runtime::authorize_input_read(InputRead {
					request: id,
					input_hash: hash,
					reader: pair.public(),
					timestamp: now,
					signature: pair.sign(&message),
					vrf: None,
				})
			};
			let alice_worker = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
			// Not drawn yet: no role.
			assert_eq!(read(&alice_worker), Err(InputReadRefusal::NoRole));
			for block in 2..=3 {
				System::set_block_number(block);
				Inference::on_initialize(block);
			}
			let request = pallet_inference::Requests::<Runtime>::get(id).expect("in flight");
			assert_eq!(request.nodes.to_vec(), vec![NodeId(0)], "Alice's node drawn");
			assert_eq!(read(&alice_worker), Ok(()));
			let stranger = sp_core::sr25519::Pair::from_string("//Stranger", None).unwrap();
			assert_eq!(read(&stranger), Err(InputReadRefusal::UnknownReader));
		});
	}

	#[test]
	fn bad_requests_are_refused_with_named_errors() {
		ext_for("development").execute_with(|| {
			let mut spec = default_spec();
			spec.model = ModelId::from_name(b"unknown-model").unwrap();
			assert_eq!(
				Inference::submit_request(
					RuntimeOrigin::signed(account(Sr25519Keyring::Bob)),
					spec
				),
				Err(pallet_inference::Error::<Runtime>::UnknownModel.into())
			);
		});
	}
}

mod disputes {
	//! The disputes pallet as this runtime wires it: a lazy commitment on the dev chain opens a
	//! dispute; with no other node to arbitrate, every round draws nobody and the dispute goes to
	//! governance, where sudo (root) decides through a signed extrinsic.

	use super::*;
	use crate::{Disputes, Inference, NodeRegistry};
	use atoma_primitives::{
		commitment::{output_digest, output_leaf, quorum_commitments},
		CanonicalOutput, FinishReason,
	};
	use atoma_support::{NodeId, RequestId};
	use frame_support::traits::{Hooks, IntegrityTest};
	use frame_system::offchain::CreateAuthorizedTransaction;
	use pallet_inference::{CommitmentKind, CommitmentPayload};

	#[test]
	fn the_configuration_passes_the_integrity_test() {
		sp_io::TestExternalities::default()
			.execute_with(<Disputes as IntegrityTest>::integrity_test);
	}

	#[test]
	fn a_lazy_commitment_is_disputed_and_governance_decides() {
		ext_for("development").execute_with(|| {
			let alice = Sr25519Keyring::Alice;
			let spec = super::inference::default_spec();
			let bob = account(Sr25519Keyring::Bob);
			let bob_before = Balances::total_balance(&bob);
			let call = RuntimeCall::Inference(pallet_inference::Call::submit_request { spec });
			assert_ok!(Executive::apply_extrinsic(signed_extrinsic(Sr25519Keyring::Bob, call, 0))
				.expect("valid"));
			System::set_block_number(3);
			Inference::on_initialize(3);

			// A root of one output with a leaf of another: a node that did not run the model.
			let real = CanonicalOutput::new(&[1, 2, 3], FinishReason::Stop).encode_canonical();
			let other = CanonicalOutput::new(&[4, 5, 6], FinishReason::Stop).encode_canonical();
			let payload = CommitmentPayload {
				request: RequestId(0),
				node: NodeId(0),
				kind: CommitmentKind::Quorum {
					root: quorum_commitments(&real, 1).root,
					leaf: output_leaf(&other, 0),
					input_tokens: 8,
					output_tokens: 3,
					trace_root: [3; 32],
				},
			};
			let signature = alice.sign(&payload.signing_bytes(&pallet_inference::Pallet::<Runtime>::chain_id()));
			let call = RuntimeCall::Inference(pallet_inference::Call::submit_commitment {
				payload,
				signature,
			});
			let xt = <Runtime as CreateAuthorizedTransaction<RuntimeCall>>::create_authorized_transaction(call);
			assert_ok!(Executive::apply_extrinsic(xt).expect("authorized"));
			let dispute = pallet_disputes::Disputes::<Runtime>::get(RequestId(0)).expect("open");
			{
				// What an app developer sees of it.
				use crate::views::{runtime_decl_for_atoma_view_api::AtomaViewApiV1, RequestStatus};
				assert_eq!(Runtime::dispute(RequestId(0)), Some(dispute.clone()));
				assert!(matches!(
					Runtime::request_status(RequestId(0)),
					RequestStatus::InFlight { commitments, .. } if commitments.len() == 1
				));
			}

			// Alice's node is the only one: each of the three rounds draws nobody.
			let mut now = 2u32;
			while let Some(d) = pallet_disputes::Disputes::<Runtime>::get(RequestId(0)) {
				if matches!(d.phase, pallet_disputes::DisputePhase::AwaitingGovernance { .. }) {
					break;
				}
				now += 1;
				System::set_block_number(now);
				Disputes::on_initialize(now);
			}
			assert!(now <= dispute.final_deadline);

			let verdict = pallet_disputes::Verdict {
				output_digest: output_digest(&real),
				output_tokens: 3,
				leaves: frame_support::BoundedVec::truncate_from(vec![output_leaf(&real, 0)]),
			};
			let decide = RuntimeCall::Disputes(pallet_disputes::Call::resolve_dispute {
				request: RequestId(0),
				verdict: Some(verdict),
			});
			let sudo = RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(decide) });
			assert_ok!(Executive::apply_extrinsic(signed_extrinsic(alice, sudo, 0))
				.expect("valid"));
			assert!(pallet_disputes::Disputes::<Runtime>::get(RequestId(0)).is_none());
			let node = pallet_node_registry::Nodes::<Runtime>::get(NodeId(0)).expect("node");
			assert_eq!(node.collateral, 0, "the lazy node lost its whole collateral");
			assert_eq!(node.reserved, 0);
			// Bob paid only the transaction fee: the escrow came back, with the user's share.
			assert!(Balances::total_balance(&bob) > bob_before);
			NodeRegistry::do_try_state().expect("node registry invariants");
			Inference::do_try_state().expect("inference invariants");
			Disputes::do_try_state().expect("dispute invariants");
		});
	}
}

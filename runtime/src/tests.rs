//! Runtime tests under test externalities: every genesis preset builds a consistent genesis, and
//! a signed transfer goes through the full extrinsic pipeline (signature, extensions, fees).

use crate::{
	configs::TreasuryAccount,
	currency::{EXISTENTIAL_DEPOSIT, UNITS},
	genesis_config_presets::{self, ENDOWMENT},
	signed_tx_extension, AccountId, Babe, Balance, Balances, BalancesCall, Executive, Grandpa,
	Runtime, RuntimeCall, RuntimeGenesisConfig, Session, SignedPayload, System, UncheckedExtrinsic,
	VERSION,
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

		// Sudo is the development preset's alone; the councils govern the others.
		let sudo = (preset == "development").then(|| account(Sr25519Keyring::Alice));
		assert_eq!(pallet_sudo::Key::<Runtime>::get(), sudo, "{preset}: sudo");
		let council =
			pallet_collective::Members::<Runtime, crate::configs::CouncilCollective>::get();
		assert!(council.len() >= 3, "{preset}: a council of {}", council.len());
		let committee =
			pallet_collective::Members::<Runtime, crate::configs::TechnicalCollective>::get();
		assert!(committee.len() >= 3, "{preset}: a committee of {}", committee.len());
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
	signed_extrinsic_with_tip(signer, call, nonce, 0)
}

fn signed_extrinsic_with_tip(
	signer: Sr25519Keyring,
	call: RuntimeCall,
	nonce: u32,
	tip: Balance,
) -> UncheckedExtrinsic {
	let extension = signed_tx_extension(nonce, tip, Era::Immortal);
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
fn fees_pay_the_block_author_and_the_treasury() {
	ext_for("development").execute_with(|| {
		// A block of Alice's (authority 0): its BABE pre-digest names her.
		use sp_consensus_babe::digests::{PreDigest, SecondaryPlainPreDigest};
		let pre_digest = PreDigest::SecondaryPlain(SecondaryPlainPreDigest {
			authority_index: 0,
			slot: 7.into(),
		});
		let digest = sp_runtime::Digest {
			logs: vec![sp_runtime::DigestItem::PreRuntime(
				sp_consensus_babe::BABE_ENGINE_ID,
				pre_digest.encode(),
			)],
		};
		System::initialize(&2, &System::parent_hash(), &digest);
		let alice = account(Sr25519Keyring::Alice);
		assert_eq!(crate::Authorship::author(), Some(alice.clone()));

		let bob = account(Sr25519Keyring::Bob);
		let treasury_before = Balances::total_balance(&TreasuryAccount::get());
		let issuance_before = Balances::total_issuance();
		let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
			dest: MultiAddress::Id(account(Sr25519Keyring::Ferdie)),
			value: UNITS,
		});
		let tip = 3 * crate::currency::MILLI_UNITS;
		let xt = signed_extrinsic_with_tip(Sr25519Keyring::Bob, call, 0, tip);
		assert_ok!(Executive::apply_extrinsic(xt).expect("valid transaction"));

		let fee = ENDOWMENT - UNITS - tip - Balances::total_balance(&bob);
		assert!(fee > 0, "a fee was charged");
		let to_author = fee * crate::configs::AUTHOR_FEE_PERCENT as u128 / 100;
		assert_eq!(Balances::total_balance(&alice), ENDOWMENT + to_author + tip, "author");
		assert_eq!(
			Balances::total_balance(&TreasuryAccount::get()),
			treasury_before + fee - to_author,
			"treasury"
		);
		assert_eq!(Balances::total_issuance(), issuance_before, "nothing minted or burned");
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

	pub(super) fn default_model() -> ModelId {
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
			assert_eq!(
				ModelRegistry::indexed_nodes(&default_model(), EchelonId(0)),
				vec![NodeId(0)]
			);
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
			System::set_block_number(1);
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
			// Drawable two blocks later (`IndexDelay`): a block author cannot steer a draw with it.
			assert_eq!(
				ModelRegistry::indexed_nodes(&default_model(), EchelonId(0)),
				vec![NodeId(0)]
			);
			System::set_block_number(3);
			ModelRegistry::on_initialize(3);
			assert_eq!(
				ModelRegistry::indexed_nodes(&default_model(), EchelonId(0)),
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
			assert!(!ModelRegistry::is_subscribed(node, &default_model()));
			System::set_block_number(boundary + 2);
			ModelRegistry::on_initialize(boundary + 2);
			assert_eq!(
				ModelRegistry::indexed_nodes(&default_model(), EchelonId(0)),
				vec![NodeId(0)]
			);
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

	/// Settled work earns the epoch's emission: the inference pallet records Alice's node's
	/// tokens and fee (`WorkLedger`), the runtime API shows the expected reward (the whole nodes'
	/// part, capped at the fee the node earned), and the node registry's epoch boundary closes the
	/// emission epoch, which pays the node, the session's validator and the model owner, and
	/// mints exactly the preset's emission (the capped rest to the treasury).
	#[test]
	fn settled_work_earns_the_epochs_emission() {
		use crate::views::runtime_decl_for_atoma_view_api::AtomaViewApiV2;
		ext_for("development").execute_with(|| {
			submit_and_draw();
			assert_ok!(Executive::apply_extrinsic(alices_commitment()).expect("authorized"));
			let per_epoch = crate::genesis_config_presets::genesis_emission_per_epoch(
				crate::genesis_config_presets::DEV_EPOCH_LENGTH,
			);
			let view = Runtime::emission();
			assert_eq!(view.per_epoch, per_epoch);
			// The only work of the epoch: the whole nodes' part (80%), but never more than the
			// fee the node earned (11 tokens at 1 micro-TOMA, 95% to the node); the model's 11
			// tokens its owner the owners' whole part, but never more than they paid the node.
			let nodes_part = per_epoch - per_epoch / 10 - per_epoch / 10;
			let fee = pallet_node_registry::Fees::<Runtime>::get(NodeId(0)).accruing;
			assert!(fee < nodes_part);
			assert_eq!(Runtime::expected_node_reward(NodeId(0)), fee);
			assert_eq!(Runtime::model_usage(default_spec().model), (11, fee, 0));

			let issuance = Balances::total_issuance();
			let boundary = pallet_node_registry::NextEpochStart::<Runtime>::get();
			System::set_block_number(boundary);
			NodeRegistry::on_initialize(boundary);
			crate::Emission::on_initialize(boundary);
			let rewarded: Vec<_> = System::events()
				.into_iter()
				.filter_map(|r| match r.event {
					crate::RuntimeEvent::Emission(pallet_emission::Event::NodeRewarded {
						node,
						amount,
						..
					}) => Some((node, amount)),
					_ => None,
				})
				.collect();
			assert_eq!(rewarded, vec![(NodeId(0), fee)]);
			assert_eq!(Balances::total_issuance(), issuance + per_epoch);
			assert_eq!(Runtime::emission().total_emitted, per_epoch);
			assert_eq!(Runtime::model_usage(default_spec().model), (0, 0, fee));
			crate::Emission::do_try_state().expect("emission invariants");
		});
	}

	/// A node is its own quorum in Single mode: claiming more tokens than the request allows
	/// earns it no more fee and no more work toward the emission than the allowed count.
	#[test]
	fn a_node_claiming_more_tokens_than_allowed_is_credited_the_allowed_count() {
		ext_for("development").execute_with(|| {
			submit_and_draw();
			let output = CanonicalOutput::new(&[1, 2, 3], FinishReason::Stop).encode_canonical();
			let q = quorum_commitments(&output, 1);
			let payload = CommitmentPayload {
				request: RequestId(0),
				node: NodeId(0),
				kind: CommitmentKind::Quorum {
					root: q.root,
					leaf: q.leaves[0],
					input_tokens: 8,
					output_tokens: u32::MAX,
					trace_root: [3; 32],
				},
			};
			let signature = Sr25519Keyring::Alice
				.sign(&payload.signing_bytes(&pallet_inference::Pallet::<Runtime>::chain_id()));
			let call = RuntimeCall::Inference(pallet_inference::Call::submit_commitment {
				payload,
				signature,
			});
			let xt = <Runtime as CreateAuthorizedTransaction<RuntimeCall>>::create_authorized_transaction(call);
			assert_ok!(Executive::apply_extrinsic(xt).expect("authorized"));
			assert!(pallet_inference::Results::<Runtime>::get(RequestId(0)).is_some());
			// 8 prompt tokens and at most `max_output_tokens` (16): 24, not 2^32.
			let epoch = pallet_emission::OpenEpoch::<Runtime>::get();
			let work = pallet_emission::WorkOf::<Runtime>::get(epoch, NodeId(0)).expect("work");
			assert_eq!(work.tokens, 24);
			assert_eq!(pallet_emission::ModelUse::<Runtime>::get(epoch, default_spec().model).tokens, 24);
			let fee = pallet_node_registry::Fees::<Runtime>::get(NodeId(0)).accruing;
			assert_eq!(fee, 24 * crate::currency::MICRO_UNITS * 95 / 100);
			assert_eq!(work.fees, fee);
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
		use crate::views::{runtime_decl_for_atoma_view_api::AtomaViewApiV2, RequestStatus};
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
	//! governance, where a technical committee motion decides through signed extrinsics.

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
				use crate::views::{runtime_decl_for_atoma_view_api::AtomaViewApiV2, RequestStatus};
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
			// The technical committee decides, by a majority of its members.
			assert_ok!(super::governance::pass(
				super::governance::House::Technical,
				decide,
				&[alice, Sr25519Keyring::Bob],
			));
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

pub(crate) mod governance {
	//! Governance as this runtime wires it (`configs::governance`, docs/governance.md): outside
	//! the development preset no sudo key exists, the council holds the protocol's parameters, the
	//! technical committee the technical calls, and root (a runtime upgrade) needs both houses.
	//! Every step is a signed extrinsic through the executive, as a member's wallet would send it.

	use super::*;
	use crate::{configs::governance::MotionDuration, RuntimeOrigin};
	use frame_support::{assert_noop, dispatch::GetDispatchInfo, traits::UnfilteredDispatchable};
	use sp_runtime::{
		traits::{BlakeTwo256, Dispatchable, Hash},
		DispatchError, DispatchResult,
	};

	/// One of the two collectives.
	#[derive(Clone, Copy)]
	pub(crate) enum House {
		Council,
		Technical,
	}

	/// `call` of the collective pallet, sent to `house`'s instance.
	macro_rules! to_house {
		($house:expr, $call:expr) => {
			match $house {
				House::Council => RuntimeCall::Council($call),
				House::Technical => RuntimeCall::TechnicalCommittee($call),
			}
		};
	}

	impl House {
		fn next_index(self) -> u32 {
			match self {
				House::Council => pallet_collective::ProposalCount::<
					Runtime,
					crate::configs::CouncilCollective,
				>::get(),
				House::Technical => pallet_collective::ProposalCount::<
					Runtime,
					crate::configs::TechnicalCollective,
				>::get(),
			}
		}
	}

	/// Sends `call` signed by `signer` with its next nonce; the transaction must be valid and its
	/// dispatch succeed.
	pub(crate) fn apply(signer: Sr25519Keyring, call: RuntimeCall) {
		let nonce = System::account_nonce(signer.to_account_id());
		assert_ok!(
			Executive::apply_extrinsic(signed_extrinsic(signer, call, nonce)).expect("valid")
		);
	}

	/// Carries `call` through `house` with `ayes`: the first proposes it with a threshold of as
	/// many members, all of them vote aye and the proposer closes it (a threshold of one executes
	/// at once). Returns the result of the call's dispatch as the motion's origin.
	pub(crate) fn pass(house: House, call: RuntimeCall, ayes: &[Sr25519Keyring]) -> DispatchResult {
		System::reset_events();
		let index = house.next_index();
		let proposal_hash = BlakeTwo256::hash_of(&call);
		let proposal_weight_bound = call.get_dispatch_info().call_weight;
		let length_bound = call.encoded_size() as u32;
		let threshold = ayes.len() as u32;
		let proposal = Box::new(call);
		apply(
			ayes[0],
			to_house!(
				house,
				pallet_collective::Call::propose { threshold, proposal, length_bound }
			),
		);
		if threshold >= 2 {
			// The proposer votes too: proposing is not voting.
			for voter in ayes {
				let proposal = proposal_hash;
				let vote = to_house!(
					house,
					pallet_collective::Call::vote { proposal, index, approve: true }
				);
				apply(*voter, vote);
			}
			let close = to_house!(
				house,
				pallet_collective::Call::close {
					proposal_hash,
					index,
					proposal_weight_bound,
					length_bound
				}
			);
			apply(ayes[0], close);
		}
		System::events()
			.into_iter()
			.rev()
			.find_map(|record| match record.event {
				crate::RuntimeEvent::Council(pallet_collective::Event::Executed {
					result, ..
				})
				| crate::RuntimeEvent::TechnicalCommittee(pallet_collective::Event::Executed {
					result,
					..
				}) => Some(result),
				_ => None,
			})
			.expect("the motion was executed")
	}

	use Sr25519Keyring::{Alice, Bob, Charlie, Eve};

	fn set_epoch_length(blocks: u32) -> RuntimeCall {
		RuntimeCall::NodeRegistry(pallet_node_registry::Call::set_epoch_length { blocks })
	}

	#[test]
	fn sudo_is_gone_and_a_council_majority_changes_a_protocol_parameter() {
		ext_for("local_testnet").execute_with(|| {
			let before = pallet_node_registry::EpochLength::<Runtime>::get();
			assert_eq!(before, genesis_config_presets::LOCAL_EPOCH_LENGTH);

			// No sudo key: the sudo pallet refuses everyone, Alice included.
			let sudo = pallet_sudo::Call::<Runtime>::sudo { call: Box::new(set_epoch_length(200)) };
			assert_noop!(
				sudo.dispatch_bypass_filter(RuntimeOrigin::signed(account(Alice))),
				pallet_sudo::Error::<Runtime>::RequireSudo
			);
			// A member alone is not the council, whether directly or as a motion of one.
			assert_noop!(
				crate::NodeRegistry::set_epoch_length(RuntimeOrigin::signed(account(Alice)), 200),
				DispatchError::BadOrigin
			);
			assert_eq!(
				pass(House::Council, set_epoch_length(200), &[Alice]),
				Err(DispatchError::BadOrigin)
			);
			// The technical committee does not hold the council's parameters.
			assert_eq!(
				pass(House::Technical, set_epoch_length(200), &[Alice, Bob]),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(pallet_node_registry::EpochLength::<Runtime>::get(), before);

			// Two of three council members carry it.
			assert_ok!(pass(House::Council, set_epoch_length(200), &[Alice, Bob]));
			assert_eq!(pallet_node_registry::EpochLength::<Runtime>::get(), 200);
			System::assert_has_event(
				pallet_node_registry::Event::<Runtime>::EpochLengthSet { blocks: 200 }.into(),
			);
		});
	}

	#[test]
	fn a_motion_short_of_its_threshold_cannot_be_closed_early() {
		ext_for("local_testnet").execute_with(|| {
			let call = set_epoch_length(300);
			let proposal_hash = BlakeTwo256::hash_of(&call);
			let (weight, length_bound) =
				(call.get_dispatch_info().call_weight, call.encoded_size() as u32);
			apply(
				Alice,
				RuntimeCall::Council(pallet_collective::Call::propose {
					threshold: 2,
					proposal: Box::new(call),
					length_bound,
				}),
			);
			let close =
				pallet_collective::Call::<Runtime, crate::configs::CouncilCollective>::close {
					proposal_hash,
					index: 0,
					proposal_weight_bound: weight,
					length_bound,
				};
			assert_noop!(
				close.clone().dispatch_bypass_filter(RuntimeOrigin::signed(account(Alice))),
				pallet_collective::Error::<Runtime, crate::configs::CouncilCollective>::TooEarly
			);
			// After the motion's time, the absent members count as nays (no prime member):
			// closed, disapproved, nothing changed.
			let end: u32 = System::block_number() + MotionDuration::get();
			System::set_block_number(end + 1);
			assert_ok!(close.dispatch_bypass_filter(RuntimeOrigin::signed(account(Eve))));
			System::assert_has_event(
				pallet_collective::Event::<Runtime, crate::configs::CouncilCollective>::Disapproved {
					proposal_hash,
				}
				.into(),
			);
			assert_eq!(
				pallet_node_registry::EpochLength::<Runtime>::get(),
				genesis_config_presets::LOCAL_EPOCH_LENGTH
			);
		});
	}

	#[test]
	fn the_technical_committee_takes_a_model_down() {
		ext_for("local_testnet").execute_with(|| {
			let model = super::registries::default_model();
			let remove = RuntimeCall::ModelRegistry(pallet_model_registry::Call::remove_model {
				model: model.clone(),
			});
			assert_eq!(
				pass(House::Technical, remove.clone(), &[Charlie]),
				Err(DispatchError::BadOrigin)
			);
			assert_ok!(pass(House::Technical, remove, &[Alice, Charlie]));
			assert!(pallet_model_registry::Models::<Runtime>::get(&model)
				.is_none_or(|m| { m.status != atoma_support::ModelStatus::Approved }));
		});
	}

	/// Reads a runtime's version from its `runtime_version` custom section, as the node's
	/// executor does before it runs the code (the test externalities have no executor).
	struct EmbeddedVersion;

	impl sp_core::traits::ReadRuntimeVersion for EmbeddedVersion {
		fn read_runtime_version(
			&self,
			code: &[u8],
			_: &mut dyn sp_core::traits::Externalities,
		) -> Result<Vec<u8>, String> {
			crate::next_release::embedded_version(code)
		}
	}

	#[test]
	fn a_runtime_upgrade_needs_both_houses() {
		let mut ext = ext_for("local_testnet");
		ext.register_extension(sp_core::traits::ReadRuntimeVersionExt::new(EmbeddedVersion));
		ext.execute_with(|| {
			let code = crate::next_release::code().expect("the next release's code");
			let code_hash = BlakeTwo256::hash(&code);
			let authorize =
				RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash });
			let dispatch = |call: &RuntimeCall| {
				RuntimeCall::Whitelist(
					pallet_whitelist::Call::dispatch_whitelisted_call_with_preimage {
						call: Box::new(call.clone()),
					},
				)
			};
			let whitelist = RuntimeCall::Whitelist(pallet_whitelist::Call::whitelist_call {
				call_hash: BlakeTwo256::hash_of(&authorize),
			});

			// Neither house is root on its own.
			assert_eq!(
				pass(House::Council, authorize.clone(), &[Alice, Bob, Charlie]),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(
				pass(House::Technical, authorize.clone(), &[Alice, Bob, Charlie]),
				Err(DispatchError::BadOrigin)
			);
			// One committee member cannot whitelist ...
			assert_eq!(
				pass(House::Technical, whitelist.clone(), &[Alice]),
				Err(DispatchError::BadOrigin)
			);
			// ... the council's two thirds without the committee's whitelist only defer the call,
			// and nobody can relay it yet ...
			assert_ok!(pass(House::Council, dispatch(&authorize), &[Alice, Bob]));
			assert!(System::authorized_upgrade().is_none());
			assert_noop!(
				dispatch(&authorize).dispatch(RuntimeOrigin::signed(account(Eve))),
				pallet_whitelist::Error::<Runtime>::CallIsNotWhitelisted
			);
			// ... and once the committee whitelists it, anyone relays the deferred dispatch.
			assert_ok!(pass(House::Technical, whitelist, &[Bob, Charlie]));
			apply(Eve, dispatch(&authorize));
			assert!(System::authorized_upgrade().is_some());

			// The authorized code and no other: anyone submits it.
			let mut tampered = code.clone();
			*tampered.last_mut().expect("code") ^= 1;
			assert_noop!(
				frame_system::Pallet::<Runtime>::apply_authorized_upgrade(
					RuntimeOrigin::signed(account(Eve)),
					tampered
				),
				frame_system::Error::<Runtime>::Unauthorized
			);
			apply(
				Eve,
				RuntimeCall::System(frame_system::Call::apply_authorized_upgrade {
					code: code.clone(),
				}),
			);
			assert_eq!(
				sp_io::storage::get(sp_core::storage::well_known_keys::CODE).as_deref(),
				Some(&code[..])
			);
			System::assert_has_event(
				frame_system::Event::<Runtime>::CodeUpdated { hash: code_hash }.into(),
			);
			assert!(System::authorized_upgrade().is_none());
		});
	}

	/// A council motion changes a slash share without a runtime upgrade (`pallet-parameters`);
	/// the pallets read the new share at their next slash. A split whose shares would exceed the
	/// whole is ignored in favour of its defaults, so no motion can make a slash fail.
	#[test]
	fn the_council_changes_a_slash_share_and_an_impossible_split_is_ignored() {
		use crate::configs::parameters::{
			defaults,
			dynamic_params::slashing::{self, Parameters},
			RuntimeParameters,
		};
		use frame_support::traits::Get;
		use sp_runtime::Perbill;

		type InferenceUser = <Runtime as pallet_inference::Config>::TimeoutUserShare;
		type InferenceTreasury = <Runtime as pallet_inference::Config>::TimeoutTreasuryShare;
		type DisputesUser = <Runtime as pallet_disputes::Config>::CheaterUserShare;
		type AttesterSlash = <Runtime as pallet_model_validators::Config>::AttesterSlash;

		fn set(parameter: Parameters) -> RuntimeCall {
			RuntimeCall::Parameters(pallet_parameters::Call::set_parameter {
				key_value: RuntimeParameters::Slashing(parameter),
			})
		}
		let user_share = |p| set(Parameters::TimeoutUserShare(slashing::TimeoutUserShare, Some(p)));

		ext_for("local_testnet").execute_with(|| {
			System::set_block_number(1);
			assert_eq!(InferenceUser::get(), defaults::TIMEOUT_USER_SHARE);
			assert_eq!(DisputesUser::get(), defaults::CHEATER_USER_SHARE);
			assert_eq!(AttesterSlash::get(), defaults::MODEL_ATTESTER_SLASH);

			// Neither a member alone nor the technical committee holds them.
			let sixty = Perbill::from_percent(60);
			assert_eq!(
				pass(House::Council, user_share(sixty), &[Alice]),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(
				pass(House::Technical, user_share(sixty), &[Alice, Bob]),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(InferenceUser::get(), defaults::TIMEOUT_USER_SHARE);

			assert_ok!(pass(House::Council, user_share(sixty), &[Alice, Bob]));
			assert_eq!(InferenceUser::get(), sixty);
			assert_eq!(InferenceTreasury::get(), defaults::TIMEOUT_TREASURY_SHARE);
			let attester = set(Parameters::ModelAttesterSlash(
				slashing::ModelAttesterSlash,
				Some(Perbill::one()),
			));
			assert_ok!(pass(House::Council, attester, &[Alice, Bob]));
			assert_eq!(AttesterSlash::get(), Perbill::one());

			// 60% to the user and 50% to the treasury cannot both be paid: the timeout split
			// keeps its defaults until a motion makes it whole again.
			let treasury = set(Parameters::TimeoutTreasuryShare(
				slashing::TimeoutTreasuryShare,
				Some(Perbill::from_percent(50)),
			));
			assert_ok!(pass(House::Council, treasury, &[Alice, Bob]));
			assert_eq!(InferenceUser::get(), defaults::TIMEOUT_USER_SHARE);
			assert_eq!(InferenceTreasury::get(), defaults::TIMEOUT_TREASURY_SHARE);
			assert_ok!(pass(House::Council, user_share(Perbill::from_percent(40)), &[Alice, Bob]));
			assert_eq!(InferenceUser::get(), Perbill::from_percent(40));
			assert_eq!(InferenceTreasury::get(), Perbill::from_percent(50));
			// The cheater split was never touched.
			assert_eq!(DisputesUser::get(), defaults::CHEATER_USER_SHARE);
		});
	}

	/// A model registered after genesis waits for its review: the council cannot approve it,
	/// two of the preset's three model validators (Dave, Eve, Ferdie) approve it and share the
	/// fee, and the technical committee condemns it: its attesters lose half their bonds and
	/// its owner the deposit, all to the treasury.
	#[test]
	fn model_validators_approve_a_model_and_the_technical_committee_condemns_it() {
		use crate::{
			configs::{ModelDeposit, ModelReviewFee, ModelValidatorBond, TreasuryAccount},
			ModelRegistry, ModelValidators,
		};
		use atoma_support::{ModelId, ModelStatus};
		use Sr25519Keyring::{Dave, Ferdie};

		ext_for("local_testnet").execute_with(|| {
			System::set_block_number(1);
			let issuance = Balances::total_issuance();
			for v in [Dave, Eve, Ferdie] {
				assert_eq!(
					pallet_model_validators::Validators::<Runtime>::get(account(v)).map(|r| r.bond),
					Some(ModelValidatorBond::get())
				);
			}
			assert_eq!(pallet_model_validators::Quorum::<Runtime>::get(), 2);

			let name = b"bob-model".to_vec();
			let model = ModelId::from_name(&name).expect("valid id");
			let (root, tokenizer) = ([7; 32], [8; 32]);
			apply(
				Bob,
				RuntimeCall::ModelRegistry(pallet_model_registry::Call::register_model {
					model: name,
					weights_root: root,
					tokenizer_hash: tokenizer,
					source: b"https://example.com/bob.gguf".to_vec(),
					owner_share: sp_runtime::Perbill::from_percent(5),
				}),
			);
			let status = || pallet_model_registry::Models::<Runtime>::get(&model).map(|m| m.status);
			assert_eq!(status(), Some(ModelStatus::Pending));
			// The council's approval is refused while the review is open.
			let approve = RuntimeCall::ModelRegistry(pallet_model_registry::Call::approve_model {
				model: model.clone(),
			});
			assert_eq!(
				pass(House::Council, approve, &[Alice, Bob]),
				Err(pallet_model_registry::Error::<Runtime>::UnderReview.into())
			);

			let attest = |v| {
				apply(
					v,
					RuntimeCall::ModelValidators(pallet_model_validators::Call::attest {
						model: model.clone(),
						weights_root: root,
						tokenizer_hash: tokenizer,
					}),
				)
			};
			let dave_before = Balances::free_balance(account(Dave));
			attest(Dave);
			assert_eq!(status(), Some(ModelStatus::Pending));
			attest(Eve);
			assert_eq!(status(), Some(ModelStatus::Approved));
			// Half the fee each, less the transaction fee Dave paid for his attestation.
			let dave_after = Balances::free_balance(account(Dave));
			assert!(
				dave_after > dave_before && dave_after <= dave_before + ModelReviewFee::get() / 2
			);

			// Condemned by the technical committee (two of three).
			let treasury = Balances::free_balance(TreasuryAccount::get());
			let condemn =
				RuntimeCall::ModelValidators(pallet_model_validators::Call::slash_attesters {
					model: model.clone(),
				});
			assert_ok!(pass(House::Technical, condemn, &[Alice, Charlie]));
			assert_eq!(status(), None);
			let half = ModelValidatorBond::get() / 2;
			for v in [Dave, Eve] {
				let record = pallet_model_validators::Validators::<Runtime>::get(account(v))
					.expect("on record while unbonding");
				assert_eq!(record.bond, half);
				assert!(record.unbonded_at.is_some());
			}
			// The treasury got both slashes and the deposit, and some of the motions' fees.
			assert!(
				Balances::free_balance(TreasuryAccount::get())
					>= treasury + 2 * half + ModelDeposit::get()
			);
			assert_eq!(pallet_model_validators::ReviewingCount::<Runtime>::get(), 1);
			ModelValidators::do_try_state().expect("model validators invariants");
			ModelRegistry::do_try_state().expect("model registry invariants");
			// Bonds, fees, slashes and deposits only moved: nothing was minted or burnt.
			assert_eq!(Balances::total_issuance(), issuance);
		});
	}
}

mod validators {
	//! Validators' lifecycle as this runtime wires it (`pallet_validator_set`, docs/validators.md):
	//! the council adds and removes validators at session boundaries, and an equivocation, BABE's
	//! or GRANDPA's, reported as the node reports it (a key-ownership proof from the runtime API,
	//! a bare transaction through the pool), removes the offender.

	use super::{governance::*, *};
	use crate::Historical;
	use codec::Decode;
	use frame_support::{pallet_prelude::TransactionSource, traits::KeyOwnerProofSystem};
	use pallet_session::SessionInterface;
	use sp_consensus_babe::{
		digests::{CompatibleDigestItem, PreDigest, SecondaryPlainPreDigest},
		runtime_decl_for_babe_api::BabeApiV2,
		Slot,
	};
	use sp_consensus_grandpa::runtime_decl_for_grandpa_api::GrandpaApiV3;
	use sp_core::offchain::{testing::TestTransactionPoolExt, TransactionPoolExt};
	use sp_runtime::{traits::Header as _, DigestItem};
	use Sr25519Keyring::{Alice, Bob, Charlie};

	type Header = <crate::Block as sp_runtime::traits::Block>::Header;

	fn planned() -> Vec<AccountId> {
		pallet_validator_set::Validators::<Runtime>::get().into_inner()
	}

	fn events() -> Vec<pallet_validator_set::Event<Runtime>> {
		System::read_events_for_pallet::<pallet_validator_set::Event<Runtime>>()
	}

	/// End the current session (the session pallet's own rotation, as at a BABE epoch change),
	/// and finalize the block, where GRANDPA enacts the new authority set.
	fn rotate() {
		use frame_support::traits::OnFinalize;
		Session::rotate_session();
		Grandpa::on_finalize(System::block_number());
	}

	#[test]
	fn genesis_plans_the_session_validators() {
		for preset in genesis_config_presets::preset_names() {
			ext_for(&preset).execute_with(|| {
				assert_eq!(planned(), Session::validators(), "{preset:?}");
			});
		}
	}

	#[test]
	fn the_council_adds_and_removes_validators_at_session_boundaries() {
		ext_for("local_testnet").execute_with(|| {
			let dave = account(Sr25519Keyring::Dave);
			let add = RuntimeCall::ValidatorSet(pallet_validator_set::Call::add_validator {
				validator: dave.clone(),
			});
			// Keys first: a validator without session keys could not author or vote.
			assert_eq!(
				pass(House::Council, add.clone(), &[Alice, Bob]),
				Err(pallet_validator_set::Error::<Runtime>::NoSessionKeys.into())
			);
			let keys = crate::SessionKeys {
				babe: Sr25519Keyring::Dave.public().into(),
				grandpa: Ed25519Keyring::Dave.public().into(),
			};
			assert_ok!(<Session as SessionInterface>::set_keys(&dave, keys));
			// One member is not a majority of three.
			assert!(pass(House::Council, add.clone(), &[Alice]).is_err());
			assert_ok!(pass(House::Council, add, &[Alice, Bob]));
			assert!(planned().contains(&dave));

			rotate();
			assert!(!Session::validators().contains(&dave), "queued for the next session");
			rotate();
			assert!(Session::validators().contains(&dave));
			let babe_key: sp_consensus_babe::AuthorityId = Sr25519Keyring::Dave.public().into();
			assert!(Babe::authorities().iter().any(|(k, _)| k == &babe_key), "Dave authors");
			let grandpa_key: sp_consensus_grandpa::AuthorityId =
				Ed25519Keyring::Dave.public().into();
			assert!(Grandpa::grandpa_authorities().iter().any(|(k, _)| k == &grandpa_key));

			let remove = RuntimeCall::ValidatorSet(pallet_validator_set::Call::remove_validator {
				validator: account(Charlie),
			});
			assert_ok!(pass(House::Council, remove, &[Alice, Bob]));
			rotate();
			rotate();
			assert!(!Session::validators().contains(&account(Charlie)));
			assert!(!Babe::authorities()
				.iter()
				.any(|(k, _)| { k == &sp_consensus_babe::AuthorityId::from(Charlie.public()) }));
		});
	}

	/// Two headers of `offender` (BABE authority `index`) for the same slot, each sealed.
	fn babe_equivocation(
		offender: Sr25519Keyring,
		index: u32,
		slot: Slot,
	) -> sp_consensus_babe::EquivocationProof<Header> {
		let pre_digest =
			PreDigest::SecondaryPlain(SecondaryPlainPreDigest { authority_index: index, slot });
		let header = |state_root: u8| {
			let digest = sp_runtime::Digest {
				logs: vec![DigestItem::PreRuntime(
					sp_consensus_babe::BABE_ENGINE_ID,
					pre_digest.encode(),
				)],
			};
			let mut header = Header::new(
				1,
				Default::default(),
				[state_root; 32].into(),
				System::parent_hash(),
				digest,
			);
			let seal = offender.sign(header.hash().as_ref());
			header.digest_mut().push(<DigestItem as CompatibleDigestItem>::babe_seal(seal.into()));
			header
		};
		sp_consensus_babe::EquivocationProof {
			offender: offender.public().into(),
			slot,
			first_header: header(1),
			second_header: header(2),
		}
	}

	/// The transactions the runtime put in the off-chain pool so far.
	type Submitted = Box<dyn Fn() -> Vec<UncheckedExtrinsic>>;

	/// Externalities of `local_testnet` with an off-chain transaction pool, where the runtime
	/// API puts the reports it builds (as the node's would), and what it submitted: bare
	/// transactions, decoded.
	fn ext_with_pool() -> (sp_io::TestExternalities, Submitted) {
		let mut ext = ext_for("local_testnet");
		let (pool, state) = TestTransactionPoolExt::new();
		ext.register_extension(TransactionPoolExt::new(pool));
		let submitted = move || {
			state
				.read()
				.transactions
				.iter()
				.map(|bytes| {
					let xt = UncheckedExtrinsic::decode(&mut &bytes[..]).expect("an extrinsic");
					assert!(matches!(xt.preamble, sp_runtime::generic::Preamble::Bare(_)));
					xt
				})
				.collect()
		};
		(ext, Box::new(submitted))
	}

	#[test]
	fn a_babe_equivocation_reported_by_the_node_removes_the_author() {
		let (mut ext, submitted) = ext_with_pool();
		ext.execute_with(|| {
			let bob = account(Bob);
			let slot = Slot::from(3);
			let proof = babe_equivocation(Bob, 1, slot);
			// What the node does when it sees two of Bob's blocks for one slot.
			let owner = <Runtime as BabeApiV2<crate::Block>>::generate_key_ownership_proof(
				slot,
				Bob.public().into(),
			)
			.expect("Bob is a validator of this session");
			assert_eq!(
				<Runtime as BabeApiV2<crate::Block>>::submit_report_equivocation_unsigned_extrinsic(
					proof, owner,
				),
				Some(())
			);
			let submitted = submitted();
			assert_eq!(submitted.len(), 1);
			let xt = submitted[0].clone();
			if let RuntimeCall::Babe(call) = &xt.function {
				assert_ok!(Babe::validate_unsigned(TransactionSource::Local, call));
			} else {
				panic!("a BABE report");
			}
			assert_ok!(Executive::apply_extrinsic(xt.clone()).expect("valid"));
			assert!(events().contains(&pallet_validator_set::Event::OffenderRemoved {
				validator: bob.clone(),
				session: 0,
			}));
			assert!(!planned().contains(&bob));

			// The same report again is stale: refused by the pool and by block import.
			if let RuntimeCall::Babe(call) = &xt.function {
				assert!(Babe::validate_unsigned(TransactionSource::Local, call).is_err());
			}
			assert!(Executive::apply_extrinsic(xt).is_err());

			rotate();
			rotate();
			assert_eq!(Session::validators(), vec![account(Alice), account(Charlie)]);
		});
	}

	#[test]
	fn babe_reports_that_prove_nothing_are_refused() {
		ext_for("local_testnet").execute_with(|| {
			let slot = Slot::from(3);
			let owner = Historical::prove((sp_consensus_babe::KEY_TYPE, Bob.public().to_vec()))
				.expect("Bob's key");
			let report = |proof: sp_consensus_babe::EquivocationProof<Header>, owner| {
				Babe::report_equivocation_unsigned(
					crate::RuntimeOrigin::none(),
					Box::new(proof),
					owner,
				)
			};
			// One header twice: not an equivocation.
			let mut same = babe_equivocation(Bob, 1, slot);
			same.second_header = same.first_header.clone();
			assert!(report(same, owner.clone()).is_err());
			// Signed by Charlie, claimed as Bob's.
			let mut forged = babe_equivocation(Charlie, 1, slot);
			forged.offender = Bob.public().into();
			assert!(report(forged, owner.clone()).is_err());
			// Bob's equivocation with Charlie's key-ownership proof.
			let charlie_owner =
				Historical::prove((sp_consensus_babe::KEY_TYPE, Charlie.public().to_vec()))
					.expect("Charlie's key");
			assert!(report(babe_equivocation(Bob, 1, slot), charlie_owner).is_err());
			assert_eq!(planned().len(), 3, "nobody removed");
			assert!(events().is_empty());
		});
	}

	/// Two prevotes in one round for different blocks, signed by `signer` and claimed as
	/// `offender`'s (the same key for a true equivocation).
	fn grandpa_equivocation(
		signer: Ed25519Keyring,
		offender: Ed25519Keyring,
		set_id: u64,
		round: u64,
	) -> sp_consensus_grandpa::EquivocationProof<crate::Hash, crate::BlockNumber> {
		let signed = |target: u8| {
			let prevote =
				finality_grandpa::Prevote { target_hash: [target; 32].into(), target_number: 1 };
			let message = finality_grandpa::Message::Prevote(prevote.clone());
			let payload = sp_consensus_grandpa::localized_payload(round, set_id, &message);
			(prevote, signer.sign(&payload).into())
		};
		sp_consensus_grandpa::EquivocationProof::new(
			set_id,
			sp_consensus_grandpa::Equivocation::Prevote(finality_grandpa::Equivocation {
				round_number: round,
				identity: offender.public().into(),
				first: signed(1),
				second: signed(2),
			}),
		)
	}

	#[test]
	fn a_grandpa_equivocation_reported_by_the_node_removes_the_voter() {
		let (mut ext, submitted) = ext_with_pool();
		ext.execute_with(|| {
			let charlie = account(Charlie);
			let set_id = Grandpa::current_set_id();
			let owner = <Runtime as GrandpaApiV3<crate::Block>>::generate_key_ownership_proof(
				set_id,
				Ed25519Keyring::Charlie.public().into(),
			)
			.expect("Charlie votes in this set");
			// A forged vote (Bob's signatures claimed as Charlie's) proves nothing.
			let forged =
				grandpa_equivocation(Ed25519Keyring::Bob, Ed25519Keyring::Charlie, set_id, 1);
			let decoded: sp_session::MembershipProof = owner.clone().decode().expect("a proof");
			assert!(Grandpa::report_equivocation_unsigned(
				crate::RuntimeOrigin::none(),
				Box::new(forged),
				decoded
			)
			.is_err());

			let proof =
				grandpa_equivocation(Ed25519Keyring::Charlie, Ed25519Keyring::Charlie, set_id, 1);
			assert_eq!(
				<Runtime as GrandpaApiV3<crate::Block>>::submit_report_equivocation_unsigned_extrinsic(
					proof, owner,
				),
				Some(())
			);
			for xt in submitted() {
				assert_ok!(Executive::apply_extrinsic(xt).expect("valid"));
			}
			assert!(events().contains(&pallet_validator_set::Event::OffenderRemoved {
				validator: charlie.clone(),
				session: 0,
			}));
			rotate();
			rotate();
			assert_eq!(Session::validators(), vec![account(Alice), account(Bob)]);
		});
	}
}

mod scale {
	//! Issue 15: the runtime's bounds of 10,000 nodes per echelon and subscribers per model, filled
	//! through the real calls: registration, subscription, the draw index catching up
	//! (`MaxIndexChangesPerBlock` a block), the epoch's price as the exact median of 10,000 bids,
	//! and a block of selections drawn from the full index. The benchmarks measure the cost
	//! (docs/benchmarks.md, "Scale"); this checks that it works and that the books balance.

	use super::*;
	use crate::{
		genesis_config_presets::DEFAULT_MODEL_ID, Inference, ModelRegistry, NodeRegistry,
		RuntimeOrigin,
	};
	use atoma_support::{
		fees::median,
		inference::{RequestSpec, VerificationMode},
		EchelonId, ModelId, ModelRegistry as _, NodeId, NodeRegistry as _, RequestId,
	};
	use frame_support::{
		assert_noop,
		traits::{fungible::Mutate, Get, Hooks},
	};

	const NODES: u32 = 10_000;

	fn operator(i: u32) -> AccountId {
		let mut raw = [0xA5; 32];
		raw[..4].copy_from_slice(&i.to_le_bytes());
		AccountId::new(raw)
	}

	fn worker_key(i: u32) -> sp_core::sr25519::Public {
		let mut raw = [0x5A; 32];
		raw[..4].copy_from_slice(&i.to_le_bytes());
		sp_core::sr25519::Public::from_raw(raw)
	}

	fn run_to(block: u32) {
		while System::block_number() < block {
			let next = System::block_number() + 1;
			System::set_block_number(next);
			NodeRegistry::on_initialize(next);
			ModelRegistry::on_initialize(next);
			Inference::on_initialize(next);
		}
	}

	#[test]
	fn ten_thousand_nodes_serve_one_model_in_one_echelon() {
		ext_for("development").execute_with(|| {
			let model = ModelId::from_name(DEFAULT_MODEL_ID.as_bytes()).expect("valid id");
			let max_nodes = <Runtime as pallet_node_registry::Config>::MaxNodesPerEchelon::get();
			let max_subscribers =
				<Runtime as pallet_model_registry::Config>::MaxSubscribersPerModel::get();
			assert_eq!((max_nodes, max_subscribers), (NODES, NODES));
			// Alice's genesis node and 9,999 more, each of its own operator, bidding 1 to 997
			// micro-TOMA per token.
			for i in 1..NODES {
				let who = operator(i);
				assert_ok!(Balances::mint_into(&who, 1_100 * UNITS));
				let price = u128::from(i * 7_919 % 997 + 1) * crate::currency::MICRO_UNITS;
				assert_ok!(NodeRegistry::register_node(
					RuntimeOrigin::signed(who.clone()),
					EchelonId(0),
					worker_key(i),
					b"https://node.example".to_vec(),
					1_000 * UNITS,
					price,
				));
				assert_ok!(ModelRegistry::subscribe(
					RuntimeOrigin::signed(who),
					NodeId(u64::from(i)),
					model.clone()
				));
			}
			// Both bounds are reached.
			let extra = operator(NODES);
			assert_ok!(Balances::mint_into(&extra, 1_100 * UNITS));
			assert_noop!(
				NodeRegistry::register_node(
					RuntimeOrigin::signed(extra),
					EchelonId(0),
					worker_key(NODES),
					b"https://node.example".to_vec(),
					1_000 * UNITS,
					1,
				),
				pallet_node_registry::Error::<Runtime>::EchelonFull
			);

			// The index takes the subscriptions two blocks late, 64 a block.
			let per_block =
				<Runtime as pallet_model_registry::Config>::MaxIndexChangesPerBlock::get();
			run_to(2);
			assert_eq!(ModelRegistry::indexed_count(&model, EchelonId(0)), 1, "not yet");
			let caught_up = 2 + (NODES - 1).div_ceil(per_block) + 1;
			run_to(caught_up);
			assert_eq!(ModelRegistry::indexed_count(&model, EchelonId(0)), NODES);

			// The next epoch's price is the exact median of the 10,000 bids.
			let mut bids: Vec<Balance> = pallet_node_registry::Bids::<Runtime>::iter_values()
				.filter(|bid| bid.counted)
				.map(|bid| bid.price)
				.collect();
			assert_eq!(bids.len() as u32, NODES);
			let expected = median(&mut bids);
			let boundary = pallet_node_registry::NextEpochStart::<Runtime>::get();
			run_to(boundary);
			assert_eq!(NodeRegistry::price_per_token(EchelonId(0)), expected);
			assert!(NodeRegistry::is_eligible(NodeId(9_999), 0), "the new nodes serve now");

			// A block of `MaxSelectionsPerBlock` Sampling requests of 8 nodes, drawn from all.
			let selections = <Runtime as pallet_inference::Config>::MaxSelectionsPerBlock::get();
			let bob = Sr25519Keyring::Bob.to_account_id();
			let spec = RequestSpec {
				mode: VerificationMode::Sampling { n: 8 },
				..super::inference::default_spec()
			};
			let first = pallet_inference::NextRequestId::<Runtime>::get();
			for _ in 0..selections {
				assert_ok!(Inference::submit_request(
					RuntimeOrigin::signed(bob.clone()),
					spec.clone()
				));
			}
			let drawn_at = System::block_number() + 2;
			let started = std::time::Instant::now();
			run_to(drawn_at);
			println!("{selections} selections among {NODES} nodes: {:?}", started.elapsed());
			let mut drawn = std::collections::BTreeSet::new();
			for id in first..first + u64::from(selections) {
				let request =
					pallet_inference::Requests::<Runtime>::get(RequestId(id)).expect("in flight");
				assert_eq!(request.nodes.len(), 8, "request {id} drawn");
				drawn.extend(request.nodes.iter().copied());
			}
			// 256 draws spread over the whole index (a node may take several jobs: a few are
			// drawn twice), not its first positions.
			assert!(drawn.len() >= 240, "{} distinct nodes", drawn.len());
			assert!(drawn.iter().any(|n| n.0 > 9_000) && drawn.iter().any(|n| n.0 < 1_000));

			NodeRegistry::do_try_state().expect("node registry invariants");
			ModelRegistry::do_try_state().expect("model registry invariants");
		});
	}
}

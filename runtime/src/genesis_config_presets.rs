//! Genesis presets, served through `sp_genesis_builder::GenesisBuilder`.
//!
//! The node's `--dev` / `--chain local` / `--chain testnet-template` specs, and the committed
//! files in `chain-spec/`, are all built from these presets: the runtime owns its genesis.
//!
//! - `development`: Alice alone authors (BABE) and finalizes (GRANDPA); the well-known dev
//!   accounts are endowed; Alice is sudo.
//! - `local_testnet`: Alice, Bob and Charlie are the three validators.
//! - `testnet_template`: four validators with the dev keys as *placeholders*; a real testnet
//!   replaces the session keys, endowments and sudo key before converting the spec to raw
//!   (see `docs/chain-specs.md`).

use crate::{
	currency::{EXISTENTIAL_DEPOSIT, UNITS},
	AccountId, Balance, BalancesConfig, RuntimeGenesisConfig, SessionConfig, SessionKeys,
	SudoConfig, BABE_GENESIS_EPOCH_CONFIG,
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
fn genesis(validators: Vec<GenesisValidator>, endowed: Vec<AccountId>, root: AccountId) -> Value {
	let treasury = crate::configs::TreasuryAccount::get();
	let mut balances: Vec<(AccountId, Balance)> =
		endowed.into_iter().map(|account| (account, ENDOWMENT)).collect();
	// The treasury account must exist for transaction fees to be credited to it.
	balances.push((treasury, EXISTENTIAL_DEPOSIT));

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
		sudo: SudoConfig { key: Some(root) },
	})
}

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// `development`: a single validator (Alice) that produces and finalizes blocks alone.
pub fn development_genesis() -> Value {
	genesis(
		vec![dev_validator(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
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

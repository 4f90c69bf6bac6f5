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

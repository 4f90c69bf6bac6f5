//! Chain specifications, all built from the runtime's genesis presets.
//!
//! `--chain dev` (and `--dev`), `--chain local` and `--chain testnet-template` are built in; any
//! other value is read as a path to a JSON spec, plain or raw (e.g. `chain-spec/local-raw.json`).

use atoma_runtime::{
	currency::{SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL},
	genesis_config_presets::TESTNET_TEMPLATE_RUNTIME_PRESET,
	WASM_BINARY,
};
use sc_service::{ChainType, Properties};

/// The chain spec type: no client extensions.
pub type ChainSpec = sc_service::GenericChainSpec;

/// Token symbol, decimals and address format, which wallets and polkadot.js show.
fn properties() -> Properties {
	let mut properties = Properties::new();
	properties.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	properties.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	properties.insert("ss58Format".into(), SS58_PREFIX.into());
	properties
}

fn from_preset(
	name: &str,
	id: &str,
	chain_type: ChainType,
	preset: &str,
) -> Result<ChainSpec, String> {
	let wasm = WASM_BINARY.ok_or_else(|| {
		"The runtime wasm is not available: the node was built with SKIP_WASM_BUILD".to_string()
	})?;
	Ok(ChainSpec::builder(wasm, None)
		.with_name(name)
		.with_id(id)
		.with_protocol_id("atoma")
		.with_chain_type(chain_type)
		.with_genesis_config_preset_name(preset)
		.with_properties(properties())
		.build())
}

/// `--dev`: Alice alone produces and finalizes blocks.
pub fn development() -> Result<ChainSpec, String> {
	from_preset(
		"Atoma Development",
		"atoma_dev",
		ChainType::Development,
		sp_genesis_builder::DEV_RUNTIME_PRESET,
	)
}

/// `--chain local`: Alice, Bob and Charlie validate.
pub fn local_testnet() -> Result<ChainSpec, String> {
	from_preset(
		"Atoma Local Testnet",
		"atoma_local",
		ChainType::Local,
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
	)
}

/// `--chain testnet-template`: the starting point for a public testnet; its keys are
/// placeholders to replace before launch.
pub fn testnet_template() -> Result<ChainSpec, String> {
	from_preset("Atoma Testnet", "atoma_testnet", ChainType::Live, TESTNET_TEMPLATE_RUNTIME_PRESET)
}

/// Resolves a `--chain` value.
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	Ok(match id {
		"dev" => Box::new(development()?),
		"" | "local" => Box::new(local_testnet()?),
		"testnet-template" => Box::new(testnet_template()?),
		path => Box::new(ChainSpec::from_json_file(std::path::PathBuf::from(path))?),
	})
}

//! Command-line interface: the standard Substrate node flags plus the usual subcommands.

/// The node's command line. With no subcommand it runs the node (`--dev`, `--chain`,
/// `--base-path`, `--validator`, `--rpc-port`, ...).
#[derive(Debug, clap::Parser)]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	#[clap(flatten)]
	pub atoma: AtomaParams,
}

/// Pairing the node with a local inference worker, and where its compiled runtime is kept.
#[derive(Debug, Clone, clap::Args)]
pub struct AtomaParams {
	/// Base URL of the local inference worker (`atoma-worker`), e.g. `http://127.0.0.1:8080`.
	/// The off-chain worker sends the jobs of this node's worker keys there. Without it the node
	/// takes no inference work.
	#[arg(long, value_name = "URL")]
	pub inference_worker_url: Option<String>,

	/// Keep the runtime's compiled machine code in this directory (wasmtime's cache) and reuse
	/// it: a restart, or another node on this machine running the same runtime, skips compiling
	/// it (about 12 CPU-seconds on a 2-core AMD EPYC). Entries are keyed by the wasm code and the
	/// compiler's settings, so a runtime upgrade is compiled once and cached in turn. Without it
	/// every start compiles the runtime. The node runs the machine code it finds there as it
	/// runs its own binary: only the node's user may write to the directory.
	#[arg(long, value_name = "PATH")]
	pub wasmtime_cache_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: `key insert` (e.g. a worker or session key into the keystore),
	/// `key generate`, `key inspect`, `key generate-node-key`, `key inspect-node-key`.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Build a chain specification (legacy; prefer `export-chain-spec`).
	#[deprecated(
		note = "build-spec command will be removed after 1/04/2026. Use export-chain-spec command instead"
	)]
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export the chain specification of `--chain` (plain, or `--raw`).
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Db meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),
}

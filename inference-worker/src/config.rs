//! Command-line and environment configuration.
//!
//! Every serve option can also be given as an `ATOMA_WORKER_*` environment variable so the worker
//! can be configured by a service manager without a wrapper script.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::engine::native::Tier;

/// Default path of the reference model, relative to the working directory (`scripts/fetch-model.sh`
/// puts it there).
pub const DEFAULT_MODEL_PATH: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The `atoma-worker` command line.
#[derive(Parser, Debug)]
#[command(name = "atoma-worker", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
	/// What to do; without a subcommand the worker serves HTTP (same as `serve`).
	#[command(subcommand)]
	pub command: Option<Command>,
	/// Serve options, when no subcommand is given.
	#[command(flatten)]
	pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
	/// Serve the HTTP API (the default).
	Serve(ServeArgs),
	/// Print the weights Merkle root of a model file, as registered on chain (protocol §4).
	WeightsRoot {
		/// The model file (any file: the root is over its raw bytes).
		path: PathBuf,
		/// Print one JSON object instead of aligned text.
		#[arg(long)]
		json: bool,
	},
}

/// Options of the HTTP server.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
	/// A model to serve, as `PATH` or `ID=PATH` (repeatable). The id defaults to the file stem.
	#[arg(
		long = "model",
		env = "ATOMA_WORKER_MODELS",
		value_delimiter = ',',
		default_value = DEFAULT_MODEL_PATH
	)]
	pub models: Vec<ModelSpec>,
	/// Misbehave on purpose (testing builds with the `fault-injection` feature only; see
	/// `src/fault.rs`). Needs `--i-know-this-worker-cheats`.
	#[cfg(feature = "fault-injection")]
	#[arg(long, value_enum)]
	pub fault: Option<crate::fault::Fault>,
	/// Confirms that a `--fault` mode is wanted: such a worker's node loses its collateral.
	#[cfg(feature = "fault-injection")]
	#[arg(long)]
	pub i_know_this_worker_cheats: bool,
	/// Address to listen on. Port 0 picks a free port; the bound address is printed on stdout as
	/// `atoma-worker listening on http://ADDR`.
	#[arg(long, env = "ATOMA_WORKER_LISTEN", default_value = "127.0.0.1:8080")]
	pub listen: SocketAddr,
	/// A second, public address serving only what users and other nodes need: `PUT` and `GET
	/// /v1/inputs/{hash}` and `/health` (register this one on chain, behind a TLS proxy). The
	/// `--listen` address keeps everything, free inference included: keep it on localhost or
	/// behind a firewall. Printed on stdout, before the `--listen` line, as
	/// `atoma-worker public on http://ADDR`.
	#[arg(long, env = "ATOMA_WORKER_PUBLIC_LISTEN")]
	pub public_listen: Option<SocketAddr>,
	/// Device for the forward pass: `cpu`, `cuda` or `cuda:N` (needs the `cuda` feature).
	#[arg(long, env = "ATOMA_WORKER_DEVICE", default_value = "cpu")]
	pub device: DeviceSpec,
	/// Numeric format and engine of the matmuls. `native` (CPU only) is this worker's own
	/// engine: the GGUF's blocks stay quantized, activations are quantized to 16 bits, every
	/// output is reduced in one fixed order, so results are the same bits on every x86 kernel
	/// tier and in any batch; jobs of a model share forward passes (continuous batching). `f32`
	/// (candle) dequantizes the weights once at load and runs f32 matmuls, one job at a time
	/// (4 bytes per weight; runs on CUDA too). `quantized` is candle's block-format kernels. Part
	/// of the execution profile: nodes compared with each other must use the same value.
	#[arg(long, env = "ATOMA_WORKER_PRECISION", default_value = "native")]
	pub precision: Precision,
	/// The native engine's kernels: `auto` (the fastest this CPU has), `scalar`, `avx2`,
	/// `avx512-vnni` or `avx512-amx`. All give the same bits; forcing one is for tests and
	/// benchmarks.
	#[arg(long, env = "ATOMA_WORKER_KERNEL_TIER", default_value = "auto", value_parser = parse_kernel_tier)]
	pub kernel_tier: KernelTier,
	/// Jobs that may wait per model besides the one running; more get 429.
	#[arg(long, env = "ATOMA_WORKER_QUEUE_CAPACITY", default_value_t = 64)]
	pub queue_capacity: usize,
	/// Finished jobs kept for `GET /v1/jobs/{id}` and `/v1/outputs/{id}`; the oldest finished job
	/// is evicted first.
	#[arg(long, env = "ATOMA_WORKER_MAX_STORED_JOBS", default_value_t = 10_000)]
	pub max_stored_jobs: usize,
	/// Where the outputs of chain jobs are kept for their owners (one JSON file per request,
	/// created if missing); they survive a restart.
	#[arg(long, env = "ATOMA_WORKER_OUTPUT_DIR", default_value = "atoma-worker-outputs")]
	pub output_dir: PathBuf,
	/// Outputs kept in `--output-dir`; the oldest is deleted first.
	#[arg(long, env = "ATOMA_WORKER_MAX_STORED_OUTPUTS", default_value_t = 20_000)]
	pub max_stored_outputs: usize,
	/// The paired node's HTTP JSON-RPC endpoint (e.g. `http://127.0.0.1:9944`). Other nodes with a
	/// role in a request read its by-hash input from this worker (`GET /v1/inputs/{hash}`); the
	/// worker asks this node whether each reader holds the role. Without it, no input is served.
	#[arg(long, env = "ATOMA_WORKER_NODE_RPC_URL")]
	pub node_rpc_url: Option<String>,
	/// Largest accepted request body in bytes; larger bodies get 413.
	#[arg(long, env = "ATOMA_WORKER_MAX_BODY_BYTES", default_value_t = 1 << 20)]
	pub max_body_bytes: usize,
	/// Largest `max_tokens` a request may ask for.
	#[arg(long, env = "ATOMA_WORKER_MAX_TOKENS_LIMIT", default_value_t = 2048)]
	pub max_tokens_limit: u32,
	/// `max_tokens` of `/v1/jobs` and chat requests that do not give one (`/v1/completions`
	/// follows OpenAI and defaults to 16).
	#[arg(long, env = "ATOMA_WORKER_DEFAULT_MAX_TOKENS", default_value_t = 256)]
	pub default_max_tokens: u32,
	/// Seconds an HTTP request may take until its response starts (408 after that).
	#[arg(long, env = "ATOMA_WORKER_REQUEST_TIMEOUT_SECS", default_value_t = 600)]
	pub request_timeout_secs: u64,
	/// Seconds to let running jobs and open responses finish after SIGINT/SIGTERM.
	#[arg(long, env = "ATOMA_WORKER_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
	pub shutdown_grace_secs: u64,
	/// Shut down gracefully when standard input reaches end of file, so a supervising process
	/// (or a test harness) that dies takes the worker with it.
	#[arg(long)]
	pub exit_on_stdin_close: bool,
}

impl ServeArgs {
	/// The request timeout as a [`Duration`].
	pub fn request_timeout(&self) -> Duration {
		Duration::from_secs(self.request_timeout_secs)
	}

	/// The shutdown grace period as a [`Duration`].
	pub fn shutdown_grace(&self) -> Duration {
		Duration::from_secs(self.shutdown_grace_secs)
	}
}

/// One `--model` value: an optional id and a GGUF path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
	/// Public model id (`model` field of requests).
	pub id: String,
	/// Path of the GGUF file.
	pub path: PathBuf,
}

impl FromStr for ModelSpec {
	type Err = String;

	fn from_str(s: &str) -> Result<Self, Self::Err> {
		// `ID=PATH` only when the part before `=` looks like an id; paths may contain `=`.
		if let Some((id, path)) = s.split_once('=') {
			if !id.is_empty() && !id.contains('/') && !path.is_empty() {
				return Ok(Self { id: id.to_owned(), path: PathBuf::from(path) });
			}
		}
		let path = PathBuf::from(s);
		let id = path
			.file_stem()
			.and_then(|stem| stem.to_str())
			.filter(|stem| !stem.is_empty())
			.ok_or_else(|| format!("cannot derive a model id from {s:?}; use ID=PATH"))?
			.to_owned();
		Ok(Self { id, path })
	}
}

/// `--kernel-tier`: `None` for `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelTier(pub Option<Tier>);

fn parse_kernel_tier(s: &str) -> Result<KernelTier, String> {
	if s == "auto" {
		return Ok(KernelTier(None));
	}
	let tier = Tier::parse(s).ok_or_else(|| {
		format!("unknown kernel tier {s:?}: auto, scalar, avx2, avx512-vnni or avx512-amx")
	})?;
	if !tier.is_supported() {
		return Err(format!("this CPU cannot run kernel tier {s}"));
	}
	Ok(KernelTier(Some(tier)))
}

/// Numeric format of the matmuls (see `--precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
	/// The native engine: quantized weights, 8-bit activations, the canonical reduction
	/// (`engine::native`), continuous batching.
	Native,
	/// Weights dequantized to f32 at load.
	F32,
	/// The GGUF's quantized block format.
	Quantized,
}

impl Precision {
	/// Candle's switch for dequantizing every weight at load. Candle reads it once per thread
	/// (a `thread_local!`), so it must be set before any thread that loads a model starts:
	/// `atoma-worker` sets it first thing in `main`, while the process is single-threaded.
	pub const CANDLE_ENV: &'static str = "CANDLE_DEQUANTIZE_ALL";

	/// Whether candle runs the matmuls (and reads [`Self::CANDLE_ENV`]).
	pub fn is_candle(self) -> bool {
		self != Self::Native
	}

	/// The precision candle will use in this process, from [`Self::CANDLE_ENV`].
	pub fn from_env() -> Self {
		match std::env::var(Self::CANDLE_ENV) {
			Ok(v) if !v.is_empty() && v != "0" => Self::F32,
			_ => Self::Quantized,
		}
	}

	/// Name used in the API.
	pub fn as_str(self) -> &'static str {
		match self {
			Self::Native => "native",
			Self::F32 => "f32",
			Self::Quantized => "quantized",
		}
	}
}

/// Where the forward pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
	/// The CPU (default; needs no CUDA).
	Cpu,
	/// CUDA device with this ordinal.
	Cuda(usize),
}

impl FromStr for DeviceSpec {
	type Err = String;

	fn from_str(s: &str) -> Result<Self, Self::Err> {
		match s {
			"cpu" => Ok(Self::Cpu),
			"cuda" => Ok(Self::Cuda(0)),
			_ => match s.strip_prefix("cuda:") {
				Some(n) => {
					n.parse().map(Self::Cuda).map_err(|_| format!("bad CUDA ordinal in {s:?}"))
				},
				None => Err(format!("unknown device {s:?}: expected cpu, cuda or cuda:N")),
			},
		}
	}
}

impl std::fmt::Display for DeviceSpec {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			Self::Cpu => write!(f, "cpu"),
			Self::Cuda(n) => write!(f, "cuda:{n}"),
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn model_spec_forms() {
		let m: ModelSpec = "models/SmolLM2.Q4_1.gguf".parse().unwrap();
		assert_eq!(m.id, "SmolLM2.Q4_1");
		let m: ModelSpec = "smol=/data/a=b.gguf".parse().unwrap();
		assert_eq!((m.id.as_str(), m.path.to_str().unwrap()), ("smol", "/data/a=b.gguf"));
		let m: ModelSpec = "/data/x=y/model.gguf".parse().unwrap();
		assert_eq!(m.id, "model");
		assert!("".parse::<ModelSpec>().is_err());
	}

	#[test]
	fn device_spec_forms() {
		assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
		assert_eq!("cuda".parse(), Ok(DeviceSpec::Cuda(0)));
		assert_eq!("cuda:3".parse(), Ok(DeviceSpec::Cuda(3)));
		assert!("cuda:x".parse::<DeviceSpec>().is_err());
		assert!("metal".parse::<DeviceSpec>().is_err());
	}

	#[test]
	fn cli_parses() {
		let cli = Cli::try_parse_from(["atoma-worker", "weights-root", "a.gguf"]).unwrap();
		assert!(matches!(cli.command, Some(Command::WeightsRoot { .. })));
		let cli = Cli::try_parse_from(["atoma-worker", "--model", "a=x.gguf", "--model", "y.gguf"])
			.unwrap();
		assert_eq!(cli.serve.models.len(), 2);
	}
}

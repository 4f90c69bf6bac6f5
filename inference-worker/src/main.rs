//! `atoma-worker`: configuration, tracing, model loading, the HTTP server and graceful shutdown.

// Request paths must not panic on input: no unwrap/expect/panic outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::{io::Write, process::ExitCode, sync::Arc, time::Instant};

use atoma_inference_worker::{
	api::{self, AppState},
	commitments::to_hex,
	config::{Cli, Command, Precision, ServeArgs},
	engine::{Engine, EngineOptions},
	jobs::JobStore,
	metrics::Metrics,
	shutdown::Shutdown,
	validation::Limits,
	weights,
};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
	let cli = Cli::parse();
	match cli.command {
		Some(Command::WeightsRoot { path, json }) => weights_root(&path, json),
		Some(Command::Serve(args)) => serve(args),
		None => serve(cli.serve),
	}
}

/// Tell candle which matmul format to use. Candle reads this variable once per thread, so it is
/// set here, before the async runtime or any other thread exists (which is also what makes
/// changing the environment sound).
fn set_candle_precision(precision: Precision) {
	// Candle's third format (f16 weights) is not an execution profile this worker offers.
	std::env::remove_var("CANDLE_DEQUANTIZE_ALL_F16");
	match precision {
		Precision::F32 => std::env::set_var(Precision::CANDLE_ENV, "1"),
		Precision::Quantized | Precision::Native => std::env::remove_var(Precision::CANDLE_ENV),
	}
}

/// `atoma-worker weights-root PATH`: the values `register_model` stores on chain.
fn weights_root(path: &std::path::Path, json: bool) -> ExitCode {
	let tokenizer_hash =
		match atoma_inference_worker::engine::tokenizer::tokenizer_hash_of_file(path) {
			Ok(hash) => hash,
			Err(e) => {
				eprintln!("error: {}: not a GGUF model with a tokenizer: {e}", path.display());
				return ExitCode::FAILURE;
			},
		};
	match weights::digest_file(path) {
		Ok(d) => {
			if json {
				println!(
					"{}",
					serde_json::json!({
						"path": path.display().to_string(),
						"root": to_hex(&d.root),
						"total_len": d.total_len,
						"chunk_count": d.chunk_count,
						"tokenizer_hash": to_hex(&tokenizer_hash),
					})
				);
			} else {
				println!("root        {}", to_hex(&d.root));
				println!("total_len   {}", d.total_len);
				println!("chunk_count {}", d.chunk_count);
				println!("tokenizer   {}", to_hex(&tokenizer_hash));
			}
			ExitCode::SUCCESS
		},
		Err(e) => {
			eprintln!("error: {}: {e}", path.display());
			ExitCode::FAILURE
		},
	}
}

fn init_tracing() {
	// Logs go to stderr; stdout carries only the machine-readable "listening on" line.
	tracing_subscriber::fmt()
		.with_env_filter(
			EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
		)
		.with_writer(std::io::stderr)
		.init();
}

fn serve(args: ServeArgs) -> ExitCode {
	#[cfg(feature = "fault-injection")]
	let args = {
		let mut args = args;
		if let Some(fault) = args.fault {
			if !args.i_know_this_worker_cheats {
				eprintln!(
					"error: --fault {fault:?} makes this worker cheat, and its node lose its \
					 collateral; add --i-know-this-worker-cheats to run it anyway"
				);
				return ExitCode::FAILURE;
			}
			eprintln!("warning: fault injection: this worker misbehaves on purpose ({fault:?})");
			if fault == atoma_inference_worker::fault::Fault::CheaperPrecision {
				args.precision = Precision::Quantized;
			}
		}
		args
	};
	set_candle_precision(args.precision);
	init_tracing();
	let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
		Ok(rt) => rt,
		Err(e) => {
			tracing::error!(error = %e, "cannot start the async runtime");
			return ExitCode::FAILURE;
		},
	};
	match runtime.block_on(run(args)) {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			tracing::error!(error = %e, "worker failed");
			ExitCode::FAILURE
		},
	}
}

async fn run(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
	let started = Instant::now();
	let shutdown = Shutdown::new();
	let store = Arc::new(JobStore::new(args.max_stored_jobs));
	let metrics = Arc::new(Metrics::new());

	let engine = {
		let models = args.models.clone();
		let options = EngineOptions {
			device: args.device,
			precision: args.precision,
			kernel_tier: args.kernel_tier.0,
			queue_capacity: args.queue_capacity,
			#[cfg(feature = "fault-injection")]
			fault: args.fault,
		};
		let (store, metrics, shutdown) =
			(Arc::clone(&store), Arc::clone(&metrics), shutdown.clone());
		// Loading reads and hashes every model file: blocking work.
		tokio::task::spawn_blocking(move || {
			Engine::start(&models, options, store, metrics, shutdown)
		})
		.await??
	};
	let engine = Arc::new(engine);

	let state = AppState {
		engine: Arc::clone(&engine),
		store,
		metrics,
		shutdown: shutdown.clone(),
		limits: Limits {
			max_tokens_limit: args.max_tokens_limit,
			default_max_tokens: args.default_max_tokens.min(args.max_tokens_limit),
		},
		started,
		// 1,024 prompts or 64 MiB, whichever comes first.
		inputs: Arc::new(atoma_inference_worker::inputs::InputStore::new(1_024, 64 << 20)),
		node: args.node_rpc_url.clone().map(atoma_inference_worker::node_rpc::NodeRpc::new),
		outputs: Arc::new(
			atoma_inference_worker::delivery::OutputStore::open(
				&args.output_dir,
				args.max_stored_outputs,
			)
			.map_err(|e| format!("--output-dir {}: {e}", args.output_dir.display()))?,
		),
	};
	// The public address first: the `--listen` line below is the signal that the worker is ready.
	let public = match args.public_listen {
		Some(public_addr) => {
			let listener = tokio::net::TcpListener::bind(public_addr).await?;
			let addr = listener.local_addr()?;
			let app =
				api::public_router(state.clone(), args.max_body_bytes, args.request_timeout());
			tracing::info!(%addr, "public address: inputs only");
			let mut stdout = std::io::stdout().lock();
			writeln!(stdout, "atoma-worker public on http://{addr}")?;
			stdout.flush()?;
			let shutdown = shutdown.clone();
			Some(tokio::spawn(async move {
				axum::serve(listener, app)
					.with_graceful_shutdown(async move { shutdown.wait().await })
					.await
			}))
		},
		None => None,
	};
	let app = api::router(state, args.max_body_bytes, args.request_timeout());

	let listener = tokio::net::TcpListener::bind(args.listen).await?;
	let addr = listener.local_addr()?;
	tracing::info!(%addr, device = %args.device, "listening");
	{
		let mut stdout = std::io::stdout().lock();
		writeln!(stdout, "atoma-worker listening on http://{addr}")?;
		stdout.flush()?;
	}

	tokio::spawn(watch_signals(shutdown.clone()));
	if args.exit_on_stdin_close {
		watch_stdin(shutdown.clone());
	}

	let server = axum::serve(listener, app).with_graceful_shutdown({
		let shutdown = shutdown.clone();
		async move { shutdown.wait().await }
	});
	let grace = args.shutdown_grace();
	tokio::select! {
		result = server => result?,
		() = async { shutdown.wait().await; tokio::time::sleep(grace).await } => {
			tracing::warn!(grace_secs = grace.as_secs(), "grace period over; closing open connections");
		},
	}

	if let Some(public) = public {
		public.abort();
	}

	// Anything still running has no one left to deliver it to: the job store dies with us.
	let engine_for_stop = Arc::clone(&engine);
	tokio::task::spawn_blocking(move || engine_for_stop.stop()).await?;
	tracing::info!("shut down");
	Ok(())
}

/// Start draining on SIGINT (Ctrl-C) or SIGTERM (service managers, container runtimes).
async fn watch_signals(shutdown: Shutdown) {
	let ctrl_c = async {
		if let Err(e) = tokio::signal::ctrl_c().await {
			tracing::error!(error = %e, "cannot listen for SIGINT");
			std::future::pending::<()>().await;
		}
	};
	#[cfg(unix)]
	let terminate = async {
		match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
			Ok(mut signal) => {
				signal.recv().await;
			},
			Err(e) => {
				tracing::error!(error = %e, "cannot listen for SIGTERM");
				std::future::pending::<()>().await;
			},
		}
	};
	#[cfg(not(unix))]
	let terminate = std::future::pending::<()>();
	tokio::select! {
		() = ctrl_c => tracing::info!("SIGINT received"),
		() = terminate => tracing::info!("SIGTERM received"),
	}
	shutdown.start_draining();
}

/// Start draining when stdin reaches EOF (`--exit-on-stdin-close`). A plain thread: tokio's stdin
/// would also block a runtime thread.
fn watch_stdin(shutdown: Shutdown) {
	let spawned = std::thread::Builder::new().name("stdin-watch".into()).spawn(move || {
		let mut buf = [0u8; 256];
		let mut stdin = std::io::stdin().lock();
		loop {
			match std::io::Read::read(&mut stdin, &mut buf) {
				Ok(0) | Err(_) => break,
				Ok(_) => {},
			}
		}
		tracing::info!("stdin closed");
		shutdown.start_draining();
	});
	if let Err(e) = spawned {
		tracing::error!(error = %e, "cannot watch stdin");
	}
}

//! The part of the `wasm-opt` crate's API that `substrate-wasm-builder` calls, run by the
//! `wasm-opt` program of the system's Binaryen (Debian's `binaryen`; `WASM_OPT` names another
//! one) instead of Binaryen compiled from C++ source.
//!
//! `substrate-wasm-builder` runs two pipelines, both at optimisation level 0: compacting the
//! runtime blob (strip DWARF, lower sign-extension operators, keep names, MVP features only)
//! and, for debug blobs, lowering sign-extension operators in place. Binaryen releases before 110
//! have no `--signext-lowering` pass; with such a `wasm-opt` the lowering is replaced by
//! validating against MVP features, which rejects a blob that uses sign-extension operators
//! rather than passing it on. The runtime's target, `wasm32v1-none`, never emits them.

use std::{
	path::{Path, PathBuf},
	process::Command,
};

/// Passes `substrate-wasm-builder` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
	/// Lower sign-extension operators to MVP instructions.
	SignextLowering,
	/// Strip DWARF debug information.
	StripDwarf,
}

impl Pass {
	fn flag(self) -> &'static str {
		match self {
			Self::SignextLowering => "--signext-lowering",
			Self::StripDwarf => "--strip-dwarf",
		}
	}
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum OptimizationError {
	/// The `wasm-opt` program could not be started.
	#[error("cannot run {program}: {source} (install Debian's `binaryen`, or set WASM_OPT)")]
	Spawn {
		/// The program.
		program: PathBuf,
		/// Why.
		#[source]
		source: std::io::Error,
	},
	/// `wasm-opt` failed (the input did not validate, or a pass failed).
	#[error("{program} failed ({status}): {stderr}")]
	Failed {
		/// The program.
		program: PathBuf,
		/// Its exit status.
		status: std::process::ExitStatus,
		/// What it printed on stderr.
		stderr: String,
	},
}

/// An optimisation pipeline, built like the `wasm-opt` crate's.
#[derive(Clone, Debug, Default)]
pub struct OptimizationOptions {
	passes: Vec<Pass>,
	debug_info: bool,
	mvp_features_only: bool,
}

impl OptimizationOptions {
	/// No optimisation passes beyond those added.
	pub fn new_opt_level_0() -> Self {
		Self::default()
	}

	/// Run `pass` too.
	pub fn add_pass(&mut self, pass: Pass) -> &mut Self {
		self.passes.push(pass);
		self
	}

	/// Keep the names section.
	pub fn debug_info(&mut self, value: bool) -> &mut Self {
		self.debug_info = value;
		self
	}

	/// Allow MVP features only.
	pub fn mvp_features_only(&mut self) -> &mut Self {
		self.mvp_features_only = true;
		self
	}

	/// Read `infile`, run the pipeline, write `outfile` (which may be `infile`).
	pub fn run(
		&self,
		infile: impl AsRef<Path>,
		outfile: impl AsRef<Path>,
	) -> Result<(), OptimizationError> {
		let program = program();
		let supported = help_text(&program)?;
		let mut command = Command::new(&program);
		command.arg(infile.as_ref()).arg("-o").arg(outfile.as_ref()).arg("-O0");
		let mut mvp_only = self.mvp_features_only;
		for pass in &self.passes {
			if supported.contains(pass.flag()) {
				command.arg(pass.flag());
			} else if *pass == Pass::SignextLowering {
				// Without the pass, make sure there is nothing to lower.
				mvp_only = true;
			}
		}
		if mvp_only {
			command.arg("--mvp-features");
		}
		if self.debug_info {
			command.arg("--debuginfo");
		}
		let output = command
			.output()
			.map_err(|source| OptimizationError::Spawn { program: program.clone(), source })?;
		if !output.status.success() {
			return Err(OptimizationError::Failed {
				program,
				status: output.status,
				stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
			});
		}
		Ok(())
	}
}

/// `$WASM_OPT`, or `wasm-opt` on the `PATH`.
fn program() -> PathBuf {
	std::env::var_os("WASM_OPT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("wasm-opt"))
}

/// `wasm-opt --help`: which passes this Binaryen has.
fn help_text(program: &Path) -> Result<String, OptimizationError> {
	let output = Command::new(program)
		.arg("--help")
		.output()
		.map_err(|source| OptimizationError::Spawn { program: program.to_owned(), source })?;
	Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
	use super::*;

	/// A module with one exported function, in the binary format (MVP only).
	const MODULE: &[u8] = &[
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
		0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type: () -> i32
		0x03, 0x02, 0x01, 0x00, // function 0 has type 0
		0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, // export "f" = function 0
		0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x2a, 0x0b, // body: i32.const 42
	];

	/// The same with `i32.extend8_s`, a sign-extension operator.
	const SIGN_EXT: &[u8] = &[
		0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
		0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x07, 0x01, 0x05,
		0x00, 0x41, 0x2a, 0xc0, 0x0b,
	];

	fn temp(name: &str, bytes: &[u8]) -> PathBuf {
		let path =
			std::env::temp_dir().join(format!("atoma-wasm-opt-{}-{name}", std::process::id()));
		std::fs::write(&path, bytes).expect("temp file");
		path
	}

	#[test]
	fn compacts_an_mvp_module_like_the_wasm_builder() {
		let input = temp("in.wasm", MODULE);
		let output = input.with_extension("out.wasm");
		OptimizationOptions::new_opt_level_0()
			.mvp_features_only()
			.debug_info(true)
			.add_pass(Pass::StripDwarf)
			.add_pass(Pass::SignextLowering)
			.run(&input, &output)
			.expect("wasm-opt runs");
		let written = std::fs::read(&output).expect("output written");
		assert_eq!(&written[..4], b"\0asm");
		let _ = std::fs::remove_file(input);
		let _ = std::fs::remove_file(output);
	}

	#[test]
	fn sign_extension_is_lowered_or_refused_never_passed_on() {
		let input = temp("signext.wasm", SIGN_EXT);
		let output = input.with_extension("out.wasm");
		let result = OptimizationOptions::new_opt_level_0()
			.mvp_features_only()
			.add_pass(Pass::SignextLowering)
			.run(&input, &output);
		if help_text(&program()).expect("wasm-opt runs").contains("--signext-lowering") {
			result.expect("lowered");
			let written = std::fs::read(&output).expect("output written");
			assert!(!written.windows(2).any(|w| w == [0x2a, 0xc0]), "no extend8_s left");
		} else {
			assert!(matches!(result, Err(OptimizationError::Failed { .. })), "refused");
		}
		let _ = std::fs::remove_file(input);
		let _ = std::fs::remove_file(output);
	}
}

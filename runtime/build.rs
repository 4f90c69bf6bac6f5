fn main() {
	#[cfg(feature = "std")]
	{
		// The wasm runtime is built by a nested cargo inside the target directory. When that
		// directory lives outside the repository (CI's shared CARGO_TARGET_DIR), the builder
		// cannot find our Cargo.lock on its own and would resolve fresh, unpinned versions.
		if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
			let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
			let workspace = std::path::Path::new(&manifest_dir).join("..");
			std::env::set_var("WASM_BUILD_WORKSPACE_HINT", workspace);
		}
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}

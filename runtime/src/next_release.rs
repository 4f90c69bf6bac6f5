//! This runtime's code as its next release looks to an upgrade: the same Wasm with the
//! `spec_version` in its `runtime_version` custom section raised by one.
//!
//! For the tests of the upgrade path: `tests::governance` (both houses authorize it, anyone
//! applies it) and the local network's end-to-end test (the three validators switch to it and
//! keep finalizing). A real release is another build, but what an upgrade checks is the same for
//! both: `system.apply_authorized_upgrade` compares the code's hash with the authorized one, and
//! the embedded version's spec name and spec version with the running runtime's; the node reads
//! the embedded version to know which code runs a block. The raised version is only in the
//! section: the code still reports the compiled `VERSION` from `Core_version`, so transactions
//! signed for the new version after such an upgrade are refused (the tests stop there).

use alloc::{string::String, vec::Vec};
use codec::Decode;

/// The most a compressed runtime may expand to.
const CODE_BOMB_LIMIT: usize = 64 * 1024 * 1024;

/// This runtime's compressed code with `spec_version` one above [`crate::VERSION`]'s.
pub fn code() -> Result<Vec<u8>, String> {
	let compressed = crate::WASM_BINARY.ok_or("the runtime's wasm was not built")?;
	let mut code = sp_maybe_compressed_blob::decompress(compressed, CODE_BOMB_LIMIT)
		.map_err(|e| alloc::format!("{e}"))?
		.into_owned();
	let (start, end) = version_section(&code)?;
	// `spec_name` and `impl_name` (SCALE strings), `authoring_version` (u32), then `spec_version`.
	let mut rest = &code[start..end];
	for field in ["spec_name", "impl_name"] {
		String::decode(&mut rest).map_err(|_| alloc::format!("{field} does not decode"))?;
	}
	u32::decode(&mut rest).map_err(|_| "authoring_version does not decode")?;
	let at = end - rest.len();
	let spec_version = u32::decode(&mut rest).map_err(|_| "spec_version does not decode")?;
	if spec_version != crate::VERSION.spec_version {
		return Err(alloc::format!("embedded spec_version {spec_version} is not VERSION's"));
	}
	code[at..at + 4].copy_from_slice(&(spec_version + 1).to_le_bytes());
	sp_maybe_compressed_blob::compress_weakly(&code, CODE_BOMB_LIMIT)
		.ok_or_else(|| "too large".into())
}

/// The encoded `RuntimeVersion` embedded in `code` (compressed or not): what
/// `sp_io::misc::runtime_version` returns for it on a node.
pub fn embedded_version(code: &[u8]) -> Result<Vec<u8>, String> {
	let code = sp_maybe_compressed_blob::decompress(code, CODE_BOMB_LIMIT)
		.map_err(|e| alloc::format!("{e}"))?;
	let (start, end) = version_section(&code)?;
	Ok(code[start..end].to_vec())
}

/// The byte range of the content of a Wasm module's `runtime_version` custom section.
fn version_section(code: &[u8]) -> Result<(usize, usize), String> {
	fn leb128(code: &[u8], at: &mut usize) -> Result<usize, String> {
		let (mut value, mut shift) = (0usize, 0u32);
		loop {
			let byte = *code.get(*at).ok_or("truncated section header")?;
			*at += 1;
			value |= usize::from(byte & 0x7f).checked_shl(shift).ok_or("LEB128 overflow")?;
			if byte & 0x80 == 0 {
				return Ok(value);
			}
			shift += 7;
		}
	}
	// The magic number and version come first; then sections, each an id byte and a size.
	let mut at = 8;
	while at < code.len() {
		let id = code[at];
		at += 1;
		let size = leb128(code, &mut at)?;
		let end = at.checked_add(size).filter(|end| *end <= code.len()).ok_or("bad section")?;
		if id == 0 {
			let mut name_at = at;
			let name_len = leb128(code, &mut name_at)?;
			if code.get(name_at..name_at.saturating_add(name_len))
				== Some(b"runtime_version".as_slice())
			{
				return Ok((name_at + name_len, end));
			}
		}
		at = end;
	}
	Err("no runtime_version section".into())
}

#[cfg(test)]
mod tests {
	#[test]
	fn the_next_release_differs_only_in_its_spec_version() {
		let code = super::code().expect("builds");
		let decode = |code: &[u8]| {
			let bytes = super::embedded_version(code).expect("a version section");
			<sp_version::RuntimeVersion as codec::Decode>::decode(&mut &bytes[..]).expect("decodes")
		};
		let this = decode(crate::WASM_BINARY.expect("built"));
		let next = decode(&code);
		assert_eq!(this.spec_version, crate::VERSION.spec_version);
		assert_eq!(next.spec_version, this.spec_version + 1);
		assert_eq!(next.spec_name, this.spec_name);
		assert_eq!(next.impl_version, this.impl_version);
		assert_eq!(next.transaction_version, this.transaction_version);
	}
}

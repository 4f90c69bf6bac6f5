//! Weights Merkle root of a model file, streamed from disk.
//!
//! The chain registers one weights root per model (protocol §4) and every node checks its local
//! file against it before serving. The root is computed by
//! [`atoma_primitives::weights::WeightsHasher`]; this module only feeds it the file in bounded
//! reads so a multi-gigabyte model never has to fit in memory.

use std::{
	fs::File,
	io::{self, Read},
	path::Path,
};

use atoma_primitives::WeightsDigest;

/// Read buffer size. Any size gives the same root (the hasher re-chunks to 1 MiB); 4 MiB keeps the
/// number of `read` calls low on fast disks.
const READ_BUF: usize = 4 << 20;

/// Weights digest (root, total length, chunk count) of the file at `path`.
pub fn digest_file(path: &Path) -> io::Result<WeightsDigest> {
	let mut file = File::open(path)?;
	digest_reader(&mut file)
}

/// Weights digest of everything `reader` yields.
pub fn digest_reader(reader: &mut impl Read) -> io::Result<WeightsDigest> {
	let mut hasher = atoma_primitives::WeightsHasher::new();
	let mut buf = vec![0u8; READ_BUF];
	loop {
		let n = match reader.read(&mut buf) {
			Ok(0) => break,
			Ok(n) => n,
			Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
			Err(e) => return Err(e),
		};
		hasher.update(buf.get(..n).unwrap_or_default());
	}
	Ok(hasher.finalize())
}

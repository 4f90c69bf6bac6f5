//! Weights root: a Merkle commitment to a model-weights file.
//!
//! Every node in a quorum must run *the same* model. The chain stores one
//! weights root per registered model and each worker recomputes it over its
//! local file before serving. Because the root is a Merkle tree over
//! fixed-size chunks, a dispute about "which weights did you load" can be
//! settled by revealing a single 1 MiB chunk plus a logarithmic proof
//! ([`verify_weights_chunk`]) instead of a multi-gigabyte file.
//!
//! ## Layout
//!
//! ```text
//! chunk_i      = bytes[i * 1 MiB .. min((i + 1) * 1 MiB, total_len)]
//! leaf_i       = H(b"atoma/weights-chunk/v1" ‖ i as u64 LE ‖ chunk_i)
//! merkle_root  = crate::merkle::merkle_root(b"atoma/weights-node/v1", [leaf_0, …])
//! weights_root = H(b"atoma/weights-root/v1" ‖ total_len as u64 LE ‖ merkle_root)
//! ```
//!
//! * The chunk size is a fixed protocol constant ([`WEIGHTS_CHUNK_SIZE`]) so
//!   every implementation splits the file identically. Only the last chunk
//!   may be shorter; an empty file has zero chunks (and the Merkle root of
//!   zero leaves, `H(b"atoma/weights-node/v1")`).
//! * The chunk index is inside each leaf, so chunks cannot be reordered
//!   without changing leaves.
//! * `total_len` is bound into the final root. This pins the exact number of
//!   chunks and the length of the last chunk, so files that differ only by a
//!   truncation (e.g. to a chunk boundary) always have different roots, and a
//!   verifier can derive the tree shape (`leaf_count`) from the root's
//!   preimage alone.
//! * Indices and lengths are `u64`, never `usize`, so a 32-bit wasm runtime
//!   and a 64-bit worker agree.
//!
//! [`WeightsHasher`] computes the same root incrementally, holding at most one
//! chunk plus 32 bytes per chunk in memory, so a worker can hash a file of
//! many gigabytes straight from disk.

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use core::fmt;
use scale_info::TypeInfo;

use crate::hash::{hash, hash_tagged, Hash, TAG_WEIGHTS_CHUNK, TAG_WEIGHTS_NODE, TAG_WEIGHTS_ROOT};
use crate::merkle::{merkle_proof, merkle_root, root_from_proof, MerkleProof};

/// Size of one weights chunk: 1 MiB. A protocol constant; changing it changes
/// every weights root and therefore requires bumping the weights tags.
pub const WEIGHTS_CHUNK_SIZE: usize = 1 << 20;

/// [`WEIGHTS_CHUNK_SIZE`] as a `u64`, for platform-independent arithmetic on
/// file offsets.
const CHUNK_SIZE_U64: u64 = WEIGHTS_CHUNK_SIZE as u64;

/// Length of `tag ‖ chunk_index` at the start of every chunk-leaf preimage.
const CHUNK_PREFIX_LEN: usize = TAG_WEIGHTS_CHUNK.len() + 8;

/// Summary of a weights file: its root plus the two numbers a verifier needs
/// to check chunk proofs against it.
///
/// SCALE-encodable and bounded so the runtime's model registry can store it
/// as is.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub struct WeightsDigest {
	/// `H(b"atoma/weights-root/v1" ‖ total_len ‖ merkle_root)`.
	pub root: Hash,
	/// File length in bytes.
	pub total_len: u64,
	/// Number of chunks, `ceil(total_len / WEIGHTS_CHUNK_SIZE)`; redundant with
	/// `total_len` but convenient for bounding proofs.
	pub chunk_count: u64,
}

/// `leaf_i = H(b"atoma/weights-chunk/v1" ‖ chunk_index as u64 LE ‖ chunk)`.
pub fn chunk_leaf(chunk_index: u64, chunk: &[u8]) -> Hash {
	hash_tagged(TAG_WEIGHTS_CHUNK, &[&chunk_index.to_le_bytes(), chunk])
}

/// `H(b"atoma/weights-root/v1" ‖ total_len as u64 LE ‖ merkle_root)` — the
/// final step that binds the file length to the chunk tree.
pub fn combine_weights_root(total_len: u64, merkle_root: &Hash) -> Hash {
	hash_tagged(TAG_WEIGHTS_ROOT, &[&total_len.to_le_bytes(), merkle_root])
}

/// Number of chunks of a file of `total_len` bytes (0 for an empty file).
pub fn chunk_count_for_len(total_len: u64) -> u64 {
	total_len.div_ceil(CHUNK_SIZE_U64)
}

/// Length chunk `chunk_index` must have in a file of `total_len` bytes, or
/// `None` if there is no such chunk. Used to reject a revealed chunk of the
/// wrong size before hashing it.
pub fn expected_chunk_len(total_len: u64, chunk_index: u64) -> Option<u64> {
	if chunk_index >= chunk_count_for_len(total_len) {
		return None;
	}
	let start = chunk_index.checked_mul(CHUNK_SIZE_U64)?;
	let remaining = total_len.checked_sub(start)?;
	Some(remaining.min(CHUNK_SIZE_U64))
}

/// Incremental weights-root computation.
///
/// Feed the file in slices of any size with [`update`](Self::update); the
/// result of [`finalize`](Self::finalize) is identical to
/// [`weights_digest`] over the concatenation, however the input was split.
/// Memory use is one chunk buffer plus 32 bytes per completed chunk.
#[derive(Clone)]
pub struct WeightsHasher {
	/// `tag ‖ current chunk index ‖ bytes of the current chunk so far`; hashed
	/// in place when full, so each byte is copied exactly once.
	buf: Vec<u8>,
	/// Leaves of completed chunks.
	leaves: Vec<Hash>,
	/// Bytes consumed so far.
	total_len: u64,
}

/// Summarised so that debug-printing a hasher does not dump a 1 MiB buffer.
impl fmt::Debug for WeightsHasher {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("WeightsHasher")
			.field("total_len", &self.total_len)
			.field("completed_chunks", &self.leaves.len())
			.field("pending_len", &self.pending_len())
			.finish()
	}
}

impl Default for WeightsHasher {
	fn default() -> Self {
		Self::new()
	}
}

impl WeightsHasher {
	/// A hasher for an empty file. Allocates one chunk buffer (1 MiB).
	pub fn new() -> Self {
		let mut buf = Vec::new();
		let _ = buf.try_reserve_exact(CHUNK_PREFIX_LEN.saturating_add(WEIGHTS_CHUNK_SIZE));
		buf.extend_from_slice(TAG_WEIGHTS_CHUNK);
		buf.extend_from_slice(&0u64.to_le_bytes());
		Self { buf, leaves: Vec::new(), total_len: 0 }
	}

	/// Bytes of the current, not yet complete, chunk.
	fn pending_len(&self) -> usize {
		self.buf.len().saturating_sub(CHUNK_PREFIX_LEN)
	}

	/// Hash the buffered chunk, record its leaf and reset the buffer for the
	/// next chunk index.
	fn flush_chunk(&mut self) {
		self.leaves.push(hash(&self.buf));
		self.buf.truncate(CHUNK_PREFIX_LEN);
		let next_index = u64::try_from(self.leaves.len()).unwrap_or(u64::MAX);
		if let Some((_, index_bytes)) = self.buf.split_last_chunk_mut::<8>() {
			*index_bytes = next_index.to_le_bytes();
		}
	}

	/// Absorb the next `data.len()` bytes of the file. Any slice size works,
	/// including empty slices and slices spanning several chunks.
	pub fn update(&mut self, data: &[u8]) {
		let mut rest = data;
		while !rest.is_empty() {
			let space = WEIGHTS_CHUNK_SIZE.saturating_sub(self.pending_len());
			let (take, tail) = rest.split_at_checked(space.min(rest.len())).unwrap_or((rest, &[]));
			self.buf.extend_from_slice(take);
			self.total_len =
				self.total_len.saturating_add(u64::try_from(take.len()).unwrap_or(u64::MAX));
			// Flush eagerly when full: a file that ends exactly on a chunk
			// boundary must not get an extra empty chunk, and `finalize` only
			// flushes a non-empty partial chunk.
			if self.pending_len() >= WEIGHTS_CHUNK_SIZE {
				self.flush_chunk();
			}
			rest = tail;
		}
	}

	/// Bytes absorbed so far.
	pub fn total_len(&self) -> u64 {
		self.total_len
	}

	/// Finish and return the digest.
	pub fn finalize(self) -> WeightsDigest {
		self.finalize_with_leaves().0
	}

	/// Finish and also return the chunk leaves, so a worker can later build
	/// chunk proofs ([`weights_chunk_proof`]) without rehashing the file.
	pub fn finalize_with_leaves(mut self) -> (WeightsDigest, Vec<Hash>) {
		if self.pending_len() > 0 {
			self.flush_chunk();
		}
		let root =
			combine_weights_root(self.total_len, &merkle_root(TAG_WEIGHTS_NODE, &self.leaves));
		let digest = WeightsDigest {
			root,
			total_len: self.total_len,
			chunk_count: u64::try_from(self.leaves.len()).unwrap_or(u64::MAX),
		};
		(digest, self.leaves)
	}
}

/// One-shot [`WeightsDigest`] of an in-memory file.
///
/// Implemented directly (not via [`WeightsHasher`]) so that the equality of
/// the two code paths is a meaningful test.
pub fn weights_digest(bytes: &[u8]) -> WeightsDigest {
	let leaves: Vec<Hash> = (0u64..)
		.zip(bytes.chunks(WEIGHTS_CHUNK_SIZE))
		.map(|(i, chunk)| chunk_leaf(i, chunk))
		.collect();
	let total_len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
	WeightsDigest {
		root: combine_weights_root(total_len, &merkle_root(TAG_WEIGHTS_NODE, &leaves)),
		total_len,
		chunk_count: u64::try_from(leaves.len()).unwrap_or(u64::MAX),
	}
}

/// One-shot weights root of an in-memory file (convenience for tests and
/// small files; use [`WeightsHasher`] for real model files).
pub fn weights_root(bytes: &[u8]) -> Hash {
	weights_digest(bytes).root
}

/// Inclusion proof for chunk `chunk_index`, given the leaves from
/// [`WeightsHasher::finalize_with_leaves`]. `None` if out of range.
pub fn weights_chunk_proof(leaves: &[Hash], chunk_index: u64) -> Option<MerkleProof> {
	merkle_proof(TAG_WEIGHTS_NODE, leaves, chunk_index)
}

/// Whether `chunk` is chunk `chunk_index` of the file with weights root
/// `root` and length `total_len`.
///
/// The runtime-side dispute check: the chunk's length must be exactly what
/// `total_len` dictates, the leaf is recomputed from the revealed bytes, the
/// tree shape comes from `total_len`, and the result is re-wrapped with the
/// length before comparing with `root`. Never panics.
pub fn verify_weights_chunk(
	root: &Hash,
	total_len: u64,
	chunk_index: u64,
	chunk: &[u8],
	proof: &MerkleProof,
) -> bool {
	let Some(expected_len) = expected_chunk_len(total_len, chunk_index) else {
		return false;
	};
	if u64::try_from(chunk.len()).ok() != Some(expected_len) {
		return false;
	}
	let leaf = chunk_leaf(chunk_index, chunk);
	root_from_proof(TAG_WEIGHTS_NODE, &leaf, chunk_index, chunk_count_for_len(total_len), proof)
		.is_some_and(|m| &combine_weights_root(total_len, &m) == root)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn chunk_lengths() {
		assert_eq!(chunk_count_for_len(0), 0);
		assert_eq!(chunk_count_for_len(1), 1);
		assert_eq!(chunk_count_for_len(CHUNK_SIZE_U64), 1);
		assert_eq!(chunk_count_for_len(CHUNK_SIZE_U64 + 1), 2);
		assert_eq!(expected_chunk_len(0, 0), None);
		assert_eq!(expected_chunk_len(CHUNK_SIZE_U64 + 1, 0), Some(CHUNK_SIZE_U64));
		assert_eq!(expected_chunk_len(CHUNK_SIZE_U64 + 1, 1), Some(1));
		assert_eq!(expected_chunk_len(CHUNK_SIZE_U64 + 1, 2), None);
		assert_eq!(
			expected_chunk_len(u64::MAX, u64::MAX / CHUNK_SIZE_U64),
			Some(CHUNK_SIZE_U64 - 1)
		);
	}

	#[test]
	fn debug_is_summarised() {
		let mut h = WeightsHasher::new();
		h.update(&[1, 2, 3]);
		let s = alloc::format!("{h:?}");
		assert!(s.len() < 120, "{s}");
		assert!(s.contains("pending_len: 3"), "{s}");
	}

	#[test]
	fn empty_file() {
		let d = WeightsHasher::new().finalize();
		assert_eq!(d.chunk_count, 0);
		assert_eq!(d.total_len, 0);
		assert_eq!(d.root, combine_weights_root(0, &hash(TAG_WEIGHTS_NODE)));
		assert_eq!(d, weights_digest(&[]));
	}
}

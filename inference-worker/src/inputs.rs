//! Inputs given by hash (protocol §5): a request on chain may carry only the blake2-256 hash of
//! its prompt; the user uploads the bytes to the selected workers (`PUT /v1/inputs/{hash}`), which
//! check the hash before keeping them. Jobs then name the input by hash (`input_hash`).
//!
//! The store is bounded (entries and bytes); the oldest uploads are dropped first.

use std::{
	collections::{HashMap, VecDeque},
	sync::Mutex,
};

/// Bounded, hash-checked prompt uploads.
#[derive(Debug)]
pub struct InputStore {
	inner: Mutex<Inner>,
	max_entries: usize,
	max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
	by_hash: HashMap<[u8; 32], Vec<u8>>,
	order: VecDeque<[u8; 32]>,
	bytes: usize,
}

/// Why an upload was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadError {
	/// The bytes do not hash to the named hash.
	HashMismatch,
	/// One upload is larger than the whole store.
	TooLarge,
}

impl InputStore {
	/// A store of at most `max_entries` inputs and `max_bytes` bytes.
	pub fn new(max_entries: usize, max_bytes: usize) -> Self {
		Self { inner: Mutex::new(Inner::default()), max_entries, max_bytes }
	}

	/// Keep `bytes` if they hash to `hash` (blake2-256, as on chain).
	pub fn put(&self, hash: [u8; 32], bytes: Vec<u8>) -> Result<(), UploadError> {
		if atoma_primitives::hash::hash(&bytes) != hash {
			return Err(UploadError::HashMismatch);
		}
		if bytes.len() > self.max_bytes {
			return Err(UploadError::TooLarge);
		}
		let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
		if inner.by_hash.contains_key(&hash) {
			return Ok(());
		}
		while inner.order.len() >= self.max_entries
			|| inner.bytes.saturating_add(bytes.len()) > self.max_bytes
		{
			let Some(oldest) = inner.order.pop_front() else { break };
			if let Some(dropped) = inner.by_hash.remove(&oldest) {
				inner.bytes = inner.bytes.saturating_sub(dropped.len());
			}
		}
		inner.bytes = inner.bytes.saturating_add(bytes.len());
		inner.order.push_back(hash);
		inner.by_hash.insert(hash, bytes);
		Ok(())
	}

	/// The uploaded bytes of `hash`.
	pub fn get(&self, hash: &[u8; 32]) -> Option<Vec<u8>> {
		self.inner.lock().unwrap_or_else(|p| p.into_inner()).by_hash.get(hash).cloned()
	}
}

/// 64 hex digits as a hash.
pub fn parse_hash(hex_str: &str) -> Option<[u8; 32]> {
	let mut out = [0u8; 32];
	hex::decode_to_slice(hex_str.trim_start_matches("0x"), &mut out).ok()?;
	Some(out)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn uploads_are_checked_and_bounded() {
		let store = InputStore::new(2, 10);
		let (a, b, c) = (b"abc".to_vec(), b"defg".to_vec(), b"hijkl".to_vec());
		let h = |x: &[u8]| atoma_primitives::hash::hash(x);
		assert_eq!(store.put(h(&a), b.clone()), Err(UploadError::HashMismatch));
		assert_eq!(store.put(h(&[0; 11]), vec![0; 11]), Err(UploadError::TooLarge));
		store.put(h(&a), a.clone()).unwrap();
		store.put(h(&b), b.clone()).unwrap();
		assert_eq!(store.get(&h(&a)), Some(a.clone()));
		// A third entry evicts the oldest (count bound); bytes stay within 10.
		store.put(h(&c), c.clone()).unwrap();
		assert_eq!(store.get(&h(&a)), None);
		assert_eq!(store.get(&h(&c)), Some(c));
		assert_eq!(parse_hash(&hex::encode(h(&b))), Some(h(&b)));
		assert_eq!(parse_hash("zz"), None);
	}
}

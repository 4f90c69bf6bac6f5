//! Ids that cross pallet boundaries. Newtypes, so a node id can never be passed as an echelon id.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::ConstU32, BoundedVec};
use scale_info::TypeInfo;

/// An epoch: `EpochLength` blocks of the node registry. Epoch 0 starts at genesis.
pub type EpochIndex = u32;

/// The longest model id, in bytes.
pub const MAX_MODEL_ID_LEN: u32 = 64;

/// An execution node, numbered from 0 in registration order.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
	Default,
)]
pub struct NodeId(pub u64);

/// An inference request, numbered from 0 in submission order.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
	Default,
)]
pub struct RequestId(pub u64);

/// A hardware echelon, numbered from 0 in registration order.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Hash,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
	Default,
)]
pub struct EchelonId(pub u32);

/// A model's id: a short name chosen at registration, such as `smollm2-135m-instruct`. The
/// inference worker serves the model under the same name.
#[derive(
	Clone,
	PartialEq,
	Eq,
	PartialOrd,
	Ord,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
	Default,
)]
pub struct ModelId(pub BoundedVec<u8, ConstU32<MAX_MODEL_ID_LEN>>);

impl ModelId {
	/// The id named by `name`, if it is 1 to [`MAX_MODEL_ID_LEN`] bytes of lowercase ASCII
	/// letters, digits, `-`, `_` and `.`; the characters a URL path and a file name can carry
	/// without escaping.
	pub fn from_name(name: &[u8]) -> Option<Self> {
		let valid_char = |c: &u8| {
			c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.')
		};
		if name.is_empty() || !name.iter().all(valid_char) {
			return None;
		}
		BoundedVec::try_from(name.to_vec()).ok().map(Self)
	}

	/// The id's bytes.
	pub fn as_bytes(&self) -> &[u8] {
		&self.0
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn model_ids_accept_names_and_reject_the_rest() {
		assert!(ModelId::from_name(b"smollm2-135m-instruct").is_some());
		assert!(ModelId::from_name(b"llama-3.1_8b").is_some());
		assert!(ModelId::from_name(b"").is_none());
		assert!(ModelId::from_name(b"Upper").is_none());
		assert!(ModelId::from_name(b"with space").is_none());
		assert!(ModelId::from_name(&[b'a'; 64]).is_some());
		assert!(ModelId::from_name(&[b'a'; 65]).is_none());
	}
}

//! Reading an input given by hash from another node's worker (protocol §5).
//!
//! A request may carry only the hash of its prompt; the user uploads the bytes to the workers of
//! the nodes it sees selected. Every other node that must run the request (a Cross-Validation
//! verifier, a replacement after a timeout, a dispute's arbiter, a selected node the user skipped)
//! reads the input from one that has it: `GET /v1/inputs/{hash}` on that node's worker (its URL is
//! in the node registry), with the headers below. The reader signs [`signing_bytes`] with its
//! worker key; a verifier adds its VRF sortition proof.
//!
//! The serving worker cannot see the chain, so it forwards the headers as an [`InputReadAuth`] to
//! its own node (JSON-RPC `atoma_authorizeInputRead`), which checks the signature and the reader's
//! role in the request against chain state, and the timestamp against its clock
//! ([`MAX_CLOCK_SKEW_SECS`]). Only then does the worker answer with the bytes.
//!
//! Layout of the signed bytes (fixed width, little-endian, like every preimage here):
//! `b"atoma/input-read/v1" ‖ chain (32) ‖ request (u64) ‖ input hash (32) ‖ unix seconds (u64)`.

use alloc::{string::String, vec::Vec};

use crate::hash::TAG_INPUT_READ;

/// The request whose input is read (decimal).
pub const HEADER_REQUEST: &str = "x-atoma-request";
/// The reader's worker key (64 hex digits).
pub const HEADER_READER: &str = "x-atoma-reader";
/// Unix seconds when the reader signed (decimal).
pub const HEADER_TIMESTAMP: &str = "x-atoma-timestamp";
/// The reader's sr25519 signature of [`signing_bytes`] (128 hex digits).
pub const HEADER_SIGNATURE: &str = "x-atoma-signature";
/// A Cross-Validation verifier's VRF sortition proof (192 hex digits); absent for other roles.
pub const HEADER_VRF_PROOF: &str = "x-atoma-vrf-proof";

/// A signed read is accepted this long before or after the serving node's clock: long enough for
/// clocks that drift, short enough that a captured header set goes stale.
pub const MAX_CLOCK_SKEW_SECS: u64 = 120;

/// The bytes a reader signs with its worker key to read `input_hash`, the input of `request` on
/// the chain whose genesis hash is `chain`, at unix time `timestamp`.
pub fn signing_bytes(
	chain: &[u8; 32],
	request: u64,
	input_hash: &[u8; 32],
	timestamp: u64,
) -> Vec<u8> {
	let mut out = Vec::with_capacity(TAG_INPUT_READ.len().saturating_add(80));
	out.extend_from_slice(TAG_INPUT_READ);
	out.extend_from_slice(chain);
	out.extend_from_slice(&request.to_le_bytes());
	out.extend_from_slice(input_hash);
	out.extend_from_slice(&timestamp.to_le_bytes());
	out
}

/// A read's credentials as the serving worker forwards them to its node: the headers, unparsed
/// beyond their presence (the node decodes and checks them).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputReadAuth {
	/// The request (decimal).
	pub request: String,
	/// The input's hash (hex), from the path.
	pub input_hash: String,
	/// The reader's worker key (hex).
	pub reader: String,
	/// Unix seconds (decimal).
	pub timestamp: String,
	/// The signature (hex).
	pub signature: String,
	/// A verifier's VRF proof (hex).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub vrf_proof: Option<String>,
}

impl InputReadAuth {
	/// The credentials of a read of `input_hash` from its headers (`header(name)` gives a
	/// header's value); `Err` names the first header that is missing.
	pub fn from_headers<'a>(
		input_hash: &str,
		header: impl Fn(&str) -> Option<&'a str>,
	) -> Result<Self, &'static str> {
		let required = |name: &'static str| header(name).map(String::from).ok_or(name);
		Ok(Self {
			request: required(HEADER_REQUEST)?,
			input_hash: String::from(input_hash),
			reader: required(HEADER_READER)?,
			timestamp: required(HEADER_TIMESTAMP)?,
			signature: required(HEADER_SIGNATURE)?,
			vrf_proof: header(HEADER_VRF_PROOF).map(String::from),
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_signed_bytes_are_the_documented_layout() {
		let bytes = signing_bytes(&[1; 32], 0x0102, &[2; 32], 0x0a0b);
		let mut expected = b"atoma/input-read/v1".to_vec();
		expected.extend([1; 32]);
		expected.extend([0x02, 0x01, 0, 0, 0, 0, 0, 0]);
		expected.extend([2; 32]);
		expected.extend([0x0b, 0x0a, 0, 0, 0, 0, 0, 0]);
		assert_eq!(bytes, expected);
	}

	#[test]
	fn credentials_come_from_the_headers_and_name_what_is_missing() {
		let headers = [
			(HEADER_REQUEST, "7"),
			(HEADER_READER, "aa"),
			(HEADER_TIMESTAMP, "100"),
			(HEADER_SIGNATURE, "bb"),
		];
		let lookup = |skip: &'static str| {
			move |name: &str| {
				headers.iter().find(|(n, _)| *n == name && *n != skip).map(|(_, v)| *v)
			}
		};
		let auth = InputReadAuth::from_headers("cc", lookup("")).unwrap();
		assert_eq!(auth.request, "7");
		assert_eq!(auth.input_hash, "cc");
		assert_eq!(auth.vrf_proof, None);
		assert_eq!(
			InputReadAuth::from_headers("cc", lookup(HEADER_SIGNATURE)),
			Err(HEADER_SIGNATURE)
		);
		let json = serde_json::to_string(&auth).unwrap();
		assert_eq!(
			json,
			r#"{"request":"7","inputHash":"cc","reader":"aa","timestamp":"100","signature":"bb"}"#
		);
	}
}

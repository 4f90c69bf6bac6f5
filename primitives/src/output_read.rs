//! How a request's owner reads its output from a worker (protocol §5, delivery).
//!
//! Every selected node's worker keeps the output of its chain jobs and serves it to the request's
//! owner alone: `GET /v1/requests/{request}/output` on the worker's public URL (the one in the
//! node registry), streamed (server-sent events) while it is generated and whole afterwards. The
//! owner proves itself with its account key: an sr25519 signature of [`signing_bytes`], sent in
//! the headers below. The worker was told the owner, the chain and the request by its own node
//! when the job was posted, so it checks the signature itself, without asking anyone.
//!
//! The signed bytes are what polkadot.js signs for a message, so a browser wallet can sign them:
//! `signRaw({ type: 'bytes', data: stringToHex(message) })` in an extension, or
//! `pair.sign(u8aWrapBytes(stringToU8a(message)))` with a keyring pair. Both wrap the message in
//! `<Bytes>…</Bytes>` (which is what keeps a signed message from ever being a valid transaction),
//! so the bytes are:
//!
//! ```text
//! <Bytes>atoma/output-read/v1 chain=0x{genesis hash, 64 hex} request={decimal} timestamp={decimal unix seconds}</Bytes>
//! ```
//!
//! A signature is accepted [`MAX_CLOCK_SKEW_SECS`] before or after the worker's clock; within
//! that window it reads only the owner's own output, which the owner's own client holds anyway.

use alloc::{format, string::String, vec::Vec};

use crate::hash::{to_hex, TAG_OUTPUT_READ};

/// The owner's account: its sr25519 public key (64 hex digits, with or without `0x`).
pub const HEADER_ACCOUNT: &str = "x-atoma-account";
/// Unix seconds when the owner signed (decimal).
pub const HEADER_TIMESTAMP: &str = "x-atoma-timestamp";
/// The owner's sr25519 signature of [`signing_bytes`] (128 hex digits, with or without `0x`).
pub const HEADER_SIGNATURE: &str = "x-atoma-signature";

/// A signature is accepted this long before or after the worker's clock.
pub const MAX_CLOCK_SKEW_SECS: u64 = crate::input_read::MAX_CLOCK_SKEW_SECS;

/// polkadot.js wraps every message it signs in these (`u8aWrapBytes`).
pub const WRAP_PREFIX: &[u8] = b"<Bytes>";
/// The closing half of the wrapping.
pub const WRAP_SUFFIX: &[u8] = b"</Bytes>";

/// The message the owner of `request`, on the chain whose genesis hash is `chain`, signs at unix
/// time `timestamp`: readable, so a wallet shows the user what it signs.
pub fn message(chain: &[u8; 32], request: u64, timestamp: u64) -> String {
	let tag = core::str::from_utf8(TAG_OUTPUT_READ).unwrap_or_default();
	format!("{tag} chain=0x{} request={request} timestamp={timestamp}", to_hex(chain))
}

/// The bytes the signature is over: [`message`] wrapped as polkadot.js wraps what it signs.
pub fn signing_bytes(chain: &[u8; 32], request: u64, timestamp: u64) -> Vec<u8> {
	let message = message(chain, request, timestamp);
	let mut out = Vec::with_capacity(
		WRAP_PREFIX.len().saturating_add(message.len()).saturating_add(WRAP_SUFFIX.len()),
	);
	out.extend_from_slice(WRAP_PREFIX);
	out.extend_from_slice(message.as_bytes());
	out.extend_from_slice(WRAP_SUFFIX);
	out
}

/// What a node tells its worker about a chain job, so that the worker delivers the output to the
/// request's owner: the `delivery` field of the job body (`POST /v1/jobs`). Only publicly
/// selected nodes send one: a Cross-Validation verifier stays unknown, so its worker answers for
/// no request.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryTicket {
	/// The chain's request id.
	pub request: u64,
	/// The request's owner: its account's sr25519 public key (64 hex digits).
	pub owner: String,
	/// The chain's genesis hash (64 hex digits), part of what the owner signs.
	pub chain: String,
}

impl DeliveryTicket {
	/// The ticket of `request`, owned by the account `owner` on the chain `chain`.
	pub fn new(request: u64, owner: &[u8; 32], chain: &[u8; 32]) -> Self {
		Self { request, owner: to_hex(owner), chain: to_hex(chain) }
	}
}

/// Whether a signature made at `timestamp` is still (or already) acceptable at `now`.
pub fn is_fresh(timestamp: u64, now: u64) -> bool {
	timestamp.abs_diff(now) <= MAX_CLOCK_SKEW_SECS
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Produced by polkadot.js 16.5.6 (`clients/`), not by this crate:
	/// `u8aToHex(u8aWrapBytes(stringToU8a(message)))` for chain `0x0101…01`, request 42,
	/// timestamp 1764700000.
	const POLKADOT_JS_SIGNED_BYTES: &str = "0x3c42797465733e61746f6d612f6f75747075742d726561642f763120636861696e3d30783031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303120726571756573743d34322074696d657374616d703d313736343730303030303c2f42797465733e";

	#[test]
	fn the_signed_bytes_are_what_polkadot_js_signs_for_the_message() {
		let chain = [1u8; 32];
		assert_eq!(
			message(&chain, 42, 1_764_700_000),
			"atoma/output-read/v1 chain=0x0101010101010101010101010101010101010101010101010101010101010101 request=42 timestamp=1764700000"
		);
		let bytes = signing_bytes(&chain, 42, 1_764_700_000);
		assert_eq!(format!("0x{}", to_hex(&bytes)), POLKADOT_JS_SIGNED_BYTES);
	}

	#[test]
	fn a_ticket_is_plain_json() {
		let ticket = DeliveryTicket::new(7, &[0xaa; 32], &[0x01; 32]);
		let json = serde_json::to_string(&ticket).unwrap();
		assert_eq!(
			json,
			format!(
				r#"{{"request":7,"owner":"{}","chain":"{}"}}"#,
				"aa".repeat(32),
				"01".repeat(32)
			)
		);
		assert_eq!(serde_json::from_str::<DeliveryTicket>(&json).unwrap(), ticket);
		assert!(serde_json::from_str::<DeliveryTicket>(
			r#"{"request":7,"owner":"","chain":"","x":1}"#
		)
		.is_err());
	}

	#[test]
	fn a_signature_goes_stale_both_ways() {
		assert!(is_fresh(1_000, 1_000));
		assert!(is_fresh(1_000, 1_000 + MAX_CLOCK_SKEW_SECS));
		assert!(is_fresh(1_000 + MAX_CLOCK_SKEW_SECS, 1_000));
		assert!(!is_fresh(1_000, 1_001 + MAX_CLOCK_SKEW_SECS));
		assert!(!is_fresh(1_001 + MAX_CLOCK_SKEW_SECS, 1_000));
		assert!(is_fresh(u64::MAX, u64::MAX));
	}
}

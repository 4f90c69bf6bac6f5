//! Private verifier selection (node obfuscation, protocol §6): VRF sortition with the worker key.
//!
//! Each eligible node evaluates an sr25519 VRF over the request's selection seed. It is a verifier
//! if its score is at most the request's threshold. Only the node can evaluate its VRF, so no one
//! learns whether, or how many, verifiers exist until they commit; the runtime verifies the proof
//! (pure Rust, no host function) with the same functions the node signs with.
//!
//! Transcript: label `atoma/sortition/v1`, items `seed` (32 bytes) and `request` (u64 LE). Score:
//! the first 16 output bytes under context `atoma/sortition-score/v1`, read as u128 LE.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_core::{
	crypto::VrfPublic,
	sr25519::{
		vrf::{VrfInput, VrfSignData, VrfSignature},
		Public,
	},
};
use sp_runtime::Perbill;

use crate::RequestId;

/// A VRF signature (pre-output ‖ proof, 32 + 64 bytes) as a plain byte array, so it can travel in
/// calls (sp-core's `VrfSignature` is not `DecodeWithMemTracking`).
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub struct VrfProof(pub [u8; 96]);

impl VrfProof {
	/// The bytes of `signature`.
	pub fn from_signature(signature: &VrfSignature) -> Self {
		let mut bytes = [0u8; 96];
		let encoded = signature.encode();
		for (slot, byte) in bytes.iter_mut().zip(encoded.iter()) {
			*slot = *byte;
		}
		Self(bytes)
	}

	/// The signature, if the bytes hold a valid pre-output and proof.
	pub fn to_signature(&self) -> Option<VrfSignature> {
		VrfSignature::decode(&mut &self.0[..]).ok()
	}
}

const TRANSCRIPT_LABEL: &[u8] = b"atoma/sortition/v1";
const SCORE_CONTEXT: &[u8] = b"atoma/sortition-score/v1";

/// The VRF input of `request` with selection seed `seed`.
pub fn vrf_input(seed: &[u8; 32], request: RequestId) -> VrfInput {
	VrfInput::new(TRANSCRIPT_LABEL, &[(b"seed", seed), (b"request", &request.0.to_le_bytes())])
}

/// What the node signs: the input, with no extra data.
pub fn vrf_sign_data(seed: &[u8; 32], request: RequestId) -> VrfSignData {
	vrf_input(seed, request).into()
}

/// The score of a VRF signature, if the proof verifies under `public`.
pub fn verified_score(
	public: &Public,
	seed: &[u8; 32],
	request: RequestId,
	signature: &VrfSignature,
) -> Option<u128> {
	if !public.vrf_verify(&vrf_sign_data(seed, request), signature) {
		return None;
	}
	let input = vrf_input(seed, request);
	public
		.make_bytes::<16>(SCORE_CONTEXT, &input, &signature.pre_output)
		.ok()
		.map(u128::from_le_bytes)
}

/// The score threshold that selects each of `candidates` nodes with probability
/// `min(1, p x n / candidates)`: in expectation `p x n` verifiers. `u128::MAX` (everyone) when that
/// probability reaches 1; 0 selects no one.
pub fn threshold(p: Perbill, n: u32, candidates: u32) -> u128 {
	if candidates == 0 {
		return 0;
	}
	// probability = p x n / candidates, in parts per billion.
	let ppb = u128::from(p.deconstruct())
		.saturating_mul(u128::from(n))
		.checked_div(u128::from(candidates))
		.unwrap_or(0);
	let one = u128::from(Perbill::one().deconstruct());
	if ppb >= one {
		return u128::MAX;
	}
	// u128::MAX / 1e9 x ppb never overflows since ppb < 1e9.
	u128::MAX.checked_div(one).unwrap_or(0).saturating_mul(ppb)
}

/// Whether a verified `score` is under `threshold`.
pub fn is_selected(score: u128, threshold: u128) -> bool {
	threshold == u128::MAX || score < threshold
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::{crypto::VrfSecret, Pair};
	use sp_runtime::traits::Hash;

	#[test]
	fn a_real_vrf_signature_verifies_and_scores_deterministically() {
		let pair = sp_core::sr25519::Pair::from_string("//Alice", None).unwrap();
		let seed = [7u8; 32];
		let sig = pair.vrf_sign(&vrf_sign_data(&seed, RequestId(3)));
		let score = verified_score(&pair.public(), &seed, RequestId(3), &sig).expect("verifies");
		let again = pair.vrf_sign(&vrf_sign_data(&seed, RequestId(3)));
		assert_eq!(verified_score(&pair.public(), &seed, RequestId(3), &again), Some(score));
		// Wrong request, seed or key: rejected.
		assert!(verified_score(&pair.public(), &seed, RequestId(4), &sig).is_none());
		assert!(verified_score(&pair.public(), &[8; 32], RequestId(3), &sig).is_none());
		let bob = sp_core::sr25519::Pair::from_string("//Bob", None).unwrap();
		assert!(verified_score(&bob.public(), &seed, RequestId(3), &sig).is_none());
		let proof = VrfProof::from_signature(&sig);
		assert_eq!(proof.to_signature(), Some(sig));
	}

	#[test]
	fn thresholds_scale_with_probability() {
		assert_eq!(threshold(Perbill::one(), 1, 1), u128::MAX);
		assert_eq!(threshold(Perbill::one(), 3, 2), u128::MAX);
		assert_eq!(threshold(Perbill::zero(), 3, 2), 0);
		assert_eq!(threshold(Perbill::from_percent(50), 1, 0), 0);
		let half = threshold(Perbill::from_percent(50), 1, 1);
		assert!(half > u128::MAX / 2 - u128::MAX / 1_000_000 && half < u128::MAX / 2 + 1);
		assert!(is_selected(u128::MAX, u128::MAX));
		assert!(!is_selected(5, 5));
		assert!(is_selected(4, 5));
	}

	#[test]
	fn selection_frequency_matches_the_threshold() {
		// 600 keys at p = 0.25 (n = 1, 1 candidate): about 150 selected.
		let t = threshold(Perbill::from_percent(25), 1, 1);
		let seed = [1u8; 32];
		let selected = (0..600u32)
			.filter(|i| {
				let pair = sp_core::sr25519::Pair::from_seed(
					&sp_runtime::traits::BlakeTwo256::hash(&i.to_le_bytes()).0,
				);
				let sig = pair.vrf_sign(&vrf_sign_data(&seed, RequestId(1)));
				is_selected(verified_score(&pair.public(), &seed, RequestId(1), &sig).unwrap(), t)
			})
			.count();
		// Binomial(600, 0.25): sd about 10.6; 5 sd either side.
		assert!((97..=203).contains(&selected), "{selected} selected");
	}
}

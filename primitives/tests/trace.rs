//! Trace step digests, trace root and step proofs.

use atoma_primitives::hash::{hash, TAG_TRACE_NODE};
use atoma_primitives::merkle::merkle_root;
use atoma_primitives::trace::{
	quantize_logit, quantize_top_logits, step_digest, trace_root, trace_step_proof,
	verify_trace_step,
};

#[test]
fn step_digest_layout_by_hand() {
	let mut pre = b"atoma/trace-step/v1".to_vec();
	for w in [3u32, 42, 2] {
		pre.extend_from_slice(&w.to_le_bytes());
	}
	pre.extend_from_slice(&42u32.to_le_bytes());
	pre.extend_from_slice(&1024i32.to_le_bytes());
	pre.extend_from_slice(&7u32.to_le_bytes());
	pre.extend_from_slice(&(-5i32).to_le_bytes());
	assert_eq!(step_digest(3, 42, &[(42, 1024), (7, -5)]), hash(&pre));
}

#[test]
fn step_digest_is_sensitive_to_every_field() {
	let base = step_digest(1, 2, &[(2, 100), (3, 90)]);
	assert_ne!(base, step_digest(0, 2, &[(2, 100), (3, 90)]));
	assert_ne!(base, step_digest(1, 3, &[(2, 100), (3, 90)]));
	assert_ne!(base, step_digest(1, 2, &[(2, 101), (3, 90)]));
	assert_ne!(base, step_digest(1, 2, &[(3, 90), (2, 100)]));
	assert_ne!(base, step_digest(1, 2, &[(2, 100)]));
	assert_ne!(step_digest(1, 2, &[]), step_digest(1, 2, &[(0, 0)]));
}

#[test]
fn quantize_helpers() {
	assert_eq!(
		quantize_top_logits(&[(1, 1.0), (2, -0.25), (3, f32::NAN)]),
		vec![(1, 1024), (2, -256), (3, 0)]
	);
	// Sub-1/2048 noise is absorbed.
	assert_eq!(quantize_logit(3.0), quantize_logit(3.0 + 1.0 / 4096.0));
}

#[test]
fn trace_root_and_proofs() {
	let digests: Vec<_> =
		(0..11u32).map(|s| step_digest(s, s * 10, &[(s * 10, 1000 - s as i32)])).collect();
	let root = trace_root(&digests);
	assert_eq!(root, merkle_root(TAG_TRACE_NODE, &digests));
	assert_eq!(trace_root(&[]), hash(TAG_TRACE_NODE));
	for s in 0..11u32 {
		let proof = trace_step_proof(&digests, s).expect("in range");
		let logits = [(s * 10, 1000 - s as i32)];
		assert!(verify_trace_step(&root, 11, s, s * 10, &logits, &proof));
		// Wrong token, wrong logit, step outside the trace.
		assert!(!verify_trace_step(&root, 11, s, s * 10 + 1, &logits, &proof));
		assert!(!verify_trace_step(&root, 11, s, s * 10, &[(s * 10, 0)], &proof));
		assert!(!verify_trace_step(&root, s, s, s * 10, &logits, &proof));
		// Claimed at another step number: the digest commits the step.
		let other = (s + 1) % 11;
		assert!(!verify_trace_step(&root, 11, other, s * 10, &logits, &proof));
	}
	assert!(trace_step_proof(&digests, 11).is_none());
}

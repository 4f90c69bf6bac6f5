//! Checks the crate against `tests/vectors/vectors.json`, which is produced by
//! the independent, stdlib-only Python implementation in
//! `tests/vectors/generate.py`. Agreement here means another language can
//! reproduce every layout byte for byte.

use atoma_primitives::commitment::{
	commitment_root, node_commitment, output_leaf, quorum_commitments, root_matches_leaves,
	verify_node_commitment,
};
use atoma_primitives::hash::{self, Hash};
use atoma_primitives::merkle::{merkle_proof, merkle_root, verify_merkle_proof};
use atoma_primitives::output::{decode_canonical, CanonicalOutput, FinishReason};
use atoma_primitives::trace::{quantize_logit, step_digest, trace_root};
use atoma_primitives::weights::{
	chunk_leaf, weights_digest, weights_root, WeightsHasher, WEIGHTS_CHUNK_SIZE,
};
use serde::Deserialize;

const VECTORS_JSON: &str = include_str!("vectors/vectors.json");

#[derive(Deserialize)]
struct Vectors {
	tags: Tags,
	weights_chunk_size: usize,
	outputs: Vec<OutputCase>,
	merkle: Vec<MerkleCase>,
	weights: WeightsSection,
	quantize: Vec<QuantCase>,
	trace: TraceSection,
	tokenizer: Vec<TokenizerCase>,
	sealed: Vec<SealedCase>,
	verdicts: Vec<VerdictCase>,
	unservable: Vec<UnservableCase>,
	execution_profiles: Vec<ProfileCase>,
}

#[derive(Deserialize)]
struct ProfileCase {
	parts: Vec<String>,
	hash: String,
}

#[derive(Deserialize)]
struct UnservableCase {
	code: u8,
	digest: String,
}

#[derive(Deserialize)]
struct Tags {
	output: String,
	leaf: String,
	root: String,
	weights_chunk: String,
	weights_node: String,
	weights_root: String,
	trace_step: String,
	trace_node: String,
	tokenizer: String,
	sealed: String,
	verdict: String,
}

#[derive(Deserialize)]
struct OutputCase {
	name: String,
	token_ids: Vec<u32>,
	finish_reason: u8,
	canonical_hex: String,
	commitments: Vec<CommitmentCase>,
}

#[derive(Deserialize)]
struct CommitmentCase {
	n: u32,
	leaves: Vec<String>,
	root: String,
}

#[derive(Deserialize)]
struct MerkleCase {
	node_tag: String,
	leaves: Vec<String>,
	root: String,
}

#[derive(Deserialize)]
struct WeightsSection {
	cases: Vec<WeightsCase>,
}

#[derive(Deserialize)]
struct WeightsCase {
	len: usize,
	chunk_count: u64,
	chunk_leaves: Vec<String>,
	merkle_root: String,
	root: String,
}

#[derive(Deserialize)]
struct QuantCase {
	f32_bits: u32,
	quantized: i32,
}

#[derive(Deserialize)]
struct SealedCase {
	canonical_hex: String,
	digest: String,
	worker_key: String,
	sealed: String,
}

#[derive(Deserialize)]
struct VerdictCase {
	canonical_hex: String,
	output_tokens: u32,
	leaves: Vec<String>,
	verdict: String,
}

#[derive(Deserialize)]
struct TokenizerCase {
	model: String,
	pre: String,
	tokens: Vec<String>,
	merges: Vec<String>,
	token_types: Vec<i32>,
	eos: Option<u32>,
	bos: Option<u32>,
	hash: String,
}

#[derive(Deserialize)]
struct TraceSection {
	steps: Vec<TraceStep>,
	root: String,
	empty_root: String,
}

#[derive(Deserialize)]
struct TraceStep {
	step: u32,
	token_id: u32,
	top_logits: Vec<(u32, i32)>,
	digest: String,
}

fn vectors() -> Vectors {
	serde_json::from_str(VECTORS_JSON).expect("vectors.json parses")
}

fn h32(s: &str) -> Hash {
	hex::decode(s).expect("valid hex").try_into().expect("32-byte hash")
}

fn hashes(v: &[String]) -> Vec<Hash> {
	v.iter().map(|s| h32(s)).collect()
}

/// Deterministic weights pattern: byte k = (k * 31 + 7) % 251.
fn pattern(len: usize) -> Vec<u8> {
	(0..len).map(|k| ((k * 31 + 7) % 251) as u8).collect()
}

#[test]
fn tags_match() {
	let v = vectors();
	assert_eq!(v.tags.output.as_bytes(), hash::TAG_OUTPUT);
	assert_eq!(v.tags.leaf.as_bytes(), hash::TAG_LEAF);
	assert_eq!(v.tags.root.as_bytes(), hash::TAG_ROOT);
	assert_eq!(v.tags.weights_chunk.as_bytes(), hash::TAG_WEIGHTS_CHUNK);
	assert_eq!(v.tags.weights_node.as_bytes(), hash::TAG_WEIGHTS_NODE);
	assert_eq!(v.tags.weights_root.as_bytes(), hash::TAG_WEIGHTS_ROOT);
	assert_eq!(v.tags.trace_step.as_bytes(), hash::TAG_TRACE_STEP);
	assert_eq!(v.tags.trace_node.as_bytes(), hash::TAG_TRACE_NODE);
	assert_eq!(v.weights_chunk_size, WEIGHTS_CHUNK_SIZE);
}

#[test]
fn canonical_outputs_match() {
	let v = vectors();
	assert!(!v.outputs.is_empty());
	for case in &v.outputs {
		let reason = FinishReason::from_u8(case.finish_reason).expect("known reason");
		let encoded = CanonicalOutput::new(&case.token_ids, reason).encode_canonical();
		assert_eq!(hex::encode(&encoded), case.canonical_hex, "{}", case.name);
		let (tokens, decoded_reason) = decode_canonical(&encoded).expect("decodes");
		assert_eq!(tokens, case.token_ids, "{}", case.name);
		assert_eq!(decoded_reason, reason, "{}", case.name);
	}
}

#[test]
fn commitments_match() {
	let v = vectors();
	for case in &v.outputs {
		let o = hex::decode(&case.canonical_hex).expect("hex");
		assert_eq!(case.commitments.len(), 3);
		for c in &case.commitments {
			let leaves = hashes(&c.leaves);
			let root = h32(&c.root);
			let q = quorum_commitments(&o, c.n);
			assert_eq!(q.leaves, leaves, "{} n={}", case.name, c.n);
			assert_eq!(q.root, root, "{} n={}", case.name, c.n);
			assert_eq!(commitment_root(&leaves), root);
			assert!(root_matches_leaves(&root, &leaves));
			for (i, leaf) in (0u32..).zip(&leaves) {
				assert_eq!(output_leaf(&o, i), *leaf);
				let nc = node_commitment(&o, i, c.n).expect("valid index");
				assert_eq!(nc.root, root);
				assert_eq!(nc.leaf, *leaf);
				assert!(verify_node_commitment(&o, i, c.n, &nc));
			}
		}
	}
}

#[test]
fn merkle_roots_match() {
	let v = vectors();
	assert_eq!(v.merkle.len(), 10);
	for case in &v.merkle {
		let tag = case.node_tag.as_bytes();
		let leaves = hashes(&case.leaves);
		let root = h32(&case.root);
		assert_eq!(merkle_root(tag, &leaves), root, "{} x{}", case.node_tag, leaves.len());
		let count = leaves.len() as u64;
		for (i, leaf) in (0u64..).zip(&leaves) {
			let proof = merkle_proof(tag, &leaves, i).expect("in range");
			assert!(verify_merkle_proof(tag, &root, leaf, i, count, &proof));
		}
	}
}

#[test]
fn weights_roots_match() {
	let v = vectors();
	let lens: Vec<usize> = v.weights.cases.iter().map(|c| c.len).collect();
	assert_eq!(
		lens,
		[0, 1, 1 << 20, (1 << 20) + 1, 5 << 19],
		"vector set covers the required lengths"
	);
	for case in &v.weights.cases {
		let data = pattern(case.len);
		let expected_leaves = hashes(&case.chunk_leaves);
		let expected_root = h32(&case.root);

		let leaves: Vec<Hash> =
			(0u64..).zip(data.chunks(WEIGHTS_CHUNK_SIZE)).map(|(i, c)| chunk_leaf(i, c)).collect();
		assert_eq!(leaves, expected_leaves, "len {}", case.len);
		assert_eq!(
			merkle_root(hash::TAG_WEIGHTS_NODE, &leaves),
			h32(&case.merkle_root),
			"len {}",
			case.len
		);

		let one_shot = weights_digest(&data);
		assert_eq!(one_shot.root, expected_root, "len {}", case.len);
		assert_eq!(one_shot.total_len, case.len as u64);
		assert_eq!(one_shot.chunk_count, case.chunk_count);
		assert_eq!(weights_root(&data), expected_root);

		let mut hasher = WeightsHasher::new();
		for piece in data.chunks(300_007) {
			hasher.update(piece);
		}
		let (streamed, streamed_leaves) = hasher.finalize_with_leaves();
		assert_eq!(streamed, one_shot, "len {}", case.len);
		assert_eq!(streamed_leaves, expected_leaves);
	}
}

#[test]
fn quantization_matches() {
	let v = vectors();
	for case in &v.quantize {
		let x = f32::from_bits(case.f32_bits);
		assert_eq!(quantize_logit(x), case.quantized, "x = {x:e}");
	}
}

#[test]
fn trace_matches() {
	let v = vectors();
	let mut digests = Vec::new();
	for s in &v.trace.steps {
		let d = step_digest(s.step, s.token_id, &s.top_logits);
		assert_eq!(d, h32(&s.digest), "step {}", s.step);
		digests.push(d);
	}
	assert_eq!(trace_root(&digests), h32(&v.trace.root));
	assert_eq!(trace_root(&[]), h32(&v.trace.empty_root));
}

#[test]
fn tokenizer_hashes_match_python() {
	use atoma_primitives::tokenizer::{tokenizer_hash, TokenizerSpec};
	let v = vectors();
	assert_eq!(v.tags.tokenizer.as_bytes(), hash::TAG_TOKENIZER);
	assert!(!v.tokenizer.is_empty());
	for case in &v.tokenizer {
		let spec = TokenizerSpec {
			kind: case.model.as_bytes(),
			pre: case.pre.as_bytes(),
			tokens: &case.tokens,
			merges: &case.merges,
			token_types: &case.token_types,
			eos: case.eos,
			bos: case.bos,
		};
		assert_eq!(hex::encode(tokenizer_hash(&spec).expect("fits")), case.hash);
	}
}

#[test]
fn sealed_commitments_match_python() {
	use atoma_primitives::commitment::{output_digest, sealed_commitment};
	let v = vectors();
	assert_eq!(v.tags.sealed.as_bytes(), hash::TAG_SEALED);
	for case in &v.sealed {
		let o = hex::decode(&case.canonical_hex).unwrap();
		let digest = output_digest(&o);
		assert_eq!(hex::encode(digest), case.digest);
		let key: [u8; 32] = hex::decode(&case.worker_key).unwrap().try_into().unwrap();
		assert_eq!(hex::encode(sealed_commitment(&digest, &key)), case.sealed);
	}
}

#[test]
fn verdict_digests_match_python() {
	use atoma_primitives::commitment::{output_digest, output_leaf, verdict_digest};
	let v = vectors();
	assert_eq!(v.tags.verdict.as_bytes(), hash::TAG_VERDICT);
	assert_eq!(v.verdicts.len(), 2);
	for case in &v.verdicts {
		let o = hex::decode(&case.canonical_hex).unwrap();
		let leaves: Vec<[u8; 32]> = (0u32..)
			.zip(&case.leaves)
			.map(|(i, hex_leaf)| {
				let leaf = output_leaf(&o, i);
				assert_eq!(&hex::encode(leaf), hex_leaf);
				leaf
			})
			.collect();
		let got = verdict_digest(&output_digest(&o), case.output_tokens, &leaves);
		assert_eq!(hex::encode(got), case.verdict);
	}
}

#[test]
fn unservable_digests_match_python() {
	use atoma_primitives::unservable::{unservable_digest, UnservableReason};
	let v = vectors();
	assert_eq!(v.unservable.len(), UnservableReason::ALL.len());
	for (case, reason) in v.unservable.iter().zip(UnservableReason::ALL) {
		assert_eq!(case.code, reason.code());
		assert_eq!(hex::encode(unservable_digest(reason)), case.digest);
	}
}

#[test]
fn execution_profile_hashes_match_python() {
	use atoma_primitives::profile::ExecutionProfile;
	let v = vectors();
	assert_eq!(v.execution_profiles.len(), 2);
	for case in &v.execution_profiles {
		let [precision, device, kernel_tier, batch_policy, build] = &case.parts[..] else {
			panic!("five parts")
		};
		let profile = ExecutionProfile { precision, device, kernel_tier, batch_policy, build };
		assert_eq!(hex::encode(profile.hash()), case.hash);
	}
}

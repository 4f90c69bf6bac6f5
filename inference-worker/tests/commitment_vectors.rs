//! The worker's commitments are exactly the primitives' golden vectors
//! (`primitives/tests/vectors/vectors.json`, produced by an independent Python implementation).
//! This pins the worker's *use* of the primitives: canonical output layout, node commitments,
//! trace steps and root, and the streamed weights root of a file.

use atoma_inference_worker::{
	commitments::{self, TraceStep},
	weights,
};
use atoma_primitives::{trace::step_digest, FinishReason};
use serde_json::Value;

fn vectors() -> Value {
	let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
		.join("../primitives/tests/vectors/vectors.json");
	let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
		panic!("{}: {e} (the primitives crate sits beside the worker)", path.display())
	});
	serde_json::from_str(&text).expect("vectors.json")
}

fn u32s(v: &Value) -> Vec<u32> {
	v.as_array().expect("array").iter().map(|x| x.as_u64().expect("int") as u32).collect()
}

fn hex32(v: &Value) -> [u8; 32] {
	hex::decode(v.as_str().expect("hex")).expect("hex").try_into().expect("32 bytes")
}

#[test]
fn outputs_and_node_commitments_match_vectors() {
	let v = vectors();
	let outputs = v["outputs"].as_array().expect("outputs");
	assert!(!outputs.is_empty());
	let mut checked = 0;
	for case in outputs {
		let ids = u32s(&case["token_ids"]);
		let reason = match case["finish_reason"].as_u64() {
			Some(0) => FinishReason::Stop,
			Some(1) => FinishReason::Length,
			other => panic!("finish reason {other:?}"),
		};
		for q in case["commitments"].as_array().expect("commitments") {
			let n = q["n"].as_u64().expect("n") as u32;
			for (i, leaf) in q["leaves"].as_array().expect("leaves").iter().enumerate() {
				let c = commitments::compute(&ids, reason, i as u32, n, &[]).expect("commitment");
				assert_eq!(
					hex::encode(&c.canonical_output),
					case["canonical_hex"].as_str().unwrap()
				);
				assert_eq!(c.root, hex32(&q["root"]), "{} n={n}", case["name"]);
				assert_eq!(c.leaf, hex32(leaf), "{} n={n} i={i}", case["name"]);
				checked += 1;
			}
		}
	}
	assert!(checked > 0);
}

#[test]
fn trace_matches_vectors() {
	let v = vectors();
	let trace = &v["trace"];
	let steps: Vec<TraceStep> = trace["steps"]
		.as_array()
		.expect("steps")
		.iter()
		.map(|s| {
			let top: Vec<(u32, i32)> = s["top_logits"]
				.as_array()
				.expect("top")
				.iter()
				.map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_i64().unwrap() as i32))
				.collect();
			let (step, token) =
				(s["step"].as_u64().unwrap() as u32, s["token_id"].as_u64().unwrap() as u32);
			let digest = step_digest(step, token, &top);
			assert_eq!(digest, hex32(&s["digest"]));
			TraceStep { step, token_id: token, top_logits: top, digest }
		})
		.collect();
	let ids: Vec<u32> = steps.iter().map(|s| s.token_id).collect();
	let c = commitments::compute(&ids, FinishReason::Stop, 0, 1, &steps).expect("commitment");
	assert_eq!(c.trace_root, hex32(&trace["root"]));
	let empty = commitments::compute(&[], FinishReason::Stop, 0, 1, &[]).expect("commitment");
	assert_eq!(empty.trace_root, hex32(&trace["empty_root"]));
}

#[test]
fn recorded_steps_quantize_like_the_vectors() {
	// `TraceStep::record` quantizes raw logits with the primitives' `quantize_logit`; check it on
	// the vectors' f32 bit patterns.
	let v = vectors();
	for case in v["quantize"].as_array().expect("quantize") {
		let x = f32::from_bits(case["f32_bits"].as_u64().unwrap() as u32);
		let q = case["quantized"].as_i64().unwrap() as i32;
		let step = TraceStep::record(0, 0, &[x]);
		assert_eq!(step.top_logits, vec![(0, q)], "x = {x:e}");
	}
}

#[test]
fn streamed_weights_root_matches_vectors() {
	let v = vectors();
	let cases = v["weights"]["cases"].as_array().expect("cases");
	for case in cases {
		let len = case["len"].as_u64().unwrap() as usize;
		// The vectors' file pattern: byte k = (k * 31 + 7) % 251.
		let bytes: Vec<u8> = (0..len).map(|k| ((k * 31 + 7) % 251) as u8).collect();
		let d = weights::digest_reader(&mut bytes.as_slice()).expect("digest");
		assert_eq!(d.root, hex32(&case["root"]), "len {len}");
		assert_eq!(d.total_len, len as u64);
		assert_eq!(d.chunk_count, case["chunk_count"].as_u64().unwrap());
	}
}

//! The native engine on the real model: it answers as the model should, and a request's logits
//! are the same bits alone, inside batches of other requests, with any thread count and on every
//! kernel tier this CPU has.

mod common;

use std::{fs::File, time::Instant};

use atoma_inference_worker::engine::native::{KvCache, Model, Step, Tier};
use candle_core::quantized::gguf_file;

fn load(tier: Tier) -> Model {
	let path = common::model_path();
	let mut file = File::open(&path).unwrap();
	let content = gguf_file::Content::read(&mut file).unwrap();
	Model::from_gguf(&content, &mut file, 4096, tier).unwrap()
}

fn argmax(logits: &[f32]) -> u32 {
	let mut best = 0;
	for (i, v) in logits.iter().enumerate() {
		if *v > logits[best] {
			best = i;
		}
	}
	best as u32
}

/// Greedy generation of `n` tokens, alone; returns the tokens and every step's logits as bits.
fn greedy_alone(model: &Model, prompt: &[u32], n: usize) -> (Vec<u32>, Vec<Vec<u32>>) {
	let mut cache = model.new_cache(prompt.len() + n);
	let mut tokens = Vec::new();
	let mut all = Vec::new();
	let mut input = prompt.to_vec();
	let mut logits = Vec::new();
	for _ in 0..n {
		model.forward(&mut [Step { cache: &mut cache, tokens: &input }], &mut logits).unwrap();
		let next = argmax(&logits);
		all.push(logits.iter().map(|f| f.to_bits()).collect());
		tokens.push(next);
		input = vec![next];
	}
	(tokens, all)
}

/// `What is the capital of France?` in ChatML, as token ids (models.md).
const CAPITAL_PROMPT: &[u32] =
	&[1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198];

#[test]
fn answers_the_reference_prompt_as_the_model_does() {
	let model = load(Tier::best());
	let started = Instant::now();
	let (tokens, _) = greedy_alone(&model, CAPITAL_PROMPT, 8);
	eprintln!("8 tokens in {:?} on {}", started.elapsed(), model.tier().as_str());
	assert_eq!(tokens, [504, 3575, 282, 4649, 314, 7042, 30, 2]);
}

/// A request for the batch tests: prompt and tokens to generate greedily.
struct Job {
	prompt: Vec<u32>,
	tokens: usize,
}

/// Prompts of different lengths (1 to 300 tokens, so one is fed in two chunks of 256).
fn jobs(count: usize) -> Vec<Job> {
	(0..count)
		.map(|i| {
			let len = [16, 1, 40, 7, 300, 3, 64, 25][i % 8] + i;
			let prompt =
				(0..len).map(|k| ((k * 7919 + i * 104_729) % 49_000) as u32 + 17).collect();
			Job { prompt, tokens: 3 + i % 5 }
		})
		.collect()
}

/// Run `jobs` the way the worker's batch loop does: job `i` joins at step `arrivals[i]`, prompts
/// are fed `chunk` tokens at a time, everything in flight shares each forward pass. Returns every
/// job's logits bits, step by step.
fn batched(model: &Model, jobs: &[Job], arrivals: &[usize], chunk: usize) -> Vec<Vec<Vec<u32>>> {
	struct Running {
		job: usize,
		cache: KvCache,
		fed: usize,
		next: Option<u32>,
		out: Vec<Vec<u32>>,
	}
	let mut results: Vec<Vec<Vec<u32>>> = vec![Vec::new(); jobs.len()];
	let mut running: Vec<Running> = Vec::new();
	let mut logits = Vec::new();
	let mut step = 0;
	while results.iter().zip(jobs).any(|(r, j)| r.len() < j.tokens) {
		for (i, &arrival) in arrivals.iter().enumerate() {
			if arrival == step {
				let cache = model.new_cache(jobs[i].prompt.len() + jobs[i].tokens);
				running.push(Running { job: i, cache, fed: 0, next: None, out: Vec::new() });
			}
		}
		step += 1;
		if running.is_empty() {
			continue;
		}
		let inputs: Vec<Vec<u32>> = running
			.iter()
			.map(|r| match r.next {
				Some(t) => vec![t],
				None => {
					let p = &jobs[r.job].prompt;
					p[r.fed..(r.fed + chunk).min(p.len())].to_vec()
				},
			})
			.collect();
		let mut steps: Vec<Step<'_>> = running
			.iter_mut()
			.zip(&inputs)
			.map(|(r, tokens)| Step { cache: &mut r.cache, tokens })
			.collect();
		model.forward(&mut steps, &mut logits).unwrap();
		let vocab = model.config().vocab;
		for ((r, input), logits) in running.iter_mut().zip(&inputs).zip(logits.chunks_exact(vocab))
		{
			r.fed += input.len();
			if r.fed < jobs[r.job].prompt.len() {
				continue;
			}
			r.out.push(logits.iter().map(|f| f.to_bits()).collect());
			r.next = Some(argmax(logits));
		}
		running.retain_mut(|r| {
			if r.out.len() < jobs[r.job].tokens {
				return true;
			}
			results[r.job] = std::mem::take(&mut r.out);
			false
		});
	}
	results
}

#[test]
fn a_request_gives_the_same_bits_alone_and_in_any_batch() {
	let model = load(Tier::best());
	let jobs = jobs(17);
	let alone: Vec<Vec<Vec<u32>>> =
		jobs.iter().map(|j| greedy_alone(&model, &j.prompt, j.tokens).1).collect();
	// All at once (a batch of 17: one request and 16 others), staggered arrivals (jobs join
	// while others decode), pairs, and a prefill chunk that splits every prompt.
	let all_at_once = vec![0; jobs.len()];
	let staggered: Vec<usize> = (0..jobs.len()).map(|i| i * 2).collect();
	let pairs: Vec<usize> = (0..jobs.len()).map(|i| (i / 2) * 9).collect();
	for (name, arrivals, chunk) in [
		("all at once", &all_at_once, 256),
		("staggered", &staggered, 256),
		("pairs, prompts in chunks of 5", &pairs, 5),
	] {
		let results = batched(&model, &jobs, arrivals, chunk);
		for (i, (got, want)) in results.iter().zip(&alone).enumerate() {
			assert!(got == want, "{name}: job {i} differs from its run alone");
		}
	}
}

#[test]
fn the_same_bits_with_any_thread_count_and_kernel_tier() {
	let jobs = jobs(3);
	let reference = {
		let model = load(Tier::Scalar);
		let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
		pool.install(|| batched(&model, &jobs, &[0, 0, 1], 256))
	};
	for tier in Tier::supported() {
		let model = load(tier);
		for threads in [1, 2, 3] {
			let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
			let got = pool.install(|| batched(&model, &jobs, &[0, 0, 1], 256));
			assert!(got == reference, "{} with {threads} threads differs", tier.as_str());
		}
	}
}

//! The security claim of Sampling Consensus, measured with the chain's own draw
//! (`atoma_support::draw`, the code selection and arbiter draws run): an adversary holding `rN` of
//! `N` eligible nodes gets a tampered output settled without a dispute only when every one of the
//! `n` drawn nodes is its own, with probability `C(rN, n) / C(N, n)` (draws without
//! replacement). A mixed quorum disagrees and goes to arbitration, where the tampered output
//! wins only with a majority of the arbiters drawn from the remaining nodes; that share is
//! measured and checked separately.

use atoma_support::draw::{draw_indexed, max_tries};
use codec::Encode;

/// `count` of `items`, drawn as the chain draws nodes and arbiters from an index where all can
/// take the job.
fn draw(items: Vec<u64>, count: usize, seed: [u8; 32]) -> Vec<u64> {
	let tries = max_tries(count as u32);
	draw_indexed(
		items.len() as u32,
		count,
		tries,
		seed,
		|p| items.get(p as usize).copied(),
		|_| true,
	)
}

const TRIALS: u64 = 10_000;
const NODES: u64 = 30;
const ARBITERS: usize = crate::mock::ARBITER_QUORUM as usize;

fn choose(n: u64, k: u64) -> f64 {
	if k > n {
		return 0.0;
	}
	(0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (k - i) as f64)
}

/// `P(X >= at_least)` for `X` adversarial among `draws` drawn without replacement from
/// `population` nodes of which `bad` are adversarial.
fn hypergeometric_tail(population: u64, bad: u64, draws: u64, at_least: u64) -> f64 {
	let total = choose(population, draws);
	(at_least..=draws.min(bad))
		.map(|x| choose(bad, x) * choose(population - bad, draws - x) / total)
		.sum()
}

struct Outcome {
	settled_tampered: u64,
	won_arbitration: u64,
}

/// Run `TRIALS` requests of quorum `n` with the adversary holding nodes `0..bad`.
fn simulate(n: usize, bad: u64) -> Outcome {
	let mut outcome = Outcome { settled_tampered: 0, won_arbitration: 0 };
	for trial in 0..TRIALS {
		let seed = sp_io::hashing::blake2_256(&(b"atoma/sim/v1", n as u32, bad, trial).encode());
		let quorum = draw((0..NODES).collect(), n, seed);
		let adversarial = quorum.iter().filter(|node| **node < bad).count();
		if adversarial == n {
			outcome.settled_tampered += 1;
		} else if adversarial > 0 {
			// Disagreement: arbiters from everyone but the parties; adversarial arbiters vote for
			// the tampered output, honest ones for the true one.
			let rest: Vec<u64> = (0..NODES).filter(|node| !quorum.contains(node)).collect();
			let arbiter_seed =
				sp_io::hashing::blake2_256(&(b"atoma/sim-arbiters/v1", seed).encode());
			let arbiters = draw(rest, ARBITERS, arbiter_seed);
			let for_tampered = arbiters.iter().filter(|node| **node < bad).count();
			if for_tampered * 2 > ARBITERS {
				outcome.won_arbitration += 1;
			}
		}
	}
	outcome
}

/// Within 4.5 standard errors of the binomial proportion (a false alarm about once in 150,000
/// runs per check; the draws are deterministic, so a pass stays a pass).
fn assert_close(observed: u64, expected: f64, what: &str) {
	let share = observed as f64 / TRIALS as f64;
	let sigma = (expected * (1.0 - expected) / TRIALS as f64).sqrt();
	assert!(
		(share - expected).abs() <= 4.5 * sigma + 1e-9,
		"{what}: observed {share:.5}, expected {expected:.5} (sigma {sigma:.5})"
	);
}

#[test]
fn tampered_outputs_settle_undisputed_only_as_often_as_the_hypergeometric_bound() {
	println!("| r | n | settled undisputed | C(rN,n)/C(N,n) | r^n | won arbitration | expected |");
	println!("|---|---|---|---|---|---|---|");
	for bad in [3u64, 9] {
		let r = bad as f64 / NODES as f64;
		for n in 1..=3usize {
			let outcome = simulate(n, bad);
			let expected = choose(bad, n as u64) / choose(NODES, n as u64);
			assert_close(outcome.settled_tampered, expected, &format!("settled, r={r}, n={n}"));
			// Arbitration: a quorum with `a` adversarial nodes, 0 < a < n, meets arbiters drawn
			// from the other N - n nodes, bad - a of them adversarial.
			let arbitration: f64 = (1..n as u64)
				.map(|a| {
					let p_quorum = choose(bad, a) * choose(NODES - bad, n as u64 - a)
						/ choose(NODES, n as u64);
					let majority = ARBITERS as u64 / 2 + 1;
					p_quorum
						* hypergeometric_tail(NODES - n as u64, bad - a, ARBITERS as u64, majority)
				})
				.sum::<f64>()
				+ 0.0; // an empty f64 sum is -0.0
			assert_close(
				outcome.won_arbitration,
				arbitration,
				&format!("arbitration, r={r}, n={n}"),
			);
			println!(
				"| {r:.1} | {n} | {:.4} | {expected:.4} | {:.4} | {:.4} | {arbitration:.4} |",
				outcome.settled_tampered as f64 / TRIALS as f64,
				r.powi(n as i32),
				outcome.won_arbitration as f64 / TRIALS as f64,
			);
		}
	}
}

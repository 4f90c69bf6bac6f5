//! The economics of Cross-Validation (whitepaper Appendix A), in fixed point.

use sp_runtime::{traits::Saturating, Perbill, Perquintill};

/// The least replication rate `p` at which honest behaviour is the unique Nash equilibrium
/// (Corollary 1): `p > C / ((1 - r)(R + S))`, with `C` the native cost of an inference, `R` the
/// reward of an honest node, `S` its collateral and `r` the largest share of the network one
/// party controls. Saturates at 100% (no `p` below 1 suffices); `r = 100%` gives 100%.
///
/// The whitepaper's example, `R = 1.2C`, `r = 1/2`, `S = 250C`, gives `p = 0.00796`.
pub fn min_replication_rate(
	cost: u128,
	reward: u128,
	collateral: u128,
	control: Perbill,
) -> Perquintill {
	let honest = Perbill::one().saturating_sub(control);
	let stake = reward.saturating_add(collateral);
	// (1 - r)(R + S), kept exact by scaling C by 1e9 instead of dividing the stake.
	let denominator = stake.saturating_mul(u128::from(honest.deconstruct()));
	let numerator = cost.saturating_mul(u128::from(Perbill::one().deconstruct()));
	if denominator == 0 || numerator >= denominator {
		return Perquintill::one();
	}
	Perquintill::from_rational(numerator, denominator)
}

/// The probability that a tampered output settles when one party controls a share `r` of the
/// eligible nodes and `n` nodes are drawn: `r^n`.
pub fn tamper_probability(control: Perbill, n: u32) -> Perquintill {
	let r = Perquintill::from_rational(u64::from(control.deconstruct()), 1_000_000_000u64);
	// Per-thing products round down and never overflow.
	(0..n).fold(Perquintill::one(), |acc, _| acc.saturating_mul(r))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_whitepaper_example_gives_0_00796() {
		// C = 1000, R = 1.2C, S = 250C, r = 1/2.
		let p = min_replication_rate(1_000, 1_200, 250_000, Perbill::from_percent(50));
		// 1 / 125.6 = 0.0079617834...
		assert_eq!(p.deconstruct() / 10_000_000_000_000, 796, "p = {p:?}");
		let p = min_replication_rate(1, 1, 0, Perbill::from_percent(50));
		assert_eq!(p, Perquintill::one(), "no p below 1 suffices");
		assert_eq!(min_replication_rate(1, 1, 1, Perbill::one()), Perquintill::one());
	}

	#[test]
	fn tamper_probability_is_r_to_the_n() {
		assert_eq!(tamper_probability(Perbill::from_percent(50), 1), Perquintill::from_percent(50));
		assert_eq!(
			tamper_probability(Perbill::from_percent(50), 3),
			Perquintill::from_rational(1u64, 8)
		);
		assert_eq!(tamper_probability(Perbill::from_percent(30), 0), Perquintill::one());
		assert_eq!(tamper_probability(Perbill::zero(), 2), Perquintill::zero());
	}
}

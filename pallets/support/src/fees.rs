//! Fee arithmetic shared by the registries and the inference pallet (protocol §3).

use sp_runtime::traits::AtLeast32BitUnsigned;

/// The fee one executing node earns for a request: `(input tokens + output tokens) x price per
/// token`. `None` if it does not fit in `Balance`.
pub fn request_fee<Balance: AtLeast32BitUnsigned + Copy>(
	input_tokens: u32,
	output_tokens: u32,
	price_per_token: Balance,
) -> Option<Balance> {
	let tokens = u64::from(input_tokens).checked_add(u64::from(output_tokens))?;
	let tokens = Balance::try_from(tokens).ok()?;
	tokens.checked_mul(&price_per_token)
}

/// The median of `prices`, which it sorts. With an even count it is the mean of the two middle
/// values, rounded down. `None` for no prices.
pub fn median<Balance: AtLeast32BitUnsigned + Copy>(prices: &mut [Balance]) -> Option<Balance> {
	prices.sort_unstable();
	let n = prices.len();
	let upper = *prices.get(n / 2)?;
	if !n.is_multiple_of(2) {
		return Some(upper);
	}
	let lower = *prices.get((n / 2).checked_sub(1)?)?;
	// lower + (upper - lower) / 2 never overflows, and rounds down because upper >= lower.
	let half_gap = upper.saturating_sub(lower).checked_div(&2u32.into())?;
	Some(lower.saturating_add(half_gap))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn fee_is_tokens_times_price() {
		assert_eq!(request_fee(10u32, 20, 3u128), Some(90));
		assert_eq!(request_fee(0u32, 0, 3u128), Some(0));
		assert_eq!(request_fee(u32::MAX, u32::MAX, u64::MAX), None);
		assert_eq!(request_fee(u32::MAX, u32::MAX, 1u32), None, "token count overflows u32");
	}

	#[test]
	fn median_of_odd_even_and_empty() {
		assert_eq!(median::<u128>(&mut []), None);
		assert_eq!(median(&mut [7u128]), Some(7));
		assert_eq!(median(&mut [9u128, 1, 5]), Some(5));
		assert_eq!(median(&mut [4u128, 1, 10, 2]), Some(3), "mean of 2 and 4");
		assert_eq!(median(&mut [1u128, 2]), Some(1), "mean of 1 and 2 rounds down");
		assert_eq!(median(&mut [u128::MAX, u128::MAX - 2]), Some(u128::MAX - 1));
	}
}

//! How a slash is shared out (protocol §8-9): a share to the user, the honest nodes, the arbiters
//! and the treasury; whatever no one receives is burned.

use alloc::vec::Vec;

use codec::{Decode, Encode};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// Who receives a slashed amount. Each share is of the slashed amount; the shares may add up to
/// at most 100%, and the rest is burned. A share whose recipients are missing (no user, no honest
/// nodes, no arbiters) is burned too.
#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, Debug)]
pub struct SlashSplit<AccountId> {
	/// The user whose request the slashed node failed, if any.
	pub user: Option<AccountId>,
	/// The user's share.
	pub user_share: Perbill,
	/// Operators of the honest nodes of the same request; they share `honest_share` equally.
	pub honest: Vec<AccountId>,
	/// The honest nodes' share.
	pub honest_share: Perbill,
	/// Operators of the arbiters that resolved a dispute; they share `arbiters_share` equally.
	pub arbiters: Vec<AccountId>,
	/// The arbiters' share.
	pub arbiters_share: Perbill,
	/// The treasury's share.
	pub treasury_share: Perbill,
}

impl<AccountId> SlashSplit<AccountId> {
	/// A split that sends `treasury_share` to the treasury and burns the rest.
	pub fn treasury_only(treasury_share: Perbill) -> Self {
		Self {
			user: None,
			user_share: Perbill::zero(),
			honest: Vec::new(),
			honest_share: Perbill::zero(),
			arbiters: Vec::new(),
			arbiters_share: Perbill::zero(),
			treasury_share,
		}
	}

	/// Whether the shares add up to at most 100%.
	pub fn is_valid(&self) -> bool {
		let parts = [self.user_share, self.honest_share, self.arbiters_share, self.treasury_share]
			.iter()
			.try_fold(0u32, |sum, share| sum.checked_add(share.deconstruct()));
		parts.is_some_and(|sum| sum <= Perbill::one().deconstruct())
	}
}

/// Where a slashed amount went.
#[derive(Clone, Copy, PartialEq, Eq, Default, Encode, Decode, TypeInfo, Debug)]
pub struct SlashOutcome<Balance> {
	/// Taken from the node's collateral in all.
	pub slashed: Balance,
	/// Paid to the user.
	pub to_user: Balance,
	/// Paid to the honest nodes' operators, together.
	pub to_honest: Balance,
	/// Paid to the arbiters' operators, together.
	pub to_arbiters: Balance,
	/// Paid to the treasury.
	pub to_treasury: Balance,
	/// Burned: removed from total issuance.
	pub burned: Balance,
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn shares_must_not_exceed_the_whole() {
		let mut split = SlashSplit::<u64>::treasury_only(Perbill::from_percent(40));
		assert!(split.is_valid());
		split.user_share = Perbill::from_percent(60);
		assert!(split.is_valid());
		split.honest_share = Perbill::from_parts(1);
		assert!(!split.is_valid());
	}
}

//! Protocol parameters that a council motion changes without a runtime upgrade
//! (`pallet-parameters`, docs/governance.md "Protocol parameters"): the slash shares.
//!
//! Each is stored by `parameters.setParameter` (origin `CouncilMajority`) and read by the pallets
//! through the `Get` types below at the moment they slash, so a change applies to the next slash
//! and never to funds already held. A split whose shares would add up to more than the whole
//! cannot be slashed by; such a setting is ignored, and the whole split falls back to its
//! defaults, so a mistaken motion can never leave a cheater unpunished.

use frame_support::{
	dynamic_params::{dynamic_pallet_params, dynamic_params},
	traits::{AsEnsureOriginWithArg, Get},
};
use sp_runtime::Perbill;

use super::CouncilMajority;
use crate::{Runtime, RuntimeEvent};

/// The values at genesis, and the fallback of a split whose shares exceed the whole.
pub mod defaults {
	use sp_runtime::Perbill;

	pub const TIMEOUT_SLASH: Perbill = Perbill::from_percent(5);
	pub const TIMEOUT_USER_SHARE: Perbill = Perbill::from_percent(50);
	pub const TIMEOUT_TREASURY_SHARE: Perbill = Perbill::from_percent(30);
	pub const CHEATER_USER_SHARE: Perbill = Perbill::from_percent(40);
	pub const CHEATER_HONEST_SHARE: Perbill = Perbill::from_percent(20);
	pub const CHEATER_ARBITERS_SHARE: Perbill = Perbill::from_percent(20);
	pub const CHEATER_TREASURY_SHARE: Perbill = Perbill::from_percent(10);
	pub const MODEL_ATTESTER_SLASH: Perbill = Perbill::from_percent(50);
}

#[dynamic_params(RuntimeParameters, pallet_parameters::Parameters::<Runtime>)]
pub mod dynamic_params {
	use super::*;

	/// Who loses what when a node fails a job or is caught cheating, and where it goes.
	#[dynamic_pallet_params]
	#[codec(index = 0)]
	pub mod slashing {
		/// A node that misses a deadline loses this share of its job collateral ...
		#[codec(index = 0)]
		pub static TimeoutSlash: Perbill = defaults::TIMEOUT_SLASH;
		/// ... this share of it to the user ...
		#[codec(index = 1)]
		pub static TimeoutUserShare: Perbill = defaults::TIMEOUT_USER_SHARE;
		/// ... this share to the treasury, and the rest is burned.
		#[codec(index = 2)]
		pub static TimeoutTreasuryShare: Perbill = defaults::TIMEOUT_TREASURY_SHARE;
		/// A cheater loses all its collateral: this share to the user it cheated ...
		#[codec(index = 3)]
		pub static CheaterUserShare: Perbill = defaults::CHEATER_USER_SHARE;
		/// ... this share to the honest nodes of the request ...
		#[codec(index = 4)]
		pub static CheaterHonestShare: Perbill = defaults::CHEATER_HONEST_SHARE;
		/// ... this share to the arbiters that found the true output ...
		#[codec(index = 5)]
		pub static CheaterArbitersShare: Perbill = defaults::CHEATER_ARBITERS_SHARE;
		/// ... this share to the treasury, and the rest is burned.
		#[codec(index = 6)]
		pub static CheaterTreasuryShare: Perbill = defaults::CHEATER_TREASURY_SHARE;
		/// An attester of a condemned model loses this share of its bond to the treasury.
		#[codec(index = 7)]
		pub static ModelAttesterSlash: Perbill = defaults::MODEL_ATTESTER_SLASH;
	}
}

/// Benchmarks set this parameter.
#[cfg(feature = "runtime-benchmarks")]
impl Default for RuntimeParameters {
	fn default() -> Self {
		RuntimeParameters::Slashing(dynamic_params::slashing::Parameters::TimeoutSlash(
			dynamic_params::slashing::TimeoutSlash,
			Some(defaults::TIMEOUT_SLASH),
		))
	}
}

impl pallet_parameters::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeParameters = RuntimeParameters;
	// Every parameter is the council's, like the echelons and the emission schedule.
	type AdminOrigin = AsEnsureOriginWithArg<CouncilMajority>;
	// Upstream's measurement (one read, one write) with RocksDB's database weights, heavier than
	// ParityDB's: an overestimate, for a call a council motion makes now and then.
	type WeightInfo = ();
}

/// Whether shares add up to at most the whole.
fn within_whole(shares: &[Perbill]) -> bool {
	shares
		.iter()
		.try_fold(0u32, |sum, share| sum.checked_add(share.deconstruct()))
		.is_some_and(|sum| sum <= Perbill::one().deconstruct())
}

use dynamic_params::slashing;

/// The timeout split as governance set it: (user, treasury).
fn timeout_split() -> (Perbill, Perbill) {
	let set = (slashing::TimeoutUserShare::get(), slashing::TimeoutTreasuryShare::get());
	if within_whole(&[set.0, set.1]) {
		set
	} else {
		(defaults::TIMEOUT_USER_SHARE, defaults::TIMEOUT_TREASURY_SHARE)
	}
}

/// The cheater split as governance set it: (user, honest nodes, arbiters, treasury).
fn cheater_split() -> (Perbill, Perbill, Perbill, Perbill) {
	let set = (
		slashing::CheaterUserShare::get(),
		slashing::CheaterHonestShare::get(),
		slashing::CheaterArbitersShare::get(),
		slashing::CheaterTreasuryShare::get(),
	);
	if within_whole(&[set.0, set.1, set.2, set.3]) {
		set
	} else {
		(
			defaults::CHEATER_USER_SHARE,
			defaults::CHEATER_HONEST_SHARE,
			defaults::CHEATER_ARBITERS_SHARE,
			defaults::CHEATER_TREASURY_SHARE,
		)
	}
}

/// The share of its job collateral a node that misses a deadline loses.
pub type TimeoutSlash = slashing::TimeoutSlash;
/// The share of an attester's bond a condemned model costs it.
pub type ModelAttesterSlash = slashing::ModelAttesterSlash;

macro_rules! split_share {
	($(#[$doc:meta])* $name:ident = $split:ident . $field:tt) => {
		$(#[$doc])*
		pub struct $name;
		impl Get<Perbill> for $name {
			fn get() -> Perbill {
				$split().$field
			}
		}
	};
}

split_share!(
	/// A timed-out node's slash: the user's share.
	TimeoutUserShare = timeout_split.0
);
split_share!(
	/// A timed-out node's slash: the treasury's share.
	TimeoutTreasuryShare = timeout_split.1
);
split_share!(
	/// A cheater's slash: the cheated user's share.
	CheaterUserShare = cheater_split.0
);
split_share!(
	/// A cheater's slash: the honest nodes' share.
	CheaterHonestShare = cheater_split.1
);
split_share!(
	/// A cheater's slash: the arbiters' share.
	CheaterArbitersShare = cheater_split.2
);
split_share!(
	/// A cheater's slash: the treasury's share.
	CheaterTreasuryShare = cheater_split.3
);

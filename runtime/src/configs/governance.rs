//! Governance: two collectives instead of a sudo key (docs/governance.md).
//!
//! - The **council** (`pallet_collective` instance 1) decides the protocol: model approval,
//!   echelons and their execution profiles, the epoch length, treasury spending. A motion passes
//!   with more than half of its members (two thirds to spend).
//! - The **technical committee** (instance 2) decides the technical questions: disputes that
//!   arbitration could not settle, taking a copied or malicious model down at once. More than half
//!   of its members.
//! - **Root** (runtime upgrades, the councils' own membership, anything an upstream pallet reserves
//!   for root) needs both: the technical committee whitelists a call by hash (two thirds) and the
//!   council dispatches it (two thirds) through `pallet_whitelist`, in either order (the second
//!   step of a deferred dispatch can be relayed by anyone). A runtime upgrade is
//!   `system.authorize_upgrade(code_hash)` dispatched that way, then
//!   `system.apply_authorized_upgrade(code)`, which anyone may submit without a fee.
//!
//! Sudo stays in the runtime for the development preset alone: only its genesis names a key.

use frame_support::{parameter_types, traits::EitherOf, weights::Weight};
use frame_system::EnsureRoot;
use sp_runtime::Perbill;

use super::{AccountId, BlockNumber, RuntimeBlockWeights};
use crate::{time::DAYS, Preimage, Runtime, RuntimeCall, RuntimeEvent, RuntimeOrigin, System};

/// The council's collective.
pub type CouncilCollective = pallet_collective::Instance1;
/// The technical committee's collective.
pub type TechnicalCollective = pallet_collective::Instance2;

/// Root, or a council motion carried by more than half of its members.
pub type CouncilMajority = EitherOf<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionMoreThan<AccountId, CouncilCollective, 1, 2>,
>;
/// Root, or a council motion carried by two thirds of its members.
pub type CouncilTwoThirds = EitherOf<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionAtLeast<AccountId, CouncilCollective, 2, 3>,
>;
/// Root, or a technical committee motion carried by more than half of its members.
pub type TechnicalMajority = EitherOf<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionMoreThan<AccountId, TechnicalCollective, 1, 2>,
>;
/// Root, or a technical committee motion carried by two thirds of its members.
pub type TechnicalTwoThirds = EitherOf<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionAtLeast<AccountId, TechnicalCollective, 2, 3>,
>;

parameter_types! {
	/// How long a motion stays open for votes. A motion closes as soon as its threshold is met
	/// (or can no longer be met); after this long, absent members count as the prime member votes.
	pub const MotionDuration: BlockNumber = 3 * DAYS;
	/// A motion may carry at most half a block's weight.
	pub MaxMotionWeight: Weight = Perbill::from_percent(50) * RuntimeBlockWeights::get().max_block;
	/// A whitelisted call the council approved before the technical committee whitelisted it
	/// waits a week for the whitelist, then anyone may remove it.
	pub const DeferredDispatchExpiration: BlockNumber = 7 * DAYS;
}

impl pallet_collective::Config<CouncilCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = MotionDuration;
	type MaxProposals = frame_support::traits::ConstU32<100>;
	type MaxMembers = frame_support::traits::ConstU32<100>;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	// The council's own membership changes only with both houses (root through the whitelist).
	type SetMembersOrigin = EnsureRoot<AccountId>;
	type MaxProposalWeight = MaxMotionWeight;
	type DisapproveOrigin = EnsureRoot<AccountId>;
	type KillOrigin = EnsureRoot<AccountId>;
	// Only members propose, and a member's motions are bounded by `MaxProposals`: no deposit.
	type Consideration = ();
}

impl pallet_collective::Config<TechnicalCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = MotionDuration;
	type MaxProposals = frame_support::traits::ConstU32<100>;
	type MaxMembers = frame_support::traits::ConstU32<100>;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	// The council appoints the technical committee and can veto or kill its motions.
	type SetMembersOrigin = CouncilTwoThirds;
	type MaxProposalWeight = MaxMotionWeight;
	type DisapproveOrigin = CouncilTwoThirds;
	type KillOrigin = CouncilTwoThirds;
	type Consideration = ();
}

impl pallet_whitelist::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WhitelistOrigin = TechnicalTwoThirds;
	type DispatchWhitelistedOrigin = CouncilTwoThirds;
	type Preimages = Preimage;
	type DeferredDispatchExpiration = DeferredDispatchExpiration;
	type BlockNumberProvider = System;
	type WeightInfo = pallet_whitelist::weights::SubstrateWeight<Runtime>;
}

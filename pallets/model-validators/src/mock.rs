//! A test runtime: System, Balances, the real model registry (whose review is this pallet) and
//! this pallet, with the in-memory node registry of `atoma_support::stand_in_nodes` standing in
//! for `pallet-node-registry` (only subscriptions read it). `ExtBuilder::build_and_execute` checks both pallets'
//! invariants, and that issuance did not change, after every test.

use atoma_support::{
	stand_in_nodes::{self, StandInNodes},
	ModelId, NodeId,
};
use frame_support::{
	derive_impl, parameter_types,
	traits::{fungible::InspectHold, ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use sp_runtime::{BuildStorage, Perbill};

use crate as pallet_model_validators;

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;
pub type Balance = u64;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system::Pallet<Test>;
	#[runtime::pallet_index(1)]
	pub type Balances = pallet_balances::Pallet<Test>;
	#[runtime::pallet_index(2)]
	pub type ModelRegistry = pallet_model_registry::Pallet<Test>;
	#[runtime::pallet_index(3)]
	pub type ModelValidators = pallet_model_validators::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type Balance = Balance;
	type ExistentialDeposit = ConstU64<1>;
}

/// Model owners.
pub const OWNER: AccountId = 1;
pub const OTHER_OWNER: AccountId = 2;
/// Model validators (`V1`..`V3` bonded at genesis).
pub const V1: AccountId = 11;
pub const V2: AccountId = 12;
pub const V3: AccountId = 13;
pub const V4: AccountId = 14;
/// A node operator.
pub const OPERATOR: AccountId = 21;
/// Holds too little for a bond or a fee.
pub const PAUPER: AccountId = 31;
pub const TREASURY: AccountId = 99;

pub const INITIAL_BALANCE: Balance = 10_000;
pub const MODEL_DEPOSIT: Balance = 500;
pub const BOND: Balance = 1_000;
/// Not a multiple of 2 or 3: the first attester gets the remainder.
pub const FEE: Balance = 301;
pub const REVIEW_PERIOD: u64 = 10;
pub const UNBONDING_PERIOD: u64 = 50;
pub const MAX_VALIDATORS: u32 = 4;
pub const MAX_QUORUM: u32 = 3;

parameter_types! {
	pub const MaxOwnerShare: Perbill = Perbill::from_percent(20);
	pub const Treasury: AccountId = TREASURY;
	pub const AttesterSlash: Perbill = Perbill::from_percent(40);
}

impl pallet_model_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = StandInNodes;
	type ApproveOrigin = EnsureRoot<AccountId>;
	type Review = ModelValidators;
	type RemoveOrigin = EnsureRoot<AccountId>;
	type ModelDeposit = ConstU64<MODEL_DEPOSIT>;
	type MaxOwnerShare = MaxOwnerShare;
	type MaxSourceLen = ConstU32<256>;
	type MaxSubscribersPerModel = ConstU32<3>;
	type MaxEchelonsPerModel = ConstU32<2>;
	type MaxSubscriptionsPerNode = ConstU32<2>;
	type IndexDelay = ConstU32<0>;
	type MaxIndexChangesPerBlock = ConstU32<8>;
	type MismatchThreshold = ConstU32<1>;
	type MismatchBond = ConstU64<50>;
	type WeightInfo = ();
}

impl pallet_model_validators::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Models = ModelRegistry;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type SlashBeneficiary = Treasury;
	type ValidatorBond = ConstU64<BOND>;
	type ReviewFee = ConstU64<FEE>;
	type ReviewPeriod = ConstU64<REVIEW_PERIOD>;
	type UnbondingPeriod = ConstU64<UNBONDING_PERIOD>;
	type MaxValidators = ConstU32<MAX_VALIDATORS>;
	type MaxQuorum = ConstU32<MAX_QUORUM>;
	type DefaultQuorum = ConstU32<2>;
	type AttesterSlash = AttesterSlash;
	type WeightInfo = ();
}

/// Add an active node of `operator` to the stand-in node registry.
pub fn add_node(node: u64, operator: AccountId) -> NodeId {
	stand_in_nodes::add_node(node, operator, 0)
}

pub fn model(name: &[u8]) -> ModelId {
	ModelId::from_name(name).expect("a valid model id")
}

/// What `ModelValidators` holds on `who` for `reason`.
pub fn held(reason: crate::HoldReason, who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::ModelValidators(reason), &who)
}

pub struct ExtBuilder {
	quorum: Option<u32>,
	validators: Vec<AccountId>,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		Self { quorum: None, validators: vec![V1, V2, V3] }
	}
}

impl ExtBuilder {
	/// No genesis validators (the benchmarks bond their own, up to `MaxValidators`).
	#[cfg_attr(not(feature = "runtime-benchmarks"), allow(dead_code))]
	pub fn without_validators(mut self) -> Self {
		self.validators.clear();
		self
	}

	/// The genesis quorum (`DefaultQuorum`, 2, otherwise).
	pub fn quorum(mut self, quorum: u32) -> Self {
		self.quorum = Some(quorum);
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		stand_in_nodes::clear();
		let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: [OWNER, OTHER_OWNER, V1, V2, V3, V4, OPERATOR, TREASURY]
				.into_iter()
				.map(|who| (who, INITIAL_BALANCE))
				.chain([(PAUPER, 100)])
				.collect(),
			..Default::default()
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		pallet_model_validators::GenesisConfig::<Test> {
			validators: self.validators,
			quorum: self.quorum,
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		let mut ext: sp_io::TestExternalities = storage.into();
		ext.execute_with(|| System::set_block_number(1));
		ext
	}

	/// Run `test`, then check both pallets' invariants and that issuance did not change
	/// (slashes and fees move funds; nothing here mints or burns).
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issuance = pallet_balances::TotalIssuance::<Test>::get();
			test();
			ModelValidators::do_try_state().expect("model validators invariants hold");
			ModelRegistry::do_try_state().expect("model registry invariants hold");
			assert_eq!(pallet_balances::TotalIssuance::<Test>::get(), issuance);
		})
	}
}

/// Advance to `block`.
pub fn run_to_block(block: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < block {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		ModelRegistry::on_initialize(next);
	}
}

//! A test runtime: System, Balances and the emission pallet, with the node registry's epoch,
//! node operators, model owners and the validator set as settable statics. `ExtBuilder`'s
//! `build_and_execute` checks the pallet's invariants and the issuance rule (issuance rises by
//! exactly what the pallet minted) after every test.

use atoma_support::{EpochIndex, ModelId, NodeId};
use frame_support::{
	derive_impl, parameter_types,
	traits::{fungible::Inspect, ConstU32, ConstU64, Hooks},
};
use frame_system::EnsureRoot;
use sp_runtime::{traits::Convert, BuildStorage, Perbill};

use crate as pallet_emission;
use crate::{Schedule, TotalEmitted};

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
	pub type Emission = pallet_emission::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

pub const EXISTENTIAL_DEPOSIT: Balance = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type Balance = Balance;
	type ExistentialDeposit = ConstU64<EXISTENTIAL_DEPOSIT>;
}

pub const TREASURY: AccountId = 99;
/// Validators of the session.
pub const VAL_1: AccountId = 51;
pub const VAL_2: AccountId = 52;
/// Node `n`'s operator is `OPERATOR_BASE + n` (node `GONE_NODE` has none: deregistered).
pub const OPERATOR_BASE: AccountId = 1_000;
pub const GONE_NODE: u64 = 13;
/// Model owners.
pub const OWNER_A: AccountId = 201;
pub const OWNER_B: AccountId = 202;
pub const PER_EPOCH: Balance = 1_000_000;

pub fn model(name: &[u8]) -> ModelId {
	ModelId::from_name(name).expect("a valid model id")
}

pub fn operator(node: u64) -> AccountId {
	OPERATOR_BASE + node
}

parameter_types! {
	/// The node registry's current epoch.
	pub static RegistryEpoch: EpochIndex = 0;
	pub static SessionValidators: Vec<AccountId> = vec![VAL_1, VAL_2];
	pub static MaxPayoutsPerBlock: u32 = 64;
	pub const Treasury: AccountId = TREASURY;
}

pub struct Operators;
impl Convert<NodeId, Option<AccountId>> for Operators {
	fn convert(node: NodeId) -> Option<AccountId> {
		(node.0 != GONE_NODE).then(|| operator(node.0))
	}
}

pub struct Owners;
impl Convert<ModelId, Option<AccountId>> for Owners {
	fn convert(id: ModelId) -> Option<AccountId> {
		if id == model(b"model-a") {
			Some(OWNER_A)
		} else if id == model(b"model-b") {
			Some(OWNER_B)
		} else {
			None
		}
	}
}

impl pallet_emission::Config for Test {
	type Currency = Balances;
	type CurrentEpoch = RegistryEpoch;
	type NodeOperator = Operators;
	type ModelOwner = Owners;
	type Validators = SessionValidators;
	type MaxValidators = ConstU32<4>;
	type TreasuryAccount = Treasury;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type MaxPayoutsPerBlock = MaxPayoutsPerBlock;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockHelper;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct MockHelper;
#[cfg(feature = "runtime-benchmarks")]
impl crate::BenchmarkHelper<AccountId> for MockHelper {
	fn set_registry_epoch(epoch: EpochIndex) {
		RegistryEpoch::set(epoch);
	}
	fn set_validators(count: u32) {
		SessionValidators::set((0..u64::from(count)).map(|i| 500 + i).collect());
	}
	fn node(index: u32) -> NodeId {
		NodeId(u64::from(index))
	}
	fn model() -> ModelId {
		model(b"model-a")
	}
}

/// The schedule of most tests: 1,000,000 per epoch, 10% decay, 10% to validators, 20% to model
/// owners (70% to nodes).
pub fn schedule() -> Schedule<Balance> {
	Schedule {
		per_epoch: PER_EPOCH,
		decay: Perbill::from_percent(10),
		validators_share: Perbill::from_percent(10),
		model_owners_share: Perbill::from_percent(20),
	}
}

pub struct ExtBuilder {
	schedule: Schedule<Balance>,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		Self { schedule: schedule() }
	}
}

impl ExtBuilder {
	pub fn schedule(mut self, schedule: Schedule<Balance>) -> Self {
		self.schedule = schedule;
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		RegistryEpoch::set(0);
		SessionValidators::set(vec![VAL_1, VAL_2]);
		MaxPayoutsPerBlock::set(64);
		let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		// The treasury holds the existential deposit, so it can take any remainder.
		pallet_balances::GenesisConfig::<Test> {
			balances: vec![(TREASURY, EXISTENTIAL_DEPOSIT)],
			..Default::default()
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		pallet_emission::GenesisConfig::<Test>::from_schedule(self.schedule)
			.assimilate_storage(&mut storage)
			.unwrap();
		let mut ext = sp_io::TestExternalities::new(storage);
		ext.execute_with(|| System::set_block_number(1));
		ext
	}

	/// Run `test`, then check the pallet's invariants and that issuance rose by exactly what the
	/// pallet minted.
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issued_before = Balances::total_issuance();
			test();
			Emission::do_try_state().expect("invariants hold");
			assert_eq!(
				Balances::total_issuance(),
				issued_before + TotalEmitted::<Test>::get(),
				"issuance rose by exactly what was minted"
			);
		});
	}
}

/// Advance to the next block, running the pallet's `on_initialize`.
pub fn next_block() {
	let next = System::block_number() + 1;
	System::set_block_number(next);
	Emission::on_initialize(next);
}

/// The node registry moves to its next epoch; the next block closes the open one.
pub fn end_epoch() {
	RegistryEpoch::set(RegistryEpoch::get() + 1);
	next_block();
}

/// Run blocks until every closed epoch is paid.
pub fn pay_all() {
	for _ in 0..1_000 {
		if crate::PayoutHead::<Test>::get() == crate::OpenEpoch::<Test>::get() {
			return;
		}
		next_block();
	}
	panic!("payouts did not finish");
}

pub fn events() -> Vec<crate::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Emission(e) => Some(e),
			_ => None,
		})
		.collect()
}

pub fn balance(who: AccountId) -> Balance {
	Balances::balance(&who)
}

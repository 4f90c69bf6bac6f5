//! A test runtime: System, Balances and the model registry, with a small in-memory node registry
//! standing in for `pallet-node-registry` (pallets meet only through `atoma-support` traits).

pub use atoma_support::stand_in_nodes::{
	add_node, set_active, StandInNodes, OTHER_PROFILE, SERVING_CHANGES,
};
use atoma_support::{NodeId, OnNodeDeregistered};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use frame_system::EnsureRoot;
use sp_runtime::{BuildStorage, Perbill};

use crate as pallet_model_registry;

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

pub const OWNER: AccountId = 1;
pub const ALICE: AccountId = 2;
pub const BOB: AccountId = 3;
pub const PAUPER: AccountId = 11;
pub const DEPOSIT: Balance = 500;
pub const INITIAL_BALANCE: Balance = 10_000;

/// Mark a node deregistered in the stand-in and tell the model registry, as the real node
/// registry does.
pub fn deregister(node: NodeId) {
	set_active(node, false);
	<ModelRegistry as OnNodeDeregistered>::on_node_deregistered(node);
}

parameter_types! {
	pub const MaxOwnerShare: Perbill = Perbill::from_percent(20);
	/// As the runtime's: the index follows subscriptions two blocks late.
	pub static IndexDelay: u32 = 2;
}

impl pallet_model_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = StandInNodes;
	type ApproveOrigin = EnsureRoot<AccountId>;
	type Review = ();
	type RemoveOrigin = EnsureRoot<AccountId>;
	type ModelDeposit = ConstU64<DEPOSIT>;
	type MaxOwnerShare = MaxOwnerShare;
	type MaxSourceLen = ConstU32<32>;
	type MaxSubscribersPerModel = ConstU32<3>;
	type MaxEchelonsPerModel = ConstU32<2>;
	type MaxSubscriptionsPerNode = ConstU32<2>;
	type IndexDelay = IndexDelay;
	type MaxIndexChangesPerBlock = ConstU32<3>;
	type MismatchThreshold = ConstU32<2>;
	type MismatchBond = ConstU64<50>;
	type WeightInfo = ();
}

#[derive(Default)]
pub struct ExtBuilder {
	models: Vec<crate::GenesisModel<AccountId>>,
	subscriptions: Vec<(u64, Vec<u8>)>,
}

impl ExtBuilder {
	/// An approved model at genesis.
	pub fn with_model(mut self, id: &[u8]) -> Self {
		self.models.push((
			id.to_vec(),
			OWNER,
			[1; 32],
			[2; 32],
			b"pypi:x".to_vec(),
			Perbill::from_percent(5),
		));
		self
	}

	/// A genesis subscription of `node` (which must exist in the stand-in registry).
	pub fn with_subscription(mut self, node: u64, model: &[u8]) -> Self {
		self.subscriptions.push((node, model.to_vec()));
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: vec![
				(OWNER, INITIAL_BALANCE),
				(ALICE, INITIAL_BALANCE),
				(BOB, INITIAL_BALANCE),
			],
			..Default::default()
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		pallet_model_registry::GenesisConfig::<Test> {
			models: self.models,
			subscriptions: self.subscriptions,
			context_lengths: Vec::new(),
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		let mut ext: sp_io::TestExternalities = storage.into();
		ext.execute_with(|| System::set_block_number(1));
		ext
	}

	/// Run `test`, then let the index catch up, and check the invariants and that issuance did not change (nothing here
	/// burns or mints).
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issuance = pallet_balances::TotalIssuance::<Test>::get();
			test();
			ModelRegistry::do_try_state().expect("model registry invariants hold");
			settle_index();
			ModelRegistry::do_try_state().expect("model registry invariants hold once settled");
			assert_eq!(pallet_balances::TotalIssuance::<Test>::get(), issuance);
		})
	}
}

/// Reset the stand-in registry: three nodes, ALICE's 0 and 1 in echelon 0, BOB's 2 in echelon 1.
pub fn reset_nodes() {
	atoma_support::stand_in_nodes::clear();
	IndexDelay::set(2);
	add_node(0, ALICE, 0);
	add_node(1, ALICE, 0);
	add_node(2, BOB, 1);
}

#[cfg_attr(not(feature = "runtime-benchmarks"), allow(dead_code))]
pub fn new_test_ext() -> sp_io::TestExternalities {
	reset_nodes();
	ExtBuilder::default().build()
}

/// Advance to `block`, running the registry's `on_initialize` on each block.
pub fn run_to_block(block: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < block {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		ModelRegistry::on_initialize(next);
	}
}

/// Advance until no index change waits and no removed model is being cleared.
pub fn settle_index() {
	for _ in 0..1_000 {
		let (head, tail) = crate::IndexQueueBounds::<Test>::get();
		if head == tail && crate::Unindexing::<Test>::get().is_empty() {
			return;
		}
		run_to_block(System::block_number() + 1);
	}
	panic!("the index did not settle");
}

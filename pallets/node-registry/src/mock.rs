//! A test runtime: System, Balances and the node registry, with named accounts and an
//! `ExtBuilder` whose `build_and_execute` checks the pallet's invariants and the issuance rule
//! (issuance only falls by what slashes burned) after every test.

use core::cell::RefCell;

use atoma_support::{NodeId, OnNodeDeregistered};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, Hooks},
	weights::Weight,
};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

use crate as pallet_node_registry;

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
	pub type NodeRegistry = pallet_node_registry::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<Balance>;
}

atoma_support::impl_test_authorized_transactions!(Test, RuntimeCall);

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type Balance = Balance;
	type ExistentialDeposit = ConstU64<1>;
}

pub const ALICE: AccountId = 1;
pub const BOB: AccountId = 2;
pub const CHARLIE: AccountId = 3;
pub const DAVE: AccountId = 4;
/// A user whose requests nodes serve: pays fees, receives slash shares.
pub const USER: AccountId = 10;
/// An account without funds.
pub const PAUPER: AccountId = 11;
pub const TREASURY: AccountId = 99;
pub const MIN_COLLATERAL: Balance = 1_000;
pub const EPOCH: u64 = 10;
pub const INITIAL_BALANCE: Balance = 100_000;

parameter_types! {
	pub const Treasury: AccountId = TREASURY;
	/// Nodes that serve no model (the model registry has no subscription of theirs).
	pub static ServingNothing: Vec<NodeId> = Vec::new();
	/// `MaxNodesPerEchelon`: 4, raised by the tests with thousands of nodes.
	pub static MaxNodesPerEchelon: u32 = 4;
	/// 0 (freed collateral counts at once) but where a test sets the runtime's 2.
	pub static FreeCollateralDelay: u32 = 0;
}

/// Stands in for the model registry's subscriptions: every node serves a model unless listed in
/// [`ServingNothing`].
pub struct ServingUnlessListed;
impl frame_support::traits::Contains<NodeId> for ServingUnlessListed {
	fn contains(node: &NodeId) -> bool {
		!ServingNothing::get().contains(node)
	}
}

/// Set the nodes that serve nothing and tell the registry of each node whose serving changed, as
/// the model registry does when a node's first subscription begins or its last ends.
pub fn set_serving_nothing(nodes: Vec<NodeId>) {
	use atoma_support::NodeRegistry as _;
	let before = ServingNothing::get();
	ServingNothing::set(nodes.clone());
	for node in before
		.iter()
		.filter(|n| !nodes.contains(n))
		.chain(nodes.iter().filter(|n| !before.contains(n)))
	{
		NodeRegistry::serving_changed(*node);
	}
}

thread_local! {
	/// Nodes the registry reported as deregistered, in order.
	pub static DEREGISTERED: RefCell<Vec<NodeId>> = const { RefCell::new(Vec::new()) };
}

/// Records deregistrations, standing in for the model registry.
pub struct RecordDeregistrations;
impl OnNodeDeregistered for RecordDeregistrations {
	fn on_node_deregistered(node: NodeId) -> Weight {
		DEREGISTERED.with(|d| d.borrow_mut().push(node));
		Weight::zero()
	}
	fn max_weight() -> Weight {
		Weight::zero()
	}
}

impl pallet_node_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type MinCollateral = ConstU64<MIN_COLLATERAL>;
	type MinEpochLength = ConstU64<2>;
	type MaxUrlLen = ConstU32<64>;
	type MaxDeviceNameLen = ConstU32<16>;
	type MaxEchelons = ConstU32<3>;
	type MaxNodesPerEchelon = MaxNodesPerEchelon;
	type FreeCollateralDelay = FreeCollateralDelay;
	type TreasuryAccount = Treasury;
	type OnNodeDeregistered = RecordDeregistrations;
	type OnNodeSlashed = ();
	type ServingNodes = ServingUnlessListed;
	type WeightInfo = ();
}

pub struct ExtBuilder {
	echelons: Vec<(Vec<u8>, u32, u64, [u8; 32])>,
	nodes: Vec<(AccountId, u32, atoma_support::WorkerPublic, Vec<u8>, Balance, Balance)>,
}

impl Default for ExtBuilder {
	fn default() -> Self {
		// Execution profile all zeros: not pinned (the profile tests pin one).
		Self { echelons: vec![(b"cpu-x86_64".to_vec(), 1, 16_384, [0; 32])], nodes: Vec::new() }
	}
}

impl ExtBuilder {
	/// No echelon at genesis.
	pub fn without_echelons(mut self) -> Self {
		self.echelons.clear();
		self
	}

	/// A genesis node of `operator` in echelon 0, bidding `price`.
	pub fn with_genesis_node(mut self, operator: AccountId, price: Balance) -> Self {
		self.nodes.push((
			operator,
			0,
			worker_key(200 + operator as u8),
			b"http://genesis".to_vec(),
			MIN_COLLATERAL,
			price,
		));
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		pallet_balances::GenesisConfig::<Test> {
			balances: [ALICE, BOB, CHARLIE, DAVE, USER, TREASURY]
				.into_iter()
				.map(|who| (who, INITIAL_BALANCE))
				.collect(),
			..Default::default()
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		pallet_node_registry::GenesisConfig::<Test> {
			epoch_length: EPOCH,
			echelons: self.echelons,
			nodes: self.nodes,
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		let mut ext: sp_io::TestExternalities = storage.into();
		ext.execute_with(|| {
			System::set_block_number(1);
			ServingNothing::set(Vec::new());
			MaxNodesPerEchelon::set(4);
			FreeCollateralDelay::set(0);
			DEREGISTERED.with(|d| d.borrow_mut().clear());
		});
		ext
	}

	/// Run `test`, then check the invariants and that issuance fell only by burned slashes.
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issuance = pallet_balances::TotalIssuance::<Test>::get();
			test();
			NodeRegistry::do_try_state().expect("node registry invariants hold");
			let burned: Balance = System::events()
				.into_iter()
				.filter_map(|record| match record.event {
					RuntimeEvent::NodeRegistry(crate::Event::CollateralSlashed {
						burned, ..
					}) => Some(burned),
					_ => None,
				})
				.sum();
			assert_eq!(
				pallet_balances::TotalIssuance::<Test>::get(),
				issuance - burned,
				"issuance falls only by burns"
			);
		})
	}
}

/// The benchmarks' externalities, with a keystore for the worker keys they sign with.
#[cfg_attr(not(feature = "runtime-benchmarks"), allow(dead_code))]
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut ext = ExtBuilder::default().build();
	ext.register_extension(sp_keystore::KeystoreExt::new(
		sp_keystore::testing::MemoryKeystore::new(),
	));
	ext
}

/// A worker key made from one byte.
pub fn worker_key(seed: u8) -> atoma_support::WorkerPublic {
	sp_core::sr25519::Public::from_raw([seed; 32])
}

/// Advance to block `n`, running the registry's hooks.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		NodeRegistry::on_initialize(next);
	}
}

/// Advance to the first block of the next epoch.
pub fn run_to_next_epoch() {
	run_to_block(crate::NextEpochStart::<Test>::get());
}

//! A test runtime: System, Balances, the real node and model registries (holds, slashes and fees
//! are the chain's own), the real inference pallet (requests, commitments, escrow) and this
//! pallet as its dispute manager. Worker keys are real sr25519 pairs, so commitments and arbiter
//! votes carry real signatures.
//!
//! `ExtBuilder::build_and_execute` checks after every test: each pallet's invariants, that every
//! escrowed fee went to nodes, the model owner or back to the user (or is still held), that
//! reservations match the work in flight (no hold outlives its job or dispute), and that issuance
//! fell only by what slashes burned.

use core::cell::RefCell;

use atoma_primitives::SamplingParams;
use atoma_support::{
	inference::{OutputDestination, RequestInput, RequestSpec, VerificationMode},
	EchelonId, ModelId, NodeId,
};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, Randomness},
};
use frame_system::{pallet_prelude::BlockNumberFor, EnsureRoot};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{BuildStorage, Perbill};

use crate as pallet_disputes;

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
	#[runtime::pallet_index(3)]
	pub type ModelRegistry = pallet_model_registry::Pallet<Test>;
	#[runtime::pallet_index(4)]
	pub type Inference = pallet_inference::Pallet<Test>;
	#[runtime::pallet_index(5)]
	pub type Disputes = pallet_disputes::Pallet<Test>;
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

pub const USER: AccountId = 1;
pub const MODEL_OWNER: AccountId = 50;
pub const TREASURY: AccountId = 99;
/// Node `i` is operated by `OPERATOR_BASE + i`.
pub const OPERATOR_BASE: AccountId = 100;
pub const NODE_COLLATERAL: Balance = 10_000;
pub const JOB_COLLATERAL: Balance = 1_000;
pub const PRICE: Balance = 2;
pub const OWNER_SHARE_PERCENT: u32 = 10;
pub const INITIAL_BALANCE: Balance = 1_000_000;
pub const MODEL: &str = "m";

parameter_types! {
	pub const ArbiterTimeoutSlash: Perbill = Perbill::from_percent(10);
	pub const ArbiterTimeoutTreasuryShare: Perbill = Perbill::from_percent(30);
	pub const CheaterUserShare: Perbill = Perbill::from_percent(30);
	pub const CheaterHonestShare: Perbill = Perbill::from_percent(20);
	pub const CheaterArbitersShare: Perbill = Perbill::from_percent(20);
	pub const CheaterTreasuryShare: Perbill = Perbill::from_percent(20);
	pub const Treasury: AccountId = TREASURY;
	pub const MaxOwnerShare: Perbill = Perbill::from_percent(20);
	pub const TimeoutSlash: Perbill = Perbill::from_percent(10);
	pub const TimeoutUserShare: Perbill = Perbill::from_percent(50);
	pub const TimeoutTreasuryShare: Perbill = Perbill::from_percent(30);
	/// The longest output survivors may publish. 0 (the default): none can be, so every dispute
	/// is arbitrated by full re-execution (the `rounds` and `resolution` tests); the bisection
	/// tests raise it.
	pub static PublishableOutputLen: u32 = 0;
}

/// Blocks per bisection turn.
pub const BISECTION_WINDOW: u64 = 5;
/// Blocks survivors have to publish the output.
pub const OUTPUT_WINDOW: u64 = 5;

impl pallet_node_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type MinCollateral = ConstU64<1_000>;
	type MinEpochLength = ConstU64<2>;
	type MaxUrlLen = ConstU32<64>;
	type MaxDeviceNameLen = ConstU32<16>;
	type MaxEchelons = ConstU32<8>;
	type MaxNodesPerEchelon = ConstU32<64>;
	type FreeCollateralDelay = ConstU32<0>;
	type TreasuryAccount = Treasury;
	type OnNodeDeregistered = ModelRegistry;
	type OnNodeSlashed = ();
	type ServingNodes = pallet_model_registry::ServingNodes<Test>;
	type WeightInfo = ();
}

impl pallet_model_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = NodeRegistry;
	type ApproveOrigin = EnsureRoot<AccountId>;
	type Review = ();
	type RemoveOrigin = EnsureRoot<AccountId>;
	type ModelDeposit = ConstU64<100>;
	type MaxOwnerShare = MaxOwnerShare;
	type MaxSourceLen = ConstU32<32>;
	type MaxSubscribersPerModel = ConstU32<64>;
	type MaxEchelonsPerModel = ConstU32<4>;
	type MaxSubscriptionsPerNode = ConstU32<4>;
	// The draw index follows subscriptions at once here.
	type IndexDelay = ConstU32<0>;
	type MaxIndexChangesPerBlock = ConstU32<64>;
	type MismatchThreshold = ConstU32<2>;
	type MismatchBond = ConstU64<50>;
	type WeightInfo = ();
}

thread_local! {
	/// Mixed into the test randomness, so tests can change the draw.
	pub static RANDOM_SALT: RefCell<u64> = const { RefCell::new(0) };
}

/// Randomness that changes every block (and with `RANDOM_SALT`), like BABE's per-block VRF output.
pub struct TestRandomness;
impl Randomness<Option<H256>, BlockNumberFor<Test>> for TestRandomness {
	fn random(subject: &[u8]) -> (Option<H256>, BlockNumberFor<Test>) {
		let block = System::block_number();
		let salt = RANDOM_SALT.with(|s| *s.borrow());
		let digest = sp_io::hashing::blake2_256(&(subject, block, salt).encode_to_vec());
		(Some(H256(digest)), block)
	}
}

trait EncodeToVec {
	fn encode_to_vec(&self) -> Vec<u8>;
}
impl<T: codec::Encode> EncodeToVec for T {
	fn encode_to_vec(&self) -> Vec<u8> {
		self.encode()
	}
}

impl pallet_inference::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = NodeRegistry;
	type Models = ModelRegistry;
	type Randomness = TestRandomness;
	type Disputes = Disputes;
	type OnOutcome = ();
	type WorkLedger = ();
	type MaxInputLen = ConstU32<64>;
	type MaxOutputLen = ConstU32<256>;
	type MaxQuorum = ConstU32<3>;
	type MinTimeout = ConstU32<2>;
	type MaxTimeout = ConstU32<50>;
	type RevealWindow = ConstU32<3>;
	type VerifierWindow = ConstU32<4>;
	type MaxRedraws = ConstU32<2>;
	type JobCollateral = ConstU64<JOB_COLLATERAL>;
	type TimeoutSlash = TimeoutSlash;
	type TimeoutUserShare = TimeoutUserShare;
	type TimeoutTreasuryShare = TimeoutTreasuryShare;
	type MaxPendingSelections = ConstU32<4>;
	type MaxSelectionsPerBlock = ConstU32<3>;
	type SelectionDelay = ConstU32<1>;
	type MaxDeadlinesPerBlock = ConstU32<4>;
	type ResultRetention = ConstU32<50>;
	type OutputRetention = ConstU32<20>;
	type MaxPrunedPerBlock = ConstU32<2>;
	type WeightInfo = ();
}

pub const ARBITER_QUORUM: u32 = 3;
pub const DRAW_DELAY: u64 = 2;
pub const COMMIT_WINDOW: u64 = 4;
pub const REVEAL_WINDOW: u64 = 3;
pub const GOVERNANCE_WINDOW: u64 = 10;
pub const ARBITER_COLLATERAL: Balance = 1_000;

impl pallet_disputes::Config for Test {
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Models = ModelRegistry;
	type Requests = Inference;
	type Randomness = TestRandomness;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type ArbiterQuorum = ConstU32<ARBITER_QUORUM>;
	type MaxRounds = ConstU32<2>;
	type DrawDelay = ConstU32<{ DRAW_DELAY as u32 }>;
	type CommitWindow = ConstU32<{ COMMIT_WINDOW as u32 }>;
	type RevealWindow = ConstU32<{ REVEAL_WINDOW as u32 }>;
	type GovernanceWindow = ConstU32<{ GOVERNANCE_WINDOW as u32 }>;
	type BisectionWindow = ConstU32<{ BISECTION_WINDOW as u32 }>;
	type OutputWindow = ConstU32<{ OUTPUT_WINDOW as u32 }>;
	type MaxOutputLen = PublishableOutputLen;
	type ArbiterCollateral = ConstU64<ARBITER_COLLATERAL>;
	type ArbiterTimeoutSlash = ArbiterTimeoutSlash;
	type ArbiterTimeoutTreasuryShare = ArbiterTimeoutTreasuryShare;
	type CheaterUserShare = CheaterUserShare;
	type CheaterHonestShare = CheaterHonestShare;
	type CheaterArbitersShare = CheaterArbitersShare;
	type CheaterTreasuryShare = CheaterTreasuryShare;
	type MaxParties = ConstU32<4>;
	type MaxArbiters = ConstU32<9>;
	type MaxTimersPerBlock = ConstU32<4>;
	type WeightInfo = ();
}

atoma_support::impl_test_authorized_transactions!(Test, RuntimeCall);

/// The worker key pair of node `i`.
pub fn node_pair(i: u64) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//node{i}"), None).expect("valid derivation")
}

/// The worker key pair of node `node`, for signing its commitments.
pub fn pair_of(node: NodeId) -> sr25519::Pair {
	node_pair(node.0)
}

pub fn model() -> ModelId {
	ModelId::from_name(MODEL.as_bytes()).expect("valid id")
}

/// A greedy request for the default model, inline input, 5 input tokens, up to 10 output tokens.
pub fn spec(mode: VerificationMode) -> RequestSpec {
	RequestSpec {
		model: model(),
		echelon: EchelonId(0),
		input: RequestInput::Inline(b"hello".to_vec()),
		input_tokens: 5,
		params: SamplingParams {
			temperature_milli: 0,
			top_k: 0,
			top_p_milli: 1_000,
			max_output_tokens: 10,
			seed: 0,
		},
		mode,
		timeout: 5,
		destination: OutputDestination::Worker,
	}
}

pub struct ExtBuilder {
	nodes: u64,
}

/// Enough nodes for a Sampling quorum of 3 and both arbitration rounds (3 + 6 arbiters).
impl Default for ExtBuilder {
	fn default() -> Self {
		Self { nodes: 12 }
	}
}

impl ExtBuilder {
	/// `n` execution nodes, subscribed to the model, serving from genesis.
	pub fn nodes(mut self, n: u64) -> Self {
		self.nodes = n;
		self
	}

	pub fn build(self) -> sp_io::TestExternalities {
		let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		let operators: Vec<AccountId> = (0..self.nodes).map(|i| OPERATOR_BASE + i).collect();
		let mut balances: Vec<(AccountId, Balance)> =
			[USER, MODEL_OWNER, TREASURY].into_iter().map(|a| (a, INITIAL_BALANCE)).collect();
		balances.extend(operators.iter().map(|a| (*a, INITIAL_BALANCE)));
		pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
			.assimilate_storage(&mut storage)
			.unwrap();
		pallet_node_registry::GenesisConfig::<Test> {
			epoch_length: 1_000,
			echelons: vec![(b"cpu".to_vec(), 1, 0, [0; 32])],
			nodes: (0..self.nodes)
				.map(|i| {
					(
						OPERATOR_BASE + i,
						0,
						node_pair(i).public(),
						b"http://worker".to_vec(),
						NODE_COLLATERAL,
						PRICE,
					)
				})
				.collect(),
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		pallet_model_registry::GenesisConfig::<Test> {
			models: vec![(
				MODEL.as_bytes().to_vec(),
				MODEL_OWNER,
				[1; 32],
				[2; 32],
				b"src".to_vec(),
				Perbill::from_percent(OWNER_SHARE_PERCENT),
			)],
			subscriptions: (0..self.nodes).map(|i| (i, MODEL.as_bytes().to_vec())).collect(),
			context_lengths: Vec::new(),
		}
		.assimilate_storage(&mut storage)
		.unwrap();
		let mut ext: sp_io::TestExternalities = storage.into();
		ext.execute_with(|| {
			System::set_block_number(1);
			RANDOM_SALT.with(|s| *s.borrow_mut() = 0);
		});
		ext
	}

	/// Run `test`, then check invariants, the fee accounting, that no hold outlives its reason,
	/// and the issuance rule.
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issuance = pallet_balances::TotalIssuance::<Test>::get();
			test();
			NodeRegistry::do_try_state().expect("node registry invariants hold");
			ModelRegistry::do_try_state().expect("model registry invariants hold");
			Inference::do_try_state().expect("inference invariants hold");
			Disputes::do_try_state().expect("dispute invariants hold");
			check_fee_accounting();
			check_reservations();
			let burned: Balance = System::events()
				.into_iter()
				.filter_map(|r| match r.event {
					RuntimeEvent::NodeRegistry(
						pallet_node_registry::Event::CollateralSlashed { burned, .. },
					) => Some(burned),
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

/// Fees paid equal payouts plus refunds (plus what is still held for requests in flight).
pub fn check_fee_accounting() {
	let (mut escrowed, mut paid_out, mut refunded) = (0u64, 0u64, 0u64);
	for record in System::events() {
		match record.event {
			RuntimeEvent::Inference(pallet_inference::Event::RequestSubmitted {
				escrow, ..
			}) => escrowed += escrow,
			RuntimeEvent::Inference(pallet_inference::Event::RequestSettled {
				paid_to_nodes,
				paid_to_model_owner,
				refunded: r,
				..
			}) => {
				paid_out += paid_to_nodes + paid_to_model_owner;
				refunded += r;
			},
			RuntimeEvent::Inference(pallet_inference::Event::RequestFailed {
				refunded: r, ..
			}) => refunded += r,
			RuntimeEvent::Inference(pallet_inference::Event::DisputeConcluded {
				refunded: r,
				..
			}) => refunded += r,
			_ => {},
		}
	}
	let in_flight: Balance =
		pallet_inference::Requests::<Test>::iter_values().map(|r| r.escrow).sum();
	assert_eq!(escrowed, paid_out + refunded + in_flight, "fees paid = payouts + refunds + held");
}

/// Every node's reserved collateral is exactly what the requests and disputes in flight hold on
/// it: a job's collateral for each request it executes, an arbiter's for each dispute it
/// arbitrates. Nothing is reserved once everything has ended.
pub fn check_reservations() {
	use std::collections::BTreeMap;
	let mut expected = BTreeMap::<NodeId, Balance>::new();
	for request in pallet_inference::Requests::<Test>::iter_values() {
		if request.phase == pallet_inference::Phase::AwaitingSelection {
			continue;
		}
		for node in request.nodes.iter().chain(request.verifiers.iter()) {
			*expected.entry(*node).or_default() += JOB_COLLATERAL;
		}
	}
	for dispute in crate::Disputes::<Test>::iter_values() {
		for node in dispute.arbiters.iter() {
			*expected.entry(*node).or_default() += ARBITER_COLLATERAL;
		}
	}
	for (node, record) in pallet_node_registry::Nodes::<Test>::iter() {
		let want = expected.get(&node).copied().unwrap_or_default().min(record.collateral);
		assert_eq!(record.reserved, want, "reservation of {node:?}");
	}
}

/// The benchmarks' externalities: no genesis nodes (benchmarks make their own), a keystore for
/// the worker keys they sign with, and outputs publishable as in the runtime.
#[cfg_attr(not(feature = "runtime-benchmarks"), allow(dead_code))]
pub fn new_test_ext() -> sp_io::TestExternalities {
	PublishableOutputLen::set(4_096);
	let mut ext = ExtBuilder::default().nodes(0).build();
	ext.register_extension(sp_keystore::KeystoreExt::new(
		sp_keystore::testing::MemoryKeystore::new(),
	));
	ext
}

/// Advance to block `n`, running every pallet's hooks.
pub fn run_to_block(n: u64) {
	System::run_to_block::<AllPalletsWithSystem>(n);
}

/// Advance one block.
pub fn next_block() {
	run_to_block(System::block_number() + 1);
}

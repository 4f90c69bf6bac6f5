//! A test runtime: System, Balances, the real node and model registries (so holds, slashes and
//! fees are the chain's own), the inference pallet and a small pallet that requests inference
//! (`test_caller`, this chain's smart-contract requests). Node worker keys are real sr25519 pairs,
//! so commitments carry real signatures and Cross-Validation real VRF proofs.
//!
//! `ExtBuilder::build_and_execute` checks after every test: each pallet's invariants, that every
//! escrowed fee went to nodes, the model owner or back to the user (or is still held), and that
//! issuance fell only by what slashes burned.

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

use crate as pallet_inference;

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
	pub type TestCaller = test_caller::Pallet<Test>;
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
pub const PAUPER: AccountId = 2;
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
/// The test model's context length, in tokens.
pub const CONTEXT_LENGTH: u32 = 100;

parameter_types! {
	/// Tests of many requests in flight raise these.
	pub static MaxPendingSelections: u32 = 4;
	pub static MaxSelectionsPerBlock: u32 = 3;
	/// 1 (the block after the submission) in most tests; the runtime's 2 where it matters.
	pub static SelectionDelay: u32 = 1;
	pub static MaxDeadlinesPerBlock: u32 = 4;
	/// 0 (the draw index follows subscriptions at once) in most tests; the runtime's 2 where
	/// it matters.
	pub static IndexDelay: u32 = 0;
	/// 0 (freed collateral counts at once) in most tests; the runtime's 2 where it matters.
	pub static FreeCollateralDelay: u32 = 0;
	pub const Treasury: AccountId = TREASURY;
	pub const MaxOwnerShare: Perbill = Perbill::from_percent(20);
	pub const TimeoutSlash: Perbill = Perbill::from_percent(10);
	pub const TimeoutUserShare: Perbill = Perbill::from_percent(50);
	pub const TimeoutTreasuryShare: Perbill = Perbill::from_percent(30);
}

impl pallet_node_registry::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type MinCollateral = ConstU64<1_000>;
	type MinEpochLength = ConstU64<2>;
	type MaxUrlLen = ConstU32<64>;
	type MaxDeviceNameLen = ConstU32<16>;
	type MaxEchelons = ConstU32<4>;
	type MaxNodesPerEchelon = ConstU32<64>;
	type FreeCollateralDelay = FreeCollateralDelay;
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
	type IndexDelay = IndexDelay;
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
	type Disputes = ();
	type OnOutcome = TestCaller;
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
	type MaxPendingSelections = MaxPendingSelections;
	type MaxSelectionsPerBlock = MaxSelectionsPerBlock;
	type SelectionDelay = SelectionDelay;
	type MaxDeadlinesPerBlock = MaxDeadlinesPerBlock;
	type ResultRetention = ConstU32<50>;
	type OutputRetention = ConstU32<20>;
	type MaxPrunedPerBlock = ConstU32<2>;
	type WeightInfo = ();
}

atoma_support::impl_test_authorized_transactions!(Test, RuntimeCall);

/// A pallet that requests inference for its users and records how each request ended.
#[frame_support::pallet]
pub mod test_caller {
	use atoma_support::{
		inference::{
			CallerTag, InferenceOutcome, InferenceRequester, OnInferenceOutcome, RequestSpec,
		},
		RequestId,
	};
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	/// This pallet's caller tag.
	pub const TAG: CallerTag = *b"testcall";

	#[pallet::pallet]
	#[pallet::without_storage_info]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		type Inference: InferenceRequester<Self::AccountId>;
	}

	#[pallet::storage]
	pub type Outcomes<T: Config> = StorageMap<_, Twox64Concat, RequestId, InferenceOutcome>;

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		#[pallet::call_index(0)]
		#[pallet::weight(Weight::zero())]
		pub fn ask(origin: OriginFor<T>, spec: RequestSpec) -> DispatchResult {
			let who = ensure_signed(origin)?;
			T::Inference::request_inference(&who, spec, TAG).map(|_| ())
		}
	}

	impl<T: Config> OnInferenceOutcome for Pallet<T> {
		fn on_outcome(caller: CallerTag, request: RequestId, outcome: &InferenceOutcome) -> Weight {
			if caller == TAG {
				Outcomes::<T>::insert(request, outcome.clone());
			}
			Self::max_weight()
		}

		fn max_weight() -> Weight {
			// One storage write, at a database weight a real runtime might have.
			Weight::from_parts(100_000_000, 100)
		}
	}
}

impl test_caller::Config for Test {
	type Inference = Inference;
}

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

impl Default for ExtBuilder {
	fn default() -> Self {
		Self { nodes: 3 }
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
			context_lengths: vec![(MODEL.as_bytes().to_vec(), CONTEXT_LENGTH)],
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

	/// Run `test`, then check invariants, the fee accounting and the issuance rule.
	pub fn build_and_execute(self, test: impl FnOnce()) {
		self.build().execute_with(|| {
			let issuance = pallet_balances::TotalIssuance::<Test>::get();
			test();
			NodeRegistry::do_try_state().expect("node registry invariants hold");
			ModelRegistry::do_try_state().expect("model registry invariants hold");
			Inference::do_try_state().expect("inference invariants hold");
			check_fee_accounting();
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
			RuntimeEvent::Inference(crate::Event::RequestSubmitted { escrow, .. }) => {
				escrowed += escrow
			},
			RuntimeEvent::Inference(crate::Event::RequestSettled {
				paid_to_nodes,
				paid_to_model_owner,
				refunded: r,
				..
			}) => {
				paid_out += paid_to_nodes + paid_to_model_owner;
				refunded += r;
			},
			RuntimeEvent::Inference(crate::Event::RequestFailed { refunded: r, .. }) => {
				refunded += r
			},
			RuntimeEvent::Inference(crate::Event::RequestUnservable {
				paid_to_nodes,
				refunded: r,
				..
			}) => {
				paid_out += paid_to_nodes;
				refunded += r;
			},
			RuntimeEvent::Inference(crate::Event::DisputeConcluded { refunded: r, .. }) => {
				refunded += r
			},
			_ => {},
		}
	}
	let in_flight: Balance = crate::Requests::<Test>::iter_values().map(|r| r.escrow).sum();
	assert_eq!(escrowed, paid_out + refunded + in_flight, "fees paid = payouts + refunds + held");
}

/// The benchmarks' externalities: no genesis nodes (benchmarks make their own), and a keystore
/// for the worker keys they sign with.
#[cfg_attr(not(feature = "runtime-benchmarks"), allow(dead_code))]
pub fn new_test_ext() -> sp_io::TestExternalities {
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

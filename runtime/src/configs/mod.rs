//! One `Config` implementation per pallet, with the chain's parameters.
//!
//! Upstream pallets use their upstream benchmarked `SubstrateWeight`s; this chain's own pallets
//! get weights from their FRAME benchmarks as they arrive.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{
		fungible::{Balanced, Credit, HoldConsideration},
		tokens::{imbalance::ResolveTo, pay::PayFromAccount, UnityAssetBalanceConversion},
		ConstU128, ConstU32, ConstU64, ConstU8, EitherOf, Imbalance, LinearStoragePrice,
		OnUnbalanced, VariantCountOf,
	},
	weights::{
		constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
	PalletId,
};
use frame_system::{
	limits::{BlockLength, BlockWeights},
	EnsureRoot, EnsureWithSuccess,
};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_runtime::{
	traits::{AccountIdConversion, ConvertInto, IdentityLookup, One},
	Perbill, Permill,
};
use sp_version::RuntimeVersion;

use super::{
	currency::{EXISTENTIAL_DEPOSIT, UNITS},
	time::{DAYS, EPOCH_DURATION_IN_SLOTS},
	AccountId, Babe, Balance, Balances, Block, BlockNumber, Disputes, Emission, Hash, Historical,
	Inference, ModelRegistry, ModelValidators, NodeRegistry, Nonce, Offences, Oracle, PalletInfo,
	Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin,
	RuntimeTask, Session, SessionKeys, System, ValidatorSet, VERSION,
};

pub mod governance;
pub mod parameters;
pub use governance::{
	CouncilCollective, CouncilMajority, CouncilTwoThirds, TechnicalCollective, TechnicalMajority,
	TechnicalTwoThirds,
};
use parameters::{
	CheaterArbitersShare, CheaterHonestShare, CheaterTreasuryShare, CheaterUserShare,
	ModelAttesterSlash, TimeoutSlash, TimeoutTreasuryShare, TimeoutUserShare,
};

/// A block may be up to 75% full of normal transactions; the rest is kept for operational ones.
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
/// The largest block, in bytes.
const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;

	/// Blocks may use up to 2 seconds of compute, leaving a third of the 3 s slot for
	/// propagation and import.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(2u64 * WEIGHT_REF_TIME_PER_SECOND, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// Blocks up to 5 MiB; normal transactions may fill 75% of that.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |max| {
			*max = NORMAL_DISPATCH_RATIO * MAX_BLOCK_LENGTH
		})
		.build();
	pub const SS58Prefix: u16 = super::currency::SS58_PREFIX;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::AccountIdLookup<AccountId, ()>;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	// ParityDB has weights close to RocksDB's; the upstream constants are the conservative choice
	// until this chain benchmarks its own database.
	type DbWeight = RocksDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
	type SystemWeightInfo = frame_system::weights::SubstrateWeight<Runtime>;
}

impl crate::block_time::Config for Runtime {}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = Babe;
	// Half the slot the genesis chose: BABE's slot duration is twice this.
	type MinimumPeriod = crate::block_time::MinimumPeriod<Runtime>;
	type WeightInfo = pallet_timestamp::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	pub const EpochDuration: u64 = EPOCH_DURATION_IN_SLOTS;
	pub const MaxAuthorities: u32 = 100;
}

impl pallet_babe::Config for Runtime {
	type EpochDuration = EpochDuration;
	type ExpectedBlockTime = crate::block_time::ExpectedBlockTime<Runtime>;
	// Epochs change when the session pallet rotates sessions (one session per BABE epoch).
	type EpochChangeTrigger = pallet_babe::ExternalTrigger;
	type DisabledValidators = Session;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = ConstU32<0>;
	// Two blocks of one author for one slot: proven against the historical session roots,
	// reported to the offences pallet, and the author disabled and removed
	// (`pallet_validator_set`). The node submits reports it sees as bare transactions.
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_babe::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = MaxAuthorities;
	type MaxNominators = ConstU32<0>;
	// Which session each authority set belonged to, for as long as equivocations can be proven.
	type MaxSetIdSessionEntries = ConstU64<{ HISTORY_DEPTH as u64 }>;
	// Two votes of one voter in one round, handled as BABE's are.
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_grandpa::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

/// Sessions (one per BABE epoch, `EPOCH_DURATION_IN_SLOTS`) whose validator-set roots are kept:
/// an equivocation can be reported for as long as its session is among them (a week of 10-minute
/// sessions).
pub const HISTORY_DEPTH: u32 = 7 * 24 * 6;

parameter_types! {
	pub const HistoryDepth: u32 = HISTORY_DEPTH;
	/// How long an equivocation report stays valid in the pool: the blocks of the sessions kept.
	pub const ReportLongevity: u64 = HISTORY_DEPTH as u64 * EPOCH_DURATION_IN_SLOTS;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = Babe;
	type NextSessionRotation = Babe;
	// The council manages the set (`pallet_validator_set`); each set's root is kept for
	// equivocation proofs.
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Self, ValidatorSet>;
	type SessionHandler = <SessionKeys as sp_runtime::traits::OpaqueKeys>::KeyTypeIdProviders;
	type Keys = SessionKeys;
	// An offender is disabled at once, up to a third of the active set.
	type DisablingStrategy = pallet_session::disabling::UpToLimitDisablingStrategy;
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	/// Held while an account has session keys set, so key registrations are not free spam.
	type KeyDeposit = ConstU128<{ UNITS }>;
}

/// Validators hold no stake: each is identified by `()` in the historical roots.
impl pallet_session::historical::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type FullIdentification = ();
	type FullIdentificationOf = pallet_validator_set::UnitIdentification;
}

impl pallet_offences::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = pallet_session::historical::IdentificationTuple<Self>;
	type OnOffenceHandler = ValidatorSet;
}

impl pallet_validator_set::Config for Runtime {
	type ManagerOrigin = CouncilMajority;
	type MinValidators = ConstU32<1>;
	type MaxValidators = MaxAuthorities;
	type HistoryDepth = HistoryDepth;
	type WeightInfo = pallet_validator_set::weights::SubstrateWeight<Runtime>;
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
	/// The treasury's account: fees and the treasury share of slashes are paid here.
	pub TreasuryAccount: AccountId = TreasuryPalletId::get().into_account_truncating();
}

/// The block author's share of every transaction fee, in percent; the rest goes to the treasury.
pub const AUTHOR_FEE_PERCENT: u32 = 50;

/// Transaction fees pay the validators: [`AUTHOR_FEE_PERCENT`] of each fee and the whole tip go to
/// the author of the block that includes the transaction, the rest of the fee to the treasury.
/// Nothing is burned: when the author is unknown (a block without a BABE pre-digest, as in tests)
/// or cannot receive the credit, its part goes to the treasury too.
pub struct FeesToAuthorAndTreasury;

impl OnUnbalanced<Credit<AccountId, Balances>> for FeesToAuthorAndTreasury {
	fn on_unbalanceds(mut fees_then_tips: impl Iterator<Item = Credit<AccountId, Balances>>) {
		let Some(fees) = fees_then_tips.next() else { return };
		let (mut to_author, to_treasury) =
			fees.ration(AUTHOR_FEE_PERCENT, 100 - AUTHOR_FEE_PERCENT);
		for tip in fees_then_tips {
			to_author.subsume(tip);
		}
		ResolveTo::<TreasuryAccount, Balances>::on_unbalanced(to_treasury);
		let unpaid = match pallet_authorship::Pallet::<Runtime>::author() {
			Some(author) => Balances::resolve(&author, to_author).err(),
			None => Some(to_author),
		};
		if let Some(unpaid) = unpaid {
			ResolveTo::<TreasuryAccount, Balances>::on_unbalanced(unpaid);
		}
	}
}

/// The author of the current block, from its BABE pre-digest (an authority index) and the
/// session's validators.
impl pallet_authorship::Config for Runtime {
	type FindAuthor = pallet_session::FindAccountFromAuthorIndex<Self, Babe>;
	type EventHandler = ();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	// Fees pay block authors and the treasury; none is burned.
	type OnChargeTransaction = FungibleAdapter<Balances, FeesToAuthorAndTreasury>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	pub const TreasuryPalletId: PalletId = PalletId(*b"py/trsry");
	pub const SpendPeriod: BlockNumber = DAYS;
	/// Unspent funds are kept, not burned: the protocol burns its share of slashes explicitly.
	pub const Burn: Permill = Permill::zero();
	pub const PayoutSpendPeriod: BlockNumber = 30 * DAYS;
	pub const MaxTreasurySpend: Balance = Balance::MAX;
}

impl pallet_treasury::Config for Runtime {
	type Currency = Balances;
	type RejectOrigin = CouncilMajority;
	type RuntimeEvent = RuntimeEvent;
	type SpendPeriod = SpendPeriod;
	type Burn = Burn;
	type PalletId = TreasuryPalletId;
	type BurnDestination = ();
	type WeightInfo = pallet_treasury::weights::SubstrateWeight<Runtime>;
	type SpendFunds = ();
	type MaxApprovals = ConstU32<100>;
	type SpendOrigin = EnsureWithSuccess<CouncilTwoThirds, AccountId, MaxTreasurySpend>;
	type AssetKind = ();
	type Beneficiary = AccountId;
	type BeneficiaryLookup = IdentityLookup<Self::Beneficiary>;
	type Paymaster = PayFromAccount<Balances, TreasuryAccount>;
	type BalanceConverter = UnityAssetBalanceConversion;
	type PayoutPeriod = PayoutSpendPeriod;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ();
	type BlockNumberProvider = System;
}

parameter_types! {
	/// Holding a preimage costs 1 TOMA plus 1 milli-TOMA a byte, returned when it is removed.
	pub const PreimageBaseDeposit: Balance = UNITS;
	pub const PreimageByteDeposit: Balance = UNITS / 1_000;
	pub const PreimageHoldReason: RuntimeHoldReason =
		RuntimeHoldReason::Preimage(pallet_preimage::HoldReason::Preimage);
}

/// Calls kept by hash: the whitelist's calls, noted before the councils decide on them.
impl pallet_preimage::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = pallet_preimage::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	type ManagerOrigin = EnsureRoot<AccountId>;
	type Consideration = HoldConsideration<
		AccountId,
		Balances,
		PreimageHoldReason,
		LinearStoragePrice<PreimageBaseDeposit, PreimageByteDeposit, Balance>,
	>;
}

/// Sudo: kept in the runtime for the development preset, whose genesis names a key. The other
/// presets name none, so the pallet can do nothing there; governance is the councils'
/// (`configs::governance`).
impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The least collateral an execution node holds: 1,000 TOMA. A timeout slash takes a share of
	/// it, so it must be worth more than what cheating on one request could earn.
	pub const MinNodeCollateral: Balance = 1_000 * UNITS;
	/// A model owner's deposit: 100 TOMA, returned when governance removes the model.
	pub const ModelDeposit: Balance = 100 * UNITS;
	pub const MismatchBond: Balance = 50 * UNITS;
	/// A model owner earns at most 10% of each fee paid for its model.
	pub const MaxModelOwnerShare: Perbill = Perbill::from_percent(10);
	/// Nodes serving one model in one echelon at most. A draw reads only the positions it
	/// picks, so the bound limits storage, not work.
	pub const MaxSubscribersPerModel: u32 = 10_000;
}

impl pallet_node_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	// Echelons, their execution profiles and the epoch length.
	type GovernanceOrigin = CouncilMajority;
	type MinCollateral = MinNodeCollateral;
	// Five blocks (15 s): short enough for dev chains and tests to cross epochs; presets choose
	// the real length.
	type MinEpochLength = ConstU32<5>;
	type MaxUrlLen = ConstU32<256>;
	type MaxDeviceNameLen = ConstU32<64>;
	type MaxEchelons = ConstU32<32>;
	type MaxNodesPerEchelon = ConstU32<10_000>;
	// Draws use the parent block's VRF output: collateral gained in the block its author built
	// must not make a node drawable.
	type FreeCollateralDelay = ConstU32<2>;
	type TreasuryAccount = TreasuryAccount;
	type OnNodeDeregistered = ModelRegistry;
	type OnNodeSlashed = Emission;
	type ServingNodes = pallet_model_registry::ServingNodes<Runtime>;
	type WeightInfo = pallet_node_registry::weights::SubstrateWeight<Runtime>;
}

impl pallet_model_registry::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = NodeRegistry;
	// Re-approves suspended models (and approves pending ones registered before the review
	// existed): a new model is approved by its review's quorum (`ModelValidators`).
	type ApproveOrigin = CouncilMajority;
	type Review = ModelValidators;
	// The technical committee can take a copied or malicious model down without waiting for the
	// council.
	type RemoveOrigin = EitherOf<CouncilMajority, TechnicalMajority>;
	type ModelDeposit = ModelDeposit;
	type MaxOwnerShare = MaxModelOwnerShare;
	type MaxSourceLen = ConstU32<256>;
	type MaxSubscribersPerModel = MaxSubscribersPerModel;
	type MaxEchelonsPerModel = ConstU32<4>;
	type MaxSubscriptionsPerNode = ConstU32<16>;
	// Draws use the parent block's VRF output: a subscription made in the block its author
	// built must not reach them.
	type IndexDelay = ConstU32<2>;
	type MaxIndexChangesPerBlock = ConstU32<64>;
	type MismatchThreshold = ConstU32<3>;
	// A false report (the model re-approved) pays its owner this much.
	type MismatchBond = MismatchBond;
	type WeightInfo = pallet_model_registry::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Collateral reserved on each executing node per job: 100 TOMA.
	pub const JobCollateral: Balance = 100 * UNITS;
}
// The slash shares are the council's to change (`parameters`): a node that misses a deadline
// loses 5% of its job collateral, half of it to the user, 30% to the treasury, the rest burned.

impl pallet_inference::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Nodes = NodeRegistry;
	type Models = ModelRegistry;
	// The VRF output of the parent block: unknown when a request is submitted in an earlier block.
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	// Disagreements go to arbitration, which concludes the request through `DisputedRequests`.
	type Disputes = Disputes;
	// Requests of other pallets end in their handlers; the oracle is the one such pallet.
	type OnOutcome = Oracle;
	type WorkLedger = Emission;
	type MaxInputLen = ConstU32<16_384>;
	type MaxOutputLen = ConstU32<8_192>;
	type MaxQuorum = ConstU32<8>;
	type MinTimeout = ConstU32<3>;
	// One hour of 3 s blocks.
	type MaxTimeout = ConstU32<1_200>;
	type RevealWindow = ConstU32<10>;
	// 15 s after the primary's commitment: a block to see it, a by-hash input's read, and a
	// 128-token generation of the dev VM (9.5 s, docs/benchmarks.md) with a block of margin. A
	// window whose verifier seats are all taken closes at once.
	type VerifierWindow = ConstU32<5>;
	type MaxRedraws = ConstU32<3>;
	type JobCollateral = JobCollateral;
	type TimeoutSlash = TimeoutSlash;
	type TimeoutUserShare = TimeoutUserShare;
	type TimeoutTreasuryShare = TimeoutTreasuryShare;
	type MaxPendingSelections = ConstU32<512>;
	type MaxSelectionsPerBlock = ConstU32<32>;
	// Drawn two blocks after inclusion, from the VRF output of the block in between.
	type SelectionDelay = ConstU32<2>;
	type MaxDeadlinesPerBlock = ConstU32<64>;
	// A receipt can be checked against the chain for a month; a published output stays a day.
	type ResultRetention = ConstU32<{ 30 * DAYS }>;
	type OutputRetention = ConstU32<{ DAYS }>;
	type MaxPrunedPerBlock = ConstU32<64>;
	type WeightInfo = pallet_inference::weights::SubstrateWeight<Runtime>;
}

// A cheater loses all its collateral: 40% to the user it cheated, 20% to the honest nodes of the
// request, 20% to the arbiters that found the true output, 10% to the treasury, 10% burned; the
// council changes the shares (`parameters`).
impl pallet_disputes::Config for Runtime {
	type Currency = Balances;
	type Nodes = NodeRegistry;
	type Models = ModelRegistry;
	type Requests = Inference;
	// The VRF output of the parent of the draw block, `DrawDelay` blocks after the opening.
	type Randomness = pallet_babe::ParentBlockRandomness<Runtime>;
	// A dispute that arbitration could not settle is decided by the technical committee: which
	// output is right is a technical question, and a day is enough for a few engineers to rerun it.
	type GovernanceOrigin = TechnicalMajority;
	// 3, then 6, then 12 arbiters: 21 in all.
	type ArbiterQuorum = ConstU32<3>;
	type MaxRounds = ConstU32<3>;
	type DrawDelay = ConstU32<2>;
	// Ten minutes to re-execute (the longest request timeout is an hour of blocks, but arbiters
	// seal early and the round moves on as soon as all have).
	type CommitWindow = ConstU32<200>;
	type RevealWindow = ConstU32<20>;
	// A day of 3 s blocks for governance; then the dispute is dismissed and every hold released.
	type GovernanceWindow = ConstU32<28_800>;
	// 30 s per bisection turn: the parties' off-chain workers answer from the step digests they
	// kept, without inference. 13 turns bisect the longest publishable trace.
	type BisectionWindow = ConstU32<10>;
	type OutputWindow = ConstU32<20>;
	// SmolLM2's context, 8,192 tokens, as a canonical output (20-byte header, 4 bytes a token).
	type MaxOutputLen = ConstU32<{ 20 + 4 * 8_192 }>;
	type ArbiterCollateral = JobCollateral;
	type ArbiterTimeoutSlash = TimeoutSlash;
	type ArbiterTimeoutTreasuryShare = TimeoutTreasuryShare;
	type CheaterUserShare = CheaterUserShare;
	type CheaterHonestShare = CheaterHonestShare;
	type CheaterArbitersShare = CheaterArbitersShare;
	type CheaterTreasuryShare = CheaterTreasuryShare;
	// A Cross-Validation primary and `MaxQuorum` verifiers.
	type MaxParties = ConstU32<9>;
	type MaxArbiters = ConstU32<21>;
	type MaxTimersPerBlock = ConstU32<4>;
	type WeightInfo = pallet_disputes::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// What a question kept on chain holds from its asker until forgotten: 1 TOMA.
	pub const QuestionDeposit: Balance = UNITS;
}

impl pallet_oracle::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Inference = Inference;
	type QuestionDeposit = QuestionDeposit;
	type MaxAnswerNodes = pallet_inference::MaxExecutionsOf<Runtime>;
	type WeightInfo = pallet_oracle::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Nodes and model owners paid per block at most: an epoch with more is paid over the next
	/// blocks (64 payments weigh about as much as 64 transfers).
	pub const MaxEmissionPayoutsPerBlock: u32 = 64;
}

/// The node registry's current epoch, for the emission pallet.
pub struct RegistryEpoch;
impl frame_support::traits::Get<atoma_support::EpochIndex> for RegistryEpoch {
	fn get() -> atoma_support::EpochIndex {
		<NodeRegistry as atoma_support::NodeRegistry<AccountId, Balance>>::current_epoch()
	}
}

/// A node's operator, from the node registry.
pub struct NodeOperatorOf;
impl sp_runtime::traits::Convert<atoma_support::NodeId, Option<AccountId>> for NodeOperatorOf {
	fn convert(node: atoma_support::NodeId) -> Option<AccountId> {
		<NodeRegistry as atoma_support::NodeRegistry<AccountId, Balance>>::node(node)
			.map(|summary| summary.operator)
	}
}

/// A model's owner, from the model registry.
pub struct ModelOwnerOf;
impl sp_runtime::traits::Convert<atoma_support::ModelId, Option<AccountId>> for ModelOwnerOf {
	fn convert(model: atoma_support::ModelId) -> Option<AccountId> {
		<ModelRegistry as atoma_support::ModelRegistry<AccountId>>::model(&model)
			.map(|summary| summary.owner)
	}
}

parameter_types! {
	/// A model validator's bond: 5,000 TOMA, of which a condemned model's attesters lose half.
	pub const ModelValidatorBond: Balance = 5_000 * UNITS;
	/// What a model's owner pays for its review: 50 TOMA, shared by the attesters.
	pub const ModelReviewFee: Balance = 50 * UNITS;
}

impl pallet_model_validators::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type Models = ModelRegistry;
	// Condemning a copied or malicious model is a technical question, like taking it down.
	type GovernanceOrigin = EitherOf<CouncilMajority, TechnicalMajority>;
	type SlashBeneficiary = TreasuryAccount;
	type ValidatorBond = ModelValidatorBond;
	type ReviewFee = ModelReviewFee;
	// A week to fetch the weights, hash them and read the licence.
	type ReviewPeriod = ConstU32<{ 7 * DAYS }>;
	// Four weeks: an attester stays slashable well after the models it approved began serving.
	type UnbondingPeriod = ConstU32<{ 28 * DAYS }>;
	type MaxValidators = ConstU32<100>;
	type MaxQuorum = ConstU32<16>;
	type DefaultQuorum = ConstU32<3>;
	// Half the bond; the council changes it (`parameters`).
	type AttesterSlash = ModelAttesterSlash;
	type WeightInfo = pallet_model_validators::weights::SubstrateWeight<Runtime>;
}

/// The validators of the current session.
pub struct SessionValidators;
impl frame_support::traits::Get<alloc::vec::Vec<AccountId>> for SessionValidators {
	fn get() -> alloc::vec::Vec<AccountId> {
		pallet_session::Validators::<Runtime>::get()
	}
}

impl pallet_emission::Config for Runtime {
	type Currency = Balances;
	type CurrentEpoch = RegistryEpoch;
	type NodeOperator = NodeOperatorOf;
	type ModelOwner = ModelOwnerOf;
	type Validators = SessionValidators;
	type MaxValidators = MaxAuthorities;
	type TreasuryAccount = TreasuryAccount;
	// The schedule is a protocol parameter: the council's, like the echelons and epoch length.
	type GovernanceOrigin = CouncilMajority;
	type MaxPayoutsPerBlock = MaxEmissionPayoutsPerBlock;
	type WeightInfo = pallet_emission::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = EmissionBenchmarks;
}

/// Sets up the registries and the session for the emission pallet's benchmarks.
#[cfg(feature = "runtime-benchmarks")]
pub struct EmissionBenchmarks;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_emission::BenchmarkHelper<AccountId> for EmissionBenchmarks {
	fn set_registry_epoch(epoch: atoma_support::EpochIndex) {
		pallet_node_registry::CurrentEpoch::<Runtime>::put(epoch);
	}

	fn set_validators(count: u32) {
		let validators =
			(0..count).map(|i| frame_benchmarking::account("validator", i, 0)).collect();
		pallet_session::Validators::<Runtime>::put::<alloc::vec::Vec<AccountId>>(validators);
	}

	fn node(index: u32) -> atoma_support::NodeId {
		// In the benchmark preset's (development) echelon: a new echelon per node would run
		// out of echelons.
		<NodeRegistry as atoma_support::NodeRegistry<AccountId, Balance>>::benchmark_node(
			&frame_benchmarking::account("operator", index, 0),
			Some(atoma_support::EchelonId(0)),
		)
	}

	fn model() -> atoma_support::ModelId {
		<ModelRegistry as atoma_support::ModelRegistry<AccountId>>::benchmark_model(&[])
	}
}

/// Commitments are authorized (general, unsigned) transactions the off-chain worker builds.
impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = super::UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateTransaction<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extension = super::TxExtension;

	fn create_transaction(
		call: RuntimeCall,
		extension: super::TxExtension,
	) -> super::UncheckedExtrinsic {
		super::UncheckedExtrinsic::new_transaction(call, extension)
	}
}

/// Equivocation reports are bare transactions (validated by BABE's and GRANDPA's
/// `validate_unsigned`): the reporter needs no account.
impl<C> frame_system::offchain::CreateBare<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_bare(call: RuntimeCall) -> super::UncheckedExtrinsic {
		super::UncheckedExtrinsic::new_bare(call)
	}
}

impl<C> frame_system::offchain::CreateAuthorizedTransaction<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_extension() -> super::TxExtension {
		// No signer: the nonce and tip are unused; `AuthorizeCall` runs the call's authorization.
		super::signed_tx_extension(0, 0, sp_runtime::generic::Era::Immortal)
	}
}

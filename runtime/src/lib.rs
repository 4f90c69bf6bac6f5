//! # Atoma runtime
//!
//! The state transition function of the Atoma appchain. Step 1 brings the chain foundation:
//!
//! - `frame-system`, `pallet-timestamp`;
//! - `pallet-balances` for the native token **TOMA** (12 decimals), `pallet-transaction-payment`
//!   (fees to the block author, `pallet-authorship`, and the treasury);
//! - `pallet-babe` (block production; its VRF randomness is what later steps use to pick execution
//!   nodes), `pallet-grandpa` (finality) and `pallet-session` (validators rotate their BABE and
//!   GRANDPA keys with `session.setKeys`);
//! - `pallet-treasury` (it will receive the treasury's share of slashed collateral);
//! - governance by a council and a technical committee (`pallet-collective`), with root reached
//!   through both (`pallet-whitelist`, `pallet-preimage`); `pallet-sudo` is kept for the
//!   development preset alone (`configs::governance`, docs/governance.md).
//!
//! Layout: `configs/` holds one `impl Config` per pallet, `apis.rs` the runtime APIs the node and
//! polkadot.js use, `genesis_config_presets.rs` the `development`, `local_testnet` and
//! `testnet_template` genesis presets.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`-style macros expand to large recursive types.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

// Before `apis`: it defines the `list_benchmarks!`/`add_benchmarks!` macros the APIs use.
#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
mod benchmarks;
pub mod apis;
pub mod block_time;
pub mod configs;
pub mod genesis_config_presets;
#[cfg(feature = "std")]
pub mod next_release;
pub mod views;

use alloc::vec::Vec;
use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_support::{genesis_builder_helper, weights::Weight};
pub use pallet_balances::Call as BalancesCall;
pub use sp_runtime::{Perbill, Permill};

/// Opaque types: what the node needs to know about blocks and keys without knowing the runtime's
/// call type. The node uses these to stay generic over runtime upgrades.
pub mod opaque {
	use super::*;
	use sp_runtime::{generic, traits::Hash as HashT};

	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block identifier type.
	pub type BlockId = generic::BlockId<Block>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as HashT>::Output;

	impl_opaque_keys! {
		/// The keys a validator registers with `session.setKeys`; `author_rotateKeys` generates a
		/// fresh set in the node's keystore and returns their concatenated public parts.
		pub struct SessionKeys {
			pub babe: super::Babe,
			pub grandpa: super::Grandpa,
		}
	}
}

pub use opaque::SessionKeys;

#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("atoma"),
	impl_name: alloc::borrow::Cow::Borrowed("atoma-node"),
	authoring_version: 1,
	// Bump on every change of runtime logic; the node refuses to author with a stale native view.
	spec_version: 107,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	transaction_version: 1,
	system_version: 1,
};

/// Time and block constants.
pub mod time {
	use super::BlockNumber;

	/// Target block time of the public presets. BABE slots are this long; with `c = 1/4` and
	/// secondary VRF slots every slot has an author. A chain spec may choose another
	/// (`crate::block_time`); the constants below count blocks of this length.
	pub const MILLI_SECS_PER_BLOCK: u64 = 3_000;

	pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
	pub const HOURS: BlockNumber = MINUTES * 60;
	pub const DAYS: BlockNumber = HOURS * 24;

	/// BABE epoch (and session) length. Key rotations take effect at epoch boundaries, and the
	/// randomness that selects execution nodes changes once an epoch.
	pub const EPOCH_DURATION_IN_BLOCKS: BlockNumber = 10 * MINUTES;
	pub const EPOCH_DURATION_IN_SLOTS: u64 = EPOCH_DURATION_IN_BLOCKS as u64;

	/// The probability of a slot having a primary author: 1/4. Secondary VRF slots fill the rest.
	pub const PRIMARY_PROBABILITY: (u64, u64) = (1, 4);
}

/// The BABE epoch configuration at genesis. `PrimaryAndSecondaryVRFSlots` makes every block carry
/// a VRF output, so the epoch randomness mixes in one contribution per block.
pub const BABE_GENESIS_EPOCH_CONFIG: sp_consensus_babe::BabeEpochConfiguration =
	sp_consensus_babe::BabeEpochConfiguration {
		c: time::PRIMARY_PROBABILITY,
		allowed_slots: sp_consensus_babe::AllowedSlots::PrimaryAndSecondaryVRFSlots,
	};

/// Native token: TOMA, with 12 decimals.
pub mod currency {
	use super::Balance;

	pub const TOKEN_SYMBOL: &str = "TOMA";
	pub const TOKEN_DECIMALS: u8 = 12;
	/// The SS58 prefix of addresses on this chain (the generic Substrate prefix).
	pub const SS58_PREFIX: u16 = 42;

	/// One TOMA in plancks.
	pub const UNITS: Balance = 1_000_000_000_000;
	pub const MILLI_UNITS: Balance = UNITS / 1_000;
	pub const MICRO_UNITS: Balance = UNITS / 1_000_000;

	/// The minimum balance an account must keep to exist.
	pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNITS;
}

/// Signature type of extrinsics and of everything users sign.
pub type Signature = MultiSignature;
/// An account id: the public key behind a `Signature` (32 bytes).
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account, in plancks (10^-12 TOMA).
pub type Balance = u128;
/// Transaction index of an account.
pub type Nonce = u32;
/// A hash of some data used by the chain.
pub type Hash = sp_core::H256;
/// Block number; u32 lasts over 400 years at 3 s blocks.
pub type BlockNumber = u32;
/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// A Block signed with a Justification.
pub type SignedBlock = generic::SignedBlock<Block>;
/// BlockId type as expected by this runtime.
pub type BlockId = generic::BlockId<Block>;

/// The transaction extensions every extrinsic carries, in order. `AuthorizeCall` comes first so
/// that calls with `#[pallet::authorize]` (the off-chain worker's commitments, later steps) are
/// accepted without a signer; it is a no-op for signed transactions.
pub type TxExtension = (
	frame_system::AuthorizeCall<Runtime>,
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

/// The extensions of a signed transaction as a wallet builds them: the sender's `nonce`, a `tip`
/// for priority, the mortality `era`, and no metadata-hash check. For Rust clients and tests;
/// polkadot.js builds the same tuple from the metadata.
pub fn signed_tx_extension(nonce: Nonce, tip: Balance, era: generic::Era) -> TxExtension {
	(
		frame_system::AuthorizeCall::<Runtime>::new(),
		frame_system::CheckNonZeroSender::<Runtime>::new(),
		frame_system::CheckSpecVersion::<Runtime>::new(),
		frame_system::CheckTxVersion::<Runtime>::new(),
		frame_system::CheckGenesis::<Runtime>::new(),
		frame_system::CheckEra::<Runtime>::from(era),
		frame_system::CheckNonce::<Runtime>::from(nonce),
		frame_system::CheckWeight::<Runtime>::new(),
		pallet_transaction_payment::ChargeTransactionPayment::<Runtime>::from(tip),
		frame_metadata_hash_extension::CheckMetadataHash::<Runtime>::new(false),
		frame_system::WeightReclaim::<Runtime>::new(),
	)
}

/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;

/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Storage migrations run on runtime upgrade, each once (versioned): the indexes of each node's
/// jobs and dispute duties, which the off-chain workers read, and the prompt-token count of the
/// commitments in flight; and the validator set planned from the active one when the pallet is new
/// (idempotent, not versioned).
type Migrations = (
	pallet_inference::migrations::v2::MigrateV1ToV2<Runtime>,
	pallet_inference::migrations::v3::MigrateV2ToV3<Runtime>,
	pallet_disputes::migrations::v1::MigrateV0ToV1<Runtime>,
	pallet_validator_set::migrations::InitializeFromSession<Runtime>,
	pallet_node_registry::migrations::v2::MigrateV1ToV2<Runtime>,
	pallet_model_registry::migrations::v2::MigrateToV2<Runtime>,
	pallet_inference::migrations::v4::MigrateV3ToV4<Runtime>,
	pallet_emission::migrations::InitializeEmission<Runtime>,
);

/// Executive: handles dispatch to the various modules.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

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
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(2)]
	pub type Babe = pallet_babe;

	#[runtime::pallet_index(3)]
	pub type Grandpa = pallet_grandpa;

	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(6)]
	pub type Session = pallet_session;

	#[runtime::pallet_index(7)]
	pub type Treasury = pallet_treasury;

	#[runtime::pallet_index(8)]
	pub type Sudo = pallet_sudo;

	// The slot duration, chosen by the chain spec.
	#[runtime::pallet_index(9)]
	pub type BlockTime = crate::block_time;

	// Atoma: execution nodes, echelons and fees; models and subscriptions.
	#[runtime::pallet_index(10)]
	pub type NodeRegistry = pallet_node_registry;

	#[runtime::pallet_index(11)]
	pub type ModelRegistry = pallet_model_registry;

	#[runtime::pallet_index(12)]
	pub type Inference = pallet_inference;

	#[runtime::pallet_index(13)]
	pub type Disputes = pallet_disputes;

	/// The example of a pallet that requests inference (`pallets/oracle`).
	#[runtime::pallet_index(14)]
	pub type Oracle = pallet_oracle;

	// Governance (`configs::governance`, docs/governance.md).
	#[runtime::pallet_index(15)]
	pub type Preimage = pallet_preimage;

	#[runtime::pallet_index(16)]
	pub type Council = pallet_collective<Instance1>;

	#[runtime::pallet_index(17)]
	pub type TechnicalCommittee = pallet_collective<Instance2>;

	#[runtime::pallet_index(18)]
	pub type Whitelist = pallet_whitelist;

	/// The block author, who earns a share of the fees (`configs::FeesToAuthorAndTreasury`).
	#[runtime::pallet_index(19)]
	pub type Authorship = pallet_authorship;

	// Validators' lifecycle: the council's validator set, the historical session roots that prove
	// key ownership, and the offences equivocation reports become. Declared after `Session`,
	// whose genesis the validator set's copies.
	#[runtime::pallet_index(20)]
	pub type ValidatorSet = pallet_validator_set;

	#[runtime::pallet_index(21)]
	pub type Historical = pallet_session::historical;

	#[runtime::pallet_index(22)]
	pub type Offences = pallet_offences;

	// TOMA emission: after the node registry, whose epoch boundary closes an emission epoch in
	// the same block.
	#[runtime::pallet_index(23)]
	pub type Emission = pallet_emission;

	// Model validators: the review a newly registered model waits for.
	#[runtime::pallet_index(24)]
	pub type ModelValidators = pallet_model_validators;

	// Protocol parameters the council changes without an upgrade: the slash shares.
	#[runtime::pallet_index(25)]
	pub type Parameters = pallet_parameters;
}

#[cfg(test)]
mod tests;

//! Records kept by the node registry.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{EchelonId, EpochIndex, NodeId, NodeSummary, WorkerPublic};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	traits::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;

/// A hardware and software class (protocol §3). Only nodes of one echelon are compared with each
/// other, since only they can produce bit-identical outputs.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxDeviceNameLen))]
pub struct Echelon<MaxDeviceNameLen: Get<u32>> {
	/// The accelerator model, e.g. `NVIDIA H100 80GB HBM3` or `cpu-x86_64`.
	pub device: BoundedVec<u8, MaxDeviceNameLen>,
	/// How many of `device` one node uses.
	pub device_count: u32,
	/// Accelerator memory per device, in MiB.
	pub memory_mib: u64,
	/// Hash of the execution profile (`atoma_primitives::profile`: precision, device, kernel
	/// tier, batch policy, worker build). Nodes that share it produce identical bytes; only nodes
	/// whose worker declared it are drawn. All zeros: not pinned (any worker; dev chains).
	pub execution_profile: [u8; 32],
}

impl<MaxDeviceNameLen: Get<u32>> Echelon<MaxDeviceNameLen> {
	/// The profile the echelon's nodes must run, if governance pinned one.
	pub fn pinned_profile(&self) -> Option<[u8; 32]> {
		(self.execution_profile != [0; 32]).then_some(self.execution_profile)
	}
}

/// A node's declaration of the execution profile its worker reports (`GET /v1/models`), signed
/// by its worker key and sent by its off-chain worker whenever the profile changes.
#[derive(Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, Debug)]
pub struct ProfileDeclaration<BlockNumber> {
	/// The node.
	pub node: NodeId,
	/// `ExecutionProfile::hash` of its worker.
	pub profile: [u8; 32],
	/// The block in which the off-chain worker read it: a declaration not newer than the node's
	/// last one is refused, so an old one cannot be replayed.
	pub at: BlockNumber,
}

/// The domain tag of signed profile declarations: the signature covers `(tag, chain, payload)`.
pub const PROFILE_SIGNING_TAG: &[u8] = b"atoma/profile-declaration/v1";

impl<BlockNumber: Encode> ProfileDeclaration<BlockNumber> {
	/// The bytes the worker key signs on the chain `chain` (its genesis hash).
	pub fn signing_bytes(&self, chain: &atoma_support::worker_key::ChainId) -> alloc::vec::Vec<u8> {
		(PROFILE_SIGNING_TAG, chain, self).encode()
	}
}

/// Where a node is in its life.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub enum NodeStatus {
	/// Serving, or waiting for its first epoch (`active_from`).
	Active,
	/// Deregistered in epoch `since`: no new work; withdrawable once no work is pending and a
	/// later epoch has begun.
	Leaving {
		/// The epoch in which the operator deregistered the node.
		since: EpochIndex,
	},
}

/// An execution node.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	DebugNoBound,
)]
#[scale_info(skip_type_params(MaxUrlLen))]
#[allow(clippy::multiple_bound_locations)]
pub struct NodeRecord<
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	Balance: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxUrlLen: Get<u32>,
> {
	/// The account that registered the node; it owns the collateral and the fees.
	pub operator: AccountId,
	/// The echelon the node serves in (fixed at registration).
	pub echelon: EchelonId,
	/// The sr25519 public key the node's off-chain worker signs with.
	pub worker_key: WorkerPublic,
	/// The public URL of the node's inference worker, where users upload inputs given by hash and
	/// fetch outputs kept off chain.
	pub url: BoundedVec<u8, MaxUrlLen>,
	/// Collateral held on `operator` under `HoldReason::NodeCollateral` for this node.
	pub collateral: Balance,
	/// The part of `collateral` reserved for jobs in progress.
	pub reserved: Balance,
	/// Jobs in progress.
	pub pending_jobs: u32,
	/// The first epoch in which the node may be selected.
	pub active_from: EpochIndex,
	/// The last epoch in which the node had work in progress; it cannot withdraw before the epoch
	/// after it.
	pub last_work_epoch: EpochIndex,
	/// Active or leaving.
	pub status: NodeStatus,
}

impl<
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Copy + PartialEq + Eq + core::fmt::Debug,
		MaxUrlLen: Get<u32>,
	> NodeRecord<AccountId, Balance, MaxUrlLen>
{
	/// What other pallets may see of the node.
	pub fn summary(&self) -> NodeSummary<AccountId, Balance> {
		NodeSummary {
			operator: self.operator.clone(),
			echelon: self.echelon,
			worker_key: self.worker_key,
			collateral: self.collateral,
			reserved: self.reserved,
			active: self.status == NodeStatus::Active,
			active_from: self.active_from,
		}
	}
}

/// A node's fees: those of the epoch in which they were last accrued, and those of earlier epochs,
/// which may be claimed. Both are held on the operator under `HoldReason::NodeFees`.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub struct FeeLedger<Balance> {
	/// The epoch `accruing` belongs to.
	pub epoch: EpochIndex,
	/// Fees earned in `epoch`; claimable once it has ended.
	pub accruing: Balance,
	/// Fees of ended epochs, not yet claimed.
	pub claimable: Balance,
}

impl<Balance: sp_runtime::traits::Saturating + Copy + Default> FeeLedger<Balance> {
	/// The ledger as it stands in `current`: fees of ended epochs move to `claimable`.
	pub fn rolled_to(self, current: EpochIndex) -> Self {
		if self.epoch < current {
			Self {
				epoch: current,
				accruing: Balance::default(),
				claimable: self.claimable.saturating_add(self.accruing),
			}
		} else {
			self
		}
	}

	/// All fees held for the node, claimable or not.
	pub fn total(&self) -> Balance {
		self.accruing.saturating_add(self.claimable)
	}
}

/// A node's standing bid: the last price it bid, and whether that price is among its echelon's
/// counted bids ([`crate::PriceLevels`]) now. Every active node has one; leaving nodes have none.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub struct StandingBid<Balance> {
	/// The node's echelon, so that the bid can be uncounted without the node's record.
	pub echelon: EchelonId,
	/// The price per token bid.
	pub price: Balance,
	/// Whether the price is counted in the echelon's median: the node is active, holds at least
	/// `MinCollateral` and serves a model.
	pub counted: bool,
}

/// A price as a storage key: the big-endian bytes of the price as a `u128`, so that the keys of
/// [`crate::PriceLevels`] (hashed with `Identity`) iterate in price order.
pub type PriceKey = [u8; 16];

/// One distinct price among an echelon's counted bids.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub struct PriceLevel {
	/// How many counted bids are at this price; at least 1 (an empty level is removed).
	pub count: u32,
	/// The next lower price with counted bids, if any. Storage iterates forward only: this link
	/// lets the median step down in one read.
	pub prev: Option<PriceKey>,
}

/// Where an echelon's median stands among its counted bids: the price level that holds the
/// lower median, i.e. the bid of index `(total - 1) / 2` in price order. Absent while no bid
/// counts.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	Debug,
)]
pub struct MedianCursor {
	/// How many bids count; at least 1.
	pub total: u32,
	/// How many counted bids are strictly below `median`.
	pub below: u32,
	/// The price level holding the lower median: `below <= (total - 1) / 2 < below + count`.
	pub median: PriceKey,
	/// The highest price level: where a new highest level links back to.
	pub highest: PriceKey,
}

/// Collateral a node gained lately (`FreeCollateralDelay`): it counts toward new work from
/// `until` on. An operator who learns a draw's randomness one block ahead cannot use it.
#[derive(
	Clone,
	Copy,
	PartialEq,
	Eq,
	Default,
	codec::Encode,
	codec::Decode,
	codec::DecodeWithMemTracking,
	scale_info::TypeInfo,
	codec::MaxEncodedLen,
	Debug,
)]
pub struct FreshCollateral<BlockNumber, Balance> {
	/// The first block in which it counts.
	pub until: BlockNumber,
	/// Collateral added (it also counts toward `MinCollateral` only then).
	pub added: Balance,
	/// Collateral released from ended jobs.
	pub released: Balance,
}

//! An in-memory node registry for the tests of pallets that read nodes (the model registry, the
//! model validators) without running `pallet-node-registry`: nodes live in a thread-local map,
//! accounts and balances are `u64`. Pallets meet only through [`NodeRegistry`], so what they
//! see here is what the real registry shows them.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::cell::RefCell;

use sp_runtime::{DispatchError, DispatchResult, Perbill};

use crate::{
	EchelonId, EpochIndex, NodeId, NodeRegistry, NodeSummary, SlashOutcome, SlashSplit,
	WorkerPublic,
};

/// Accounts of the stand-in.
pub type AccountId = u64;
/// Balances of the stand-in.
pub type Balance = u64;

thread_local! {
	static NODES: RefCell<BTreeMap<NodeId, NodeSummary<AccountId, Balance>>> =
		const { RefCell::new(BTreeMap::new()) };
	/// The nodes a pallet said began or stopped serving (`serving_changed`), in order.
	pub static SERVING_CHANGES: RefCell<Vec<NodeId>> = const { RefCell::new(Vec::new()) };
	/// Nodes whose worker declared an execution profile other than their echelon's.
	pub static OTHER_PROFILE: RefCell<Vec<NodeId>> = const { RefCell::new(Vec::new()) };
}

/// Add (or replace) an active node of `operator` in `echelon`; its worker key is its id's byte.
pub fn add_node(node: u64, operator: AccountId, echelon: u32) -> NodeId {
	let summary = NodeSummary {
		operator,
		echelon: EchelonId(echelon),
		worker_key: WorkerPublic::from_raw([node as u8; 32]),
		collateral: 1_000,
		reserved: 0,
		active: true,
		active_from: 0,
	};
	NODES.with(|n| n.borrow_mut().insert(NodeId(node), summary));
	NodeId(node)
}

/// Mark a node active or not, as a deregistration or a collateral shortfall would.
pub fn set_active(node: NodeId, active: bool) {
	NODES.with(|n| {
		if let Some(s) = n.borrow_mut().get_mut(&node) {
			s.active = active;
		}
	});
}

/// Forget every node and what the pallets said of them.
pub fn clear() {
	NODES.with(|n| n.borrow_mut().clear());
	SERVING_CHANGES.with(|c| c.borrow_mut().clear());
	OTHER_PROFILE.with(|c| c.borrow_mut().clear());
}

/// The stand-in node registry: only what pallets other than the node registry read.
pub struct StandInNodes;

impl NodeRegistry<AccountId, Balance> for StandInNodes {
	fn current_epoch() -> EpochIndex {
		0
	}
	fn node(node: NodeId) -> Option<NodeSummary<AccountId, Balance>> {
		NODES.with(|n| n.borrow().get(&node).cloned())
	}
	fn node_by_worker_key(key: &WorkerPublic) -> Option<NodeId> {
		NODES.with(|n| n.borrow().iter().find(|(_, s)| s.worker_key == *key).map(|(id, _)| *id))
	}
	fn worker_key_since(_node: NodeId) -> u64 {
		0
	}
	fn worker_url(_node: NodeId) -> Option<Vec<u8>> {
		None
	}
	fn echelon_exists(_echelon: EchelonId) -> bool {
		true
	}
	fn echelon_security(_echelon: EchelonId) -> Option<(Balance, Perbill)> {
		None
	}
	fn price_per_token(_echelon: EchelonId) -> Option<Balance> {
		Some(1)
	}
	fn is_eligible(node: NodeId, _free: Balance) -> bool {
		Self::node(node).is_some_and(|s| s.active) && !Self::runs_other_profile(node)
	}
	fn runs_other_profile(node: NodeId) -> bool {
		OTHER_PROFILE.with(|n| n.borrow().contains(&node))
	}
	fn reserve_collateral(_node: NodeId, _amount: Balance) -> DispatchResult {
		Ok(())
	}
	fn release_collateral(_node: NodeId, _amount: Balance) {}
	fn slash(
		_node: NodeId,
		_share: Perbill,
		_split: &SlashSplit<AccountId>,
	) -> Result<SlashOutcome<Balance>, DispatchError> {
		Ok(SlashOutcome::default())
	}
	fn accrue_fee(_node: NodeId, _payer: &AccountId, _amount: Balance) -> DispatchResult {
		Ok(())
	}
	fn serving_changed(node: NodeId) {
		SERVING_CHANGES.with(|c| c.borrow_mut().push(node));
	}
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_node(operator: &AccountId, echelon: Option<EchelonId>) -> NodeId {
		let id = NODES.with(|n| n.borrow().len() as u64);
		add_node(id, *operator, echelon.map_or(100 + id as u32, |e| e.0))
	}
	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_set_worker_key(node: NodeId, key: WorkerPublic) {
		NODES.with(|n| {
			if let Some(s) = n.borrow_mut().get_mut(&node) {
				s.worker_key = key;
			}
		});
	}
}

//! Unit tests, one file per concern. Each runs under `ExtBuilder::build_and_execute`, which checks
//! the invariants and the issuance rule afterwards.

mod echelons_and_epochs;
mod fuzz;
mod lifecycle;
mod median;
mod node_management;
mod profiles;
mod registration;
mod support_trait;

use atoma_support::{EchelonId, NodeId};
use frame_support::assert_ok;

use crate::mock::*;

/// The worker URL used by test nodes.
pub const URL: &[u8] = b"https://worker.example:8080";
/// The bid test nodes start with.
pub const PRICE: Balance = 10;

/// Register a node of `operator` in echelon 0 with the minimum collateral; its worker key is made
/// from `key`.
pub fn register(operator: AccountId, key: u8) -> NodeId {
	register_with(operator, key, MIN_COLLATERAL, PRICE)
}

pub fn register_with(operator: AccountId, key: u8, collateral: Balance, price: Balance) -> NodeId {
	let node = NodeId(crate::NextNodeId::<Test>::get());
	assert_ok!(NodeRegistry::register_node(
		RuntimeOrigin::signed(operator),
		EchelonId(0),
		worker_key(key),
		URL.to_vec(),
		collateral,
		price,
	));
	node
}

pub fn held_collateral(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&crate::HoldReason::NodeCollateral.into(), &who)
}

pub fn held_fees(who: AccountId) -> Balance {
	use frame_support::traits::fungible::InspectHold;
	Balances::balance_on_hold(&crate::HoldReason::NodeFees.into(), &who)
}

pub fn free(who: AccountId) -> Balance {
	pallet_balances::Pallet::<Test>::free_balance(who)
}

pub fn record(node: NodeId) -> crate::pallet::NodeRecordOf<Test> {
	crate::Nodes::<Test>::get(node).expect("node is registered")
}

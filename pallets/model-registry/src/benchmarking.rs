//! Benchmarks (FRAME v2), one per call plus the deregistration hook and the index's block
//! work, each in its worst case. Nodes come from the node registry through
//! `NodeRegistry::benchmark_node`.
//!
//! Calls whose cost could grow with a model's subscribers take `e`: 10^e subscribers (up to
//! `MaxSubscribersPerModel - 1`) are in the index already, so `--steps 4` measures 10, 100,
//! 1,000 and 10,000; their weights are flat in `e` (docs/benchmarks.md). Those subscribers are
//! written straight into the index (the calls read only its length and last position).

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::{vec, vec::Vec};

use atoma_support::{EchelonId, ModelId, NodeId, NodeRegistry, OnNodeDeregistered};
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, EnsureOrigin, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::{Saturating, Zero};

use crate::{dispatch::Admission, pallet::*, Pallet as Registry};

fn fund<T: Config>(who: &T::AccountId) {
	let plenty = T::ModelDeposit::get().saturating_mul(100u32.into());
	T::Currency::set_balance(who, plenty);
}

fn model_id(i: u32) -> Vec<u8> {
	let mut id = b"bench-model-".to_vec();
	// One letter per hex digit: distinct for every `i` (other pallets' benchmarks make many).
	id.extend((0..8u32).rev().map(|digit| b'a' + ((i >> (4 * digit)) & 0xf) as u8));
	id
}

/// A registered, approved model with the longest source.
fn approved_model<T: Config>(i: u32) -> ModelId {
	let owner: T::AccountId = account("owner", i, 0);
	fund::<T>(&owner);
	let source = vec![b's'; T::MaxSourceLen::get() as usize];
	let model = Registry::<T>::do_register_model(
		Admission::Founding,
		owner,
		model_id(i),
		[1; 32],
		[2; 32],
		source,
		T::MaxOwnerShare::get(),
	)
	.unwrap_or_else(|e| panic!("benchmark model: {e:?}"));
	Registry::<T>::do_approve_model(model.clone()).unwrap_or_else(|e| panic!("approve: {e:?}"));
	model
}

/// A model of `owner` (funded here) with the longest source, registered as its owner would:
/// it waits for its review, if the runtime has one. For the review's benchmarks.
pub fn pending_model<T: Config>(owner: &T::AccountId, index: u32) -> ModelId {
	fund::<T>(owner);
	let source = vec![b's'; T::MaxSourceLen::get() as usize];
	Registry::<T>::do_register_model(
		Admission::Reviewed,
		owner.clone(),
		model_id(index),
		[1; 32],
		[2; 32],
		source,
		T::MaxOwnerShare::get(),
	)
	.unwrap_or_else(|e| panic!("pending model: {e:?}"))
}

/// An approved model (with a fresh id) that `nodes` subscribe to; for other pallets' benchmarks.
pub fn serving_model<T: Config>(nodes: &[NodeId]) -> ModelId {
	let index = Models::<T>::iter_keys().count() as u32 + 1_000;
	let model = approved_model::<T>(index);
	for node in nodes {
		let operator = T::Nodes::node(*node).map(|n| n.operator).unwrap_or_else(|| panic!("node"));
		Registry::<T>::do_subscribe(operator, *node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
	}
	flush_index::<T>();
	model
}

/// A node of `operator` in `echelon` (a new echelon when `None`).
fn node<T: Config>(operator: &T::AccountId, echelon: Option<EchelonId>) -> (NodeId, EchelonId) {
	let node = T::Nodes::benchmark_node(operator, echelon);
	let echelon = T::Nodes::node(node).map(|n| n.echelon).unwrap_or_else(|| panic!("node exists"));
	(node, echelon)
}

/// 10^e, at most `MaxSubscribersPerModel - 1`: how many subscribers a scale benchmark starts with.
fn scale<T: Config>(e: u32) -> u32 {
	10u32.saturating_pow(e).min(T::MaxSubscribersPerModel::get().saturating_sub(1))
}

/// Put `count` subscribers (ids no real node has) in the index of (`model`, `echelon`) and its
/// count, as if they had subscribed `IndexDelay` blocks ago.
fn fill_index<T: Config>(model: &ModelId, echelon: EchelonId, count: u32) {
	let start = IndexLen::<T>::get(model, echelon);
	for i in 0..count {
		let node = NodeId(u64::MAX - u64::from(start + i));
		IndexedNodes::<T>::insert((model, echelon, start + i), node);
		IndexPositions::<T>::insert(node, model, (echelon, start + i));
	}
	IndexLen::<T>::insert(model, echelon, start + count);
	SubscriberCount::<T>::mutate(model, echelon, |c| *c += count);
	Models::<T>::mutate(model, |record| {
		if let Some(record) = record {
			if !record.echelons.contains(&echelon) {
				let _ = record.echelons.try_push(echelon);
			}
		}
	});
}

/// Apply every queued index change now.
fn flush_index<T: Config>() {
	let (head, tail) = IndexQueueBounds::<T>::get();
	for seq in head..tail {
		if let Some(change) = IndexQueue::<T>::take(seq) {
			Registry::<T>::apply_index_change(change);
		}
	}
	IndexQueueBounds::<T>::put((tail, tail));
}

/// One queued change waits, so that the next one is queued too (as on a busy chain).
fn queue_one<T: Config>(model: &ModelId, echelon: EchelonId) {
	let (head, tail) = IndexQueueBounds::<T>::get();
	let due = frame_system::Pallet::<T>::block_number() + 1_000u32.into();
	let change = crate::IndexChange {
		node: NodeId(u64::MAX),
		model: model.clone(),
		echelon,
		join: false,
		due,
	};
	IndexQueue::<T>::insert(tail, change);
	IndexQueueBounds::<T>::put((head, tail + 1));
}

/// Subscribe `count` fresh nodes to `model` in `echelon`.
fn subscribe_many<T: Config>(model: &ModelId, echelon: EchelonId, count: u32, seed: u32) {
	for i in 0..count {
		let operator: T::AccountId = account("subscriber", seed, i);
		let (node, _) = node::<T>(&operator, Some(echelon));
		Registry::<T>::do_subscribe(operator, node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
	}
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_model() {
		let owner: T::AccountId = whitelisted_caller();
		fund::<T>(&owner);
		let source = vec![b's'; T::MaxSourceLen::get() as usize];
		let id = vec![b'm'; atoma_support::MAX_MODEL_ID_LEN as usize];

		#[extrinsic_call]
		_(RawOrigin::Signed(owner), id.clone(), [1; 32], [2; 32], source, T::MaxOwnerShare::get());

		assert!(Models::<T>::contains_key(ModelId::from_name(&id).unwrap_or_default()));
	}

	#[benchmark]
	fn approve_model() -> Result<(), BenchmarkError> {
		let model = approved_model::<T>(0);
		Models::<T>::mutate(&model, |m| {
			if let Some(m) = m {
				m.status = atoma_support::ModelStatus::Suspended;
			}
		});
		let origin =
			T::ApproveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model.clone());

		assert!(Models::<T>::get(&model)
			.is_some_and(|m| m.status == atoma_support::ModelStatus::Approved));
		Ok(())
	}

	/// Removing a model with subscribers in `MaxEchelonsPerModel` echelons, `e` giving each
	/// 10^e of them, with all but one place of `Unindexing` taken: the subscriptions end later,
	/// in `update_index`.
	#[benchmark]
	fn remove_model(e: Linear<1, 4>) -> Result<(), BenchmarkError> {
		for i in 1..crate::MAX_MODELS_UNINDEXING {
			let other = approved_model::<T>(i);
			Registry::<T>::do_remove_model(other, None).unwrap_or_else(|e| panic!("remove: {e:?}"));
		}
		let model = approved_model::<T>(0);
		for echelon in 0..T::MaxEchelonsPerModel::get() {
			fill_index::<T>(&model, EchelonId(1_000 + echelon), scale::<T>(e));
		}
		let origin =
			T::RemoveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model.clone());

		assert!(!Models::<T>::contains_key(&model));
		assert!(Registry::<T>::is_unindexing(&model));
		Ok(())
	}

	/// Subscribing with 10^e subscribers in the index already (the cost is flat in `e`): the
	/// node's first subscription, so the node registry counts its bid, and a change waits in
	/// the queue.
	#[benchmark]
	fn subscribe(e: Linear<1, 4>) {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		fill_index::<T>(&model, echelon, scale::<T>(e));
		queue_one::<T>(&model, echelon);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(NodeSubscriptions::<T>::get(node).contains(&model));
	}

	/// Unsubscribing with 10^e subscribers in the index (flat in `e`): the node's only
	/// subscription, so the node registry hears that it stopped serving.
	#[benchmark]
	fn unsubscribe(e: Linear<1, 4>) {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		fill_index::<T>(&model, echelon, scale::<T>(e));
		Registry::<T>::do_subscribe(operator.clone(), node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		flush_index::<T>();
		queue_one::<T>(&model, echelon);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(!NodeSubscriptions::<T>::get(node).contains(&model));
	}

	/// A block applying `a` queued departures, each moving the last node of a 1,000-long
	/// index into the leaver's place.
	#[benchmark]
	fn apply_index_changes(a: Linear<0, { T::MaxIndexChangesPerBlock::get() }>) {
		// Past genesis, where changes are queued rather than applied at once.
		frame_system::Pallet::<T>::set_block_number(1u32.into());
		let model = approved_model::<T>(0);
		let operator: T::AccountId = account("leaver", 0, 0);
		let (first, echelon) = node::<T>(&operator, None);
		let mut leavers = vec![(operator, first)];
		for i in 1..a {
			let operator: T::AccountId = account("leaver", i, 0);
			let node = node::<T>(&operator, Some(echelon)).0;
			leavers.push((operator, node));
		}
		leavers.truncate(a as usize);
		for (operator, node) in &leavers {
			Registry::<T>::do_subscribe(operator.clone(), *node, model.clone())
				.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		}
		flush_index::<T>();
		// The leavers sit first; others fill the index behind them and move into their places.
		fill_index::<T>(&model, echelon, scale::<T>(3));
		for (operator, node) in &leavers {
			Registry::<T>::do_unsubscribe(operator.clone(), *node, model.clone())
				.unwrap_or_else(|e| panic!("unsubscribe: {e:?}"));
		}
		let (head, tail) = IndexQueueBounds::<T>::get();
		assert_eq!(tail - head, u64::from(a), "every departure waits in the queue");
		// Every queued change is due.
		let now = frame_system::Pallet::<T>::block_number() + 1_000u32.into();

		#[block]
		{
			Registry::<T>::update_index(now);
		}

		let (head, tail) = IndexQueueBounds::<T>::get();
		assert_eq!(head, tail);
		for (_, node) in &leavers {
			assert!(!IndexPositions::<T>::contains_key(node, &model));
		}
	}

	/// A block clearing `c` index entries of a removed model, each ending a node's last
	/// subscription.
	#[benchmark]
	fn unindex_subscriptions(c: Linear<0, { T::MaxIndexChangesPerBlock::get() }>) {
		let removed = approved_model::<T>(1);
		let operator: T::AccountId = account("first", 0, 0);
		let (_, echelon) = node::<T>(&operator, None);
		subscribe_many::<T>(&removed, echelon, c, 1);
		flush_index::<T>();
		Registry::<T>::do_remove_model(removed.clone(), None)
			.unwrap_or_else(|e| panic!("remove: {e:?}"));
		let now = frame_system::Pallet::<T>::block_number();

		#[block]
		{
			Registry::<T>::update_index(now);
		}

		assert_eq!(IndexLen::<T>::get(&removed, echelon), 0);
	}

	#[benchmark]
	fn report_weights_mismatch() {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		fill_index::<T>(&model, echelon, T::MaxSubscribersPerModel::get() - 1);
		Registry::<T>::do_subscribe(operator.clone(), node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		fund::<T>(&operator);
		// This report reaches the threshold and suspends the model; the other reports' bonds,
		// of other operators, are scanned.
		let threshold = T::MismatchThreshold::get();
		let reporters: Vec<NodeId> =
			(1..threshold).map(|i| NodeId(u64::MAX - u64::from(i))).collect();
		for (i, reporter) in reporters.iter().enumerate() {
			let other: T::AccountId = account("reporter", i as u32, 0);
			ReportBonds::<T>::insert(&model, reporter, (other, BalanceOf::<T>::zero()));
		}
		MismatchReports::<T>::insert(&model, frame_support::BoundedVec::truncate_from(reporters));

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(Models::<T>::get(&model)
			.is_some_and(|m| m.status == atoma_support::ModelStatus::Suspended));
	}

	/// Setting a model's context length.
	#[benchmark]
	fn set_context_length() -> Result<(), BenchmarkError> {
		let model = approved_model::<T>(0);
		let origin =
			T::ApproveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model.clone(), 4_096);

		assert_eq!(ContextLengths::<T>::get(&model), Some(4_096));
		Ok(())
	}

	/// Retracting a standing report: the bond is released.
	#[benchmark]
	fn retract_mismatch_report() {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, _) = node::<T>(&operator, None);
		Registry::<T>::do_subscribe(operator.clone(), node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		fund::<T>(&operator);
		Registry::<T>::do_report_weights_mismatch(operator.clone(), node, model.clone())
			.unwrap_or_else(|e| panic!("report: {e:?}"));

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(ReportBonds::<T>::get(&model, node).is_none());
	}

	/// The deregistration hook ending `s` subscriptions of one node.
	#[benchmark]
	fn unsubscribe_all(s: Linear<0, { T::MaxSubscriptionsPerNode::get() }>) {
		let operator: T::AccountId = whitelisted_caller();
		let (node, _) = node::<T>(&operator, None);
		for i in 0..s {
			let model = approved_model::<T>(i);
			Registry::<T>::do_subscribe(operator.clone(), node, model)
				.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		}

		#[block]
		{
			<Registry<T> as OnNodeDeregistered>::on_node_deregistered(node);
		}

		assert!(NodeSubscriptions::<T>::get(node).is_empty());
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}

//! Benchmarks (FRAME v2), one per call plus the deregistration hook, each in its worst case.
//! Nodes come from the node registry through `NodeRegistry::benchmark_node`.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::{vec, vec::Vec};

use atoma_support::{EchelonId, ModelId, NodeId, NodeRegistry, OnNodeDeregistered};
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, EnsureOrigin, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::{Saturating, Zero};

use crate::{pallet::*, Pallet as Registry};

fn fund<T: Config>(who: &T::AccountId) {
	let plenty = T::ModelDeposit::get().saturating_mul(100u32.into());
	T::Currency::set_balance(who, plenty);
}

fn model_id(i: u32) -> Vec<u8> {
	let mut id = b"bench-model-".to_vec();
	id.extend_from_slice(&i.to_le_bytes().map(|b| b'a' + b % 26));
	id
}

/// A registered, approved model with the longest source.
fn approved_model<T: Config>(i: u32) -> ModelId {
	let owner: T::AccountId = account("owner", i, 0);
	fund::<T>(&owner);
	let source = vec![b's'; T::MaxSourceLen::get() as usize];
	let model = Registry::<T>::do_register_model(
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

/// An approved model (with a fresh id) that `nodes` subscribe to; for other pallets' benchmarks.
pub fn serving_model<T: Config>(nodes: &[NodeId]) -> ModelId {
	let index = Models::<T>::iter_keys().count() as u32 + 1_000;
	let model = approved_model::<T>(index);
	for node in nodes {
		let operator = T::Nodes::node(*node).map(|n| n.operator).unwrap_or_else(|| panic!("node"));
		Registry::<T>::do_subscribe(operator, *node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
	}
	model
}

/// A node of `operator` in `echelon` (a new echelon when `None`).
fn node<T: Config>(operator: &T::AccountId, echelon: Option<EchelonId>) -> (NodeId, EchelonId) {
	let node = T::Nodes::benchmark_node(operator, echelon);
	let echelon = T::Nodes::node(node).map(|n| n.echelon).unwrap_or_else(|| panic!("node exists"));
	(node, echelon)
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

	/// Removing a model with `s` subscriptions spread over up to `MaxEchelonsPerModel` echelons.
	#[benchmark]
	fn remove_model(
		s: Linear<0, { Registry::<T>::max_subscriptions_per_model() }>,
	) -> Result<(), BenchmarkError> {
		let model = approved_model::<T>(0);
		let per_echelon = T::MaxSubscribersPerModel::get();
		let mut left = s;
		let mut round = 0;
		while left > 0 {
			let operator: T::AccountId = account("first", round, 0);
			let (first, echelon) = node::<T>(&operator, None);
			Registry::<T>::do_subscribe(operator, first, model.clone())
				.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
			let here = left.min(per_echelon);
			subscribe_many::<T>(&model, echelon, here - 1, round);
			left -= here;
			round += 1;
		}
		let origin =
			T::RemoveOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, model.clone());

		assert!(!Models::<T>::contains_key(&model));
		Ok(())
	}

	#[benchmark]
	fn subscribe() {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		// The index is full but for one place; the node already has all but one subscription.
		subscribe_many::<T>(&model, echelon, T::MaxSubscribersPerModel::get() - 1, 0);
		for i in 1..T::MaxSubscriptionsPerNode::get() {
			let other = approved_model::<T>(i);
			Registry::<T>::do_subscribe(operator.clone(), node, other)
				.unwrap_or_else(|e| panic!("subscribe: {e:?}"));
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(NodeSubscriptions::<T>::get(node).contains(&model));
	}

	#[benchmark]
	fn unsubscribe() {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		subscribe_many::<T>(&model, echelon, T::MaxSubscribersPerModel::get() - 1, 0);
		Registry::<T>::do_subscribe(operator.clone(), node, model.clone())
			.unwrap_or_else(|e| panic!("subscribe: {e:?}"));

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, model.clone());

		assert!(!NodeSubscriptions::<T>::get(node).contains(&model));
	}

	#[benchmark]
	fn report_weights_mismatch() {
		let model = approved_model::<T>(0);
		let operator: T::AccountId = whitelisted_caller();
		let (node, echelon) = node::<T>(&operator, None);
		subscribe_many::<T>(&model, echelon, T::MaxSubscribersPerModel::get() - 1, 0);
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

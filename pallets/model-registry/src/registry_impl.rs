//! The model registry as other pallets see it, its reaction to deregistered nodes, and what a
//! model's review may do to it.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{
	EchelonId, ModelId, ModelRegistry, ModelReview, ModelStatus, ModelSummary, NodeId,
	NodeRegistry, OnNodeDeregistered, ReviewedModel, ReviewedModels,
};
use frame_support::{ensure, traits::Get, weights::Weight};
use sp_runtime::DispatchResult;

use crate::{pallet::*, WeightInfo};

impl<T: Config> ModelRegistry<T::AccountId> for Pallet<T> {
	fn model(model: &ModelId) -> Option<ModelSummary<T::AccountId>> {
		Models::<T>::get(model).map(|record| ModelSummary {
			context_length: ContextLengths::<T>::get(model),
			..record.summary()
		})
	}

	fn indexed_count(model: &ModelId, echelon: EchelonId) -> u32 {
		IndexLen::<T>::get(model, echelon)
	}

	fn indexed_node(model: &ModelId, echelon: EchelonId, position: u32) -> Option<NodeId> {
		IndexedNodes::<T>::get((model, echelon, position))
	}

	fn is_subscribed(node: NodeId, model: &ModelId) -> bool {
		// A removed model's subscriptions end as its index is cleared: none counts meanwhile.
		NodeSubscriptions::<T>::get(node).contains(model) && Models::<T>::contains_key(model)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_model(nodes: &[NodeId]) -> ModelId {
		crate::benchmarking::serving_model::<T>(nodes)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_max_subscribers() -> u32 {
		T::MaxSubscribersPerModel::get()
	}
}

/// The review of a pending model approves it at its quorum, removes it when it expires, and
/// removes it with its owner's deposit forfeit when governance condemns it.
impl<T: Config> ReviewedModels<T::AccountId> for Pallet<T> {
	fn reviewed_model(model: &ModelId) -> Option<ReviewedModel<T::AccountId>> {
		Models::<T>::get(model).map(|record| ReviewedModel {
			owner: record.owner,
			weights_root: record.weights_root,
			tokenizer_hash: record.tokenizer_hash,
			status: record.status,
		})
	}

	fn approve_reviewed(model: &ModelId) -> DispatchResult {
		// A review approves only the pending model it was opened for: a suspended model is
		// governance's to re-approve.
		let record = Models::<T>::get(model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(record.status == ModelStatus::Pending, Error::<T>::AlreadyApproved);
		Self::do_approve_model(model.clone())
	}

	fn remove_reviewed(model: &ModelId, forfeit_to: Option<&T::AccountId>) -> DispatchResult {
		Self::do_remove_model(model.clone(), forfeit_to)
	}

	fn approve_weight() -> Weight {
		T::WeightInfo::approve_model()
	}

	fn remove_weight() -> Weight {
		T::WeightInfo::remove_model(crate::MAX_SCALE).saturating_add(T::Review::removed_weight())
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_pending_model(owner: &T::AccountId, index: u32) -> ModelId {
		crate::benchmarking::pending_model::<T>(owner, index)
	}
}

/// A deregistered node's subscriptions all end at once (protocol §2).
impl<T: Config> OnNodeDeregistered for Pallet<T> {
	fn on_node_deregistered(node: NodeId) -> Weight {
		let models = NodeSubscriptions::<T>::get(node);
		let count = models.len() as u32;
		if let Some(summary) = T::Nodes::node(node) {
			for model in models.iter() {
				Self::end_subscription(node, model, summary.echelon);
			}
		}
		T::WeightInfo::unsubscribe_all(count)
	}

	fn max_weight() -> Weight {
		T::WeightInfo::unsubscribe_all(T::MaxSubscriptionsPerNode::get())
	}
}

/// The nodes subscribed to at least one model: the node registry counts only their bids toward
/// an echelon's price.
pub struct ServingNodes<T>(core::marker::PhantomData<T>);

impl<T: Config> frame_support::traits::Contains<NodeId> for ServingNodes<T> {
	fn contains(node: &NodeId) -> bool {
		!NodeSubscriptions::<T>::get(node).is_empty()
	}
}

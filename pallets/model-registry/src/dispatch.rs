//! The calls' logic: every check comes before the first write.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_support::{EchelonId, ModelId, ModelReview, ModelStatus, NodeId, NodeRegistry};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
	BoundedVec,
};
use sp_runtime::{
	traits::{Saturating, Zero},
	Perbill,
};

use crate::{pallet::*, types::ModelRecord};

/// Whether a newly registered model waits for its review (`Config::Review`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
	/// Registered by its owner: the review decides.
	Reviewed,
	/// A genesis model (the chain's founders chose it), or a benchmark's: no review.
	Founding,
}

impl<T: Config> Pallet<T> {
	pub(crate) fn do_register_model(
		admission: Admission,
		owner: T::AccountId,
		model: Vec<u8>,
		weights_root: [u8; 32],
		tokenizer_hash: [u8; 32],
		source: Vec<u8>,
		owner_share: Perbill,
	) -> Result<ModelId, DispatchError> {
		let model = ModelId::from_name(&model).ok_or(Error::<T>::InvalidModelId)?;
		ensure!(!Models::<T>::contains_key(&model), Error::<T>::ModelExists);
		// The index of a removed model with this id is still being cleared.
		ensure!(!Self::is_unindexing(&model), Error::<T>::ModelExists);
		let source: BoundedVec<u8, T::MaxSourceLen> =
			source.try_into().map_err(|_| Error::<T>::SourceTooLong)?;
		ensure!(owner_share <= T::MaxOwnerShare::get(), Error::<T>::OwnerShareTooHigh);
		let deposit = T::ModelDeposit::get();
		let free =
			T::Currency::reducible_balance(&owner, Preservation::Preserve, Fortitude::Polite);
		ensure!(free >= deposit, Error::<T>::InsufficientBalance);

		T::Currency::hold(&HoldReason::ModelDeposit.into(), &owner, deposit)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		Models::<T>::insert(
			&model,
			ModelRecord {
				owner: owner.clone(),
				weights_root,
				tokenizer_hash,
				source,
				owner_share,
				deposit,
				status: ModelStatus::Pending,
				echelons: BoundedVec::new(),
			},
		);
		Self::deposit_event(Event::ModelRegistered {
			model: model.clone(),
			owner: owner.clone(),
			weights_root,
			tokenizer_hash,
			owner_share,
			deposit,
		});
		// Last: the review holds its fee from the owner, and its failure (the owner cannot pay
		// it) undoes the registration with the rest of the call.
		if admission == Admission::Reviewed {
			T::Review::open_review(&model, &owner)?;
		}
		Ok(model)
	}

	pub(crate) fn do_approve_model(model: ModelId) -> DispatchResult {
		let owner =
			Models::<T>::try_mutate(&model, |record| -> Result<T::AccountId, DispatchError> {
				let record = record.as_mut().ok_or(Error::<T>::UnknownModel)?;
				ensure!(record.status != ModelStatus::Approved, Error::<T>::AlreadyApproved);
				record.status = ModelStatus::Approved;
				Ok(record.owner.clone())
			})?;
		// Governance found the weights right: the reports that suspended the model were false.
		Self::settle_report_bonds(&model, &owner, true);
		MismatchReports::<T>::remove(&model);
		Self::deposit_event(Event::ModelApproved { model });
		Ok(())
	}

	/// The subscriptions end later, as `on_initialize` clears the model's index: removal costs
	/// the same with 10 subscribers or 10,000. With `forfeit_to` (a model condemned as copied or
	/// malicious), the owner's deposit goes to that account instead of back to the owner.
	pub(crate) fn do_remove_model(
		model: ModelId,
		forfeit_to: Option<&T::AccountId>,
	) -> DispatchResult {
		let record = Models::<T>::get(&model).ok_or(Error::<T>::UnknownModel)?;
		let ended = record.echelons.iter().fold(0u32, |sum, echelon| {
			sum.saturating_add(SubscriberCount::<T>::get(&model, echelon))
		});
		Unindexing::<T>::try_mutate(|queue| queue.try_push((model.clone(), record.echelons)))
			.map_err(|_| Error::<T>::TooManyModelsUnindexing)?;
		let reason = HoldReason::ModelDeposit.into();
		match forfeit_to {
			None => {
				T::Currency::release(
					&reason,
					&record.owner,
					record.deposit,
					Precision::BestEffort,
				)?;
			},
			Some(to) => {
				// Forced, as a slash is: a freeze on the owner's account must not keep it.
				let paid = T::Currency::transfer_on_hold(
					&reason,
					&record.owner,
					to,
					record.deposit,
					Precision::BestEffort,
					Restriction::Free,
					Fortitude::Force,
				)?;
				// Whatever could not be moved (nothing, unless the hold was short) is released:
				// no hold may outlive its record.
				T::Currency::release(
					&reason,
					&record.owner,
					record.deposit.saturating_sub(paid),
					Precision::BestEffort,
				)?;
				Self::deposit_event(Event::DepositForfeited {
					model: model.clone(),
					owner: record.owner.clone(),
					to: to.clone(),
					amount: paid,
				});
			},
		}
		// Removed: whatever the reports said, the reporters get their bonds back.
		Self::settle_report_bonds(&model, &record.owner, false);
		Models::<T>::remove(&model);
		ContextLengths::<T>::remove(&model);
		MismatchReports::<T>::remove(&model);
		T::Review::model_removed(&model);
		Self::deposit_event(Event::ModelRemoved { model, unsubscribed: ended });
		Ok(())
	}

	pub(crate) fn do_subscribe(
		operator: T::AccountId,
		node: NodeId,
		model: ModelId,
	) -> DispatchResult {
		let echelon = Self::operated_active_node(&operator, node)?;
		// A node whose worker runs another profile than its echelon's could only disagree with
		// the echelon's honest nodes.
		ensure!(!T::Nodes::runs_other_profile(node), Error::<T>::ProfileMismatch);
		let mut record = Models::<T>::get(&model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(record.status == ModelStatus::Approved, Error::<T>::ModelNotApproved);
		let mut subscriptions = NodeSubscriptions::<T>::get(node);
		ensure!(!subscriptions.contains(&model), Error::<T>::AlreadySubscribed);
		let first = subscriptions.is_empty();
		subscriptions.try_push(model.clone()).map_err(|_| Error::<T>::TooManySubscriptions)?;
		let count = SubscriberCount::<T>::get(&model, echelon);
		ensure!(count < T::MaxSubscribersPerModel::get(), Error::<T>::TooManySubscribers);
		if !record.echelons.contains(&echelon) {
			record.echelons.try_push(echelon).map_err(|_| Error::<T>::TooManyEchelons)?;
			Models::<T>::insert(&model, record);
		}
		NodeSubscriptions::<T>::insert(node, subscriptions);
		SubscriberCount::<T>::insert(&model, echelon, count.saturating_add(1));
		Self::deposit_event(Event::NodeSubscribed { node, model: model.clone(), echelon });
		if first {
			T::Nodes::serving_changed(node);
		}
		Self::queue_index_change(node, model, echelon, true);
		Ok(())
	}

	pub(crate) fn do_unsubscribe(
		operator: T::AccountId,
		node: NodeId,
		model: ModelId,
	) -> DispatchResult {
		let summary = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(summary.operator == operator, Error::<T>::NotNodeOperator);
		ensure!(NodeSubscriptions::<T>::get(node).contains(&model), Error::<T>::NotSubscribed);
		Self::end_subscription(node, &model, summary.echelon);
		Ok(())
	}

	pub(crate) fn do_report_weights_mismatch(
		operator: T::AccountId,
		node: NodeId,
		model: ModelId,
	) -> DispatchResult {
		let summary = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(summary.operator == operator, Error::<T>::NotNodeOperator);
		let mut record = Models::<T>::get(&model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(record.status == ModelStatus::Approved, Error::<T>::ModelNotApproved);
		ensure!(NodeSubscriptions::<T>::get(node).contains(&model), Error::<T>::NotSubscribed);
		// Only a node that serves now may report, and each operator counts once: a sybil of
		// fresh nodes cannot suspend a model that honest nodes serve.
		ensure!(T::Nodes::is_eligible(node, Zero::zero()), Error::<T>::ReporterNotActive);
		let mut reports = MismatchReports::<T>::get(&model);
		ensure!(!reports.contains(&node), Error::<T>::AlreadyReported);
		ensure!(
			!ReportBonds::<T>::iter_prefix_values(&model).any(|(who, _)| who == operator),
			Error::<T>::OperatorAlreadyReported
		);
		// The list is bounded by the threshold, so it can always take the report that reaches it.
		reports.try_push(node).map_err(|_| Error::<T>::AlreadyReported)?;
		let count = reports.len() as u32;
		let bond = T::MismatchBond::get();
		T::Currency::hold(&HoldReason::MismatchBond.into(), &operator, bond)
			.map_err(|_| Error::<T>::InsufficientBond)?;
		ReportBonds::<T>::insert(&model, node, (operator, bond));

		MismatchReports::<T>::insert(&model, reports);
		Self::deposit_event(Event::WeightsMismatchReported {
			node,
			model: model.clone(),
			reports: count,
		});
		Self::end_subscription(node, &model, summary.echelon);
		if count >= T::MismatchThreshold::get() {
			record.status = ModelStatus::Suspended;
			// `end_subscription` may have changed `echelons`; keep the stored list.
			Models::<T>::mutate(&model, |stored| {
				if let Some(stored) = stored {
					stored.status = record.status;
				}
			});
			Self::deposit_event(Event::ModelSuspended { model, reports: count });
		}
		Ok(())
	}

	pub(crate) fn do_retract_mismatch_report(
		operator: T::AccountId,
		node: NodeId,
		model: ModelId,
	) -> DispatchResult {
		let record = Models::<T>::get(&model).ok_or(Error::<T>::UnknownModel)?;
		ensure!(record.status == ModelStatus::Approved, Error::<T>::ModelNotApproved);
		let (reporter, bond) =
			ReportBonds::<T>::get(&model, node).ok_or(Error::<T>::NotReported)?;
		ensure!(reporter == operator, Error::<T>::NotNodeOperator);
		T::Currency::release(
			&HoldReason::MismatchBond.into(),
			&operator,
			bond,
			Precision::BestEffort,
		)?;
		ReportBonds::<T>::remove(&model, node);
		MismatchReports::<T>::mutate(&model, |reports| reports.retain(|n| *n != node));
		Self::deposit_event(Event::MismatchReportRetracted { node, model });
		Ok(())
	}

	/// Settle the bonds of `model`'s reports: to the model's owner when it is re-approved (the
	/// reports were false), back to the reporters when it is removed. Bounded by
	/// `MismatchThreshold` reports.
	pub(crate) fn settle_report_bonds(
		model: &ModelId,
		owner: &T::AccountId,
		reports_were_false: bool,
	) {
		// Drained first: the loop below moves funds, and storage must not change under an
		// iterator.
		let bonds: Vec<_> = ReportBonds::<T>::drain_prefix(model).collect();
		for (node, (operator, bond)) in bonds {
			let reason = HoldReason::MismatchBond.into();
			if reports_were_false {
				// Forced, as a slash is: a freeze on the operator's account must not keep the
				// bond held with nothing left to release it.
				let paid = T::Currency::transfer_on_hold(
					&reason,
					&operator,
					owner,
					bond,
					Precision::BestEffort,
					Restriction::Free,
					Fortitude::Force,
				)
				.unwrap_or_default();
				// Whatever could not be paid (a transfer refused outright) goes back.
				let _ = T::Currency::release(
					&reason,
					&operator,
					bond.saturating_sub(paid),
					Precision::BestEffort,
				);
				Self::deposit_event(Event::ReportBondForfeited {
					node,
					model: model.clone(),
					owner: owner.clone(),
					bond: paid,
				});
			} else {
				let returned =
					T::Currency::release(&reason, &operator, bond, Precision::BestEffort)
						.unwrap_or_default();
				Self::deposit_event(Event::ReportBondReturned {
					node,
					model: model.clone(),
					operator,
					bond: returned,
				});
			}
		}
	}

	/// End `node`'s subscription to `model` in `echelon` now; the node leaves the draw index
	/// `IndexDelay` blocks later.
	pub(crate) fn end_subscription(node: NodeId, model: &ModelId, echelon: EchelonId) {
		if Self::forget_subscription(node, model, echelon) {
			Self::queue_index_change(node, model.clone(), echelon, false);
		}
	}

	/// Drop `node`'s subscription to `model` from the subscription records (not the index);
	/// `false` if it had none.
	pub(crate) fn forget_subscription(node: NodeId, model: &ModelId, echelon: EchelonId) -> bool {
		let mut subscriptions = NodeSubscriptions::<T>::get(node);
		let before = subscriptions.len();
		subscriptions.retain(|m| m != model);
		if subscriptions.len() == before {
			return false;
		}
		let now_empty = subscriptions.is_empty();
		if now_empty {
			NodeSubscriptions::<T>::remove(node);
		} else {
			NodeSubscriptions::<T>::insert(node, subscriptions);
		}
		let count = SubscriberCount::<T>::get(model, echelon).saturating_sub(1);
		if count == 0 {
			SubscriberCount::<T>::remove(model, echelon);
			Models::<T>::mutate(model, |record| {
				if let Some(record) = record {
					record.echelons.retain(|e| *e != echelon);
				}
			});
		} else {
			SubscriberCount::<T>::insert(model, echelon, count);
		}
		Self::deposit_event(Event::NodeUnsubscribed { node, model: model.clone(), echelon });
		if now_empty {
			T::Nodes::serving_changed(node);
		}
		true
	}

	/// The node's echelon, if `operator` operates it and it is active.
	fn operated_active_node(
		operator: &T::AccountId,
		node: NodeId,
	) -> Result<EchelonId, DispatchError> {
		let summary = T::Nodes::node(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(summary.operator == *operator, Error::<T>::NotNodeOperator);
		ensure!(summary.active, Error::<T>::NodeNotActive);
		Ok(summary.echelon)
	}

	// Genesis may panic: a chain spec that cannot build must not start.
	#[allow(clippy::panic)]
	pub(crate) fn build_genesis(config: &GenesisConfig<T>) {
		for (id, owner, weights_root, tokenizer_hash, source, share) in &config.models {
			let model = Self::do_register_model(
				Admission::Founding,
				owner.clone(),
				id.clone(),
				*weights_root,
				*tokenizer_hash,
				source.clone(),
				*share,
			)
			.unwrap_or_else(|e| panic!("genesis model {id:?} not registered: {e:?}"));
			Self::do_approve_model(model)
				.unwrap_or_else(|e| panic!("genesis model {id:?} not approved: {e:?}"));
		}
		for (id, tokens) in &config.context_lengths {
			let model = ModelId::from_name(id)
				.unwrap_or_else(|| panic!("genesis context length of invalid model id {id:?}"));
			ContextLengths::<T>::insert(model, *tokens);
		}
		for (node, id) in &config.subscriptions {
			let node = NodeId(*node);
			let model = ModelId::from_name(id)
				.unwrap_or_else(|| panic!("genesis subscription to invalid model id {id:?}"));
			let operator = T::Nodes::node(node)
				.unwrap_or_else(|| panic!("genesis subscription of unknown node {node:?}"))
				.operator;
			Self::do_subscribe(operator, node, model)
				.unwrap_or_else(|e| panic!("genesis subscription of {node:?} failed: {e:?}"));
		}
	}

	/// Invariants: subscription counts match the subscriptions, a model's `echelons` lists
	/// exactly those with subscribers, nodes sit in their own echelon, the draw index is dense
	/// and agrees with its position map (and, once no change waits, with the subscriptions), and
	/// deposits and bonds held equal those recorded.
	#[cfg(any(test, feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::{btree_map::BTreeMap, btree_set::BTreeSet};
		use frame_support::traits::fungible::InspectHold;

		let mut deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		for (model, record) in Models::<T>::iter() {
			let sum = deposits.entry(record.owner.clone()).or_default();
			*sum = sp_runtime::Saturating::saturating_add(*sum, record.deposit);
			for echelon in record.echelons.iter() {
				ensure!(
					SubscriberCount::<T>::get(&model, echelon) > 0,
					"a listed echelon has no subscribers"
				);
			}
		}
		for (owner, sum) in deposits {
			let held = T::Currency::balance_on_hold(&HoldReason::ModelDeposit.into(), &owner);
			ensure!(held == sum, "held model deposits differ from the recorded sum");
		}
		// Report bonds: held exactly as recorded, one per standing report.
		let mut bonds = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		for (model, node, (operator, bond)) in ReportBonds::<T>::iter() {
			ensure!(MismatchReports::<T>::get(&model).contains(&node), "a bond without a report");
			let sum = bonds.entry(operator).or_default();
			*sum = sp_runtime::Saturating::saturating_add(*sum, bond);
		}
		for (operator, sum) in bonds {
			let held = T::Currency::balance_on_hold(&HoldReason::MismatchBond.into(), &operator);
			ensure!(held == sum, "held report bonds differ from the recorded sum");
		}
		// Subscriptions, counted per (model, echelon).
		let mut counted = BTreeMap::<(ModelId, EchelonId), u32>::new();
		let mut subscribed = BTreeSet::<(NodeId, ModelId)>::new();
		for (node, models) in NodeSubscriptions::<T>::iter() {
			ensure!(!models.is_empty(), "an empty subscription list is stored");
			let summary = T::Nodes::node(node).ok_or("subscription of an unknown node")?;
			for model in models.iter() {
				let count = counted.entry((model.clone(), summary.echelon)).or_default();
				*count = count.saturating_add(1);
				subscribed.insert((node, model.clone()));
			}
		}
		let stored: BTreeMap<_, _> =
			SubscriberCount::<T>::iter().map(|(m, e, count)| ((m, e), count)).collect();
		ensure!(stored == counted, "subscriber counts differ from the subscriptions");
		for (model, echelon) in counted.keys() {
			if let Some(record) = Models::<T>::get(model) {
				ensure!(
					record.echelons.contains(echelon),
					"an echelon with subscribers is unlisted"
				);
			} else {
				ensure!(Self::is_unindexing(model), "subscribers of an unknown model");
			}
		}
		// The index: dense positions that agree with the position map.
		let mut indexed = BTreeSet::<(NodeId, ModelId)>::new();
		for (model, echelon, len) in IndexLen::<T>::iter() {
			ensure!(len <= T::MaxSubscribersPerModel::get(), "an index over its bound");
			for position in 0..len {
				let node = IndexedNodes::<T>::get((&model, echelon, position))
					.ok_or("a hole in the draw index")?;
				ensure!(
					IndexPositions::<T>::get(node, &model) == Some((echelon, position)),
					"the draw index and its position map disagree"
				);
				let summary = T::Nodes::node(node).ok_or("an unknown node indexed")?;
				ensure!(summary.echelon == echelon, "node indexed outside its echelon");
				ensure!(indexed.insert((node, model.clone())), "a node indexed twice");
			}
		}
		ensure!(
			IndexedNodes::<T>::iter_keys().count() == indexed.len()
				&& IndexPositions::<T>::iter_keys().count() == indexed.len(),
			"draw index entries beyond the index lengths"
		);
		let (head, tail) = IndexQueueBounds::<T>::get();
		ensure!(head <= tail, "index queue bounds reversed");
		ensure!(
			IndexQueue::<T>::iter_keys().all(|seq| (head..tail).contains(&seq))
				&& IndexQueue::<T>::iter_keys().count() as u64 == tail.saturating_sub(head),
			"index queue entries outside its bounds"
		);
		if head == tail && Unindexing::<T>::get().is_empty() {
			ensure!(indexed == subscribed, "the settled draw index differs from the subscriptions");
		}
		Ok(())
	}
}

//! The calls' logic: every check comes before the first write.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_support::{EchelonId, NodeId, OnNodeDeregistered, WorkerPublic};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, MutateHold},
		tokens::{Fortitude, Precision, Preservation},
	},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

use crate::{
	pallet::*,
	types::{Echelon, NodeRecord, NodeStatus},
};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_register_node(
		operator: T::AccountId,
		echelon: EchelonId,
		worker_key: WorkerPublic,
		url: Vec<u8>,
		collateral: BalanceOf<T>,
		price_per_token: BalanceOf<T>,
	) -> Result<NodeId, DispatchError> {
		ensure!(Echelons::<T>::contains_key(echelon), Error::<T>::UnknownEchelon);
		ensure!(collateral >= T::MinCollateral::get(), Error::<T>::CollateralBelowMinimum);
		ensure!(!NodeByWorkerKey::<T>::contains_key(worker_key), Error::<T>::WorkerKeyInUse);
		let url = Self::checked_url(url)?;
		let nodes = EchelonNodeCount::<T>::get(echelon);
		ensure!(nodes < T::MaxNodesPerEchelon::get(), Error::<T>::EchelonFull);
		let nodes = nodes.checked_add(1).ok_or(Error::<T>::EchelonFull)?;
		Self::ensure_can_hold_collateral(&operator, collateral)?;

		let node = NodeId(NextNodeId::<T>::get());
		let next = node.0.checked_add(1).ok_or(Error::<T>::EchelonFull)?;

		T::Currency::hold(&HoldReason::NodeCollateral.into(), &operator, collateral)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		let current = CurrentEpoch::<T>::get();
		let active_from = Self::saturating_epoch_after(current);
		let record = NodeRecord {
			operator: operator.clone(),
			echelon,
			worker_key,
			url,
			collateral,
			reserved: Zero::zero(),
			pending_jobs: 0,
			active_from,
			last_work_epoch: current,
			status: NodeStatus::Active,
		};
		// Counted once the node serves a model (the model registry then calls `serving_changed`).
		Self::place_bid(node, &record, price_per_token);
		Nodes::<T>::insert(node, record);
		EchelonNodeCount::<T>::insert(echelon, nodes);
		NextNodeId::<T>::put(next);
		NodeByWorkerKey::<T>::insert(worker_key, node);
		WorkerKeySince::<T>::insert(node, frame_system::Pallet::<T>::block_number());
		Self::deposit_event(Event::NodeRegistered {
			node,
			operator,
			echelon,
			worker_key,
			collateral,
			price_per_token,
			active_from,
		});
		Ok(node)
	}

	/// Collateral gained lately that does not count toward new work yet.
	pub(crate) fn fresh_collateral(
		node: NodeId,
	) -> crate::types::FreshCollateral<BlockNumberFor<T>, BalanceOf<T>> {
		let now = frame_system::Pallet::<T>::block_number();
		FreshCollateral::<T>::get(node).filter(|fresh| fresh.until > now).unwrap_or_default()
	}

	/// `added` and `released` collateral of `node` count toward new work `FreeCollateralDelay`
	/// blocks from now (with what it gained lately, which waits as long).
	pub(crate) fn note_fresh_collateral(node: NodeId, added: BalanceOf<T>, released: BalanceOf<T>) {
		let delay = T::FreeCollateralDelay::get();
		if delay == 0 {
			return;
		}
		let mut fresh = Self::fresh_collateral(node);
		fresh.until = frame_system::Pallet::<T>::block_number().saturating_add(delay.into());
		fresh.added = fresh.added.saturating_add(added);
		fresh.released = fresh.released.saturating_add(released);
		FreshCollateral::<T>::insert(node, fresh);
	}

	pub(crate) fn do_add_collateral(
		operator: T::AccountId,
		node: NodeId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		let mut record = Self::operated_node(&operator, node)?;
		ensure!(record.status == NodeStatus::Active, Error::<T>::NodeNotActive);
		Self::ensure_can_hold_collateral(&operator, amount)?;
		T::Currency::hold(&HoldReason::NodeCollateral.into(), &operator, amount)
			.map_err(|_| Error::<T>::InsufficientBalance)?;
		record.collateral = record.collateral.saturating_add(amount);
		let collateral = record.collateral;
		Nodes::<T>::insert(node, record);
		Self::note_fresh_collateral(node, amount, Zero::zero());
		// The collateral may have risen to `MinCollateral` again after a slash.
		Self::refresh_bid(node);
		Self::deposit_event(Event::CollateralAdded { node, amount, collateral });
		Ok(())
	}

	pub(crate) fn do_rotate_worker_key(
		operator: T::AccountId,
		node: NodeId,
		new: WorkerPublic,
	) -> DispatchResult {
		let mut record = Self::operated_node(&operator, node)?;
		ensure!(!NodeByWorkerKey::<T>::contains_key(new), Error::<T>::WorkerKeyInUse);
		let old = record.worker_key;
		record.worker_key = new;
		NodeByWorkerKey::<T>::remove(old);
		NodeByWorkerKey::<T>::insert(new, node);
		Nodes::<T>::insert(node, record);
		WorkerKeySince::<T>::insert(node, frame_system::Pallet::<T>::block_number());
		Self::deposit_event(Event::WorkerKeyRotated { node, old, new });
		Ok(())
	}

	pub(crate) fn do_set_url(operator: T::AccountId, node: NodeId, url: Vec<u8>) -> DispatchResult {
		let mut record = Self::operated_node(&operator, node)?;
		record.url = Self::checked_url(url)?;
		let url = record.url.to_vec();
		Nodes::<T>::insert(node, record);
		Self::deposit_event(Event::UrlChanged { node, url });
		Ok(())
	}

	pub(crate) fn do_bid_price(
		operator: T::AccountId,
		node: NodeId,
		price_per_token: BalanceOf<T>,
	) -> DispatchResult {
		let record = Self::operated_node(&operator, node)?;
		ensure!(record.status == NodeStatus::Active, Error::<T>::NodeNotActive);
		let echelon = record.echelon;
		Self::place_bid(node, &record, price_per_token);
		Self::deposit_event(Event::BidPlaced { node, echelon, price_per_token });
		Ok(())
	}

	pub(crate) fn do_deregister_node(operator: T::AccountId, node: NodeId) -> DispatchResult {
		let mut record = Self::operated_node(&operator, node)?;
		ensure!(record.status == NodeStatus::Active, Error::<T>::NodeNotActive);
		let epoch = CurrentEpoch::<T>::get();
		record.status = NodeStatus::Leaving { since: epoch };
		// The node's bid goes and its slot in the echelon is freed: it can never bid again.
		Self::remove_bid(node);
		EchelonNodeCount::<T>::mutate(record.echelon, |nodes| *nodes = nodes.saturating_sub(1));
		Nodes::<T>::insert(node, record);
		T::OnNodeDeregistered::on_node_deregistered(node);
		Self::deposit_event(Event::NodeDeregistered { node, epoch });
		Ok(())
	}

	pub(crate) fn do_withdraw_node(operator: T::AccountId, node: NodeId) -> DispatchResult {
		let record = Self::operated_node(&operator, node)?;
		let NodeStatus::Leaving { since } = record.status else {
			return Err(Error::<T>::NodeStillActive.into());
		};
		ensure!(record.pending_jobs == 0, Error::<T>::WorkPending);
		let current = CurrentEpoch::<T>::get();
		ensure!(current > since.max(record.last_work_epoch), Error::<T>::ExitEpochNotReached);

		let fees = Fees::<T>::get(node).total();
		let collateral = T::Currency::release(
			&HoldReason::NodeCollateral.into(),
			&operator,
			record.collateral,
			Precision::BestEffort,
		)?;
		let fees = if fees.is_zero() {
			fees
		} else {
			T::Currency::release(
				&HoldReason::NodeFees.into(),
				&operator,
				fees,
				Precision::BestEffort,
			)?
		};
		Nodes::<T>::remove(node);
		// A leaving node has no bid; should one remain, it must not outlive the node.
		Self::remove_bid(node);
		WorkerKeySince::<T>::remove(node);
		FreshCollateral::<T>::remove(node);
		Fees::<T>::remove(node);
		NodeByWorkerKey::<T>::remove(record.worker_key);
		Self::deposit_event(Event::NodeWithdrawn { node, operator, collateral, fees });
		Ok(())
	}

	pub(crate) fn do_claim_fees(operator: T::AccountId, node: NodeId) -> DispatchResult {
		Self::operated_node(&operator, node)?;
		let mut ledger = Fees::<T>::get(node).rolled_to(CurrentEpoch::<T>::get());
		let amount = ledger.claimable;
		ensure!(!amount.is_zero(), Error::<T>::NoFeesToClaim);
		T::Currency::release(&HoldReason::NodeFees.into(), &operator, amount, Precision::Exact)?;
		ledger.claimable = Zero::zero();
		Fees::<T>::insert(node, ledger);
		Self::deposit_event(Event::FeesClaimed { node, operator, amount });
		Ok(())
	}

	pub(crate) fn do_register_echelon(spec: EchelonOf<T>) -> Result<EchelonId, DispatchError> {
		ensure!(Echelons::<T>::count() < T::MaxEchelons::get(), Error::<T>::TooManyEchelons);
		let echelon = EchelonId(NextEchelonId::<T>::get());
		let next = echelon.0.checked_add(1).ok_or(Error::<T>::TooManyEchelons)?;
		Echelons::<T>::insert(echelon, spec.clone());
		NextEchelonId::<T>::put(next);
		Self::deposit_event(Event::EchelonRegistered { echelon, spec });
		Ok(echelon)
	}

	pub(crate) fn do_update_echelon(echelon: EchelonId, spec: EchelonOf<T>) -> DispatchResult {
		ensure!(Echelons::<T>::contains_key(echelon), Error::<T>::UnknownEchelon);
		Echelons::<T>::insert(echelon, spec.clone());
		Self::deposit_event(Event::EchelonUpdated { echelon, spec });
		Ok(())
	}

	/// An echelon description from call parameters, checked.
	pub(crate) fn echelon_spec(
		device: Vec<u8>,
		device_count: u32,
		memory_mib: u64,
		execution_profile: [u8; 32],
	) -> Result<EchelonOf<T>, DispatchError> {
		ensure!(!device.is_empty(), Error::<T>::InvalidDeviceName);
		let device = BoundedVec::try_from(device).map_err(|_| Error::<T>::InvalidDeviceName)?;
		ensure!(device_count > 0, Error::<T>::ZeroDeviceCount);
		Ok(Echelon { device, device_count, memory_mib, execution_profile })
	}

	/// The node's record, if `operator` operates it.
	pub(crate) fn operated_node(
		operator: &T::AccountId,
		node: NodeId,
	) -> Result<NodeRecordOf<T>, DispatchError> {
		let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		ensure!(record.operator == *operator, Error::<T>::NotNodeOperator);
		Ok(record)
	}

	fn checked_url(url: Vec<u8>) -> Result<BoundedVec<u8, T::MaxUrlLen>, DispatchError> {
		let url: BoundedVec<u8, T::MaxUrlLen> =
			url.try_into().map_err(|_| Error::<T>::UrlTooLong)?;
		let has_host = |scheme: &[u8]| url.starts_with(scheme) && url.len() > scheme.len();
		ensure!(has_host(b"http://") || has_host(b"https://"), Error::<T>::InvalidUrl);
		Ok(url)
	}

	/// Fail with `InsufficientBalance` unless the operator can hold `amount` and keep its account
	/// alive (a hold never reaps the account).
	fn ensure_can_hold_collateral(operator: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		let free =
			T::Currency::reducible_balance(operator, Preservation::Preserve, Fortitude::Polite);
		ensure!(free >= amount, Error::<T>::InsufficientBalance);
		Ok(())
	}

	// Genesis may panic: a chain spec that cannot build must not start.
	#[allow(clippy::panic)]
	pub(crate) fn build_genesis(config: &GenesisConfig<T>) {
		let length = config.epoch_length.max(T::MinEpochLength::get());
		EpochLength::<T>::put(length);
		NextEpochStart::<T>::put(length);
		for (device, count, memory, profile) in &config.echelons {
			let spec = Self::echelon_spec(device.clone(), *count, *memory, *profile)
				.unwrap_or_else(|e| panic!("genesis echelon {device:?} is invalid: {e:?}"));
			Self::do_register_echelon(spec)
				.unwrap_or_else(|e| panic!("genesis echelon {device:?} not registered: {e:?}"));
		}
		for (operator, echelon, key, url, collateral, price) in &config.nodes {
			let node = Self::do_register_node(
				operator.clone(),
				EchelonId(*echelon),
				*key,
				url.clone(),
				*collateral,
				*price,
			)
			.unwrap_or_else(|e| panic!("genesis node of {operator:?} not registered: {e:?}"));
			// Genesis nodes serve from the first block.
			Nodes::<T>::mutate(node, |record| {
				if let Some(record) = record {
					record.active_from = 0;
				}
			});
		}
		// The genesis nodes are the chain spec's own, and the model registry's subscriptions may
		// be built after this pallet's genesis: all their bids count for epoch 0. From the first
		// boundary on, only those of nodes that serve (`serving_changed` counts them).
		Self::fix_genesis_prices();
	}

	/// Invariants: each operator's collateral and fee holds equal the sums recorded for its
	/// nodes; each active node has one bid, in its echelon, and leaving nodes none; each echelon's
	/// node count, counted prices and median cursor equal a recomputation from the bids; worker
	/// keys map to their nodes; reservations never exceed collateral.
	#[cfg(any(test, feature = "std", feature = "try-runtime"))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::InspectHold;
		let mut collateral = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		let mut fees = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
		for (node, record) in Nodes::<T>::iter() {
			let held = collateral.entry(record.operator.clone()).or_default();
			*held = held.saturating_add(record.collateral);
			let owed = fees.entry(record.operator.clone()).or_default();
			*owed = owed.saturating_add(Fees::<T>::get(node).total());
			ensure!(record.reserved <= record.collateral, "reserved collateral exceeds collateral");
			ensure!(
				NodeByWorkerKey::<T>::get(record.worker_key) == Some(node),
				"worker key index out of date"
			);
		}
		for (operator, sum) in collateral {
			let held = T::Currency::balance_on_hold(&HoldReason::NodeCollateral.into(), &operator);
			ensure!(held == sum, "held collateral differs from the recorded sum");
		}
		for (operator, sum) in fees {
			let held = T::Currency::balance_on_hold(&HoldReason::NodeFees.into(), &operator);
			ensure!(held == sum, "held fees differ from the recorded sum");
		}
		for (key, node) in NodeByWorkerKey::<T>::iter() {
			let record = Nodes::<T>::get(node).ok_or("worker key of an unknown node")?;
			ensure!(record.worker_key == key, "worker key index out of date");
		}
		// Bids, node counts, counted prices and median cursors against a full recomputation.
		Self::check_counted_bids()
	}
}

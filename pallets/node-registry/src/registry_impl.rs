//! The node registry as other pallets see it ([`atoma_support::NodeRegistry`]).

#![cfg_attr(not(test), deny(clippy::expect_used))]

use atoma_support::{
	EchelonId, EpochIndex, NodeId, NodeRegistry, NodeSummary, SlashOutcome, SlashSplit,
	WorkerPublic,
};
use frame_support::{
	ensure,
	traits::{
		fungible::MutateHold,
		tokens::{Fortitude, Precision, Preservation, Restriction},
		Get,
	},
};
use sp_runtime::SaturatedConversion;
use sp_runtime::{
	traits::{CheckedDiv, Saturating, Zero},
	DispatchError, DispatchResult, Perbill,
};

use crate::{pallet::*, types::NodeStatus};

impl<T: Config> NodeRegistry<T::AccountId, BalanceOf<T>> for Pallet<T> {
	fn current_epoch() -> EpochIndex {
		CurrentEpoch::<T>::get()
	}

	fn node(node: NodeId) -> Option<NodeSummary<T::AccountId, BalanceOf<T>>> {
		Nodes::<T>::get(node).map(|record| record.summary())
	}

	fn node_by_worker_key(key: &WorkerPublic) -> Option<NodeId> {
		NodeByWorkerKey::<T>::get(key)
	}

	fn worker_url(node: NodeId) -> Option<alloc::vec::Vec<u8>> {
		Nodes::<T>::get(node).map(|record| record.url.into_inner())
	}

	fn worker_key_since(node: NodeId) -> u64 {
		WorkerKeySince::<T>::get(node).map_or(0, |block| block.saturated_into())
	}

	fn echelon_exists(echelon: EchelonId) -> bool {
		Echelons::<T>::contains_key(echelon)
	}

	fn echelon_security(echelon: EchelonId) -> Option<(BalanceOf<T>, sp_runtime::Perbill)> {
		EchelonSecurity::<T>::get(echelon)
	}

	fn price_per_token(echelon: EchelonId) -> Option<BalanceOf<T>> {
		EchelonPrices::<T>::get(echelon)
	}

	fn is_eligible(node: NodeId, free_collateral: BalanceOf<T>) -> bool {
		let Some(record) = Nodes::<T>::get(node) else { return false };
		let pinned = Echelons::<T>::get(record.echelon).and_then(|e| e.pinned_profile());
		// Collateral gained in the last `FreeCollateralDelay` blocks does not count yet.
		let fresh = Self::fresh_collateral(node);
		let settled = record.collateral.saturating_sub(fresh.added);
		let free = record.collateral.saturating_sub(record.reserved);
		let free = free.saturating_sub(fresh.added).saturating_sub(fresh.released);
		record.status == NodeStatus::Active
			&& record.active_from <= CurrentEpoch::<T>::get()
			&& settled >= T::MinCollateral::get()
			&& free >= free_collateral
			&& Self::runs_pinned_profile(node, pinned)
	}

	fn runs_other_profile(node: NodeId) -> bool {
		let pinned = Nodes::<T>::get(node)
			.and_then(|r| Echelons::<T>::get(r.echelon))
			.and_then(|e| e.pinned_profile());
		match (pinned, NodeProfiles::<T>::get(node)) {
			(Some(pinned), Some((declared, _))) => declared != pinned,
			_ => false,
		}
	}

	fn reserve_collateral(node: NodeId, amount: BalanceOf<T>) -> DispatchResult {
		Nodes::<T>::try_mutate(node, |record| -> DispatchResult {
			let record = record.as_mut().ok_or(Error::<T>::UnknownNode)?;
			let free = record.collateral.saturating_sub(record.reserved);
			ensure!(free >= amount, Error::<T>::InsufficientFreeCollateral);
			let jobs = record.pending_jobs.checked_add(1).ok_or(Error::<T>::WorkPending)?;
			record.reserved = record.reserved.saturating_add(amount);
			record.pending_jobs = jobs;
			record.last_work_epoch = CurrentEpoch::<T>::get();
			Ok(())
		})?;
		Self::deposit_event(Event::CollateralReserved { node, amount });
		Ok(())
	}

	fn release_collateral(node: NodeId, amount: BalanceOf<T>) {
		Nodes::<T>::mutate(node, |record| {
			if let Some(record) = record {
				// A slash may have shrunk `reserved` below the reservation being released.
				record.reserved = record.reserved.saturating_sub(amount);
				record.pending_jobs = record.pending_jobs.saturating_sub(1);
				record.last_work_epoch = CurrentEpoch::<T>::get();
			}
		});
		Self::note_fresh_collateral(node, Zero::zero(), amount);
		Self::deposit_event(Event::CollateralReleased { node, amount });
	}

	fn slash(
		node: NodeId,
		share: Perbill,
		split: &SlashSplit<T::AccountId>,
	) -> Result<SlashOutcome<BalanceOf<T>>, DispatchError> {
		ensure!(split.is_valid(), Error::<T>::InvalidSlashSplit);
		let mut record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		let slashed = share.mul_floor(record.collateral);
		let reason = HoldReason::NodeCollateral.into();
		let operator = record.operator.clone();
		// A payment that cannot be made (say, below the existential deposit of a new account) is
		// burned instead: the slash itself never fails half-way.
		let pay = |to: &T::AccountId, amount: BalanceOf<T>| -> BalanceOf<T> {
			if amount.is_zero() {
				return amount;
			}
			T::Currency::transfer_on_hold(
				&reason,
				&operator,
				to,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)
			.unwrap_or_default()
		};
		let pay_equally = |to: &[T::AccountId], total: BalanceOf<T>| -> BalanceOf<T> {
			let Ok(count) = BalanceOf::<T>::try_from(to.len()) else { return Zero::zero() };
			let each = total.checked_div(&count).unwrap_or_default();
			to.iter()
				.fold(Zero::zero(), |paid: BalanceOf<T>, who| paid.saturating_add(pay(who, each)))
		};

		let mut outcome = SlashOutcome { slashed, ..Default::default() };
		if let Some(user) = &split.user {
			outcome.to_user = pay(user, split.user_share.mul_floor(slashed));
		}
		outcome.to_honest = pay_equally(&split.honest, split.honest_share.mul_floor(slashed));
		outcome.to_arbiters = pay_equally(&split.arbiters, split.arbiters_share.mul_floor(slashed));
		outcome.to_treasury =
			pay(&T::TreasuryAccount::get(), split.treasury_share.mul_floor(slashed));
		let paid = outcome
			.to_user
			.saturating_add(outcome.to_honest)
			.saturating_add(outcome.to_arbiters)
			.saturating_add(outcome.to_treasury);
		let to_burn = slashed.saturating_sub(paid);
		outcome.burned = if to_burn.is_zero() {
			to_burn
		} else {
			T::Currency::burn_held(
				&reason,
				&operator,
				to_burn,
				Precision::BestEffort,
				Fortitude::Force,
			)?
		};
		outcome.slashed = paid.saturating_add(outcome.burned);
		record.collateral = record.collateral.saturating_sub(outcome.slashed);
		record.reserved = record.reserved.min(record.collateral);
		let collateral = record.collateral;
		Nodes::<T>::insert(node, record);
		// Below `MinCollateral` the node's bid stops counting.
		Self::refresh_bid(node);
		Self::deposit_event(Event::CollateralSlashed {
			node,
			slashed: outcome.slashed,
			burned: outcome.burned,
			collateral,
		});
		<T::OnNodeSlashed as atoma_support::OnNodeSlashed>::on_node_slashed(node);
		Ok(outcome)
	}

	fn accrue_fee(node: NodeId, payer: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
		let record = Nodes::<T>::get(node).ok_or(Error::<T>::UnknownNode)?;
		let epoch = CurrentEpoch::<T>::get();
		if !amount.is_zero() {
			T::Currency::transfer_and_hold(
				&HoldReason::NodeFees.into(),
				payer,
				&record.operator,
				amount,
				Precision::Exact,
				Preservation::Expendable,
				Fortitude::Polite,
			)
			.map_err(|_| Error::<T>::InsufficientFeeBalance)?;
		}
		Fees::<T>::mutate(node, |ledger| {
			let mut rolled = ledger.rolled_to(epoch);
			rolled.accruing = rolled.accruing.saturating_add(amount);
			*ledger = rolled;
		});
		Self::deposit_event(Event::FeeAccrued { node, epoch, amount });
		Ok(())
	}

	fn serving_changed(node: NodeId) {
		// The node's bid joins or leaves its echelon's counted bids: O(1) storage work.
		Self::refresh_bid(node);
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_node(operator: &T::AccountId, echelon: Option<EchelonId>) -> NodeId {
		crate::benchmarking::setup::eligible_node::<T>(operator, echelon)
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn benchmark_set_worker_key(node: NodeId, key: WorkerPublic) {
		if let Some(record) = Nodes::<T>::get(node) {
			let _ = Self::do_rotate_worker_key(record.operator, node, key);
		}
	}
}

//! The calls' logic (every check before the first write), the review the model registry opens
//! and closes, and the pallet's invariants.

#![cfg_attr(not(test), deny(clippy::expect_used))]

use alloc::vec::Vec;

use atoma_support::{ModelId, ModelReview, ModelStatus, ReviewedModels};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, InspectHold, MutateHold},
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
	BoundedVec,
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::{Saturating, Zero};

use crate::{pallet::*, WeightInfo};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_register(who: T::AccountId) -> DispatchResult {
		ensure!(!Validators::<T>::contains_key(&who), Error::<T>::AlreadyValidator);
		let reviewing = ReviewingCount::<T>::get();
		ensure!(reviewing < T::MaxValidators::get(), Error::<T>::TooManyValidators);
		let bond = T::ValidatorBond::get();
		let free = T::Currency::reducible_balance(&who, Preservation::Preserve, Fortitude::Polite);
		ensure!(free >= bond, Error::<T>::InsufficientBond);

		T::Currency::hold(&HoldReason::ValidatorBond.into(), &who, bond)
			.map_err(|_| Error::<T>::InsufficientBond)?;
		Validators::<T>::insert(&who, Validator { bond, unbonded_at: None, condemned: false });
		ReviewingCount::<T>::put(reviewing.saturating_add(1));
		Self::deposit_event(Event::ValidatorRegistered { validator: who, bond });
		Ok(())
	}

	pub(crate) fn do_unbond(who: T::AccountId) -> DispatchResult {
		let mut validator = Validators::<T>::get(&who).ok_or(Error::<T>::NotValidator)?;
		ensure!(validator.unbonded_at.is_none(), Error::<T>::Unbonding);
		let withdrawable_at = Self::stop_reviewing(&mut validator);
		Validators::<T>::insert(&who, validator);
		Self::deposit_event(Event::ValidatorUnbonding { validator: who, withdrawable_at });
		Ok(())
	}

	pub(crate) fn do_withdraw(who: T::AccountId) -> DispatchResult {
		let validator = Validators::<T>::get(&who).ok_or(Error::<T>::NotValidator)?;
		let withdrawable_at = validator.unbonded_at.ok_or(Error::<T>::NotUnbonding)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now >= withdrawable_at, Error::<T>::StillUnbonding);

		let amount = T::Currency::release(
			&HoldReason::ValidatorBond.into(),
			&who,
			validator.bond,
			Precision::BestEffort,
		)?;
		Validators::<T>::remove(&who);
		Self::deposit_event(Event::BondWithdrawn { validator: who, amount });
		Ok(())
	}

	pub(crate) fn do_attest(
		who: T::AccountId,
		model: ModelId,
		weights_root: [u8; 32],
		tokenizer_hash: [u8; 32],
	) -> DispatchResult {
		let validator = Validators::<T>::get(&who).ok_or(Error::<T>::NotValidator)?;
		ensure!(validator.unbonded_at.is_none(), Error::<T>::Unbonding);
		let mut review = Reviews::<T>::get(&model).ok_or(Error::<T>::NoReview)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now <= review.deadline, Error::<T>::ReviewExpired);
		// An owner who bonds as a validator must not count toward its own model's quorum.
		ensure!(review.owner != who, Error::<T>::OwnModel);
		ensure!(!review.attesters.contains(&who), Error::<T>::AlreadyAttested);
		let facts = T::Models::reviewed_model(&model).ok_or(Error::<T>::NoReview)?;
		ensure!(
			facts.weights_root == weights_root && facts.tokenizer_hash == tokenizer_hash,
			Error::<T>::FactsMismatch
		);
		// The list holds `MaxQuorum` attesters and the quorum is at most that, so a review with
		// a full list of attesters in good standing has passed already; a full list with
		// condemned ones cannot take more (their reviews expire).
		review.attesters.try_push(who.clone()).map_err(|_| Error::<T>::ReviewFull)?;
		Self::deposit_event(Event::ModelAttested {
			model: model.clone(),
			validator: who,
			attestations: review.attesters.len() as u32,
			quorum: Quorum::<T>::get(),
		});
		if !Self::try_pass(&model, &review)? {
			Reviews::<T>::insert(&model, review);
		}
		Ok(())
	}

	/// If the review's attesters in good standing (not condemned since) reach the quorum,
	/// approve the model, pay them the fee and close the review; returns whether it passed.
	fn try_pass(model: &ModelId, review: &ReviewOf<T>) -> Result<bool, DispatchError> {
		let quorum = Quorum::<T>::get();
		// Cheap first: only a list long enough can pass.
		if (review.attesters.len() as u32) < quorum {
			return Ok(false);
		}
		let standing: Vec<T::AccountId> = review
			.attesters
			.iter()
			.filter(|a| !Validators::<T>::get(*a).is_some_and(|v| v.condemned))
			.cloned()
			.collect();
		if (standing.len() as u32) < quorum {
			return Ok(false);
		}

		T::Models::approve_reviewed(model)?;
		Reviews::<T>::remove(model);
		let paid_each = Self::pay_attesters(review, &standing);
		Self::deposit_event(Event::ReviewPassed {
			model: model.clone(),
			attesters: standing.len() as u32,
			paid_each,
		});
		// Every attester stays on record, condemned ones too: if this model is condemned as
		// well, they answer for it again.
		Attesters::<T>::insert(model, review.attesters.clone());
		Ok(true)
	}

	/// Share the review's fee among `attesters`; the first also gets the remainder of the
	/// division. Returns what each was paid.
	fn pay_attesters(review: &ReviewOf<T>, attesters: &[T::AccountId]) -> BalanceOf<T> {
		let count = attesters.len() as u32;
		let paid_each = review.fee.checked_div(&count.into()).unwrap_or_else(Zero::zero);
		let remainder = review.fee.saturating_sub(paid_each.saturating_mul(count.into()));
		let reason = HoldReason::ReviewFee.into();
		for (i, attester) in attesters.iter().enumerate() {
			let amount = if i == 0 { paid_each.saturating_add(remainder) } else { paid_each };
			// Forced, as a slash is: a freeze on the owner's account must not keep the fee
			// held with its review gone.
			let moved = T::Currency::transfer_on_hold(
				&reason,
				&review.owner,
				attester,
				amount,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
			.unwrap_or_default();
			// What could not be paid (a transfer refused outright: the attester's account could
			// not exist with it) goes back to the owner.
			let _ = T::Currency::release(
				&reason,
				&review.owner,
				amount.saturating_sub(moved),
				Precision::BestEffort,
			);
		}
		paid_each
	}

	pub(crate) fn do_expire(model: ModelId) -> DispatchResult {
		let review = Reviews::<T>::get(&model).ok_or(Error::<T>::NoReview)?;
		let now = frame_system::Pallet::<T>::block_number();
		ensure!(now > review.deadline, Error::<T>::ReviewOpen);
		// Governance lowered the quorum below what the review already had: it passes, and its
		// attesters are paid, as the attestation after the change would have done.
		if Self::try_pass(&model, &review)? {
			return Ok(());
		}
		// The registry calls `model_removed` back, which refunds the fee and closes the review.
		T::Models::remove_reviewed(&model, None)?;
		Self::deposit_event(Event::ReviewExpired { model });
		Ok(())
	}

	pub(crate) fn do_slash_attesters(model: ModelId) -> DispatchResult {
		let attesters = match Attesters::<T>::get(&model) {
			Some(attesters) => attesters,
			None => Reviews::<T>::get(&model)
				.map(|review| review.attesters)
				.filter(|attesters| !attesters.is_empty())
				.ok_or(Error::<T>::NotAttested)?,
		};
		// Removed first: its checks (the registry can take another removal now) come before any
		// slash. It calls `model_removed` back, which forgets the attesters and closes an open
		// review.
		let beneficiary = T::SlashBeneficiary::get();
		T::Models::remove_reviewed(&model, Some(&beneficiary))?;

		let reason = HoldReason::ValidatorBond.into();
		for attester in attesters.iter() {
			// A validator that withdrew its bond already is out of reach.
			let Some(mut validator) = Validators::<T>::get(attester) else { continue };
			let share = T::AttesterSlash::get().mul_floor(validator.bond);
			let slashed = T::Currency::transfer_on_hold(
				&reason,
				attester,
				&beneficiary,
				share,
				Precision::BestEffort,
				Restriction::Free,
				Fortitude::Force,
			)
			.unwrap_or_default();
			validator.bond = validator.bond.saturating_sub(slashed);
			validator.condemned = true;
			if validator.unbonded_at.is_none() {
				Self::stop_reviewing(&mut validator);
			}
			Validators::<T>::insert(attester, validator);
			Self::deposit_event(Event::AttesterSlashed {
				validator: attester.clone(),
				model: model.clone(),
				amount: slashed,
			});
		}
		Self::deposit_event(Event::ModelCondemned { model, attesters: attesters.len() as u32 });
		Ok(())
	}

	/// The validator leaves the reviewing set; returns the block from which it may withdraw.
	fn stop_reviewing(validator: &mut ValidatorOf<T>) -> BlockNumberFor<T> {
		let now = frame_system::Pallet::<T>::block_number();
		let withdrawable_at = now.saturating_add(T::UnbondingPeriod::get());
		validator.unbonded_at = Some(withdrawable_at);
		ReviewingCount::<T>::mutate(|count| *count = count.saturating_sub(1));
		withdrawable_at
	}

	/// Close `model`'s open review: the fee goes back to the owner.
	fn close_review(model: &ModelId) {
		let Some(review) = Reviews::<T>::take(model) else { return };
		let refunded = T::Currency::release(
			&HoldReason::ReviewFee.into(),
			&review.owner,
			review.fee,
			Precision::BestEffort,
		)
		.unwrap_or_default();
		Self::deposit_event(Event::ReviewClosed {
			model: model.clone(),
			attestations: review.attesters.len() as u32,
			refunded,
		});
	}

	/// The invariants: the reviewing count matches the records, every validator's bond hold
	/// equals its recorded bond, and every owner with open reviews holds exactly their fees (an
	/// owner with none is not visited: holds cannot be listed by reason).
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let reviewing = Validators::<T>::iter_values().filter(|v| v.unbonded_at.is_none()).count();
		ensure!(
			reviewing as u32 == ReviewingCount::<T>::get(),
			"the reviewing count does not match the validators"
		);
		ensure!(
			ReviewingCount::<T>::get() <= T::MaxValidators::get(),
			"more validators review than MaxValidators"
		);
		for (who, validator) in Validators::<T>::iter() {
			let held = T::Currency::balance_on_hold(&HoldReason::ValidatorBond.into(), &who);
			ensure!(held == validator.bond, "a validator's hold differs from its bond");
		}
		let mut fees: Vec<(T::AccountId, BalanceOf<T>)> = Vec::new();
		for review in Reviews::<T>::iter_values() {
			match fees.iter_mut().find(|(owner, _)| *owner == review.owner) {
				Some((_, sum)) => *sum = sum.saturating_add(review.fee),
				None => fees.push((review.owner, review.fee)),
			}
		}
		for (owner, sum) in fees {
			let held = T::Currency::balance_on_hold(&HoldReason::ReviewFee.into(), &owner);
			ensure!(held == sum, "an owner's review-fee hold differs from its open reviews");
		}
		for model in Reviews::<T>::iter_keys() {
			let pending = T::Models::reviewed_model(&model)
				.is_some_and(|facts| facts.status == ModelStatus::Pending);
			ensure!(pending, "a review is open for a model that is not pending");
		}
		for model in Attesters::<T>::iter_keys() {
			ensure!(
				T::Models::reviewed_model(&model).is_some(),
				"attesters are kept for a model that is gone"
			);
		}
		Ok(())
	}
}

/// The registry opens a review for every model registered, and tells the review when a model
/// is removed.
impl<T: Config> ModelReview<T::AccountId> for Pallet<T> {
	fn open_review(model: &ModelId, owner: &T::AccountId) -> Result<bool, DispatchError> {
		let fee = T::ReviewFee::get();
		T::Currency::hold(&HoldReason::ReviewFee.into(), owner, fee)
			.map_err(|_| Error::<T>::InsufficientFee)?;
		let deadline =
			frame_system::Pallet::<T>::block_number().saturating_add(T::ReviewPeriod::get());
		Reviews::<T>::insert(
			model,
			Review { owner: owner.clone(), fee, deadline, attesters: BoundedVec::new() },
		);
		Self::deposit_event(Event::ReviewOpened {
			model: model.clone(),
			owner: owner.clone(),
			fee,
			deadline,
		});
		Ok(true)
	}

	fn under_review(model: &ModelId) -> bool {
		Reviews::<T>::contains_key(model)
	}

	fn model_removed(model: &ModelId) {
		Self::close_review(model);
		Attesters::<T>::remove(model);
	}

	fn open_weight() -> Weight {
		T::WeightInfo::open_review()
	}

	fn removed_weight() -> Weight {
		T::WeightInfo::close_review()
	}
}

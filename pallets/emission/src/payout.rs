//! Closing an epoch and paying it: the validators at once (a bounded set), then its nodes and
//! model owners over as many blocks as `MaxPayoutsPerBlock` needs, and the treasury last with
//! whatever no one earned, so that every closed epoch mints exactly its emission (less only what
//! the treasury itself cannot take: nothing, once it holds the existential deposit).

use alloc::vec::Vec;

use frame_support::{
	pallet_prelude::*,
	traits::{fungible::Mutate, Get},
};
use sp_runtime::traits::{CheckedDiv, Convert, Saturating, Zero};

use crate::{pallet::*, LOG_TARGET};

impl<T: Config> Pallet<T> {
	/// Close the open epoch if the node registry's epoch has moved past it: fix its emission
	/// and parts, pay the session's validators, queue the rest, and open the registry's epoch.
	/// Returns the number of validators paid, or `None` when nothing closed.
	pub(crate) fn close_epoch_if_ended() -> Option<u32> {
		let current = T::CurrentEpoch::get();
		let epoch = OpenEpoch::<T>::get();
		if current <= epoch {
			return None;
		}
		let schedule = CurrentSchedule::<T>::get();
		let emission = NextEmission::<T>::get();
		let totals = Totals::<T>::get(epoch);
		let (validators_part, owners_part, nodes_part) = Self::parts(emission, &schedule);

		let validators: Vec<T::AccountId> =
			T::Validators::get().into_iter().take(T::MaxValidators::get() as usize).collect();
		let count = validators.len() as u32;
		let each = validators_part.checked_div(&count.into()).unwrap_or_default();
		let mut paid = BalanceOf::<T>::zero();
		for validator in &validators {
			paid = paid.saturating_add(Self::mint(validator, each));
		}
		if count > 0 {
			Self::deposit_event(Event::ValidatorsRewarded { epoch, validators: count, each });
		}

		Payouts::<T>::insert(epoch, Payout { emission, nodes_part, owners_part, totals, paid });
		Self::deposit_event(Event::EpochClosed { epoch, emission, totals });
		NextEmission::<T>::put(emission.saturating_sub(schedule.decay.mul_floor(emission)));
		OpenEpoch::<T>::put(current);
		Some(count)
	}

	/// Pay closed epochs, oldest first, making at most `budget` steps (a node or model paid, or
	/// an epoch finished). Returns the steps made.
	pub(crate) fn pay_some(budget: u32) -> u32 {
		let open = OpenEpoch::<T>::get();
		let first = PayoutHead::<T>::get();
		let mut head = first;
		let mut used = 0u32;
		while head < open && used < budget {
			let Some(mut payout) = Payouts::<T>::get(head) else {
				// Cannot happen: every closed epoch has a payout until it is finished.
				log::warn!(target: LOG_TARGET, "no payout for closed epoch {head}");
				head = head.saturating_add(1);
				used = used.saturating_add(1);
				continue;
			};
			used = used.saturating_add(Self::pay_nodes(
				head,
				&mut payout,
				budget.saturating_sub(used),
			));
			used = used.saturating_add(Self::pay_owners(
				head,
				&mut payout,
				budget.saturating_sub(used),
			));
			let finished = WorkOf::<T>::iter_prefix(head).next().is_none()
				&& ModelUse::<T>::iter_prefix(head).next().is_none();
			if !finished || used >= budget {
				Payouts::<T>::insert(head, payout);
				break;
			}
			Self::finish(head, payout);
			head = head.saturating_add(1);
			used = used.saturating_add(1);
		}
		// Most blocks pay nothing: no write then.
		if head != first {
			PayoutHead::<T>::put(head);
		}
		used
	}

	/// What `steps` payout steps may weigh: each the dearer of a node's and a model owner's
	/// payment (an epoch's end is charged as one).
	pub(crate) fn pay_weight(steps: u32) -> Weight {
		use crate::WeightInfo;
		T::WeightInfo::pay_nodes(steps).max(T::WeightInfo::pay_owners(steps))
	}

	/// How many payout steps fit in `budget` (at most 16 x `MaxPayoutsPerBlock`).
	pub(crate) fn steps_within(budget: Weight) -> u32 {
		let base = Self::pay_weight(0);
		let step = Self::pay_weight(1).saturating_sub(base);
		let Some(room) = budget.checked_sub(&base) else { return 0 };
		let by_time = room.ref_time().checked_div(step.ref_time()).unwrap_or(u64::MAX);
		let by_proof = room.proof_size().checked_div(step.proof_size()).unwrap_or(u64::MAX);
		let cap = T::MaxPayoutsPerBlock::get().saturating_mul(16);
		u32::try_from(by_time.min(by_proof)).unwrap_or(u32::MAX).min(cap)
	}

	/// Pay up to `room` of `epoch`'s nodes their share of the nodes' part, removing their
	/// records. Returns the number of records removed.
	fn pay_nodes(epoch: atoma_support::EpochIndex, payout: &mut PayoutOf<T>, room: u32) -> u32 {
		let mut steps = 0u32;
		for (node, work) in WorkOf::<T>::drain_prefix(epoch).take(room as usize) {
			steps = steps.saturating_add(1);
			let amount = Self::node_reward(payout.nodes_part, &work, payout.totals.node_tokens);
			if amount.is_zero() {
				continue;
			}
			let Some(operator) = T::NodeOperator::convert(node) else { continue };
			let minted = Self::mint(&operator, amount);
			if !minted.is_zero() {
				payout.paid = payout.paid.saturating_add(minted);
				Self::deposit_event(Event::NodeRewarded { epoch, node, operator, amount: minted });
			}
		}
		steps
	}

	/// Pay up to `room` of `epoch`'s model owners their share of the owners' part, removing the
	/// records. Returns the number of records removed.
	fn pay_owners(epoch: atoma_support::EpochIndex, payout: &mut PayoutOf<T>, room: u32) -> u32 {
		let mut steps = 0u32;
		for (model, used) in ModelUse::<T>::drain_prefix(epoch).take(room as usize) {
			steps = steps.saturating_add(1);
			let amount = Self::owner_reward(payout.owners_part, &used, payout.totals.model_tokens);
			if amount.is_zero() {
				continue;
			}
			let Some(owner) = T::ModelOwner::convert(model.clone()) else { continue };
			let minted = Self::mint(&owner, amount);
			if !minted.is_zero() {
				payout.paid = payout.paid.saturating_add(minted);
				ModelEarnings::<T>::mutate(&model, |earned| {
					*earned = earned.saturating_add(minted)
				});
				Self::deposit_event(Event::ModelOwnerRewarded {
					epoch,
					model,
					owner,
					amount: minted,
				});
			}
		}
		steps
	}

	/// `epoch` is paid: the treasury receives the rest of its emission.
	fn finish(epoch: atoma_support::EpochIndex, payout: PayoutOf<T>) {
		let rest = payout.emission.saturating_sub(payout.paid);
		let to_treasury = Self::mint(&T::TreasuryAccount::get(), rest);
		Payouts::<T>::remove(epoch);
		Totals::<T>::remove(epoch);
		Self::deposit_event(Event::EpochPaid { epoch, paid: payout.paid, to_treasury });
	}

	/// Mint `amount` into `who`; returns what was minted (zero when the account cannot take it:
	/// a new account below the existential deposit).
	pub(crate) fn mint(who: &T::AccountId, amount: BalanceOf<T>) -> BalanceOf<T> {
		if amount.is_zero() {
			return amount;
		}
		match T::Currency::mint_into(who, amount) {
			Ok(minted) => {
				TotalEmitted::<T>::mutate(|total| *total = total.saturating_add(minted));
				minted
			},
			Err(_) => Zero::zero(),
		}
	}

	/// The pallet's invariants: payouts only for closed, unpaid epochs; the open epoch's totals
	/// equal the sums of its records; no closed epoch has paid more than its emission.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		let open = OpenEpoch::<T>::get();
		let head = PayoutHead::<T>::get();
		ensure!(head <= open, "the payout head is past the open epoch");
		for (epoch, payout) in Payouts::<T>::iter() {
			ensure!(epoch >= head && epoch < open, "a payout outside the unpaid epochs");
			ensure!(payout.paid <= payout.emission, "an epoch paid more than its emission");
		}
		let mut node_tokens = 0u64;
		for (_, work) in WorkOf::<T>::iter_prefix(open) {
			ensure!(
				!work.forfeited || (work.tokens == 0 && work.fees.is_zero()),
				"forfeited work still counted"
			);
			node_tokens = node_tokens.saturating_add(work.tokens);
		}
		let model_tokens = ModelUse::<T>::iter_prefix_values(open)
			.fold(0u64, |sum, used| sum.saturating_add(used.tokens));
		let totals = Totals::<T>::get(open);
		ensure!(totals.node_tokens == node_tokens, "node totals differ from the records");
		ensure!(totals.model_tokens == model_tokens, "model totals differ from the records");
		for (epoch, _) in WorkOf::<T>::iter_keys() {
			ensure!(epoch >= head && epoch <= open, "work recorded outside the unpaid epochs");
		}
		Ok(())
	}
}

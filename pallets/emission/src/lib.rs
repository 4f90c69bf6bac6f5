#![doc = include_str!("../README.md")]
#![cfg_attr(not(feature = "std"), no_std)]
// No panics and no unchecked arithmetic in runtime code; `expect_used` is denied per module
// because FRAME's macros expand to `expect` calls (see pallet-node-registry).
#![cfg_attr(
	not(test),
	deny(
		clippy::unwrap_used,
		clippy::indexing_slicing,
		clippy::arithmetic_side_effects,
		clippy::panic
	)
)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
mod ledger;
pub mod migrations;
#[cfg(test)]
mod mock;
mod payout;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

/// What the benchmarks need of the rest of the runtime.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Move the node registry to `epoch`.
	fn set_registry_epoch(epoch: atoma_support::EpochIndex);
	/// Make the session's validators `count` accounts.
	fn set_validators(count: u32);
	/// A registered node (the `index`th) whose operator can be paid.
	fn node(index: u32) -> atoma_support::NodeId;
	/// A registered model with an owner.
	fn model() -> atoma_support::ModelId;
}

/// The log target of this pallet.
pub const LOG_TARGET: &str = "runtime::emission";

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{EpochIndex, ModelId, NodeId};
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, Mutate},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::{traits::Convert, Perbill};

	use super::WeightInfo;

	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The chain's currency: emission is minted into it.
		type Currency: Mutate<Self::AccountId>;

		/// The index of the node registry's current epoch: an emission epoch closes when it
		/// moves on.
		type CurrentEpoch: Get<EpochIndex>;

		/// The account that registered an execution node (`None` once it is gone): its share of
		/// the nodes' emission is minted there.
		type NodeOperator: Convert<NodeId, Option<Self::AccountId>>;

		/// The account that registered a model (`None` once it is removed): its share of the
		/// model owners' emission is minted there.
		type ModelOwner: Convert<ModelId, Option<Self::AccountId>>;

		/// The validators of the current session, who share the validators' part equally.
		type Validators: Get<Vec<Self::AccountId>>;

		/// The most validators paid at one boundary (the validator set's bound).
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// Receives what no one earned in an epoch: the nodes' part of an epoch without verified
		/// work, the owners' part without settled use, the rounding remainders, and payments an
		/// account could not take (below the existential deposit of a new account).
		type TreasuryAccount: Get<Self::AccountId>;

		/// Sets the schedule (the council in the runtime).
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Node and model payments made per block at most; an epoch with more recipients is
		/// paid over the following blocks.
		#[pallet::constant]
		type MaxPayoutsPerBlock: Get<u32>;

		type WeightInfo: WeightInfo;

		/// Sets up the other pallets' state the benchmarks need.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: crate::BenchmarkHelper<Self::AccountId>;
	}

	/// How much is minted per epoch and how it is shared. The nodes' part is what the validators'
	/// and model owners' parts leave.
	#[derive(
		Clone,
		PartialEq,
		Eq,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		Debug,
		Default,
	)]
	pub struct Schedule<Balance> {
		/// Minted for the first epoch closed under this schedule.
		pub per_epoch: Balance,
		/// Each later epoch mints this share less than the one before.
		pub decay: Perbill,
		/// The validators' part, shared equally by the session's validators.
		pub validators_share: Perbill,
		/// The model owners' part, shared by the tokens of their models' settled requests.
		pub model_owners_share: Perbill,
	}

	impl<Balance> Schedule<Balance> {
		/// Whether the validators' and model owners' parts leave the nodes a part (or none).
		pub fn is_valid(&self) -> bool {
			self.validators_share
				.deconstruct()
				.checked_add(self.model_owners_share.deconstruct())
				.is_some_and(|sum| sum <= Perbill::one().deconstruct())
		}
	}

	pub type ScheduleOf<T> = Schedule<BalanceOf<T>>;

	/// One node's verified work in an epoch.
	#[derive(
		Clone,
		Copy,
		PartialEq,
		Eq,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		Debug,
		Default,
	)]
	pub struct NodeWork<Balance> {
		/// Tokens of the requests it settled (each request's prompt and output).
		pub tokens: u64,
		/// The fees it earned for them: its emission for the epoch is never more, so work a
		/// user pays next to nothing for (or pays to its own node) cannot draw the whole part.
		pub fees: Balance,
		/// Slashed in the epoch: it earns nothing for it, and later work of the epoch is not
		/// counted.
		pub forfeited: bool,
	}

	/// One model's settled use in an epoch.
	#[derive(
		Clone,
		Copy,
		PartialEq,
		Eq,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		Debug,
		Default,
	)]
	pub struct ModelUsage<Balance> {
		/// Tokens of its settled requests (each counted once, however many nodes ran it).
		pub tokens: u64,
		/// The fees its settled requests paid their nodes: its owner's emission for the epoch is
		/// never more, so an owner buying requests of its own model draws no more than it pays.
		pub fees: Balance,
	}

	pub type ModelUsageOf<T> = ModelUsage<BalanceOf<T>>;

	/// An epoch's running totals.
	#[derive(
		Clone,
		Copy,
		PartialEq,
		Eq,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		Debug,
		Default,
	)]
	pub struct EpochTotals {
		/// The tokens of every node's work that counts (forfeited work taken out).
		pub node_tokens: u64,
		/// The tokens of every settled request, for the model owners' part.
		pub model_tokens: u64,
	}

	/// A closed epoch whose emission is being paid.
	#[derive(
		Clone,
		PartialEq,
		Eq,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		Debug,
		Default,
	)]
	pub struct Payout<Balance> {
		/// The epoch's whole emission: minted in full by the time its payout ends.
		pub emission: Balance,
		/// The nodes' part, shared by `totals.node_tokens`.
		pub nodes_part: Balance,
		/// The model owners' part, shared by `totals.model_tokens`.
		pub owners_part: Balance,
		/// The work the parts are shared by, as it stood when the epoch closed.
		pub totals: EpochTotals,
		/// Minted so far (to validators, nodes and owners).
		pub paid: Balance,
	}

	pub type PayoutOf<T> = Payout<BalanceOf<T>>;

	pub type NodeWorkOf<T> = NodeWork<BalanceOf<T>>;

	/// The schedule: set in genesis, changed only by [`Config::GovernanceOrigin`].
	#[pallet::storage]
	pub type CurrentSchedule<T: Config> = StorageValue<_, ScheduleOf<T>, ValueQuery>;

	/// What the open epoch mints when it closes; less the decay after each close.
	#[pallet::storage]
	pub type NextEmission<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	/// The epoch whose work is being recorded: the node registry's epoch when it was opened.
	#[pallet::storage]
	pub type OpenEpoch<T: Config> = StorageValue<_, EpochIndex, ValueQuery>;

	/// Each node's verified work per epoch; removed as the epoch is paid.
	#[pallet::storage]
	pub type WorkOf<T: Config> =
		StorageDoubleMap<_, Twox64Concat, EpochIndex, Twox64Concat, NodeId, NodeWorkOf<T>>;

	/// Each model's settled use per epoch; removed as the epoch is paid.
	#[pallet::storage]
	pub type ModelUse<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		EpochIndex,
		Blake2_128Concat,
		ModelId,
		ModelUsageOf<T>,
		ValueQuery,
	>;

	/// The running totals of the open epoch (and of closed ones until they are paid).
	#[pallet::storage]
	pub type Totals<T: Config> = StorageMap<_, Twox64Concat, EpochIndex, EpochTotals, ValueQuery>;

	/// Closed epochs still being paid, oldest first from [`PayoutHead`].
	#[pallet::storage]
	pub type Payouts<T: Config> = StorageMap<_, Twox64Concat, EpochIndex, PayoutOf<T>>;

	/// The oldest closed epoch that may still be unpaid; epochs from here to [`OpenEpoch`]
	/// (excluded) are paid in order.
	#[pallet::storage]
	pub type PayoutHead<T: Config> = StorageValue<_, EpochIndex, ValueQuery>;

	/// The emission each model's owner has received for the model, since genesis.
	#[pallet::storage]
	pub type ModelEarnings<T: Config> =
		StorageMap<_, Blake2_128Concat, ModelId, BalanceOf<T>, ValueQuery>;

	/// Everything minted by this pallet, since genesis.
	#[pallet::storage]
	pub type TotalEmitted<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance set the schedule; `per_epoch` is minted at the next close.
		ScheduleSet { schedule: ScheduleOf<T> },
		/// `epoch` closed: `emission` is paid from now on, shared by the work recorded.
		EpochClosed { epoch: EpochIndex, emission: BalanceOf<T>, totals: EpochTotals },
		/// The validators of the session each received `each` for `epoch`.
		ValidatorsRewarded { epoch: EpochIndex, validators: u32, each: BalanceOf<T> },
		/// `node`'s operator received `amount` for the node's verified work in `epoch`.
		NodeRewarded {
			epoch: EpochIndex,
			node: NodeId,
			operator: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// `model`'s owner received `amount` for the model's use in `epoch`.
		ModelOwnerRewarded {
			epoch: EpochIndex,
			model: ModelId,
			owner: T::AccountId,
			amount: BalanceOf<T>,
		},
		/// `epoch` is paid in full; the treasury received what no one earned.
		EpochPaid { epoch: EpochIndex, paid: BalanceOf<T>, to_treasury: BalanceOf<T> },
		/// `node` was slashed in `epoch`: its `tokens` of work there earn nothing.
		WorkForfeited { epoch: EpochIndex, node: NodeId, tokens: u64 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The validators' and model owners' shares add up to more than the whole.
		SharesExceedWhole,
	}

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Minted for the first epoch (nothing is minted while it is zero).
		pub per_epoch: BalanceOf<T>,
		/// Each later epoch mints this share less than the one before.
		pub decay: Perbill,
		/// The validators' part of each epoch's emission.
		pub validators_share: Perbill,
		/// The model owners' part of each epoch's emission.
		pub model_owners_share: Perbill,
	}

	impl<T: Config> GenesisConfig<T> {
		/// The genesis schedule.
		pub fn schedule(&self) -> ScheduleOf<T> {
			Schedule {
				per_epoch: self.per_epoch,
				decay: self.decay,
				validators_share: self.validators_share,
				model_owners_share: self.model_owners_share,
			}
		}

		/// The genesis config of `schedule`.
		pub fn from_schedule(schedule: ScheduleOf<T>) -> Self {
			Self {
				per_epoch: schedule.per_epoch,
				decay: schedule.decay,
				validators_share: schedule.validators_share,
				model_owners_share: schedule.model_owners_share,
			}
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			let schedule = self.schedule();
			// A chain spec with shares over the whole is a mistake to refuse, not to run.
			assert!(schedule.is_valid(), "emission shares exceed the whole");
			NextEmission::<T>::put(schedule.per_epoch);
			CurrentSchedule::<T>::put(schedule);
			OpenEpoch::<T>::put(T::CurrentEpoch::get());
			PayoutHead::<T>::put(T::CurrentEpoch::get());
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Close the open epoch once the node registry's has moved on, then pay up to
		/// `MaxPayoutsPerBlock` nodes and owners of closed epochs.
		fn on_initialize(_now: BlockNumberFor<T>) -> Weight {
			let closed = Self::close_epoch_if_ended();
			let paid = Self::pay_some(T::MaxPayoutsPerBlock::get());
			let closing = match closed {
				Some(validators) => T::WeightInfo::close_epoch(validators),
				None => T::WeightInfo::on_initialize_idle(),
			};
			match paid {
				0 => closing,
				steps => closing.saturating_add(Self::pay_weight(steps)),
			}
		}

		/// Pay more of a backlog with the block's spare weight, so that payouts keep up even
		/// when an epoch has more recipients than its blocks' `MaxPayoutsPerBlock` reach.
		fn on_idle(_now: BlockNumberFor<T>, remaining: Weight) -> Weight {
			let probe = T::DbWeight::get().reads(2);
			if OpenEpoch::<T>::get() == PayoutHead::<T>::get() {
				return probe;
			}
			let steps = Self::steps_within(remaining.saturating_sub(probe));
			match Self::pay_some(steps) {
				0 => probe,
				paid => probe.saturating_add(Self::pay_weight(paid)),
			}
		}

		fn integrity_test() {
			assert!(T::MaxPayoutsPerBlock::get() >= 1, "MaxPayoutsPerBlock must be >= 1");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Set the emission schedule. `schedule.per_epoch` is what the open epoch mints when it
		/// closes, and the decay applies from there.
		///
		/// - `origin`: [`Config::GovernanceOrigin`].
		/// - `schedule`: the validators' and model owners' shares may not add up to more than
		///   the whole (`SharesExceedWhole`).
		///
		/// Emits `ScheduleSet`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::set_schedule())]
		pub fn set_schedule(origin: OriginFor<T>, schedule: ScheduleOf<T>) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(schedule.is_valid(), Error::<T>::SharesExceedWhole);
			CurrentSchedule::<T>::put(&schedule);
			NextEmission::<T>::put(schedule.per_epoch);
			Self::deposit_event(Event::ScheduleSet { schedule });
			Ok(())
		}
	}

	#[pallet::view_functions]
	impl<T: Config> Pallet<T> {
		/// What the open epoch mints when it closes.
		pub fn emission_per_epoch() -> BalanceOf<T> {
			NextEmission::<T>::get()
		}

		/// `node`'s share of the nodes' part of the open epoch if it closed now: its operator's
		/// expected reward for the epoch so far (zero once forfeited).
		pub fn expected_node_reward(node: NodeId) -> BalanceOf<T> {
			Self::expected_reward_of(node)
		}

		/// `model`'s settled tokens in the open epoch, its owner's share of the owners' part if
		/// the epoch closed now, and the emission its owner has received for it so far.
		pub fn model_usage(model: ModelId) -> (u64, BalanceOf<T>, BalanceOf<T>) {
			let (tokens, share) = Self::usage_of(&model);
			(tokens, share, ModelEarnings::<T>::get(&model))
		}
	}
}

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
#[cfg(test)]
mod mock;
mod review;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use alloc::vec::Vec;

	use atoma_support::{ModelId, ReviewedModels};
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, Mutate, MutateHold},
	};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Perbill;

	use super::WeightInfo;

	/// The balance type of [`Config::Currency`].
	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A model validator's record as this runtime stores it.
	pub type ValidatorOf<T> = Validator<BalanceOf<T>, BlockNumberFor<T>>;
	/// An open review as this runtime stores it.
	pub type ReviewOf<T> = Review<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxQuorum,
	>;
	/// The validators who attested a model, first to last.
	pub type AttestersOf<T> =
		BoundedVec<<T as frame_system::Config>::AccountId, <T as Config>::MaxQuorum>;

	/// A model validator.
	#[derive(
		Clone, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen, Debug,
	)]
	pub struct Validator<Balance, BlockNumber> {
		/// The collateral held under `HoldReason::ValidatorBond`: what a slash takes from.
		pub bond: Balance,
		/// `None` while the validator reviews; once it unbonds (or a slash removes it), the
		/// block from which it may withdraw what is left of its bond. Governance can still slash
		/// it until then, for models it attested before.
		pub unbonded_at: Option<BlockNumber>,
		/// Governance condemned a model it attested: its attestations on reviews still open no
		/// longer count toward their quorum, nor earn their fee.
		pub condemned: bool,
	}

	/// The review of a newly registered model.
	#[derive(
		CloneNoBound,
		PartialEqNoBound,
		EqNoBound,
		Encode,
		Decode,
		DecodeWithMemTracking,
		TypeInfo,
		MaxEncodedLen,
		DebugNoBound,
	)]
	#[scale_info(skip_type_params(MaxQuorum))]
	#[allow(clippy::multiple_bound_locations)]
	pub struct Review<
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		Balance: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
		MaxQuorum: Get<u32>,
	> {
		/// The model's owner, who paid the fee.
		pub owner: AccountId,
		/// The fee held on `owner` under `HoldReason::ReviewFee`: the attesters' pay.
		pub fee: Balance,
		/// The last block in which validators may attest; after it, anyone may expire the review.
		pub deadline: BlockNumber,
		/// The validators who attested so far, first to last.
		pub attesters: BoundedVec<AccountId, MaxQuorum>,
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The chain's currency: bonds and review fees are held with the fungible hold traits.
		type Currency: Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's [`HoldReason`].
		type RuntimeHoldReason: From<HoldReason>;

		/// The model registry: what a review attests, approves and removes.
		type Models: ReviewedModels<Self::AccountId>;

		/// Sets the quorum and slashes the attesters of a copied or malicious model.
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Where slashed bonds and the deposits of condemned models go.
		type SlashBeneficiary: Get<Self::AccountId>;

		/// The collateral a model validator bonds.
		#[pallet::constant]
		type ValidatorBond: Get<BalanceOf<Self>>;

		/// The fee a model's owner pays at registration; shared by the attesters who approve it,
		/// returned when the review expires or the model is removed before.
		#[pallet::constant]
		type ReviewFee: Get<BalanceOf<Self>>;

		/// How many blocks a review stays open for attestations.
		#[pallet::constant]
		type ReviewPeriod: Get<BlockNumberFor<Self>>;

		/// How many blocks an unbonding validator's bond stays slashable before it can be
		/// withdrawn: longer than a review, so that an attester cannot leave before governance
		/// has had time to look at what it attested.
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;

		/// How many model validators may review at once.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// The highest quorum governance may set: the most attesters one review keeps.
		#[pallet::constant]
		type MaxQuorum: Get<u32>;

		/// The quorum until governance sets one (genesis may set another).
		#[pallet::constant]
		type DefaultQuorum: Get<u32>;

		/// The share of its bond an attester of a condemned model loses.
		#[pallet::constant]
		type AttesterSlash: Get<Perbill>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// A model validator's bond.
		ValidatorBond,
		/// A model owner's review fee, while the review is open.
		ReviewFee,
	}

	#[pallet::type_value]
	pub fn DefaultQuorum<T: Config>() -> u32 {
		T::DefaultQuorum::get()
	}

	/// Model validators, reviewing or unbonding.
	#[pallet::storage]
	pub type Validators<T: Config> =
		CountedStorageMap<_, Blake2_128Concat, T::AccountId, ValidatorOf<T>>;

	/// How many validators review now (not unbonding); at most `MaxValidators`.
	#[pallet::storage]
	pub type ReviewingCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// How many distinct attestations approve a model.
	#[pallet::storage]
	pub type Quorum<T: Config> = StorageValue<_, u32, ValueQuery, DefaultQuorum<T>>;

	/// Open reviews, by model.
	#[pallet::storage]
	pub type Reviews<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, ReviewOf<T>>;

	/// Who attested each model its review approved, while the model is registered: governance
	/// slashes them if the model turns out copied or malicious.
	#[pallet::storage]
	pub type Attesters<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, AttestersOf<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The account bonded `bond` and reviews models.
		ValidatorRegistered { validator: T::AccountId, bond: BalanceOf<T> },
		/// The validator stopped reviewing; what is left of its bond can be withdrawn from block
		/// `withdrawable_at`.
		ValidatorUnbonding { validator: T::AccountId, withdrawable_at: BlockNumberFor<T> },
		/// The validator withdrew what was left of its bond.
		BondWithdrawn { validator: T::AccountId, amount: BalanceOf<T> },
		/// The model's review opened: validators may attest it until block `deadline`.
		ReviewOpened {
			model: ModelId,
			owner: T::AccountId,
			fee: BalanceOf<T>,
			deadline: BlockNumberFor<T>,
		},
		/// The validator attested the model; it has `attestations` of the `quorum` it needs
		/// (attestations of condemned validators included; they do not count toward it).
		ModelAttested { model: ModelId, validator: T::AccountId, attestations: u32, quorum: u32 },
		/// The review reached its quorum: the model is approved and each of its `attesters` in
		/// good standing earned `paid_each` of the fee (the first also the remainder of the
		/// division).
		ReviewPassed { model: ModelId, attesters: u32, paid_each: BalanceOf<T> },
		/// The review closed without a quorum (it expired, or the model was removed first); the
		/// fee went back to the owner.
		ReviewClosed { model: ModelId, attestations: u32, refunded: BalanceOf<T> },
		/// The review expired before its quorum: the model was removed.
		ReviewExpired { model: ModelId },
		/// Governance condemned the model as copied or malicious: it was removed, its owner's
		/// deposit forfeit, and its `attesters` slashed.
		ModelCondemned { model: ModelId, attesters: u32 },
		/// An attester of a condemned model lost `amount` of its bond and stopped reviewing.
		AttesterSlashed { validator: T::AccountId, model: ModelId, amount: BalanceOf<T> },
		/// Governance set the quorum.
		QuorumSet { quorum: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is a model validator already (reviewing or unbonding).
		AlreadyValidator,
		/// `MaxValidators` validators review already.
		TooManyValidators,
		/// The account's free balance cannot cover `ValidatorBond`.
		InsufficientBond,
		/// The account is not a model validator.
		NotValidator,
		/// The validator is unbonding: it no longer reviews.
		Unbonding,
		/// The validator has not unbonded.
		NotUnbonding,
		/// The unbonding period has not passed yet.
		StillUnbonding,
		/// The model's owner cannot pay `ReviewFee`.
		InsufficientFee,
		/// No review is open for this model.
		NoReview,
		/// The review's deadline has passed.
		ReviewExpired,
		/// The review's deadline has not passed yet.
		ReviewOpen,
		/// The validator attested this model already.
		AlreadyAttested,
		/// The review holds `MaxQuorum` attestations, some of condemned validators that do not
		/// count: it takes no more and can only expire.
		ReviewFull,
		/// A validator cannot attest its own model.
		OwnModel,
		/// The weights root or tokenizer hash attested is not the registered one.
		FactsMismatch,
		/// No review approved this model (or it was removed since): nobody attested it.
		NotAttested,
		/// A quorum must be between 1 and `MaxQuorum`.
		InvalidQuorum,
	}

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Model validators at genesis; each bonds `ValidatorBond` from its genesis balance.
		pub validators: Vec<T::AccountId>,
		/// The quorum; `None` keeps `DefaultQuorum`.
		pub quorum: Option<u32>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		// Genesis may panic: a chain spec that cannot build must not start.
		#[allow(clippy::panic)]
		fn build(&self) {
			if let Some(quorum) = self.quorum {
				assert!(
					quorum >= 1 && quorum <= T::MaxQuorum::get(),
					"the genesis quorum must be between 1 and MaxQuorum"
				);
				Quorum::<T>::put(quorum);
			}
			for validator in &self.validators {
				if let Err(error) = Pallet::<T>::do_register(validator.clone()) {
					panic!("genesis model validator {validator:?}: {error:?}");
				}
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			let quorum = T::DefaultQuorum::get();
			assert!(quorum >= 1 && quorum <= T::MaxQuorum::get(), "DefaultQuorum out of range");
			// An attester must stay slashable after the models it approved began serving.
			assert!(
				T::UnbondingPeriod::get() > T::ReviewPeriod::get(),
				"UnbondingPeriod must be longer than ReviewPeriod"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call(weight(<T as Config>::WeightInfo))]
	impl<T: Config> Pallet<T> {
		/// Become a model validator: bond `ValidatorBond` and review models.
		///
		/// - `origin`: signed by an account that is not a validator (nor unbonding) and can pay
		///   the bond.
		/// - fewer than `MaxValidators` validators review.
		///
		/// Emits `ValidatorRegistered`.
		#[pallet::call_index(0)]
		pub fn register_validator(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register(who)
		}

		/// Stop reviewing. The bond stays held, and slashable for the models the validator
		/// attested, for `UnbondingPeriod` blocks; then `withdraw_bond` releases it. Attestations
		/// already made still count.
		///
		/// - `origin`: signed by a reviewing validator.
		///
		/// Emits `ValidatorUnbonding`.
		#[pallet::call_index(1)]
		pub fn unbond(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unbond(who)
		}

		/// Release what is left of an unbonded validator's bond and forget the validator.
		///
		/// - `origin`: signed by a validator whose unbonding period has passed.
		///
		/// Emits `BondWithdrawn`.
		#[pallet::call_index(2)]
		pub fn withdraw_bond(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_withdraw(who)
		}

		/// Attest a model under review: the validator checked off chain that the weights at its
		/// source hash to `weights_root`, its tokenizer to `tokenizer_hash`, that its licence
		/// allows serving it and that it is not a copy of another model. The attestation that
		/// reaches the quorum approves the model and pays the fee to its attesters.
		///
		/// - `origin`: signed by a reviewing validator that does not own the model and has not
		///   attested it.
		/// - the review is open and its deadline has not passed.
		/// - `weights_root`, `tokenizer_hash`: the registered ones.
		///
		/// Emits `ModelAttested`; at the quorum `ReviewPassed` and the registry's
		/// `ModelApproved`.
		#[pallet::call_index(3)]
		pub fn attest(
			origin: OriginFor<T>,
			model: ModelId,
			weights_root: [u8; 32],
			tokenizer_hash: [u8; 32],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_attest(who, model, weights_root, tokenizer_hash)
		}

		/// Close a review whose deadline passed: without a quorum the model is removed, and its
		/// deposit and review fee go back to its owner; with one (governance lowered the quorum
		/// after the last attestation) the review passes, as `attest` would have passed it.
		///
		/// - `origin`: signed by anyone.
		/// - a review of `model` is open and its deadline has passed.
		///
		/// Emits `ReviewClosed`, the registry's `ModelRemoved`, and `ReviewExpired`; or
		/// `ReviewPassed` and the registry's `ModelApproved`.
		#[pallet::call_index(4)]
		#[pallet::weight(
			<T as Config>::WeightInfo::expire_review()
				.saturating_add(T::Models::remove_weight())
				.max(<T as Config>::WeightInfo::attest())
		)]
		pub fn expire_review(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_expire(model)
		}

		/// Condemn a model as copied or malicious: every validator who attested it (reviewing or
		/// unbonding, or bonded again under the same account since) loses `AttesterSlash` of its
		/// bond to `SlashBeneficiary`, stops reviewing, and its attestations on reviews still
		/// open stop counting; the model is removed and its owner's deposit forfeit to the same
		/// account. A model still under review can be condemned too (its fee goes back to the
		/// owner).
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - the model was attested (approved by its review, or under review with attestations).
		///
		/// Emits the registry's `DepositForfeited` and `ModelRemoved`, `AttesterSlashed` for each
		/// attester, and `ModelCondemned`.
		#[pallet::call_index(5)]
		#[pallet::weight(
			<T as Config>::WeightInfo::slash_attesters(T::MaxQuorum::get())
				.saturating_add(T::Models::remove_weight())
		)]
		pub fn slash_attesters(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::do_slash_attesters(model)
		}

		/// Set how many attestations approve a model; reviews already open use the new quorum
		/// from their next attestation (or from their expiry).
		///
		/// - `origin`: `GovernanceOrigin`.
		/// - `quorum`: between 1 and `MaxQuorum`.
		///
		/// Emits `QuorumSet`.
		#[pallet::call_index(6)]
		pub fn set_quorum(origin: OriginFor<T>, quorum: u32) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(quorum >= 1 && quorum <= T::MaxQuorum::get(), Error::<T>::InvalidQuorum);
			Quorum::<T>::put(quorum);
			Self::deposit_event(Event::QuorumSet { quorum });
			Ok(())
		}
	}
}

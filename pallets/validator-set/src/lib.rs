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
pub mod migrations;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use frame_support::{pallet_prelude::*, traits::Get};
use sp_runtime::Perbill;
use sp_staking::{
	offence::{OffenceDetails, OffenceSeverity, OnOffenceHandler},
	SessionIndex,
};

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_system::pallet_prelude::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// The session pallet's validator ids are accounts: the account a validator is added with is
	/// the one whose session keys (`session.setKeys`) it validates with. The historical session
	/// pallet proves key ownership for equivocation reports; with no stake, a validator's full
	/// identification is `()` ([`UnitIdentification`]).
	#[pallet::config]
	pub trait Config:
		frame_system::Config
		+ pallet_session::Config<ValidatorId = <Self as frame_system::Config>::AccountId>
		+ pallet_session::historical::Config<FullIdentification = ()>
	{
		/// Who adds and removes validators (the council, in the runtime).
		type ManagerOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The fewest validators the set may keep: removals, by the origin or for an offence,
		/// stop here so that the chain keeps producing blocks.
		#[pallet::constant]
		type MinValidators: Get<u32>;

		/// The most validators the set may hold.
		#[pallet::constant]
		type MaxValidators: Get<u32>;

		/// How many past sessions keep their validator-set root in the historical session
		/// pallet: an equivocation older than that can no longer be proven, and the roots do
		/// not pile up forever.
		#[pallet::constant]
		type HistoryDepth: Get<SessionIndex>;

		type WeightInfo: WeightInfo;
	}

	/// The validators of the next planned session, in the order they were added. The session
	/// pallet takes them at a session boundary, and they start validating one session later
	/// (those without session keys are left out by the session pallet).
	#[pallet::storage]
	pub type Validators<T: Config> =
		StorageValue<_, BoundedVec<T::AccountId, T::MaxValidators>, ValueQuery>;

	/// Whether [`Validators`] changed since the session pallet last took it.
	#[pallet::storage]
	pub type PlanChanged<T: Config> = StorageValue<_, bool, ValueQuery>;

	/// Nothing to configure: the genesis set is the session pallet's, whose genesis keys name the
	/// validators (a chain spec lists them once, in `session.keys`). The session pallet must come
	/// before this one in the runtime, so that its genesis is built first.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		// Genesis may panic: a chain spec that cannot build must not start.
		#[allow(clippy::panic)]
		fn build(&self) {
			let active = pallet_session::Validators::<T>::get();
			// A genesis without validators (a default config) plans none; one with too few
			// could not keep the set's minimum.
			if active.is_empty() {
				return;
			}
			assert!(
				active.len() as u32 >= T::MinValidators::get(),
				"fewer genesis validators (session keys) than MinValidators"
			);
			let planned = BoundedVec::<_, T::MaxValidators>::try_from(active)
				.unwrap_or_else(|_| panic!("more genesis validators than MaxValidators"));
			Validators::<T>::put(planned);
			// The session pallet's genesis asked before this set existed, so the historical
			// pallet stored no root for sessions 0 and 1: store them now, so that an
			// equivocation in those sessions can be proven after they end.
			type Noted<T> = pallet_session::historical::NoteHistoricalRoot<T, Pallet<T>>;
			for session in [0, 1] {
				let _ =
					<Noted<T> as pallet_session::SessionManager<_>>::new_session_genesis(session);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `validator` joins the set at the next session boundary and starts validating one
		/// session after it.
		ValidatorAdded { validator: T::AccountId },
		/// `validator` leaves the set at the next session boundary.
		ValidatorRemoved { validator: T::AccountId },
		/// `validator` was reported for an offence in `session` (e.g. a BABE or GRANDPA
		/// equivocation): disabled at once if still active, and out of the set at the next
		/// session boundary.
		OffenderRemoved { validator: T::AccountId, session: SessionIndex },
		/// `validator` was reported for an offence in `session` but stays in the set, which is
		/// at `MinValidators` (or no longer holds it); it was still disabled if active.
		OffenderKept { validator: T::AccountId, session: SessionIndex },
		/// The session pallet took the changed set for session `session`.
		ValidatorSetPlanned { session: SessionIndex, validators: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is in the set already.
		AlreadyValidator,
		/// The account is not in the set.
		NotValidator,
		/// The set holds `MaxValidators`.
		TooManyValidators,
		/// The set holds `MinValidators`: removing one would leave too few.
		TooFewValidators,
		/// The account has no session keys (`session.setKeys`): it could not validate.
		NoSessionKeys,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Add `validator` to the set (`ManagerOrigin`). It must have set its session keys; it
		/// joins at the next session boundary and validates from the session after.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::add_validator())]
		pub fn add_validator(origin: OriginFor<T>, validator: T::AccountId) -> DispatchResult {
			T::ManagerOrigin::ensure_origin(origin)?;
			ensure!(
				pallet_session::Pallet::<T>::load_keys(&validator).is_some(),
				Error::<T>::NoSessionKeys
			);
			Validators::<T>::try_mutate(|set| {
				ensure!(!set.contains(&validator), Error::<T>::AlreadyValidator);
				set.try_push(validator.clone()).map_err(|_| Error::<T>::TooManyValidators)
			})?;
			PlanChanged::<T>::put(true);
			Self::deposit_event(Event::ValidatorAdded { validator });
			Ok(())
		}

		/// Remove `validator` from the set (`ManagerOrigin`); it stops validating at the next
		/// session boundary but one. The set keeps at least `MinValidators`.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::remove_validator())]
		pub fn remove_validator(origin: OriginFor<T>, validator: T::AccountId) -> DispatchResult {
			T::ManagerOrigin::ensure_origin(origin)?;
			Validators::<T>::try_mutate(|set| {
				let at =
					set.iter().position(|v| v == &validator).ok_or(Error::<T>::NotValidator)?;
				ensure!(set.len() as u32 > T::MinValidators::get(), Error::<T>::TooFewValidators);
				set.remove(at);
				Ok::<_, Error<T>>(())
			})?;
			PlanChanged::<T>::put(true);
			Self::deposit_event(Event::ValidatorRemoved { validator });
			Ok(())
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MinValidators::get() >= 1, "MinValidators must be >= 1");
			assert!(T::MinValidators::get() <= T::MaxValidators::get(), "Min > MaxValidators");
			assert!(T::HistoryDepth::get() >= 1, "HistoryDepth must be >= 1");
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Remove an offender from the planned set (if it is there and the set is above
	/// `MinValidators`), and disable it for the rest of this session if it is active.
	fn punish(validator: T::AccountId, fraction: Perbill, session: SessionIndex) {
		// BABE refuses blocks of a disabled author and GRANDPA ignores its votes; the session
		// pallet's disabling strategy caps how many are disabled at once.
		pallet_session::Pallet::<T>::report_offence(validator.clone(), OffenceSeverity(fraction));
		let removed = Validators::<T>::mutate(|set| {
			let at = set.iter().position(|v| v == &validator)?;
			(set.len() as u32 > T::MinValidators::get()).then(|| set.remove(at))
		});
		if removed.is_some() {
			PlanChanged::<T>::put(true);
			Self::deposit_event(Event::OffenderRemoved { validator, session });
		} else {
			Self::deposit_event(Event::OffenderKept { validator, session });
		}
	}
}

/// The session pallet asks at each boundary: a changed set is handed over, and historical
/// roots older than `HistoryDepth` sessions are pruned.
impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		pallet_session::historical::Pallet::<T>::prune_up_to(
			new_index.saturating_sub(T::HistoryDepth::get()),
		);
		if !PlanChanged::<T>::get() {
			return None;
		}
		let validators = Validators::<T>::get().into_inner();
		// The session pallet leaves out validators without keys (purged since they were added):
		// a plan none of whose validators has keys would leave no authority. Keep the current
		// set, and the plan, until one has keys again.
		if !validators.iter().any(|v| pallet_session::Pallet::<T>::load_keys(v).is_some()) {
			log::warn!(target: "runtime::validator-set", "no planned validator has session keys");
			return None;
		}
		PlanChanged::<T>::kill();
		Self::deposit_event(Event::ValidatorSetPlanned {
			session: new_index,
			validators: validators.len() as u32,
		});
		Some(validators)
	}

	fn new_session_genesis(_: SessionIndex) -> Option<Vec<T::AccountId>> {
		// Empty when the session pallet's genesis asks (it then takes its genesis keys'
		// accounts); this pallet's genesis plans the same set and asks again for the roots.
		let validators = Validators::<T>::get();
		(!validators.is_empty()).then(|| validators.into_inner())
	}

	fn start_session(_: SessionIndex) {}

	fn end_session(_: SessionIndex) {}
}

/// Validators have no exposure (no staking): their full identification is the unit.
impl<T: Config> pallet_session::historical::SessionManager<T::AccountId, ()> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}

	fn new_session_genesis(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session_genesis(new_index)
			.map(|set| set.into_iter().map(|v| (v, ())).collect())
	}

	fn start_session(_: SessionIndex) {}

	fn end_session(_: SessionIndex) {}
}

/// The identification of a validator in the historical session pallet: every account is
/// identified by `()` (there is no stake to expose).
pub struct UnitIdentification;

impl<AccountId> sp_runtime::traits::Convert<AccountId, Option<()>> for UnitIdentification {
	fn convert(_: AccountId) -> Option<()> {
		Some(())
	}
}

/// The offences pallet's handler: each reported offender is disabled and removed.
impl<T: Config> OnOffenceHandler<T::AccountId, (T::AccountId, ()), Weight> for Pallet<T> {
	fn on_offence(
		offenders: &[OffenceDetails<T::AccountId, (T::AccountId, ())>],
		slash_fraction: &[Perbill],
		session: SessionIndex,
	) -> Weight {
		for (details, fraction) in offenders.iter().zip(slash_fraction.iter()) {
			Self::punish(details.offender.0.clone(), *fraction, session);
		}
		<T as Config>::WeightInfo::on_offence().saturating_mul(offenders.len() as u64)
	}
}

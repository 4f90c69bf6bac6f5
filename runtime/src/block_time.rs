//! The chain's slot duration, fixed by its genesis (`blockTime.slotDuration` in a chain spec).
//!
//! BABE's slot duration is twice the timestamp pallet's `MinimumPeriod`, which is usually a
//! compile-time constant. Here it is read from storage that only the genesis writes, so that a
//! network picks its block time in its chain spec and one runtime serves them all: the public
//! presets keep 3 s; a local network may run faster to measure what the block time costs
//! (`scripts/bench-latency.sh --slot-ms`). Every node reads the slot duration once, from BABE's
//! runtime API, when it starts; nothing can change it afterwards (no call writes it), so the
//! value a chain started with is the value it keeps.
//!
//! Counts of blocks (request timeouts, windows, epochs) stay counts of blocks: a faster slot
//! makes each of them shorter in time.

pub use pallet::*;

#[frame_support::pallet]
pub mod pallet {
	use frame_support::pallet_prelude::*;

	/// The slot duration of the public presets, in milliseconds.
	pub const DEFAULT_SLOT_DURATION: u64 = crate::time::MILLI_SECS_PER_BLOCK;
	/// The shortest slot a genesis may set: below it, a block's import and the off-chain
	/// workers' runs no longer fit in a slot on modest machines.
	pub const MIN_SLOT_DURATION: u64 = 500;

	#[pallet::config]
	pub trait Config: frame_system::Config {}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::type_value]
	pub fn DefaultSlotDuration() -> u64 {
		DEFAULT_SLOT_DURATION
	}

	/// BABE's slot duration in milliseconds, written once by the genesis.
	#[pallet::storage]
	pub type SlotDuration<T> = StorageValue<_, u64, ValueQuery, DefaultSlotDuration>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Milliseconds; even, and at least `MIN_SLOT_DURATION`. Zero keeps the default.
		pub slot_duration: u64,
		#[serde(skip)]
		pub _config: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if self.slot_duration == 0 {
				return;
			}
			// A chain spec with an unusable slot must not produce a genesis at all.
			assert!(
				self.slot_duration >= MIN_SLOT_DURATION && self.slot_duration.is_multiple_of(2),
				"blockTime.slotDuration must be even and at least {MIN_SLOT_DURATION} ms"
			);
			SlotDuration::<T>::put(self.slot_duration);
		}
	}
}

/// The timestamp pallet's `MinimumPeriod`: half the slot, so BABE's slot duration is the
/// genesis's.
pub struct MinimumPeriod<T>(core::marker::PhantomData<T>);

impl<T: Config> frame_support::traits::Get<u64> for MinimumPeriod<T> {
	fn get() -> u64 {
		SlotDuration::<T>::get() / 2
	}
}

/// BABE's `ExpectedBlockTime`: one slot.
pub struct ExpectedBlockTime<T>(core::marker::PhantomData<T>);

impl<T: Config> frame_support::traits::Get<u64> for ExpectedBlockTime<T> {
	fn get() -> u64 {
		SlotDuration::<T>::get()
	}
}

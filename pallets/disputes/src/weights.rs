//! Weights for `pallet_disputes`.
//!
//! NOT YET MEASURED by `frame-omni-bencher` (it was not installed on the machine this pallet was
//! written on): these are upper estimates composed from the measured weights of the same work in
//! `pallet_inference` (docs/benchmarks.md, 2026-11-22, compiled wasm):
//! - a slash with its payouts and reservation release: `on_initialize_deadlines` slashes and
//!   redraws 8 late nodes in 1.22 ms, about 152 µs each; taken as 200 µs;
//! - concluding the request (escrow release, reservations, result): a settling commitment,
//!   1.31 ms;
//! - a vote's signature check and lookups: `authorize_submit_commitment` without its VRF
//!   verification, taken as 400 µs;
//! - releasing an arbiter's reservation: 30 µs;
//! - queueing a cheater for its other jobs to be redrawn: one read and one write.
//!
//! Each function is sized for this runtime's worst case: `MaxParties` = 9 parties and
//! `MaxArbiters` = 21 arbiters slashed in one resolution. The benchmarks in `benchmarking.rs`
//! exercise exactly these cases (and run as tests); `scripts/benchmark-pallets.sh disputes`
//! replaces this file with measured numbers.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_disputes`.
pub trait WeightInfo {
	fn open_dispute() -> Weight;
	fn submit_vote() -> Weight;
	fn authorize_submit_vote() -> Weight;
	fn resolve_dispute() -> Weight;
	fn on_initialize(t: u32, ) -> Weight;
	fn submit_bisection() -> Weight;
	fn authorize_submit_bisection() -> Weight;
	fn submit_output() -> Weight;
	fn authorize_submit_output() -> Weight;
}

/// Checking a published output of `MaxOutputLen` = 32 KiB: decoding it and hashing it once for
/// its digest and once per quorum leaf (9), about 1 ms of blake2 in wasm.
const OUTPUT_CHECK: u64 = 1_500_000_000;

/// One resolution at the worst case: the request's conclusion, 30 slashes, 21 releases.
const RESOLUTION: u64 = 1_310_000_000 + 30 * 200_000_000 + 21 * 30_000_000;
/// Each slash also queues the cheater for its other jobs to be redrawn (1 read, 1 write).
const RESOLUTION_READS: u64 = 4 + 30 * 7 + 21;
const RESOLUTION_WRITES: u64 = 4 + 30 * 7 + 21 + 23;

/// Weights for `pallet_disputes` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Disputes::Disputes` (r:1 w:1), `Disputes::Timers` (r:1 w:1)
	fn open_dispute() -> Weight {
		Weight::from_parts(60_000_000, 8_000)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// The reveal that completes the round and resolves the dispute.
	fn submit_vote() -> Weight {
		Weight::from_parts(400_000_000 + RESOLUTION, 120_000)
			.saturating_add(T::DbWeight::get().reads(3_u64 + 21 + RESOLUTION_READS))
			.saturating_add(T::DbWeight::get().writes(1_u64 + RESOLUTION_WRITES))
	}
	fn authorize_submit_vote() -> Weight {
		Weight::from_parts(400_000_000, 12_000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
	}
	fn resolve_dispute() -> Weight {
		Weight::from_parts(RESOLUTION, 120_000)
			.saturating_add(T::DbWeight::get().reads(RESOLUTION_READS))
			.saturating_add(T::DbWeight::get().writes(RESOLUTION_WRITES))
	}
	/// Per timer: the worst of a draw (a full subscriber scan, 12 reservations) and a reveal
	/// window that closes with every arbiter late, then resolves.
	fn on_initialize(t: u32, ) -> Weight {
		Weight::from_parts(5_000_000, 4_000)
			.saturating_add(Weight::from_parts(RESOLUTION + 12 * 200_000_000, 120_000).saturating_mul(t.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().reads((RESOLUTION_READS + 60).saturating_mul(t.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().writes((RESOLUTION_WRITES + 60).saturating_mul(t.into())))
	}
	/// An answer that completes the turn: two node hashes, the next turn's timer.
	fn submit_bisection() -> Weight {
		Weight::from_parts(450_000_000, 12_000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	fn authorize_submit_bisection() -> Weight {
		Weight::from_parts(400_000_000, 12_000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
	}
	/// The largest output, checked against every survivor's commitment, then the resolution.
	fn submit_output() -> Weight {
		Weight::from_parts(400_000_000 + OUTPUT_CHECK + RESOLUTION, 160_000)
			.saturating_add(T::DbWeight::get().reads(3_u64 + 21 + RESOLUTION_READS))
			.saturating_add(T::DbWeight::get().writes(1_u64 + RESOLUTION_WRITES))
	}
	/// The signature over the largest payload.
	fn authorize_submit_output() -> Weight {
		Weight::from_parts(500_000_000, 45_000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
	}
}

/// The same weights with RocksDB's database weights, for tests and mocks.
impl WeightInfo for () {
	fn open_dispute() -> Weight {
		Weight::from_parts(60_000_000, 8_000)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn submit_vote() -> Weight {
		Weight::from_parts(400_000_000 + RESOLUTION, 120_000)
			.saturating_add(RocksDbWeight::get().reads(3_u64 + 21 + RESOLUTION_READS))
			.saturating_add(RocksDbWeight::get().writes(1_u64 + RESOLUTION_WRITES))
	}
	fn authorize_submit_vote() -> Weight {
		Weight::from_parts(400_000_000, 12_000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
	}
	fn resolve_dispute() -> Weight {
		Weight::from_parts(RESOLUTION, 120_000)
			.saturating_add(RocksDbWeight::get().reads(RESOLUTION_READS))
			.saturating_add(RocksDbWeight::get().writes(RESOLUTION_WRITES))
	}
	fn on_initialize(t: u32, ) -> Weight {
		Weight::from_parts(5_000_000, 4_000)
			.saturating_add(Weight::from_parts(RESOLUTION + 12 * 200_000_000, 120_000).saturating_mul(t.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().reads((RESOLUTION_READS + 60).saturating_mul(t.into())))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
			.saturating_add(RocksDbWeight::get().writes((RESOLUTION_WRITES + 60).saturating_mul(t.into())))
	}
	/// An answer that completes the turn: two node hashes, the next turn's timer.
	fn submit_bisection() -> Weight {
		Weight::from_parts(450_000_000, 12_000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn authorize_submit_bisection() -> Weight {
		Weight::from_parts(400_000_000, 12_000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
	}
	/// The largest output, checked against every survivor's commitment, then the resolution.
	fn submit_output() -> Weight {
		Weight::from_parts(400_000_000 + OUTPUT_CHECK + RESOLUTION, 160_000)
			.saturating_add(RocksDbWeight::get().reads(3_u64 + 21 + RESOLUTION_READS))
			.saturating_add(RocksDbWeight::get().writes(1_u64 + RESOLUTION_WRITES))
	}
	/// The signature over the largest payload.
	fn authorize_submit_output() -> Weight {
		Weight::from_parts(500_000_000, 45_000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
	}
}

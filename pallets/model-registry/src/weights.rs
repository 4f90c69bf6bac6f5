//! Placeholder until `scripts/benchmark-pallets.sh` regenerates this file.
#![allow(unused_parens, unused_imports, missing_docs)]
use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

pub trait WeightInfo {
	fn register_model() -> Weight;
	fn approve_model() -> Weight;
	fn remove_model(s: u32) -> Weight;
	fn subscribe() -> Weight;
	fn unsubscribe() -> Weight;
	fn report_weights_mismatch() -> Weight;
	fn unsubscribe_all(s: u32) -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_model() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn approve_model() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn remove_model(s: u32) -> Weight {
		Weight::from_parts(100_000_000, 20_000).saturating_mul(s.max(1) as u64)
	}
	fn subscribe() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn unsubscribe() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn report_weights_mismatch() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn unsubscribe_all(s: u32) -> Weight {
		Weight::from_parts(100_000_000, 20_000).saturating_mul(s.max(1) as u64)
	}
}
impl WeightInfo for () {
	fn register_model() -> Weight {
		Weight::zero()
	}
	fn approve_model() -> Weight {
		Weight::zero()
	}
	fn remove_model(_s: u32) -> Weight {
		Weight::zero()
	}
	fn subscribe() -> Weight {
		Weight::zero()
	}
	fn unsubscribe() -> Weight {
		Weight::zero()
	}
	fn report_weights_mismatch() -> Weight {
		Weight::zero()
	}
	fn unsubscribe_all(_s: u32) -> Weight {
		Weight::zero()
	}
}

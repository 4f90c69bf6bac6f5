//! Placeholder until `scripts/benchmark-pallets.sh` regenerates this file.
#![allow(unused_parens, unused_imports, missing_docs)]
use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

pub trait WeightInfo {
	fn submit_request() -> Weight;
	fn submit_commitment() -> Weight;
	fn authorize_submit_commitment() -> Weight;
	fn publish_output() -> Weight;
	fn on_initialize_selection(s: u32) -> Weight;
	fn on_initialize_deadlines(d: u32) -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn submit_request() -> Weight {
		Weight::from_parts(200_000_000, 50_000)
	}
	fn submit_commitment() -> Weight {
		Weight::from_parts(400_000_000, 100_000)
	}
	fn authorize_submit_commitment() -> Weight {
		Weight::from_parts(200_000_000, 50_000)
	}
	fn publish_output() -> Weight {
		Weight::from_parts(200_000_000, 50_000)
	}
	fn on_initialize_selection(s: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_000)
			.saturating_add(Weight::from_parts(300_000_000, 100_000).saturating_mul(s as u64))
	}
	fn on_initialize_deadlines(d: u32) -> Weight {
		Weight::from_parts(5_000_000, 1_000)
			.saturating_add(Weight::from_parts(400_000_000, 100_000).saturating_mul(d as u64))
	}
}
impl WeightInfo for () {
	fn submit_request() -> Weight {
		Weight::zero()
	}
	fn submit_commitment() -> Weight {
		Weight::zero()
	}
	fn authorize_submit_commitment() -> Weight {
		Weight::zero()
	}
	fn publish_output() -> Weight {
		Weight::zero()
	}
	fn on_initialize_selection(_s: u32) -> Weight {
		Weight::zero()
	}
	fn on_initialize_deadlines(_d: u32) -> Weight {
		Weight::zero()
	}
}

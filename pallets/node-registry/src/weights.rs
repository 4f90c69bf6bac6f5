//! Placeholder until `scripts/benchmark-pallets.sh` regenerates this file.
#![allow(unused_parens, unused_imports, missing_docs)]
use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

pub trait WeightInfo {
	fn register_node() -> Weight;
	fn add_collateral() -> Weight;
	fn rotate_worker_key() -> Weight;
	fn set_url() -> Weight;
	fn bid_price() -> Weight;
	fn deregister_node() -> Weight;
	fn withdraw_node() -> Weight;
	fn claim_fees() -> Weight;
	fn register_echelon() -> Weight;
	fn update_echelon() -> Weight;
	fn set_epoch_length() -> Weight;
	fn on_epoch_boundary(e: u32, b: u32) -> Weight;
}

pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_node() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn add_collateral() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn rotate_worker_key() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn set_url() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn bid_price() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn deregister_node() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn withdraw_node() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn claim_fees() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn register_echelon() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn update_echelon() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn set_epoch_length() -> Weight {
		Weight::from_parts(100_000_000, 20_000)
	}
	fn on_epoch_boundary(e: u32, b: u32) -> Weight {
		Weight::from_parts(100_000_000, 20_000)
			.saturating_mul((e as u64).saturating_mul(b as u64).max(1))
	}
}
impl WeightInfo for () {
	fn register_node() -> Weight {
		Weight::zero()
	}
	fn add_collateral() -> Weight {
		Weight::zero()
	}
	fn rotate_worker_key() -> Weight {
		Weight::zero()
	}
	fn set_url() -> Weight {
		Weight::zero()
	}
	fn bid_price() -> Weight {
		Weight::zero()
	}
	fn deregister_node() -> Weight {
		Weight::zero()
	}
	fn withdraw_node() -> Weight {
		Weight::zero()
	}
	fn claim_fees() -> Weight {
		Weight::zero()
	}
	fn register_echelon() -> Weight {
		Weight::zero()
	}
	fn update_echelon() -> Weight {
		Weight::zero()
	}
	fn set_epoch_length() -> Weight {
		Weight::zero()
	}
	fn on_epoch_boundary(_e: u32, _b: u32) -> Weight {
		Weight::zero()
	}
}

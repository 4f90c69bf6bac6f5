//! Benchmarks (FRAME v2), one per call plus the epoch boundary, each in its worst case.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::vec::Vec;

use atoma_support::{EchelonId, NodeId, NodeRegistry};
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, EnsureOrigin, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, Pallet as Registry};

/// State builders shared by the benchmarks and by other pallets' benchmarks (through
/// [`NodeRegistry::benchmark_node`]).
pub mod setup {
	use super::*;
	use atoma_support::WorkerPublic;
	use codec::Encode;
	use frame_support::traits::fungible::Inspect;

	/// A worker key unique to `seed`.
	pub fn worker_key(seed: impl Encode) -> WorkerPublic {
		use sp_runtime::traits::{BlakeTwo256, Hash};
		WorkerPublic::from_raw(BlakeTwo256::hash(&(b"bench-worker", seed).encode()).0)
	}

	/// A URL of the longest allowed length.
	pub fn longest_url<T: Config>() -> Vec<u8> {
		let mut url = b"https://".to_vec();
		url.resize(T::MaxUrlLen::get() as usize, b'a');
		url
	}

	/// Give `who` enough to post collateral many times over.
	pub fn fund<T: Config>(who: &T::AccountId) {
		let plenty = T::MinCollateral::get()
			.saturating_mul(1_000u32.into())
			.saturating_add(T::Currency::minimum_balance());
		T::Currency::set_balance(who, plenty);
	}

	/// Register an echelon with the longest device name.
	pub fn new_echelon<T: Config>() -> EchelonId {
		let device = alloc::vec![b'd'; T::MaxDeviceNameLen::get() as usize];
		let spec = Registry::<T>::echelon_spec(device, 8, 81_920, [7; 32])
			.unwrap_or_else(|e| panic!("benchmark echelon: {e:?}"));
		Registry::<T>::do_register_echelon(spec)
			.unwrap_or_else(|e| panic!("benchmark echelon: {e:?}"))
	}

	/// Register a node of `operator` in `echelon` with the minimum collateral.
	pub fn node<T: Config>(operator: &T::AccountId, echelon: EchelonId, seed: u32) -> NodeId {
		fund::<T>(operator);
		Registry::<T>::do_register_node(
			operator.clone(),
			echelon,
			worker_key((operator, seed)),
			longest_url::<T>(),
			T::MinCollateral::get(),
			1_000u32.into(),
		)
		.unwrap_or_else(|e| panic!("benchmark node: {e:?}"))
	}

	/// Fill `echelon` with nodes of other operators until `count` nodes bid in it.
	pub fn fill_echelon<T: Config>(echelon: EchelonId, count: u32) {
		let have = EchelonBids::<T>::get(echelon).len() as u32;
		for i in have..count {
			let operator: T::AccountId = account("filler", i, 0);
			node::<T>(&operator, echelon, i);
		}
	}

	/// A node of `operator` that may be selected now: registered in `echelon` (or a new echelon)
	/// with some collateral to spare, and active from the current epoch.
	pub fn eligible_node<T: Config>(operator: &T::AccountId, echelon: Option<EchelonId>) -> NodeId {
		let echelon = echelon.unwrap_or_else(new_echelon::<T>);
		let seed = NextNodeId::<T>::get() as u32;
		let node = node::<T>(operator, echelon, seed);
		Registry::<T>::do_add_collateral(operator.clone(), node, T::MinCollateral::get())
			.unwrap_or_else(|e| panic!("benchmark collateral: {e:?}"));
		Nodes::<T>::mutate(node, |record| {
			if let Some(record) = record {
				record.active_from = CurrentEpoch::<T>::get();
			}
		});
		// Its worker runs the echelon's pinned profile: eligibility reads the declaration too.
		if let Some(profile) = Echelons::<T>::get(echelon).and_then(|e| e.pinned_profile()) {
			NodeProfiles::<T>::insert(node, (profile, frame_system::Pallet::<T>::block_number()));
		}
		if EchelonPrices::<T>::get(echelon).is_none() {
			EchelonPrices::<T>::insert(echelon, BalanceOf::<T>::from(1_000u32));
		}
		node
	}

	/// A fresh eligible node with a keystore worker key and an earlier declaration, and
	/// a newer declaration of profile `[9; 32]` signed by that key.
	pub fn signed_declaration<T: Config>() -> (ProfileDeclarationOf<T>, sp_core::sr25519::Signature)
	{
		use atoma_support::worker_key::KEY_TYPE;
		let operator: T::AccountId = account("operator", 0, 0);
		let node = eligible_node::<T>(&operator, None);
		let key = sp_io::crypto::sr25519_generate(KEY_TYPE, None);
		Nodes::<T>::mutate(node, |record| {
			if let Some(record) = record {
				record.worker_key = key;
			}
		});
		frame_system::Pallet::<T>::set_block_number(2u32.into());
		NodeProfiles::<T>::insert(
			node,
			([8; 32], frame_system::pallet_prelude::BlockNumberFor::<T>::from(1u32)),
		);
		let declaration =
			crate::types::ProfileDeclaration { node, profile: [9; 32], at: 2u32.into() };
		let signature = sp_io::crypto::sr25519_sign(
			KEY_TYPE,
			&key,
			&declaration.signing_bytes(&Registry::<T>::chain_id()),
		)
		.unwrap_or_else(|| panic!("the keystore signs"));
		(declaration, signature)
	}

	/// Move to the next epoch.
	pub fn next_epoch<T: Config>() {
		let now = NextEpochStart::<T>::get();
		frame_system::Pallet::<T>::set_block_number(now);
		Registry::<T>::start_next_epoch(now);
	}
}

#[benchmarks]
mod benchmarks {
	use super::{setup::*, *};

	#[benchmark]
	fn register_node() {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, T::MaxNodesPerEchelon::get().saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		fund::<T>(&operator);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(operator.clone()),
			echelon,
			worker_key(u32::MAX),
			longest_url::<T>(),
			T::MinCollateral::get(),
			5u32.into(),
		);

		assert_eq!(EchelonBids::<T>::get(echelon).len() as u32, T::MaxNodesPerEchelon::get());
	}

	#[benchmark]
	fn add_collateral() {
		let operator: T::AccountId = whitelisted_caller();
		let node = node::<T>(&operator, new_echelon::<T>(), 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, T::MinCollateral::get());

		let expected = T::MinCollateral::get().saturating_mul(2u32.into());
		assert_eq!(Nodes::<T>::get(node).map(|n| n.collateral), Some(expected));
	}

	#[benchmark]
	fn rotate_worker_key() {
		let operator: T::AccountId = whitelisted_caller();
		let node = node::<T>(&operator, new_echelon::<T>(), 0);
		let new_key = worker_key(u32::MAX);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, new_key);

		assert_eq!(NodeByWorkerKey::<T>::get(new_key), Some(node));
	}

	#[benchmark]
	fn set_url() {
		let operator: T::AccountId = whitelisted_caller();
		let node = node::<T>(&operator, new_echelon::<T>(), 0);
		let mut url = longest_url::<T>();
		if let Some(last) = url.last_mut() {
			*last = b'b';
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, url.clone());

		assert_eq!(Nodes::<T>::get(node).map(|n| n.url.to_vec()), Some(url));
	}

	#[benchmark]
	fn bid_price() {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, T::MaxNodesPerEchelon::get().saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		// Last in the bid list: the search visits every bid.
		let node = node::<T>(&operator, echelon, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, 42u32.into());

		assert_eq!(Registry::<T>::standing_bid(node), Some(42u32.into()));
	}

	#[benchmark]
	fn deregister_node() {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, T::MaxNodesPerEchelon::get().saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		let node = node::<T>(&operator, echelon, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node);

		assert!(Nodes::<T>::get(node).is_some_and(|n| n.status != crate::NodeStatus::Active));
	}

	#[benchmark]
	fn withdraw_node() {
		let operator: T::AccountId = whitelisted_caller();
		let node = eligible_node::<T>(&operator, None);
		let payer: T::AccountId = account("payer", 0, 0);
		fund::<T>(&payer);
		Registry::<T>::accrue_fee(node, &payer, T::MinCollateral::get())
			.unwrap_or_else(|e| panic!("accrue: {e:?}"));
		Registry::<T>::do_deregister_node(operator.clone(), node)
			.unwrap_or_else(|e| panic!("deregister: {e:?}"));
		next_epoch::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node);

		assert!(Nodes::<T>::get(node).is_none());
	}

	#[benchmark]
	fn claim_fees() {
		let operator: T::AccountId = whitelisted_caller();
		let node = eligible_node::<T>(&operator, None);
		let payer: T::AccountId = account("payer", 0, 0);
		fund::<T>(&payer);
		Registry::<T>::accrue_fee(node, &payer, T::MinCollateral::get())
			.unwrap_or_else(|e| panic!("accrue: {e:?}"));
		next_epoch::<T>();

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node);

		assert!(Registry::<T>::claimable_fees(node) == 0u32.into());
	}

	#[benchmark]
	fn register_echelon() -> Result<(), BenchmarkError> {
		while Echelons::<T>::count() < T::MaxEchelons::get().saturating_sub(1) {
			new_echelon::<T>();
		}
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let device = alloc::vec![b'x'; T::MaxDeviceNameLen::get() as usize];

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, device, 8, 81_920, [1; 32]);

		assert_eq!(Echelons::<T>::count(), T::MaxEchelons::get());
		Ok(())
	}

	#[benchmark]
	fn update_echelon() -> Result<(), BenchmarkError> {
		let echelon = new_echelon::<T>();
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let device = alloc::vec![b'x'; T::MaxDeviceNameLen::get() as usize];

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, echelon, device, 4, 40_960, [2; 32]);

		assert_eq!(Echelons::<T>::get(echelon).map(|e| e.device_count), Some(4));
		Ok(())
	}

	#[benchmark]
	fn set_epoch_length() -> Result<(), BenchmarkError> {
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let blocks = T::MinEpochLength::get().saturating_add(1u32.into());

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, blocks);

		assert_eq!(EpochLength::<T>::get(), blocks);
		Ok(())
	}

	/// Setting an echelon's Cross-Validation economics.
	#[benchmark]
	fn set_echelon_security() -> Result<(), BenchmarkError> {
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let echelon = new_echelon::<T>();

		#[extrinsic_call]
		_(
			origin as T::RuntimeOrigin,
			echelon,
			1_000u32.into(),
			sp_runtime::Perbill::from_percent(50),
		);

		assert!(EchelonSecurity::<T>::contains_key(echelon));
		Ok(())
	}

	/// A node declares its worker's profile: signature check, the node's and its echelon's
	/// records, a replaced declaration.
	#[benchmark]
	fn declare_profile() {
		let (declaration, signature) = signed_declaration::<T>();
		let node = declaration.node;

		#[extrinsic_call]
		_(RawOrigin::Authorized, declaration, signature);

		assert!(NodeProfiles::<T>::get(node).is_some_and(|(p, _)| p == [9; 32]));
	}

	/// Authorizing a declaration in the pool: the same checks.
	#[benchmark]
	fn authorize_declare_profile() -> Result<(), BenchmarkError> {
		use frame_support::pallet_prelude::Authorize;
		use sp_runtime::transaction_validity::TransactionSource;
		let (declaration, signature) = signed_declaration::<T>();
		let call = Call::<T>::declare_profile { declaration, signature };

		#[block]
		{
			call.authorize(TransactionSource::External)
				.ok_or("authorizable")?
				.map_err(|_| "the declaration is authorized")?;
		}
		Ok(())
	}

	/// An epoch boundary with `e` echelons of `b` standing bids each, every one of a registered
	/// node: the boundary reads each bidder's record and subscriptions.
	#[benchmark]
	fn on_epoch_boundary(
		e: Linear<1, { T::MaxEchelons::get() }>,
		b: Linear<1, { T::MaxNodesPerEchelon::get() }>,
	) {
		// Genesis may have registered echelons already; top up to `e`.
		while Echelons::<T>::count() < e {
			new_echelon::<T>();
		}
		let echelons: Vec<EchelonId> = Echelons::<T>::iter_keys().collect();
		for echelon in &echelons {
			let have = EchelonBids::<T>::get(echelon).len() as u32;
			for i in have..b {
				let operator: T::AccountId = account("bidder", i, echelon.0);
				let node = node::<T>(&operator, *echelon, i);
				let price = BalanceOf::<T>::from(i.wrapping_mul(7_919) % 1_000);
				EchelonBids::<T>::mutate(echelon, |bids| {
					if let Some(bid) = bids.iter_mut().find(|(n, _)| *n == node) {
						bid.1 = price;
					}
				});
			}
		}
		let now = NextEpochStart::<T>::get();

		#[block]
		{
			Registry::<T>::start_next_epoch(now);
		}

		assert_eq!(CurrentEpoch::<T>::get(), 1);
		// Where a bidder serves a model (always in the mock), the echelon got a price.
		for echelon in &echelons {
			let serving = EchelonBids::<T>::get(echelon).iter().any(|(node, _)| {
				<T::ServingNodes as frame_support::traits::Contains<_>>::contains(node)
			});
			assert!(!serving || EchelonPrices::<T>::contains_key(echelon));
		}
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);
}

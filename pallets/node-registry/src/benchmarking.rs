//! Benchmarks (FRAME v2), one per call plus the epoch boundary, each in its worst case.
//!
//! The calls that touch an echelon's counted bids, and the boundary, take a component `s`: they
//! run in an echelon of `10^s` nodes whose bids all count (`s` = 1 to 4 with `--steps 4`: 10,
//! 100, 1,000 and 10,000 nodes), which shows that their cost does not depend on the echelon's
//! size.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::vec::Vec;

use atoma_support::{EchelonId, NodeId, NodeRegistry};
use frame_benchmarking::v2::*;
use frame_support::traits::{fungible::Mutate, EnsureOrigin, Get};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, Pallet as Registry, MAX_ECHELON_SCALE};

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
		node_bidding::<T>(operator, echelon, seed, 1_000u32.into())
	}

	/// Register a node of `operator` in `echelon` with the minimum collateral, bidding `price`.
	pub fn node_bidding<T: Config>(
		operator: &T::AccountId,
		echelon: EchelonId,
		seed: u32,
		price: BalanceOf<T>,
	) -> NodeId {
		fund::<T>(operator);
		Registry::<T>::do_register_node(
			operator.clone(),
			echelon,
			worker_key((operator, seed)),
			longest_url::<T>(),
			T::MinCollateral::get(),
			price,
		)
		.unwrap_or_else(|e| panic!("benchmark node: {e:?}"))
	}

	/// Every node counts as serving a model from now on: the benchmarks cannot subscribe nodes
	/// to models, yet measure bids that count.
	pub fn every_node_serves<T: Config>() {
		crate::median::BenchmarkEveryNodeServes::<T>::put(true);
	}

	/// `10^scale` nodes, or as many as an echelon may hold.
	pub fn scaled<T: Config>(scale: u32) -> u32 {
		10u32.saturating_pow(scale).min(T::MaxNodesPerEchelon::get())
	}

	/// A price of the spread [`fill_echelon`] bids: even, distinct for each `i` below a million,
	/// scattered over 2 to 2,000,006.
	pub fn spread_price<T: Config>(i: u32) -> BalanceOf<T> {
		let i = u64::from(i);
		BalanceOf::<T>::from(((i * 7_919 % 1_000_003) * 2 + 2) as u32)
	}

	/// An odd price in the middle of the spread: a price level of its own, with levels on either
	/// side.
	pub fn middle_price<T: Config>(nudge: u32) -> BalanceOf<T> {
		BalanceOf::<T>::from(1_000_003u32 + 2 * nudge)
	}

	/// Fill `echelon` with serving nodes of other operators until it holds `count` nodes, all
	/// bidding distinct prices (each its own price level): registration counts each bid, so
	/// the echelon's counted bids are built as on chain.
	pub fn fill_echelon<T: Config>(echelon: EchelonId, count: u32) {
		every_node_serves::<T>();
		let have = EchelonNodeCount::<T>::get(echelon);
		for i in have..count {
			let operator: T::AccountId = account("filler", i, echelon.0);
			node_bidding::<T>(&operator, echelon, i, spread_price::<T>(i));
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

	/// Registration as the last node of an echelon of `10^s` serving nodes; its bid is a new
	/// price level between others and counts at once.
	#[benchmark]
	fn register_node(s: Linear<1, MAX_ECHELON_SCALE>) {
		let echelon = new_echelon::<T>();
		let n = scaled::<T>(s);
		fill_echelon::<T>(echelon, n.saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		fund::<T>(&operator);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(operator.clone()),
			echelon,
			worker_key(u32::MAX),
			longest_url::<T>(),
			T::MinCollateral::get(),
			middle_price::<T>(0),
		);

		assert_eq!(EchelonNodeCount::<T>::get(echelon), n);
		assert_eq!(MedianCursors::<T>::get(echelon).map(|c| c.total), Some(n));
	}

	/// Collateral that lifts a slashed node back to `MinCollateral`, in an echelon of `10^s`
	/// serving nodes: its bid counts again.
	#[benchmark]
	fn add_collateral(s: Linear<1, MAX_ECHELON_SCALE>) {
		use atoma_support::SlashSplit;
		use sp_runtime::Perbill;
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, scaled::<T>(s).saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		let node = node_bidding::<T>(&operator, echelon, 0, middle_price::<T>(0));
		Registry::<T>::slash(
			node,
			Perbill::from_percent(50),
			&SlashSplit::treasury_only(Perbill::one()),
		)
		.unwrap_or_else(|e| panic!("slash: {e:?}"));
		assert!(Bids::<T>::get(node).is_some_and(|bid| !bid.counted));

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, T::MinCollateral::get());

		assert!(Bids::<T>::get(node).is_some_and(|bid| bid.counted));
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

	/// A new bid of a counted node in an echelon of `10^s` serving nodes: its old price level
	/// goes, a new one comes, the median moves.
	#[benchmark]
	fn bid_price(s: Linear<1, MAX_ECHELON_SCALE>) {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, scaled::<T>(s).saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		let node = node_bidding::<T>(&operator, echelon, 0, middle_price::<T>(0));
		let price = middle_price::<T>(1);

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node, price);

		assert_eq!(Registry::<T>::standing_bid(node), Some(price));
		assert!(Bids::<T>::get(node).is_some_and(|bid| bid.counted));
	}

	/// Deregistration of a counted node in an echelon of `10^s` serving nodes: its price level
	/// goes and the median moves.
	#[benchmark]
	fn deregister_node(s: Linear<1, MAX_ECHELON_SCALE>) {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, scaled::<T>(s).saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		let node = node_bidding::<T>(&operator, echelon, 0, middle_price::<T>(0));

		#[extrinsic_call]
		_(RawOrigin::Signed(operator), node);

		assert!(Nodes::<T>::get(node).is_some_and(|n| n.status != crate::NodeStatus::Active));
	}

	/// Withdrawal of a node from an echelon of `10^s` serving nodes.
	#[benchmark]
	fn withdraw_node(s: Linear<1, MAX_ECHELON_SCALE>) {
		let echelon = new_echelon::<T>();
		fill_echelon::<T>(echelon, scaled::<T>(s).saturating_sub(1));
		let operator: T::AccountId = whitelisted_caller();
		let node = eligible_node::<T>(&operator, Some(echelon));
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

	/// An epoch boundary with `e` echelons, the first of `10^s` counted bids and the others of
	/// two: an even count in each, so each reads the level above its lower median too.
	#[benchmark]
	fn on_epoch_boundary(e: Linear<1, { T::MaxEchelons::get() }>, s: Linear<1, MAX_ECHELON_SCALE>) {
		// Genesis may have registered echelons already; top up to `e`.
		while Echelons::<T>::count() < e {
			new_echelon::<T>();
		}
		let echelons: Vec<EchelonId> = Echelons::<T>::iter_keys().collect();
		for (i, echelon) in echelons.iter().enumerate() {
			let wanted = if i == 0 { scaled::<T>(s) } else { 2 };
			// Genesis nodes may be there already, not counted: add two counted ones at least.
			let have = EchelonNodeCount::<T>::get(echelon);
			let bids = wanted.max(have.saturating_add(2)).min(T::MaxNodesPerEchelon::get());
			fill_echelon::<T>(*echelon, bids);
		}
		let now = NextEpochStart::<T>::get();

		#[block]
		{
			Registry::<T>::start_next_epoch(now);
		}

		assert_eq!(CurrentEpoch::<T>::get(), 1);
		for echelon in &echelons {
			assert!(EchelonPrices::<T>::contains_key(echelon), "every echelon has counted bids");
		}
	}

	impl_benchmark_test_suite!(Registry, crate::mock::new_test_ext(), crate::mock::Test);

	/// The mock holds 4 nodes per echelon; here the size-dependent benchmarks run at 10 and
	/// 10,000 nodes too, as on chain.
	#[cfg(test)]
	mod at_scale {
		use super::*;
		use crate::mock::{new_test_ext, MaxNodesPerEchelon, Test};

		#[test]
		fn the_benchmarks_run_in_echelons_of_ten_thousand_nodes() {
			new_test_ext().execute_with(|| {
				MaxNodesPerEchelon::set(10_000);
				Registry::<Test>::test_benchmark_register_node().unwrap();
				Registry::<Test>::test_benchmark_add_collateral().unwrap();
				Registry::<Test>::test_benchmark_bid_price().unwrap();
				Registry::<Test>::test_benchmark_deregister_node().unwrap();
				Registry::<Test>::test_benchmark_withdraw_node().unwrap();
				Registry::<Test>::test_benchmark_on_epoch_boundary().unwrap();
			});
		}
	}
}

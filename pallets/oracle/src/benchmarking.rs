//! Benchmarks (FRAME v2), each in its worst case: `ask` with the costliest submission the
//! inference pallet takes, `forget`, and `on_outcome` with an answer naming the most nodes.

// Benchmark setup may panic and do plain arithmetic: it never runs on chain.
#![allow(clippy::panic, clippy::arithmetic_side_effects)]

use alloc::vec::Vec;

use atoma_support::{
	inference::{InferenceOutcome, InferenceRequester, OnInferenceOutcome},
	NodeId, RequestId,
};
use frame_benchmarking::v2::*;
use frame_support::traits::{
	fungible::{Mutate, MutateHold},
	Get,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Saturating;

use crate::{pallet::*, Pallet as Oracle};

/// A question of `asker` for `request`, its deposit held, with `answer`.
fn kept<T: Config>(asker: &T::AccountId, request: RequestId, answer: Answer<T>) {
	let deposit = T::QuestionDeposit::get();
	T::Currency::set_balance(asker, deposit.saturating_mul(10u32.into()));
	T::Currency::hold(&HoldReason::QuestionDeposit.into(), asker, deposit)
		.unwrap_or_else(|e| panic!("hold: {e:?}"));
	Questions::<T>::insert(request, Question { asker: asker.clone(), deposit, answer });
}

#[benchmarks]
mod benchmarks {
	use super::*;

	/// The inference pallet's costliest submission, plus the deposit and the question.
	#[benchmark]
	fn ask() {
		let asker: T::AccountId = whitelisted_caller();
		let spec = T::Inference::benchmark_worst_case_spec(&asker);

		#[extrinsic_call]
		_(RawOrigin::Signed(asker.clone()), spec);

		assert_eq!(Questions::<T>::iter().count(), 1);
	}

	/// A settled question forgotten: its deposit released.
	#[benchmark]
	fn forget() {
		let asker: T::AccountId = whitelisted_caller();
		let answer = Answer::Settled {
			output_commitment: [7; 32],
			output_tokens: 1,
			nodes: Default::default(),
		};
		kept::<T>(&asker, RequestId(3), answer);

		#[extrinsic_call]
		_(RawOrigin::Signed(asker), RequestId(3));

		assert!(!Questions::<T>::contains_key(RequestId(3)));
	}

	/// A pending question settled on an answer naming the most nodes.
	#[benchmark]
	fn on_outcome() {
		let asker: T::AccountId = whitelisted_caller();
		kept::<T>(&asker, RequestId(3), Answer::Pending);
		let nodes: Vec<NodeId> = (0..T::MaxAnswerNodes::get()).map(|i| NodeId(i.into())).collect();
		let outcome =
			InferenceOutcome::Settled { output_commitment: [7; 32], output_tokens: 256, nodes };

		#[block]
		{
			<Oracle<T> as OnInferenceOutcome>::on_outcome(CALLER_TAG, RequestId(3), &outcome);
		}

		assert!(Questions::<T>::get(RequestId(3)).is_some_and(|q| q.answer.is_final()));
	}

	impl_benchmark_test_suite!(Oracle, crate::mock::new_test_ext(), crate::mock::Test);
}

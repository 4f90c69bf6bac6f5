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

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

pub use pallet::*;
pub use weights::WeightInfo;

#[frame_support::pallet]
pub mod pallet {
	use atoma_support::{
		inference::{
			CallerTag, InferenceOutcome, InferenceRequester, OnInferenceOutcome, RequestSpec,
		},
		NodeId, RequestId,
	};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{Inspect, InspectHold, Mutate, MutateHold},
			tokens::Precision,
		},
		CloneNoBound, DebugNoBound, DefaultNoBound, EqNoBound, PartialEqNoBound,
	};
	use frame_system::pallet_prelude::*;

	use super::WeightInfo;

	/// The tag this pallet's requests carry; the inference pallet hands it back with each
	/// outcome, so a runtime with several calling pallets routes outcomes by it.
	pub const CALLER_TAG: CallerTag = *b"oracle01";

	pub type BalanceOf<T> =
		<<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The chain's currency: question deposits are held with the fungible hold traits.
		type Currency: Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The runtime's hold reason, which includes this pallet's [`HoldReason`].
		type RuntimeHoldReason: From<HoldReason>;

		/// The inference pallet, through which questions are asked.
		type Inference: InferenceRequester<Self::AccountId>;

		/// Held from the asker for as long as a question is kept on chain: it pays for the
		/// storage, and comes back with [`Pallet::forget`].
		#[pallet::constant]
		type QuestionDeposit: Get<BalanceOf<Self>>;

		/// The most nodes an answer can name: the inference pallet's most executions of one
		/// request (`pallet_inference::MaxExecutionsOf` in the runtime).
		#[pallet::constant]
		type MaxAnswerNodes: Get<u32>;

		type WeightInfo: WeightInfo;
	}

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// The deposit of a question kept on chain.
		QuestionDeposit,
	}

	/// What the network answered, as far as the chain knows.
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
		DefaultNoBound,
	)]
	#[scale_info(skip_type_params(T))]
	pub enum Answer<T: Config> {
		/// Not yet: the request is being executed.
		#[default]
		Pending,
		/// The nodes disagreed; a dispute decides, and the answer comes when it concludes.
		Disputed,
		/// The nodes agreed (or a dispute found the winning output). The answer's bytes are the
		/// output `O` whose commitment this is: the quorum root over `O`'s leaves (Single,
		/// Sampling) or `H(O)` (Cross-Validation). A question asked with the `OnChain`
		/// destination has `O` published in `inference.outputs(request)`; otherwise the nodes'
		/// workers deliver it to the asker, who checks it against this commitment.
		Settled {
			/// The settled output commitment.
			output_commitment: [u8; 32],
			/// Tokens generated.
			output_tokens: u32,
			/// The nodes whose outputs agree on it.
			nodes: BoundedVec<NodeId, T::MaxAnswerNodes>,
		},
		/// No answer: the request failed (no node, a timeout, an unservable input, or a dispute
		/// in which no output won) and its escrow was refunded.
		Failed,
	}

	impl<T: Config> Answer<T> {
		/// Whether the answer can still change.
		pub fn is_final(&self) -> bool {
			matches!(self, Self::Settled { .. } | Self::Failed)
		}
	}

	/// A question kept on chain.
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
	#[scale_info(skip_type_params(T))]
	pub struct Question<T: Config> {
		/// Who asked, paid the request's escrow and holds the deposit.
		pub asker: T::AccountId,
		/// The deposit held from the asker.
		pub deposit: BalanceOf<T>,
		/// The answer so far.
		pub answer: Answer<T>,
	}

	/// The questions kept on chain, by the id of the inference request that answers them.
	#[pallet::storage]
	pub type Questions<T: Config> = StorageMap<_, Twox64Concat, RequestId, Question<T>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// `asker` asked a question; the inference request `request` answers it.
		Asked { request: RequestId, asker: T::AccountId, deposit: BalanceOf<T> },
		/// The answer to the question of `request` changed to `answer`.
		Answered { request: RequestId, answer: Answer<T> },
		/// The asker removed the question of `request`; its deposit came back.
		Forgotten { request: RequestId, asker: T::AccountId, released: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The asker's free balance cannot cover the question's deposit.
		CannotHoldDeposit,
		/// No question is kept for this request.
		UnknownQuestion,
		/// Only the asker may forget its question.
		NotAsker,
		/// The question's answer can still change: it is pending or disputed.
		AnswerNotFinal,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Ask the network a question: submit `spec` to the inference pallet as a request of this
		/// pallet, paid and escrowed by the signer, and keep the question on chain until the
		/// signer forgets it.
		///
		/// - `spec`: the request, exactly as `inference.submit_request` takes it; its checks
		///   (model, echelon, input, quorum, funds) and errors are the inference pallet's.
		///
		/// Holds `QuestionDeposit` from the signer (`CannotHoldDeposit` if it cannot). Emits
		/// `Asked`, after the inference pallet's `RequestSubmitted`; `Answered` follows as the
		/// request ends.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::ask())]
		pub fn ask(origin: OriginFor<T>, spec: RequestSpec) -> DispatchResult {
			let asker = ensure_signed(origin)?;
			let deposit = T::QuestionDeposit::get();
			T::Currency::hold(&HoldReason::QuestionDeposit.into(), &asker, deposit)
				.map_err(|_| Error::<T>::CannotHoldDeposit)?;
			let request = T::Inference::request_inference(&asker, spec, CALLER_TAG)?;
			Questions::<T>::insert(
				request,
				Question { asker: asker.clone(), deposit, answer: Answer::Pending },
			);
			Self::deposit_event(Event::Asked { request, asker, deposit });
			Ok(())
		}

		/// Remove the question of `request` and release its deposit.
		///
		/// - `origin`: the asker.
		/// - `request`: a question whose answer is final (`Settled` or `Failed`), or whose
		///   request is no longer in flight.
		///
		/// Emits `Forgotten`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::forget())]
		pub fn forget(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let question = Questions::<T>::get(request).ok_or(Error::<T>::UnknownQuestion)?;
			ensure!(question.asker == who, Error::<T>::NotAsker);
			// Every end of a request reports a final answer; the request's absence is checked
			// too, so that no deposit could ever stay held if one did not.
			ensure!(
				question.answer.is_final() || !T::Inference::in_flight(request),
				Error::<T>::AnswerNotFinal
			);
			let released = T::Currency::release(
				&HoldReason::QuestionDeposit.into(),
				&who,
				question.deposit,
				Precision::BestEffort,
			)?;
			Questions::<T>::remove(request);
			Self::deposit_event(Event::Forgotten { request, asker: who, released });
			Ok(())
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	/// The inference pallet reports here how each request of this pallet ended.
	impl<T: Config> OnInferenceOutcome for Pallet<T> {
		fn on_outcome(caller: CallerTag, request: RequestId, outcome: &InferenceOutcome) -> Weight {
			if caller != CALLER_TAG {
				return Weight::zero();
			}
			let answer = match outcome {
				InferenceOutcome::Settled { output_commitment, output_tokens, nodes } => {
					let bounded = BoundedVec::try_from(nodes.clone()).unwrap_or_else(|all| {
						// The bound is the inference pallet's most executions of a request.
						frame_support::defensive!("an answer names more nodes than its bound");
						BoundedVec::truncate_from(all)
					});
					Answer::Settled {
						output_commitment: *output_commitment,
						output_tokens: *output_tokens,
						nodes: bounded,
					}
				},
				InferenceOutcome::Disputed => Answer::Disputed,
				InferenceOutcome::Failed => Answer::Failed,
			};
			let kept = Questions::<T>::mutate(request, |question| match question {
				Some(question) => {
					question.answer = answer.clone();
					true
				},
				None => false,
			});
			if kept {
				Self::deposit_event(Event::Answered { request, answer });
			} else {
				// A question is forgotten only once its request has ended.
				frame_support::defensive!("an outcome for a question not kept");
			}
			T::WeightInfo::on_outcome()
		}

		fn max_weight() -> Weight {
			T::WeightInfo::on_outcome()
		}
	}

	impl<T: Config> Pallet<T> {
		/// Invariants: every question's deposit is held from its asker, and nothing else is held
		/// for this pallet; a question still pending or disputed has its request in flight.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::btree_map::BTreeMap;
			use sp_runtime::traits::Saturating;

			let mut deposits = BTreeMap::<T::AccountId, BalanceOf<T>>::new();
			for (request, question) in Questions::<T>::iter() {
				let sum = deposits.entry(question.asker.clone()).or_default();
				*sum = sum.saturating_add(question.deposit);
				ensure!(
					question.answer.is_final() || T::Inference::in_flight(request),
					"an unfinished answer whose request has ended"
				);
			}
			for (asker, sum) in deposits {
				ensure!(
					T::Currency::balance_on_hold(&HoldReason::QuestionDeposit.into(), &asker)
						== sum,
					"question deposits held differ from those recorded"
				);
			}
			Ok(())
		}
	}
}

extern crate alloc;

//! The pallets' fuzz tests: random calls with random arguments and origins, each dispatched and
//! checked. Test code only (feature `test-utils`).

use sp_runtime::{traits::Dispatchable, DispatchError, StateVersion};

/// A seeded xorshift generator: the same seed gives the same cases, so a failure reproduces.
pub struct Rng(u64);

impl Rng {
	/// A generator seeded with `seed` (any value but 0 works; 0 is replaced).
	pub fn new(seed: u64) -> Self {
		Self(seed.max(1))
	}

	/// The next 64 random bits.
	pub fn next_u64(&mut self) -> u64 {
		let mut x = self.0;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		self.0 = x;
		x
	}

	/// A value in `0..n` (`n > 0`).
	pub fn below(&mut self, n: u64) -> u64 {
		self.next_u64() % n.max(1)
	}

	/// One of `items`.
	pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
		&items[self.below(items.len() as u64) as usize]
	}

	/// True one time in `n`.
	pub fn one_in(&mut self, n: u64) -> bool {
		self.below(n) == 0
	}

	/// Up to `max` random bytes.
	pub fn bytes(&mut self, max: usize) -> Vec<u8> {
		let len = self.below(max as u64 + 1) as usize;
		(0..len).map(|_| self.next_u64() as u8).collect()
	}

	/// A number that is often at an edge: 0, 1, `max`, or anything up to `max`.
	pub fn edgy(&mut self, max: u64) -> u64 {
		match self.below(6) {
			0 => 0,
			1 => 1,
			2 => max,
			_ => self.below(max.saturating_add(1)),
		}
	}
}

/// Dispatch `call` from `origin` and check what a failure did: nothing (the state root is
/// unchanged) and why (a named error: a pallet's, a bad origin, or the currency's). Returns whether
/// the call succeeded. A panic inside the call fails the test.
pub fn dispatch_checked<Call>(call: Call, origin: Call::RuntimeOrigin) -> bool
where
	Call: Dispatchable + core::fmt::Debug + Clone,
{
	let before = sp_io::storage::root(StateVersion::V1);
	let shown = format!("{call:?}");
	match call.dispatch(origin) {
		Ok(_) => true,
		Err(e) => {
			let after = sp_io::storage::root(StateVersion::V1);
			assert_eq!(before, after, "a failed call changed the state: {shown} -> {:?}", e.error);
			assert!(
				matches!(
					e.error,
					DispatchError::Module(_)
						| DispatchError::BadOrigin
						| DispatchError::Token(_)
						| DispatchError::ConsumerRemaining
						| DispatchError::NoProviders
				),
				"{shown} failed without a named error: {:?}",
				e.error
			);
			false
		},
	}
}

/// The transaction plumbing of a test runtime whose off-chain workers submit authorized
/// (general, unsigned) transactions, as every pallet of this chain with an off-chain worker does:
/// `atoma_support::impl_test_authorized_transactions!(Test, RuntimeCall);` in a mock.
#[macro_export]
macro_rules! impl_test_authorized_transactions {
	($runtime:ty, $call:ty) => {
		impl<C> frame_system::offchain::CreateTransactionBase<C> for $runtime
		where
			$call: From<C>,
		{
			type Extrinsic = frame_system::mocking::MockUncheckedExtrinsic<$runtime>;
			type RuntimeCall = $call;
		}

		impl<C> frame_system::offchain::CreateTransaction<C> for $runtime
		where
			$call: From<C>,
		{
			type Extension = ();
			fn create_transaction(call: $call, extension: ()) -> Self::Extrinsic {
				frame_system::mocking::MockUncheckedExtrinsic::<$runtime>::new_transaction(
					call, extension,
				)
			}
		}

		impl<C> frame_system::offchain::CreateAuthorizedTransaction<C> for $runtime
		where
			$call: From<C>,
		{
			fn create_extension() {}
		}
	};
}

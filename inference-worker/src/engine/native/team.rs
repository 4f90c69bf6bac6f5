//! The threads of one forward pass: the calling thread leads, the other threads of its rayon pool
//! help, and between the pass's parallel loops the helpers spin instead of sleeping.
//!
//! A decode step is about 150 short parallel loops (five per layer), each tens of microseconds at
//! two threads, separated by a few microseconds of serial work (norms, rotary embeddings,
//! activation quantization). Handing each loop to rayon costs a steal and, after any pause, a
//! wake-up through the kernel; on a shared virtual CPU those cost a large share of the loop. A
//! [`Team`] enters the pool once per pass instead: its helpers stay in the pass, watching for the
//! leader's next loop, until the pass ends.
//!
//! Work is claimed item by item from a shared counter, so no thread ever waits for another to
//! arrive: a helper that starts late (or never, when the pool is busy) only means the others
//! claim more. Which thread computes an item never changes what it computes, so results are the
//! same bits at every team size.

use std::{
	ptr,
	sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering},
	time::{Duration, Instant},
};

/// How long a helper spins on the CPU for the leader's next loop before it starts yielding it to
/// other threads (a machine shared with other processes, fewer cores than threads).
const SPIN: Duration = Duration::from_micros(50);

/// One parallel loop: `count` items, each run once by whichever thread claims it.
struct Op<'a> {
	run: &'a (dyn Fn(usize) + Sync),
	count: usize,
	next: AtomicUsize,
}

impl Op<'_> {
	/// Claim and run items until none is left.
	fn work(&self) {
		loop {
			let i = self.next.fetch_add(1, Ordering::Relaxed);
			if i >= self.count {
				return;
			}
			(self.run)(i);
		}
	}
}

/// What the leader shares with its helpers for the length of a pass.
///
/// The protocol (every access `SeqCst`): the leader publishes a loop in `current`, works on it,
/// withdraws it (null) and then waits until `inside` is zero. A helper announces itself in
/// `inside` *before* it reads `current` and leaves after its last item. By the total order of
/// these accesses, a helper either sees the loop withdrawn or is counted by the leader's wait,
/// so a loop (on the leader's stack) is never read after the leader has moved on.
#[derive(Default)]
struct Shared {
	current: AtomicPtr<Op<'static>>,
	/// Loops published so far, so a helper does not enter the same loop twice.
	published: AtomicUsize,
	inside: AtomicUsize,
	done: AtomicBool,
}

/// The threads of one pass; see the module's documentation.
pub struct Team<'a> {
	shared: Option<&'a Shared>,
	size: usize,
}

impl Team<'static> {
	/// A team of the calling thread alone: its loops run in order, on this thread.
	pub fn alone() -> Self {
		Team { shared: None, size: 1 }
	}
}

impl Team<'_> {
	/// Threads in the team, the leader included (those that may help; not all may show up).
	pub fn size(&self) -> usize {
		self.size
	}

	/// Run `f(i)` for every `i` in `0..count`, on the leader and every helper present; returns
	/// when all have run. Call only from the thread that leads the team.
	pub fn for_each(&self, count: usize, f: impl Fn(usize) + Sync) {
		let Some(shared) = self.shared else {
			(0..count).for_each(f);
			return;
		};
		let op = Op { run: &f, count, next: AtomicUsize::new(0) };
		// Only the lifetime is erased: the pointer is withdrawn below, and the leader waits until
		// no helper is inside before `op` (and `f`) go out of scope (`Shared`'s protocol).
		let erased = ptr::from_ref(&op).cast::<Op<'static>>().cast_mut();
		shared.published.fetch_add(1, Ordering::SeqCst);
		shared.current.store(erased, Ordering::SeqCst);
		op.work();
		shared.current.store(ptr::null_mut(), Ordering::SeqCst);
		let mut wait = Wait::new();
		while shared.inside.load(Ordering::SeqCst) != 0 {
			wait.pause();
		}
	}
}

/// A buffer that the items of a parallel loop write through, each its own cells (a row, a
/// chunk of rows, a head's output): what lets `Team::for_each`'s shared closure write in place.
#[derive(Clone, Copy)]
pub struct Out<T = f32>(pub *mut T);
// SAFETY: items write disjoint cells and the buffer outlives the parallel loop (`cells`' contract).
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}

impl<T> Out<T> {
	/// The `len` cells from `start`.
	///
	/// # Safety
	/// They lie in the buffer, which outlives the returned slice, and no other thread touches
	/// them meanwhile.
	#[allow(clippy::mut_from_ref)]
	pub unsafe fn cells(&self, start: usize, len: usize) -> &mut [T] {
		std::slice::from_raw_parts_mut(self.0.add(start), len)
	}
}

/// Waiting on another thread of the team: spin for [`SPIN`], then yield the CPU at every check,
/// so that a thread preempted on a machine with fewer cores than threads can run.
struct Wait {
	since: Instant,
}

impl Wait {
	fn new() -> Self {
		Self { since: Instant::now() }
	}

	fn pause(&mut self) {
		if self.since.elapsed() < SPIN {
			// One pause between checks: a pause is about 140 cycles on recent Xeons, and the
			// step's loops are handed over a few hundred times a pass (an empty loop's hand-over
			// measured 0.6 µs).
			std::hint::spin_loop();
		} else {
			std::thread::yield_now();
		}
	}
}

/// A helper: enter every loop the leader publishes until the pass is done.
fn help(shared: &Shared) {
	let mut last = 0;
	let mut wait = Wait::new();
	while !shared.done.load(Ordering::SeqCst) {
		let published = shared.published.load(Ordering::SeqCst);
		if published != last && !shared.current.load(Ordering::SeqCst).is_null() {
			shared.inside.fetch_add(1, Ordering::SeqCst);
			let op = shared.current.load(Ordering::SeqCst);
			if !op.is_null() {
				// SAFETY: `inside` counts this thread, so the leader keeps the loop alive until
				// it is decremented (`Shared`'s protocol).
				unsafe { &*op }.work();
				last = published;
			}
			shared.inside.fetch_sub(1, Ordering::SeqCst);
			wait = Wait::new();
			continue;
		}
		wait.pause();
	}
}

/// Run `body` as the leader of a team of the current rayon pool's threads (the global pool
/// outside one). With one thread, or in a pool with no idle thread, `body` runs alone.
pub fn lead<R>(body: impl FnOnce(&Team<'_>) -> R) -> R {
	let helpers = rayon::current_num_threads().saturating_sub(1);
	if helpers == 0 {
		return body(&Team { shared: None, size: 1 });
	}
	let shared = Shared::default();
	rayon::in_place_scope(|scope| {
		for _ in 0..helpers {
			scope.spawn(|_| help(&shared));
		}
		let result = body(&Team { shared: Some(&shared), size: helpers + 1 });
		// Helpers not yet started find the pass done and return at once (the scope runs any
		// that no idle thread took on this thread, after `body`).
		shared.done.store(true, Ordering::SeqCst);
		result
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn every_item_runs_once_at_every_team_size() {
		for threads in [1, 2, 3, 8] {
			let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
			let counts: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
			pool.install(|| {
				lead(|team| {
					for round in 0..200 {
						team.for_each(round * 5, |i| {
							counts[i].fetch_add(1, Ordering::Relaxed);
						});
					}
				})
			});
			for (i, c) in counts.iter().enumerate() {
				// Item i ran in every round with more than i items.
				let rounds = (0..200).filter(|r| r * 5 > i).count();
				assert_eq!(c.load(Ordering::Relaxed), rounds, "item {i} with {threads} threads");
			}
		}
	}

	#[test]
	fn a_pool_with_no_idle_thread_still_finishes() {
		// Every other thread of the pool is blocked in a job of its own while the team runs:
		// the leader must do all the work rather than wait for helpers.
		let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
		let release = AtomicBool::new(false);
		let total = AtomicUsize::new(0);
		pool.install(|| {
			rayon::join(
				|| {
					while !release.load(Ordering::SeqCst) {
						std::thread::yield_now();
					}
				},
				|| {
					lead(|team| team.for_each(100, |_| _ = total.fetch_add(1, Ordering::SeqCst)));
					release.store(true, Ordering::SeqCst);
				},
			)
		});
		assert_eq!(total.load(Ordering::SeqCst), 100);
	}
}

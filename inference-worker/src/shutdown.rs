//! Shutdown coordination shared by the HTTP layer and the engine threads.
//!
//! Shutdown has two phases:
//!
//! 1. **Draining** (SIGINT, SIGTERM, or stdin closed with `--exit-on-stdin-close`): new jobs are
//!    refused with 503, queued jobs fail at once (the job store is in memory and dies with the
//!    process, so running them would be wasted work), the running job of each model finishes so
//!    that in-flight HTTP and SSE responses complete.
//! 2. **Abort** (after the HTTP server has drained, or after the grace period): a job still running
//!    stops at its next token and fails, and the engine threads exit.

use std::sync::{
	atomic::{AtomicBool, Ordering},
	Arc,
};

use tokio::sync::Notify;

/// Cloneable handle to the worker's shutdown state.
#[derive(Clone, Default)]
pub struct Shutdown {
	inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
	draining: AtomicBool,
	abort: AtomicBool,
	notify: Notify,
}

impl Shutdown {
	/// A handle in the running state.
	pub fn new() -> Self {
		Self::default()
	}

	/// Enter the draining phase (idempotent) and wake everything waiting in [`Self::wait`].
	pub fn start_draining(&self) {
		if !self.inner.draining.swap(true, Ordering::SeqCst) {
			tracing::info!("shutdown requested: draining");
		}
		self.inner.notify.notify_waiters();
	}

	/// Whether new work must be refused.
	pub fn is_draining(&self) -> bool {
		self.inner.draining.load(Ordering::SeqCst)
	}

	/// Enter the abort phase: running generations stop at their next token.
	pub fn abort(&self) {
		self.start_draining();
		self.inner.abort.store(true, Ordering::SeqCst);
	}

	/// Whether running generations must stop.
	pub fn is_aborted(&self) -> bool {
		self.inner.abort.load(Ordering::SeqCst)
	}

	/// Resolves once draining has started.
	pub async fn wait(&self) {
		loop {
			let notified = self.inner.notify.notified();
			if self.is_draining() {
				return;
			}
			notified.await;
		}
	}
}

//! Delivery: the output of every chain job, kept for its request's owner and nobody else
//! (`atoma_primitives::output_read`).
//!
//! A job posted by the paired node carries a [`DeliveryTicket`] (request, owner, chain). While
//! the job runs, its tokens are kept here and pushed to every reader streaming it; when it
//! completes, its output and the values its commitment is computed from are written to disk
//! (one JSON file per request, written whole and renamed into place), so a worker restart loses
//! none. The store is bounded: past `max_outputs` files, the oldest output is deleted first.
//!
//! Reads are authorized here, from the ticket alone ([`authorize`]): the owner's sr25519
//! signature over the documented bytes, fresh against this worker's clock. This module is
//! independent of HTTP; `api::delivery` serves it.

use std::{
	collections::{HashMap, HashSet, VecDeque},
	io,
	path::{Path, PathBuf},
	sync::{Arc, Mutex, MutexGuard, PoisonError},
	time::{SystemTime, UNIX_EPOCH},
};

use atoma_primitives::{
	hash::{from_hex, to_hex},
	output_read::{self, DeliveryTicket},
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::{commitments::finish_reason_str, jobs::JobOutcome};

/// A ticket whose keys are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
	/// The chain's request id.
	pub request: u64,
	/// The owner's sr25519 public key.
	pub owner: [u8; 32],
	/// The chain's genesis hash.
	pub chain: [u8; 32],
}

impl Ticket {
	/// Parse the job body's ticket; `Err` says which field is not 64 hex digits.
	pub fn parse(ticket: &DeliveryTicket) -> Result<Self, &'static str> {
		let key = |hex: &str| from_hex::<32>(hex.trim_start_matches("0x"));
		Ok(Self {
			request: ticket.request,
			owner: key(&ticket.owner).ok_or("delivery.owner")?,
			chain: key(&ticket.chain).ok_or("delivery.chain")?,
		})
	}
}

/// One generated token as it is streamed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamedToken {
	/// Its position in the output (0-based).
	pub index: u32,
	/// The token id.
	pub token_id: u32,
	/// Text that became final with it.
	pub text: String,
}

/// The commitment a node makes from an output, and what it is computed from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommitmentInputs {
	/// This node's position in the quorum.
	pub node_index: u32,
	/// The quorum size `n` (1 for Single).
	pub quorum_size: u32,
	/// `H(O ‖ node_index)`.
	pub leaf: String,
	/// The root over `H(O ‖ i)` for every `i < n`: the output commitment of a Single or
	/// Sampling request.
	pub root: String,
	/// `H(O)`: the output commitment of a Cross-Validation request.
	pub output_hash: String,
}

/// A delivered output: the answer, and the bytes a client needs to check it against the chain
/// without trusting this worker (rebuild `O` from `token_ids` and `finish_reason`, then the leaf
/// and the root, and compare with the settled commitment).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveredOutput {
	/// The chain's request id.
	pub request: u64,
	/// The owner (hex), as the ticket named it.
	pub owner: String,
	/// The chain's genesis hash (hex).
	pub chain: String,
	/// The model id.
	pub model: String,
	/// Generated token ids, including a terminating stop token.
	pub token_ids: Vec<u32>,
	/// Their text (stop token and special tokens left out).
	pub text: String,
	/// `stop` or `length`.
	pub finish_reason: String,
	/// The canonical output `O` (hex).
	pub canonical_output: String,
	/// The commitment and its inputs.
	pub commitment: CommitmentInputs,
	/// Prompt tokens as the worker counted them.
	pub prompt_tokens: u32,
	/// Unix seconds of completion.
	pub completed_at: u64,
}

impl DeliveredOutput {
	/// The delivered form of a completed job's `outcome` for `ticket`.
	pub fn new(ticket: &Ticket, model: &str, outcome: &JobOutcome) -> Self {
		let (out, c) = (&outcome.output, &outcome.commitments);
		Self {
			request: ticket.request,
			owner: to_hex(&ticket.owner),
			chain: to_hex(&ticket.chain),
			model: model.to_owned(),
			token_ids: out.token_ids.clone(),
			text: out.text.clone(),
			finish_reason: finish_reason_str(out.finish_reason).to_owned(),
			canonical_output: to_hex(&c.canonical_output),
			commitment: CommitmentInputs {
				node_index: c.node_index,
				quorum_size: c.quorum_size,
				leaf: to_hex(&c.leaf),
				root: to_hex(&c.root),
				output_hash: to_hex(&c.output_hash),
			},
			prompt_tokens: out.prompt_tokens,
			completed_at: unix_now(),
		}
	}

	fn ticket(&self) -> Option<Ticket> {
		Some(Ticket {
			request: self.request,
			owner: from_hex::<32>(&self.owner)?,
			chain: from_hex::<32>(&self.chain)?,
		})
	}
}

/// What a reader streaming an output is sent.
#[derive(Clone, Debug)]
pub enum DeliveryEvent {
	/// A token was generated.
	Token(StreamedToken),
	/// The job completed: the whole output.
	Output(Arc<DeliveredOutput>),
	/// The job failed (the node posts it again; the reader may ask again).
	Failed(String),
}

/// What a reader finds for a request.
pub enum Subscription {
	/// The job runs: the tokens so far, then the events that follow.
	Live {
		/// Tokens generated before the reader came.
		tokens: Vec<StreamedToken>,
		/// Everything after them.
		events: UnboundedReceiver<DeliveryEvent>,
	},
	/// The job completed.
	Stored(Arc<DeliveredOutput>),
}

/// Why a read was refused (HTTP 403, with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadRefusal {
	/// A credential is not hex of the right length, or the timestamp is not a number.
	#[error("malformed credential: {0}")]
	Malformed(&'static str),
	/// The account is not the request's owner.
	#[error("the account is not the owner of request {0}")]
	NotTheOwner(u64),
	/// The timestamp is too far from this worker's clock.
	#[error(
		"the signature's timestamp is more than {} s from this worker's clock ({now})",
		output_read::MAX_CLOCK_SKEW_SECS
	)]
	Stale {
		/// The worker's clock.
		now: u64,
	},
	/// The signature does not verify.
	#[error(
		"the signature does not verify under the owner's key for this request, chain and time"
	)]
	BadSignature,
}

/// The credentials a read carries (`atoma_primitives::output_read` headers).
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
	/// The account (hex).
	pub account: &'a str,
	/// Unix seconds (decimal).
	pub timestamp: &'a str,
	/// The signature (hex).
	pub signature: &'a str,
}

/// The sr25519 signing context of Substrate and polkadot.js.
const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Whether `credentials` prove that the owner of `ticket`'s request asks, now (`now`, unix
/// seconds).
pub fn authorize(
	ticket: &Ticket,
	credentials: Credentials<'_>,
	now: u64,
) -> Result<(), ReadRefusal> {
	let account = from_hex::<32>(credentials.account.trim_start_matches("0x"))
		.ok_or(ReadRefusal::Malformed("account"))?;
	let timestamp: u64 =
		credentials.timestamp.parse().map_err(|_| ReadRefusal::Malformed("timestamp"))?;
	let signature = from_hex::<64>(credentials.signature.trim_start_matches("0x"))
		.ok_or(ReadRefusal::Malformed("signature"))?;
	if account != ticket.owner {
		return Err(ReadRefusal::NotTheOwner(ticket.request));
	}
	if !output_read::is_fresh(timestamp, now) {
		return Err(ReadRefusal::Stale { now });
	}
	let message = output_read::signing_bytes(&ticket.chain, ticket.request, timestamp);
	let verified = schnorrkel::PublicKey::from_bytes(&account)
		.and_then(|key| {
			let signature = schnorrkel::Signature::from_bytes(&signature)?;
			key.verify_simple(SIGNING_CONTEXT, &message, &signature)
		})
		.is_ok();
	verified.then_some(()).ok_or(ReadRefusal::BadSignature)
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

struct Live {
	ticket: Ticket,
	tokens: Vec<StreamedToken>,
	readers: Vec<UnboundedSender<DeliveryEvent>>,
}

#[derive(Default)]
struct Inner {
	live: HashMap<u64, Live>,
	/// Requests with an output on disk, oldest first.
	stored: VecDeque<u64>,
	stored_set: HashSet<u64>,
}

/// The outputs of chain jobs: live ones in memory, completed ones on disk.
pub struct OutputStore {
	dir: PathBuf,
	max_outputs: usize,
	inner: Mutex<Inner>,
}

/// How an output file is named: `{request}.json`.
fn file_name(request: u64) -> String {
	format!("{request}.json")
}

impl OutputStore {
	/// The store in `dir` (created if missing), keeping at most `max_outputs` outputs (at least
	/// one). Outputs already there are kept, oldest evicted first; files half-written by a crash
	/// are removed.
	pub fn open(dir: &Path, max_outputs: usize) -> io::Result<Self> {
		std::fs::create_dir_all(dir)?;
		let mut found: Vec<(SystemTime, u64)> = Vec::new();
		for entry in std::fs::read_dir(dir)? {
			let entry = entry?;
			let name = entry.file_name();
			let Some(name) = name.to_str() else { continue };
			if name.ends_with(".tmp") {
				let _ = std::fs::remove_file(entry.path());
				continue;
			}
			let Some(request) = name.strip_suffix(".json").and_then(|r| r.parse::<u64>().ok())
			else {
				continue;
			};
			let modified = entry.metadata()?.modified().unwrap_or(UNIX_EPOCH);
			found.push((modified, request));
		}
		found.sort();
		let store =
			Self { dir: dir.to_owned(), max_outputs: max_outputs.max(1), inner: Mutex::default() };
		{
			let mut inner = store.lock();
			for (_, request) in found {
				inner.stored.push_back(request);
				inner.stored_set.insert(request);
			}
			store.evict(&mut inner);
		}
		Ok(store)
	}

	/// The lock; every update is a few inserts and removals that leave the maps consistent, so a
	/// poisoned lock is still usable.
	fn lock(&self) -> MutexGuard<'_, Inner> {
		self.inner.lock().unwrap_or_else(PoisonError::into_inner)
	}

	fn path(&self, request: u64) -> PathBuf {
		self.dir.join(file_name(request))
	}

	fn evict(&self, inner: &mut Inner) {
		while inner.stored.len() > self.max_outputs {
			let Some(old) = inner.stored.pop_front() else { break };
			inner.stored_set.remove(&old);
			if let Err(e) = std::fs::remove_file(self.path(old)) {
				tracing::warn!(request = old, error = %e, "cannot delete an evicted output");
			}
		}
	}

	/// A job for `ticket` starts: its tokens will be streamed. `false` when another job for the
	/// same request already streams (the node holds two keys selected for it, or posted again):
	/// this one's output is still stored when it completes.
	pub fn begin(&self, ticket: Ticket) -> bool {
		let mut inner = self.lock();
		if inner.live.contains_key(&ticket.request) {
			return false;
		}
		inner.live.insert(ticket.request, Live { ticket, tokens: Vec::new(), readers: Vec::new() });
		true
	}

	/// A token of the streaming job of `request`.
	pub fn token(&self, request: u64, token_id: u32, text: &str) {
		let mut inner = self.lock();
		let Some(live) = inner.live.get_mut(&request) else { return };
		let index = u32::try_from(live.tokens.len()).unwrap_or(u32::MAX);
		let token = StreamedToken { index, token_id, text: text.to_owned() };
		live.readers.retain(|reader| reader.send(DeliveryEvent::Token(token.clone())).is_ok());
		live.tokens.push(token);
	}

	/// A job of `output.request` completed: write the output to disk, then tell the readers.
	/// (Blocking file I/O: call it off the async threads.)
	pub fn complete(&self, output: DeliveredOutput, streamed: bool) -> io::Result<()> {
		let request = output.request;
		let written = self.write(&output);
		let output = Arc::new(output);
		let mut inner = self.lock();
		if written.is_ok() && inner.stored_set.insert(request) {
			inner.stored.push_back(request);
			self.evict(&mut inner);
		}
		if streamed {
			if let Some(live) = inner.live.remove(&request) {
				for reader in live.readers {
					let _ = reader.send(DeliveryEvent::Output(Arc::clone(&output)));
				}
			}
		}
		written
	}

	fn write(&self, output: &DeliveredOutput) -> io::Result<()> {
		let bytes = serde_json::to_vec(output).map_err(io::Error::other)?;
		let path = self.path(output.request);
		let tmp = path.with_extension("json.tmp");
		std::fs::write(&tmp, bytes)?;
		std::fs::rename(&tmp, &path)
	}

	/// The streaming job of `request` failed.
	pub fn fail(&self, request: u64, message: &str) {
		let Some(live) = self.lock().live.remove(&request) else { return };
		for reader in live.readers {
			let _ = reader.send(DeliveryEvent::Failed(message.to_owned()));
		}
	}

	/// The stored output of `request`, read from disk.
	fn stored(&self, request: u64) -> Option<DeliveredOutput> {
		if !self.lock().stored_set.contains(&request) {
			return None;
		}
		let bytes = std::fs::read(self.path(request)).ok()?;
		serde_json::from_slice(&bytes).ok()
	}

	/// The ticket of `request`, whether its job runs or completed; `None`: this worker has no
	/// output for it (never ran it, or evicted it).
	pub fn ticket(&self, request: u64) -> Option<Ticket> {
		if let Some(live) = self.lock().live.get(&request) {
			return Some(live.ticket);
		}
		self.stored(request).and_then(|output| output.ticket())
	}

	/// Follow the output of `request`: the tokens so far and what follows, or the stored output.
	pub fn subscribe(&self, request: u64) -> Option<Subscription> {
		{
			let mut inner = self.lock();
			if let Some(live) = inner.live.get_mut(&request) {
				let (sender, events) = unbounded_channel();
				live.readers.push(sender);
				return Some(Subscription::Live { tokens: live.tokens.clone(), events });
			}
		}
		self.stored(request).map(|output| Subscription::Stored(Arc::new(output)))
	}

	/// Outputs on disk.
	pub fn stored_count(&self) -> usize {
		self.lock().stored.len()
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Signed by polkadot.js 16.5.6 with `//Alice` (`clients/`):
	/// `alice.sign(u8aWrapBytes(stringToU8a(message(0x01…01, 42, 1764700000))))`.
	const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
	const ALICE_SIGNATURE: &str = "a63b67fb40733f1fec74baaf55cc4ce11128402c59e57e7e5309b5394132693e2250d357d4891e05b27af051b7e29af05d6106ab8ba9de201391fadb0bc07d8a";
	const SIGNED_AT: u64 = 1_764_700_000;

	fn ticket() -> Ticket {
		Ticket { request: 42, owner: from_hex::<32>(ALICE).unwrap(), chain: [1; 32] }
	}

	fn credentials<'a>(
		account: &'a str,
		timestamp: &'a str,
		signature: &'a str,
	) -> Credentials<'a> {
		Credentials { account, timestamp, signature }
	}

	#[test]
	fn a_polkadot_js_signature_of_the_owner_is_accepted() {
		let ts = SIGNED_AT.to_string();
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, &ts, ALICE_SIGNATURE), SIGNED_AT),
			Ok(())
		);
		let with_prefix = (format!("0x{ALICE}"), format!("0x{ALICE_SIGNATURE}"));
		assert_eq!(
			authorize(&ticket(), credentials(&with_prefix.0, &ts, &with_prefix.1), SIGNED_AT + 60),
			Ok(())
		);
	}

	#[test]
	fn anything_but_the_owners_fresh_signature_of_this_request_is_refused() {
		let ts = SIGNED_AT.to_string();
		let bob = "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48";
		// Another account, even with a valid-looking signature.
		assert_eq!(
			authorize(&ticket(), credentials(bob, &ts, ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::NotTheOwner(42))
		);
		// The owner's signature replayed later.
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, &ts, ALICE_SIGNATURE), SIGNED_AT + 121),
			Err(ReadRefusal::Stale { now: SIGNED_AT + 121 })
		);
		// Another time, request or chain than signed.
		let other_ts = (SIGNED_AT + 1).to_string();
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, &other_ts, ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::BadSignature)
		);
		let other_request = Ticket { request: 43, ..ticket() };
		assert_eq!(
			authorize(&other_request, credentials(ALICE, &ts, ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::BadSignature)
		);
		let other_chain = Ticket { chain: [2; 32], ..ticket() };
		assert_eq!(
			authorize(&other_chain, credentials(ALICE, &ts, ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::BadSignature)
		);
		// A flipped bit; malformed values.
		let mut flipped = ALICE_SIGNATURE.to_owned();
		flipped.replace_range(0..2, "a7");
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, &ts, &flipped), SIGNED_AT),
			Err(ReadRefusal::BadSignature)
		);
		assert_eq!(
			authorize(&ticket(), credentials("zz", &ts, ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::Malformed("account"))
		);
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, "soon", ALICE_SIGNATURE), SIGNED_AT),
			Err(ReadRefusal::Malformed("timestamp"))
		);
		assert_eq!(
			authorize(&ticket(), credentials(ALICE, &ts, "00"), SIGNED_AT),
			Err(ReadRefusal::Malformed("signature"))
		);
	}

	fn output(request: u64) -> DeliveredOutput {
		DeliveredOutput {
			request,
			owner: ALICE.to_owned(),
			chain: "01".repeat(32),
			model: "m".to_owned(),
			token_ids: vec![1, 2, 3],
			text: "abc".to_owned(),
			finish_reason: "stop".to_owned(),
			canonical_output: "00".to_owned(),
			commitment: CommitmentInputs {
				node_index: 0,
				quorum_size: 1,
				leaf: "11".repeat(32),
				root: "22".repeat(32),
				output_hash: "33".repeat(32),
			},
			prompt_tokens: 5,
			completed_at: 0,
		}
	}

	fn temp_dir(label: &str) -> PathBuf {
		let dir =
			std::env::temp_dir().join(format!("atoma-outputs-{label}-{}", std::process::id()));
		let _ = std::fs::remove_dir_all(&dir);
		dir
	}

	#[test]
	fn a_reader_gets_the_tokens_so_far_then_the_rest_then_the_output() {
		let dir = temp_dir("stream");
		let store = OutputStore::open(&dir, 4).unwrap();
		let ticket = Ticket { request: 42, ..ticket() };
		assert!(store.begin(ticket));
		assert!(!store.begin(ticket), "one job streams a request");
		store.token(42, 1, "a");
		let Some(Subscription::Live { tokens, mut events }) = store.subscribe(42) else {
			panic!("live")
		};
		assert_eq!(tokens, vec![StreamedToken { index: 0, token_id: 1, text: "a".into() }]);
		store.token(42, 2, "b");
		store.complete(output(42), true).unwrap();
		assert!(matches!(events.try_recv(), Ok(DeliveryEvent::Token(t)) if t.index == 1));
		assert!(matches!(events.try_recv(), Ok(DeliveryEvent::Output(o)) if o.text == "abc"));
		assert!(matches!(store.subscribe(42), Some(Subscription::Stored(_))));
		assert_eq!(store.ticket(42), Some(ticket));
		assert_eq!(store.ticket(7), None);
		std::fs::remove_dir_all(&dir).unwrap();
	}

	#[test]
	fn outputs_survive_a_restart_and_the_oldest_go_first() {
		let dir = temp_dir("restart");
		{
			let store = OutputStore::open(&dir, 2).unwrap();
			for request in [1, 2, 3] {
				store.complete(output(request), false).unwrap();
				// File times order the outputs across a restart.
				std::thread::sleep(std::time::Duration::from_millis(20));
			}
			assert_eq!(store.stored_count(), 2);
			assert!(store.ticket(1).is_none(), "the oldest was evicted");
		}
		std::fs::write(dir.join("9.json.tmp"), b"half").unwrap();
		let store = OutputStore::open(&dir, 1).unwrap();
		assert_eq!(store.stored_count(), 1, "a smaller bound evicts at start");
		assert!(store.ticket(2).is_none());
		let Some(Subscription::Stored(kept)) = store.subscribe(3) else { panic!("stored") };
		assert_eq!(*kept, output(3));
		assert!(!dir.join("9.json.tmp").exists(), "half-written files are removed");
		std::fs::remove_dir_all(&dir).unwrap();
	}

	#[test]
	fn a_failed_job_tells_its_readers() {
		let dir = temp_dir("fail");
		let store = OutputStore::open(&dir, 4).unwrap();
		assert!(store.begin(ticket()));
		let Some(Subscription::Live { mut events, .. }) = store.subscribe(42) else {
			panic!("live")
		};
		store.fail(42, "boom");
		assert!(matches!(events.try_recv(), Ok(DeliveryEvent::Failed(m)) if m == "boom"));
		assert!(store.subscribe(42).is_none());
		std::fs::remove_dir_all(&dir).unwrap();
	}
}

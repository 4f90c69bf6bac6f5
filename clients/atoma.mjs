// What a client needs to receive an answer from a worker and check it against the chain, without
// trusting the worker: the byte layouts of `atoma-primitives` (output `O`, quorum leaves and root,
// the output digest), the signed read of a request's output, and the worker's event stream.
//
// The layouts are tested against the vectors the Rust crate is tested against
// (`primitives/tests/vectors/vectors.json`, `primitives/src/output_read.rs`): `node --test`.
import { blake2AsU8a } from '@polkadot/util-crypto';
import { hexToU8a, stringToU8a, u8aConcat, u8aToHex, u8aWrapBytes } from '@polkadot/util';

const TAG_OUTPUT = stringToU8a('atoma/output/v1');
const TAG_LEAF = stringToU8a('atoma/leaf/v1');
const TAG_ROOT = stringToU8a('atoma/root/v1');
const FINISH_REASONS = { stop: 0, length: 1 };

const u32le = (n) => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
};
const hash = (bytes) => blake2AsU8a(bytes, 256);

/// The canonical output `O` of `tokenIds` ending for `finishReason` (`'stop'`, `'length'`, or the
/// byte 0/1): tag ‖ finish byte ‖ count u32 LE ‖ ids u32 LE.
export function canonicalOutput(tokenIds, finishReason) {
  const reason = typeof finishReason === 'number' ? finishReason : FINISH_REASONS[finishReason];
  if (reason === undefined) throw new Error(`unknown finish reason ${finishReason}`);
  return u8aConcat(TAG_OUTPUT, new Uint8Array([reason]), u32le(tokenIds.length), ...tokenIds.map(u32le));
}

/// `H(atoma/leaf/v1 ‖ O ‖ index u32 LE)`.
export const outputLeaf = (output, index) => hash(u8aConcat(TAG_LEAF, output, u32le(index)));

/// `H(atoma/root/v1 ‖ n u32 LE ‖ leaf_0 ‖ … ‖ leaf_{n-1})`.
export const commitmentRoot = (leaves) => hash(u8aConcat(TAG_ROOT, u32le(leaves.length), ...leaves));

/// The output commitment a settled request holds for `output`: the quorum root over `n` leaves
/// (Single, Sampling), or `H(O)` (Cross-Validation).
export function outputCommitment(output, { n, crossValidation }) {
  if (crossValidation) return hash(output);
  return commitmentRoot(Array.from({ length: n }, (_, i) => outputLeaf(output, i)));
}

/// The message a request's owner signs to read its output (`atoma_primitives::output_read`).
export const outputReadMessage = (genesisHash, request, timestamp) =>
  `atoma/output-read/v1 chain=${genesisHash} request=${request} timestamp=${timestamp}`;

/// The headers of a read of `request`'s output, signed now by `pair` (a keyring pair; a browser
/// extension's `signRaw({ type: 'bytes', data })` signs the same wrapped bytes).
export function outputReadHeaders(pair, genesisHash, request, now = Date.now()) {
  const timestamp = Math.floor(now / 1000);
  const message = stringToU8a(outputReadMessage(genesisHash, request, timestamp));
  return {
    'x-atoma-account': u8aToHex(pair.publicKey),
    'x-atoma-timestamp': String(timestamp),
    'x-atoma-signature': u8aToHex(pair.sign(u8aWrapBytes(message))),
  };
}

/// Whether a delivered output (`GET /v1/requests/{id}/output`) is the one the chain settled:
/// `O` is rebuilt from its token ids and finish reason (so the worker's hex is not trusted), its
/// commitment recomputed and compared with `settledCommitment` (hex). Returns the reason it fails,
/// or `null` when it holds.
export function checkDelivered(delivered, settledCommitment, mode) {
  const output = canonicalOutput(delivered.token_ids, delivered.finish_reason);
  if (u8aToHex(output, -1, false) !== delivered.canonical_output) {
    return 'the canonical output does not encode the delivered tokens';
  }
  const commitment = u8aToHex(outputCommitment(output, mode), -1, false);
  const settled = u8aToHex(hexToU8a(settledCommitment), -1, false);
  return commitment === settled ? null : `commitment 0x${commitment} is not the settled 0x${settled}`;
}

/// Read the server-sent events of `response` (a fetch Response), calling `onEvent(name, data)`
/// for each; resolves when the stream ends.
export async function readEvents(response, onEvent) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

/// Stream the output of `request` from the worker at `url` as its owner `pair`: `onToken(token)`
/// for each token as it is generated; resolves with the whole delivered output. A 404 (the node
/// has not handed the job to its worker yet) is asked again every `retryMs` until `deadline`
/// (ms since the epoch); `signal` aborts.
export async function streamOutput({ url, request, pair, genesisHash, onToken, signal, deadline, retryMs = 100 }) {
  for (;;) {
    const response = await fetch(`${url.replace(/\/$/, '')}/v1/requests/${request}/output`, {
      headers: { ...outputReadHeaders(pair, genesisHash, request), accept: 'text/event-stream' },
      signal,
    });
    if (response.status === 404 && Date.now() < deadline) {
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      continue;
    }
    if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
    let output = null;
    let failure = null;
    await readEvents(response, (name, data) => {
      const value = JSON.parse(data);
      if (name === 'token') onToken?.(value);
      else if (name === 'output') output = value;
      else if (name === 'error') failure = value.error?.message ?? data;
    });
    if (output) return output;
    throw new Error(`${url}: ${failure ?? 'the stream ended without an output'}`);
  }
}

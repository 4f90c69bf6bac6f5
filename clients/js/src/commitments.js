// The byte layouts of `atoma-primitives` a client checks answers with, without trusting the worker
// that delivered them: the canonical output `O`, quorum leaves and root, the output digest. Tested
// against the vectors the Rust crate is tested against (`primitives/tests/vectors/vectors.json`).
import { blake2AsU8a } from '@polkadot/util-crypto';
import { hexToU8a, stringToU8a, u8aConcat, u8aToHex } from '@polkadot/util';

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

/**
 * The canonical output `O` of `tokenIds` ending for `finishReason`: tag ‖ finish byte ‖ count u32
 * LE ‖ ids u32 LE.
 * @param {number[]} tokenIds
 * @param {'stop' | 'length' | 0 | 1} finishReason
 * @returns {Uint8Array}
 */
export function canonicalOutput(tokenIds, finishReason) {
  const reason = typeof finishReason === 'number' ? finishReason : FINISH_REASONS[finishReason];
  if (reason === undefined) throw new Error(`unknown finish reason ${finishReason}`);
  return u8aConcat(TAG_OUTPUT, new Uint8Array([reason]), u32le(tokenIds.length), ...tokenIds.map(u32le));
}

/**
 * `H(atoma/leaf/v1 ‖ O ‖ index u32 LE)`: the leaf of the node at quorum position `index`.
 * @type {(output: Uint8Array, index: number) => Uint8Array}
 */
export const outputLeaf = (output, index) => hash(u8aConcat(TAG_LEAF, output, u32le(index)));

/**
 * `H(atoma/root/v1 ‖ n u32 LE ‖ leaf_0 ‖ … ‖ leaf_{n-1})`: the quorum root.
 * @type {(leaves: Uint8Array[]) => Uint8Array}
 */
export const commitmentRoot = (leaves) => hash(u8aConcat(TAG_ROOT, u32le(leaves.length), ...leaves));

/**
 * The output commitment a settled request holds for `output`: the quorum root over `n` leaves
 * (Single, Sampling), or `H(O)` (Cross-Validation).
 * @param {Uint8Array} output
 * @param {{ n: number, crossValidation?: boolean }} mode
 * @returns {Uint8Array}
 */
export function outputCommitment(output, { n, crossValidation }) {
  if (crossValidation) return hash(output);
  return commitmentRoot(Array.from({ length: n }, (_, i) => outputLeaf(output, i)));
}

/**
 * Whether a delivered output (`GET /v1/requests/{id}/output`) is the one the chain settled: `O` is
 * rebuilt from its token ids and finish reason (so the worker's hex is not trusted), its
 * commitment recomputed and compared with `settledCommitment` (hex).
 * @param {{ token_ids: number[], finish_reason: 'stop' | 'length', canonical_output?: string }} delivered
 * @param {string} settledCommitment
 * @param {{ n: number, crossValidation?: boolean }} mode
 * @returns {string | null} why it fails, or `null` when it holds
 */
export function checkDelivered(delivered, settledCommitment, mode) {
  const output = canonicalOutput(delivered.token_ids, delivered.finish_reason);
  if (u8aToHex(output, -1, false) !== delivered.canonical_output) {
    return 'the canonical output does not encode the delivered tokens';
  }
  const commitment = u8aToHex(outputCommitment(output, mode), -1, false);
  const settled = u8aToHex(hexToU8a(settledCommitment), -1, false);
  return commitment === settled ? null : `commitment 0x${commitment} is not the settled 0x${settled}`;
}


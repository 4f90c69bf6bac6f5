// Receipts: what a request's owner keeps of a verified answer, and the check anyone repeats later
// from chain state alone: the submission's block and extrinsic, the settlement's block and event,
// and the answer's tokens, whose commitment is recomputed exactly as `atoma-primitives` does.
//
// The check reads blocks and their events. Blocks are kept by every node; the events of a block
// need its state, which a node prunes after 256 blocks unless it runs with
// `--state-pruning archive`: re-verify old receipts against an archive node.
import { u8aToHex } from '@polkadot/util';

import { canonicalOutput, outputCommitment } from './commitments.js';

/**
 * @typedef {object} Receipt
 * @property {1} version
 * @property {string} chain the genesis hash
 * @property {number} request the request id
 * @property {{ block: number, hash: string, extrinsic: number, extrinsicHash: string }} submitted
 *   the block whose extrinsic `extrinsic` (by index, and its hash) submitted the request
 * @property {{ block: number, hash: string }} settled the block whose event settled it
 * @property {string} commitment the settled output commitment (hex)
 * @property {number[]} nodes the nodes that executed it
 * @property {{ tokenIds: number[], finishReason: 'stop' | 'length' }} output the answer's tokens
 */

/** The calls that submit a request: a user's, or a question of the example pallet. */
const SUBMITTING_CALLS = [['inference', 'submitRequest'], ['oracle', 'ask']];

const sameHex = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

/** The events of the block `hash` about `request`, each with the extrinsic index it came from. */
async function requestEvents(api, hash, request) {
  const records = await (await api.at(hash)).query.system.events();
  return records
    .filter(({ event }) => event.data.request?.toNumber?.() === request)
    .map(({ event, phase }) => ({ event, extrinsic: phase.isApplyExtrinsic ? phase.asApplyExtrinsic.toNumber() : null }));
}

/** The settlement of `request` among `events`: the commitment and nodes, or `null`. */
function settlementIn(api, events) {
  for (const { event } of events) {
    if (api.events.inference.RequestSettled.is(event)) {
      return { commitment: event.data.outputCommitment.toHex(), nodes: event.data.nodes.map((n) => n.toNumber()) };
    }
    // A dispute that found the winning output settles the request on it.
    if (api.events.inference.DisputeConcluded.is(event) && event.data.outputCommitment.isSome) {
      return { commitment: event.data.outputCommitment.unwrap().toHex(), nodes: event.data.honest.map((n) => n.toNumber()) };
    }
  }
  return null;
}

/**
 * The receipt of `request`, read from the finalized chain: the blocks from `fromBlock` on are
 * searched for its submission and settlement (at most `maxBlocks` of them).
 * @param {import('@polkadot/api').ApiPromise} api
 * @param {number} request
 * @param {number} fromBlock a block at or before the submission
 * @param {{ token_ids: number[], finish_reason: 'stop' | 'length' }} answer the delivered answer
 * @param {{ maxBlocks?: number }} [options]
 * @returns {Promise<Receipt>}
 */
export async function receiptFor(api, request, fromBlock, answer, { maxBlocks = 2_000 } = {}) {
  const finalized = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
  let submitted = null;
  let settled = null;
  for (let number = Math.max(fromBlock, 1); number <= finalized && number < fromBlock + maxBlocks && !settled; number++) {
    const hash = (await api.rpc.chain.getBlockHash(number)).toHex();
    const events = await requestEvents(api, hash, request);
    const submission = events.find(({ event }) => api.events.inference.RequestSubmitted.is(event));
    if (submission && submission.extrinsic !== null) {
      const block = await api.rpc.chain.getBlock(hash);
      const extrinsicHash = block.block.extrinsics[submission.extrinsic].hash.toHex();
      submitted = { block: number, hash, extrinsic: submission.extrinsic, extrinsicHash };
    }
    const settlement = submitted && settlementIn(api, events);
    if (settlement) settled = { block: number, hash, ...settlement };
  }
  if (!submitted || !settled) {
    throw new Error(`request ${request} is not submitted and settled in finalized blocks ${fromBlock}..${finalized}`);
  }
  return {
    version: 1,
    chain: api.genesisHash.toHex(),
    request,
    submitted,
    settled: { block: settled.block, hash: settled.hash },
    commitment: settled.commitment,
    nodes: settled.nodes,
    output: { tokenIds: answer.token_ids, finishReason: answer.finish_reason },
  };
}

/**
 * Re-verify `receipt` from chain state alone, trusting nothing in it:
 * 1. it is of this chain, and both of its blocks are finalized blocks of it;
 * 2. the submission block's extrinsic at the receipt's index has the receipt's hash, is a call
 *    that submits a request (`inference.submitRequest`, `oracle.ask`), and its event
 *    `inference.RequestSubmitted` names the request; the verification mode is read from the call;
 * 3. the settlement block's event (`inference.RequestSettled`, or a `DisputeConcluded` with a
 *    winning output) settles that request on the receipt's commitment and nodes;
 * 4. the commitment recomputed from the receipt's tokens, in that mode, is the settled one.
 *
 * @param {import('@polkadot/api').ApiPromise} api
 * @param {Receipt} receipt
 * @returns {Promise<{ ok: true } | { ok: false, reason: string }>}
 */
export async function verifyReceipt(api, receipt) {
  const fail = (reason) => ({ ok: false, reason });
  try {
    if (receipt?.version !== 1) return fail('not a version 1 receipt');
    if (!sameHex(receipt.chain, api.genesisHash.toHex())) return fail('the receipt is of another chain');
    const finalized = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
    for (const [name, at] of [['submission', receipt.submitted], ['settlement', receipt.settled]]) {
      if (!Number.isInteger(at?.block) || at.block > finalized) return fail(`the ${name} block is not finalized`);
      const canonical = (await api.rpc.chain.getBlockHash(at.block)).toHex();
      if (!sameHex(canonical, at.hash)) return fail(`the ${name} block is not the chain's block #${at.block}`);
    }

    const { block } = await api.rpc.chain.getBlock(receipt.submitted.hash);
    const extrinsic = block.extrinsics[receipt.submitted.extrinsic];
    if (!extrinsic || !sameHex(extrinsic.hash.toHex(), receipt.submitted.extrinsicHash)) {
      return fail('no such extrinsic in the submission block');
    }
    const { section, method } = extrinsic.method;
    if (!SUBMITTING_CALLS.some(([s, m]) => s === section && m === method)) {
      return fail(`the extrinsic is ${section}.${method}, which submits no request`);
    }
    const submittedEvents = await requestEvents(api, receipt.submitted.hash, receipt.request);
    const submission = submittedEvents.find(({ event }) => api.events.inference.RequestSubmitted.is(event));
    if (!submission || submission.extrinsic !== receipt.submitted.extrinsic) {
      return fail(`the extrinsic did not submit request ${receipt.request}`);
    }
    const mode = extrinsic.method.args[0].mode;

    const settlement = settlementIn(api, await requestEvents(api, receipt.settled.hash, receipt.request));
    if (!settlement) return fail(`request ${receipt.request} did not settle in the settlement block`);
    if (!sameHex(settlement.commitment, receipt.commitment)) return fail('the chain settled another commitment');
    if (JSON.stringify(settlement.nodes) !== JSON.stringify(receipt.nodes)) return fail('other nodes executed it');

    const output = canonicalOutput(receipt.output.tokenIds, receipt.output.finishReason);
    const n = mode.isSampling ? mode.asSampling.n.toNumber() : 1;
    const recomputed = u8aToHex(outputCommitment(output, { n, crossValidation: mode.isCrossValidation }));
    if (!sameHex(recomputed, settlement.commitment)) return fail('the answer does not hash to the settled commitment');
    return { ok: true };
  } catch (e) {
    return fail(`the chain could not be read: ${e.message}`);
  }
}

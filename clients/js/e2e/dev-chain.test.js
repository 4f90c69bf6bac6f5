// The package against a real dev chain (./harness.js: `atoma-node --dev` paired with a real
// `atoma-worker` serving the default model). A prompt is asked inline and by hash; each answer
// streams from the worker, is verified against the settled commitment, and comes with a receipt
// that `verifyReceipt` re-checks from chain state alone, while altered receipts are refused.
//
//   node --test e2e/     (scripts/test.sh runs it after the workspace build)
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { u8aToHex } from '@polkadot/util';

import { ask, inputHash, verifyReceipt } from '../src/index.js';
import { startDevChain } from './harness.js';

let chain;
let api;
let bob;

before(async () => {
  chain = await startDevChain();
  ({ api } = chain);
  bob = chain.keyring.addFromUri('//Bob');
});

after(() => chain?.stop());

test('an answer is verified and its receipt re-verifies from chain state; altered receipts do not', async () => {
  const { answer, receipt } = await ask({ api, signer: bob, prompt: 'What is the capital of France?', maxTokens: 8 });
  assert.ok(answer.token_ids.length > 0);
  assert.deepEqual(receipt.output, { tokenIds: answer.token_ids, finishReason: answer.finish_reason });
  assert.deepEqual(receipt.nodes, [0]);
  assert.deepEqual(await verifyReceipt(api, receipt), { ok: true });
  // A receipt survives a round trip through JSON: that is how it is kept.
  assert.deepEqual(await verifyReceipt(api, JSON.parse(JSON.stringify(receipt))), { ok: true });

  const altered = (change) => {
    const copy = structuredClone(receipt);
    change(copy);
    return verifyReceipt(api, copy);
  };
  const refused = async (change, reason) => {
    const result = await altered(change);
    assert.equal(result.ok, false);
    assert.match(result.reason, reason);
  };
  await refused((r) => { r.output.tokenIds[0] += 1; }, /does not hash to the settled commitment/);
  await refused((r) => { r.output.finishReason = r.output.finishReason === 'stop' ? 'length' : 'stop'; }, /does not hash/);
  await refused((r) => { r.commitment = u8aToHex(new Uint8Array(32).fill(7)); }, /another commitment/);
  await refused((r) => { r.nodes = [1]; }, /other nodes/);
  await refused((r) => { r.request += 1; }, /did not submit request/);
  await refused((r) => { r.settled.hash = r.submitted.hash; }, /not the chain's block/);
  await refused((r) => { r.submitted.extrinsic = 0; r.submitted.extrinsicHash = '0x00'; }, /no such extrinsic/);
  await refused((r) => { r.settled.block += 10_000; }, /not finalized/);
  await refused((r) => { r.chain = u8aToHex(new Uint8Array(32)); }, /another chain/);
});

test('a prompt given by hash stays off chain, is uploaded to the selected worker, and settles', async () => {
  const prompt = 'Name a primary colour.';
  const { answer, receipt } = await ask({ api, signer: bob, prompt, maxTokens: 6, byHash: true });
  assert.ok(answer.token_ids.length > 0);
  assert.deepEqual(await verifyReceipt(api, receipt), { ok: true });
  // The submission carries the hash of the chat messages, not the prompt.
  const { block } = await api.rpc.chain.getBlock(receipt.submitted.hash);
  const { input } = block.extrinsics[receipt.submitted.extrinsic].method.args[0];
  assert.ok(input.isHash);
  const messages = JSON.stringify([{ role: 'user', content: prompt }]);
  assert.equal(input.asHash.toHex(), u8aToHex(inputHash(messages)));
});

// The package against a real dev chain: `atoma-node --dev` paired with a real `atoma-worker`
// serving the default model. A prompt is asked inline and by hash; each answer streams from the
// worker, is verified against the settled commitment, and comes with a receipt that
// `verifyReceipt` re-checks from chain state alone, while altered receipts are refused.
//
//   node --test e2e/     (scripts/test.sh runs it after the workspace build)
//
// Environment: ATOMA_NODE_BIN and ATOMA_WORKER_BIN (default: $CARGO_TARGET_DIR/release, else
// ~/.cache/atoma-ci/target/release), ATOMA_MODEL_GGUF (default: models/ in the repository).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import { ask, inputHash, verifyReceipt } from '../src/index.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const binDir = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/atoma-ci/target'), 'release');
const NODE_BIN = process.env.ATOMA_NODE_BIN ?? join(binDir, 'atoma-node');
const WORKER_BIN = process.env.ATOMA_WORKER_BIN ?? join(binDir, 'atoma-worker');
const MODEL_GGUF = process.env.ATOMA_MODEL_GGUF ?? join(repo, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');

const children = [];
let api;
let bob;
let outputDir;

const freePort = () => new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

/** Start the worker; resolves with its operator and public URLs once it prints them. */
function startWorker() {
  const child = spawn(WORKER_BIN, [
    '--model', `smollm2-135m-instruct=${MODEL_GGUF}`,
    '--listen', '127.0.0.1:0', '--public-listen', '127.0.0.1:0', '--output-dir', outputDir,
  ], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let publicUrl;
    child.once('exit', (code) => reject(new Error(`the worker exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('atoma-worker public on ')) publicUrl = line.slice('atoma-worker public on '.length);
      if (line.startsWith('atoma-worker listening on ')) {
        resolve({ url: line.slice('atoma-worker listening on '.length), publicUrl });
      }
    });
  });
}

/** Connect to the node's JSON-RPC once it accepts connections (the node takes a while to start). */
async function connect(port) {
  const deadline = Date.now() + 180_000;
  const accepts = () => new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => { socket.end(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
  while (!(await accepts())) {
    if (Date.now() > deadline) throw new Error(`the node's RPC did not come up on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return ApiPromise.create({ provider: new WsProvider(`ws://127.0.0.1:${port}`), noInitWarn: true });
}

/** Sign and send `tx` as `pair`; resolves once it is in a block, rejects on a dispatch error. */
const send = (tx, pair) => new Promise((resolve, reject) => {
  tx.signAndSend(pair, ({ status, dispatchError }) => {
    if (dispatchError) reject(new Error(dispatchError.toString()));
    else if (status.isInBlock) resolve();
  }).catch(reject);
});

before(async () => {
  for (const [what, path] of [['atoma-node', NODE_BIN], ['atoma-worker', WORKER_BIN], ['the model', MODEL_GGUF]]) {
    assert.ok(existsSync(path), `${what} is missing at ${path}: build the workspace and fetch the model first`);
  }
  await cryptoWaitReady();
  outputDir = mkdtempSync(join(tmpdir(), 'atoma-js-e2e-'));
  const worker = await startWorker();
  const [rpcPort, p2pPort] = [await freePort(), await freePort()];
  const node = spawn(NODE_BIN, [
    '--dev', '--tmp', '--inference-worker-url', worker.url, '--rpc-port', String(rpcPort),
    '--port', String(p2pPort), '--no-prometheus', '--no-telemetry', '--no-mdns',
  ], { stdio: 'ignore' });
  children.push(node);
  api = await connect(rpcPort);
  const keyring = new Keyring({ type: 'sr25519' });
  bob = keyring.addFromUri('//Bob');
  // Clients find a node's worker at the URL the node registry holds: Alice, the dev node's
  // operator, points it at this worker.
  await send(api.tx.nodeRegistry.setUrl(0, worker.publicUrl), keyring.addFromUri('//Alice'));
});

after(async () => {
  await api?.disconnect();
  for (const child of children) child.kill('SIGKILL');
  if (outputDir) rmSync(outputDir, { recursive: true, force: true });
});

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

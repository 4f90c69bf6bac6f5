// A real dev chain for end-to-end tests: `atoma-node --dev` paired with a real `atoma-worker`
// serving the default model, on free ports, in temporary directories. Alice, the dev node's
// operator, registers the worker's public URL, where clients (and browsers) read their answers.
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
import { fileURLToPath } from 'node:url';

import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const binDir = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache/atoma-ci/target'), 'release');
const NODE_BIN = process.env.ATOMA_NODE_BIN ?? join(binDir, 'atoma-node');
const WORKER_BIN = process.env.ATOMA_WORKER_BIN ?? join(binDir, 'atoma-worker');
const MODEL_GGUF = process.env.ATOMA_MODEL_GGUF ?? join(repo, 'models/SmolLM2-135M-Instruct.Q4_1.gguf');

/** A port nobody listens on now. */
export const freePort = () => new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

/** Start the worker; resolves with its operator and public URLs once it prints them. */
function startWorker(children, outputDir) {
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
export const send = (tx, pair) => new Promise((resolve, reject) => {
  tx.signAndSend(pair, ({ status, dispatchError }) => {
    if (dispatchError) reject(new Error(dispatchError.toString()));
    else if (status.isInBlock) resolve();
  }).catch(reject);
});

/**
 * Start a dev node and its worker, and connect.
 * @returns {Promise<{ api: ApiPromise, keyring: Keyring, ws: string, workerUrl: string,
 *   workerPublicUrl: string, stop: () => Promise<void> }>} (`workerUrl`: the worker's operator
 *   address, which runs jobs; `workerPublicUrl`: the routes users and browsers call)
 */
export async function startDevChain() {
  for (const [what, path] of [['atoma-node', NODE_BIN], ['atoma-worker', WORKER_BIN], ['the model', MODEL_GGUF]]) {
    assert.ok(existsSync(path), `${what} is missing at ${path}: build the workspace and fetch the model first`);
  }
  await cryptoWaitReady();
  const children = [];
  const outputDir = mkdtempSync(join(tmpdir(), 'atoma-js-e2e-'));
  let api;
  const stop = async () => {
    await api?.disconnect();
    for (const child of children) child.kill('SIGKILL');
    rmSync(outputDir, { recursive: true, force: true });
  };
  try {
    const worker = await startWorker(children, outputDir);
    const [rpcPort, p2pPort] = [await freePort(), await freePort()];
    children.push(spawn(NODE_BIN, [
      '--dev', '--tmp', '--inference-worker-url', worker.url, '--rpc-port', String(rpcPort),
      '--port', String(p2pPort), '--no-prometheus', '--no-telemetry', '--no-mdns',
    ], { stdio: 'ignore' }));
    api = await connect(rpcPort);
    const keyring = new Keyring({ type: 'sr25519' });
    // Clients find a node's worker at the URL the node registry holds: Alice, the dev node's
    // operator, points it at this worker's public address.
    await send(api.tx.nodeRegistry.setUrl(0, worker.publicUrl), keyring.addFromUri('//Alice'));
    return { api, keyring, ws: `ws://127.0.0.1:${rpcPort}`, workerUrl: worker.url, workerPublicUrl: worker.publicUrl, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

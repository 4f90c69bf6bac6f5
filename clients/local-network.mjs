// A local network of three execution nodes for the benchmark scripts (not a test): Alice
// validates with the dev genesis's execution node, Bob and Charlie run full nodes whose operators
// register and subscribe execution nodes (ids 1 and 2), and each node has its own inference
// worker. Used by clients/bench-latency.mjs and clients/bench-throughput.mjs.
//
// Environment (set by their scripts): NODE_BIN, WORKER_BIN, MODEL, BENCH_DIR.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';

import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

import { MODEL } from '@atoma-appchain/client';

export const UNITS = 10n ** 12n;
const { NODE_BIN, WORKER_BIN, MODEL: MODEL_PATH, BENCH_DIR } = process.env;
const children = [];
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function start(name, bin, args, env = {}) {
  const log = openSync(`${BENCH_DIR}/${name}.log`, 'w');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

export async function waitFor(what, check, ms = 180_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try { if (await check()) return; } catch { /* not up yet */ }
    await sleep(500);
  }
  throw new Error(`${what} did not come up (logs in ${BENCH_DIR})`);
}

// One thread per worker, so that two workers of a quorum run side by side on two cores the way
// two machines would; the native baseline runs the same way.
const WORKER_ENV = { RAYON_NUM_THREADS: '1' };

function startWorker(name, listen, publicListen, rpcPort) {
  start(`worker-${name}`, WORKER_BIN, [
    '--model', `${MODEL}=${MODEL_PATH}`, '--listen', `127.0.0.1:${listen}`,
    '--public-listen', `127.0.0.1:${publicListen}`, '--node-rpc-url', `http://127.0.0.1:${rpcPort}`,
    '--output-dir', `${BENCH_DIR}/outputs-${name}`,
  ], WORKER_ENV);
  return waitFor(`worker ${name}`, async () => (await fetch(`http://127.0.0.1:${listen}/health`)).ok);
}

/// The worker's own time for `prompt`: first token and whole answer, streamed from Alice's
/// worker's operator address with the parameters the chain uses (greedy).
export async function native(prompt, maxTokens) {
  const started = performance.now();
  const response = await fetch('http://127.0.0.1:8080/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL, messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens,
      temperature: 0, stream: true,
    }),
  });
  let firstToken;
  for await (const _chunk of response.body) firstToken ??= performance.now() - started;
  return { first_token: Math.round(firstToken), answer: Math.round(performance.now() - started) };
}

/// Starts the three workers and nodes on a copy of the dev chain spec with `slotMs` slots, registers
/// Bob's and Charlie's execution nodes and waits for the epoch in which they serve. Returns the API
/// (connected to Alice's node) and a keyring.
export async function startNetwork({ slotMs = 3000 } = {}) {
  mkdirSync(BENCH_DIR, { recursive: true });
  const nodeKey = `${BENCH_DIR}/alice.key`;
  execFileSync(NODE_BIN, ['key', 'generate-node-key', '--file', nodeKey], { stdio: 'ignore' });
  const alicePeer = execFileSync(NODE_BIN, ['key', 'inspect-node-key', '--file', nodeKey]).toString().trim();
  // Alice's execution node is in the dev genesis with the URL http://127.0.0.1:8081 (the public one).
  await startWorker('alice', 8080, 8081, 9944);
  await startWorker('bob', 8090, 8091, 9945);
  await startWorker('charlie', 8100, 8101, 9946);
  // The dev chain spec, with the slot duration asked for.
  const spec = JSON.parse(execFileSync(NODE_BIN, ['export-chain-spec', '--chain', 'dev'], { maxBuffer: 1 << 26 }).toString());
  spec.genesis.runtimeGenesis.patch.blockTime = { slotDuration: slotMs };
  const chain = `${BENCH_DIR}/dev-spec.json`;
  writeFileSync(chain, JSON.stringify(spec));
  const common = ['--chain', chain, '--tmp', '--no-prometheus', '--no-telemetry', '--no-mdns'];
  // What `--dev` is, on this chain spec.
  start('node-alice', NODE_BIN, ['--alice', '--validator', '--force-authoring', ...common,
    '--rpc-port', '9944', '--port', '30333', '--node-key-file', nodeKey,
    '--inference-worker-url', 'http://127.0.0.1:8080']);
  const bootnode = `/ip4/127.0.0.1/tcp/30333/p2p/${alicePeer}`;
  for (const [who, rpc, p2p, worker] of [['bob', 9945, 30334, 8090], ['charlie', 9946, 30335, 8100]]) {
    start(`node-${who}`, NODE_BIN, [`--${who}`, ...common, '--rpc-port', String(rpc),
      '--port', String(p2p), '--bootnodes', bootnode, '--unsafe-force-node-key-generation',
      '--inference-worker-url', `http://127.0.0.1:${worker}`]);
  }
  await waitFor('the dev chain', async () => (await fetch('http://127.0.0.1:9944/health')).ok);
  const api = await ApiPromise.create({ provider: new WsProvider('ws://127.0.0.1:9944'), noInitWarn: true });
  const keyring = new Keyring({ type: 'sr25519' });

  // Bob's and Charlie's operators register their nodes (ids 1 and 2) and subscribe them.
  for (const [who, id, publicPort] of [['bob', 1, 8091], ['charlie', 2, 8101]]) {
    const operator = keyring.addFromUri(`//${who[0].toUpperCase()}${who.slice(1)}`);
    const calls = [
      api.tx.nodeRegistry.registerNode(0, operator.publicKey, `http://127.0.0.1:${publicPort}`, 1000n * UNITS, UNITS / 1_000_000n),
      api.tx.modelRegistry.subscribe(id, MODEL),
    ];
    for (const call of calls) {
      await new Promise((resolve, reject) => call.signAndSend(operator, { nonce: -1 }, ({ status, dispatchError }) => {
        if (dispatchError) reject(new Error(`${who}: ${dispatchError.toString()}`));
        if (status.isInBlock) resolve();
      }).catch(reject));
    }
  }
  process.stderr.write('waiting for the next epoch, when Bob\'s and Charlie\'s nodes serve\n');
  await waitFor('the new nodes', async () => {
    const epoch = (await api.query.nodeRegistry.currentEpoch()).toNumber();
    for (const id of [1, 2]) {
      const node = await api.query.nodeRegistry.nodes(id);
      if (node.isNone || node.unwrap().activeFrom.toNumber() > epoch) return false;
    }
    return true;
  }, 300_000);
  return { api, keyring };
}

export const stopAll = () => { for (const child of children) child.kill('SIGTERM'); };

/// Runs `main`, then stops every process it started (also on Ctrl-C or failure).
export function runMain(main) {
  process.on('SIGINT', () => { stopAll(); process.exit(130); });
  main().then(stopAll, (e) => { console.error(e.message ?? e); stopAll(); process.exit(1); });
}

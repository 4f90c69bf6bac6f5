// End-to-end throughput with real workers (not a test; it asserts nothing): how many requests a
// local network of three execution nodes, each with its own worker, settles per block when many
// users ask at once, and what limits it. Every request is a real one: `ask()` (request.js)
// submits it, streams the answer from the drawn nodes' workers and waits for its settlement, the
// way a user's client does. Prints a markdown table (kept in docs/benchmarks.md).
//
//   scripts/bench-throughput.sh [--requests 24] [--mode single] [--tokens 16] [--slot-ms 3000]
//
// The ideal it prints beside the measurement is what the workers could serve if they did nothing
// but this prompt, one job after another: blocks x (workers / nodes per request) / the native
// answer time. The gap to it is the chain's part (inclusion, the draw two blocks later, commitment,
// settlement) plus the nodes and the client sharing the same two cores.
//
// Environment (set by the script): NODE_BIN, WORKER_BIN, MODEL, BENCH_DIR (clients/local-network.mjs).
import { ask } from '@atoma-appchain/client';

import { UNITS, native, runMain, startNetwork } from './local-network.mjs';

const PROMPT = 'What is the capital of France?';
const WORKERS = 3;
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const requests = Number(option('--requests') || 24);
const mode = option('--mode') || 'single';
const tokens = Number(option('--tokens') || 16);
const slotMs = Number(option('--slot-ms') || 3000);
// Nodes that run each request: one for Single, n for Sampling.
const nodesPerRequest = mode === 'single' ? 1 : Number(mode.split(':')[1] || 1);
const log = (line) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main() {
  const { api, keyring } = await startNetwork({ slotMs });

  // Bob's and Charlie's nodes registered with 1,000 TOMA: ten jobs' collateral (100 TOMA each)
  // at once. Alice's genesis node has 10,000; the others add as much, so that collateral does not
  // cap a quorum's concurrent jobs before the workers do (it counts two blocks later).
  await Promise.all(['Bob', 'Charlie'].map((who, i) => new Promise((resolve, reject) => api.tx.nodeRegistry
    .addCollateral(i + 1, 9_000n * UNITS)
    .signAndSend(keyring.addFromUri(`//${who}`), { nonce: -1 }, ({ status, dispatchError }) => {
      if (dispatchError) reject(new Error(`${who}: ${dispatchError.toString()}`));
      if (status.isInBlock) resolve();
    }).catch(reject))));

  // One user per request, so that every request is submitted in the same block, without nonces
  // waiting on each other. Alice funds them in one batch.
  const alice = keyring.addFromUri('//Alice');
  const users = Array.from({ length: requests }, (_, i) => keyring.addFromUri(`//ThroughputUser${i}`));
  let nonce = (await api.rpc.system.accountNextIndex(alice.address)).toNumber();
  await Promise.all(users.map((user) => new Promise((resolve, reject) => api.tx.balances
    .transferKeepAlive(user.address, 100n * UNITS)
    .signAndSend(alice, { nonce: nonce++ }, ({ status, dispatchError }) => {
      if (dispatchError) reject(new Error(dispatchError.toString()));
      if (status.isInBlock) resolve();
    }).catch(reject))));

  const baseline = [];
  for (let i = 0; i < 3; i++) baseline.push(await native(PROMPT, tokens));
  const nativeAnswer = [...baseline.map((b) => b.answer)].sort((a, b) => a - b)[1];
  log(`native answer ${nativeAnswer} ms; ${requests} ${mode} requests of ${tokens} tokens at once`);

  const started = performance.now();
  const results = await Promise.allSettled(users.map((signer) => ask({
    api, signer, prompt: PROMPT, mode, maxTokens: tokens, timeout: 100,
  })));
  const wall = performance.now() - started;
  const settled = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  for (const failure of results.filter((r) => r.status === 'rejected')) log(`failed: ${failure.reason?.message}`);

  // Requests settled per block, from the block that included the first to the last settlement.
  const included = settled.map((r) => r.blocks.included);
  const first = Math.min(...included);
  const last = Math.max(...settled.map((r) => r.blocks.settled));
  const perBlock = new Map();
  for (const r of settled) perBlock.set(r.blocks.settled, (perBlock.get(r.blocks.settled) ?? 0) + 1);
  const span = last - first + 1;
  const idealPerBlock = (slotMs * WORKERS) / nodesPerRequest / nativeAnswer;

  console.log('| block | settled |');
  console.log('|---:|---:|');
  for (let block = first; block <= last; block++) console.log(`| ${block} | ${perBlock.get(block) ?? 0} |`);
  console.log(`\n${settled.length} of ${requests} ${mode} requests (${tokens} output tokens) settled in ${span} blocks `
    + `(${(wall / 1000).toFixed(1)} s) from the block that included the first: `
    + `${(settled.length / span).toFixed(2)} a block on average, at most ${Math.max(...perBlock.values())}. `
    + `Native answer ${nativeAnswer} ms on one worker thread; ${WORKERS} workers could finish `
    + `${idealPerBlock.toFixed(2)} requests a block (${slotMs} ms slots) doing nothing else.`);
  const selectedAfter = settled.map((r, i) => r.blocks.selected - included[i]);
  const settledAfter = settled.map((r, i) => r.blocks.settled - included[i]);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`Median blocks from inclusion: drawn +${median(selectedAfter)}, settled +${median(settledAfter)} `
    + `(the last +${Math.max(...settledAfter)}).`);
  await api.disconnect();
}

runMain(main);

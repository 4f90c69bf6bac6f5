// Latency as a user sees it: a local network of three execution nodes (Alice validates, Bob and
// Charlie register and subscribe), each with its own worker; every verification mode at 16 and 128
// output tokens, timed from submission by `ask()` (request.mjs), beside the worker's native
// inference time for the same prompt. Prints a markdown table (kept in docs/benchmarks.md).
//
//   scripts/bench-latency.sh [--runs N] [--slot-ms MS] [--tokens 16,128]
//
// Builds nothing: run scripts/run-dev.sh's build first. `--slot-ms` runs the network on a copy of
// the dev chain spec with another slot duration (`blockTime.slotDuration`, 3000 by default), to
// measure what the block time costs.
//
// Environment (set by the script): NODE_BIN, WORKER_BIN, MODEL, BENCH_DIR.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';

import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

import { MODEL, ask } from '@atoma-appchain/client';

const PROMPT = 'Write a short story about a lighthouse keeper.';
const UNITS = 10n ** 12n;
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(option('--runs') || 3) || 3;
const slotMs = Number(option('--slot-ms') || 3000);
const tokenCounts = (option('--tokens') || '16,128').split(',').map(Number);
const { NODE_BIN, WORKER_BIN, MODEL: MODEL_PATH, BENCH_DIR } = process.env;
const children = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function start(name, bin, args, env = {}) {
  const log = openSync(`${BENCH_DIR}/${name}.log`, 'w');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
  children.push(child);
  return child;
}

async function waitFor(what, check, ms = 180_000) {
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

/// The worker's own time for the prompt: first token and whole answer, streamed from its operator
/// address with the parameters the chain uses (greedy).
async function native(maxTokens) {
  const started = performance.now();
  const response = await fetch('http://127.0.0.1:8080/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: MODEL, messages: [{ role: 'user', content: PROMPT }], max_tokens: maxTokens,
      temperature: 0, stream: true,
    }),
  });
  let firstToken;
  for await (const _chunk of response.body) firstToken ??= performance.now() - started;
  return { first_token: Math.round(firstToken), answer: Math.round(performance.now() - started) };
}

async function main() {
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

  const user = keyring.addFromUri('//Dave');
  const rows = [];
  for (const tokens of tokenCounts) {
    const baseline = [];
    for (let i = 0; i < runs; i++) baseline.push(await native(tokens));
    // Cross-Validation settles after its commit window (the request's timeout) and the reveal:
    // the shortest window the verifier's run fits in, with a block to prove its seat and a
    // block of margin.
    const slowest = Math.max(...baseline.map((b) => b.answer));
    const cvWindow = Math.max(3, Math.ceil(slowest / slotMs) + 2);
    // `+chain`: the destination is the chain, and the nodes publish the output once it settles.
    for (const row of ['single', 'sampling:2', 'sampling:3', 'cv:1:100', 'sampling:2+chain']) {
      const [mode, destination] = row.split('+');
      const measured = [];
      const timeout = mode.startsWith('cv') ? cvWindow : 40;
      for (let i = 0; i < runs; i++) {
        const { timings, answer, result, blocks } = await ask({
          api, signer: user, prompt: PROMPT, mode, maxTokens: tokens, timeout, onChain: destination === 'chain',
        });
        measured.push({
          ...timings,
          output_tokens: answer.token_ids.length,
          nodes: result.nodes.length,
          selected_after: blocks.selected - blocks.included,
          settled_after: blocks.settled - blocks.included,
          published_after: blocks.published === undefined ? undefined : blocks.published - blocks.included,
        });
        process.stderr.write(`${row} ${tokens} tokens (timeout ${timeout}): ${JSON.stringify({ timings, blocks, nodes: result.nodes.length })}\n`);
      }
      rows.push({ mode: mode.startsWith('cv') ? `${row} (window ${cvWindow})` : row, tokens, measured, baseline });
    }
  }

  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const col = (xs, key) => median(xs.map((x) => x[key]));
  console.log('| mode | max tokens | tokens | nodes | native first token | native answer | first token | answer | settled | settled / native | finalized | blocks: selected, settled |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const { mode, tokens, measured, baseline } of rows) {
    const [nFirst, nAll] = [col(baseline, 'first_token'), col(baseline, 'answer')];
    const settled = col(measured, 'settled');
    const published = measured[0].published === undefined ? ''
      : ` (on chain at ${col(measured, 'published')}, +${col(measured, 'published_after')})`;
    console.log(`| ${mode} | ${tokens} | ${col(measured, 'output_tokens')} | ${col(measured, 'nodes')} | ${nFirst} | ${nAll} `
      + `| ${col(measured, 'first_token')} | ${col(measured, 'answer')} | ${settled}${published} | ${(settled / nAll).toFixed(1)}x `
      + `| ${col(measured, 'finalized')} | +${col(measured, 'selected_after')}, +${col(measured, 'settled_after')} |`);
  }
  console.log(`\n${slotMs} ms slots; ms from submission, median of ${runs}; inclusion ${col(rows.flatMap((r) => r.measured), 'included')} ms, `
    + `selection ${col(rows.flatMap((r) => r.measured), 'selected')} ms (medians over every run)`);
  await api.disconnect();
}

const stopAll = () => { for (const child of children) child.kill('SIGTERM'); };
process.on('SIGINT', () => { stopAll(); process.exit(130); });
main().then(stopAll, (e) => { console.error(e.message ?? e); stopAll(); process.exit(1); });

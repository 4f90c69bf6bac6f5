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
// Environment (set by the script): NODE_BIN, WORKER_BIN, MODEL, BENCH_DIR (clients/local-network.mjs).
import { ask } from '@atoma-appchain/client';

import { native, runMain, startNetwork } from './local-network.mjs';

const PROMPT = 'Write a short story about a lighthouse keeper.';
const option = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const runs = Number(option('--runs') || 3) || 3;
const slotMs = Number(option('--slot-ms') || 3000);
const tokenCounts = (option('--tokens') || '16,128').split(',').map(Number);

async function main() {
  const { api, keyring } = await startNetwork({ slotMs });

  const user = keyring.addFromUri('//Dave');
  const rows = [];
  for (const tokens of tokenCounts) {
    const baseline = [];
    for (let i = 0; i < runs; i++) baseline.push(await native(PROMPT, tokens));
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

runMain(main);

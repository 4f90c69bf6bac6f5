// Send a prompt to the Atoma chain and print the verified answer.
//
//   node clients/ask.mjs "What is the capital of France?" [--ws ws://127.0.0.1:9944]
//        [--mode single | sampling:N | cv:N:PERCENT] [--max-tokens 32] [--signer //Bob]
//
// 1. Submits `inference.submitRequest` (signed by a dev account) for the default model.
// 2. Waits for `inference.RequestSettled` and prints the block, the output commitment, the
//    token count and the nodes that ran it.
// 3. Fetches the answer from the executing node's worker (its URL is in the node registry) by
//    running the same job with the chain's sampler seed, and checks the worker's commitment
//    against the chain's: the answer is printed only if it matches.
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

const MODEL = 'smollm2-135m-instruct';

function parseArgs(argv) {
  const args = { ws: 'ws://127.0.0.1:9944', mode: 'single', maxTokens: 32, signer: '//Bob' };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--ws') args.ws = argv[++i];
    else if (a === '--mode') args.mode = argv[++i];
    else if (a === '--max-tokens') args.maxTokens = Number(argv[++i]);
    else if (a === '--signer') args.signer = argv[++i];
    else rest.push(a);
  }
  args.prompt = rest.join(' ');
  if (!args.prompt) throw new Error('usage: node clients/ask.mjs "your prompt" [--mode ...]');
  return args;
}

function verificationMode(mode) {
  const [kind, n, percent] = mode.split(':');
  if (kind === 'single') return { Single: null };
  if (kind === 'sampling') return { Sampling: { n: Number(n ?? 2) } };
  if (kind === 'cv') return { CrossValidation: { n: Number(n ?? 1), p: Number(percent ?? 100) * 10_000_000 } };
  throw new Error(`unknown mode ${mode}`);
}

const hex = (u8a) => Buffer.from(u8a).toString('hex');

async function workerJob(url, body) {
  const submitted = await fetch(`${url}/v1/jobs`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (!submitted.ok) throw new Error(`worker refused the job: ${submitted.status} ${await submitted.text()}`);
  const { id } = await submitted.json();
  for (;;) {
    const view = await (await fetch(`${url}/v1/jobs/${id}`)).json();
    if (view.status === 'completed') return view;
    if (view.status === 'failed') throw new Error(`worker job failed: ${JSON.stringify(view.error)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const api = await ApiPromise.create({ provider: new WsProvider(args.ws), noInitWarn: true });
  const signer = new Keyring({ type: 'sr25519' }).addFromUri(args.signer);
  const messages = JSON.stringify([{ role: 'user', content: args.prompt }]);
  const spec = {
    model: MODEL,
    echelon: 0,
    input: { Inline: messages },
    // An upper bound on the prompt's tokens (at most one per byte, plus the chat template's
    // system prompt): a worker refuses a prompt with more, and the fee is charged on the count
    // the nodes commit, so a generous bound only holds more escrow until settlement.
    inputTokens: messages.length + 64,
    params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: args.maxTokens, seed: 0 },
    mode: verificationMode(args.mode),
    timeout: 40,
    destination: 'Worker',
  };

  const request = await new Promise((resolve, reject) => {
    api.tx.inference.submitRequest(spec).signAndSend(signer, ({ status, events, dispatchError }) => {
      if (dispatchError) {
        const e = dispatchError.isModule ? api.registry.findMetaError(dispatchError.asModule) : dispatchError;
        reject(new Error(`submit_request failed: ${e.section ?? ''}.${e.name ?? e.toString()}`));
      }
      const submitted = events.find(({ event }) => api.events.inference.RequestSubmitted.is(event));
      if (status.isInBlock && submitted) {
        const { request: id, escrow } = submitted.event.data;
        console.log(`submitted request ${id} in block ${status.asInBlock.toHex()} (escrow ${escrow} plancks)`);
        resolve(id.toNumber());
      }
    }).catch(reject);
  });

  // Watch each new block's events for the end of the request.
  const [settled, header] = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('not settled within 5 minutes')), 300_000);
    api.rpc.chain.subscribeNewHeads(async (head) => {
      const records = await api.query.system.events.at(head.hash);
      for (const { event } of records) {
        const done = api.events.inference.RequestSettled.is(event) || api.events.inference.RequestFailed.is(event)
          || api.events.inference.RequestDisputed.is(event);
        if (done && event.data.request.toNumber() === request) {
          clearTimeout(timer);
          resolve([event, head]);
        }
      }
    });
  });
  if (!api.events.inference.RequestSettled.is(settled)) {
    throw new Error(`request ${request} ended with ${settled.method}: ${settled.data.toString()}`);
  }
  const result = (await api.query.inference.results(request)).unwrap();
  const commitment = hex(result.outputCommitment);
  console.log(`settled in block #${header.number} (${header.hash.toHex()})`);
  console.log(`  output commitment  0x${commitment}`);
  console.log(`  output tokens      ${result.outputTokens}`);
  console.log(`  nodes              ${result.nodes.map((n) => n.toString()).join(', ')}`);
  console.log(`  sampler seed       ${result.samplerSeed}`);

  // Fetch the answer from an executing node's worker and check it against the chain.
  const node = (await api.query.nodeRegistry.nodes(result.nodes[0])).unwrap();
  const url = Buffer.from(node.url).toString('utf8');
  const n = result.nodes.length;
  const job = await workerJob(url, {
    model: MODEL, messages: JSON.parse(messages), max_tokens: args.maxTokens, temperature_milli: 0,
    seed: Number(result.samplerSeed.toString()), node_index: 0,
    quorum_size: spec.mode.CrossValidation ? 1 : n,
  });
  const expected = spec.mode.CrossValidation ? job.commitments.output_hash : job.commitments.root;
  if (expected !== commitment) {
    throw new Error(`the worker's output does not match the chain (0x${expected})`);
  }
  console.log(`answer (verified against the chain): ${job.output.text}`);
  await api.disconnect();
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});

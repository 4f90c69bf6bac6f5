// Send a prompt to the Atoma chain, stream the answer as it is generated, and print the receipt and
// "verified" once the chain has settled the request on the same output.
//
//   node clients/ask.mjs "What is the capital of France?" [--ws ws://127.0.0.1:9944]
//        [--mode single | sampling:N | cv:N:PERCENT] [--max-tokens 32] [--signer //Bob] [--on-chain]
//        [--oracle] [--json]
//
// 1. Submits `inference.submitRequest` (signed by `--signer`) for the default model.
// 2. When the chain selects the nodes (`inference.NodesSelected`), asks each selected node's worker
//    (its URL is in the node registry) for the output, signed with the signer's key
//    (`atoma_primitives::output_read`), and prints the tokens of the first to stream them.
// 3. When the request settles, prints the receipt (block, output commitment, nodes) and rebuilds
//    the commitment from the token ids it received: "verified" only if it equals the chain's.
//    The answer is never computed twice: it comes from the nodes that ran the request.
// 4. `--on-chain` makes the chain the request's destination: the nodes publish the output on chain
//    when it settles, and the client checks the published bytes against the answer.
// 5. `--oracle` asks through the runtime's example pallet (`oracle.ask`) instead: the pallet hears
//    the outcome, and the client checks that the answer it recorded is the settled one.
// 6. `--json` prints one JSON line instead: the answer and the timings (ms from submission to
//    inclusion, selection, first token, complete answer, settlement, finality).
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';

import { ask } from '@atoma-appchain/client';

function parseArgs(argv) {
  const args = { ws: 'ws://127.0.0.1:9944', mode: 'single', maxTokens: 32, signer: '//Bob', json: false, onChain: false, oracle: false };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--ws') args.ws = argv[++i];
    else if (a === '--mode') args.mode = argv[++i];
    else if (a === '--max-tokens') args.maxTokens = Number(argv[++i]);
    else if (a === '--signer') args.signer = argv[++i];
    else if (a === '--json') args.json = true;
    else if (a === '--on-chain') args.onChain = true;
    else if (a === '--oracle') args.oracle = true;
    else rest.push(a);
  }
  args.prompt = rest.join(' ');
  if (!args.prompt) throw new Error('usage: node clients/ask.mjs "your prompt" [--mode ...]');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const api = await ApiPromise.create({ provider: new WsProvider(args.ws), noInitWarn: true });
  const signer = new Keyring({ type: 'sr25519' }).addFromUri(args.signer);
  const quiet = () => {};
  const { request, answer, timings, question } = await ask({
    api, signer, prompt: args.prompt, mode: args.mode, maxTokens: args.maxTokens, onChain: args.onChain, viaOracle: args.oracle,
    log: args.json ? quiet : (line) => console.log(line),
    onText: args.json ? quiet : (text) => process.stdout.write(text),
  });
  if (args.json) {
    console.log(JSON.stringify({ request, mode: args.mode, output_tokens: answer.token_ids.length, text: answer.text, timings, question }));
  } else {
    console.log(`answer: ${answer.text}`);
  }
  await api.disconnect();
}

main().catch((e) => {
  console.error(e.message ?? e);
  process.exit(1);
});

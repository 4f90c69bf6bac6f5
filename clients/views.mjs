// What the chain says about its requests, nodes, echelons, models and disputes, through the
// runtime's APIs (`api.call.atomaViewApi.*` and `api.call.inferenceApi.*`): plain `@polkadot/api`,
// no custom types, every answer decoded from the runtime's metadata. Prints one JSON value.
//
//   node clients/views.mjs [--ws ws://127.0.0.1:9944] WHAT [ARGS]
//
//   request ID                  where request ID is: Unknown, InFlight (with its commitments) or
//                               Settled (with its result)
//   eligible [MODEL] [ECHELON]  the nodes a request submitted now could draw
//   echelons                    every echelon with this epoch's price per token
//   models                      every registered model
//   dispute ID                  the open dispute over request ID, or null
//   emission                    the TOMA emission schedule, the current rate per epoch, the open
//                               epoch and everything minted so far
//   reward NODE                 what NODE's operator would receive for the open epoch's verified
//                               work if it closed now (a decimal string)
//   usage [MODEL]               MODEL's settled tokens in the open epoch, its owner's share if it
//                               closed now, and the emission its owner has received for it
//   quote IN OUT [MODE] [MODEL] [ECHELON]
//                               the escrow of a request of IN prompt and at most OUT generated
//                               tokens (MODE: single, sampling:N, cv:N:PERCENT)
//   nash COST REWARD COLLATERAL CONTROL
//                               the least Cross-Validation replication rate that makes honesty the
//                               unique equilibrium (CONTROL: the attacker's share, in parts per
//                               billion); parts per 10^18
//   tamper CONTROL N            the probability that CONTROL (parts per billion) of the nodes
//                               controls an N-node Sampling quorum; parts per 10^18
import { ApiPromise, WsProvider } from '@polkadot/api';

import { MODEL, verificationMode } from '@atoma-appchain/client';

/// The view `what` with its `args` (strings, as on the command line), as JSON.
export async function view(api, what, args) {
  const [a, b, c, d, e] = args;
  switch (what) {
    case 'request': return (await api.call.atomaViewApi.requestStatus(Number(a))).toJSON();
    case 'eligible': return (await api.call.atomaViewApi.eligibleNodes(a ?? MODEL, Number(b ?? 0))).toJSON();
    case 'echelons': return (await api.call.atomaViewApi.echelons()).toJSON();
    case 'models': return (await api.call.atomaViewApi.models()).toJSON();
    case 'dispute': return (await api.call.atomaViewApi.dispute(Number(a))).toJSON();
    case 'emission': return (await api.call.atomaViewApi.emission()).toJSON();
    case 'reward': return (await api.call.atomaViewApi.expectedNodeReward(Number(a))).toString();
    case 'usage': {
      const [tokens, share, earned] = await api.call.atomaViewApi.modelUsage(a ?? MODEL);
      return [tokens.toNumber(), share.toString(), earned.toString()];
    }
    // Balances and Perquintills as decimal strings: JSON numbers lose their digits above 2^53.
    case 'quote': {
      const fee = await api.call.inferenceApi.quote(d ?? MODEL, Number(e ?? 0), Number(a), Number(b),
        verificationMode(c ?? 'single'));
      return fee.isSome ? fee.unwrap().toString() : null;
    }
    case 'nash': return (await api.call.inferenceApi.minReplicationRate(a, b, c, Number(d))).toString();
    case 'tamper': return (await api.call.inferenceApi.tamperProbability(Number(a), Number(b))).toString();
    default: throw new Error(`unknown view ${what}: request, eligible, echelons, models, dispute, emission, reward, usage, quote, nash or tamper`);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  let ws = 'ws://127.0.0.1:9944';
  const wsAt = argv.indexOf('--ws');
  if (wsAt >= 0) ws = argv.splice(wsAt, 2)[1];
  const [what, ...args] = argv;
  if (!what) throw new Error('usage: node clients/views.mjs [--ws URL] WHAT [ARGS] (see the file\'s head)');
  const api = await ApiPromise.create({ provider: new WsProvider(ws), noInitWarn: true });
  try {
    console.log(JSON.stringify(await view(api, what, args)));
  } finally {
    await api.disconnect();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}

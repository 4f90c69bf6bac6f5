// Chain capacity under load (not a test; it asserts nothing): how many commitments one block takes,
// and what stops it taking more. Run by `scripts/bench-load.sh`; the results are kept in
// docs/benchmarks.md.
//
//   node clients/load.mjs [--nodes 64] [--users 32] [--requests 128] [--quorum 8] [--max-tokens 16]
//        [--burst 500]
//
// 1. Starts a dev chain (`atoma-node --dev`) with its real worker and the default model.
// 2. Registers `--nodes` execution nodes, each with its own operator account and its own worker
//    key, subscribed to the default model, and waits for the epoch in which they serve.
// 3. Computes the answer once, for real: the dev worker runs the prompt greedily and returns its
//    token ids and trace root. Every node that the chain draws for a request of that prompt would
//    commit exactly this output (the answer is bit-identical on every worker of the profile).
// 4. `--users` accounts submit `--requests` `Sampling { n: --quorum }` requests of that prompt.
// 5. As the chain draws nodes (`inference.NodesSelected`), the generator holds each drawn node's
//    commitment, signed by that node's own worker key, until `--burst` are ready (or every
//    request is drawn), then sends them all at once to the pool as authorized transactions, the
//    way the nodes' off-chain workers do. Alice's dev node is left to commit its own draws.
// 6. Prints, per block from the burst on: the commitments and settlements it holds, its normal-
//    class weight against the block's limit, its length, and what was left in the pool.
import { WsProvider } from '@polkadot/api';
import { hexToU8a, u8aConcat, u8aToHex } from '@polkadot/util';

import { canonicalOutput, commitmentRoot, outputLeaf, MODEL } from '@atoma-appchain/client';

import { startDevChain } from './js/e2e/harness.js';

function parseArgs(argv) {
  const args = { nodes: 64, users: 32, requests: 128, quorum: 8, maxTokens: 16, burst: 500 };
  const names = { '--nodes': 'nodes', '--users': 'users', '--requests': 'requests', '--quorum': 'quorum', '--max-tokens': 'maxTokens', '--burst': 'burst' };
  for (let i = 0; i < argv.length; i++) {
    const name = names[argv[i]];
    if (!name) throw new Error(`unknown option ${argv[i]}; options: ${Object.keys(names).join(' ')}`);
    args[name] = Number(argv[++i]);
  }
  return args;
}

const UNITS = 10n ** 12n;
const PROMPT = 'What is the capital of France?';
const log = (line) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Send `txs` (pairs of [tx, signer]) with explicit nonces, all at once; resolves when all are in blocks. */
async function sendAll(api, txs) {
  const nonces = new Map();
  await Promise.all(txs.map(async ([tx, pair]) => {
    if (!nonces.has(pair.address)) nonces.set(pair.address, (await api.rpc.system.accountNextIndex(pair.address)).toNumber());
  }));
  return Promise.all(txs.map(([tx, pair]) => {
    const nonce = nonces.get(pair.address);
    nonces.set(pair.address, nonce + 1);
    return new Promise((resolve, reject) => {
      tx.signAndSend(pair, { nonce }, ({ status, events, dispatchError }) => {
        if (dispatchError) reject(new Error(dispatchError.toString()));
        else if (status.isInBlock) resolve(events);
      }).catch(reject);
    });
  }));
}

/**
 * An authorized (general, unsigned) transaction of `call`, as the off-chain worker builds it
 * (`CreateAuthorizedTransaction`): extrinsic format 5, general, extension version 0, and the
 * explicit parts of the runtime's extensions: immortal era, nonce 0, tip 0, no metadata hash.
 */
function authorizedTransaction(call) {
  const explicit = new Uint8Array([0x00, 0x00, 0x00, 0x00]);
  const body = u8aConcat(new Uint8Array([0x45, 0x00]), explicit, call.method.toU8a());
  const length = call.registry.createType('Compact<u32>', body.length).toU8a();
  return u8aToHex(u8aConcat(length, body));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { api, keyring, ws, workerUrl, stop } = await startDevChain();
  // Raw JSON-RPC for the authorized transactions, which polkadot.js's extrinsic type does not build.
  const raw = new WsProvider(ws);
  // Interrupted (Ctrl-C, `timeout`): take the node and the worker down too.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => stop().finally(() => process.exit(130)));
  }
  try {
    await raw.isReady;
    const alice = keyring.addFromUri('//Alice');
    const genesis = api.genesisHash.toU8a();

    // 2. Nodes: operators funded by Alice register, then subscribe.
    const operators = Array.from({ length: args.nodes }, (_, i) => keyring.addFromUri(`//load-operator-${i}`));
    const workerKeys = Array.from({ length: args.nodes }, (_, i) => keyring.addFromUri(`//load-worker-${i}`));
    const users = Array.from({ length: args.users }, (_, i) => keyring.addFromUri(`//load-user-${i}`));
    // Enough for `MinCollateral` (1,000 TOMA) and 40 jobs' `JobCollateral` (100 TOMA each).
    const collateral = 5_000n * UNITS;
    const bob = keyring.addFromUri('//Bob');
    log(`funding ${args.nodes} operators (from Alice) and ${args.users} users (from Bob)`);
    await sendAll(api, [
      ...operators.map((op) => [api.tx.balances.transferKeepAlive(op.address, collateral + 500n * UNITS), alice]),
      ...users.map((user) => [api.tx.balances.transferKeepAlive(user.address, 10_000n * UNITS), bob]),
    ]);
    log(`registering ${args.nodes} nodes`);
    const registered = await sendAll(api, operators.map((op, i) => [
      api.tx.nodeRegistry.registerNode(0, workerKeys[i].publicKey, `http://127.0.0.1:9/load-${i}`, collateral, 1_000_000n),
      op,
    ]));
    const nodeIds = registered.map((events) => events
      .find(({ event }) => api.events.nodeRegistry.NodeRegistered.is(event)).event.data.node.toNumber());
    const keyOf = new Map(nodeIds.map((id, i) => [id, workerKeys[i]]));
    await sendAll(api, operators.map((op, i) => [api.tx.modelRegistry.subscribe(nodeIds[i], MODEL), op]));
    const activeFrom = (await api.query.nodeRegistry.nodes(nodeIds[0])).unwrap().activeFrom.toNumber();
    log(`nodes ${nodeIds[0]}..${nodeIds.at(-1)} registered and subscribed; they serve from epoch ${activeFrom}`);
    while ((await api.query.nodeRegistry.currentEpoch()).toNumber() < activeFrom) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    // The draw index takes subscriptions two blocks late, at most 64 a block.
    while ((await api.query.modelRegistry.indexLen(MODEL, 0)).toNumber() < nodeIds.length) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }

    // 3. The answer, computed once.
    const messages = [{ role: 'user', content: PROMPT }];
    const response = await fetch(`${workerUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages, max_tokens: args.maxTokens, temperature: 0 }),
    }).then((r) => r.json());
    const tokenIds = response.atoma.token_ids;
    const output = canonicalOutput(tokenIds, response.choices[0].finish_reason);
    const leaves = Array.from({ length: args.quorum }, (_, i) => outputLeaf(output, i));
    const root = commitmentRoot(leaves);
    const traceRoot = hexToU8a(`0x${response.atoma.trace_root}`);
    const inputTokens = response.usage.prompt_tokens;
    log(`answer: ${JSON.stringify(response.choices[0].message.content)} (${inputTokens} prompt tokens, ${tokenIds.length} generated)`);

    // 5. Follow the chain: hold each drawn node's commitment until the burst.
    const payloadType = api.tx.inference.submitCommitment.meta.args[0].type.toString();
    const tag = api.createType('Bytes', 'atoma/commitment-payload/v3').toU8a();
    const held = [];
    const perBlock = [];
    let selected = 0;
    let settled = 0;
    let burstAt = null;
    let sentBurst = false;
    const maxNormal = api.consts.system.blockWeights.perClass.normal.maxTotal.unwrap().refTime.toBigInt();
    const maxLength = api.consts.system.blockLength.max.normal.toNumber();
    const done = new Promise((resolve) => {
      const unsubscribe = api.rpc.chain.subscribeNewHeads(async (header) => {
        const hash = header.hash;
        const at = await api.at(hash);
        const [events, weight, block] = await Promise.all([
          at.query.system.events(), at.query.system.blockWeight(), api.rpc.chain.getBlock(hash),
        ]);
        let commitments = 0;
        let settledHere = 0;
        for (const { event } of events) {
          if (api.events.inference.NodesSelected.is(event)) {
            selected += 1;
            const { request, nodes } = event.data;
            nodes.forEach((node, index) => {
              const key = keyOf.get(node.toNumber());
              if (!key) return;
              const payload = api.createType(payloadType, {
                request,
                node,
                kind: { Quorum: { root, leaf: leaves[index], inputTokens, outputTokens: tokenIds.length, traceRoot } },
              });
              const signature = key.sign(u8aConcat(tag, genesis, payload.toU8a()));
              held.push(authorizedTransaction(api.tx.inference.submitCommitment(payload, signature)));
            });
          }
          if (api.events.inference.CommitmentSubmitted.is(event)) commitments += 1;
          if (api.events.inference.RequestSettled.is(event)) { settled += 1; settledHere += 1; }
        }
        const pool = (await api.rpc.author.pendingExtrinsics()).length;
        if (sentBurst) {
          perBlock.push({
            block: header.number.toNumber(),
            extrinsics: block.block.extrinsics.length,
            commitments,
            settled: settledHere,
            weight: Number((weight.normal.refTime.toBigInt() * 1000n) / maxNormal) / 10,
            length: block.block.encodedLength,
            pool,
          });
        }
        log(`block ${header.number}: ${selected} requests drawn, ${held.length} commitments held, ${commitments} included, ${settled} settled, pool ${pool}`);
        if (!sentBurst && (held.length >= args.burst || (selected >= args.requests && held.length > 0))) {
          sentBurst = true;
          burstAt = header.number.toNumber();
          log(`sending ${held.length} commitments at once`);
        }
        // After the burst, the commitments of later draws go out as they come.
        if (sentBurst && held.length > 0) {
          const batch = held.splice(0);
          await Promise.all(batch.map((xt) => raw.send('author_submitExtrinsic', [xt]).catch((e) => log(`refused: ${e.message}`))));
        }
        if (sentBurst && settled >= args.requests) {
          (await unsubscribe)();
          resolve();
        }
      });
    });

    // 4. The requests.
    log(`${args.users} users submit ${args.requests} Sampling { n: ${args.quorum} } requests`);
    const spec = {
      model: MODEL,
      echelon: 0,
      input: { Inline: JSON.stringify(messages) },
      inputTokens: inputTokens + 16,
      params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: args.maxTokens, seed: 0 },
      mode: { Sampling: { n: args.quorum } },
      timeout: 200,
      destination: 'Worker',
    };
    await sendAll(api, Array.from({ length: args.requests }, (_, i) => [api.tx.inference.submitRequest(spec), users[i % args.users]]));
    await done;

    console.log(`\n${args.nodes} nodes, ${args.requests} Sampling { n: ${args.quorum} } requests, burst of commitments sent after block ${burstAt}; normal-class limit ${maxNormal} ps of ref time, ${maxLength} bytes\n`);
    console.log('| block | extrinsics | commitments | settled | normal weight % | length bytes | pool after |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    for (const b of perBlock) {
      console.log(`| ${b.block} | ${b.extrinsics} | ${b.commitments} | ${b.settled} | ${b.weight} | ${b.length} | ${b.pool} |`);
    }
    const weights = await api.call.transactionPaymentCallApi.queryCallInfo(
      api.tx.inference.submitCommitment(api.createType(payloadType, { request: 0, node: 0, kind: { Quorum: {} } }), new Uint8Array(64)),
      0,
    ).catch(() => null);
    if (weights) console.log(`\nsubmit_commitment's declared weight: ${weights.weight.refTime.toString()} ps of ref time`);
  } finally {
    await raw.disconnect();
    await stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

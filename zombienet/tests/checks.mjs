// The checks the zombienet tests run against a live network (`js-script ./check.cjs with "NAME,ARGS"`).
// Each takes the node it runs on, zombienet's network info and its arguments, and throws when the
// network does not behave. Plain polkadot.js and the client package, from clients/ (installed by
// scripts/install-deps.sh).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ApiPromise, Keyring, WsProvider } from '../../clients/node_modules/@polkadot/api/index.js';
import { cryptoWaitReady } from '../../clients/node_modules/@polkadot/util-crypto/index.js';

import { MODEL, ask } from '../../clients/js/src/index.js';

const UNITS = 10n ** 12n;
const log = (line) => console.log(`    ${line}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(networkInfo, nodeName) {
  await cryptoWaitReady();
  return ApiPromise.create({ provider: new WsProvider(networkInfo.nodesByName[nodeName].wsUri), noInitWarn: true });
}

async function withApi(networkInfo, nodeName, body) {
  const api = await connect(networkInfo, nodeName);
  try {
    return await body(api);
  } finally {
    await api.disconnect();
  }
}

const dev = (name) => new Keyring({ type: 'sr25519' }).addFromUri(`//${name[0].toUpperCase()}${name.slice(1)}`);

/**
 * Sign and send; resolves with the block's events once in a block (or once finalized, with
 * `{ finalized: true }`), rejects on a dispatch error or when the pool drops the transaction (it
 * became invalid, for instance because a reorg retracted the block that funded its signer).
 */
const send = (api, tx, pair, { finalized = false } = {}) => new Promise((resolve, reject) => {
  tx.signAndSend(pair, { nonce: -1 }, ({ status, events, dispatchError }) => {
    if (dispatchError) {
      const e = dispatchError.isModule ? api.registry.findMetaError(dispatchError.asModule) : dispatchError;
      reject(new Error(`${e.section ?? ''}.${e.name ?? e.toString()}`));
    } else if (status.isInvalid || status.isDropped || status.isUsurped || status.isFinalityTimeout) {
      reject(new Error(`the transaction was ${status.type}`));
    } else if (finalized ? status.isFinalized : status.isInBlock) resolve(events);
  }).catch(reject);
});

/**
 * A council motion carried by Alice and Bob (two of the local network's three members; no sudo
 * key outside the dev chain, docs/governance.md): proposed, voted, closed. Resolves once the
 * motion executed; rejects if the call itself failed.
 */
async function council(api, call) {
  const index = (await api.query.council.proposalCount()).toNumber();
  const length = call.method.encodedLength;
  const { weight } = await call.paymentInfo(dev('alice'));
  await send(api, api.tx.council.propose(2, call, length), dev('alice'));
  await send(api, api.tx.council.vote(call.method.hash, index, true), dev('alice'));
  await send(api, api.tx.council.vote(call.method.hash, index, true), dev('bob'));
  const events = await send(api, api.tx.council.close(call.method.hash, index, weight, length), dev('alice'));
  const executed = events.find(({ event }) => api.events.council.Executed.is(event));
  if (!executed) throw new Error('the council motion did not execute');
  const result = executed.event.data.result;
  if (result.isErr) throw new Error(`the council's call failed: ${result.asErr.toString()}`);
}

/** Wait until `condition()` is truthy (polled every block time), or throw after `ms`. */
async function until(what, condition, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(3_000);
  }
}

const finalizedNumber = async (api) => (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();

/** `authorities N`: BABE and GRANDPA both have exactly N authorities. */
async function authorities(nodeName, networkInfo, [count]) {
  return withApi(networkInfo, nodeName, async (api) => {
    const babe = (await api.query.babe.authorities()).length;
    const grandpa = (await api.call.grandpaApi.grandpaAuthorities()).length;
    log(`BABE authorities ${babe}, GRANDPA authorities ${grandpa}`);
    if (babe !== Number(count) || grandpa !== Number(count)) throw new Error(`expected ${count} authorities`);
  });
}

/** `finality-advances BLOCKS`: the finalized head moves BLOCKS blocks ahead of where it is now. */
async function finalityAdvances(nodeName, networkInfo, [blocks]) {
  return withApi(networkInfo, nodeName, async (api) => {
    const from = await finalizedNumber(api);
    const to = await until(`finality from #${from} by ${blocks}`, async () => {
      const now = await finalizedNumber(api);
      return now >= from + Number(blocks) ? now : null;
    }, 120_000);
    log(`finalized #${from} → #${to}`);
  });
}

/** `caught-up REFERENCE`: this node's finalized head reaches REFERENCE's as it is now. */
async function caughtUp(nodeName, networkInfo, [reference]) {
  const target = await withApi(networkInfo, reference, finalizedNumber);
  return withApi(networkInfo, nodeName, async (api) => {
    const reached = await until(`${nodeName} catching up with #${target}`, async () => {
      const now = await finalizedNumber(api);
      return now >= target ? now : null;
    }, 180_000);
    log(`${nodeName} finalized #${reached} (${reference} had #${target})`);
  });
}

/**
 * `register NAME:PUBLIC_PORT ...`: each execution node's operator (the dev account of its name)
 * registers it with its worker key and public URL, subscribes it to the default model, and it
 * serves from the next epoch.
 */
async function register(nodeName, networkInfo, nodes) {
  return withApi(networkInfo, nodeName, async (api) => {
    const ids = [];
    for (const entry of nodes) {
      const [name, port] = entry.split(':');
      const operator = dev(name);
      // Operators beyond the chain's endowed dev accounts get their collateral from Alice.
      if ((await api.query.system.account(operator.address)).data.free.toBigInt() < 1_010n * UNITS) {
        // Final before the operator spends it: a transfer only in a block that a reorg retracts
        // leaves the operator's registration invalid in the pool.
        await send(api, api.tx.balances.transferKeepAlive(operator.address, 1_100n * UNITS), dev('alice'),
          { finalized: true });
        log(`Alice funded ${name}'s operator with 1,100 TOMA`);
      }
      const events = await send(api, api.tx.nodeRegistry.registerNode(0, operator.publicKey,
        `http://127.0.0.1:${port}`, 1_000n * UNITS, UNITS / 1_000_000n), operator);
      const registered = events.find(({ event }) => api.events.nodeRegistry.NodeRegistered.is(event));
      const id = registered.event.data.node.toNumber();
      await send(api, api.tx.modelRegistry.subscribe(id, MODEL), operator);
      log(`${name}'s node ${id} registered (worker http://127.0.0.1:${port}) and subscribed`);
      ids.push(id);
    }
    await until('the new nodes serving', async () => {
      const eligible = (await api.call.atomaViewApi.eligibleNodes(MODEL, 0)).map((n) => n.toNumber());
      return ids.every((id) => eligible.includes(id));
    }, 180_000);
    log(`nodes ${ids.join(', ')} are eligible`);
  });
}

/** `sampling N`: a Sampling Consensus request of N nodes settles across N different nodes, verified. */
async function sampling(nodeName, networkInfo, [n]) {
  return withApi(networkInfo, nodeName, async (api) => {
    const { request, receipt, answer } = await ask({
      api, signer: dev('charlie'), prompt: 'What is the capital of France?', mode: `sampling:${n}`, maxTokens: 8,
    });
    const nodes = new Set(receipt.nodes);
    log(`request ${request}: "${answer.text}" settled by nodes ${receipt.nodes.join(', ')}, verified`);
    if (nodes.size !== Number(n)) throw new Error(`settled by ${receipt.nodes.length} nodes, ${nodes.size} distinct`);
  });
}

/**
 * `worker-dies NAME`: NAME's worker is killed; a request drawn to NAME's node is reassigned once
 * the node misses its deadline (the node is slashed), and settles on another node. Then nothing
 * is left in flight and no collateral stays reserved.
 */
async function workerDies(nodeName, networkInfo, [name]) {
  const pid = Number(readFileSync(join(process.env.ATOMA_ZOMBIENET_STATE, `${name}-worker.pid`), 'utf8'));
  execFileSync('kill', ['-KILL', String(pid)]);
  log(`${name}'s worker (pid ${pid}) killed`);
  return withApi(networkInfo, nodeName, async (api) => {
    const victim = await nodeOf(api, name);
    const user = dev('charlie');
    const spec = {
      model: MODEL, echelon: 0, input: { Inline: JSON.stringify([{ role: 'user', content: 'Name a colour.' }]) },
      inputTokens: 128, params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: 4, seed: 0 },
      mode: { Single: null }, timeout: 5, destination: 'Worker',
    };
    const chain = await followFinalized(api);
    // Single requests until one is drawn to the victim: each draw picks it with probability 1/3.
    let drawn;
    let submitted = 0;
    for (let attempt = 0; attempt < 12 && drawn === undefined; attempt += 1) {
      const request = await submitRequest(api, spec, user);
      submitted += 1;
      const selected = await chain.wait(`request ${request} selected`, (e) => api.events.inference.NodesSelected.is(e)
        && e.data.request.toNumber() === request, 90_000);
      const nodes = selected.data.nodes.map((x) => x.toNumber());
      log(`request ${request} drawn to node(s) ${nodes.join(', ')}`);
      if (nodes.includes(victim)) drawn = request;
    }
    if (drawn === undefined) throw new Error(`no request was drawn to ${name}'s node in 12 tries`);
    const ended = await chain.wait(`request ${drawn} ending`, (e) => (api.events.inference.RequestSettled.is(e)
      || api.events.inference.RequestFailed.is(e)) && e.data.request.toNumber() === drawn, 300_000);
    const timedOut = chain.of(drawn).find((e) => api.events.inference.NodeTimedOut.is(e));
    if (!timedOut || timedOut.data.node.toNumber() !== victim) throw new Error(`node ${victim} was not timed out`);
    if (!api.events.inference.RequestSettled.is(ended)) throw new Error(`request ${drawn} ended with ${ended.method}`);
    const settledBy = ended.data.nodes.map((x) => x.toNumber());
    if (settledBy.includes(victim)) throw new Error(`settled by the dead worker's node ${victim}`);
    log(`node ${victim} timed out (slashed ${timedOut.data.slashed.toString()} plancks); request ${drawn} settled by node(s) ${settledBy.join(', ')}`);
    // Every other request drawn meanwhile ends too, and nothing stays reserved.
    await until('every request ended', async () => (await api.query.inference.requests.keys()).length === 0, 300_000);
    log(`all ${submitted} requests ended`);
    await until('no collateral reserved', async () => (await api.query.nodeRegistry.nodes.entries())
      .every(([, node]) => node.unwrap().reserved.toBigInt() === 0n), 60_000);
    log('no collateral is left reserved');
  });
}

/** Submit `spec` as `user`; resolves with the request id once it is in a block. */
async function submitRequest(api, spec, user) {
  const events = await send(api, api.tx.inference.submitRequest(spec), user);
  return events.find(({ event }) => api.events.inference.RequestSubmitted.is(event)).event.data.request.toNumber();
}

/**
 * The finalized chain's events from now on, read block by block. Only finalized blocks: a best
 * block may yet be replaced by a fork, whose draws and outcomes differ (selection seeds come from
 * the block). `wait(what, match, ms)` resolves with the first event `match` accepts; `of(request)`
 * lists the events read so far about `request`; `from` and `to` bound the blocks read.
 */
async function followFinalized(api) {
  const from = await finalizedNumber(api);
  const events = [];
  const chain = {
    from,
    to: from,
    events,
    of: (request) => events.filter((e) => e.data.request?.toNumber?.() === request),
    async read() {
      const head = await finalizedNumber(api);
      for (; chain.to < head; chain.to += 1) {
        const records = await api.query.system.events.at(await api.rpc.chain.getBlockHash(chain.to + 1));
        events.push(...records.map(({ event }) => event));
      }
    },
    wait: (what, match, ms) => until(what, async () => {
      await chain.read();
      return events.find(match) ?? null;
    }, ms),
  };
  return chain;
}

/** The node id whose operator is the dev account `name`. */
async function nodeOf(api, name) {
  const operator = dev(name).address;
  for (const [key, node] of await api.query.nodeRegistry.nodes.entries()) {
    if (node.unwrap().operator.toString() === operator) return key.args[0].toNumber();
  }
  throw new Error(`${name} has no node`);
}

/**
 * `tamper NAME`: NAME's worker tampers with its answers. Sampling requests of two nodes are asked
 * until one draws NAME's node: the two commitments differ, the chain opens a dispute, the other
 * nodes arbitrate, NAME's node loses all its collateral (`CheaterSlashed`), the honest party is
 * credited with the output, the user gets the whole escrow back, and the total issuance falls by
 * exactly what the slashes burned.
 */
async function tamper(nodeName, networkInfo, [name]) {
  return withApi(networkInfo, nodeName, async (api) => {
    const cheater = await nodeOf(api, name);
    const user = dev('charlie');
    const chain = await followFinalized(api);
    const issuanceAt = async (n) => (await api.query.balances.totalIssuance.at(await api.rpc.chain.getBlockHash(n))).toBigInt();
    const issuanceBefore = await issuanceAt(chain.from);
    const spec = {
      model: MODEL, echelon: 0, input: { Inline: JSON.stringify([{ role: 'user', content: 'Name three colors.' }]) },
      inputTokens: 128, params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: 12, seed: 0 },
      mode: { Sampling: { n: 2 } }, timeout: 60, destination: 'Worker',
    };
    const ends = (request) => (e) => (api.events.inference.RequestSettled.is(e) || api.events.inference.RequestFailed.is(e)
      || api.events.inference.DisputeConcluded.is(e)) && e.data.request.toNumber() === request;
    let disputed;
    for (let attempt = 0; attempt < 12 && !disputed; attempt += 1) {
      const request = await submitRequest(api, spec, user);
      // Followed to its end on the finalized chain: settled (two honest nodes), or disputed and
      // concluded.
      const ended = await chain.wait(`request ${request} ending`, ends(request), 600_000);
      const escrow = chain.of(request).find((e) => api.events.inference.RequestSubmitted.is(e)).data.escrow.toBigInt();
      const dispute = chain.of(request).find((e) => api.events.inference.RequestDisputed.is(e));
      if (!dispute) {
        const nodes = ended.data.nodes?.map((n) => n.toNumber()) ?? [];
        if (nodes.includes(cheater)) throw new Error(`request ${request} settled on the cheater ${cheater} without a dispute`);
        log(`request ${request} settled by nodes ${nodes.join(', ')}: no dispute`);
        continue;
      }
      disputed = { request, parties: dispute.data.nodes.map((n) => n.toNumber()), escrow, concluded: ended };
    }
    if (!disputed) throw new Error(`no request drew ${name}'s node in 12 tries`);
    const { request, parties, escrow, concluded } = disputed;
    log(`request ${request} disputed between nodes ${parties.join(', ')}`);
    if (!parties.includes(cheater)) throw new Error(`a dispute between honest nodes ${parties}`);
    if (!api.events.inference.DisputeConcluded.is(concluded)) throw new Error(`request ${request} ended with ${concluded.method}`);
    const honest = parties.filter((n) => n !== cheater);
    const { honest: credited, refunded, outputCommitment } = concluded.data;
    if (outputCommitment.isNone) throw new Error('no output won the dispute');
    if (JSON.stringify(credited.map((n) => n.toNumber())) !== JSON.stringify(honest)) {
      throw new Error(`credited ${credited.toString()}, the honest party is ${honest}`);
    }
    if (refunded.toBigInt() !== escrow) throw new Error(`refunded ${refunded} of an escrow of ${escrow}`);

    const slashed = chain.events.find((e) => api.events.disputes.CheaterSlashed.is(e) && e.data.node.toNumber() === cheater);
    if (!slashed) throw new Error(`no CheaterSlashed for node ${cheater}`);
    const record = (await api.query.nodeRegistry.nodes(cheater)).unwrap();
    if (record.collateral.toBigInt() !== 0n) throw new Error(`the cheater kept ${record.collateral} of its collateral`);
    const burned = chain.events.filter((e) => api.events.nodeRegistry.CollateralSlashed.is(e))
      .reduce((sum, e) => sum + e.data.burned.toBigInt(), 0n);
    const issuanceAfter = await issuanceAt(chain.to);
    if (issuanceBefore - issuanceAfter !== burned) {
      throw new Error(`issuance fell by ${issuanceBefore - issuanceAfter}, the slashes burned ${burned}`);
    }
    log(`node ${cheater} slashed ${slashed.data.slashed.toString()} plancks (all its collateral); node(s) ${honest.join(', ')} credited; `
      + `the user refunded its ${escrow} escrow; issuance fell by the ${burned} burned, finalized blocks #${chain.from}..#${chain.to}`);
  });
}

/**
 * `profile NAME REFERENCE`: governance pins echelon 0's execution profile to the one REFERENCE's
 * node declared; NAME's node, whose worker runs another (`--precision quantized`), is refused:
 * no longer drawn while the others are, and never slashed for it.
 */
async function profile(nodeName, networkInfo, [name, reference]) {
  return withApi(networkInfo, nodeName, async (api) => {
    const [refused, kept] = [await nodeOf(api, name), await nodeOf(api, reference)];
    const declared = (id) => until(`node ${id}'s declared profile`, async () => {
      const entry = await api.query.nodeRegistry.nodeProfiles(id);
      return entry.isSome ? entry.unwrap()[0].toHex() : null;
    }, 120_000);
    const [theirs, ours] = [await declared(refused), await declared(kept)];
    if (theirs === ours) throw new Error(`${name}'s worker runs the same profile ${ours}`);
    const chain = await followFinalized(api);
    const collateral = (await api.query.nodeRegistry.nodes(refused)).unwrap().collateral.toBigInt();

    const echelon = (await api.query.nodeRegistry.echelons(0)).unwrap();
    await council(api, api.tx.nodeRegistry.updateEchelon(0, echelon.device, echelon.deviceCount,
      echelon.memoryMib, ours));
    log(`echelon 0 pinned to ${reference}'s profile ${ours.slice(0, 10)}…; ${name}'s is ${theirs.slice(0, 10)}…`);
    const eligible = async () => (await api.call.atomaViewApi.eligibleNodes(MODEL, 0)).map((n) => n.toNumber());
    const now = await until(`node ${refused} refused`, async () => {
      const nodes = await eligible();
      return nodes.includes(refused) ? null : nodes;
    }, 60_000);
    if (!now.includes(kept)) throw new Error(`node ${kept}, which runs the pinned profile, is not eligible: ${now}`);
    log(`eligible now: ${now.join(', ')}`);

    // Requests go to the others.
    const user = dev('charlie');
    const spec = {
      model: MODEL, echelon: 0, input: { Inline: JSON.stringify([{ role: 'user', content: 'Name a fruit.' }]) },
      inputTokens: 128, params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: 4, seed: 0 },
      mode: { Sampling: { n: 2 } }, timeout: 40, destination: 'Worker',
    };
    for (let i = 0; i < 3; i += 1) {
      const request = await submitRequest(api, spec, user);
      const settled = await chain.wait(`request ${request} settling`, (e) => api.events.inference.RequestSettled.is(e)
        && e.data.request.toNumber() === request, 180_000);
      const nodes = settled.data.nodes.map((n) => n.toNumber());
      if (nodes.includes(refused)) throw new Error(`request ${request} was run by the refused node ${refused}`);
      log(`request ${request} settled by nodes ${nodes.join(', ')}`);
    }

    // Refused, not punished.
    const punished = chain.events.filter((e) => (api.events.inference.NodeTimedOut.is(e)
      || api.events.nodeRegistry.CollateralSlashed.is(e)) && e.data.node.toNumber() === refused);
    if (punished.length) throw new Error(`node ${refused} was punished: ${punished.map((e) => e.method)}`);
    const after = (await api.query.nodeRegistry.nodes(refused)).unwrap();
    if (after.collateral.toBigInt() !== collateral || !after.status.isActive) {
      throw new Error(`node ${refused} changed: ${after.status.type}, collateral ${after.collateral}`);
    }
    log(`node ${refused} kept its ${collateral} plancks of collateral and stays Active`);
  });
}

const CHECKS = {
  authorities, 'finality-advances': finalityAdvances, 'caught-up': caughtUp, register, sampling, tamper, profile,
  'worker-dies': workerDies,
};

/** Zombienet's entry point (through check.cjs): the first argument names the check. */
export async function run(nodeName, networkInfo, [check, ...args]) {
  const body = CHECKS[check];
  if (!body) throw new Error(`unknown check ${check}: ${Object.keys(CHECKS).join(', ')}`);
  await body(nodeName, networkInfo, args);
  return 0;
}

// One request's life as its owner sees it: submit, (upload a by-hash input to the selected
// workers,) stream the answer from them, wait for settlement and finality, verify the answer
// against the settled commitment, and return a receipt that `verifyReceipt` re-checks later.
import { u8aToHex, u8aToString } from '@polkadot/util';

import { checkDelivered } from './commitments.js';
import { receiptFor } from './receipt.js';
import { inputHash, streamOutput, uploadInput } from './worker.js';

/** The default model's id. */
export const MODEL = 'smollm2-135m-instruct';

/**
 * The chain's `VerificationMode` for `single`, `sampling:N` or `cv:N:PERCENT`.
 * @param {string} mode
 * @returns {object} the mode as polkadot.js takes it
 */
export function verificationMode(mode) {
  const [kind, n, percent] = mode.split(':');
  if (kind === 'single') return { Single: null };
  if (kind === 'sampling') return { Sampling: { n: Number(n ?? 2) } };
  if (kind === 'cv') return { CrossValidation: { n: Number(n ?? 1), p: Number(percent ?? 100) * 10_000_000 } };
  throw new Error(`unknown mode ${mode}`);
}

/**
 * Submit `prompt` as `signer` and follow it to finality.
 *
 * Resolves with the request id, the verified answer, the settled result, the receipt (see
 * `verifyReceipt`), the timings (ms from submission: included, selected, first_token, answer,
 * settled, finalized; with `onChain`, published) and the block numbers (included, selected,
 * settled; with `onChain`, published). Rejects if the request does not settle or the answer is
 * not the settled one.
 *
 * @param {object} options
 * @param {import('@polkadot/api').ApiPromise} options.api
 * @param {import('@polkadot/keyring/types').KeyringPair} options.signer pays, and alone may read the output
 * @param {string} options.prompt the user's message
 * @param {string} [options.model] a registered model's id
 * @param {number} [options.echelon] the hardware echelon to draw nodes from
 * @param {string} [options.mode] `single`, `sampling:N` or `cv:N:PERCENT`
 * @param {number} [options.maxTokens]
 * @param {number} [options.timeout] blocks each selected node has to commit
 * @param {boolean} [options.byHash] name the prompt by its hash only (it stays off chain) and
 *   upload it to the selected nodes' workers once they are drawn
 * @param {boolean} [options.onChain] the chain is the destination: the nodes publish the output
 *   (`inference.OutputPublished`) once it settles, and the published bytes must be the answer's
 * @param {boolean} [options.viaOracle] ask through the runtime's example pallet (`oracle.ask`,
 *   which holds a deposit) instead of `inference.submitRequest`; the answer the pallet records
 *   (`oracle.questions`) must be the settled commitment, and comes back as `question`
 * @param {(line: string) => void} [options.log] progress lines
 * @param {(text: string) => void} [options.onText] the answer's text as it streams
 * @returns {Promise<{ request: number, answer: import('./worker.js').DeliveredOutput, result: any,
 *   receipt: import('./receipt.js').Receipt, timings: Record<string, number>,
 *   blocks: Record<string, number>, question?: any }>}
 */
export async function ask({ api, signer, prompt, model = MODEL, echelon = 0, mode = 'single', maxTokens = 32, timeout = 40, byHash = false, onChain = false, viaOracle = false, log = () => {}, onText = () => {} }) {
  const genesisHash = api.genesisHash.toHex();
  const messages = JSON.stringify([{ role: 'user', content: prompt }]);
  const spec = {
    model,
    echelon,
    input: byHash ? { Hash: inputHash(messages) } : { Inline: messages },
    // An upper bound on the prompt's tokens (at most one per byte, plus the chat template's
    // system prompt): a worker refuses a prompt with more, and the fee is charged on the count
    // the nodes commit, so a generous bound only holds more escrow until settlement.
    inputTokens: messages.length + 64,
    params: { temperatureMilli: 0, topK: 0, topPMilli: 1000, maxOutputTokens: maxTokens, seed: 0 },
    mode: verificationMode(mode),
    timeout,
    destination: onChain ? 'OnChain' : 'Worker',
  };

  const started = performance.now();
  const timings = {};
  // Block numbers: inclusion, selection, settlement.
  const blocks = {};
  const mark = (name) => { timings[name] ??= Math.round(performance.now() - started); };

  const request = await new Promise((resolve, reject) => {
    const submit = viaOracle ? api.tx.oracle.ask(spec) : api.tx.inference.submitRequest(spec);
    submit.signAndSend(signer, ({ status, events, dispatchError }) => {
      if (dispatchError) {
        // The error's name and its documentation: what precondition failed, in the chain's words.
        const e = dispatchError.isModule ? api.registry.findMetaError(dispatchError.asModule) : null;
        const why = e ? `${e.section}.${e.name}${e.docs.length ? `: ${e.docs.join(' ')}` : ''}` : dispatchError.toString();
        reject(new Error(`submit_request failed: ${why}`));
      }
      const submitted = events.find(({ event }) => api.events.inference.RequestSubmitted.is(event));
      if (status.isInBlock && submitted) {
        mark('included');
        blocks.includedHash = status.asInBlock;
        const { request: id, escrow } = submitted.event.data;
        log(`submitted request ${id} in block ${status.asInBlock.toHex()} (escrow ${escrow} plancks)`);
        resolve(id.toNumber());
      }
    }).catch(reject);
  });

  // The answer: streamed from every selected node's worker, shown from the first to stream.
  let answer = null;
  const streams = [];
  const aborts = new AbortController();
  let streaming = null;
  // Nodes already streamed from: a node shows up again when a fork's block draws it too.
  const streamed = new Set();
  const startStreams = async (nodes) => {
    for (const node of nodes.map((n) => n.toNumber()).filter((n) => !streamed.has(n))) {
      streamed.add(node);
      const url = u8aToString((await api.query.nodeRegistry.nodes(node)).unwrap().url);
      if (byHash) {
        await uploadInput(url, messages, { signal: aborts.signal });
        log(`uploaded the input to node ${node}'s worker (${url})`);
      }
      streams.push(streamOutput({
        url, request, pair: signer, genesisHash, signal: aborts.signal, deadline: Date.now() + 120_000,
        onToken: (token) => {
          mark('first_token');
          streaming ??= url;
          if (streaming === url) onText(token.text);
        },
      }).then((output) => {
        mark('answer');
        if (!answer) {
          answer = output;
          log(`\nanswer complete from ${url} (${output.token_ids.length} tokens, finish ${output.finish_reason}); awaiting settlement`);
        }
        return output;
      }).catch((e) => {
        if (!aborts.signal.aborted) log(`(${url}: ${e.message})`);
        return null;
      }));
    }
  };

  // Each new block's events: the selection, the end of the request, and (on chain) the
  // publication of its output.
  let heads;
  let timer;
  let publishedSeen;
  const published = new Promise((resolve) => { publishedSeen = resolve; });
  const [settled, header] = await new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('not settled within 5 minutes')), 300_000);
    heads = api.rpc.chain.subscribeNewHeads(async (head) => {
      const records = await api.query.system.events.at(head.hash);
      for (const { event } of records) {
        if (event.data.request?.toNumber?.() !== request) continue;
        // The answer is read from every node drawn: the first draw, a fork's draw (on a network of
        // several validators a best block can be replaced, and its draw with it) and the
        // replacement of a node that missed its deadline.
        if (api.events.inference.NodesSelected.is(event)) {
          mark('selected');
          blocks.selected ??= head.number.toNumber();
          log(`block #${head.number} selected node(s) ${event.data.nodes.map((n) => n.toString()).join(', ')}`);
          startStreams(event.data.nodes).catch(reject);
        }
        if (api.events.inference.NodeRedrawn.is(event)) {
          log(`block #${head.number} replaced node ${event.data.replaced} with node ${event.data.node}`);
          startStreams([event.data.node]).catch(reject);
        }
        if (api.events.inference.OutputPublished.is(event)) {
          mark('published');
          blocks.published = head.number.toNumber();
          publishedSeen?.();
        }
        const done = api.events.inference.RequestSettled.is(event) || api.events.inference.RequestFailed.is(event)
          || api.events.inference.RequestDisputed.is(event);
        if (done) {
          if (!onChain) clearTimeout(timer);
          mark('settled');
          blocks.settled = head.number.toNumber();
          resolve([event, head]);
        }
      }
    });
    heads.catch(reject);
  });
  if (onChain && api.events.inference.RequestSettled.is(settled)) {
    // Nobody signs for it: the nodes' off-chain workers send it as the request settles.
    await Promise.race([published, new Promise((resolve) => setTimeout(resolve, 60_000))]);
  }
  clearTimeout(timer);
  (await heads)();
  if (!api.events.inference.RequestSettled.is(settled)) {
    aborts.abort();
    throw new Error(`request ${request} ended with ${settled.method}: ${settled.data.toString()}`);
  }
  const result = (await api.query.inference.results(request)).unwrap();
  const commitment = u8aToHex(result.outputCommitment);
  log(`settled in block #${header.number} (${header.hash.toHex()})`);
  log(`  output commitment  ${commitment}`);
  log(`  output tokens      ${result.outputTokens}`);
  log(`  nodes              ${result.nodes.map((n) => n.toString()).join(', ')}`);
  log(`  sampler seed       ${result.samplerSeed}`);

  // The answer may still be arriving; the first complete one is checked.
  if (!answer) {
    await Promise.race([
      Promise.any(streams.map((s) => s.then((o) => o ?? Promise.reject()))).catch(() => null),
      new Promise((resolve) => setTimeout(resolve, 60_000)),
    ]);
  }
  aborts.abort();
  if (!answer) throw new Error('no selected node delivered the answer');
  const checked = { n: result.nodes.length, crossValidation: spec.mode.CrossValidation !== undefined };
  const mismatch = checkDelivered(answer, commitment, checked);
  if (mismatch) throw new Error(`the delivered answer is not the settled one: ${mismatch}`);
  log(`verified: the ${answer.token_ids.length} tokens received hash to the settled commitment`);
  if (onChain) {
    const output = await api.query.inference.outputs(request);
    if (output.isNone) throw new Error('the output was not published on chain within a minute');
    if (output.unwrap().toHex() !== `0x${answer.canonical_output}`) {
      throw new Error('the output published on chain is not the delivered answer');
    }
    log(`published on chain in block #${blocks.published}, ${timings.published - timings.settled} ms after settlement`);
  }

  // Finality of the settling block.
  let finalized;
  const reached = new Promise((resolve) => { finalized = resolve; });
  const finality = api.rpc.chain.subscribeFinalizedHeads((head) => {
    if (head.number.toNumber() >= header.number.toNumber()) {
      mark('finalized');
      finalized();
    }
  });
  await reached;
  (await finality)();
  log(`finalized ${timings.finalized} ms after submission`);
  blocks.included = (await api.rpc.chain.getHeader(blocks.includedHash)).number.toNumber();
  // Read back from the finalized chain, in case a fork moved the blocks the client saw first.
  const receipt = await receiptFor(api, request, blocks.included - 2, answer);
  delete blocks.includedHash;
  let question;
  if (viaOracle) {
    // The pallet heard the outcome in the settling block itself.
    question = (await api.query.oracle.questions(request)).unwrap().toJSON();
    const recorded = question.answer?.settled?.outputCommitment;
    if (recorded !== commitment) {
      throw new Error(`the oracle recorded ${JSON.stringify(question.answer)}, not the settled ${commitment}`);
    }
    log(`the oracle pallet recorded the settled answer (deposit ${question.deposit} plancks held until oracle.forget)`);
  }
  return { request, answer, result, receipt, timings, blocks, question };
}

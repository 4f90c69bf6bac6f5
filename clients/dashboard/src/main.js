// The dashboard: the network as the chain holds it, refreshed with every new block, and a form
// that asks for a verified answer with `@atoma-appchain/client` (the same code as the CLI). Plain
// `@polkadot/api` in the browser: storage and the runtime's view APIs, no custom types.
//
// The node's endpoint: `?ws=` in the page's address, else the one the server was started with
// (`config.json`), else ws://127.0.0.1:9944.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { u8aToString } from '@polkadot/util';
import { cryptoWaitReady } from '@polkadot/util-crypto';

import { MODEL, ask, verifyReceipt } from '@atoma-appchain/client';

import { amount, feedEntry } from './feed.js';

/** Dev accounts offered in the account field (dev and test chains endow them). */
const DEV_ACCOUNTS = ['//Alice', '//Bob', '//Charlie', '//Dave', '//Eve', '//Ferdie'];
/** Entries kept in each feed. */
const FEED_LENGTH = 100;
/** Blocks read back for the feeds when the page opens. */
const BACKFILL_BLOCKS = 100;

const $ = (id) => document.getElementById(id);

/** An element with `props` (properties, `dataset` merged) and children (nodes or text). */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(element, rest);
  Object.assign(element.dataset, dataset ?? {});
  element.append(...children.flat().filter((c) => c !== null && c !== undefined).map((c) => (c instanceof Node ? c : String(c))));
  return element;
}

/** Replace the rows of table `id`; an empty table says `empty`. */
function fillTable(id, rows, empty) {
  const body = $(id).tBodies[0];
  const columns = $(id).tHead.rows[0].cells.length;
  body.replaceChildren(...(rows.length
    ? rows.map(({ key, cells }) => h('tr', { dataset: { key: String(key) } }, cells.map((c) => h('td', {}, c))))
    : [h('tr', {}, h('td', { className: 'empty', colSpan: columns }, empty))]));
}

const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;
const hash = (hex) => h('span', { className: 'hash', title: hex }, `${hex.slice(0, 10)}…`);
const text = (bytes) => u8aToString(bytes.toU8a(true));

async function endpoint() {
  const fromAddress = new URLSearchParams(location.search).get('ws');
  if (fromAddress) return fromAddress;
  try {
    const config = await (await fetch('config.json')).json();
    if (config.ws) return config.ws;
  } catch {
    // Served without a config: the default.
  }
  return 'ws://127.0.0.1:9944';
}

class Dashboard {
  constructor(api, ws) {
    this.api = api;
    this.ws = ws;
    this.feeds = { settlements: [], slashes: [] };
    this.refreshing = null;
    this.again = false;
    this.lastBlock = 0;
    this.keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
    const [decimals] = api.registry.chainDecimals;
    const [unit] = api.registry.chainTokens;
    this.balance = (value) => amount(value, decimals, unit);
  }

  /** Follow new and finalized heads; everything else follows from them. */
  async start() {
    const [chain, version] = [await this.api.rpc.system.chain(), this.api.runtimeVersion];
    this.title = `${chain} · ${version.specName} ${version.specVersion.toNumber()}`;
    this.finalized = 0;
    await this.api.rpc.chain.subscribeFinalizedHeads((head) => {
      this.finalized = head.number.toNumber();
      this.showStatus();
    });
    const best = await this.api.rpc.chain.getHeader();
    await this.backfill(best);
    await this.api.rpc.chain.subscribeNewHeads((head) => this.onHead(head));
    this.setUpAsk();
  }

  showStatus(head = this.head) {
    this.head = head;
    const status = $('status');
    status.dataset.state = 'connected';
    status.textContent = `${this.title} · block #${head?.number.toNumber() ?? '…'} · finalized #${this.finalized}`
      + ` · epoch ${this.epoch ?? '…'} · ${this.ws}`;
  }

  /** The feeds of the last `BACKFILL_BLOCKS` blocks, oldest first. */
  async backfill(best) {
    const top = best.number.toNumber();
    const hashes = [];
    let hash = best.hash;
    for (let n = top; n > Math.max(0, top - BACKFILL_BLOCKS); n -= 1) {
      hashes.unshift([n, hash]);
      hash = (await this.api.rpc.chain.getHeader(hash)).parentHash;
    }
    for (const [n, blockHash] of hashes) await this.readEvents(n, blockHash);
    this.lastBlock = top;
  }

  async onHead(head) {
    const number = head.number.toNumber();
    this.showStatus(head);
    // Blocks missed between two notifications (a slow refresh, a reconnection) are read too.
    for (let n = Math.max(this.lastBlock + 1, number - BACKFILL_BLOCKS); n < number; n += 1) {
      await this.readEvents(n, await this.api.rpc.chain.getBlockHash(n));
    }
    if (number > this.lastBlock) await this.readEvents(number, head.hash);
    this.lastBlock = Math.max(this.lastBlock, number);
    this.renderFeeds();
    await this.refresh();
  }

  async readEvents(number, blockHash) {
    const records = await this.api.query.system.events.at(blockHash);
    for (const { event } of records) {
      const entry = feedEntry(event, number, this.balance);
      if (!entry) continue;
      const feed = this.feeds[entry.feed];
      feed.unshift(entry);
      feed.length = Math.min(feed.length, FEED_LENGTH);
    }
  }

  renderFeeds() {
    for (const [id, entries] of Object.entries(this.feeds)) {
      $(id).replaceChildren(...entries.map((e) => h('li', { className: e.tone, dataset: { request: String(e.request ?? '') } },
        h('span', { className: 'block' }, `#${e.block}`),
        h('span', { className: 'what' }, `${e.what.split('.')[1]}${e.request === null ? '' : ` request ${e.request}`}`),
        h('span', {}, e.text))));
      if (!entries.length) $(id).replaceChildren(h('li', { className: 'empty' }, 'none in the last blocks'));
    }
  }

  /** Read the state again; a head arriving during a refresh asks for one more afterwards. */
  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          await this.readState();
        } catch (e) {
          console.error(e);
        }
      } while (this.again);
    })();
    await this.refreshing;
    this.refreshing = null;
  }

  async readState() {
    const { api } = this;
    const [nodes, echelons, models, requests, disputes, epoch] = await Promise.all([
      api.query.nodeRegistry.nodes.entries(),
      api.call.atomaViewApi.echelons(),
      api.call.atomaViewApi.models(),
      api.query.inference.requests.entries(),
      api.query.disputes.disputes.entries(),
      api.query.nodeRegistry.currentEpoch(),
    ]);
    this.epoch = epoch.toNumber();
    this.showStatus();

    // Which models each node could be drawn for right now.
    const serves = new Map();
    await Promise.all(models.flatMap(([id, model]) => model.echelons.map(async (echelon) => {
      for (const node of await api.call.atomaViewApi.eligibleNodes(id, echelon)) {
        const key = node.toNumber();
        serves.set(key, [...(serves.get(key) ?? []), text(id)]);
      }
    })));
    fillTable('nodes', nodes
      .map(([key, node]) => [key.args[0].toNumber(), node.unwrap()])
      .sort(([a], [b]) => a - b)
      .map(([id, node]) => ({
        key: id,
        cells: [id, h('span', { title: node.operator.toString() }, short(node.operator.toString())),
          node.echelon.toNumber(), node.status.type, this.balance(node.collateral), this.balance(node.reserved),
          node.pendingJobs.toNumber(), (serves.get(id) ?? []).join(', ') || '—', text(node.url)],
      })), 'no node is registered');

    fillTable('echelons', echelons.map(({ id, echelon, pricePerToken }) => ({
      key: id.toNumber(),
      cells: [id.toNumber(), text(echelon.device), echelon.deviceCount.toNumber(),
        echelon.memoryMib.toNumber() ? `${echelon.memoryMib.toNumber()} MiB` : '—',
        pricePerToken.isSome ? this.balance(pricePerToken.unwrap()) : 'no price this epoch'],
    })), 'no echelon is registered');

    const modelIds = models.map(([id]) => text(id));
    fillTable('models', models.map(([id, model]) => ({
      key: text(id),
      cells: [text(id), model.status.type, model.echelons.map((e) => e.toNumber()).join(', '),
        model.ownerShare.toHuman(), hash(model.weightsRoot.toHex())],
    })), 'no model is registered');
    this.offerModels(modelIds);

    fillTable('requests', requests
      .map(([key, request]) => [key.args[0].toNumber(), request.unwrap()])
      .sort(([a], [b]) => b - a)
      .map(([id, request]) => ({
        key: id,
        cells: [id, h('span', { title: request.owner.toString() }, short(request.owner.toString())), text(request.model),
          request.mode.type === 'Single' ? 'one node' : `${request.mode.type} ${JSON.stringify(request.mode.value.toJSON())}`,
          request.phase.type, request.nodes.map((n) => n.toNumber()).join(', ') || '—', this.balance(request.escrow),
          `#${request.submittedAt.toNumber()}`],
      })), 'no request is in flight');

    fillTable('disputes', disputes.map(([key, dispute]) => {
      const d = dispute.unwrap();
      return {
        key: key.args[0].toNumber(),
        cells: [key.args[0].toNumber(),
          `${d.phase.type}, round ${d.round.toNumber()}, ${d.claims.length} parties, arbiters [${d.arbiters.map((a) => a.toNumber()).join(', ')}], ends by #${d.finalDeadline.toNumber()}`],
      };
    }), 'no dispute is open');
  }

  offerModels(ids) {
    const select = $('ask-model');
    const current = [...select.options].map((o) => o.value).join();
    if (current === ids.join()) return;
    const chosen = select.value || MODEL;
    select.replaceChildren(...ids.map((id) => h('option', { value: id, selected: id === chosen }, id)));
  }

  setUpAsk() {
    $('dev-accounts').replaceChildren(...DEV_ACCOUNTS.map((uri) => h('option', { value: uri })));
    const showBalance = async () => {
      try {
        const pair = this.keyring.addFromUri($('ask-account').value.trim());
        const { data } = await this.api.query.system.account(pair.address);
        $('ask-balance').textContent = `${short(pair.address)}: ${this.balance(data.free)} free`;
      } catch {
        $('ask-balance').textContent = 'not a secret URI';
      }
    };
    $('ask-account').addEventListener('change', showBalance);
    showBalance();
    $('ask-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.ask().finally(showBalance);
    });
    $('ask-submit').disabled = false;
    $('receipt-recheck').addEventListener('click', () => this.recheck());
    $('verify-submit').addEventListener('click', () => this.verifyPasted());
  }

  /** Ask with the form's values: stream the answer, verify it, show the receipt. */
  async ask() {
    const verdict = $('answer-verdict');
    const progress = $('answer-progress');
    $('answer').hidden = false;
    $('answer-text').textContent = '';
    $('answer-receipt').textContent = '';
    $('receipt-recheck-result').textContent = '';
    progress.replaceChildren();
    verdict.dataset.state = 'pending';
    verdict.textContent = 'submitting…';
    $('ask-submit').disabled = true;
    this.receipt = null;
    try {
      const signer = this.keyring.addFromUri($('ask-account').value.trim());
      const { request, answer, receipt } = await ask({
        api: this.api,
        signer,
        prompt: $('ask-prompt').value,
        model: $('ask-model').value || MODEL,
        mode: $('ask-mode').value,
        maxTokens: Number($('ask-max-tokens').value),
        byHash: $('ask-by-hash').checked,
        log: (line) => {
          progress.append(h('li', {}, line.trim()));
          verdict.textContent = 'waiting for the chain…';
        },
        onText: (token) => { $('answer-text').textContent += token; },
      });
      $('answer-text').textContent = answer.text;
      verdict.dataset.state = 'verified';
      verdict.dataset.request = String(request);
      verdict.textContent = `✓ verified: request ${request}'s ${answer.token_ids.length} tokens hash to the `
        + `commitment settled in block #${receipt.settled.block} by node(s) ${receipt.nodes.join(', ')}, now final`;
      this.receipt = receipt;
      $('answer-receipt').textContent = JSON.stringify(receipt, null, 2);
    } catch (e) {
      verdict.dataset.state = 'failed';
      verdict.textContent = `✗ ${e.message ?? e}`;
    } finally {
      $('ask-submit').disabled = false;
    }
  }

  async recheck() {
    if (!this.receipt) return;
    const result = await verifyReceipt(this.api, this.receipt);
    $('receipt-recheck-result').textContent = result.ok ? '✓ holds' : `✗ ${result.reason}`;
    $('receipt-recheck-result').className = result.ok ? 'ok' : 'bad';
  }

  async verifyPasted() {
    const out = $('verify-result');
    let result;
    try {
      result = await verifyReceipt(this.api, JSON.parse($('verify-input').value));
    } catch (e) {
      result = { ok: false, reason: e.message };
    }
    out.textContent = result.ok ? '✓ the receipt holds on this chain' : `✗ ${result.reason}`;
    out.className = result.ok ? 'ok' : 'bad';
  }
}

async function main() {
  const ws = await endpoint();
  $('status').textContent = `connecting to ${ws}…`;
  await cryptoWaitReady();
  const api = await ApiPromise.create({ provider: new WsProvider(ws), noInitWarn: true });
  const dashboard = new Dashboard(api, ws);
  window.dashboard = dashboard;
  await dashboard.start();
}

main().catch((e) => {
  $('status').dataset.state = 'error';
  $('status').textContent = `error: ${e.message ?? e}`;
  console.error(e);
});

// The dashboard in headless Chromium (Debian's `chromium`, driven by playwright-core) against a
// real dev chain (../../js/e2e/harness.js: `atoma-node --dev` and a real `atoma-worker`): the page
// shows the dev node, its echelon's price and the model; a prompt asked on the page streams, is
// verified, and its receipt re-verifies here, from chain state alone; a request no node can serve
// shows the chain's reason.
//
//   (cd clients && node --test dashboard/e2e/)     (scripts/test.sh runs it)
//
// Environment: as the harness, and CHROMIUM (default /usr/bin/chromium);
// ATOMA_DASHBOARD_SCREENSHOT=FILE saves the page with its verified answer (docs/dashboard.png).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';
import { stringCamelCase, u8aConcat } from '@polkadot/util';

import { MODEL, verifyReceipt } from '@atoma-appchain/client';

import { startDevChain } from '../../js/e2e/harness.js';
import { amount, feedEntry } from '../src/feed.js';
import { serve } from '../serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// Headless as root, and quiet: no background connections this machine's closed network refuses.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let chain;
let dashboard;
let browser;
let page;
const pageErrors = [];

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM}: scripts/install-deps.sh installs Debian's chromium`);
  chain = await startDevChain();
  dashboard = await serve({ port: 0, ws: chain.ws });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(dashboard.url);
});

after(async () => {
  await browser?.close();
  await dashboard?.close();
  await chain?.stop();
});

/** The text of each cell of the row `key` of table `table`. */
const row = (table, key) => page.$$eval(`#${table} tbody tr[data-key="${key}"] td`, (cells) => cells.map((c) => c.textContent));

test('the page shows the dev node, its echelon and price, and the model, live', async () => {
  await page.waitForSelector('#status[data-state="connected"]', { timeout: 60_000 });
  await page.waitForSelector('#nodes tbody tr[data-key="0"]', { timeout: 60_000 });
  const [id, , echelon, status, collateral, , , serves, url] = await row('nodes', 0);
  assert.deepEqual([id, echelon, status, serves, url], ['0', '0', 'Active', MODEL, chain.workerPublicUrl]);
  const node = (await chain.api.query.nodeRegistry.nodes(0)).unwrap();
  assert.equal(collateral, amount(node.collateral, 12, 'TOMA'));

  const [{ pricePerToken }] = await chain.api.call.atomaViewApi.echelons();
  assert.equal((await row('echelons', 0))[4], amount(pricePerToken.unwrap(), 12, 'TOMA'));
  assert.deepEqual((await row('models', MODEL)).slice(0, 3), [MODEL, 'Approved', '0']);

  // It follows the chain: the block number in the header moves on.
  const block = async () => Number((await page.textContent('#status')).match(/block #(\d+)/)[1]);
  const first = await block();
  await page.waitForFunction((n) => Number(document.getElementById('status').textContent.match(/block #(\d+)/)[1]) > n,
    first, { timeout: 30_000 });
  assert.ok((await block()) > first);
});

test('a request no node can serve shows the chain\'s reason, and nothing is held', async () => {
  await page.waitForSelector('#ask-submit:not([disabled])');
  const bob = chain.keyring.addFromUri('//Bob');
  const frozenBefore = (await chain.api.query.system.account(bob.address)).data.reserved.toBigInt();
  await page.selectOption('#ask-mode', 'sampling:3');
  await page.click('#ask-submit');
  await page.waitForSelector('#answer-verdict[data-state="failed"]', { timeout: 60_000 });
  assert.match(await page.textContent('#answer-verdict'), /inference\.TooFewEligibleNodes: /);
  const frozenAfter = (await chain.api.query.system.account(bob.address)).data.reserved.toBigInt();
  assert.equal(frozenAfter, frozenBefore);
  await page.selectOption('#ask-mode', 'single');
});

test('a prompt asked on the page streams, is verified, and its receipt holds from chain state', async () => {
  await page.fill('#ask-prompt', 'What is the capital of France?');
  await page.fill('#ask-max-tokens', '8');
  await page.click('#ask-submit');
  // While it runs, the request is listed in flight.
  await page.waitForSelector('#requests tbody tr[data-key]', { timeout: 60_000 });
  await page.waitForSelector('#answer-verdict:is([data-state="verified"], [data-state="failed"])', { timeout: 240_000 });
  const verdict = await page.textContent('#answer-verdict');
  assert.match(verdict, /^✓ verified: request \d+'s \d+ tokens hash to the commitment settled in block #\d+ by node\(s\) 0/);
  assert.match(await page.textContent('#answer-text'), /Paris/);

  // The receipt the page shows is real: it re-verifies here, from chain state alone.
  const receipt = JSON.parse(await page.textContent('#answer-receipt'));
  assert.deepEqual(receipt.nodes, [0]);
  assert.deepEqual(await verifyReceipt(chain.api, receipt), { ok: true });
  await page.click('#receipt-recheck');
  await page.waitForSelector('#receipt-recheck-result.ok');

  // The settlement is in the feed (the block it settled in has been read by now or is next).
  await page.waitForSelector(`#settlements li[data-request="${receipt.request}"]`, { timeout: 30_000 });
  assert.match(await page.textContent(`#settlements li[data-request="${receipt.request}"]`), /RequestSettled/);

  // A receipt someone altered does not verify.
  await page.click('#verify summary');
  const altered = { ...receipt, output: { ...receipt.output, tokenIds: [...receipt.output.tokenIds.slice(0, -1), 0] } };
  await page.fill('#verify-input', JSON.stringify(altered));
  await page.click('#verify-submit');
  await page.waitForSelector('#verify-result.bad');
  assert.match(await page.textContent('#verify-result'), /does not hash to the settled commitment/);

  if (process.env.ATOMA_DASHBOARD_SCREENSHOT) {
    await page.fill('#verify-input', '');
    await page.$eval('#verify', (d) => { d.open = false; });
    await page.screenshot({ path: process.env.ATOMA_DASHBOARD_SCREENSHOT, fullPage: true });
  }
  assert.deepEqual(pageErrors, []);
});

test('disputes and slashes are worded in the feed with their amounts', async () => {
  // Events as the runtime encodes them (pallet index, variant index, fields), decoded with the
  // chain's own metadata.
  const { api } = chain;
  const event = (pallet, name, values) => {
    const { meta } = api.events[pallet][name];
    const { index } = api.registry.metadata.pallets.find((p) => stringCamelCase(p.name) === pallet);
    const fields = meta.fields.map((field, i) => api.registry.createType(api.registry.createLookupType(field.type), values[i]).toU8a());
    return api.registry.createType('Event', u8aConcat(new Uint8Array([index.toNumber(), meta.index.toNumber()]), ...fields));
  };
  const slashed = feedEntry(event('nodeRegistry', 'CollateralSlashed', [3, 2_500_000_000_000n, 500_000_000_000n, 7_500_000_000_000n]),
    7, (v) => amount(v, 12, 'TOMA'));
  assert.deepEqual(slashed, {
    feed: 'slashes', block: 7, what: 'nodeRegistry.CollateralSlashed', tone: 'bad', request: null,
    text: 'node 3 · slashed 2.5 TOMA · burned 0.5 TOMA · collateral 7.5 TOMA',
  });
  const cheater = feedEntry(event('disputes', 'CheaterSlashed', [9, 1, 1_000_000_000_000n]),
    8, (v) => amount(v, 12, 'TOMA'));
  assert.deepEqual([cheater.feed, cheater.what, cheater.tone, cheater.request, cheater.text],
    ['slashes', 'disputes.CheaterSlashed', 'bad', 9, 'node 1 · slashed 1 TOMA']);
  assert.equal(feedEntry(event('oracle', 'Forgotten', [9, chain.keyring.addFromUri('//Bob').address, 1n]), 8, String), null);
});

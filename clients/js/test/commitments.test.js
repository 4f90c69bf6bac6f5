// The client's layouts against the vectors the Rust primitives are tested against: a client that
// computed a commitment differently would call a true answer false (or a false one true).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { Keyring } from '@polkadot/keyring';
import { hexToU8a, stringToU8a, u8aToHex, u8aWrapBytes } from '@polkadot/util';
import { cryptoWaitReady, signatureVerify } from '@polkadot/util-crypto';

import {
  canonicalOutput, checkDelivered, commitmentRoot, outputLeaf, outputReadHeaders, outputReadMessage,
} from '../src/index.js';

const vectors = JSON.parse(
  readFileSync(new URL('../../../primitives/tests/vectors/vectors.json', import.meta.url), 'utf8'),
);
const bare = (u8a) => u8aToHex(u8a, -1, false);

test('outputs, leaves and roots match the primitives vectors', () => {
  assert.ok(vectors.outputs.length > 0);
  for (const v of vectors.outputs) {
    const output = canonicalOutput(v.token_ids, v.finish_reason);
    assert.equal(bare(output), v.canonical_hex, v.name);
    for (const c of v.commitments) {
      const leaves = Array.from({ length: c.n }, (_, i) => outputLeaf(output, i));
      assert.deepEqual(leaves.map(bare), c.leaves, `${v.name} n=${c.n}`);
      assert.equal(bare(commitmentRoot(leaves)), c.root, `${v.name} n=${c.n}`);
    }
  }
});

test('a delivered output is checked against the settled commitment, not the worker', () => {
  const v = vectors.outputs.find((o) => o.token_ids.length > 0 && o.commitments.some((c) => c.n === 2));
  const c = v.commitments.find((x) => x.n === 2);
  const finish = v.finish_reason === 0 ? 'stop' : 'length';
  const delivered = { token_ids: v.token_ids, finish_reason: finish, canonical_output: v.canonical_hex };
  assert.equal(checkDelivered(delivered, `0x${c.root}`, { n: 2 }), null);
  // Another quorum size, a token changed, or hex that does not encode the tokens: refused.
  assert.match(checkDelivered(delivered, `0x${c.root}`, { n: 3 }), /not the settled/);
  const changed = { ...delivered, token_ids: [...v.token_ids.slice(0, -1), v.token_ids.at(-1) + 1] };
  assert.match(checkDelivered(changed, `0x${c.root}`, { n: 2 }), /does not encode/);
  const forged = { ...changed, canonical_output: bare(canonicalOutput(changed.token_ids, finish)) };
  assert.match(checkDelivered(forged, `0x${c.root}`, { n: 2 }), /not the settled/);
});

test('the signed read is the message primitives/src/output_read.rs defines', async () => {
  await cryptoWaitReady();
  const chain = `0x${'01'.repeat(32)}`;
  const message = outputReadMessage(chain, 42, 1764700000);
  // POLKADOT_JS_SIGNED_BYTES in primitives/src/output_read.rs.
  assert.equal(
    u8aToHex(u8aWrapBytes(stringToU8a(message))),
    '0x3c42797465733e61746f6d612f6f75747075742d726561642f763120636861696e3d30783031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303130313031303120726571756573743d34322074696d657374616d703d313736343730303030303c2f42797465733e',
  );
  const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
  const headers = outputReadHeaders(alice, chain, 42, 1764700000_000);
  assert.equal(headers['x-atoma-timestamp'], '1764700000');
  assert.equal(headers['x-atoma-account'], u8aToHex(alice.publicKey));
  const signed = u8aWrapBytes(stringToU8a(message));
  assert.ok(signatureVerify(signed, hexToU8a(headers['x-atoma-signature']), alice.address).isValid);
});

// The dashboard's amounts: every significant digit of a planck amount, in whole tokens.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { amount } from '../src/feed.js';

test('amounts keep every significant digit and group thousands', () => {
  assert.equal(amount(1_000_000n, 12, 'TOMA'), '0.000001 TOMA');
  assert.equal(amount('10000000000000000', 12, 'TOMA'), '10,000 TOMA');
  assert.equal(amount(1_234_567_890_123_456n, 12, 'TOMA'), '1,234.567890123456 TOMA');
  assert.equal(amount(0, 12, 'TOMA'), '0 TOMA');
  assert.equal(amount(-1_500_000_000_000n, 12, 'TOMA'), '-1.5 TOMA');
  // Above 2^53: no precision lost to floating point.
  assert.equal(amount(2n ** 64n, 0, 'u'), '18,446,744,073,709,551,616 u');
});

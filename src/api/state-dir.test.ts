/**
 * Unit tests of the state directory's start-up helpers (the daemon is exercised end to end by the persist tier).
 * Invariant checked: the spot-check budget is shared by all torrents with resume data, bounded, and never given to a
 * torrent without resume data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spotCheckShares } from './state-dir.js';

function seeded(seed: number): () => number {
  let x = seed;
  return () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648; };
}

test('spot checks: 4 per torrent while few torrents, one each for 64 of many, none without resume data', () => {
  assert.deepEqual(spotCheckShares([true, false, true], seeded(1)), [4, 0, 4]);
  assert.deepEqual(spotCheckShares([], seeded(1)), []);
  const many = Array.from({ length: 1000 }, (_, i) => i % 10 !== 0);
  for (const r of [seeded(2), seeded(3), () => 0, () => 0.999999]) {
    const shares = spotCheckShares(many, r);
    assert.equal(shares.reduce((a, b) => a + b, 0), 64);
    shares.forEach((n, i) => { assert.ok(n === 0 || n === 1); if (!many[i]) assert.equal(n, 0); });
  }
  // Exactly at the budget: 16 torrents × 4.
  assert.deepEqual(spotCheckShares(Array.from({ length: 16 }, () => true), seeded(4)), Array.from({ length: 16 }, () => 4));
});

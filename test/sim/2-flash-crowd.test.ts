/**
 * Simulation tier (a): 1 seed and 200 leechers of a 64 MiB torrent arrive within 10 s on residential links
 * (test/sim/scenarios.ts); every leecher completes. Prints and records the figures (peers, simulated seconds, wall
 * seconds, speed-up over real time) in the results file (test/support/sim-swarm.ts `resultsPath`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { record, runSwarm } from '../support/sim-swarm.js';
import { assertHealthy } from './checks.js';
import { flashCrowd } from './scenarios.js';

test('1 seed + 200 leechers of 64 MiB: all complete', { timeout: 600_000 }, async () => {
  const r = await runSwarm(flashCrowd);
  record('flash-crowd', flashCrowd, r);
  assertHealthy(flashCrowd, r);
  assert.equal(r.present, 200);
  assert.equal(r.peers.length, 201);
});

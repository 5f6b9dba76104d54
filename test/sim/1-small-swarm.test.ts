/**
 * Simulation tier, first and fast: 1 seed and 10 leechers of a 4 MiB torrent on the simulated network (virtual
 * clock, latency, caps, 0.1 % loss), all in one process with no socket, no thread and no real timer. Every leecher
 * completes; the same seed replays the same run (same digest of every event and per-peer figure); another seed
 * gives another run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { record, runSwarm } from '../support/sim-swarm.js';
import { assertHealthy } from './checks.js';
import { small } from './scenarios.js';

/** Real (Node) timers alive in this process. */
const realTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('1 seed + 10 leechers complete on the simulated network; a seed replays exactly', { timeout: 60_000 }, async () => {
  const before = realTimers();
  const r = await runSwarm(small);
  assertHealthy(small, r);
  assert.equal(r.present, 10);
  assert.equal(realTimers(), before, 'no real timer was started or left behind');
  const again = await runSwarm(small);
  assert.equal(again.digest, r.digest, 'the same seed gives the same events at the same virtual times');
  assert.deepEqual(again.peers, r.peers);
  assert.equal(again.simSeconds, r.simSeconds);
  const other = await runSwarm({ ...small, seed: small.seed + 1 });
  assertHealthy(small, other);
  assert.notEqual(other.digest, r.digest, 'another seed gives another run');
  record('small', small, r);
});

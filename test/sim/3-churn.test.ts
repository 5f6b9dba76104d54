/**
 * Simulation tier (b): the 200-leecher, 64 MiB swarm of (a) with churn: while the download runs, 40 of the first
 * 200 leechers (20 %) leave (their connections reset, their address stops answering) and 40 new leechers arrive.
 * Every leecher present at the end completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { record, runSwarm } from '../support/sim-swarm.js';
import { assertHealthy } from './checks.js';
import { churn } from './scenarios.js';

test('1 seed + 200 leechers of 64 MiB, 20 % leave and 40 arrive during the download: all present complete', { timeout: 600_000 }, async () => {
  const r = await runSwarm(churn);
  record('churn', churn, r);
  assertHealthy(churn, r);
  assert.equal(r.left, 40, '40 leechers left');
  assert.equal(r.arrived, 40, '40 leechers arrived');
  assert.equal(r.present, 200, '200 leechers at the end');
  const leavers = r.peers.filter((p) => p.leftAt !== null);
  assert.ok(leavers.some((p) => p.completedAfter === null), 'some leavers left before they completed (churn during the download)');
  const late = r.peers.filter((p) => p.role === 'leecher' && p.joinedAt >= churn.churn!.fromMs);
  assert.equal(late.length, 40);
  assert.ok(late.every((p) => p.completedAfter !== null), 'every newcomer completed');
});

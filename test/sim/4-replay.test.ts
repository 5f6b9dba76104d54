/**
 * Simulation tier (c): determinism. A churning swarm (1 seed, 60 leechers, 16 MiB, 12 leave and 12 arrive, 0.1 %
 * loss) is run twice from the same seed: the digests of the two event logs (every session event with its virtual
 * time, and per-peer completion times, bytes up and down, connection counts) are equal, and so are the tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { record, runSwarm } from '../support/sim-swarm.js';
import { assertHealthy } from './checks.js';
import { replay } from './scenarios.js';

test('the same seed replays a churning swarm exactly', { timeout: 120_000 }, async () => {
  const first = await runSwarm(replay);
  assertHealthy(replay, first);
  const second = await runSwarm(replay);
  assertHealthy(replay, second);
  assert.equal(second.events, first.events);
  assert.deepEqual(second.peers, first.peers, 'per-peer completion times, bytes up/down and connection counts');
  assert.equal(second.digest, first.digest, 'the digests of the two event logs match');
  record('replay', replay, first, { replayDigest: second.digest, replayMatched: second.digest === first.digest });
});

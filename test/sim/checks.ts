/**
 * What every simulated swarm must show (test/sim/*.test.ts): every leecher present at the end holds every piece,
 * no write was refused and no piece failed its hash check, and closing every session left no timer on the clock and
 * no connection open.
 */
import assert from 'node:assert/strict';
import type { SwarmOptions, SwarmResult } from '../support/sim-swarm.js';

export function assertHealthy(o: SwarmOptions, r: SwarmResult): void {
  const pieces = Math.ceil(o.sizeBytes / o.pieceLength);
  const unfinished = r.peers.filter((p) => p.role === 'leecher' && p.leftAt === null && (p.completedAfter === null || p.pieces !== pieces));
  assert.deepEqual(unfinished.map((p) => p.address), [], 'every leecher present at the end completed and holds every piece');
  assert.equal(r.presentComplete, r.present);
  assert.equal(r.peers.reduce((n, p) => n + p.badWrites, 0), 0, 'no write carried foreign bytes');
  assert.equal(r.pieceFailures, 0, 'no piece failed its hash check');
  assert.equal(r.peers.find((p) => p.role === 'seed')!.pieces, pieces, 'the seed kept every piece');
  for (const p of r.peers.filter((x) => x.role === 'leecher' && x.leftAt === null)) {
    assert.ok(p.bytesDown >= o.sizeBytes, `${p.address} downloaded at least the torrent (${p.bytesDown} bytes)`);
  }
  assert.equal(r.timersAfterClose, 0, 'closing every session left no timer on the clock');
  assert.equal(r.openStreamsAfterClose, 0, `no connection left open: ${r.openAfterClose.join('; ')}`);
}

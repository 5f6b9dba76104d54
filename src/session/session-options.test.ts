/**
 * Session options the simulation tier needs (issue 10, item 7), additive: an injected peer id, and no UDP endpoint.
 * Defaults unchanged: a fresh random peer id, and the UDP endpoint bound on listen.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from './session.js';
import { ManualClock } from '../util/clock.js';
import { CLIENT_PREFIX } from '../util/peer-id.js';
import { MemoryNetwork } from '../../test/support/memory-transport.js';

const common = { lsd: false, pex: false, trackers: false, hashWorkers: 0 } as const;

test('peerId: the session uses the id it is given (a copy); by default a fresh one with our prefix', () => {
  const id = Buffer.from('-xx0000-abcdefghijkl');
  const s = new Session({ ...common, peerId: id });
  assert.deepEqual(s.peerId, id);
  id[0] = 0;
  assert.equal(s.peerId[0], '-'.charCodeAt(0), 'copied, not shared');
  const a = new Session(common);
  const b = new Session(common);
  assert.equal(a.peerId.subarray(0, CLIENT_PREFIX.length).toString('latin1'), CLIENT_PREFIX);
  assert.notDeepEqual(a.peerId, b.peerId, 'random by default');
  assert.throws(() => new Session({ ...common, peerId: Buffer.alloc(19) }), RangeError);
});

test('udp: false leaves the UDP endpoint unbound (the default binds it: the loopback UDP tracker tests)', async () => {
  const network = new MemoryNetwork();
  const off = new Session({ ...common, clock: new ManualClock(0), udp: false, host: '127.0.0.1', transport: network.transport('127.0.0.1') });
  try {
    await off.listen();
    assert.equal(off.services!.udp.bound, false, 'no UDP socket');
  } finally {
    await off.close();
  }
});

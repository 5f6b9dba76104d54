/**
 * PeerManager (src/session/peers.ts): with encryption `enabled`, a peer that hangs up on our MSE handshake is
 * dialled again in plaintext at once, from the failure itself, without waiting for the torrent's next tick (libtorrent's
 * pe_support toggle with a fast reconnect); hash-failure strikes and bans hold for an address that is not connected.
 * BEP 3 handshake, MSE/PE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { PeerManager, type PeerManagerHost } from './peers.js';
import { ManualClock } from '../util/clock.js';
import { cause } from '../util/errors.js';
import type { PeerStream, Transport } from '../net/transport.js';

const PSTR = Buffer.from('\x13BitTorrent protocol', 'latin1');

function idleHost(dials: string[] = []): PeerManagerHost {
  return {
    infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2), reserved: Buffer.alloc(8), pieceCount: 1,
    geometry: { pieceCount: 1, pieceLength: 16384, totalLength: 16384 }, now: () => 0, clock: new ManualClock(0),
    transport: { listen: () => Promise.reject(new Error('not used')), connect: (host, port) => { dials.push(`${host}:${port}`); return new Promise(() => undefined); } },
    encryption: () => 'disabled', canOpen: () => true, wantsOutgoing: () => true, isSeeding: () => false,
    onPeerConnected: () => undefined, onPeerMessage: () => undefined, onPeerClosed: () => undefined, onPeerDrain: () => undefined, log: () => undefined,
  };
}

test('strikes count by address, whether or not it is connected; a ban of an address that has gone keeps it out', () => {
  const dials: string[] = [];
  const peers = new PeerManager(idleHost(dials));
  assert.deepEqual([peers.strike('192.0.2.7:6881'), peers.strike('192.0.2.7:6881'), peers.strike('192.0.2.8:6881')], [1, 2, 1]);
  peers.addCandidate('192.0.2.7', 6881, 'tracker');
  peers.ban('192.0.2.7:6881', cause('hash', 'BANNED', 'sent piece 3, which failed its hash check'));
  assert.equal(peers.isBanned('192.0.2.7:6881'), true);
  assert.equal(peers.isBanned('192.0.2.8:6881'), false);
  assert.equal(peers.addCandidate('192.0.2.7', 6881, 'pex'), false, 'a banned address is not a candidate again');
  peers.addCandidate('192.0.2.8', 6881, 'pex');
  peers.tick(0);
  assert.deepEqual(dials, ['192.0.2.8:6881'], 'the banned candidate is never dialled');
  peers.stop(cause('local', 'ABORTED', 'test over'));
});

test('a peer that hangs up on the MSE handshake is redialled in plaintext without waiting for a tick', async () => {
  const dials: Buffer[][] = [];
  const streams: Duplex[] = [];
  const transport: Transport = {
    listen: () => Promise.reject(new Error('not used')),
    connect: () => {
      const written: Buffer[] = [];
      dials.push(written);
      const stream = new Duplex({ read: () => undefined, write: (c: Buffer, _e, done) => { written.push(c); done(); } });
      streams.push(stream);
      return Promise.resolve(stream as unknown as PeerStream);
    },
  };
  const logs: string[] = [];
  const host: PeerManagerHost = {
    infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2), reserved: Buffer.alloc(8), pieceCount: 1,
    geometry: { pieceCount: 1, pieceLength: 16384, totalLength: 16384 }, now: () => 0, clock: new ManualClock(0),
    transport, encryption: () => 'enabled',
    canOpen: () => true, wantsOutgoing: () => true, isSeeding: () => false,
    onPeerConnected: () => undefined, onPeerMessage: () => undefined, onPeerClosed: () => undefined,
    onPeerDrain: () => undefined, log: (m) => logs.push(m),
  };
  const peers = new PeerManager(host);
  peers.addCandidate('192.0.2.7', 6881, 'manual');
  peers.tick(0);
  const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };
  await settle();
  assert.equal(dials.length, 1);
  const first = Buffer.concat(dials[0]!);
  assert.ok(first.length > 0 && !first.subarray(0, PSTR.length).equals(PSTR), 'the first dial starts an MSE handshake');
  streams[0]!.push(null); // the peer (encryption disabled) hangs up
  await settle();
  assert.ok(logs.some((l) => l.includes('trying plaintext')), logs.join('\n'));
  assert.equal(dials.length, 2, 'the plaintext dial went out with no tick() in between');
  assert.ok(Buffer.concat(dials[1]!).subarray(0, PSTR.length).equals(PSTR), 'the second dial is a plaintext BEP 3 handshake');
  peers.stop(cause('local', 'ABORTED', 'test over'));
  for (const s of streams) s.destroy();
});

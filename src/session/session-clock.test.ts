/**
 * Injected time and chained cancellation (issue 10, item 5): a Session given a ManualClock takes every timer from it
 * (its tick, handshake deadlines, the torrents' timers), so a download runs on virtual time over the in-memory
 * transport of test/support/memory-transport.ts with MemoryStorage; closing the session leaves no timer pending on
 * the clock, no real timer and no open connection. A dial in progress is aborted by its torrent's signal.
 * The first brick of the simulation tier: no socket, no port, and virtual time advanced by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { Duplex } from 'node:stream';
import { buildTorrent } from '../metainfo/build.js';
import { Session } from './session.js';
import { PeerManager, type PeerManagerHost } from './peers.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { ManualClock } from '../util/clock.js';
import { cause } from '../util/errors.js';
import type { DialOptions, PeerStream, Transport } from '../net/transport.js';
import { MemoryNetwork } from '../../test/support/memory-transport.js';

const PIECE = 16 * 1024;
const common = { lsd: false, pex: false, trackers: false, hashWorkers: 1 } as const;

function smallTorrent(): { meta: ReturnType<typeof buildTorrent>['meta']; data: Buffer } {
  const data = Buffer.alloc(4 * PIECE + 321);
  for (let i = 0; i < data.length; i++) data[i] = (i * 13 + (i >> 7)) & 0xff;
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += PIECE) hashes.push(createHash('sha1').update(data.subarray(off, off + PIECE)).digest());
  return { meta: buildTorrent('clocked.bin', PIECE, undefined, data.length, Buffer.concat(hashes), {}).meta, data };
}

/** A PeerManagerHost for one 1-piece torrent whose dials go through `transport`, under `signal`; it does nothing else. */
function dialHost(transport: Transport, signal: AbortSignal): PeerManagerHost {
  return {
    infoHash: Buffer.alloc(20, 1), peerId: Buffer.alloc(20, 2), reserved: Buffer.alloc(8), pieceCount: 1,
    geometry: { pieceCount: 1, pieceLength: PIECE, totalLength: PIECE }, now: () => 0, clock: new ManualClock(0),
    signal, transport,
    canOpen: () => true, wantsOutgoing: () => true, isSeeding: () => false,
    onPeerConnected: () => undefined, onPeerMessage: () => undefined, onPeerClosed: () => undefined,
    onPeerDrain: () => undefined, log: () => undefined,
  };
}

/** Real (Node) timers alive in this process. */
const realTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Advance virtual time 1 ms a step, letting I/O run between steps, until `done()` or `maxMs` of virtual time. */
async function runUntil(clock: ManualClock, done: () => boolean, maxMs: number): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t++) {
    clock.advance(1);
    for (let i = 0; i < 5; i++) await turn();
  }
}

test('a download runs on the ManualClock; closing leaves no timer and no connection', { timeout: 30_000 }, async () => {
  const { meta, data } = smallTorrent();
  const network = new MemoryNetwork();
  const clock = new ManualClock(1_700_000_000_000);
  const realBefore = realTimers();
  const seed = new Session({ ...common, clock, host: '192.0.2.1', transport: network.transport('192.0.2.1') });
  const leech = new Session({ ...common, clock, host: '192.0.2.2', transport: network.transport('192.0.2.2') });
  let closed = false;
  try {
    const seedPort = await seed.listen();
    await leech.listen();
    assert.equal(realTimers(), realBefore, 'listening starts no real timer (the tick is on the clock)');
    assert.ok(clock.pending >= 2, 'each session\'s tick interval is on the ManualClock');
    await seed.addTorrent(meta, { savePath: '/memory/seed', storage: new MemoryStorage(meta, { data }) });
    const storage = new MemoryStorage(meta);
    let complete = false;
    let connects = 0;
    const off = leech.events.subscribe((e) => {
      if (e.event === 'complete') complete = true;
      if (e.event === 'peer-connect') connects++;
    });
    const t = await leech.addTorrent(meta, { savePath: '/memory/leech', storage, peers: [{ host: '192.0.2.1', port: seedPort }] });
    const startedAt = clock.now();
    await runUntil(clock, () => complete, 60_000);
    off();
    assert.ok(complete, `the download completed within 60 s of virtual time (ran ${clock.now() - startedAt} ms)`);
    const got: Buffer[] = [];
    for (let i = 0; i < meta.pieceCount; i++) got.push((await storage.readPiece(i))!);
    assert.ok(Buffer.concat(got).equals(data), 'the leecher holds exactly the seed\'s bytes');
    assert.ok(connects >= 1, 'the leecher connected to the seed');

    await Promise.all([seed.close(), leech.close()]);
    closed = true;
    assert.ok(leech.signal.aborted && t.signal.aborted, 'the session\'s abort reached its torrent');
    for (let i = 0; i < 20 && network.openStreams > 0; i++) await turn();
    assert.equal(network.openStreams, 0, 'no connection is left open');
    assert.equal(clock.pending, 0, 'no timer is left on the clock');
    assert.equal(realTimers(), realBefore, 'no real timer is left');
  } finally {
    if (!closed) await Promise.all([seed.close(), leech.close()]);
  }
});

test('closing the session ends an incoming connection still in its handshake, and its deadline', { timeout: 10_000 }, async () => {
  const network = new MemoryNetwork();
  const clock = new ManualClock(0);
  const session = new Session({ ...common, clock, host: '192.0.2.1', transport: network.transport('192.0.2.1') });
  let closed = false;
  try {
    const port = await session.listen();
    const ticking = clock.pending;
    const stream = await network.transport('192.0.2.9').connect('192.0.2.1', port, { timeoutMs: 1000 });
    stream.on('error', () => undefined);
    const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(clock.pending, ticking + 1, 'the handshake deadline is on the ManualClock');
    await session.close();
    closed = true;
    await ended;
    for (let i = 0; i < 5 && network.openStreams > 0; i++) await turn();
    assert.equal(network.openStreams, 0, 'the half-open connection was closed with the session');
    assert.equal(clock.pending, 0, 'its deadline was cleared');
  } finally {
    if (!closed) await session.close();
  }
});

test('a dial in progress is aborted by its torrent\'s signal (chained cancellation)', async () => {
  const torrent = new AbortController();
  const seen: AbortSignal[] = [];
  const transport: Transport = {
    listen: () => Promise.reject(new Error('not used')),
    connect: (_host: string, _port: number, opts: DialOptions) => new Promise<PeerStream>((_resolve, reject) => {
      seen.push(opts.signal!);
      opts.signal!.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    }),
  };
  const host = dialHost(transport, torrent.signal);
  const peers = new PeerManager(host);
  peers.addCandidate('192.0.2.7', 6881, 'manual');
  peers.tick(0);
  assert.equal(seen.length, 1, 'one dial started');
  assert.equal(seen[0]!.aborted, false);
  torrent.abort(new Error('torrent closed'));
  assert.equal(seen[0]!.aborted, true, 'the torrent\'s abort reached the dial');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(peers.connecting.size, 0, 'the aborted dial is no longer in progress');
  peers.stop(cause('local', 'ABORTED', 'test over'));
});

test('a dial takes its abort listener off the chained signal once its handshake has failed', async () => {
  const torrent = new AbortController();
  let signal: AbortSignal | undefined;
  let stream: Duplex | undefined;
  const transport: Transport = {
    listen: () => Promise.reject(new Error('not used')),
    connect: (_host: string, _port: number, opts: DialOptions) => {
      signal = opts.signal;
      stream = new Duplex({ read: () => undefined, write: (_c, _e, done) => done() }); // a peer that never answers
      return Promise.resolve(stream as unknown as PeerStream);
    },
  };
  // Plaintext only: with encryption `enabled`, a failed MSE handshake is redialled in plaintext at once (peers.test.ts).
  const host: PeerManagerHost = { ...dialHost(transport, torrent.signal), encryption: () => 'disabled' };
  const peers = new PeerManager(host);
  peers.addCandidate('192.0.2.7', 6881, 'manual');
  peers.tick(0);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(getEventListeners(signal!, 'abort').length, 1, 'the handshake being read is abortable');
  stream!.destroy(); // the peer hangs up before its handshake
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(peers.connecting.size, 0, 'the dial failed');
  assert.equal(getEventListeners(signal!, 'abort').length, 0, 'nothing keeps the chained signal (and the stream) alive');
  peers.stop(cause('local', 'ABORTED', 'test over'));
});

/**
 * The torrent's read model and commands (issue 10, item 1): `status()` is an immutable snapshot, detached from the
 * torrent (a later download does not change an earlier snapshot), with correct contents for a small two-file torrent
 * downloaded over the in-memory transport on a ManualClock; the commands (setFiles, setLimits, the user's pause and
 * resume, restored totals, recovered bytes, queue order) show in the next snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildTorrent } from '../metainfo/build.js';
import { Session } from './session.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { ManualClock } from '../util/clock.js';
import { MemoryNetwork } from '../../test/support/memory-transport.js';
import type { TorrentStatus } from './torrent-status.js';
import { isBtError } from '../util/errors.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PIECE = 16 * 1024;
const common = { lsd: false, pex: false, trackers: false, hashWorkers: 1 } as const;
const TRACKER = 'http://127.0.0.1:1/announce';

function twoFiles(name = 'pair'): { meta: ReturnType<typeof buildTorrent>['meta']; data: Buffer } {
  const data = Buffer.alloc(4 * PIECE + 321);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9) + name.length) & 0xff;
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += PIECE) hashes.push(createHash('sha1').update(data.subarray(off, off + PIECE)).digest());
  const files = [{ path: ['a.bin'], length: 2 * PIECE + 100 }, { path: ['b.bin'], length: data.length - (2 * PIECE + 100) }];
  return { meta: buildTorrent(name, PIECE, files, data.length, Buffer.concat(hashes), { announce: [TRACKER] }).meta, data };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A seed of `meta` (in memory) and a leecher session on one memory network and one ManualClock, both listening. */
async function seedAndLeech(meta: ReturnType<typeof twoFiles>['meta'], data: Buffer): Promise<{ clock: ManualClock; seed: Session; leech: Session; seedPort: number }> {
  const network = new MemoryNetwork();
  const clock = new ManualClock(1_700_000_000_500);
  const seed = new Session({ ...common, clock, host: '192.0.2.1', transport: network.transport('192.0.2.1') });
  const leech = new Session({ ...common, clock, host: '192.0.2.2', transport: network.transport('192.0.2.2') });
  const seedPort = await seed.listen();
  await leech.listen();
  await seed.addTorrent(meta, { savePath: '/memory/seed', storage: new MemoryStorage(meta, { data }) });
  return { clock, seed, leech, seedPort };
}

test('status() is a frozen, detached snapshot with the right contents before, during and after a download', { timeout: 30_000 }, async () => {
  const { meta, data } = twoFiles();
  const { clock, seed, leech, seedPort } = await seedAndLeech(meta, data);
  try {
    let complete = false;
    leech.events.subscribe((e) => { if (e.event === 'complete') complete = true; });
    // A snapshot in the middle of the download: when the first piece is verified (the memory network is fast).
    let during: TorrentStatus | undefined;
    leech.onPieceVerified((x) => { during ??= x.status(); });
    const t = await leech.addTorrent(meta, { savePath: '/memory/leech', storage: new MemoryStorage(meta), peers: [{ host: '192.0.2.1', port: seedPort }] });

    const before = t.status();
    assert.equal(before.infoHash, meta.infoHashHex);
    assert.equal(before.name, 'pair');
    assert.equal(before.state, 'downloading');
    assert.equal(before.error, undefined);
    assert.deepEqual(before.pieces, { count: 5, length: PIECE, have: 0, wanted: 5 });
    assert.deepEqual(before.bytes, { total: data.length, verified: 0, left: data.length, wanted: data.length, wantedLeft: data.length });
    assert.equal(before.bitfield, Buffer.alloc(1).toString('base64'));
    assert.deepEqual(before.files.map((f) => [f.path, f.length, f.bytesCompleted, f.wanted, f.priority]),
      [['pair/a.bin', 2 * PIECE + 100, 0, true, 'normal'], ['pair/b.bin', 2 * PIECE + 221, 0, true, 'normal']]);
    assert.deepEqual(before.trackers, [{ url: TRACKER, tier: 0, lastAnnounceAt: undefined, lastAnnounceOk: false, lastAnnounceMessage: '',
      lastAnnouncePeers: 0, seeders: undefined, leechers: undefined, nextAnnounceAt: undefined }]);
    assert.deepEqual(before.totals, { downloaded: 0, uploaded: 0, corrupt: 0 });
    assert.equal(before.times.added, 1_700_000_000_000, 'added: now, in whole seconds');
    assert.equal(before.times.completed, undefined);
    assert.deepEqual(before.limits, { upload: 0, download: 0 });
    assert.equal(before.userPaused, false);

    // Frozen at the top and one level down: a reader cannot change it by mistake.
    assert.ok(Object.isFrozen(before) && Object.isFrozen(before.files) && Object.isFrozen(before.files[0]) && Object.isFrozen(before.bytes));
    assert.throws(() => { (before as { state: string }).state = 'seeding'; }, TypeError);
    assert.throws(() => { (before.files as unknown as unknown[]).push(1); }, TypeError);

    for (let ms = 0; ms < 60_000 && !complete; ms++) {
      clock.advance(1);
      for (let i = 0; i < 5; i++) await turn();
    }
    assert.ok(complete, 'the download completed');
    assert.ok(during, 'a snapshot with a connected peer was taken during the download');
    const peer = during.peers[0]!;
    assert.equal(peer.address, `192.0.2.1:${seedPort}`);
    assert.deepEqual([peer.host, peer.port, peer.direction, peer.source, peer.progress], ['192.0.2.1', seedPort, 'out', 'manual', 1]);
    assert.equal(peer.amInterested, true, 'we are interested in the seed');
    assert.equal(peer.peerInterested, false, 'a seed is not interested in us');
    assert.equal(during.connectedPeers, 1);

    const after = t.status();
    assert.equal(after.state, 'seeding');
    assert.ok(after.complete && after.done);
    assert.equal(after.pieces.have, 5);
    assert.deepEqual(after.bytes, { total: data.length, verified: data.length, left: 0, wanted: data.length, wantedLeft: 0 });
    assert.equal(after.bitfield, Buffer.from([0xf8]).toString('base64'), 'all five pieces, spare bits clear');
    assert.deepEqual(after.files.map((f) => f.bytesCompleted), [2 * PIECE + 100, 2 * PIECE + 221]);
    assert.ok(after.totals.downloaded >= data.length, `downloaded ${after.totals.downloaded}`);
    assert.ok(after.times.completed !== undefined && after.times.completed > before.times.added);
    assert.ok(after.times.started !== undefined && after.times.lastActivity !== undefined);
    assert.equal(after.peerTotals.length, 1);
    assert.equal(after.peerTotals[0]!.peer, `192.0.2.1:${seedPort}`);

    // The earlier snapshots did not move with the torrent.
    assert.equal(before.pieces.have, 0);
    assert.equal(before.files[0]!.bytesCompleted, 0);
    assert.equal(before.totals.downloaded, 0);
    assert.equal(before.state, 'downloading');
    assert.equal(before.bitfield, Buffer.alloc(1).toString('base64'));
    assert.equal(during.state, 'downloading');
    assert.equal(during.pieces.have, 1);
    assert.ok([PIECE, 321].includes(during.bytes.verified), `one piece verified: ${during.bytes.verified} bytes`);
    assert.equal(during.bytes.verified + during.bytes.left, data.length);
    assert.equal(during.peers.length, 1);
  } finally {
    await Promise.all([seed.close(), leech.close()]);
  }
});

test('commands: restored totals, setFiles, setLimits, recovered bytes, the user\'s pause and resume, queue order, no double add', { timeout: 10_000 }, async () => {
  const { meta } = twoFiles('cmd');
  const other = twoFiles('other').meta;
  const session = new Session({ ...common });
  try {
    const t = await session.addTorrent(meta, {
      savePath: '/memory/cmd', storage: new MemoryStorage(meta), paused: true, addedAt: 1_600_000_000_000,
      restored: { uploaded: 1000, downloaded: 2000, completedAt: 1_650_000_000_000 },
    });
    let s = t.status();
    assert.deepEqual([s.state, s.userPaused], ['paused', true]);
    assert.deepEqual(s.totals, { downloaded: 2000, uploaded: 1000, corrupt: 0 }, 'totals counted on from the restored ones');
    assert.equal(s.times.added, 1_600_000_000_000);
    assert.equal(s.times.completed, 1_650_000_000_000, 'the restored completion time');

    t.setFiles([false, true], ['normal', 'high']);
    s = t.status();
    assert.deepEqual(s.files.map((f) => [f.wanted, f.priority]), [[false, 'normal'], [true, 'high']]);
    // b.bin starts inside piece 2: pieces 2, 3 and 4 are wanted.
    assert.equal(s.pieces.wanted, 3);
    assert.equal(s.bytes.wanted, 2 * PIECE + 321);
    t.setFiles([true], []);
    assert.deepEqual(t.status().files.map((f) => [f.wanted, f.priority]), [[true, 'normal'], [true, 'normal']], 'short lists: wanted, normal');

    t.setLimits({ upload: 5000 });
    assert.deepEqual(t.status().limits, { upload: 5000, download: 0 });
    t.setLimits({ download: -3, upload: 7 });
    assert.deepEqual(t.status().limits, { upload: 7, download: 0 }, 'a negative limit counts as none');

    t.creditRecoveredDownload(500);
    t.creditRecoveredDownload(-5);
    assert.equal(t.status().totals.downloaded, 2500);

    await session.resumeTorrent(t);
    assert.deepEqual([t.status().state, t.status().userPaused], ['downloading', false]);
    await session.pauseTorrent(t);
    assert.deepEqual([t.status().state, t.status().userPaused], ['paused', true]);

    const first = await session.addTorrent(other, { savePath: '/memory/other', storage: new MemoryStorage(other), paused: true, queuePosition: 0 });
    assert.deepEqual(session.queue().map((x) => x.infoHashHex), [first.infoHashHex, t.infoHashHex], 'queued first by its position');
    await session.removeTorrent(first);
    assert.deepEqual(session.queue().map((x) => x.infoHashHex), [t.infoHashHex]);

    // A torrent being added (its storage opening) is in the session already: a second add of it is refused.
    const dir = await mkdtemp(join(tmpdir(), 'bitpeer-status-'));
    try {
      const adding = session.addTorrent(other, { savePath: join(dir, 'one'), paused: true });
      await assert.rejects(session.addTorrent(other, { savePath: join(dir, 'two'), paused: true }), (e: unknown) => isBtError(e, 'USAGE'));
      await adding;
      assert.equal(session.queue().length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await session.close();
  }
});

test('a verify that loses a piece clears the completion time, restored ones included', { timeout: 10_000 }, async () => {
  const { meta, data } = twoFiles('lost');
  const session = new Session({ ...common });
  try {
    const storage = new MemoryStorage(meta, { data });
    const t = await session.addTorrent(meta, {
      savePath: '/memory/lost', storage, paused: true, restored: { uploaded: 0, downloaded: 0, completedAt: 1_650_000_000_000 },
    });
    assert.deepEqual([t.status().complete, t.status().times.completed], [true, 1_650_000_000_000]);
    await storage.writePiece(1, Buffer.alloc(PIECE)); // the data of piece 1 changed on disk
    await t.verify();
    const s = t.status();
    assert.deepEqual([s.complete, s.pieces.have], [false, 4]);
    assert.equal(s.times.completed, undefined, 'not complete: no completion time (neither its own nor the restored one)');
  } finally {
    await session.close();
  }
});

test('setFiles: a pad file never makes a piece wanted (the RPC leaves pads wanted while their file is deselected)', { timeout: 10_000 }, async () => {
  const { parseTorrent } = await import('../metainfo/metainfo.js');
  const { encode } = await import('../bencode/encode.js');
  // a.bin (piece 0 and the head of piece 1), its pad (the rest of piece 1), b.bin (piece 2).
  const meta = parseTorrent(encode({ info: { name: 'padded', 'piece length': PIECE, pieces: Buffer.alloc(60), files: [
    { length: PIECE + 100, path: ['a.bin'] },
    { length: PIECE - 100, path: ['.pad', String(PIECE - 100)], attr: 'p' },
    { length: PIECE, path: ['b.bin'] },
  ] } }));
  const session = new Session({ ...common });
  try {
    const t = await session.addTorrent(meta, { savePath: '/memory/padded', storage: new MemoryStorage(meta), paused: true });
    t.setFiles([false, true, true], ['normal', 'normal', 'normal']);
    const s = t.status();
    assert.equal(s.pieces.wanted, 1, 'only b.bin\'s piece: a.bin is not wanted, and its pad does not pull in its last piece');
  } finally {
    await session.close();
  }
});

test('progress counts data bytes only: pad files are left out of the size, the completed bytes and the percentage', async () => {
  const { progressEvent, dataSizeOf, bytesLeftOf } = await import('./torrent-status.js');
  // Pieces of 16 bytes: a (10 bytes), a pad of 6 (rest of piece 0), b (16 bytes, piece 1).
  const files = [
    { path: ['t', 'a'], relPath: 't/a', length: 10, offset: 0 },
    { path: ['t', '.pad', '6'], relPath: 't/.pad/6', length: 6, offset: 10, padding: true },
    { path: ['t', 'b'], relPath: 't/b', length: 16, offset: 16 },
  ];
  const m = { infoHashHex: '00'.repeat(20), pieceCount: 2, pieceLength: 16, totalLength: 32, files };
  assert.equal(dataSizeOf(m), 26);
  const counters = { downloaded: 0, uploaded: 0, downRate: 0, upRate: 0, peers: 0 };
  const none = progressEvent(m, 0, bytesLeftOf(m, 0, false), () => false, counters);
  assert.deepEqual([none.size, none.completedBytes, none.percent], [26, 0, 0]);
  const first = progressEvent(m, 1, bytesLeftOf(m, 1, false), (i) => i === 0, counters);
  assert.deepEqual([first.size, first.completedBytes, first.percent], [26, 10, 38.4]);
  const all = progressEvent(m, 2, bytesLeftOf(m, 2, true), () => true, counters);
  assert.deepEqual([all.size, all.completedBytes, all.percent, all.etaSeconds], [26, 26, 100, 0]);
});

test('a peer the DHT named shows source "dht" in status() (the RPC\'s H flag and peersFrom.fromDht)', { timeout: 30_000 }, async () => {
  const { meta, data } = twoFiles('dht-named');
  const { clock, seed, leech, seedPort } = await seedAndLeech(meta, data);
  try {
    let seen: TorrentStatus | undefined;
    leech.onPieceVerified((x) => { seen ??= x.status(); });
    await leech.addTorrent(meta, { savePath: '/memory/leech', storage: new MemoryStorage(meta), peers: [{ host: '192.0.2.1', port: seedPort, source: 'dht' }] });
    for (let ms = 0; ms < 60_000 && seen === undefined; ms++) {
      clock.advance(1);
      for (let i = 0; i < 5; i++) await turn();
    }
    assert.ok(seen, 'a piece came from the seed');
    assert.deepEqual(seen.peers.map((p) => [p.port, p.direction, p.source]), [[seedPort, 'out', 'dht']]);
  } finally {
    await Promise.all([seed.close(), leech.close()]);
  }
});

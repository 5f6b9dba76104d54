/**
 * The I/O switches that were environment variables are session options now (issue 10, item 9), and they reach the
 * code they steer: a leecher session with `sharedReadBuffer: false` and `asyncIo: true` reads its peer sockets
 * through 'data' events and never writes synchronously, while a default seed session reads into the shared buffer
 * (where this Node allows it); the download completes with identical content either way.
 *
 * Invariant: both sessions bind 127.0.0.1 only; both are closed and the temp folder removed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import type { Torrent } from '../../src/session/torrent.js';
import type { SyncPolicy } from '../../src/storage/fs-storage.js';
import { sharedReadBuffer } from '../../src/wire/node-internals.js';
import { compareTrees, writeTree } from '../helpers/content.js';

function completed(session: Session, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { unsub(); reject(new Error(`no 'complete' within ${ms} ms`)); }, ms);
    const unsub = session.events.subscribe((e: SessionEvent) => {
      if (e.event === 'complete') { clearTimeout(timer); unsub(); resolve(); }
    });
  });
}

const peerReadModes = (t: Torrent): boolean[] => t.diagnostics().peerReadsSharedBuffer;
function watchReadModes(session: Session): boolean[] {
  const modes: boolean[] = [];
  session.events.subscribe((e) => {
    if (e.event !== 'peer-connect') return;
    const t = session.torrents.get(e.infoHash);
    if (t) modes.push(...peerReadModes(t));
  });
  return modes;
}
const syncAllowed = (t: Torrent): boolean[] => {
  const s = t.diagnostics().storage as unknown as { syncReads: SyncPolicy; syncWrites: SyncPolicy };
  return [s.syncReads.allowed, s.syncWrites.allowed];
};

test('sharedReadBuffer: false and asyncIo: true reach the peer connections and the storage', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-io-options-'));
  // TCP peers (utp: false): the shared read buffer is a TCP socket's; a uTP stream is always read through events.
  const seed = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false });
  const leech = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false, sharedReadBuffer: false, asyncIo: true });
  try {
    const src = join(root, 'src');
    await writeTree(join(src, 'content'), [{ path: 'a.bin', size: 1_500_000 }, { path: 'b.bin', size: 70_001 }], 'io-options');
    const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
    const seedPort = await seed.listen();
    await leech.listen();
    // The read mode of every peer connection, seen when the session reports it connected.
    const leechModes = watchReadModes(leech);
    const seedModes = watchReadModes(seed);
    const seedTorrent = await seed.addTorrent(meta, { savePath: src });
    const done = completed(leech, 25_000);
    const leechTorrent = await leech.addTorrent(meta, { savePath: join(root, 'dst'), peers: [{ host: '127.0.0.1', port: seedPort }] });
    assert.equal(leech.sharedReadBuffer, false);
    assert.deepEqual(syncAllowed(leechTorrent), [false, false], 'asyncIo: every file call goes to the thread pool');
    assert.deepEqual(syncAllowed(seedTorrent), [true, true], 'default: synchronous calls allowed');
    await done;
    assert.ok(leechModes.length > 0 && seedModes.length > 0, 'both sides saw the connection');
    assert.ok(leechModes.every((m) => m === false), `the leecher reads through data events (${leechModes})`);
    const shared = sharedReadBuffer.status().available;
    assert.ok(seedModes.every((m) => m === shared), `the seed reads into the shared buffer where Node allows it (${seedModes})`);
    assert.deepEqual(await compareTrees(join(src, 'content'), join(root, 'dst', 'content')), []);
  } finally {
    await Promise.all([seed.close(), leech.close()]);
    await rm(root, { recursive: true, force: true });
  }
});

test('pieceWorker: true downloads through the piece-writer thread (single spans and pieces over many small files)', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-io-options-'));
  const seed = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false });
  const leech = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false, pieceWorker: true });
  try {
    const src = join(root, 'src');
    // A big file (pieces of one span: hashed and written on the writer thread) and 20 files of 3,000 bytes (pieces
    // of more than 8 spans: hashed here, written in place).
    const files = [{ path: 'big.bin', size: 3_000_000 }];
    for (let i = 0; i < 20; i++) files.push({ path: `small/s${i}.bin`, size: 3000 });
    await writeTree(join(src, 'content'), files, 'piece-worker');
    const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 32 * 1024, creationDate: null });
    const seedPort = await seed.listen();
    await leech.listen();
    await seed.addTorrent(meta, { savePath: src });
    const done = completed(leech, 25_000);
    const t = await leech.addTorrent(meta, { savePath: join(root, 'dst'), peers: [{ host: '127.0.0.1', port: seedPort }] });
    assert.equal(typeof t.diagnostics().storage.verifyAndWrite, 'function', 'the storage offers the writer thread');
    await done;
    assert.deepEqual(await compareTrees(join(src, 'content'), join(root, 'dst', 'content')), []);
  } finally {
    await Promise.all([seed.close(), leech.close()]);
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * The facade's events and `whenDone` (issue 10, item 2) over a Session that opens no port: `subscribe` hands out the
 * session's events; `whenDone` resolves when every wanted piece is verified (at once when it already is), rejects
 * with the torrent's error code when it fails, with ABORTED when it is removed, when the session closes or when the
 * caller's signal aborts, and NOT_FOUND for an unknown id; a pending magnet is waited for. Once settled, no listener
 * is left: not on the session's stream, the caller's signal or the torrent's signal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import * as path from 'node:path';
import { createTorrent } from '../create/create-torrent.js';
import { buildMagnet } from '../metainfo/index.js';
import { Session } from '../session/session.js';
import { BtError, isBtError } from '../util/errors.js';
import { SessionApi } from './session-api.js';
import type { SessionEvent, SessionSettings } from './types.js';
import { put, tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('facade-events');
const createOpts = { pieceLength: 16 * 1024, creationDate: null, announce: [] as string[] };

/** A torrent of one 40 KB file made in a fresh folder: its .torrent, its data and that folder. */
async function sample(name = 'f.bin'): Promise<{ torrent: Buffer; body: Buffer; src: string; hex: string }> {
  const src = tmpDir();
  const body = Buffer.alloc(40_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + name.length) & 0xff;
  put(src, name, body);
  const made = await createTorrent(path.join(src, name), createOpts);
  return { torrent: made.torrent, body, src, hex: made.meta.infoHashHex };
}

function settingsFor(dir: string): SessionSettings {
  return { downloadDir: dir, port: 0, uploadLimit: 0, downloadLimit: 0, maxActiveDownloads: 5, maxActiveSeeds: 20, lsd: false, pex: false };
}

async function withApi(fn: (api: SessionApi, session: Session) => Promise<void>): Promise<void> {
  const session = new Session({ hashWorkers: 1, lsd: false, pex: false, trackers: false });
  const api = new SessionApi(session, settingsFor(tmpDir()));
  try {
    await fn(api, session);
  } finally {
    api.close();
    await session.close();
  }
}

test('subscribe hands out every session event in order; the returned function ends it', async () => {
  await withApi(async (api, session) => {
    const seen: SessionEvent[] = [];
    const before = session.events.size;
    const unsubscribe = api.subscribe((e) => seen.push(e));
    assert.equal(session.events.size, before + 1);
    const { torrent, src, hex } = await sample();
    await api.add({ torrentFile: torrent }, { downloadDir: src });
    const names = seen.filter((e) => 'infoHash' in e && e.infoHash === hex).map((e) => e.event);
    assert.equal(names[0], 'added');
    assert.ok(names.includes('checked') && names.includes('state'), names.join(','));
    unsubscribe();
    assert.equal(session.events.size, before);
    const count = seen.length;
    await api.stop([hex]);
    assert.equal(seen.length, count, 'no event after unsubscribing');
  });
});

test('whenDone resolves at once for verified data, and later for data that is verified later', async () => {
  await withApi(async (api, session) => {
    const base = session.events.size;
    const a = await sample('a.bin');
    const added = await api.add({ torrentFile: a.torrent }, { downloadDir: a.src });
    const done = await api.whenDone(added.id);
    assert.equal(done.done, true);
    assert.equal(done.have, done.pieces);
    assert.equal(done.infoHash, a.hex);
    // No data yet: it waits; the data arrives (copied in, then checked) and it resolves.
    const b = await sample('b.bin');
    const dir = tmpDir();
    const second = await api.add({ torrentFile: b.torrent }, { downloadDir: dir });
    let settled = false;
    const waiting = api.whenDone(b.hex).then((s) => { settled = true; return s; });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'not done without data');
    put(dir, 'b.bin', b.body);
    await api.verify([second.id]);
    const s = await waiting;
    assert.equal(s.id, second.id);
    assert.equal(s.done, true);
    assert.equal(session.events.size, base, 'no listener left on the session');
  });
});

test('whenDone rejects with the error code when the torrent fails, ABORTED when it is removed; no listener left', async () => {
  await withApi(async (api, session) => {
    const base = session.events.size;
    const a = await sample('a.bin');
    const { id } = await api.add({ torrentFile: a.torrent }, { downloadDir: tmpDir() });
    const t = session.torrents.get(a.hex)!;
    const torrentListeners = getEventListeners(t.signal, 'abort').length;
    const failing = assert.rejects(api.whenDone(id), (e: unknown) => isBtError(e, 'NOT_FOUND') && e.message === 'the data folder is gone');
    assert.equal(getEventListeners(t.signal, 'abort').length, torrentListeners + 1);
    t.markError(new BtError('NOT_FOUND', 'the data folder is gone'));
    await failing;
    assert.equal(getEventListeners(t.signal, 'abort').length, torrentListeners);
    // Already in error: rejects at once.
    await assert.rejects(api.whenDone(id), (e: unknown) => isBtError(e) && e.message === 'the data folder is gone');

    const b = await sample('b.bin');
    const other = await api.add({ torrentFile: b.torrent }, { downloadDir: tmpDir() });
    const removed = assert.rejects(api.whenDone(other.id), (e: unknown) => isBtError(e, 'ABORTED') && /removed/.test(e.message));
    await api.remove([other.id], false);
    await removed;
    await assert.rejects(api.whenDone(other.id), (e: unknown) => isBtError(e, 'NOT_FOUND'));
    assert.equal(session.events.size, base, 'no listener left on the session');
  });
});

test('whenDone rejects with ABORTED when its signal aborts, or the session closes, and leaves no listener', async () => {
  const session = new Session({ hashWorkers: 1, lsd: false, pex: false, trackers: false });
  const api = new SessionApi(session, settingsFor(tmpDir()));
  try {
    const base = session.events.size;
    const a = await sample();
    const { id } = await api.add({ torrentFile: a.torrent }, { downloadDir: tmpDir() });
    const controller = new AbortController();
    const reason = new Error('user stop');
    const waiting = assert.rejects(api.whenDone(id, { signal: controller.signal }), (e: unknown) => isBtError(e, 'ABORTED') && (e as Error).cause === reason);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort(reason);
    await waiting;
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'no listener left on the signal');
    assert.equal(session.events.size, base);
    // An aborted signal rejects at once.
    await assert.rejects(api.whenDone(id, { signal: controller.signal }), (e: unknown) => isBtError(e, 'ABORTED'));
    // The session closes under a waiter.
    const closing = assert.rejects(api.whenDone(id), (e: unknown) => isBtError(e, 'ABORTED') && /session closed/.test(e.message));
    api.close();
    await closing;
    assert.equal(session.events.size, base);
  } finally {
    api.close();
    await session.close();
  }
});

test('whenDone waits through a pending magnet\'s metadata phase; removing the magnet rejects it', async () => {
  await withApi(async (api, session) => {
    const base = session.events.size;
    const a = await sample();
    const magnet = buildMagnet({ infoHash: Buffer.from(a.hex, 'hex'), name: 'f.bin', trackers: [] });
    const added = await api.add({ magnet }, { downloadDir: tmpDir() });
    assert.equal(api.identify(added.id)?.metadataPending, true);
    let settled = false;
    const waiting = assert.rejects(api.whenDone(added.id).finally(() => { settled = true; }),
      (e: unknown) => isBtError(e, 'ABORTED') && /removed/.test(e.message));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'a pending magnet is waited for');
    await api.remove([added.id], false);
    await waiting;
    assert.equal(session.events.size, base);
  });
});

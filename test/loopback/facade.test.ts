/**
 * The composition root (issue 10, item 2): `openBitpeer` builds a whole session and returns the facade, with and
 * without a state directory, on 127.0.0.1 only (LSD off, no trackers).
 *
 * - Without a state directory: two sessions; one seeds data read through the facade's `followLinks` add, the other
 *   adds only a magnet link with the seed as its peer, and `whenDone` resolves after the metadata phase and the
 *   download; `subscribe` saw the metadata arrive and the download complete; the bytes match.
 * - With a state directory: settings.json and the torrent are saved; a second open of the same directory is refused
 *   while the first holds it; after a close, a new open brings the torrent back with its id and paused state; a taken
 *   port is refused (PORT_IN_USE) and releases the directory again; `close({ save: false })` leaves it as it was read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBitpeer, type OpenOptions } from '../../src/api/open.js';
import type { SessionEvent } from '../../src/api/types.js';
import { createTorrent } from '../../src/create/create-torrent.js';
import { buildMagnet } from '../../src/metainfo/index.js';
import { isBtError } from '../../src/util/errors.js';
import { put, tmpDirs } from '../support/tmp-dir.js';

const tmpDir = tmpDirs('facade');
const local: OpenOptions = { port: 0, bind: '127.0.0.1', lsd: false, pex: false, trackers: false };

async function sample(): Promise<{ torrent: Buffer; body: Buffer; src: string; hex: string; name: string }> {
  const src = tmpDir();
  const body = Buffer.alloc(300_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) >>> 3 & 0xff;
  put(src, 'data.bin', body);
  const made = await createTorrent(path.join(src, 'data.bin'), { pieceLength: 32 * 1024, creationDate: null, announce: [] });
  return { torrent: made.torrent, body, src, hex: made.meta.infoHashHex, name: 'data.bin' };
}

test('openBitpeer without a state directory: a magnet is fetched and downloaded, and whenDone resolves', { timeout: 30_000 }, async () => {
  const a = await sample();
  const listening: SessionEvent[] = [];
  const seed = await openBitpeer({ ...local, onEvent: (e) => { if (e.event === 'listening') listening.push(e); } });
  const leech = await openBitpeer(local);
  try {
    assert.ok(seed.port > 0);
    assert.deepEqual(listening, [{ event: 'listening', port: seed.port, host: '127.0.0.1' }], 'onEvent sees events from before the port opens');
    const seeded = await seed.api.add({ torrentFile: a.torrent }, { downloadDir: a.src, followLinks: true, failOnError: true });
    assert.equal(seed.api.summary(seeded.id)?.complete, true);
    const events: string[] = [];
    const unsubscribe = leech.api.subscribe((e) => { if ('infoHash' in e && e.infoHash === a.hex) events.push(e.event); });
    const dir = tmpDir();
    const magnet = buildMagnet({ infoHash: Buffer.from(a.hex, 'hex'), name: a.name, trackers: [] });
    const added = await leech.api.add({ magnet }, { downloadDir: dir, peers: [{ host: '127.0.0.1', port: seed.port }] });
    const done = await leech.api.whenDone(added.id, { signal: AbortSignal.timeout(20_000) });
    unsubscribe();
    assert.equal(done.id, added.id, 'the torrent keeps the magnet\'s id');
    assert.equal(done.complete, true);
    assert.ok(events.includes('metadata-received') && events.includes('complete'), events.join(','));
    assert.ok(fs.readFileSync(path.join(dir, a.name)).equals(a.body));
    const totals = leech.api.peerTotals(added.id);
    assert.ok(totals && totals.peers.some((p) => p.downloaded > 0));
  } finally {
    await leech.close();
    await seed.close();
    await seed.close(); // idempotent
  }
  assert.equal(seed.port, 0, 'closed');
});

test('openBitpeer with a state directory saves and brings back torrents, holds the directory, and cleans up a failed open', { timeout: 30_000 }, async () => {
  const stateDir = path.join(tmpDir(), 'state');
  const downloads = tmpDir();
  const a = await sample();
  const logs: string[] = [];
  const opts: OpenOptions = { ...local, log: (l) => logs.push(l), state: { dir: stateDir, defaultDownloadDir: () => downloads, rpcPort: 0 } };
  const first = await openBitpeer(opts);
  let id: number;
  try {
    assert.equal(first.api.getSettings().downloadDir, downloads);
    id = (await first.api.add({ torrentFile: a.torrent }, { paused: true })).id;
    assert.ok(fs.existsSync(path.join(stateDir, 'settings.json')));
    assert.ok(fs.existsSync(path.join(stateDir, 'torrents', `${a.hex}.torrent`)));
    await assert.rejects(openBitpeer(opts), 'the state directory is held by the first');
  } finally {
    await first.close();
  }
  const again = await openBitpeer(opts);
  try {
    assert.equal(again.torrentCount(), 1);
    const [t] = again.api.get();
    assert.equal(t?.id, id);
    assert.equal(t?.infoHash, a.hex);
    assert.equal(t?.state, 'paused');
    assert.equal(t?.savePath, downloads);
    // A taken port: refused, and the directory is released again.
    const other: OpenOptions = { ...opts, state: { ...opts.state!, dir: path.join(tmpDir(), 'other') } };
    await assert.rejects(openBitpeer({ ...other, port: again.port }), (e: unknown) => isBtError(e, 'PORT_IN_USE'));
    // A host whose own start fails closes without saving: the directory stays as read (no session counted).
    await (await openBitpeer(other)).close({ save: false });
    const settingsOf = (): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(other.state!.dir, 'settings.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(settingsOf()['cumulative'], undefined);
    await (await openBitpeer(other)).close();
    assert.equal((settingsOf()['cumulative'] as { sessionCount: number }).sessionCount, 1);
  } finally {
    await again.close();
  }
});

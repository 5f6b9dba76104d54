/**
 * Loopback swarm (issue 2): one bitpeer seed, five bitpeer leechers and one liar, all sessions in this process on
 * 127.0.0.1, each on its own port. The torrent is multi-file with awkward sizes: a zero-length file, a piece that
 * spans three files, and a short last piece. The liar has the data but corrupts every block it uploads.
 *
 * Checks: every leecher completes with identical content; at least one piece fails its hash and the liar is banned,
 * with the cause hash/BANNED in its ban and disconnect events and counts; after closing, no TCP handle is left open
 * (leak check).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import { FsStorage } from '../../src/storage/fs-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import { waitFor } from '../helpers/session-events.js';

const PIECE = 32 * 1024;
// Piece 3 covers [98304, 131072): the end of a.bin, all of b.bin, and the start of c.bin → three files.
const FILES = [
  { path: 'a.bin', size: 100_000 },
  { path: 'empty.txt', size: 0 },
  { path: 'sub/b.bin', size: 5_000 },
  { path: 'sub/c.bin', size: 700_001 },
  { path: 'sub/deep/d.bin', size: 1_234_567 },
  { path: 'z-last.bin', size: 77_777 }, // total is not a multiple of PIECE: short last piece
];

/** A storage that serves corrupt bytes once `corrupt` is switched on (after its own start-up check passed). */
class LyingStorage implements Storage {
  corrupt = false;
  constructor(private readonly inner: Storage) {}
  async read(piece: number, begin: number, length: number): Promise<Buffer> {
    const b = Buffer.from(await this.inner.read(piece, begin, length));
    if (this.corrupt) b[0] = b[0]! ^ 0xff;
    return b;
  }
  async readPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    const b = await this.inner.readPiece(piece, into);
    if (!b || !this.corrupt) return b;
    const copy = Buffer.from(b);
    for (let i = 0; i < copy.length; i += 16384) copy[i] = copy[i]! ^ 0xff;
    return copy;
  }
  writePiece(piece: number, data: Buffer): Promise<void> { return this.inner.writePiece(piece, data); }
  close(): Promise<void> { return this.inner.close(); }
}

const dirs: string[] = [];
const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

test('a seed, five leechers and a liar on loopback: all complete, the liar is banned', { timeout: 90_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-swarm-'));
  dirs.push(root);
  const src = join(root, 'src');
  await writeTree(join(src, 'content'), FILES, 'swarm');
  const { meta } = await createTorrent(join(src, 'content'), { pieceLength: PIECE, creationDate: null });
  assert.ok(meta.totalLength % PIECE !== 0, 'short last piece');

  const newSession = (): { session: Session; events: SessionEvent[] } => {
    const session = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1 });
    const events: SessionEvent[] = [];
    session.events.subscribe((e) => events.push(e));
    sessions.push(session);
    return { session, events };
  };

  // 1. The seed.
  const seed = newSession();
  const seedPort = await seed.session.listen();
  const seedTorrent = await seed.session.addTorrent(meta, { savePath: src });
  assert.equal(seedTorrent.complete, true, 'the seed verified its data');

  // 2. The liar: a full copy whose uploads are corrupted after its check.
  const liar = newSession();
  const liarPort = await liar.session.listen();
  const lying = new LyingStorage(await FsStorage.open(meta, src));
  const liarTorrent = await liar.session.addTorrent(meta, { savePath: src, storage: lying });
  assert.equal(liarTorrent.complete, true);
  lying.corrupt = true;

  // 3. Five leechers; each knows the seed, the liar and the leechers before it.
  const leechers: Array<{ session: Session; events: SessionEvent[]; dir: string; port: number }> = [];
  for (let i = 0; i < 5; i++) {
    const l = newSession();
    const port = await l.session.listen();
    const dir = join(root, `leech${i}`);
    const peers = [{ host: '127.0.0.1', port: liarPort }, { host: '127.0.0.1', port: seedPort },
      ...leechers.map((x) => ({ host: '127.0.0.1', port: x.port }))];
    await l.session.addTorrent(meta, { savePath: dir, peers });
    leechers.push({ ...l, dir, port });
  }

  // 4. Everyone completes.
  await Promise.all(leechers.map((l, i) => waitFor(l.events, l.session, (e) => e.event === 'complete', 60_000, `leecher ${i} to complete`)));
  for (const l of leechers) {
    const diffs = await compareTrees(join(src, 'content'), join(l.dir, 'content'));
    assert.deepEqual(diffs, [], `leecher content differs: ${diffs.join('; ')}`);
  }

  // 5. The liar's data failed hash checks and the liar was banned by someone.
  const all = leechers.flatMap((l) => l.events);
  const liarKey = `127.0.0.1:${liarPort}`;
  assert.ok(all.some((e) => e.event === 'piece-failed'), 'some piece failed its hash');
  assert.ok(all.some((e) => e.event === 'peer-banned' && e.peer === liarKey), 'the liar was banned');
  // The ban names its cause (op hash, code BANNED) in the ban event, in the liar's disconnect, and in the count.
  for (const l of leechers) {
    const at = l.events.findIndex((e) => e.event === 'peer-banned' && e.peer === liarKey);
    const banned = l.events[at];
    if (!banned || banned.event !== 'peer-banned') continue;
    assert.equal(banned.op, 'hash');
    assert.equal(banned.code, 'BANNED');
    // The ban closes the connection at once: the liar's next disconnect is the ban's.
    const gone = l.events.slice(at).find((e) => e.event === 'peer-disconnect' && e.peer === liarKey);
    assert.ok(gone && gone.event === 'peer-disconnect', 'the banned liar was disconnected');
    assert.equal(gone.op, 'hash');
    assert.equal(gone.code, 'BANNED');
    assert.match(gone.reason, /^banned: /);
    const counts = [...l.session.torrents.values()][0]!.status().disconnects;
    assert.ok(counts.some((d) => d.op === 'hash' && d.code === 'BANNED' && d.count >= 1), JSON.stringify(counts));
  }
  // Leechers traded among themselves: someone uploaded to another leecher.
  const leecherUploads = leechers.reduce((n, l) => n + [...l.session.torrents.values()][0]!.uploaded, 0);
  assert.ok(leecherUploads > 0, 'leechers uploaded to each other');

  // 6. Leak check: after closing every session no TCP handle remains.
  await Promise.all(sessions.map((s) => s.close()));
  await new Promise((r) => setTimeout(r, 50));
  const left = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  assert.deepEqual(left, [], `open TCP handles after close: ${left.join(', ')}`);
});

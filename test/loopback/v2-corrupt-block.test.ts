/**
 * BEP 52 on loopback, bitpeer against bitpeer (issue 12):
 * 1. a v2-only torrent, two seeds, one of which corrupts one block of every piece it uploads: the downloader's piece
 *    fails its merkle hash, it fetches the piece's leaf hashes, finds the bad block, bans only the peer that sent
 *    it, and completes with the right data from the honest seed;
 * 2. the same torrent without `piece layers` (as from a magnet): the downloader fetches the piece layers by hash
 *    request from a bitpeer seed, verifies them against the roots, and completes.
 *
 * The v2 metainfo is built by hand with src/metainfo/merkle.ts (files aligned on pieces with pad files, as
 * libtorrent lays out v2-only torrents), so this test needs no .torrent parser.
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Metainfo, TorrentFile } from '../../src/metainfo/index.js';
import { fileRootFromData, leafHashes, merkleRootOf, MERKLE_BLOCK } from '../../src/metainfo/merkle.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import { FsStorage } from '../../src/storage/fs-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import { waitFor } from '../helpers/session-events.js';

const PIECE = 64 * 1024; // 4 blocks per piece
const FILES = [
  { path: 'big.bin', size: 12 * PIECE + 20_000 },
  { path: 'small.txt', size: 3_000 },
  { path: 'sub/mid.bin', size: 3 * PIECE },
  { path: 'sub/tail.bin', size: 2 * PIECE + 1 },
];
/** The block (inside each piece) that the lying seed corrupts. */
const BAD_BLOCK = 2;

/** A v2-only Metainfo for the files under `dir/content`, laid out as libtorrent does (pads after unaligned files). */
async function v2Meta(dir: string): Promise<Metainfo> {
  const files: TorrentFile[] = [];
  const pieceLayers = new Map<string, Buffer>();
  let offset = 0;
  const sorted = [...FILES];
  for (const [i, spec] of sorted.entries()) {
    const data = await readFile(join(dir, 'content', ...spec.path.split('/')));
    let root: Buffer;
    if (data.length <= PIECE) {
      root = fileRootFromData(data);
    } else {
      const layer: Buffer[] = [];
      for (let p = 0; p * PIECE < data.length; p++) {
        layer.push(merkleRootOf(leafHashes(data.subarray(p * PIECE, (p + 1) * PIECE)), PIECE / MERKLE_BLOCK));
      }
      const joined = Buffer.concat(layer);
      let width = 1;
      while (width < layer.length) width *= 2;
      root = merkleRootOf(joined, width, Math.log2(PIECE / MERKLE_BLOCK));
      pieceLayers.set(root.toString('hex'), joined);
    }
    const path = ['content', ...spec.path.split('/')];
    files.push({ path, relPath: path.join('/'), length: data.length, offset, piecesRoot: root });
    offset += data.length;
    const pad = (PIECE - (data.length % PIECE)) % PIECE;
    if (pad > 0 && i < sorted.length - 1) {
      const padPath = ['content', '.pad', String(pad)];
      files.push({ path: padPath, relPath: padPath.join('/'), length: pad, offset, padding: true });
      offset += pad;
    }
  }
  const infoBytes = Buffer.from(`d4:name7:content12:piece lengthi${PIECE}e4:salt16:${randomBytes(8).toString('hex')}e`);
  const infoHashV2 = createHash('sha256').update(infoBytes).digest();
  const infoHash = infoHashV2.subarray(0, 20);
  return {
    infoHash, infoHashHex: infoHash.toString('hex'), version: 'v2', infoHashV2, pieceLayers, name: 'content',
    pieceLength: PIECE, pieceCount: Math.ceil(offset / PIECE), pieceHashes: Buffer.alloc(0), files, totalLength: offset,
    multiFile: true, private: false, announce: undefined, announceList: [], infoBytes, softErrors: [],
  };
}

/** Once `corrupt` is on (after its own check), every read flips a byte of block BAD_BLOCK of each piece. */
class LyingStorage implements Storage {
  corrupt = false;
  constructor(private readonly inner: Storage) {}
  async read(piece: number, begin: number, length: number): Promise<Buffer> {
    const b = Buffer.from(await this.inner.read(piece, begin, length));
    if (this.corrupt && begin === BAD_BLOCK * MERKLE_BLOCK) b[100] = b[100]! ^ 0x5a;
    return b;
  }
  async readPiece(piece: number, into?: Buffer): Promise<Buffer | null> {
    const b = await this.inner.readPiece(piece, into);
    if (this.corrupt && b && b.length > BAD_BLOCK * MERKLE_BLOCK + 100) b[BAD_BLOCK * MERKLE_BLOCK + 100]! ^= 0x5a;
    return b;
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

function newSession(): { session: Session; events: SessionEvent[] } {
  const session = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1 });
  const events: SessionEvent[] = [];
  session.events.subscribe((e) => events.push(e));
  sessions.push(session);
  return { session, events };
}

async function setup(tag: string): Promise<{ root: string; src: string; meta: Metainfo }> {
  const root = await mkdtemp(join(tmpdir(), `bitpeer-v2-${tag}-`));
  dirs.push(root);
  const src = join(root, 'src');
  await writeTree(join(src, 'content'), FILES, `v2-${tag}`);
  return { root, src, meta: await v2Meta(src) };
}

test('v2: a corrupt block is located through leaf hashes; only its sender is banned; the download completes', { timeout: 60_000 }, async () => {
  const { root, src, meta } = await setup('corrupt');
  const honest = newSession();
  const honestPort = await honest.session.listen();
  assert.equal((await honest.session.addTorrent(meta, { savePath: src })).complete, true, 'the honest seed verified its data by v2 hashes');
  const liar = newSession();
  const liarPort = await liar.session.listen();
  const lying = new LyingStorage(await FsStorage.open(meta, src));
  const liarTorrent = await liar.session.addTorrent(meta, { savePath: src, storage: lying });
  assert.equal(liarTorrent.complete, true);
  lying.corrupt = true;

  const dl = newSession();
  await dl.session.listen();
  const dir = join(root, 'dl');
  // Throttled (~3 s for the whole torrent), so the verdict on a bad piece (one round trip) comes long before the
  // download completes and closes its connections to the seeds.
  await dl.session.addTorrent(meta, {
    savePath: dir, peers: [{ host: '127.0.0.1', port: liarPort }, { host: '127.0.0.1', port: honestPort }],
    beforeStart: (t) => t.setLimits({ download: 400_000 }),
  });
  await waitFor(dl.events, dl.session, (e) => e.event === 'complete', 45_000, 'the download to complete');
  assert.deepEqual(await compareTrees(join(src, 'content'), join(dir, 'content')), []);

  const liarKey = `127.0.0.1:${liarPort}`;
  const honestKey = `127.0.0.1:${honestPort}`;
  const failed = dl.events.filter((e): e is Extract<SessionEvent, { event: 'piece-failed' }> => e.event === 'piece-failed');
   assert.ok(failed.length >= 1, 'a piece failed its v2 hash');
  for (const f of failed) {
    assert.deepEqual(f.peers, [liarKey], `piece ${f.piece}: only the liar is struck`);
    assert.deepEqual(f.badBlocks, [BAD_BLOCK], `piece ${f.piece}: the leaf hashes located the bad block`);
  }
  assert.ok(dl.events.some((e) => e.event === 'peer-banned' && e.peer === liarKey), 'the liar was banned');
  assert.ok(!dl.events.some((e) => e.event === 'peer-banned' && e.peer === honestKey), 'the honest seed was not banned');
  assert.ok(!dl.events.some((e) => e.event === 'peer-disconnect' && e.peer === honestKey && e.op === 'hash'));
});

test('v2 without piece layers: the downloader fetches them by hash request from a bitpeer seed', { timeout: 60_000 }, async () => {
  const { root, src, meta } = await setup('layers');
  const seed = newSession();
  const seedPort = await seed.session.listen();
  assert.equal((await seed.session.addTorrent(meta, { savePath: src })).complete, true);

  const bare: Metainfo = { ...meta, pieceLayers: new Map() };
  const dl = newSession();
  await dl.session.listen();
  const dir = join(root, 'dl');
  const t = await dl.session.addTorrent(bare, { savePath: dir, peers: [{ host: '127.0.0.1', port: seedPort }] });
  assert.equal(t.pieceLayers().size, 0, 'no layer known at first');
  await waitFor(dl.events, dl.session, (e) => e.event === 'complete', 45_000, 'the download to complete');
  assert.deepEqual(await compareTrees(join(src, 'content'), join(dir, 'content')), []);
  // Every file larger than a piece got its layer over the wire, equal to the metainfo's.
  const got = t.pieceLayers();
  assert.equal(got.size, meta.pieceLayers.size);
  for (const [root, layer] of meta.pieceLayers) assert.deepEqual(got.get(root), layer);
  assert.ok(!dl.events.some((e) => e.event === 'piece-failed'));
});

/**
 * Path jail (issue 12): every path fixture that bitpeer sanitises instead of refusing (make-hostile.ts: `..`, `.`,
 * absolute paths, backslashes, a name that is a path, duplicates, symlinks, pad files…) is downloaded for real — a
 * bitpeer seed and a bitpeer downloader in one process, on 127.0.0.1 — each into its own folder inside a jail
 * folder; then the jail's parent is walked (without following links) to prove that nothing landed outside the jail,
 * that every symlink in it resolves inside its torrent's folder, and that every data file holds the seed's bytes.
 * The fixtures' piece hashes are placeholders, so each torrent is rebuilt with real data and real hashes; v2
 * fixtures (placeholder roots) are left to the v2 download tests.
 * BEP: 3, 47 (pad files, symlinks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBitpeer, type OpenOptions } from '../../src/api/open.js';
import { decode } from '../../src/bencode/decode.js';
import { encode } from '../../src/bencode/encode.js';
import type { BDict } from '../../src/bencode/types.js';
import { parseTorrent, pieceSize, type Metainfo } from '../../src/metainfo/metainfo.js';
import { FsStorage } from '../../src/storage/fs-storage.js';
import { hostileTorrents } from '../fixtures/make-hostile.js';
import { tmpDirs } from '../support/tmp-dir.js';

const tmpDir = tmpDirs('path-jail');
const local: OpenOptions = { port: 0, bind: '127.0.0.1', lsd: false, pex: false, trackers: false };

/** The torrent with real content: file bytes from its index and offset, pads zero, `pieces` recomputed. */
function withRealData(bytes: Buffer): { torrent: Buffer; meta: Metainfo; data: Buffer } {
  const first = parseTorrent(bytes);
  const data = Buffer.alloc(first.totalLength);
  first.files.forEach((f, i) => {
    if (f.padding === true) return;
    for (let k = 0; k < f.length; k++) data[f.offset + k] = (i * 31 + k * 7 + 1) & 0xff;
  });
  const hashes = Buffer.alloc(20 * first.pieceCount);
  for (let p = 0; p < first.pieceCount; p++) {
    const start = p * first.pieceLength;
    createHash('sha1').update(data.subarray(start, start + pieceSize(first, p))).digest().copy(hashes, 20 * p);
  }
  const top = decode(bytes, { leadingZeros: 'soft', keyOrder: 'soft', allowTrailing: true }).value as BDict;
  (top.get('info') as BDict).set('pieces', hashes);
  const torrent = encode(top);
  return { torrent, meta: parseTorrent(torrent), data };
}

/** Every entry under `dir` (lstat: links are listed, not followed). */
function walk(dir: string, out: string[] = []): string[] {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    out.push(p);
    if (fs.lstatSync(p).isDirectory()) walk(p, out);
  }
  return out;
}

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root + path.sep);

test('every sanitised path fixture downloads inside its jail folder, and nothing lands outside', { timeout: 60_000 }, async () => {
  const fixtures = hostileTorrents().filter((h) => h.code === 'SANITISED' && !h.name.startsWith('v2-') && !h.name.startsWith('hybrid-'));
  assert.ok(fixtures.length >= 30, `only ${fixtures.length} path fixtures`);
  const seedRoot = tmpDir();
  const parent = tmpDir();
  const jail = path.join(parent, 'jail');
  fs.mkdirSync(jail);
  const seed = await openBitpeer(local);
  const leech = await openBitpeer(local);
  try {
    const seen = new Set<string>();
    const jobs: { name: string; meta: Metainfo; data: Buffer; id: number; seedId: number; dir: string }[] = [];
    const batch: typeof jobs = [];
    // In batches, below the session's active-download limit (queued torrents would wait for a slot).
    const finish = async (): Promise<void> => {
      const waits = await Promise.allSettled(batch.map((j) => leech.api.whenDone(j.id, { signal: AbortSignal.timeout(20_000) })));
      const stuck = batch.filter((_, k) => waits[k]!.status === 'rejected').map((j) => `${j.name}: ${JSON.stringify(leech.api.summary(j.id))}`);
      assert.deepEqual(stuck, [], 'every download completes');
      // Done: remove both sides (data kept), so the sessions' active-torrent limits never queue the next batch.
      await leech.api.remove(batch.map((j) => j.id), false);
      await seed.api.remove(batch.map((j) => j.seedId), false);
      batch.length = 0;
    };
    for (const h of fixtures) {
      const { torrent, meta, data } = withRealData(h.bytes);
      if (seen.has(meta.infoHashHex)) continue; // e.g. trailing-newline and trailing-garbage hold the same info dict
      seen.add(meta.infoHashHex);
      const seedDir = path.join(seedRoot, h.name);
      const storage = await FsStorage.open(meta, seedDir);
      for (let p = 0; p < meta.pieceCount; p++) {
        const start = p * meta.pieceLength;
        await storage.writePiece(p, data.subarray(start, start + pieceSize(meta, p)));
      }
      await storage.prepare();
      await storage.close();
      const seeded = await seed.api.add({ torrentFile: torrent }, { downloadDir: seedDir, failOnError: true });
      const dir = path.join(jail, h.name);
      fs.mkdirSync(dir);
      const added = await leech.api.add({ torrentFile: torrent }, { downloadDir: dir, peers: [{ host: '127.0.0.1', port: seed.port }] });
      const job = { name: h.name, meta, data, id: added.id, seedId: seeded.id, dir };
      jobs.push(job);
      batch.push(job);
      if (batch.length === 8) await finish();
    }
    await finish();
    for (const j of jobs) {
      for (const f of j.meta.files) {
        const p = path.join(j.dir, ...f.path);
        if (f.padding === true) { assert.equal(fs.existsSync(p), false, `${j.name}: pad ${f.relPath} created`); continue; }
        if (f.symlinkTarget !== undefined) continue;
        assert.ok(fs.lstatSync(p).isFile(), `${j.name}: ${f.relPath} is a regular file`);
        assert.ok(fs.readFileSync(p).equals(j.data.subarray(f.offset, f.offset + f.length)), `${j.name}: ${f.relPath} bytes`);
      }
    }
  } finally {
    await leech.close();
    await seed.close();
  }
  // The proof: everything under the jail's parent is inside the jail; every link resolves inside its torrent's folder.
  const all = walk(parent);
  assert.ok(all.length > fixtures.length, 'files were written');
  let links = 0;
  for (const p of all) {
    assert.ok(inside(jail, p), `${p} is outside the jail`);
    if (!fs.lstatSync(p).isSymbolicLink()) continue;
    links++;
    const fixtureDir = path.join(jail, path.relative(jail, p).split(path.sep)[0]!);
    const target = path.resolve(path.dirname(p), fs.readlinkSync(p));
    assert.ok(inside(fixtureDir, target), `${p} -> ${target} leaves ${fixtureDir}`);
  }
  assert.ok(links >= 2, `${links} symlinks made`);
  console.log(`path jail: ${fixtures.length} fixtures, ${all.length} entries, ${links} symlinks, all inside ${jail}`);
});

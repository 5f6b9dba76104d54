import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { observeFiles, planStartupCheck, sameStamp, snapshotDiskState } from './fast-resume.js';
import type { ResumeData } from './resume-codec.js';
import { Bitfield } from '../util/bitfield.js';
import { makeMeta, type TestMeta } from '../../test/support/test-meta.js';
import { FsStorage } from '../storage/fs-storage.js';
import { HashPool } from '../storage/hasher.js';
import { checkPieces } from '../storage/check.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'bitpeer-fastresume-'));
let pool: HashPool;
before(() => { pool = new HashPool({ workers: 1 }); });
after(async () => {
  await pool.close();
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});
let n = 0;
function tmpDir(): string {
  const d = path.join(tmpRoot, `t${n++}`);
  fs.mkdirSync(d);
  return d;
}

// 10200 bytes in pieces of 1024: 10 pieces. Files (index: bytes → pieces):
//   0 a      [0, 3000)      → 0 1 2
//   1 z0     empty          → none
//   2 sub/b  [3000, 4500)   → 2 3 4      (piece 2 spans a|b, piece 4 spans b|c)
//   3 c      [4500, 9500)   → 4 5 6 7 8 9 (piece 9 spans c|d)
//   4 d      [9500, 10200)  → 9
const { meta, data } = makeMeta({ name: 'fr', pieceLength: 1024, files: [
  { path: ['a'], length: 3000 }, { path: ['z0'], length: 0 }, { path: ['sub', 'b'], length: 1500 },
  { path: ['c'], length: 5000 }, { path: ['d'], length: 700 },
] });
const ALL = Array.from({ length: 10 }, (_, i) => i);

function filePath(dir: string, i: number): string {
  return path.join(dir, ...meta.files[i]!.path);
}

function writeFiles(dir: string, m: TestMeta = meta, d: Buffer = data): void {
  for (const f of m.files) {
    if (f.padding) continue;
    const p = path.join(dir, ...f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, d.subarray(f.offset, f.offset + f.length));
  }
}

/** Resume data as the session would have saved it: `had` pieces and the files as they are now. */
async function resumeFor(dir: string, had: number[], m: TestMeta = meta): Promise<ResumeData> {
  const pieces = new Bitfield(m.pieceCount);
  for (const p of had) pieces.set(p);
  return {
    version: 1, infoHash: m.infoHash, savePath: dir, paused: false, queuePosition: 0, addedAt: 0, uploaded: 0,
    downloaded: 0, pieces, files: await observeFiles(m, dir), wanted: m.files.map(() => true),
    priorities: m.files.map(() => 0), peers: [], uploadLimit: 0, downloadLimit: 0,
  };
}

/** Change a file's bytes in place (same size) and give it a new mtime. */
function scribble(file: string, at = 10): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, at);
  fs.closeSync(fd);
  bumpMtime(file);
}

function bumpMtime(file: string): void {
  const st = fs.statSync(file);
  fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 10_000));
}

/** What a full hash check says is on disk. */
async function fullCheck(dir: string, only?: number[]): Promise<Bitfield> {
  const storage = await FsStorage.open(meta, dir, { readOnly: true });
  try {
    return await checkPieces(meta, storage, pool, only ? { only } : {});
  } finally {
    await storage.close();
  }
}

/** The pieces the session ends up with: trusted ∪ the rechecked ones that verify. */
async function outcome(dir: string, plan: { trusted: Bitfield; recheck: number[] }): Promise<number[]> {
  const checked = await fullCheck(dir, plan.recheck);
  return ALL.filter((p) => plan.trusted.has(p) || checked.has(p));
}

test('untouched files: every had piece is trusted, nothing is hashed', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const plan = await planStartupCheck(meta, dir, await resumeFor(dir, ALL), { random: () => 0.5 });
  assert.deepEqual([...plan.trusted.indexes()], ALL);
  assert.deepEqual(plan.recheck, []);
  assert.deepEqual(plan.changedFiles, []);
  assert.equal(plan.spotCheck.length, 4);
  assert.ok(plan.spotCheck.every((p) => plan.trusted.has(p)));
  assert.equal(new Set(plan.spotCheck).size, 4);
  assert.equal(plan.ignoredReason, undefined);
});

test('a modified file: its pieces (including those spanning into neighbours) are rechecked, the rest trusted', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  scribble(filePath(dir, 2));
  const plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [2]);
  assert.deepEqual(plan.recheck, [2, 3, 4]);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1, 5, 6, 7, 8, 9]);
  // Only the touched piece fails its check; the others of the changed file are kept, not re-downloaded.
  assert.deepEqual(await outcome(dir, plan), [0, 1, 3, 4, 5, 6, 7, 8, 9]); // byte 3010 is in piece 2
  assert.deepEqual(await outcome(dir, plan), [...(await fullCheck(dir)).indexes()]);
});

test('a touched file (same bytes, new mtime): rechecked, and everything still verifies', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  bumpMtime(filePath(dir, 0));
  const plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [0]);
  assert.deepEqual(plan.recheck, [0, 1, 2]);
  assert.deepEqual(await outcome(dir, plan), ALL);
});

test('a truncated file: pieces that no longer fit are dropped, the rest of the file is rechecked', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  fs.truncateSync(filePath(dir, 3), 2000); // c keeps [4500, 6500): pieces 4 and 5 fit, 6..9 do not
  const plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [3]);
  assert.deepEqual(plan.recheck, [4, 5]);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1, 2, 3]);
  assert.deepEqual(await outcome(dir, plan), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(await outcome(dir, plan), [...(await fullCheck(dir)).indexes()]);
});

test('a missing file: its pieces are neither trusted nor hashed', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  fs.rmSync(filePath(dir, 4));
  const plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [4]);
  assert.deepEqual(plan.recheck, []);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

test('modified + truncated + missing + untouched files at once: the plan gives what a full check gives', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  scribble(filePath(dir, 0), 1500); // piece 1 broken
  fs.truncateSync(filePath(dir, 3), 3000); // c keeps [4500, 7500): pieces 4..6 fit
  fs.rmSync(filePath(dir, 4)); // d gone: piece 9 impossible (it was already, c is short)
  const plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [0, 3, 4]);
  assert.deepEqual(plan.recheck, [0, 1, 2, 4, 5, 6]);
  assert.deepEqual([...plan.trusted.indexes()], [3]);
  const got = await outcome(dir, plan);
  assert.deepEqual(got, [0, 2, 3, 4, 5, 6]);
  assert.deepEqual(got, [...(await fullCheck(dir)).indexes()]);
});

test('not-had pieces: skipped in unchanged files, rechecked in files written after the save (crash before save)', async () => {
  const dir = tmpDir();
  // The session had verified and written pieces 0, 1, 5, 6 when it last saved; the files held only those.
  const partial = Buffer.alloc(data.length);
  for (const p of [0, 1, 5, 6]) data.copy(partial, p * 1024, p * 1024, Math.min(data.length, (p + 1) * 1024));
  writeFiles(dir, meta, partial);
  const resume = await resumeFor(dir, [0, 1, 5, 6]);
  let plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1, 5, 6]);
  assert.deepEqual(plan.recheck, []);
  // Then pieces 3 and 4 were written (4 spans b|c), and the process died before the next save.
  const fdB = fs.openSync(filePath(dir, 2), 'r+');
  fs.writeSync(fdB, data, 3072, 1428, 72); // piece 3 and the b part of piece 4
  fs.closeSync(fdB);
  const fdC = fs.openSync(filePath(dir, 3), 'r+');
  fs.writeSync(fdC, data, 4500, 620, 0); // the c part of piece 4
  fs.closeSync(fdC);
  bumpMtime(filePath(dir, 2));
  bumpMtime(filePath(dir, 3));
  plan = await planStartupCheck(meta, dir, resume);
  assert.deepEqual(plan.changedFiles, [2, 3]);
  // Every piece touching b or c is hashed: had ones to re-prove them, not-had ones because they may be new.
  assert.deepEqual(plan.recheck, [2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1]);
  assert.deepEqual(await outcome(dir, plan), [0, 1, 3, 4, 5, 6]); // 3 and 4 are not downloaded again
});

test('no resume data, or resume data for another save path: every piece that could be there is hashed', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  fs.truncateSync(filePath(dir, 3), 2000);
  let plan = await planStartupCheck(meta, dir, null);
  assert.deepEqual(plan.trusted.count, 0);
  assert.deepEqual(plan.recheck, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(plan.changedFiles, [0, 1, 2, 3, 4]);
  assert.deepEqual(plan.spotCheck, []);
  const moved = tmpDir();
  writeFiles(moved);
  plan = await planStartupCheck(meta, moved, resume);
  assert.match(plan.ignoredReason ?? '', /another save path/);
  assert.equal(plan.trusted.count, 0);
  assert.deepEqual(plan.recheck, ALL);
  // Geometry mismatch (cannot happen after validation, but is not trusted either).
  plan = await planStartupCheck(meta, dir, { ...resume, pieces: new Bitfield(11) });
  assert.match(plan.ignoredReason ?? '', /geometry/);
});

test('data changed behind an unchanged size and mtime is trusted; the spot check is what can catch it', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, ALL);
  const file = filePath(dir, 3);
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from('evil'), 0, 4, 3000); // inside piece 7
  fs.closeSync(fd);
  fs.utimesSync(file, st.atime, st.mtime);
  // Our stamps have microsecond resolution; utimes with a Date restores milliseconds only.
  const restored = (await observeFiles(meta, dir))[3];
  if (!sameStamp(restored, resume.files[3])) resume.files[3] = restored ?? null;
  const plan = await planStartupCheck(meta, dir, resume, { spotChecks: 10, random: () => 0 });
  assert.ok(plan.trusted.has(7));
  assert.deepEqual(plan.spotCheck, ALL);
  const spot = await fullCheck(dir, plan.spotCheck);
  assert.ok(!spot.has(7), 'the spot check finds the bad piece');
});

test('spot checks: distinct, within trusted, bounded whatever the random source returns', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const resume = await resumeFor(dir, [1, 4, 8]);
  for (const r of [() => 0, () => 0.999999, () => 1, () => -3, () => Number.NaN, Math.random]) {
    const plan = await planStartupCheck(meta, dir, resume, { random: r, spotChecks: 5 });
    assert.equal(plan.spotCheck.length, 3);
    assert.deepEqual(plan.spotCheck, [1, 4, 8]);
  }
  const plan = await planStartupCheck(meta, dir, resume, { spotChecks: 0 });
  assert.deepEqual(plan.spotCheck, []);
});

test('observeFiles: missing, symlink and folder are null; padding files are synthetic; sizes and mtimes are exact', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  fs.rmSync(filePath(dir, 0));
  fs.symlinkSync(filePath(dir, 3), filePath(dir, 0)); // a planted symlink is not the file
  fs.rmSync(filePath(dir, 4));
  fs.mkdirSync(filePath(dir, 4)); // a folder where a file should be
  const obs = await observeFiles(meta, dir);
  assert.equal(obs[0], null);
  assert.deepEqual(obs[1]?.size, 0);
  assert.equal(obs[2]?.size, 1500);
  assert.equal(obs[3]?.size, 5000);
  assert.equal(obs[4], null);
  const ns = fs.statSync(filePath(dir, 3), { bigint: true }).mtimeNs;
  assert.equal(obs[3]?.mtimeMs, Number(ns / 1000n) / 1000);
  assert.deepEqual(await observeFiles(meta, dir), obs, 'stable');

  const padded = makeMeta({ name: 'pad', pieceLength: 1024, files: [
    { path: ['x'], length: 1000 }, { path: ['.pad', '24'], length: 24, padding: true }, { path: ['y'], length: 1500 },
  ] });
  const pdir = tmpDir();
  writeFiles(pdir, padded.meta, padded.data);
  const pobs = await observeFiles(padded.meta, pdir);
  assert.deepEqual(pobs[1], { size: 24, mtimeMs: 0 });
  assert.ok(!fs.existsSync(path.join(pdir, 'pad', '.pad')));
  const resume = await resumeFor(pdir, [0, 1, 2], padded.meta);
  const plan = await planStartupCheck(padded.meta, pdir, resume);
  assert.deepEqual([...plan.trusted.indexes()], [0, 1, 2]);
  assert.deepEqual(plan.changedFiles, []);
  const noResume = await planStartupCheck(padded.meta, pdir, null);
  assert.deepEqual(noResume.changedFiles, [0, 2], 'padding files never count as changed');
  assert.deepEqual(noResume.recheck, [0, 1, 2]);
});

test('snapshotDiskState observes the files first, then copies the written pieces, then flushes', async () => {
  const dir = tmpDir();
  writeFiles(dir);
  const order: string[] = [];
  const have = new Bitfield(meta.pieceCount);
  have.set(2);
  const before = await observeFiles(meta, dir);
  const snap = await snapshotDiskState(meta, dir, () => {
    order.push('pieces');
    bumpMtime(filePath(dir, 0)); // a write landing after the observation must not be in the recorded stamps
    return have;
  }, async () => {
    order.push('flush');
    // A piece that completes now is not in the snapshot, and its write would change a file's stamp.
    have.set(3);
  });
  assert.deepEqual(order, ['pieces', 'flush']);
  assert.deepEqual([...snap.pieces.indexes()], [2], 'a copy, not the live bitfield');
  assert.deepEqual(snap.files, before);
  assert.ok(!sameStamp(snap.files[0], (await observeFiles(meta, dir))[0]));
  await assert.rejects(snapshotDiskState(meta, dir, () => have, () => Promise.reject(new Error('EIO'))), /EIO/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FsStorage, SyncPolicy } from './fs-storage.js';
import { makeMeta, pieceOf, type TestMeta } from '../../test/support/test-meta.js';
import { isBtError } from '../util/errors.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('fs-storage');

/** Files as laid out on disk for `meta`, read back. */
function assertOnDisk(saveDir: string, meta: TestMeta, data: Buffer): void {
  for (const f of meta.files) {
    const p = path.join(saveDir, ...f.path);
    if (f.padding) { assert.ok(!fs.existsSync(p), `padding file ${p} must not exist`); continue; }
    assert.deepEqual(fs.readFileSync(p), data.subarray(f.offset, f.offset + f.length), p);
  }
}

function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [a[i], a[j]] = [a[j]!, a[i]!]; }
  return a;
}

const multi = () => makeMeta({ name: 'multi', pieceLength: 64, files: [
  { path: ['a.txt'], length: 50 },
  { path: ['empty-first'], length: 0 },
  { path: ['nested', 'deep', 'b.bin'], length: 10 },
  { path: ['c'], length: 3 },
  { path: ['nested', 'd.dat'], length: 200 },
  { path: ['other', 'empty-last'], length: 0 },
] });

test('multi-file round trip: piece over 4 files, zero-length files, nested folders, short last piece', async () => {
  const dir = tmpDir();
  const { meta, data } = multi();
  const s = await FsStorage.open(meta, dir);
  assert.equal(await s.readPiece(0), null, 'nothing on disk yet');
  await Promise.all(shuffled(meta.pieceCount).map((i) => s.writePiece(i, pieceOf(meta, data, i))));
  await s.flush();
  for (let i = 0; i < meta.pieceCount; i++) assert.deepEqual(await s.readPiece(i), pieceOf(meta, data, i));
  // Block reads that cross files.
  assert.deepEqual(await s.read(0, 45, 19), data.subarray(45, 64));
  assert.deepEqual(await s.read(4, 0, 7), data.subarray(256, 263));
  const into = Buffer.alloc(100, 0xee);
  const got = await s.readPiece(4, into);
  assert.equal(got!.length, 7);
  assert.deepEqual(got, data.subarray(256));
  await s.close();
  assertOnDisk(dir, meta, data);
  assert.ok(fs.statSync(path.join(dir, 'multi', 'nested', 'deep')).isDirectory());
});

test('single-file torrent lives at saveDir/<name>; short file and missing data', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'one.bin', pieceLength: 1024, length: 5000 });
  const s = await FsStorage.open(meta, dir);
  await s.writePiece(0, pieceOf(meta, data, 0));
  await s.writePiece(2, pieceOf(meta, data, 2));
  assert.ok(fs.statSync(path.join(dir, 'one.bin')).isFile());
  assert.deepEqual(await s.readPiece(2), pieceOf(meta, data, 2));
  assert.deepEqual(await s.readPiece(1), Buffer.alloc(1024), 'a hole inside the file reads as zeros');
  assert.equal(await s.readPiece(4), null, 'beyond EOF is missing');
  await assert.rejects(s.read(4, 0, 100), (e) => isBtError(e, 'IO') && /beyond end of file/.test(e.message));
  await assert.rejects(s.read(0, 1000, 100), RangeError);
  await s.close();
  await assert.rejects(s.readPiece(0), (e) => isBtError(e, 'ABORTED'));
  // A missing save folder: reads say missing, read() throws IO with ENOENT.
  const ghost = await FsStorage.open(meta, path.join(dir, 'no', 'such'), { readOnly: true });
  assert.equal(await ghost.readPiece(0), null);
  await assert.rejects(ghost.read(0, 0, 16), (e) => isBtError(e, 'IO') && /ENOENT/.test(e.message));
  await assert.rejects(ghost.writePiece(0, pieceOf(meta, data, 0)), (e) => isBtError(e, 'IO'));
  assert.ok(!fs.existsSync(path.join(dir, 'no')));
  await ghost.close();
});

test('prepare creates only the zero-length files (and their folders); padding files are never written and read as zeros', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'pad', pieceLength: 16, files: [
    { path: ['x', 'a'], length: 10 }, { path: ['.pad', '6'], length: 6, padding: true }, { path: ['y', 'z', 'e'], length: 0 },
    { path: ['b'], length: 20 },
  ] });
  const s = await FsStorage.open(meta, dir);
  await s.prepare();
  assert.equal(fs.statSync(path.join(dir, 'pad', 'y', 'z', 'e')).size, 0);
  assert.ok(!fs.existsSync(path.join(dir, 'pad', 'x')), 'prepare does not create the folders of data files');
  for (let i = 0; i < meta.pieceCount; i++) await s.writePiece(i, pieceOf(meta, data, i));
  assert.deepEqual(await s.readPiece(0), data.subarray(0, 16));
  assert.deepEqual((await s.read(0, 10, 6)), Buffer.alloc(6));
  await s.close();
  assertOnDisk(dir, meta, data);
});

test('zero-length files are created by writePiece even without prepare', async () => {
  const dir = tmpDir();
  const { meta, data } = multi();
  const s = await FsStorage.open(meta, dir);
  for (let i = 0; i < meta.pieceCount; i++) await s.writePiece(i, pieceOf(meta, data, i));
  await s.close();
  assertOnDisk(dir, meta, data);
});

test('fd pool: maxOpenFiles 2 with 10 files is never exceeded', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'many', pieceLength: 100,
    files: Array.from({ length: 10 }, (_, i) => ({ path: [`dir${i % 3}`, `f${i}`], length: 37 + i * 11 })) });
  const s = await FsStorage.open(meta, dir, { maxOpenFiles: 2 });
  const fdsInDir = (): number => {
    let n = 0;
    try {
      for (const fd of fs.readdirSync('/proc/self/fd')) {
        try { if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++; } catch { /* closed meanwhile */ }
      }
    } catch { /* no /proc */ }
    return n;
  };
  let maxSeen = 0;
  const timer = setInterval(() => { maxSeen = Math.max(maxSeen, fdsInDir()); }, 1);
  await Promise.all(shuffled(meta.pieceCount).map((i) => s.writePiece(i, pieceOf(meta, data, i))));
  const reads = await Promise.all(shuffled(meta.pieceCount).map(async (i) => [i, await s.readPiece(i)] as const));
  for (const [i, got] of reads) assert.deepEqual(got, pieceOf(meta, data, i));
  await s.flush();
  clearInterval(timer);
  assert.ok(s.peakOpenFiles <= 2, `peak ${s.peakOpenFiles}`);
  assert.ok(s.peakOpenFiles >= 1);
  assert.ok(maxSeen <= 2, `saw ${maxSeen} fds`);
  assert.ok(fdsInDir() <= 2);
  await s.close();
  assert.equal(fdsInDir(), 0);
  assertOnDisk(dir, meta, data);
});

test('a planted symlink (file or folder) is refused and nothing is written outside', async () => {
  const dir = tmpDir();
  const outside = tmpDir();
  const victim = path.join(outside, 'victim');
  fs.writeFileSync(victim, 'precious');
  const { meta, data } = multi();
  // 1. The final component is a symlink to a file outside.
  fs.mkdirSync(path.join(dir, 'multi'));
  fs.symlinkSync(victim, path.join(dir, 'multi', 'a.txt'));
  // 2. A folder is a symlink to a folder outside.
  fs.symlinkSync(outside, path.join(dir, 'multi', 'nested'));
  const s = await FsStorage.open(meta, dir);
  const refused = (e: unknown): boolean => isBtError(e, 'BAD_PATH') || isBtError(e, 'IO');
  await assert.rejects(s.writePiece(0, pieceOf(meta, data, 0)), refused);
  await assert.rejects(s.writePiece(2, pieceOf(meta, data, 2)), refused);
  await assert.rejects(s.readPiece(0), refused, 'reads through the symlink are refused too');
  await assert.rejects(s.read(2, 0, 10), refused);
  await s.close();
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.deepEqual(fs.readdirSync(outside).sort(), ['victim']);

  // 3. Single-file torrent whose file is a symlink; and a multi-file torrent whose folder is a symlink.
  const dir2 = tmpDir();
  fs.symlinkSync(victim, path.join(dir2, 'one'));
  fs.symlinkSync(outside, path.join(dir2, 'multi'));
  const one = makeMeta({ name: 'one', pieceLength: 8, length: 20 });
  const s1 = await FsStorage.open(one.meta, dir2);
  await assert.rejects(s1.writePiece(0, pieceOf(one.meta, one.data, 0)), (e) => isBtError(e, 'BAD_PATH'));
  await s1.close();
  const s2 = await FsStorage.open(meta, dir2);
  await assert.rejects(s2.writePiece(1, pieceOf(meta, data, 1)), refused);
  await assert.rejects(s2.prepare(), refused);
  await s2.close();
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.deepEqual(fs.readdirSync(outside).sort(), ['victim']);
});

test('unsafe path components are refused at open', async () => {
  const { meta } = makeMeta({ name: 'evil', pieceLength: 8, files: [{ path: ['..', '..', 'etc'], length: 8 }] });
  await assert.rejects(FsStorage.open(meta, tmpDir()), (e) => isBtError(e, 'BAD_PATH'));
});

test('fs errors become BtError IO with the errno code in the message and the cause kept', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'blocked', pieceLength: 8, files: [{ path: ['f'], length: 8 }] });
  fs.mkdirSync(path.join(dir, 'blocked', 'f'), { recursive: true }); // a folder where the file should be
  const s = await FsStorage.open(meta, dir);
  await assert.rejects(s.writePiece(0, data), (e: unknown) => {
    assert.ok(isBtError(e, 'IO'));
    assert.match(e.message, /^open .*blocked\/f: EISDIR/);
    assert.equal((e.cause as { code?: string }).code, 'EISDIR');
    return true;
  });
  await s.close();
});

test('read-only storage never writes; writable reopen after a read', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'ro', pieceLength: 16, length: 40 });
  fs.writeFileSync(path.join(dir, 'ro'), data.subarray(0, 32));
  const ro = await FsStorage.open(meta, dir, { readOnly: true });
  assert.deepEqual(await ro.readPiece(1), data.subarray(16, 32));
  assert.equal(await ro.readPiece(2), null);
  await assert.rejects(ro.writePiece(2, pieceOf(meta, data, 2)), (e) => isBtError(e, 'IO'));
  await ro.close();
  const rw = await FsStorage.open(meta, dir, { maxOpenFiles: 1 });
  assert.deepEqual(await rw.read(0, 0, 16), data.subarray(0, 16));
  await rw.writePiece(2, pieceOf(meta, data, 2));
  await rw.flush();
  await rw.close();
  assert.deepEqual(fs.readFileSync(path.join(dir, 'ro')), data);
});

test('close waits for operations in flight', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'big', pieceLength: 1 << 20, length: 4 << 20 });
  const s = await FsStorage.open(meta, dir);
  const writes = [0, 1, 2, 3].map((i) => s.writePiece(i, pieceOf(meta, data, i)));
  await s.close();
  await Promise.all(writes);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'big')), data);
  assert.equal(s.openFiles, 0);
});

test('SyncPolicy: three slow calls within 2 s switch to the thread pool for 10 s; one alone does not', () => {
  let t = 1000;
  const p = new SyncPolicy(() => t);
  if (!p.allowed) return; // BITPEER_ASYNC_IO=1 in the environment
  p.note(t, t + 5); // fast
  p.note(t, t + 100); // slow, alone
  t += 3000;
  p.note(t, t + 100); // slow, but the first one is out of the window
  assert.equal(p.allowed, true);
  t += 500; p.note(t, t + 60);
  t += 500; p.note(t, t + 60); // the third slow call within 2 s
  assert.equal(p.allowed, false);
  t += 9_000;
  assert.equal(p.allowed, false);
  t += 1_200;
  assert.equal(p.allowed, true, 'synchronous calls are tried again after 10 s');
});

test('folders appear only when a file inside them is first written', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'lazy', pieceLength: 16, files: [
    { path: ['a', 'one'], length: 16 }, { path: ['b', 'c', 'two'], length: 16 }, { path: ['d', 'empty'], length: 0 },
  ] });
  const s = await FsStorage.open(meta, dir);
  assert.deepEqual(fs.readdirSync(dir), [], 'opening creates nothing');
  assert.equal(await s.readPiece(1), null);
  await s.writePiece(0, pieceOf(meta, data, 0));
  assert.deepEqual(fs.readdirSync(path.join(dir, 'lazy')), ['a']);
  await s.writePiece(1, pieceOf(meta, data, 1)); // the zero-length file sits at the end of piece 1
  assert.deepEqual(fs.readdirSync(path.join(dir, 'lazy')).sort(), ['a', 'b', 'd']);
  await s.close();
});

test('removeCreated removes exactly the files and folders this storage created, never a file that existed', async () => {
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'made', pieceLength: 16, files: [
    { path: ['old.bin'], length: 16 }, { path: ['new', 'deep', 'x.bin'], length: 16 }, { path: ['new', 'y.bin'], length: 16 },
  ] });
  fs.mkdirSync(path.join(dir, 'made'));
  fs.writeFileSync(path.join(dir, 'made', 'old.bin'), 'existed before');
  fs.writeFileSync(path.join(dir, 'made', 'user.txt'), 'mine');
  const s = await FsStorage.open(meta, dir);
  for (let i = 0; i < meta.pieceCount; i++) await s.writePiece(i, pieceOf(meta, data, i));
  const r = await s.removeCreated();
  assert.deepEqual(r.deleted.map((p) => path.relative(dir, p)).sort(), ['made/new/deep/x.bin', 'made/new/y.bin']);
  assert.deepEqual(r.removedDirs.map((p) => path.relative(dir, p)), ['made/new/deep', 'made/new']);
  assert.deepEqual(fs.readdirSync(path.join(dir, 'made')).sort(), ['old.bin', 'user.txt']);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'made', 'old.bin')), data.subarray(0, 16), 'written, but not created: kept');
});

test('followLinks: a read-only storage reads through symlinks (seeding what create hashed); writes are refused', async () => {
  const dir = tmpDir();
  const outside = tmpDir();
  const { meta, data } = makeMeta({ name: 'links', pieceLength: 16, files: [{ path: ['in'], length: 16 }, { path: ['out'], length: 16 }] });
  fs.mkdirSync(path.join(dir, 'links'));
  fs.writeFileSync(path.join(dir, 'target-inside'), data.subarray(0, 16));
  fs.writeFileSync(path.join(outside, 'target-outside'), data.subarray(16, 32));
  fs.symlinkSync(path.join(dir, 'target-inside'), path.join(dir, 'links', 'in'));
  fs.symlinkSync(path.join(outside, 'target-outside'), path.join(dir, 'links', 'out'));
  const strict = await FsStorage.open(meta, dir);
  await assert.rejects(strict.readPiece(0), (e: unknown) => isBtError(e, 'BAD_PATH'));
  await strict.close();
  const s = await FsStorage.open(meta, dir, { followLinks: true });
  assert.deepEqual(await s.readPiece(0), data.subarray(0, 16));
  assert.deepEqual(await s.readPiece(1), data.subarray(16, 32));
  await assert.rejects(s.writePiece(0, data.subarray(0, 16)), /read-only/);
  await s.close();
  assert.deepEqual(fs.readFileSync(path.join(outside, 'target-outside')), data.subarray(16, 32));
});

test('the asyncIo option (was BITPEER_ASYNC_IO=1) never allows a synchronous call; the default does', async () => {
  assert.equal(new SyncPolicy(() => 0, true).allowed, false);
  assert.equal(new SyncPolicy(() => 0).allowed, true);
  const { meta } = makeMeta({ name: 'a', pieceLength: 16384, length: 16384 });
  const policies = (s: FsStorage): SyncPolicy[] => {
    const x = s as unknown as { syncReads: SyncPolicy; syncWrites: SyncPolicy };
    return [x.syncReads, x.syncWrites];
  };
  const on = await FsStorage.open(meta, tmpDir(), { asyncIo: true });
  const off = await FsStorage.open(meta, tmpDir());
  try {
    assert.deepEqual(policies(on).map((p) => p.allowed), [false, false]);
    assert.deepEqual(policies(off).map((p) => p.allowed), [true, true]);
  } finally { await on.close(); await off.close(); }
});

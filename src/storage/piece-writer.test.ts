/** PieceWriter (hash-then-write on its thread, through the shared ring) and FsStorage.verifyAndWrite on top of it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PieceWriter } from './piece-writer.js';
import { RING } from './piece-writer-ring.js';
import { FsStorage } from './fs-storage.js';
import { makeMeta, pieceOf } from '../../test/support/test-meta.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';
import { isBtError } from '../util/errors.js';

const tmpDir = tmpDirs('piece-writer');
const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

function sharedCopy(b: Buffer, pad = 0): Buffer {
  const s = Buffer.from(new SharedArrayBuffer(b.length + pad), pad, b.length);
  b.copy(s);
  return s;
}

test('PieceWriter writes a piece whose SHA-1 matches, span by span, and never one that does not', async () => {
  const w = new PieceWriter();
  const dir = tmpDir();
  const fa = fs.openSync(path.join(dir, 'a'), 'w+');
  const fb = fs.openSync(path.join(dir, 'b'), 'w+');
  try {
    const piece = sharedCopy(randomBytes(70_000), 123); // a view at an offset into its SharedArrayBuffer
    const spans = [{ fd: fa, at: 0, length: 30_000, position: 5 }, { fd: fb, at: 30_000, length: 40_000, position: 3_000_000_000 }];
    const ok = await w.run(piece, sha1(piece), spans);
    assert.equal(ok.status, 'ok');
    assert.deepEqual(ok.digest, sha1(piece));
    assert.deepEqual(fs.readFileSync(path.join(dir, 'a')).subarray(5), piece.subarray(0, 30_000));
    const b = Buffer.alloc(40_000);
    fs.readSync(fb, b, 0, 40_000, 3_000_000_000); // a file offset beyond 2^31 (float64 in the ring)
    assert.deepEqual(b, piece.subarray(30_000));
    // A wrong digest: nothing is written.
    const other = sharedCopy(randomBytes(1000));
    const bad = await w.run(other, Buffer.alloc(20), [{ fd: fa, at: 0, length: 1000, position: 1_000_000 }]);
    assert.equal(bad.status, 'bad');
    assert.deepEqual(bad.digest, sha1(other));
    assert.equal(fs.fstatSync(fa).size, 30_005);
    assert.throws(() => w.run(Buffer.alloc(10), Buffer.alloc(20), []), TypeError, 'a plain buffer is refused');
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
    await w.close();
  }
});

test('PieceWriter reports a failed write with its errno code, span and bytes written (ENOSPC from /dev/full)', { skip: !fs.existsSync('/dev/full') }, async () => {
  const w = new PieceWriter();
  const dir = tmpDir();
  const fa = fs.openSync(path.join(dir, 'a'), 'w+');
  const full = fs.openSync('/dev/full', 'w');
  try {
    const piece = sharedCopy(randomBytes(5000));
    const r = await w.run(piece, sha1(piece), [{ fd: fa, at: 0, length: 2000, position: 0 }, { fd: full, at: 2000, length: 3000, position: 0 }]);
    assert.equal(r.status, 'error');
    if (r.status !== 'error') return;
    assert.equal(r.span, 1);
    assert.equal(r.written, 0);
    assert.equal(r.error.code, 'ENOSPC');
    assert.match(r.error.message, /^ENOSPC: no space left on device/);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'a')), piece.subarray(0, 2000), 'the span before it was written');
  } finally {
    fs.closeSync(fa);
    fs.closeSync(full);
    await w.close();
  }
});

test('PieceWriter: many more jobs than ring slots, submitted in waves from settlements, all settle in order', async () => {
  const w = new PieceWriter();
  const dir = tmpDir();
  const fd = fs.openSync(path.join(dir, 'big'), 'w+');
  try {
    const size = 4096;
    const pieces = Array.from({ length: 8 }, () => sharedCopy(randomBytes(size)));
    const order: number[] = [];
    const all: Promise<void>[] = [];
    let n = 0;
    const submit = (count: number): void => {
      for (let k = 0; k < count; k++) {
        const i = n++;
        const p = pieces[i % pieces.length]!;
        // Every fifth job carries a wrong digest.
        all.push(w.run(p, i % 5 === 4 ? Buffer.alloc(20) : sha1(p), [{ fd, at: 0, length: size, position: i * size }]).then((r) => {
          order.push(i);
          assert.equal(r.status, i % 5 === 4 ? 'bad' : 'ok', `job ${i}`);
          if (i % 2 === 0 && n < 600) submit(3); // new work from inside a settlement (the downloader's pattern)
        }));
      }
    };
    submit(3 * RING.SLOTS);
    while (all.length > 0) await all.shift();
    assert.ok(n >= 600 && n > 3 * RING.SLOTS);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'settled in submission order');
    const back = Buffer.alloc(size);
    for (let i = 0; i < n; i++) {
      back.fill(0);
      fs.readSync(fd, back, 0, size, i * size);
      if (i % 5 === 4) assert.ok(back.every((x) => x === 0), `bad job ${i} wrote nothing`);
      else assert.deepEqual(back, pieces[i % pieces.length], `job ${i}`);
    }
  } finally {
    fs.closeSync(fd);
    await w.close();
  }
});

test('an idle PieceWriter does not keep the process alive', () => {
  const url = new URL('./piece-writer.js', import.meta.url).href;
  const file = path.join(tmpDir(), 'x');
  const script = `import { PieceWriter } from ${JSON.stringify(url)}; import { createHash } from 'node:crypto'; import * as fs from 'node:fs';
    const w = new PieceWriter(); const fd = fs.openSync(${JSON.stringify(file)}, 'w');
    const b = Buffer.from(new SharedArrayBuffer(10)); b.fill(1);
    const r = await w.run(b, createHash('sha1').update(b).digest(), [{ fd, at: 0, length: 10, position: 0 }]);
    console.log(r.status);`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000, cwd: path.dirname(fileURLToPath(import.meta.url)) });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
  assert.ok(Date.now() - t0 < 15_000, 'exited on its own');
  assert.equal(fs.readFileSync(file).length, 10);
});

test('FsStorage.verifyAndWrite (pieceWorker): multi-file pieces on the writer thread, wrong digests write nothing, flush and read back', async () => {
  const w = new PieceWriter();
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'multi', pieceLength: 64, files: [
    { path: ['a.txt'], length: 50 },
    { path: ['empty-first'], length: 0 },
    { path: ['nested', 'deep', 'b.bin'], length: 10 },
    { path: ['c'], length: 3 },
    { path: ['nested', 'd.dat'], length: 200 },
  ] });
  const s = await FsStorage.open(meta, dir, { pieceWorker: w });
  try {
    assert.equal(typeof s.verifyAndWrite, 'function');
    // Piece 1 fails first: nothing of it is written.
    assert.equal(await s.verifyAndWrite!(1, sharedCopy(pieceOf(meta, data, 1)), Buffer.alloc(20)), false);
    assert.equal(await s.readPiece(1), null);
    const results = await Promise.all(Array.from({ length: meta.pieceCount }, (_, i) => {
      const p = sharedCopy(pieceOf(meta, data, i));
      return s.verifyAndWrite!(i, p, meta.pieceHashes.subarray(20 * i, 20 * i + 20));
    }));
    assert.deepEqual(results, results.map(() => true));
    // A plain (not shared) buffer still works, hashed on this thread.
    assert.equal(await s.verifyAndWrite!(2, Buffer.from(pieceOf(meta, data, 2)), meta.pieceHashes.subarray(40, 60)), true);
    assert.equal(await s.verifyAndWrite!(2, Buffer.from(pieceOf(meta, data, 2)), Buffer.alloc(20)), false);
    await s.flush();
    for (let i = 0; i < meta.pieceCount; i++) assert.deepEqual(await s.readPiece(i), pieceOf(meta, data, i));
    assert.ok(fs.statSync(path.join(dir, 'multi', 'empty-first')).isFile(), 'the zero-length file at piece 0 was made');
  } finally {
    await s.close();
    await w.close();
  }
  assert.deepEqual(fs.readFileSync(path.join(dir, 'multi', 'nested', 'd.dat')), data.subarray(63, 263));
  // Without the option there is no verifyAndWrite (the download hashes on its own thread).
  const plain = await FsStorage.open(meta, tmpDir());
  assert.equal(plain.verifyAndWrite, undefined);
  await plain.close();
});

test('FsStorage.verifyAndWrite: an open that fails is the same IO error as writePiece gives, and close waits for jobs', async () => {
  const w = new PieceWriter();
  const dir = tmpDir();
  const { meta, data } = makeMeta({ name: 'one.bin', pieceLength: 1024, length: 5000 });
  fs.mkdirSync(path.join(dir, 'one.bin')); // a folder where the file should be
  const s = await FsStorage.open(meta, dir, { pieceWorker: w });
  try {
    const err = await s.verifyAndWrite!(0, sharedCopy(pieceOf(meta, data, 0)), meta.pieceHashes.subarray(0, 20)).then(() => null, (e: unknown) => e);
    assert.ok(isBtError(err) && err.code === 'IO', String(err));
    const viaWrite = await s.writePiece(0, pieceOf(meta, data, 0)).then(() => null, (e: unknown) => e);
    assert.ok(isBtError(viaWrite));
    assert.equal((err as Error).message, (viaWrite as Error).message);
  } finally {
    await s.close();
  }
  const dir2 = tmpDir();
  const s2 = await FsStorage.open(meta, dir2, { pieceWorker: w });
  const pending = [0, 1, 2, 3, 4].map((i) => s2.verifyAndWrite!(i, sharedCopy(pieceOf(meta, data, i)), meta.pieceHashes.subarray(20 * i, 20 * i + 20)));
  await s2.close(); // waits for the jobs, then flushes
  assert.deepEqual(await Promise.all(pending), [true, true, true, true, true]);
  assert.deepEqual(fs.readFileSync(path.join(dir2, 'one.bin')), data);
  await w.close();
});

// createTorrent on real temp folders: layout rules, hashes, options and errors, for v1, v2 and hybrid.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTorrent } from './create-torrent.js';
import { decode } from '../bencode/decode.js';
import type { Metainfo } from '../metainfo/types.js';
import { isBtError } from '../util/errors.js';
import { fileRootFromData, fileRootFromLayer, pieceLayerHash } from '../metainfo/merkle.js';

const root = mkdtempSync(path.join(tmpdir(), 'bitpeer-create-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = path.join(root, `case${n++}`);
  mkdirSync(d);
  return d;
};
/** Open file descriptors of this process (Linux), to prove that failures close their files. */
const openFds = (): number => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
const write = (file: string, data: Buffer | string): void => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
};

/** Recomputes every piece hash from the files on disk. */
function verify(meta: Metainfo, base: string): void {
  const data = Buffer.concat(meta.files.map((f) => readFileSync(path.join(base, ...f.path))));
  assert.equal(data.length, meta.totalLength);
  for (let i = 0; i < meta.pieceCount; i++) {
    const h = createHash('sha1').update(data.subarray(i * meta.pieceLength, (i + 1) * meta.pieceLength)).digest();
    assert.deepEqual(meta.pieceHashes.subarray(i * 20, i * 20 + 20), h, `piece ${i}`);
  }
}

test('single file: fields, hashes, defaults, no private key', async () => {
  const d = fresh();
  const file = path.join(d, 'data.bin');
  write(file, randomBytes(100_000));
  const before = Math.floor(Date.now() / 1000);
  const { torrent, meta } = await createTorrent(file, { pieceLength: 16384 });
  assert.equal(meta.name, 'data.bin');
  assert.equal(meta.multiFile, false);
  assert.equal(meta.totalLength, 100_000);
  assert.equal(meta.pieceCount, 7);
  assert.equal(meta.private, false);
  assert.equal(meta.createdBy, 'bitpeer');
  assert.ok(meta.creationDate! >= before && meta.creationDate! <= before + 5);
  assert.equal(meta.announce, undefined);
  assert.deepEqual(meta.softErrors, []);
  assert.equal(meta.infoBytes.indexOf('7:private'), -1);
  assert.deepEqual(meta.files, [{ path: ['data.bin'], relPath: 'data.bin', length: 100_000, offset: 0 }]);
  verify(meta, d);
  // canonical output: keys sorted, exactly the mktorrent info keys
  const info = (decode(torrent, { keyOrder: 'error' }).value as Map<string, unknown>).get('info') as Map<string, unknown>;
  assert.deepEqual([...info.keys()], ['length', 'name', 'piece length', 'pieces']);
});

test('options: private, announce tiers, comment, name, no date', async () => {
  const d = fresh();
  write(path.join(d, 'f'), 'hello');
  const { torrent, meta } = await createTorrent(path.join(d, 'f'), {
    private: true, announce: ['http://a/announce', 'udp://b:1', 'http://c/announce'], comment: 'hi', createdBy: 'me',
    creationDate: null, name: 'renamed',
  });
  assert.equal(meta.private, true);
  assert.equal(meta.name, 'renamed');
  assert.equal(meta.announce, 'http://a/announce');
  assert.deepEqual(meta.announceList, [['http://a/announce'], ['udp://b:1'], ['http://c/announce']]);
  assert.equal(meta.comment, 'hi');
  assert.equal(meta.createdBy, 'me');
  assert.equal(meta.creationDate, undefined);
  assert.ok(torrent.includes('7:privatei1e'));
  const one = await createTorrent(path.join(d, 'f'), { announce: ['http://a/announce'], creationDate: 42 });
  assert.deepEqual(one.meta.announceList, []);
  assert.equal(one.meta.creationDate, 42);
  assert.equal(one.torrent.indexOf('announce-list'), -1);
});

test('folder: recursive, byte-wise path order (as mktorrent), hidden and empty files included', async () => {
  const d = fresh();
  const top = path.join(d, 'top');
  write(path.join(top, 'a', 'x'), '1');
  write(path.join(top, 'a-b'), '22');
  write(path.join(top, 'a.c'), '333');
  write(path.join(top, 'B', 'y'), '4444');
  write(path.join(top, '.hidden'), '55555');
  write(path.join(top, 'sub', '.git', 'config'), '666666');
  write(path.join(top, 'empty'), '');
  write(path.join(top, 'é'), '7');
  write(path.join(top, 'z', 'deep', 'er', 'est'), randomBytes(40_000));
  mkdirSync(path.join(top, 'emptydir'));
  const { meta } = await createTorrent(top, { pieceLength: 16384 });
  assert.equal(meta.multiFile, true);
  assert.deepEqual(meta.files.map((f) => f.relPath), [
    'top/.hidden', 'top/B/y', 'top/a-b', 'top/a.c', 'top/a/x', 'top/empty', 'top/sub/.git/config', 'top/z/deep/er/est', 'top/é',
  ]);
  verify(meta, d);
});

test('a folder holding one file is still a multi-file torrent', async () => {
  const d = fresh();
  write(path.join(d, 'only', 'f'), 'abc');
  const { meta } = await createTorrent(path.join(d, 'only'));
  assert.equal(meta.multiFile, true);
  assert.deepEqual(meta.files.map((f) => f.relPath), ['only/f']);
});

test('symlinks are followed (files and folders); followSymlinks: false skips them', async () => {
  const d = fresh();
  const top = path.join(d, 'top');
  write(path.join(d, 'outside', 'o'), 'outside');
  write(path.join(top, 'real'), 'real');
  symlinkSync(path.join(top, 'real'), path.join(top, 'link'));
  symlinkSync(path.join(d, 'outside'), path.join(top, 'dirlink'));
  const followed = await createTorrent(top);
  assert.deepEqual(followed.meta.files.map((f) => f.relPath), ['top/dirlink/o', 'top/link', 'top/real']);
  const skipped = await createTorrent(top, { followSymlinks: false });
  assert.deepEqual(skipped.meta.files.map((f) => f.relPath), ['top/real']);
});

test('dangling symlinks and symlink loops are IO errors', async () => {
  const d = fresh();
  write(path.join(d, 'dang', 'f'), 'x');
  symlinkSync(path.join(d, 'nowhere'), path.join(d, 'dang', 'broken'));
  await assert.rejects(createTorrent(path.join(d, 'dang')), (e: unknown) => isBtError(e, 'IO') && e.message.includes('dangling symlink'));
  write(path.join(d, 'loop', 's', 'f'), 'x');
  symlinkSync('..', path.join(d, 'loop', 's', 'up'));
  await assert.rejects(createTorrent(path.join(d, 'loop')), (e: unknown) => isBtError(e, 'IO') && e.message.includes('symlink loop'));
});

test('errors: NOT_FOUND, USAGE for empty folders / no data / bad piece length, BAD_PATH for unportable names', async () => {
  const d = fresh();
  await assert.rejects(createTorrent(path.join(d, 'missing')), (e: unknown) => isBtError(e, 'NOT_FOUND') && e.message.includes('missing'));
  mkdirSync(path.join(d, 'empty', 'sub'), { recursive: true });
  await assert.rejects(createTorrent(path.join(d, 'empty')), (e: unknown) => isBtError(e, 'USAGE') && e.message.includes('contains no files'));
  write(path.join(d, 'zeros', 'a'), '');
  await assert.rejects(createTorrent(path.join(d, 'zeros')), (e: unknown) => isBtError(e, 'USAGE') && e.message.includes('no data'));
  write(path.join(d, 'f'), 'x');
  for (const pl of [1000, 8192, 3 * 16384, 2 ** 29]) {
    await assert.rejects(createTorrent(path.join(d, 'f'), { pieceLength: pl }), (e: unknown) => isBtError(e, 'USAGE') && e.message.includes('power of two'));
  }
  write(path.join(d, 'weird', 'a\\b'), 'x');
  await assert.rejects(createTorrent(path.join(d, 'weird')), (e: unknown) => isBtError(e, 'BAD_PATH') && e.message.includes('"\\" separator'));
  write(path.join(d, 'ctl', 'a\tb'), 'x');
  await assert.rejects(createTorrent(path.join(d, 'ctl')), (e: unknown) => isBtError(e, 'BAD_PATH'));
  await assert.rejects(createTorrent(path.join(d, 'f'), { name: '..' }), (e: unknown) => isBtError(e, 'BAD_PATH'));
});

for (const threads of [0, 2]) {
  test(`abort before and during hashing; progress reaches the total (threads: ${threads})`, async () => {
    const d = fresh();
    const file = path.join(d, 'big');
    const size = 20 * 1024 * 1024 + 123;
    write(file, randomBytes(size));
    const fds = openFds();
    await assert.rejects(createTorrent(file, { threads, signal: AbortSignal.abort() }), (e: unknown) => isBtError(e, 'ABORTED'));
    const ac = new AbortController();
    await assert.rejects(createTorrent(file, { threads, signal: ac.signal, onProgress: () => ac.abort(new Error('stop')) }),
      (e: unknown) => isBtError(e, 'ABORTED') && (e.cause as Error).message === 'stop');
    assert.equal(openFds(), fds, 'no file left open');
    const seen: number[] = [];
    const { meta } = await createTorrent(file, { threads, onProgress: (done, total) => { assert.equal(total, size); seen.push(done); } });
    assert.ok(seen.length >= 3);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b));
    assert.equal(seen.at(-1), meta.totalLength);
    verify(meta, d);
  });

  test(`a file that shrinks while it is hashed is an IO error (threads: ${threads})`, async () => {
    const d = fresh();
    const top = path.join(d, 'shrink');
    write(path.join(top, 'a'), randomBytes(3 * 1024 * 1024));
    write(path.join(top, 'b'), randomBytes(24 * 1024 * 1024));
    let once = false;
    const fds = openFds();
    await assert.rejects(createTorrent(top, {
      threads, pieceLength: 16384,
      onProgress: () => { if (!once) { once = true; truncateSync(path.join(top, 'b'), 1000); } },
    }), (e: unknown) => isBtError(e, 'IO') && e.message.includes('shrank'));
    assert.equal(openFds(), fds, 'no file left open');
  });
}

test('worker threads give the same torrent as the main thread alone', async () => {
  const d = fresh();
  const top = path.join(d, 'mix');
  write(path.join(top, 'a'), randomBytes(9 * 1024 * 1024 + 7));
  write(path.join(top, 'b'), randomBytes(3));
  write(path.join(top, 'c'), randomBytes(3 * 1024 * 1024 - 5));
  for (const pl of [16384, 1024 * 1024, 16 * 1024 * 1024]) {
    const opts = { pieceLength: pl, creationDate: null };
    const t0 = await createTorrent(top, { ...opts, threads: 0 });
    const t3 = await createTorrent(top, { ...opts, threads: 3 });
    const t1 = await createTorrent(top, { ...opts, threads: 1 });
    assert.deepEqual(t1.torrent, t0.torrent, `piece length ${pl}, 1 worker`);
    assert.deepEqual(t3.torrent, t0.torrent, `piece length ${pl}`);
    verify(t0.meta, d);
  }
});

// ---- v2 and hybrid (BEP 52; libtorrent 2.0.8's layout, which test/interop/create-v2.test.ts compares byte for byte) ----

/**
 * Recomputes a v2 or hybrid torrent's hashes from the files on disk: every non-empty file starts a piece, its pieces
 * root (and piece layer, for files over one piece) match its bytes, and a hybrid's SHA-1s cover pads as zeros.
 */
function verifyV2(meta: Metainfo, base: string): void {
  const bytesOf = (f: Metainfo['files'][number]): Buffer => (f.padding ? Buffer.alloc(f.length) : readFileSync(path.join(base, ...f.path)));
  const data = Buffer.concat(meta.files.map(bytesOf));
  assert.equal(data.length, meta.totalLength);
  if (meta.version === 'hybrid') {
    assert.equal(meta.pieceHashes.length, 20 * meta.pieceCount);
    for (let i = 0; i < meta.pieceCount; i++) {
      const h = createHash('sha1').update(data.subarray(i * meta.pieceLength, (i + 1) * meta.pieceLength)).digest();
      assert.deepEqual(meta.pieceHashes.subarray(i * 20, i * 20 + 20), h, `piece ${i}`);
    }
  } else {
    assert.equal(meta.version, 'v2');
    assert.equal(meta.pieceHashes.length, 0);
  }
  for (const f of meta.files) {
    if (f.padding === true || f.length === 0) {
      assert.equal(f.piecesRoot, undefined, f.relPath);
      continue;
    }
    assert.equal(f.offset % meta.pieceLength, 0, `${f.relPath} starts a piece`);
    const bytes = bytesOf(f);
    if (f.length <= meta.pieceLength) {
      assert.deepEqual(f.piecesRoot, fileRootFromData(bytes), f.relPath);
      assert.equal(meta.pieceLayers.has(f.piecesRoot!.toString('hex')), false);
      continue;
    }
    const layer = meta.pieceLayers.get(f.piecesRoot!.toString('hex'));
    assert.ok(layer !== undefined, `${f.relPath} has a piece layer`);
    const pieces = Math.ceil(f.length / meta.pieceLength);
    const expected = Buffer.concat(Array.from({ length: pieces },
      (_, k) => pieceLayerHash(bytes.subarray(k * meta.pieceLength, (k + 1) * meta.pieceLength), meta.pieceLength)));
    assert.deepEqual(layer, expected, `${f.relPath} piece layer`);
    assert.deepEqual(f.piecesRoot, fileRootFromLayer(layer, meta.pieceLength, f.length));
  }
}

test('v2 and hybrid: libtorrent\'s order and pads, hashes recomputed, same bytes with and without workers', async () => {
  const d = fresh();
  const top = path.join(d, 'top');
  write(path.join(top, 'a', 'x'), randomBytes(1));
  write(path.join(top, 'a-b'), randomBytes(16384));
  write(path.join(top, 'a.c'), randomBytes(16385));
  write(path.join(top, 'B'), randomBytes(5 * 65536 + 3));
  write(path.join(top, 'empty'), '');
  write(path.join(top, 'z', 'last'), randomBytes(70_000));
  for (const version of ['hybrid', 'v2'] as const) {
    for (const pl of [16384, 65536]) {
      const t0 = await createTorrent(top, { version, pieceLength: pl, creationDate: null, threads: 0 });
      const t2 = await createTorrent(top, { version, pieceLength: pl, creationDate: null, threads: 2 });
      assert.deepEqual(t2.torrent, t0.torrent, `${version} ${pl}: workers change nothing`);
      const { meta } = t0;
      assert.equal(meta.version, version);
      assert.ok(meta.infoHashV2 !== undefined && meta.infoHashV2.length === 32);
      assert.deepEqual(meta.infoHashV2, createHash('sha256').update(meta.infoBytes).digest());
      // Component-wise order: the folder 'a' sorts before 'a-b' and 'a.c' (mktorrent's v1 order is the other way).
      assert.deepEqual(meta.files.filter((f) => f.padding !== true).map((f) => f.relPath),
        ['top/B', 'top/a/x', 'top/a-b', 'top/a.c', 'top/empty', 'top/z/last']);
      verifyV2(meta, d);
      if (version === 'hybrid') {
        // Written pads: after every unaligned non-empty file, the last included.
        const pads = meta.files.filter((f) => f.padding === true);
        assert.ok(pads.length >= 3 && pads.every((p) => p.relPath === `top/.pad/${p.length}`));
        assert.equal(meta.totalLength % pl, 0, 'tail padded');
      }
      const info = decode(meta.infoBytes).value as Map<string, unknown>;
      assert.deepEqual([...info.keys()], version === 'hybrid'
        ? ['file tree', 'files', 'meta version', 'name', 'piece length', 'pieces']
        : ['file tree', 'meta version', 'name', 'piece length'], 'v2-only has no v1 file list or pieces');
    }
  }
});

test('v2 and hybrid single files: `length` (hybrid), no pads, executable bit from lstat', async () => {
  const d = fresh();
  const file = path.join(d, 'tool.bin');
  write(file, randomBytes(50_000));
  chmodSync(file, 0o755);
  symlinkSync('tool.bin', path.join(d, 'alias'));
  write(path.join(d, 'plain'), randomBytes(10));
  for (const version of ['hybrid', 'v2'] as const) {
    const { meta } = await createTorrent(file, { version, pieceLength: 16384, creationDate: null });
    assert.equal(meta.multiFile, false);
    assert.deepEqual(meta.files.filter((f) => f.padding !== true).map((f) => [f.relPath, f.length]), [['tool.bin', 50_000]]);
    // A hybrid single file has no pad; a v2-only one gets the parser's synthetic tail pad, as libtorrent's loader adds.
    if (version === 'hybrid') assert.equal(meta.files.length, 1);
    assert.equal(meta.files[0]!.executable, true);
    const info = decode(meta.infoBytes).value as Map<string, unknown>;
    assert.equal(info.get('length'), version === 'hybrid' ? 50_000 : undefined, 'a hybrid single file is `length`');
    assert.equal(info.has('files'), false);
    verifyV2(meta, d);
    // A followed symlink is 'x' (lstat sees mode 777), as libtorrent sets it; a plain file is not.
    assert.equal((await createTorrent(path.join(d, 'alias'), { version })).meta.files[0]!.executable, true);
    assert.notEqual((await createTorrent(path.join(d, 'plain'), { version })).meta.files[0]!.executable, true);
  }
  // v1 stays mktorrent's: no attributes.
  assert.equal((await createTorrent(file, { pieceLength: 16384 })).meta.infoBytes.includes('4:attr'), false);
});

test('v2 and hybrid: piece lengths that are not a power of two of at least 16 KiB are refused; abort works', async () => {
  const d = fresh();
  write(path.join(d, 'f'), randomBytes(3 * 1024 * 1024));
  for (const version of ['hybrid', 'v2'] as const) {
    for (const pl of [8192, 3 * 16384, 1000]) {
      await assert.rejects(createTorrent(path.join(d, 'f'), { version, pieceLength: pl }),
        (e: unknown) => isBtError(e, 'USAGE') && e.message.includes('power of two'));
    }
    await assert.rejects(createTorrent(path.join(d, 'f'), { version, signal: AbortSignal.abort() }), (e: unknown) => isBtError(e, 'ABORTED'));
    const ac = new AbortController();
    const fds = openFds();
    await assert.rejects(createTorrent(path.join(d, 'f'), { version, pieceLength: 16384, signal: ac.signal, onProgress: () => ac.abort(new Error('stop')) }),
      (e: unknown) => isBtError(e, 'ABORTED'));
    assert.equal(openFds(), fds, 'no file left open');
  }
});

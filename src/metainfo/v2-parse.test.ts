// BEP 52 parsing: torrents made by libtorrent 2.0.8's create_torrent (test/fixtures/torrents, made by
// make_lt_torrents.py; expected values printed by libtorrent's own torrent_info), and hand-built v2 edge cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTorrent } from './metainfo.js';
import { layoutV2, parseFileTree, removeTailPadding, rootFromLayer } from './v2-parse.js';
import { encode } from '../bencode/encode.js';
import type { Encodable } from '../bencode/types.js';
import { isBtError } from '../util/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (n: string): Buffer => readFileSync(path.resolve(here, '../../../test/fixtures/torrents', n));
const TREE_FILES = [['content/a.bin', 40000], ['content/empty', 0], ['content/sub/b.bin', 16384], ['content/sub/c.txt', 5],
  ['content/sub/deep/d.bin', 70000], ['content/z.bin', 1]];
const TREE_PADS = [[40000, 9152], [65541, 16379], [151920, 11920], [163841, 16383]];
const data = (m: ReturnType<typeof parseTorrent>): (string | number)[][] => m.files.filter((f) => f.padding !== true).map((f) => [f.relPath, f.length]);
const pads = (m: ReturnType<typeof parseTorrent>): number[][] => m.files.filter((f) => f.padding === true).map((f) => [f.offset, f.length]);

test('libtorrent v2-only multi-file torrent: hashes, files, synthetic pads (tail pad too), piece layers', () => {
  const bytes = fixture('lt-v2-multi.torrent');
  const m = parseTorrent(bytes);
  assert.equal(m.version, 'v2');
  assert.equal(m.infoHashV2!.toString('hex'), '7c6bfb0dcf22428d6ec9b5c121a5143f9e779cb28b8425b7935f66384976ac8a');
  assert.equal(m.infoHashHex, '7c6bfb0dcf22428d6ec9b5c121a5143f9e779cb2');
  assert.equal(m.infoHashV1, undefined);
  assert.deepEqual(m.infoHashV2, createHash('sha256').update(m.infoBytes).digest());
  assert.equal(m.pieceHashes.length, 0);
  assert.deepEqual(data(m), TREE_FILES);
  assert.deepEqual(pads(m), TREE_PADS);
  assert.equal(m.totalLength, 180224);
  assert.equal(m.pieceCount, 11);
  assert.equal(m.name, 'content');
  assert.equal(m.multiFile, true);
  // every non-empty data file starts on a piece boundary and has a root; pads and empty files have none
  for (const f of m.files) {
    if (f.padding === true || f.length === 0) { assert.equal(f.piecesRoot, undefined); continue; }
    assert.equal(f.offset % m.pieceLength, 0, f.relPath);
    assert.equal(f.piecesRoot!.length, 32);
  }
  // layers only for files longer than one piece, each one leading to its root
  const big = m.files.filter((f) => f.padding !== true && f.length > m.pieceLength);
  assert.deepEqual([...m.pieceLayers.keys()].sort(), big.map((f) => f.piecesRoot!.toString('hex')).sort());
  for (const f of big) assert.deepEqual(rootFromLayer(m.pieceLayers.get(f.piecesRoot!.toString('hex'))!, m.pieceLength), f.piecesRoot);
  assert.deepEqual(m.softErrors, []);
});

test('libtorrent hybrid torrents: both hashes, the v1 pad files line up with the v2 layout', () => {
  const m = parseTorrent(fixture('lt-hybrid-multi.torrent'));
  assert.equal(m.version, 'hybrid');
  assert.equal(m.infoHashHex, '4c9b96a695d09e91040fdd7af52aee9cfcd7123b');
  assert.deepEqual(m.infoHashV1, m.infoHash);
  assert.equal(m.infoHashV2!.toString('hex'), 'f154d88927ae2c6a4a007cfec214b518585689a6a87690e8fc80b15ff11b7da6');
  assert.deepEqual(data(m), TREE_FILES);
  assert.deepEqual(pads(m), TREE_PADS);
  assert.equal(m.pieceHashes.length, 20 * m.pieceCount);

  const s = parseTorrent(fixture('lt-hybrid-single.torrent'));
  assert.equal(s.version, 'hybrid');
  assert.equal(s.infoHashHex, '91a5ab5e15e13dc3c9f64ce7b480912dace4e606');
  assert.deepEqual(data(s), [['single.bin', 50000]]);
  assert.deepEqual(pads(s), []); // the v2 tail pad is dropped: the v1 part has none
  assert.equal(s.totalLength, 50000);
  assert.equal(s.multiFile, false);

  const old = parseTorrent(fixture('lt-hybrid-no-tail-padding.torrent'));
  assert.deepEqual(pads(old), [[100000, 31072]]);
  assert.equal(old.totalLength, 164072);
});

test('libtorrent v2-only single file: path is [name], a tail pad fills the last piece', () => {
  const m = parseTorrent(fixture('lt-v2-single.torrent'));
  assert.equal(m.version, 'v2');
  assert.equal(m.infoHashV2!.toString('hex'), 'ea68c21300d55898422ffb9034a249a07cc2be86dc059a51800b1158e7ab7082');
  assert.deepEqual(m.files[0]!.path, ['single.bin']);
  assert.deepEqual(pads(m), [[50000, 15536]]);
  assert.equal(m.pieceCount, 4);
  assert.equal(m.multiFile, false);
});

test('libtorrent executable bit survives into the hybrid file list', () => {
  const m = parseTorrent(fixture('lt-hybrid-exec.torrent'));
  assert.equal(m.files.find((f) => f.relPath === 'content/bin/run.sh')!.executable, true);
  assert.equal(m.files.find((f) => f.relPath === 'content/data.bin')!.executable, undefined);
});

// --- hand-built v2 torrents ---

const ROOT = (n: number): Buffer => Buffer.alloc(32, n);
const leaf = (length: number, root?: Buffer, extra: Record<string, Encodable> = {}): Encodable =>
  ({ '': { length, ...(root === undefined ? {} : { 'pieces root': root }), ...extra } });

function v2(tree: Encodable, info: Record<string, Encodable | undefined> = {}, top: Record<string, Encodable> = {}): Buffer {
  return encode({ ...top, info: { name: 'n', 'piece length': 16384, 'meta version': 2, 'file tree': tree, ...info } });
}

function refused(bytes: Buffer, fragment: string): void {
  assert.throws(() => parseTorrent(bytes), (e: unknown) => isBtError(e, 'BAD_TORRENT') && e.message.includes(fragment),
    `expected BAD_TORRENT with ${JSON.stringify(fragment)}`);
}

test('v2 layout: empty files and symlinks take no pad; pads go after every misaligned file', () => {
  const tree = parseFileTree(new Map(Object.entries({
    a: leaf(1, ROOT(1)), e: leaf(0), l: { '': { attr: 'l', 'symlink path': ['a'] } }, z: leaf(16385, ROOT(2)),
  }).map(([k, v]) => [k, toMap(v)])), 'n', false);
  const files = layoutV2(tree.files, 16384, 'n');
  assert.deepEqual(files.map((f) => [f.relPath, f.offset, f.length, f.padding === true]), [
    ['n/a', 0, 1, false], ['n/.pad/16383', 1, 16383, true], ['n/e', 16384, 0, false], ['n/l', 16384, 0, false],
    ['n/z', 16384, 16385, false], ['n/.pad/16383', 32769, 16383, true],
  ]);
  assert.deepEqual(files[3]!.symlinkTarget, ['a']);
  assert.deepEqual(removeTailPadding(files).map((f) => f.relPath), ['n/a', 'n/.pad/16383', 'n/e', 'n/l', 'n/z']);
});

/** Plain objects to the decoder's Map shape (keys as latin1). */
function toMap(v: Encodable): import('../bencode/types.js').BValue {
  if (typeof v === 'number' || Buffer.isBuffer(v)) return v as Buffer | number;
  if (typeof v === 'string') return Buffer.from(v);
  if (Array.isArray(v)) return (v as Encodable[]).map(toMap);
  return new Map(Object.entries(v as Record<string, Encodable>).map(([k, x]) => [k, toMap(x)]));
}

test('v2 refusals, as libtorrent refuses', () => {
  refused(v2({ a: leaf(5) }), 'pieces root must be a 32-byte string');
  refused(v2({ a: leaf(5, Buffer.alloc(31, 1)) }), 'pieces root must be a 32-byte string');
  refused(v2({ a: leaf(5, Buffer.alloc(32)) }), 'pieces root is all zeros');
  refused(v2({ a: leaf(5, ROOT(1), { attr: 'p' }) }), 'pad file (attr "p") is not allowed');
  refused(v2({ a: leaf(-1, ROOT(1)) }), 'length must be a non-negative integer');
  refused(v2({ a: leaf(5, ROOT(1)) }, { 'piece length': 16384 * 3 }), 'not a power of two');
  refused(v2({ a: leaf(5, ROOT(1)) }, { 'piece length': 8192 }), 'not a power of two');
  refused(v2({ a: leaf(5, ROOT(1)) }, { 'meta version': 3 }), 'unknown meta version 3');
  refused(v2({ a: leaf(5, ROOT(1)) }, { 'file tree': undefined }), 'file tree is missing');
  refused(v2({ a: 5 }), 'must be a dictionary under a non-empty key');
  refused(v2({ a: { '': leaf(5, ROOT(1)), b: leaf(1, ROOT(2)) } }), 'non-empty key');
  refused(v2({}), 'the torrent has no files');
  refused(encode({ info: { name: 'n', 'piece length': 16384, pieces: Buffer.alloc(20), length: 5, 'file tree': { a: leaf(5, ROOT(1)) } } }),
    'file tree but no meta version 2');
  // meta version 2 requires canonical bencoding of the info dict (libtorrent has_soft_error)
  const canon = v2({ a: leaf(5, ROOT(1)) });
  const unsorted = Buffer.from(canon.toString('latin1').replace('4:name1:n12:piece lengthi16384e', '12:piece lengthi16384e4:name1:n'), 'latin1');
  refused(unsorted, 'not canonical bencoding');
});

test('v2 tree keys are sanitised like v1 path elements; the single-file form names the file by its key', () => {
  const m = parseTorrent(v2({ '..': { x: leaf(5, ROOT(1)) }, 'a/b': leaf(3, ROOT(2)) }));
  assert.deepEqual(data(m), [['n/x', 5], ['n/ab', 3]]);
  const s = parseTorrent(v2({ 'other.bin': leaf(5, ROOT(1)) }));
  assert.equal(s.name, 'other.bin');
  assert.deepEqual(s.files[0]!.path, ['other.bin']);
});

test('piece layers: wrong length or wrong root refuse the torrent, malformed entries too; unknown roots are ignored', () => {
  const pl = 16384;
  const layer = Buffer.concat([ROOT(7), ROOT(8)]);
  const root = rootFromLayer(layer, pl);
  const tree = { big: leaf(20000, root) };
  const lay = (m: Map<string, Encodable>): Buffer => v2(tree, {}, { 'piece layers': m });
  const key = root.toString('latin1');
  assert.equal(parseTorrent(lay(new Map([[key, layer]]))).pieceLayers.get(root.toString('hex'))!.equals(layer), true);
  assert.equal(parseTorrent(v2(tree)).pieceLayers.size, 0); // absent layers are fetched from peers later
  refused(lay(new Map([[key, ROOT(7)]])), 'has 32 bytes, not 64');
  refused(lay(new Map([[key, Buffer.concat([ROOT(8), ROOT(7)])]])), 'does not match its pieces root');
  refused(lay(new Map([[key.slice(1), layer]])), 'not a 32-byte root');
  refused(lay(new Map([[key, Buffer.alloc(33)]])), 'not a 32-byte root');
  const other = parseTorrent(lay(new Map([[ROOT(9).toString('latin1'), layer]])));
  assert.equal(other.pieceLayers.size, 0);
  assert.ok(other.softErrors.some((s) => s.includes('ignored')));
});

test('hybrid torrents whose parts disagree are refused', () => {
  const tree = { a: leaf(5, ROOT(1)), b: leaf(3, ROOT(2)) };
  const good = [{ length: 5, path: ['a'] }, { length: 16379, path: ['.pad', '16379'], attr: 'p' }, { length: 3, path: ['b'] }];
  const hybrid = (files: Encodable[], pieces = 2): Buffer => v2(tree, { files, pieces: Buffer.alloc(20 * pieces) });
  assert.equal(parseTorrent(hybrid(good)).version, 'hybrid');
  refused(hybrid([{ length: 5, path: ['a'] }, { length: 16379, path: ['.pad', '16379'], attr: 'p' }, { length: 4, path: ['b'] }]), 'disagree');
  refused(hybrid([{ length: 5, path: ['a'] }, { length: 16379, path: ['.pad', '16379'], attr: 'p' }, { length: 3, path: ['c'] }]), 'disagree');
  refused(hybrid([{ length: 5, path: ['a'] }, { length: 3, path: ['b'] }], 1), 'disagree');
  refused(hybrid(good, 3), 'info.pieces holds 3 hashes');
});

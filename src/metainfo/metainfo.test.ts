// parseTorrent: golden values (hashes computed independently with Python's hashlib), raw-bytes info-hash, soft errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInfo, parseTorrent, pieceHash, pieceSize, torrentFromInfo } from './metainfo.js';
import { encode } from '../bencode/encode.js';
import type { Encodable } from '../bencode/types.js';
import { isBtError } from '../util/errors.js';

const l1 = (s: string): Buffer => Buffer.from(s, 'latin1');
const PIECES = Buffer.from(Array.from({ length: 40 }, (_, i) => i));

const SINGLE_INFO = Buffer.concat([l1('d6:lengthi20000e4:name8:file.bin12:piece lengthi16384e6:pieces40:'), PIECES, l1('7:privatei1ee')]);
const SINGLE = Buffer.concat([
  l1('d8:announce30:http://127.0.0.1:6969/announce7:comment5:hello10:created by7:bitpeer13:creation datei1700000000e4:info'),
  SINGLE_INFO, l1('e'),
]);

const MULTI_INFO = Buffer.concat([
  l1('d5:filesld6:lengthi3e4:pathl1:a1:beed6:lengthi0e4:pathl5:emptyeed6:lengthi16390e4:pathl1:ceee4:name3:dir12:piece lengthi16384e6:pieces40:'),
  PIECES, l1('e'),
]);
const MULTI = Buffer.concat([l1('d4:info'), MULTI_INFO, l1('e')]);

function info(extra: Record<string, Encodable | undefined> = {}): Record<string, Encodable | undefined> {
  return { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), length: 10, ...extra };
}

test('golden single-file torrent', () => {
  const m = parseTorrent(SINGLE);
  assert.equal(m.infoHashHex, '1c5ab9d9af16500ad869a990665b00f5ed423039');
  assert.deepEqual(m.infoHash, Buffer.from('1c5ab9d9af16500ad869a990665b00f5ed423039', 'hex'));
  assert.deepEqual(m.infoBytes, SINGLE_INFO);
  assert.equal(m.name, 'file.bin');
  assert.equal(m.pieceLength, 16384);
  assert.equal(m.pieceCount, 2);
  assert.deepEqual(m.pieceHashes, PIECES);
  assert.deepEqual(m.files, [{ path: ['file.bin'], relPath: 'file.bin', length: 20000, offset: 0 }]);
  assert.equal(m.totalLength, 20000);
  assert.equal(m.multiFile, false);
  assert.equal(m.private, true);
  assert.equal(m.announce, 'http://127.0.0.1:6969/announce');
  assert.deepEqual(m.announceList, []);
  assert.equal(m.comment, 'hello');
  assert.equal(m.createdBy, 'bitpeer');
  assert.equal(m.creationDate, 1700000000);
  assert.deepEqual(m.softErrors, []);
  assert.equal(pieceSize(m, 0), 16384);
  assert.equal(pieceSize(m, 1), 20000 - 16384);
  assert.deepEqual(pieceHash(m, 1), PIECES.subarray(20, 40));
  assert.throws(() => pieceSize(m, 2), RangeError);
  assert.throws(() => pieceHash(m, -1), RangeError);
});

test('golden multi-file torrent: offsets, names first, empty files kept', () => {
  const m = parseTorrent(MULTI);
  assert.equal(m.infoHashHex, 'aa2765082a80fa3901249feab1579b4eb3157f17');
  assert.equal(m.multiFile, true);
  assert.equal(m.private, false);
  assert.equal(m.announce, undefined);
  assert.equal(m.comment, undefined);
  assert.deepEqual(m.files, [
    { path: ['dir', 'a', 'b'], relPath: 'dir/a/b', length: 3, offset: 0 },
    { path: ['dir', 'empty'], relPath: 'dir/empty', length: 0, offset: 3 },
    { path: ['dir', 'c'], relPath: 'dir/c', length: 16390, offset: 3 },
  ]);
  assert.equal(m.totalLength, 16393);
  assert.equal(pieceSize(m, 1), 9);
});

test('the info-hash is SHA-1 of the raw info bytes, not of a re-encoding (leading zeros, unsorted keys)', () => {
  const raw = Buffer.concat([l1('d4:infod6:lengthi03e4:name1:x12:piece lengthi16384e6:pieces20:'), Buffer.alloc(20), l1('ee')]);
  const m = parseTorrent(raw);
  assert.equal(m.infoHashHex, 'c83eccab61264e0892388c9f03138397d98d74dc'); // re-encoded would be fd7a8767…
  assert.equal(m.totalLength, 3);
  assert.ok(m.softErrors.some((s) => s.includes('leading zero in integer')));

  const unsorted = Buffer.concat([l1('d4:infod4:name1:x6:lengthi3e12:piece lengthi16384e6:pieces20:'), Buffer.alloc(20), l1('ee')]);
  const u = parseTorrent(unsorted);
  assert.ok(u.softErrors.some((s) => s.includes('unsorted dictionary key "length"')));
  assert.deepEqual(u.infoBytes, unsorted.subarray(7, unsorted.length - 1));
});

test('duplicate keys: the first value wins, with a soft error', () => {
  const dup = Buffer.concat([l1('d4:infod6:lengthi3e6:lengthi999999e4:name1:x12:piece lengthi16384e6:pieces20:'), Buffer.alloc(20), l1('ee')]);
  const m = parseTorrent(dup);
  assert.equal(m.totalLength, 3);
  assert.ok(m.softErrors.some((s) => s.includes('duplicate dictionary key "length"')));
});

test('the result does not alias the caller buffer', () => {
  const buf = Buffer.from(SINGLE);
  const m = parseTorrent(buf);
  buf.fill(0);
  assert.deepEqual(m.pieceHashes, PIECES);
  assert.equal(m.infoHashHex, '1c5ab9d9af16500ad869a990665b00f5ed423039');
});

test('maxSize', () => {
  assert.throws(() => parseTorrent(SINGLE, { maxSize: 100 }), /file is too large \(\d+ bytes; the limit is 100\)/);
  assert.doesNotThrow(() => parseTorrent(SINGLE, { maxSize: SINGLE.length }));
});

test('name.utf-8 and path.utf-8 are preferred; a path.utf-8 with a non-string element refuses the torrent (libtorrent)', () => {
  const m = parseTorrent(encode({
    info: {
      name: 'n', 'name.utf-8': 'naïve', 'piece length': 16384, pieces: Buffer.alloc(20),
      files: [{ length: 1, path: ['a'], 'path.utf-8': ['é'] }, { length: 1, path: ['b'], 'path.utf-8': 'not a list' }],
    },
  }));
  assert.equal(m.name, 'naïve');
  assert.deepEqual(m.files.map((f) => f.relPath), ['naïve/é', 'naïve/b']);
  assert.throws(() => parseTorrent(encode({
    info: { name: 'n', 'piece length': 16384, pieces: Buffer.alloc(20), files: [{ length: 1, path: ['b'], 'path.utf-8': [5] as Encodable }] },
  })), /info.files\[0\].path.utf-8\[0\] must be a string/);
});

test('non-UTF-8 names: invalid sequences become "_" (libtorrent), with a soft error', () => {
  const m = parseTorrent(encode({ info: info({ name: Buffer.from([0x61, 0xff, 0x62]) }) }));
  assert.equal(m.name, 'a_b');
  assert.ok(m.softErrors.some((s) => s.includes('info.name is not valid UTF-8')));
});

test('control characters below U+0020 become "_"; DEL, drive letters and odd names are kept (libtorrent on POSIX)', () => {
  const m = parseTorrent(encode({
    info: { name: 'd', 'piece length': 16384, pieces: Buffer.alloc(20), files: [{ length: 1, path: ['a\tb\u007f'] }, { length: 1, path: ['C:x'] }] },
  }));
  assert.deepEqual(m.files.map((f) => f.path[1]), ['a_b\u007f', 'C:x']);
  const ok = parseTorrent(encode({ info: info({ name: '.hidden: part 2 ..txt' }) }));
  assert.equal(ok.name, '.hidden: part 2 ..txt');
});

test('BEP 47 pad files: marked, and allowed to share a path', () => {
  const m = parseTorrent(encode({
    info: {
      name: 'd', 'piece length': 16384, pieces: Buffer.alloc(60),
      files: [
        { length: 1, path: ['a'] }, { length: 16383, path: ['.pad', '16383'], attr: 'p' },
        { length: 1, path: ['b'] }, { length: 16383, path: ['.pad', '16383'], attr: 'p' },
        { length: 1, path: ['c'] },
      ],
    },
  }));
  assert.deepEqual(m.files.map((f) => f.padding === true), [false, true, false, true, false]);
  assert.deepEqual(m.files.map((f) => f.offset), [0, 1, 16384, 16385, 32768]);
  assert.equal(m.pieceCount, 3);
});

test('private flag', () => {
  assert.equal(parseTorrent(encode({ info: info({ private: 1 }) })).private, true);
  assert.equal(parseTorrent(encode({ info: info({ private: 0 }) })).private, false);
  const m = parseTorrent(encode({ info: info({ private: 2 }) }));
  assert.equal(m.private, true); // libtorrent: any non-zero integer
  assert.ok(m.softErrors.some((s) => s.includes('info.private')));
});

test('announce-list: tiers kept, duplicates and junk dropped', () => {
  const m = parseTorrent(encode({
    announce: 'udp://a:1',
    'announce-list': [['udp://a:1', 'http://b/announce'], [], ['http://b/announce'], 'http://c/announce', [5, ' http://d/announce ']] as Encodable,
    info: info(),
  }));
  assert.equal(m.announce, 'udp://a:1');
  assert.deepEqual(m.announceList, [['udp://a:1', 'http://b/announce'], ['http://c/announce'], ['http://d/announce']]);
  assert.ok(m.softErrors.some((s) => s.includes('announce-list[3] is a string')));
  assert.ok(m.softErrors.some((s) => s.includes('announce-list[4][0] is an integer')));
  const n = parseTorrent(encode({ 'announce-list': 'x', announce: 5, info: info() }));
  assert.equal(n.announce, undefined);
  assert.deepEqual(n.announceList, []);
});

test('a top-level __proto__ key is ordinary data', () => {
  const m = parseTorrent(encode(new Map<string, Encodable>([['__proto__', new Map([['polluted', 1]])], ['info', info()]])));
  assert.equal(m.name, 'x');
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('bencode errors become BAD_TORRENT with the offset', () => {
  assert.throws(() => parseTorrent(l1('d4:infoi-0ee')), (e: unknown) =>
    isBtError(e, 'BAD_TORRENT') && e.message === 'invalid torrent: bencode: negative zero integer at offset 7');
});

test('largest legal piece length and piece count are accepted', () => {
  const pl = 32767 * 16384;
  assert.equal(parseTorrent(encode({ info: info({ 'piece length': pl, length: pl * 2, pieces: Buffer.alloc(40) }) })).pieceCount, 2);
  assert.throws(() => parseTorrent(encode({ info: info({ 'piece length': pl + 1 }) })), /exceeds the limit/);
  const many = 2 ** 21;
  assert.equal(parseTorrent(encode({ info: info({ 'piece length': 16384, length: many * 16384, pieces: Buffer.alloc(20 * many) }) }),
    { maxSize: 50 * 1024 * 1024 }).pieceCount, many);
  assert.throws(() => parseTorrent(encode({ info: info({ 'piece length': 16384, length: (many + 1) * 16384, pieces: Buffer.alloc(20 * (many + 1)) }) }),
    { maxSize: 50 * 1024 * 1024 }), /the limit is 2097152/);
});

test('parseInfo and torrentFromInfo keep the raw info bytes (ut_metadata path)', () => {
  const m = parseInfo(SINGLE_INFO);
  assert.equal(m.infoHashHex, '1c5ab9d9af16500ad869a990665b00f5ed423039');
  assert.equal(m.announce, undefined);
  const t = torrentFromInfo(SINGLE_INFO, ['http://a/announce', '', 'udp://b:1']);
  const back = parseTorrent(t);
  assert.equal(back.infoHashHex, m.infoHashHex);
  assert.equal(back.announce, 'http://a/announce');
  assert.deepEqual(back.announceList, [['http://a/announce'], ['udp://b:1']]);
  assert.deepEqual(back.softErrors, []);
  assert.deepEqual(torrentFromInfo(SINGLE_INFO, ['http://a/announce']).indexOf('announce-list'), -1);
  assert.throws(() => parseInfo(l1('le')), /info must be a dictionary/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeResume, encodeResume, maxResumeSize, MAX_RESUME_PEERS, parsePeerAddress, formatPeerAddress,
  type ResumeData, type ResumeExpectation, type FilePriority } from './resume-codec.js';
import { decode, encode, type BDict, type BValue } from '../bencode/index.js';
import { Bitfield } from '../util/bitfield.js';
import { isBtError } from '../util/errors.js';

const HASH = Buffer.alloc(20, 0xab);
const EXPECT: ResumeExpectation = { infoHash: HASH, pieceCount: 13, fileCount: 3 };

function sample(): ResumeData {
  const pieces = new Bitfield(13);
  for (const i of [0, 1, 5, 12]) pieces.set(i);
  return {
    version: 1, infoHash: Buffer.from(HASH), savePath: '/home/u/Téléchargements', paused: true, queuePosition: 2,
    addedAt: 1_700_000_000_000, completedAt: 1_700_000_100_000, uploaded: 12345, downloaded: 2 ** 40,
    pieces, files: [{ size: 1000, mtimeMs: 1_700_000_000_123.457 }, null, { size: 0, mtimeMs: 1_600_000_000_000 }],
    wanted: [true, false, true], priorities: [1, 0, -1],
    peers: ['10.0.0.1:6881', '[2001:db8::1]:51413', '127.0.0.1:1'], uploadLimit: 0, downloadLimit: 100_000,
    error: 'disk full', id: 7,
  };
}

function isBadResume(e: unknown): boolean {
  return isBtError(e, 'BAD_RESUME');
}

test('round trip keeps every field', () => {
  const r = sample();
  const back = decodeResume(encodeResume(r), EXPECT);
  assert.deepEqual(back, r);
  const minimal: ResumeData = { ...r, completedAt: undefined, error: undefined, id: undefined };
  delete minimal.completedAt;
  delete minimal.error;
  delete minimal.id;
  const back2 = decodeResume(encodeResume(minimal), EXPECT);
  assert.equal('completedAt' in back2, false);
  assert.equal('error' in back2, false);
  assert.equal('id' in back2, false, 'a file without an id (written before ids were kept) still reads');
  assert.deepEqual(back2, minimal);
});

test('golden bytes of a tiny resume file', () => {
  const r: ResumeData = {
    version: 1, infoHash: Buffer.alloc(20, 0x41), savePath: '/d', paused: false, queuePosition: 0, addedAt: 5,
    uploaded: 1, downloaded: 2, pieces: new Bitfield(3, Uint8Array.from([0xa0])), files: [{ size: 7, mtimeMs: 1.5 }],
    wanted: [true], priorities: [0], peers: ['1.2.3.4:258'], uploadLimit: 0, downloadLimit: 0,
  };
  const expected = 'd8:added_ati5e14:download_limiti0e10:downloadedi2e5:filesld5:mtime3:1.54:sizei7eee' +
    `9:info_hash20:${'A'.repeat(20)}6:pausedi0e5:peersl6:\x01\x02\x03\x04\x01\x02e6:pieces1:\xa0` +
    '10:prioritiesli0ee14:queue_positioni0e9:save_path2:/d12:upload_limiti0e8:uploadedi1e7:versioni1e' +
    '6:wantedli1eee';
  assert.equal(encodeResume(r).toString('latin1'), expected);
  assert.deepEqual(decodeResume(Buffer.from(expected, 'latin1'), { infoHash: r.infoHash, pieceCount: 3, fileCount: 1 }), r);
});

test('peers: invalid entries dropped, duplicates removed, at most 200 kept, IPv6 in brackets', () => {
  const r = sample();
  const many = Array.from({ length: 300 }, (_, i) => `10.1.${i >> 8}.${i & 255}:6881`);
  r.peers = ['not-an-ip:1', 'example.com:80', '10.0.0.1:0', '10.0.0.1:65536', '::1:80', '10.0.0.1:6881', '10.0.0.1:6881',
    '[::ffff:10.0.0.2]:7', ...many];
  const back = decodeResume(encodeResume(r), EXPECT);
  assert.equal(back.peers.length, MAX_RESUME_PEERS);
  assert.deepEqual(back.peers.slice(0, 3), ['10.0.0.1:6881', '10.0.0.2:7', '10.1.0.0:6881']);
  assert.deepEqual(parsePeerAddress('[::1]:80'), { ip: Buffer.from([...new Array<number>(15).fill(0), 1]), port: 80 });
  assert.equal(formatPeerAddress(Buffer.from([...new Array<number>(15).fill(0), 1]), 80), '[::1]:80');
});

test('a file stamp that cannot be written exactly is stored as missing (safe: the file then counts as changed)', () => {
  const r = sample();
  r.files = [{ size: 1, mtimeMs: 1e-7 }, { size: -1, mtimeMs: 1 }, { size: 5, mtimeMs: Number.NaN }];
  assert.deepEqual(decodeResume(encodeResume(r), EXPECT).files, [null, null, null]);
});

test('the torrent id is stored as `id` and read back', () => {
  const r = { ...sample(), id: 2 ** 31 - 1 };
  const bytes = encodeResume(r);
  assert.ok(bytes.toString('latin1').includes('2:idi2147483647e'));
  assert.equal(decodeResume(bytes, EXPECT).id, 2 ** 31 - 1);
  assert.throws(() => encodeResume({ ...sample(), id: 0 }), RangeError);
});

test('encode refuses inconsistent data (programming errors)', () => {
  const bad: Array<(r: ResumeData) => void> = [
    (r) => { r.infoHash = Buffer.alloc(19); },
    (r) => { r.wanted = [true]; },
    (r) => { r.priorities = [0, 0, 2 as FilePriority]; },
    (r) => { r.savePath = ''; },
    (r) => { r.savePath = 'a\0b'; },
    (r) => { r.uploaded = -1; },
    (r) => { r.addedAt = 1.5; },
    (r) => { r.completedAt = -5; },
  ];
  for (const f of bad) {
    const r = sample();
    f(r);
    assert.throws(() => encodeResume(r), RangeError);
  }
});

test('property: decode(encode(r)) equals r', () => {
  const pieceCount = 37;
  const fileCount = 4;
  const arbStamp = fc.option(fc.record({
    size: fc.maxSafeNat(),
    mtimeMs: fc.integer({ min: 0, max: 4_000_000_000_000_000 }).map((us) => us / 1000),
  }).map((s) => ({ size: s.size, mtimeMs: s.mtimeMs })), { nil: null });
  const arb = fc.record({
    bits: fc.array(fc.boolean(), { minLength: pieceCount, maxLength: pieceCount }),
    files: fc.array(arbStamp, { minLength: fileCount, maxLength: fileCount }),
    wanted: fc.array(fc.boolean(), { minLength: fileCount, maxLength: fileCount }),
    priorities: fc.array(fc.constantFrom<FilePriority>(-1, 0, 1), { minLength: fileCount, maxLength: fileCount }),
    peers: fc.array(fc.oneof(
      fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
      fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `[${h}]:${p}`),
    ), { maxLength: 20 }),
    savePath: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0')),
    paused: fc.boolean(),
    nums: fc.array(fc.maxSafeNat(), { minLength: 7, maxLength: 7 }),
    completed: fc.option(fc.maxSafeNat(), { nil: undefined }),
    error: fc.option(fc.string({ maxLength: 30 }).filter((s) => !s.includes('\0')), { nil: undefined }),
  });
  fc.assert(fc.property(arb, (a) => {
    const pieces = new Bitfield(pieceCount);
    a.bits.forEach((b, i) => { if (b) pieces.set(i); });
    const r: ResumeData = {
      version: 1, infoHash: HASH, savePath: a.savePath, paused: a.paused, queuePosition: a.nums[0]!, addedAt: a.nums[1]!,
      uploaded: a.nums[2]!, downloaded: a.nums[3]!, pieces, files: a.files, wanted: a.wanted, priorities: a.priorities,
      peers: a.peers, uploadLimit: a.nums[4]!, downloadLimit: a.nums[5]!,
    };
    if (a.completed !== undefined) r.completedAt = a.completed;
    if (a.error !== undefined) r.error = a.error;
    const back = decodeResume(encodeResume(r), { infoHash: HASH, pieceCount, fileCount });
    // Peers come back in canonical text form (IPv6 compressed, v4-mapped as IPv4) and de-duplicated.
    const canonical = [...new Set(r.peers.map((p) => {
      const x = parsePeerAddress(p)!;
      return formatPeerAddress(x.ip, x.port);
    }))];
    assert.deepEqual(back, { ...r, peers: canonical });
  }), { numRuns: 150 });
});

// ---- corruption: every case must be a BtError('BAD_RESUME') ----

/** The sample re-encoded after `f` changed its decoded dictionary. */
function mutated(f: (d: BDict) => void): Buffer {
  const d = decode(encodeResume(sample())).value as BDict;
  f(d);
  return encode(d);
}

test('truncated at every length, and with trailing bytes: rejected', () => {
  const good = encodeResume(sample());
  for (let len = 0; len < good.length; len++) {
    assert.throws(() => decodeResume(good.subarray(0, len), EXPECT), isBadResume, `prefix ${len}`);
  }
  assert.throws(() => decodeResume(Buffer.concat([good, Buffer.from('x')]), EXPECT), isBadResume);
  assert.throws(() => decodeResume(Buffer.concat([good, good]), EXPECT), isBadResume);
});

test('garbage: random bytes and random byte flips are rejected with BAD_RESUME only, never another error', () => {
  const good = encodeResume(sample());
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    try {
      decodeResume(bytes, EXPECT);
    } catch (e) {
      assert.ok(isBadResume(e), String(e));
    }
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
    const b = Buffer.from(good);
    b[at] = b[at]! ^ x;
    try {
      const r = decodeResume(b, EXPECT);
      // A flip inside a value may still decode (e.g. a digit of a counter); it must then still be valid data.
      assert.equal(r.files.length, 3);
      assert.equal(r.pieces.length, 13);
    } catch (e) {
      assert.ok(isBadResume(e), String(e));
    }
  }), { numRuns: 300 });
});

test('wrong info-hash, wrong lengths, spare bits: rejected', () => {
  const good = encodeResume(sample());
  const cases: Array<[string, () => unknown]> = [
    ['other torrent', () => decodeResume(good, { ...EXPECT, infoHash: Buffer.alloc(20, 1) })],
    ['more pieces expected', () => decodeResume(good, { ...EXPECT, pieceCount: 17 })],
    ['fewer pieces expected', () => decodeResume(good, { ...EXPECT, pieceCount: 8 })],
    ['same bytes, spare bit set', () => decodeResume(good, { ...EXPECT, pieceCount: 12 })],
    ['more files expected', () => decodeResume(good, { ...EXPECT, fileCount: 4 })],
    ['fewer files expected', () => decodeResume(good, { ...EXPECT, fileCount: 2 })],
    ['spare bits', () => decodeResume(mutated((d) => { d.set('pieces', Buffer.from([0xc4, 0x09])); }), EXPECT)],
    ['short info_hash', () => decodeResume(mutated((d) => { d.set('info_hash', Buffer.alloc(19, 0xab)); }), EXPECT)],
    ['wanted too short', () => decodeResume(mutated((d) => { d.set('wanted', [1, 1]); }), EXPECT)],
    ['priorities too long', () => decodeResume(mutated((d) => { d.set('priorities', [0, 0, 0, 0]); }), EXPECT)],
  ];
  for (const [name, f] of cases) assert.throws(f, isBadResume, name);
});

test('bad types, ranges and keys: rejected', () => {
  const set = (k: string, v: BValue) => (d: BDict) => { d.set(k, v); };
  const del = (k: string) => (d: BDict) => { d.delete(k); };
  const fileAt = (v: BValue) => (d: BDict) => { (d.get('files') as BValue[])[0] = v; };
  const cases: Array<[string, (d: BDict) => void]> = [
    ['version 2', set('version', 2)],
    ['no version', del('version')],
    ['no pieces', del('pieces')],
    ['pieces as int', set('pieces', 5)],
    ['paused 2', set('paused', 2)],
    ['paused as string', set('paused', Buffer.from('1'))],
    ['negative uploaded', set('uploaded', -1)],
    ['negative queue position', set('queue_position', -3)],
    ['added_at as list', set('added_at', [])],
    ['upload_limit missing', del('upload_limit')],
    ['empty save_path', set('save_path', Buffer.alloc(0))],
    ['save_path with NUL', set('save_path', Buffer.from('a\0b'))],
    ['save_path not UTF-8', set('save_path', Buffer.from([0x2f, 0xff, 0xfe]))],
    ['save_path too long', set('save_path', Buffer.alloc(5000, 0x61))],
    ['error not a string', set('error', 3)],
    ['files not a list', set('files', new Map())],
    ['file entry a list', fileAt([])],
    ['file entry unknown key', fileAt(new Map<string, BValue>([['mtime', Buffer.from('1')], ['size', 1], ['x', 1]]))],
    ['file size negative', fileAt(new Map<string, BValue>([['mtime', Buffer.from('1')], ['size', -1]]))],
    ['file mtime not decimal', fileAt(new Map<string, BValue>([['mtime', Buffer.from('1e5')], ['size', 1]]))],
    ['file mtime int', fileAt(new Map<string, BValue>([['mtime', 5], ['size', 1]]))],
    ['file without size', fileAt(new Map<string, BValue>([['mtime', Buffer.from('1')]]))],
    ['wanted 2', set('wanted', [1, 2, 0])],
    ['priority 2', set('priorities', [0, 2, 0])],
    ['peer of 5 bytes', set('peers', [Buffer.alloc(5, 1)])],
    ['peer port 0', set('peers', [Buffer.from([1, 2, 3, 4, 0, 0])])],
    ['too many peers', set('peers', Array.from({ length: 201 }, () => Buffer.from([1, 2, 3, 4, 0, 1])))],
    ['unknown key', set('zzz', 1)],
    ['id 0', set('id', 0)],
    ['id negative', set('id', -2)],
    ['id beyond 2^31-1', set('id', 2 ** 31)],
    ['id as string', set('id', Buffer.from('3'))],
    ['root is a list', (d) => { d.clear(); }],
  ];
  for (const [name, f] of cases) {
    assert.throws(() => decodeResume(mutated(f), EXPECT), isBadResume, name);
  }
  assert.throws(() => decodeResume(encode([1, 2]), EXPECT), isBadResume);
});

test('non-canonical bencode and resource limits: rejected', () => {
  const good = encodeResume(sample()).toString('latin1');
  // Leading zero in an integer.
  assert.throws(() => decodeResume(Buffer.from(good.replace('i12345e', 'i012345e'), 'latin1'), EXPECT), isBadResume);
  // Unsorted keys: move "version" to the front.
  const unsorted = `d7:versioni1e${good.slice(1).replace('7:versioni1e', '')}`;
  assert.throws(() => decodeResume(Buffer.from(unsorted, 'latin1'), EXPECT), isBadResume);
  // Too deep.
  const deep = encode(new Map<string, BValue>([['files', [[[[[[[[[]]]]]]]]]]]));
  assert.throws(() => decodeResume(deep, EXPECT), (e: unknown) => isBadResume(e) && /nesting|depth/i.test((e as Error).message));
  // Over the size cap, refused before decoding.
  const huge = Buffer.alloc(maxResumeSize(13, 3) + 1, 0x65);
  assert.throws(() => decodeResume(huge, EXPECT), (e: unknown) => isBadResume(e) && /limit/.test((e as Error).message));
  // Too many tokens (a long list inside the file).
  const tokens = encode(new Map<string, BValue>([['peers', new Array<number>(3000).fill(1)]]));
  assert.throws(() => decodeResume(tokens, EXPECT), isBadResume);
});

test('BEP 52 piece layers: kept across a round trip; bounded (one per file, whole hashes, ≤ one hash per piece)', () => {
  const layers = new Map([['11'.repeat(32), Buffer.alloc(32 * 5, 1)], ['22'.repeat(32), Buffer.alloc(32 * 8, 2)]]);
  const r = { ...sample(), pieceLayers: layers };
  assert.deepEqual(decodeResume(encodeResume(r), EXPECT).pieceLayers, layers);
  assert.equal('pieceLayers' in decodeResume(encodeResume({ ...sample(), pieceLayers: new Map() }), EXPECT), false, 'none written when empty');
  const withLayers = (list: BValue): Buffer => mutated((d) => { d.set('piece_layers', list); });
  const root = Buffer.alloc(32, 3);
  assert.ok(decodeResume(withLayers([[root, Buffer.alloc(32 * 13)]]), EXPECT).pieceLayers?.size === 1);
  for (const [list, why] of [
    [[[root, Buffer.alloc(32 * 14)]], /more hashes than the torrent's 13 pieces/],
    [[[root, Buffer.alloc(32 * 7)], [Buffer.alloc(32, 4), Buffer.alloc(32 * 7)]], /more hashes/],
    [[[root, Buffer.alloc(33)]], /not whole hashes/],
    [[[root, Buffer.alloc(0)]], /not whole hashes/],
    [[[Buffer.alloc(31), Buffer.alloc(32)]], /root of 31 bytes/],
    [[[root, Buffer.alloc(32)], [root, Buffer.alloc(32)]], /duplicate root/],
    [[[root]], /not \[root, layer\]/],
    [[[root, Buffer.alloc(32)], [Buffer.alloc(32, 5), Buffer.alloc(32)], [Buffer.alloc(32, 6), Buffer.alloc(32)], [Buffer.alloc(32, 7), Buffer.alloc(32)]], /4 entries for 3 files/],
  ] as Array<[BValue, RegExp]>) {
    assert.throws(() => decodeResume(withLayers(list), EXPECT), (e: unknown) => isBadResume(e) && why.test((e as Error).message), String(why));
  }
});

test('sequential download is stored as `sequential` (only when on) and read back; other values are refused', () => {
  const on = encodeResume({ ...sample(), sequential: true });
  assert.ok(on.toString('latin1').includes('10:sequentiali1e'));
  assert.equal(decodeResume(on, EXPECT).sequential, true);
  const off = encodeResume({ ...sample(), sequential: false });
  assert.ok(!off.toString('latin1').includes('sequential'));
  assert.equal(decodeResume(off, EXPECT).sequential, undefined);
  const root = decode(on).value as BDict;
  root.set('sequential', 2);
  assert.throws(() => decodeResume(encode(root), EXPECT), isBadResume);
});

// The web UI's pure core: list merging (full and recently-active), states, percent, sorting, filtering, search,
// the virtual list's window, the files tree, the pieces bitfield, formatting, and the in-browser .torrent reader.
// Bundled for Node by scripts/build-webui.js into dist/test/unit/webui/ (the unit tier runs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparator, mergeTorrents, percentOf, SORT_KEYS, stateOf, toListTorrent, visibleRange, visibleTorrents, type ListTorrent } from './model.js';
import { buildTree, decodePieces, filesUnder, isMedia, treeRows, type FileItem } from './tree.js';
import { formatBytes, formatEta, formatRatio, parseKBps } from './format.js';
import { bdecode, readTorrentFiles, TorrentParseError } from './torrent-file.js';

function t(id: number, o: Partial<ListTorrent> = {}): ListTorrent {
  return toListTorrent({ id, hashString: id.toString(16).padStart(40, '0'), name: `t${id}`, status: 4, percentDone: 0.5, ...o })!;
}

test('stateOf maps Transmission status and local errors; percentOf has one decimal and shows a check', () => {
  assert.equal(stateOf({ status: 0, error: 0 }), 'paused');
  assert.equal(stateOf({ status: 0, error: 3 }), 'error');
  assert.equal(stateOf({ status: 4, error: 3 }), 'error');
  assert.equal(stateOf({ status: 4, error: 2 }), 'downloading', 'a tracker error is not a torrent error');
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((status) => stateOf({ status, error: 0 })), ['checking', 'checking', 'queued', 'downloading', 'queued', 'seeding']);
  assert.equal(percentOf({ percentDone: 0.12345, status: 4, recheckProgress: 0 }), 12.3);
  assert.equal(percentOf({ percentDone: 1, status: 6, recheckProgress: 0 }), 100);
  assert.equal(percentOf({ percentDone: 0.2, status: 2, recheckProgress: 0.75 }), 75);
  assert.equal(percentOf({ percentDone: Number.NaN, status: 4, recheckProgress: 0 }), 0);
});

test('mergeTorrents: a full reply replaces the list; recently-active updates, keeps the rest, drops removed ids', () => {
  const a = mergeTorrents(new Map(), { torrents: [{ id: 1, name: 'one', status: 4 }, { id: 2, name: 'two', status: 0 }, { nope: 1 }, 'x'] }, true);
  assert.deepEqual([...a.keys()], [1, 2]);
  const b = mergeTorrents(a, { torrents: [{ id: 2, rateDownload: 500 }, { id: 3, name: 'three' }], removed: [1] }, false);
  assert.deepEqual([...b.keys()].sort(), [2, 3]);
  assert.equal(b.get(2)!.name, 'two', 'fields not in the reply keep their last value');
  assert.equal(b.get(2)!.rateDownload, 500);
  const c = mergeTorrents(b, { torrents: [{ id: 3, name: 'three' }] }, true);
  assert.deepEqual([...c.keys()], [3], 'a full reply without 2 means 2 is gone');
  assert.equal(a.size, 2, 'the input map is not changed');
});

test('sorting: every key is total (ties by id) and has its natural direction; reverse flips it', () => {
  const list = [t(1, { name: 'b', rateDownload: 5, eta: -1, addedDate: 10 }), t(2, { name: 'a', rateDownload: 9, eta: 30, addedDate: 30 }),
    t(3, { name: 'c', rateDownload: 9, eta: 10, addedDate: 20 }), t(4, { name: 'A 10', status: 0 }), t(5, { name: 'A 9', status: 0 })];
  const ids = (sort: (typeof SORT_KEYS)[number], reverse = false): number[] =>
    visibleTorrents(list, { filter: 'all', search: '', sort, reverse }).map((x) => x.id);
  assert.deepEqual(ids('name'), [2, 5, 4, 1, 3], 'case-insensitive, numeric-aware');
  assert.deepEqual(ids('down'), [2, 3, 1, 4, 5], 'fastest first, ties by id');
  assert.deepEqual(ids('eta'), [3, 2, 1, 4, 5], 'soonest first, unknown last');
  assert.deepEqual(ids('added'), [2, 3, 1, 4, 5], 'newest first');
  assert.deepEqual(ids('state'), [1, 2, 3, 4, 5]);
  assert.deepEqual(ids('name', true), [3, 1, 4, 5, 2]);
  for (const k of SORT_KEYS) {
    const cmp = comparator(k);
    for (const x of list) for (const y of list) if (x !== y) assert.notEqual(cmp(x, y), 0, `${k} is total`);
  }
});

test('filter and search (case-insensitive substring of the name)', () => {
  const list = [t(1, { name: 'Ubuntu ISO', status: 4 }), t(2, { name: 'debian', status: 6, percentDone: 1 }), t(3, { name: 'arch', status: 0 }),
    t(4, { name: 'broken', status: 0, error: 3 }), t(5, { name: 'waiting', status: 3, percentDone: 0.1 }), t(6, { name: 'seedq', status: 5, percentDone: 1 })];
  const ids = (filter: 'all' | 'downloading' | 'seeding' | 'paused' | 'error', search = ''): number[] =>
    visibleTorrents(list, { filter, search, sort: 'name', reverse: false }).map((x) => x.id).sort();
  assert.deepEqual(ids('all'), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(ids('downloading'), [1, 5]);
  assert.deepEqual(ids('seeding'), [2, 6]);
  assert.deepEqual(ids('paused'), [3]);
  assert.deepEqual(ids('error'), [4]);
  assert.deepEqual(ids('all', 'UBU'), [1]);
  assert.deepEqual(ids('all', '  an '), [2]);
  assert.deepEqual(ids('seeding', 'ubuntu'), []);
});

test('visibleRange covers the viewport plus overscan, clamped to the list', () => {
  assert.deepEqual(visibleRange(0, 440, 44, 1000, 5), { first: 0, last: 15 });
  assert.deepEqual(visibleRange(4400, 440, 44, 1000, 5), { first: 95, last: 115 });
  assert.deepEqual(visibleRange(44_000, 440, 44, 1000, 5), { first: 995, last: 1000 });
  assert.deepEqual(visibleRange(0, 440, 44, 0), { first: 0, last: 0 });
  assert.deepEqual(visibleRange(-50, 440, 44, 3, 0), { first: 0, last: 3 });
});

test('files tree: folders in order, every file once, collapse hides what is below', () => {
  const f = (index: number, path: string): FileItem => ({ index, path, length: 1, bytesCompleted: 0, wanted: true, priority: 0 });
  const root = buildTree([f(0, 'album/cd1/01.flac'), f(1, 'album/cd1/02.flac'), f(2, 'album/cover.jpg'), f(3, 'album/cd2/01.flac')]);
  const rows = treeRows(root, new Set());
  assert.deepEqual(rows.map((r) => (r.kind === 'folder' ? `D${r.depth}:${r.folder.path}` : `F${r.depth}:${r.file.index}`)),
    ['D0:album', 'D1:album/cd1', 'F2:0', 'F2:1', 'D1:album/cd2', 'F2:3', 'F1:2']);
  assert.deepEqual(filesUnder(root.folders[0]!).sort(), [0, 1, 2, 3]);
  const collapsed = treeRows(root, new Set(['album/cd1']));
  assert.deepEqual(collapsed.map((r) => (r.kind === 'file' ? r.file.index : r.folder.path)), ['album', 'album/cd1', 'album/cd2', 3, 2]);
  assert.equal(isMedia('a/b/Film.MKV'), true);
  assert.equal(isMedia('a/song.flac'), true);
  assert.equal(isMedia('a/readme.txt'), false);
});

test('decodePieces reads the base64 bitfield high bit first', () => {
  assert.deepEqual([...decodePieces(Buffer.from([0b10100000, 0b10000000]).toString('base64'), 9)], [1, 0, 1, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...decodePieces('', 3)], [0, 0, 0]);
  assert.deepEqual([...decodePieces('!!!', 2)], [0, 0], 'garbage is "nothing"');
});

test('formatting', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1234567), '1.23 MB');
  assert.equal(formatEta(-1), '–');
  assert.equal(formatEta(-2), '?');
  assert.equal(formatEta(3725), '1h 2m');
  assert.equal(formatRatio(-2), '∞');
  assert.equal(formatRatio(1.234), '1.23');
  assert.equal(parseKBps(''), 'unlimited');
  assert.equal(parseKBps('0'), 'unlimited');
  assert.equal(parseKBps('250'), 250);
  assert.equal(parseKBps('1.5'), undefined);
  assert.equal(parseKBps('-3'), undefined);
});

/** A minimal bencoder for the fixtures. */
function benc(v: unknown): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${v}e`);
  if (typeof v === 'string') return Buffer.concat([Buffer.from(`${Buffer.byteLength(v)}:`), Buffer.from(v)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v]);
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(benc), Buffer.from('e')]);
  const o = v as Record<string, unknown>;
  return Buffer.concat([Buffer.from('d'), ...Object.keys(o).sort().flatMap((k) => [benc(k), benc(o[k])]), Buffer.from('e')]);
}

test('readTorrentFiles: v1 multi-file (pads skipped, RPC indices), single file, v2 file tree', () => {
  const multi = benc({ announce: 'http://t/a', info: { name: 'Album', 'piece length': 16384, pieces: Buffer.alloc(20),
    files: [{ length: 10, path: ['cd1', '01 – intro.flac'] }, { length: 6, path: ['.pad', '6'], attr: 'p' }, { length: 5, path: ['cover.jpg'] }] } });
  const m = readTorrentFiles(multi);
  assert.equal(m.name, 'Album');
  assert.deepEqual(m.files, [{ index: 0, path: 'Album/cd1/01 – intro.flac', length: 10 }, { index: 1, path: 'Album/cover.jpg', length: 5 }]);
  assert.equal(m.totalSize, 15);
  const single = readTorrentFiles(benc({ info: { name: 'film.mkv', length: 123, 'piece length': 16384, pieces: Buffer.alloc(20) } }));
  assert.deepEqual(single.files, [{ index: 0, path: 'film.mkv', length: 123 }]);
  const v2 = readTorrentFiles(benc({ info: { name: 'dir', 'meta version': 2, 'piece length': 16384,
    'file tree': { 'a.txt': { '': { length: 3, 'pieces root': Buffer.alloc(32) } }, sub: { 'b.bin': { '': { length: 4 } } } } } }));
  assert.deepEqual(v2.files.map((f) => f.path), ['dir/a.txt', 'dir/sub/b.bin']);
});

test('the reader refuses broken and hostile input without hanging', () => {
  for (const bad of ['', 'i12', 'd3:foo', 'l'.repeat(100) + 'e'.repeat(100), '999999999:x', 'de junk', 'i01e', 'd4:infoi1ee', 'd4:infod4:name1:xee']) {
    assert.throws(() => readTorrentFiles(Buffer.from(bad)), TorrentParseError, JSON.stringify(bad));
  }
  const d = bdecode(Buffer.from('d1:ai-5e1:bl1:xee'));
  assert.ok(d instanceof Map);
  assert.equal(d.get('a'), -5);
  const b = d.get('b');
  assert.ok(Array.isArray(b) && b[0] instanceof Uint8Array);
  assert.deepEqual([...b[0]], [0x78]);
});

// The /stream route (stream-http.ts): the pure helpers (Range, MIME, ETag / If-Range, paths), then the handler over
// a real loopback socket on a stub facade whose readFile serves known bytes (and records aborts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { BtError } from '../../util/errors.js';
import type { BitpeerApi, FileInfo, ReadFileOptions, TorrentInfo } from '../types.js';
import { ifRangeAllows, mimeType, parseRange, parseStreamPath, startStreamServer, streamEtag, type StreamServer } from './stream-http.js';

test('parseRange: single ranges, suffixes, open ends, clamping', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'range', start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'range', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'range', start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { kind: 'range', start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-5000', 100), { kind: 'range', start: 50, end: 99 });
  assert.deepEqual(parseRange('Bytes = 5-5', 100), { kind: 'range', start: 5, end: 5 });
});

test('parseRange: unsatisfiable, invalid (ignored) and multiple ranges (served whole)', () => {
  assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=200-300', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  for (const h of ['bytes=9-5', 'bytes=-', 'bytes=a-b', 'items=0-5', 'bytes 0-5', 'bytes=1.5-2', `bytes=${'9'.repeat(20)}-`]) {
    assert.deepEqual(parseRange(h, 100), { kind: 'whole' }, h);
  }
  assert.deepEqual(parseRange('bytes=0-1,5-6', 100), { kind: 'whole' });
});

test('MIME types from the extension; unknown ones are octet-stream', () => {
  assert.equal(mimeType('a/b/Movie.MP4'), 'video/mp4');
  assert.equal(mimeType('x.mkv'), 'video/x-matroska');
  assert.equal(mimeType('x.webm'), 'video/webm');
  assert.equal(mimeType('x.mp3'), 'audio/mpeg');
  assert.equal(mimeType('x.flac'), 'audio/flac');
  assert.equal(mimeType('x.m4a'), 'audio/mp4');
  assert.equal(mimeType('x.ogg'), 'audio/ogg');
  assert.equal(mimeType('x.avi'), 'video/x-msvideo');
  assert.equal(mimeType('x.mov'), 'video/quicktime');
  assert.equal(mimeType('x.vtt'), 'text/vtt');
  assert.equal(mimeType('x.srt'), 'application/x-subrip');
  assert.equal(mimeType('x.bin'), 'application/octet-stream');
  assert.equal(mimeType('dir.mp4/noext'), 'application/octet-stream');
  assert.equal(mimeType('.mp4'), 'application/octet-stream');
});

test('ETag is strong and names hash, index and length; If-Range honours only that exact tag', () => {
  const tag = streamEtag('AB'.repeat(20), 3, 1234);
  assert.equal(tag, `"${'ab'.repeat(20)}-3-1234"`);
  assert.equal(ifRangeAllows(undefined, tag), true);
  assert.equal(ifRangeAllows(tag, tag), true);
  assert.equal(ifRangeAllows(`W/${tag}`, tag), false);
  assert.equal(ifRangeAllows('"other"', tag), false);
  assert.equal(ifRangeAllows('Wed, 21 Oct 2015 07:28:00 GMT', tag), false);
});

test('stream paths: 40 or 64 hex, a decimal index', () => {
  assert.deepEqual(parseStreamPath(`/stream/${'A'.repeat(40)}/2`), { hash: 'a'.repeat(40), index: 2 });
  assert.deepEqual(parseStreamPath(`/stream/${'b'.repeat(64)}/0/`), { hash: 'b'.repeat(64), index: 0 });
  for (const p of [`/stream/${'a'.repeat(39)}/1`, `/stream/${'a'.repeat(40)}/x`, `/stream/${'a'.repeat(40)}/-1`, `/stream/${'a'.repeat(40)}`,
    `/stream/${'a'.repeat(40)}/1/2`, `/stream/${'g'.repeat(40)}/1`, `/stream/${'a'.repeat(40)}/${'1'.repeat(10)}`]) {
    assert.equal(parseStreamPath(p), null, p);
  }
});

// ---- the handler over a socket, on a stub facade

const HASH = 'c'.repeat(40);
const V2 = 'd'.repeat(64);
const PENDING = 'e'.repeat(40);
const DATA = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));

function fileInfo(path: string, length: number, extra: Partial<FileInfo> = {}): FileInfo {
  return { path, length, bytesCompleted: 0, wanted: true, priority: 'normal', ...extra };
}

const torrent = {
  id: 1, infoHash: HASH, infoHashV2: V2, name: 't', state: 'downloading',
  // API index 1 is a pad file: the RPC's index 1 is the API's index 2.
  files: [fileInfo('t/a.txt', 10), fileInfo('t/.pad/5', 5, { padding: true }), fileInfo('t/movie.mp4', DATA.length),
    fileInfo('t/skipped.mkv', 100, { wanted: false }), fileInfo('t/empty.srt', 0)],
} as unknown as TorrentInfo;
const pending = { id: 2, infoHash: PENDING, name: 'p', files: [], metadataPending: true } as unknown as TorrentInfo;

const reads: Array<{ index: number; start: number | undefined; end: number | undefined; aborted: () => boolean }> = [];
/** While set, reads stall after the first chunk until the client aborts. */
let stall = false;

const api = {
  get(ids?: Array<string | number>): TorrentInfo[] {
    const all = [torrent, pending];
    return ids === undefined ? all : all.filter((t) => ids.includes(t.infoHash));
  },
  readFile(id: string | number, index: number, opts: ReadFileOptions = {}): AsyncIterable<Buffer> {
    if (id !== HASH) throw new BtError('NOT_FOUND', 'no such torrent');
    const signal = opts.signal;
    reads.push({ index, start: opts.start, end: opts.end, aborted: () => signal?.aborted === true });
    const bytes = index === 2 ? DATA : Buffer.alloc(torrent.files[index]!.length, index);
    const s = opts.start ?? 0;
    const e = opts.end ?? bytes.length;
    return (async function* () {
      for (let p = s; p < e; p += 65536) {
        yield bytes.subarray(p, Math.min(e, p + 65536));
        if (stall) await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
        if (signal?.aborted) throw new BtError('ABORTED', 'aborted');
      }
    })();
  },
} as unknown as BitpeerApi;

let server: StreamServer;
before(async () => { server = await startStreamServer(api, { port: 0 }); });
after(async () => { await server.close(); });

interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer }

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET without Range: 200, the whole file, its length, type, Accept-Ranges and ETag', async () => {
  const r = await get(`/stream/${HASH}/1`);
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(DATA));
  assert.equal(r.headers['content-length'], String(DATA.length));
  assert.equal(r.headers['content-type'], 'video/mp4');
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.equal(r.headers.etag, streamEtag(HASH, 1, DATA.length));
  assert.equal(reads.at(-1)!.index, 2, 'RPC index 1 is API index 2 (the pad file is hidden)');
});

test('GET with a Range: 206, Content-Range, exactly those bytes; If-Range with our tag keeps the range, another does not', async () => {
  const r = await get(`/stream/${HASH}/1`, { Range: 'bytes=100000-200000' });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 100000-200000/${DATA.length}`);
  assert.equal(r.headers['content-length'], '100001');
  assert.ok(r.body.equals(DATA.subarray(100000, 200001)));
  assert.deepEqual([reads.at(-1)!.start, reads.at(-1)!.end], [100000, 200001]);
  const tag = streamEtag(HASH, 1, DATA.length);
  const same = await get(`/stream/${HASH}/1`, { Range: 'bytes=-5', 'If-Range': tag });
  assert.equal(same.status, 206);
  assert.ok(same.body.equals(DATA.subarray(DATA.length - 5)));
  const other = await get(`/stream/${HASH}/1`, { Range: 'bytes=-5', 'If-Range': '"stale"' });
  assert.equal(other.status, 200);
  assert.equal(other.body.length, DATA.length);
  const multi = await get(`/stream/${HASH}/1`, { Range: 'bytes=0-1,5-6' });
  assert.equal(multi.status, 200, 'several ranges: the whole file');
  assert.equal(multi.body.length, DATA.length);
});

test('416 with Content-Range bytes */SIZE; HEAD sends the headers only and reads nothing', async () => {
  const r = await get(`/stream/${HASH}/1`, { Range: `bytes=${DATA.length}-` });
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], `bytes */${DATA.length}`);
  const before = reads.length;
  const h = await get(`/stream/${HASH}/1`, { Range: 'bytes=10-19' }, 'HEAD');
  assert.equal(h.status, 206);
  assert.equal(h.headers['content-length'], '10');
  assert.equal(h.headers['content-range'], `bytes 10-19/${DATA.length}`);
  assert.equal(h.body.length, 0);
  const whole = await get(`/stream/${HASH}/0`, {}, 'HEAD');
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['content-length'], '10');
  assert.equal(whole.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(reads.length, before, 'HEAD never reads');
});

test('404 for unknown torrents and indices, 503 while metadata is pending, 409 for a file not selected, 405 for POST', async () => {
  assert.equal((await get(`/stream/${'f'.repeat(40)}/0`)).status, 404);
  assert.equal((await get(`/stream/${HASH}/4`)).status, 404, 'only 4 files (0..3) once the pad is hidden');
  assert.equal((await get(`/stream/${HASH}/x`)).status, 404);
  assert.equal((await get('/elsewhere')).status, 404);
  const p = await get(`/stream/${PENDING}/0`);
  assert.equal(p.status, 503);
  assert.match(p.body.toString(), /metadata/);
  assert.equal(p.headers['retry-after'], '5');
  assert.equal((await get(`/stream/${HASH}/2`)).status, 409);
  assert.equal((await get(`/stream/${HASH}/0`, {}, 'POST')).status, 405);
  const v2 = await get(`/stream/${V2}/0`);
  assert.equal(v2.status, 200, 'the v2 info-hash names the torrent too');
  assert.equal(v2.body.length, 10);
  const empty = await get(`/stream/${HASH}/3`);
  assert.equal(empty.status, 200);
  assert.equal(empty.body.length, 0);
  assert.equal((await get(`/stream/${HASH}/3`, { Range: 'bytes=0-' })).status, 416);
  assert.equal((await get(`/stream/${HASH}/0`, { Host: 'evil.example' })).status, 421);
  assert.equal((await get(`/stream/${HASH}/0`, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
});

test('a client that disconnects mid-body aborts the read', async () => {
  stall = true;
  try {
    const n = reads.length;
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: `/stream/${HASH}/1`, agent: false }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => undefined);
      req.setTimeout(5000, () => reject(new Error('no data')));
      req.end();
    });
    const deadline = Date.now() + 5000;
    while (!(reads[n]?.aborted() ?? false) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(reads[n]!.aborted(), true);
  } finally {
    stall = false;
  }
});

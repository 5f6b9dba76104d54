/**
 * Streaming while downloading (issue 15), against a real libtorrent seed: `bitpeer stream` downloads a 256 MiB file
 * from lt_peer.py, whose upload is limited (4 MiB/s) so the download is far from complete while the test reads, and
 * serves it over HTTP. Ranged reads from the middle and after several seeks must return exactly the source's bytes
 * while the torrent is incomplete; the time to first byte after each seek is measured and printed; 416 and HEAD
 * answer as RFC 9110 says; two streams at once both get their bytes.
 *
 * Invariant: everything runs on 127.0.0.1 (lt_peer.py binds there with DHT/LSD/UPnP off; bitpeer without LSD or DHT),
 * every wait is bounded, and the scope stops every process and removes every folder when the test ends. Skipped, with
 * the reason printed, when no Python has the libtorrent bindings.
 * BEP: 3 (requests and cancels of the read-ahead window), RFC 9110 §14 (ranges).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { findLibtorrentPython } from '../helpers/python.js';
import { writeRandomFile } from '../helpers/content.js';
import { scopeFor, listeningPort } from '../helpers/interop.js';
import type { Child } from '../helpers/proc.js';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const PIECE = 256 * 1024;
/** The seed's upload limit: a full download would take 64 s, longer than this test runs. */
const SEED_RATE = Number(process.env.STREAM_SEED_RATE ?? 4 * MiB);
const READY_MS = 40_000;
const READ_MS = 20_000;

const python = findLibtorrentPython();
const skip = python === null ? 'no Python interpreter can `import libtorrent`; install python3-libtorrent' : false;
if (python === null) console.log(`# SKIP streaming interop: ${String(skip)}`);

interface Got { status: number; headers: http.IncomingHttpHeaders; body: Buffer; ttfbMs: number }

/** One request; `ttfbMs` is the time from sending it to the first body byte (or the headers, without a body). */
function request(url: string, headers: Record<string, string> = {}, method = 'GET', timeoutMs = READ_MS): Promise<Got> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let first = -1;
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { if (first < 0) first = performance.now(); chunks.push(c); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks),
        ttfbMs: (first < 0 ? performance.now() : first) - started }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} ${JSON.stringify(headers)}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function readSource(path: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Pieces the stream process had verified at its latest progress event. */
function haveNow(child: Child): number {
  const all = child.events.filter((e) => e.event === 'progress');
  return Number(all.at(-1)?.have ?? 0);
}

describe('streaming from a libtorrent seed', { skip }, () => {
  const py = python ?? 'python3';

  test('ranged reads while downloading: bytes, seeks (time to first byte), 416, HEAD, two streams', { timeout: 90_000 }, async (t) => {
    const scope = scopeFor(t);
    const dir = await scope.tempDir('bitpeer-stream-');
    const src = join(dir, 'src', 'movie.mp4');
    await writeRandomFile(src, SIZE, 'stream-interop');
    const torrent = join(dir, 'movie.torrent');
    const made = await scope.bitpeer(['create', src, '-o', torrent, '--piece-length', String(PIECE)]).exited(60_000);
    assert.equal(made.code, 0, `bitpeer create failed\n${scope.describe()}`);
    const pieces = SIZE / PIECE;

    const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'), '--port', '0',
      '--upload-limit', String(SEED_RATE)]);
    const seedPort = await listeningPort(seed, READY_MS);
    const stream = scope.bitpeer(['stream', torrent, '-o', join(dir, 'dl'), '--port', '0', '--peer', `127.0.0.1:${seedPort}`,
      '--json', '--no-lsd', '--no-dht', '--no-utp', '--progress-interval', '250']);
    const info = await stream.waitFor((e) => e.event === 'info' && typeof e.url === 'string', READY_MS, 'the stream URL');
    const url = String(info.url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/stream\/[0-9a-f]{40}\/0$/);
    const etag = `"${url.split('/')[4]!}-0-${SIZE}"`;

    // HEAD: the headers of the whole file, no body.
    const head = await request(url, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(SIZE));
    assert.equal(head.headers['content-type'], 'video/mp4');
    assert.equal(head.headers['accept-ranges'], 'bytes');
    assert.equal(head.headers.etag, etag);
    assert.equal(head.body.length, 0);
    const headRange = await request(url, { Range: 'bytes=1000-1999' }, 'HEAD');
    assert.equal(headRange.status, 206);
    assert.equal(headRange.headers['content-range'], `bytes 1000-1999/${SIZE}`);
    assert.equal(headRange.headers['content-length'], '1000');
    assert.equal(headRange.body.length, 0);

    // 416: past the end.
    const past = await request(url, { Range: `bytes=${SIZE}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${SIZE}`);

    // A ranged read from the middle, then seeks (forwards, backwards, unaligned): exact bytes, time to first byte.
    const seeks = [SIZE / 2, 200 * MiB + 4321, 64 * MiB, 240 * MiB, 100 * MiB + 12_345];
    const ttfb: number[] = [];
    for (const at of seeks) {
      const len = MiB;
      const r = await request(url, { Range: `bytes=${at}-${at + len - 1}` });
      assert.equal(r.status, 206, `seek to ${at}: status ${r.status} ${r.body.toString().slice(0, 200)}`);
      assert.equal(r.headers['content-range'], `bytes ${at}-${at + len - 1}/${SIZE}`);
      assert.ok(r.body.equals(await readSource(src, at, len)), `seek to ${at}: the bytes differ from the source`);
      ttfb.push(Math.round(r.ttfbMs));
    }
    const haveAfterSeeks = haveNow(stream);
    assert.ok(haveAfterSeeks < pieces, `the torrent was complete (${haveAfterSeeks}/${pieces}) before the reads ended`);
    console.log(`# time to first byte after each seek (ms): ${seeks.map((s, i) => `${(s / MiB).toFixed(2)} MiB → ${ttfb[i]}`).join(', ')}`);
    console.log(`# pieces verified after the seeks: ${haveAfterSeeks}/${pieces}`);

    // Two streams at once, far apart: both get exactly their bytes.
    const [a, b] = await Promise.all([
      request(url, { Range: `bytes=${180 * MiB}-${182 * MiB - 1}` }),
      request(url, { Range: `bytes=${30 * MiB + 7}-${32 * MiB}` }),
    ]);
    assert.equal(a.status, 206);
    assert.equal(b.status, 206);
    assert.ok(a.body.equals(await readSource(src, 180 * MiB, 2 * MiB)), 'stream A: bytes differ');
    assert.ok(b.body.equals(await readSource(src, 30 * MiB + 7, 2 * MiB - 6)), 'stream B: bytes differ');
    console.log(`# two streams at once: time to first byte ${Math.round(a.ttfbMs)} ms and ${Math.round(b.ttfbMs)} ms, 2 MiB each`);
    const haveEnd = haveNow(stream);
    assert.ok(haveEnd < pieces, `the torrent completed (${haveEnd}/${pieces}) during the test: the seed limit did not hold`);

    // A client that goes away mid-body: the server keeps serving others afterwards.
    await new Promise<void>((resolve, reject) => {
      const req = http.request(url, { headers: { Range: `bytes=${220 * MiB}-` }, agent: false }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => undefined);
      req.setTimeout(READ_MS, () => reject(new Error('no data for the abandoned stream')));
      req.end();
    });
    const after = await request(url, { Range: 'bytes=0-99' });
    assert.equal(after.status, 206);
    assert.ok(after.body.equals(await readSource(src, 0, 100)));

    const stopped = await stream.stop(10_000);
    assert.notEqual(stopped.signal, 'SIGKILL', `bitpeer stream ignored SIGTERM\n${stream.describe()}`);
  });
});

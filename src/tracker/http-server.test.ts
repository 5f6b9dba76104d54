// HTTP tracker over real sockets on 127.0.0.1: the test server reads a first chunk (as the session's sniffer does)
// and hands the socket to handleHttpConnection. Covers announce, scrape, the session's own entry, 400/404/405/414/431,
// requests split into many chunks, the deadline, and clients that vanish mid-request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { decode, isDict, getBytes, getInt, getList, type BDict } from '../bencode/index.js';
import { TrackerSwarms } from './swarm.js';
import { createHttpTrackerStats, handleHttpConnection } from './http-server.js';

const IH = Buffer.alloc(20, 0x42);
const IH_HEX = IH.toString('hex');
const esc = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
const pid = (n: number): Buffer => Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`, 'latin1');

let server: net.Server;
let port = 0;
let swarms: TrackerSwarms;
const stats = createHttpTrackerStats();
const logs: string[] = [];

before(async () => {
  swarms = new TrackerSwarms({ now: () => Date.now(), isKnown: (h) => h === IH_HEX });
  server = net.createServer((socket) => {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      handleHttpConnection(socket, first, swarms, { timeoutMs: 300, maxRequestBytes: 2048, stats, log: (m) => logs.push(m) });
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as net.AddressInfo).port;
});

after(() => {
  server.close();
});

interface Reply { status: number; headers: string; body: Buffer }

/** Sends the chunks (with a pause between them) and reads until the server closes. */
async function request(chunks: Array<string | Buffer>, gapMs = 0): Promise<Reply> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  const got: Buffer[] = [];
  sock.on('data', (d: Buffer) => got.push(d));
  const closed = once(sock, 'close');
  sock.on('error', () => undefined);
  for (const c of chunks) {
    if (sock.destroyed) break;
    sock.write(c);
    if (gapMs) await sleep(gapMs);
  }
  await closed;
  const all = Buffer.concat(got);
  const sep = all.indexOf('\r\n\r\n');
  const headers = all.subarray(0, sep < 0 ? all.length : sep).toString('latin1');
  const m = /^HTTP\/1\.0 (\d{3}) /.exec(headers);
  return { status: m ? Number(m[1]) : 0, headers, body: sep < 0 ? Buffer.alloc(0) : all.subarray(sep + 4) };
}

function dict(body: Buffer): BDict {
  const d = decode(body).value;
  assert.ok(isDict(d));
  return d;
}

const announce = (n: number, extra = ''): string =>
  `GET /announce?info_hash=${esc(IH)}&peer_id=${esc(pid(n))}&port=${7000 + n}&uploaded=0&downloaded=0&left=5${extra} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

test('announce: 200, bencoded body, Content-Length, the second peer learns the first', async () => {
  let r = await request([announce(1)]);
  assert.equal(r.status, 200);
  assert.match(r.headers, /Content-Type: text\/plain/);
  assert.match(r.headers, new RegExp(`Content-Length: ${r.body.length}`));
  let d = dict(r.body);
  assert.equal(getInt(d, 'interval'), 120);
  assert.equal(getInt(d, 'min interval'), 30);
  assert.equal(getBytes(d, 'peers')!.length, 0);
  r = await request([announce(2, '&event=started')]);
  d = dict(r.body);
  assert.equal(getBytes(d, 'peers')!.toString('hex'), '7f000001' + (7001).toString(16).padStart(4, '0'));
  assert.equal(getInt(d, 'incomplete'), 2);
  // Dictionary model.
  r = await request([announce(3, '&compact=0')]);
  const peers = getList(dict(r.body), 'peers')!;
  assert.equal(peers.length, 2);
  const p0 = peers[0] as BDict;
  assert.equal(getBytes(p0, 'ip')!.toString(), '127.0.0.1');
  assert.equal(getBytes(p0, 'peer id')!.length, 20);
});

test('the session registered with setSelf is listed at the address the request arrived on', async () => {
  swarms.setSelf(IH_HEX, { port: 6999, peerId: pid(0), seed: true });
  try {
    const r = await request([announce(4, '&compact=0&numwant=74')]);
    const ports = getList(dict(r.body), 'peers')!.map((p) => getInt(p as BDict, 'port'));
    assert.ok(ports.includes(6999));
    assert.equal(getInt(dict(r.body), 'complete'), 1);
  } finally {
    swarms.setSelf(IH_HEX, null);
  }
});

test('scrape: 200 with the files dictionary; no info_hash is a 400', async () => {
  let r = await request([`GET /scrape?info_hash=${esc(IH)}&info_hash=${esc(Buffer.alloc(20, 1))} HTTP/1.0\r\n\r\n`]);
  assert.equal(r.status, 200);
  const files = dict(r.body).get('files') as BDict;
  assert.equal(files.size, 2);
  assert.ok(getInt(files.get(IH.toString('latin1')) as BDict, 'incomplete')! >= 2);
  r = await request(['GET /scrape HTTP/1.0\r\n\r\n']);
  assert.equal(r.status, 400);
  assert.match(getBytes(dict(r.body), 'failure reason')!.toString(), /info_hash/);
});

test('an untracked torrent is a 200 with a failure reason', async () => {
  const r = await request([`GET /announce?info_hash=${esc(Buffer.alloc(20, 9))}&peer_id=${esc(pid(1))}&port=1 HTTP/1.1\r\n\r\n`]);
  assert.equal(r.status, 200);
  assert.equal(getBytes(dict(r.body), 'failure reason')!.toString(), 'torrent not tracked here');
});

test('errors: 400 malformed query or request line, 404 other paths, 405 other methods, 414/431 too large', async () => {
  let r = await request([`GET /announce?info_hash=abc&port=1 HTTP/1.1\r\n\r\n`]);
  assert.equal(r.status, 400);
  assert.match(getBytes(dict(r.body), 'failure reason')!.toString(), /info_hash/);
  r = await request([`GET /announce?numwant=%zz HTTP/1.1\r\n\r\n`]);
  assert.equal(r.status, 400);
  r = await request(['GET /favicon.ico HTTP/1.1\r\n\r\n']);
  assert.equal(r.status, 404);
  assert.ok(getBytes(dict(r.body), 'failure reason'));
  r = await request(['GET /announce/../x HTTP/1.1\r\n\r\n']);
  assert.equal(r.status, 404);
  r = await request(['POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n']);
  assert.equal(r.status, 405);
  r = await request(['GET\r\n\r\n']);
  assert.equal(r.status, 400);
  r = await request(['GET /announce HTTP/2.0\r\n\r\n']);
  assert.equal(r.status, 400);
  r = await request([`GET /announce?${'a'.repeat(3000)} HTTP/1.1\r\n\r\n`]);
  assert.equal(r.status, 414);
  r = await request([`GET /announce HTTP/1.1\r\nX-Pad: ${'b'.repeat(3000)}\r\n\r\n`]);
  assert.equal(r.status, 431);
});

test('a request split byte by byte is reassembled; bare LF line ends are accepted', async () => {
  const text = announce(5);
  const r = await request(text.split(''), 0);
  assert.equal(r.status, 200);
  const r2 = await request([`GET /scrape?info_hash=${esc(IH)} HTTP/1.0\n\n`]);
  assert.equal(r2.status, 200);
});

test('the deadline closes a slow or silent client; vanishing clients do not disturb the server', async () => {
  const before = stats.rejected.timeout;
  const t0 = Date.now();
  const r = await request(['GET /announce?info_hash=']); // never finishes
  assert.equal(r.status, 0);
  assert.ok(Date.now() - t0 < 2000);
  assert.equal(stats.rejected.timeout, before + 1);
  // Reset in the middle of a request.
  for (let i = 0; i < 5; i++) {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.write('GET /announce?info');
    await sleep(10);
    s.resetAndDestroy();
  }
  const ok = await request([announce(6)]);
  assert.equal(ok.status, 200);
  assert.equal(stats.rejected.error, 0);
});

test('stats count announces, scrapes and rejections', () => {
  assert.ok(stats.announces >= 5);
  assert.ok(stats.scrapes >= 2);
  assert.ok(stats.rejected['not-found'] >= 2);
  assert.ok(stats.rejected['too-large'] >= 2);
  assert.ok(logs.length > 0);
});

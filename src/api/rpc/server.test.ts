// The Transmission RPC server over real sockets on 127.0.0.1, on the FakeApi: the security checks in order (421, 403,
// 401/429, 404, 405, 409, 413), Expect: 100-continue, malformed JSON and unknown methods, wrong argument types, the
// tag echo, API errors as result strings, JSON-RPC 2.0 over HTTP (200/204, batches), and every method's happy path
// over HTTP in both protocols.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BtError, isBtError } from '../../util/errors.js';
import { createTorrent } from '../../create/create-torrent.js';
import { FakeApi } from '../../../test/support/fake-api.js';
import { RpcClient } from './client.js';
import { hostOfHeader, startRpcServer, SESSION_ID_HEADER, type RpcServer } from './server.js';
import { PROTOCOLS } from '../../../test/support/rpc-protocols.js';

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: string }

function raw(port: number, o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(o.headers ?? {}) };
    if (o.body !== undefined && !o.chunked) headers['Content-Length'] = Buffer.byteLength(o.body);
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'POST', path: o.path ?? '/transmission/rpc', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    if (o.body !== undefined && o.chunked) {
      const b = Buffer.from(o.body);
      for (let i = 0; i < b.length; i += 1000) req.write(b.subarray(i, i + 1000));
      req.end();
    } else {
      req.end(o.body);
    }
  });
}

const tmp = mkdtempSync(path.join(tmpdir(), 'bitpeer-rpc-'));
let api: FakeApi;
let server: RpcServer;
let sid = '';
const logs: string[] = [];

async function post(body: unknown, extra: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; raw: Raw }> {
  const r = await raw(server.port, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { [SESSION_ID_HEADER]: sid, ...extra } });
  return { status: r.status, json: r.status === 200 ? JSON.parse(r.body) as Record<string, unknown> : {}, raw: r };
}

before(async () => {
  api = new FakeApi();
  server = await startRpcServer(api, { port: 0, log: (m) => logs.push(m) });
  const r = await raw(server.port, { body: '{"method":"session-get"}' });
  sid = String(r.headers['x-transmission-session-id']);
});

after(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('409 without or with a wrong session id, with the id in X-Transmission-Session-Id; the id then works', async () => {
  const r = await raw(server.port, { body: '{"method":"torrent-get","arguments":{"fields":["id"]}}' });
  assert.equal(r.status, 409);
  assert.match(String(r.headers['x-transmission-session-id']), /^[0-9a-f]{48}$/);
  assert.equal(r.headers['x-transmission-session-id'], sid);
  assert.equal(r.headers['x-transmission-rpc-version'], '6.0.1', 'Transmission 4.1: JSON-RPC is understood here');
  const jsonrpc = await raw(server.port, { body: '{"jsonrpc":"2.0","method":"session_stats","id":1}' });
  assert.equal(jsonrpc.status, 409, 'the handshake guards both protocols');
  const wrong = await raw(server.port, { body: '{}', headers: { [SESSION_ID_HEADER]: 'f'.repeat(48) } });
  assert.equal(wrong.status, 409);
  const ok = await post({ method: 'torrent-get', arguments: { fields: ['id'] } });
  assert.equal(ok.status, 200);
  assert.equal(ok.json['result'], 'success');
  assert.equal(ok.raw.headers['x-transmission-session-id'], sid);
});

test('the session id is random per server start', async () => {
  const other = await startRpcServer(new FakeApi(), { port: 0 });
  try {
    const r = await raw(other.port, { body: '{}' });
    assert.equal(r.status, 409);
    assert.notEqual(r.headers['x-transmission-session-id'], sid);
  } finally {
    await other.close();
  }
});

test('421 for a Host name that is not on the allow-list, whatever else is right; any IP address literal passes', async () => {
  for (const host of ['evil.example', `evil.example:${server.port}`, 'localhost.evil.example', '127.0.0.2.evil.example', '192.168.1.5.nip.io', 'nas.local']) {
    const r = await raw(server.port, { body: '{"method":"session-get"}', headers: { Host: host, [SESSION_ID_HEADER]: sid } });
    assert.equal(r.status, 421, `Host ${JSON.stringify(host)}`);
    assert.equal(r.headers['x-transmission-session-id'], undefined, 'no session id leaks on a 421');
  }
  // Names on the list, and addresses (a NAS opened as http://192.168.1.5:9091/: DNS rebinding needs a name).
  for (const host of [`localhost:${server.port}`, 'LOCALHOST.', `[::1]:${server.port}`, '127.0.0.1', '127.0.0.2', '[::2]:9091', '192.168.1.5:9091', '[fe80::1]']) {
    const r = await raw(server.port, { body: '{"method":"session-get"}', headers: { Host: host, [SESSION_ID_HEADER]: sid } });
    assert.equal(r.status, 200, `Host ${host}`);
  }
  assert.ok(logs.some((l) => l.includes('421')));
  // No Host header at all (HTTP/1.0 allows that): 421 too.
  const sock = net.connect(server.port, '127.0.0.1');
  sock.end(`POST /transmission/rpc HTTP/1.0\r\n${SESSION_ID_HEADER}: ${sid}\r\nContent-Length: 2\r\n\r\n{}`);
  let reply = '';
  for await (const chunk of sock) reply += String(chunk);
  assert.match(reply, /^HTTP\/1\.1 421 /);
});

test('hostOfHeader strips the port and normalises', () => {
  assert.equal(hostOfHeader('LocalHost:9091'), 'localhost');
  assert.equal(hostOfHeader('[::1]:9091'), '[::1]');
  assert.equal(hostOfHeader('127.0.0.1'), '127.0.0.1');
  assert.equal(hostOfHeader('example.com.'), 'example.com');
  assert.equal(hostOfHeader('::1'), '[::1]');
});

test('403 for a browser cross-site request (Origin or Sec-Fetch-Site)', async () => {
  const cases: Record<string, string>[] = [{ Origin: 'http://evil.example' }, { Origin: 'null' }, { 'Sec-Fetch-Site': 'cross-site' }, { 'Sec-Fetch-Site': 'same-site' }];
  for (const headers of cases) {
    const r = await raw(server.port, { body: '{"method":"torrent-stop"}', headers: { [SESSION_ID_HEADER]: sid, ...headers } });
    assert.equal(r.status, 403, JSON.stringify(headers));
  }
  assert.equal(api.callsTo('stop').length, 0);
  const same = await post({ method: 'session-stats' }, { Origin: `http://localhost:${server.port}`, 'Sec-Fetch-Site': 'same-origin' });
  assert.equal(same.status, 200);
  // The UI opened by address: its fetches carry an Origin equal to the Host; another address's page is cross-site.
  const byAddress = await raw(server.port, { body: '{"method":"session-stats"}', headers: { Host: '192.168.1.5:9091', Origin: 'http://192.168.1.5:9091', [SESSION_ID_HEADER]: sid } });
  assert.equal(byAddress.status, 200);
  for (const origin of ['http://192.168.1.6:9091', 'http://192.168.1.5:8080', 'https://192.168.1.5:9091']) {
    const r = await raw(server.port, { body: '{"method":"torrent-stop"}', headers: { Host: '192.168.1.5:9091', Origin: origin, [SESSION_ID_HEADER]: sid } });
    assert.equal(r.status, 403, origin);
  }
  assert.equal(api.callsTo('stop').length, 0);
});

test('a top-level navigation from another site opens the UI page (a link from a NAS dashboard), never the RPC or a stream', async () => {
  const nav = { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' };
  assert.equal((await raw(server.port, { method: 'GET', path: '/', headers: nav })).status, 200);
  assert.equal((await raw(server.port, { method: 'HEAD', path: '/', headers: nav })).status, 200);
  // A cross-site form POST is a navigation too: refused, and nothing changes.
  const post = await raw(server.port, { path: '/transmission/rpc', body: '{"method":"torrent-stop"}', headers: { ...nav, [SESSION_ID_HEADER]: sid } });
  assert.equal(post.status, 403);
  assert.equal((await raw(server.port, { method: 'GET', path: '/transmission/rpc', headers: nav })).status, 403);
  assert.equal((await raw(server.port, { method: 'GET', path: `/stream/${'1'.repeat(40)}/0`, headers: nav })).status, 403);
  assert.equal(api.callsTo('stop').length, 0);
});

test('GET / is a small page naming the RPC path and how to drive it; no secrets; POST / is 405', async () => {
  const r = await raw(server.port, { method: 'GET', path: '/', headers: { Host: `localhost:${server.port}` } });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/html; charset=utf-8$/);
  assert.match(r.body, /bitpeer daemon \d+\.\d+\.\d+/);
  assert.ok(r.body.includes(`localhost:${server.port}/transmission/rpc`), r.body);
  assert.ok(r.body.includes('bitpeer ls') && r.body.includes(`transmission-remote localhost:${server.port} -l`), r.body);
  assert.ok(!r.body.includes(sid), 'the session id is not on the page');
  assert.equal(r.headers['x-transmission-session-id'], undefined);
  assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
  const head = await raw(server.port, { method: 'HEAD', path: '/' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal((await raw(server.port, { method: 'GET', path: '/', headers: { Host: 'evil.example' } })).status, 421, 'Host allow-list first');
  assert.equal((await raw(server.port, { path: '/', headers: { [SESSION_ID_HEADER]: sid } })).status, 405);
  assert.equal((await raw(server.port, { method: 'GET', path: '/index.html' })).status, 404);
});

test('404 elsewhere; /transmission/rpc/ (trailing slash, as transmission-remote posts) works', async () => {
  assert.equal((await raw(server.port, { path: '/transmission/web/', headers: { [SESSION_ID_HEADER]: sid } })).status, 404);
  const r = await raw(server.port, { path: '/transmission/rpc/', body: '{"method":"port-test"}', headers: { [SESSION_ID_HEADER]: sid } });
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { arguments: { 'port-is-open': false }, result: 'success' });
});

test('405 for GET and other methods; a GET never changes state', async () => {
  const before = api.torrents.length;
  for (const method of ['GET', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await raw(server.port, { method, path: '/transmission/rpc?method=torrent-remove&ids=1', headers: { [SESSION_ID_HEADER]: sid } });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers['allow'], 'POST');
  }
  assert.equal(api.torrents.length, before);
  assert.equal(api.callsTo('remove').length, 0);
});

test('413 for a body over maxBodyBytes, by Content-Length or while streaming; the limit itself is fine', async () => {
  const small = await startRpcServer(new FakeApi(), { port: 0, maxBodyBytes: 1000 });
  try {
    const first = await raw(small.port, { body: '{}' });
    const id = String(first.headers['x-transmission-session-id']);
    const big = JSON.stringify({ method: 'session-get', arguments: { pad: 'x'.repeat(5000) } });
    assert.equal((await raw(small.port, { body: big, headers: { [SESSION_ID_HEADER]: id } })).status, 413);
    assert.equal((await raw(small.port, { body: big, chunked: true, headers: { [SESSION_ID_HEADER]: id } })).status, 413);
    const exact = JSON.stringify({ method: 'session-stats', arguments: { pad: '' } });
    const padded = exact.replace('"pad":""', `"pad":"${'y'.repeat(1000 - exact.length)}"`);
    assert.equal(Buffer.byteLength(padded), 1000);
    const ok = await raw(small.port, { body: padded, headers: { [SESSION_ID_HEADER]: id } });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).result, 'success');
  } finally {
    await small.close();
  }
});

test('Expect: 100-continue: refused before the body is sent without a session id, granted with one', async () => {
  const send = (headers: Record<string, string>): Promise<{ status: number; continued: boolean; body: string }> => new Promise((resolve, reject) => {
    const body = JSON.stringify({ method: 'session-stats' });
    const req = http.request({
      host: '127.0.0.1', port: server.port, method: 'POST', path: '/transmission/rpc', agent: false,
      headers: { Expect: '100-continue', 'Content-Length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, body: text }));
    });
    let continued = false;
    req.on('continue', () => { continued = true; req.end(body); });
    req.on('error', reject);
    req.flushHeaders();
  });
  const refused = await send({});
  assert.equal(refused.status, 409);
  assert.equal(refused.continued, false);
  const granted = await send({ [SESSION_ID_HEADER]: sid });
  assert.equal(granted.status, 200);
  assert.equal(granted.continued, true);
  assert.equal(JSON.parse(granted.body).result, 'success');
});

test('401 with WWW-Authenticate when auth is set; constant-time match; 429 after ten wrong attempts in a minute', async () => {
  let now = 1_000_000;
  const fake = new FakeApi();
  const s = await startRpcServer(fake, { port: 0, auth: { user: 'alice', password: 's3cr:et' }, now: () => now });
  const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
  try {
    const none = await raw(s.port, { body: '{}' });
    assert.equal(none.status, 401);
    assert.equal((await raw(s.port, { method: 'GET', path: '/' })).status, 401, 'the page at / needs the credentials too');
    assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
    assert.equal(none.headers['x-transmission-session-id'], undefined, 'no session id before authentication');
    assert.equal((await raw(s.port, { body: '{}', headers: { Authorization: basic('alice', 'wrong') } })).status, 401);
    assert.equal((await raw(s.port, { body: '{}', headers: { Authorization: 'Bearer abc' } })).status, 401);
    const good = await raw(s.port, { body: '{}', headers: { Authorization: basic('alice', 's3cr:et') } });
    assert.equal(good.status, 409, 'authenticated, now the session id handshake');
    const id = String(good.headers['x-transmission-session-id']);
    const ok = await raw(s.port, { body: '{"method":"session-stats"}', headers: { Authorization: basic('alice', 's3cr:et'), [SESSION_ID_HEADER]: id } });
    assert.equal(ok.status, 200);
    // The client from client.ts does both dances.
    const client = new RpcClient({ port: s.port, user: 'alice', password: 's3cr:et' });
    assert.equal((await client.call('session-get'))['rpc-version'], 16);
    await assert.rejects(new RpcClient({ port: s.port, user: 'alice', password: 'nope' }).call('session-get'), /refused the credentials/);
    for (let i = 0; i < 10; i++) await raw(s.port, { body: '{}', headers: { Authorization: basic('alice', `guess${i}`) } });
    const throttled = await raw(s.port, { body: '{}', headers: { Authorization: basic('alice', 's3cr:et') } });
    assert.equal(throttled.status, 429, 'even the right password waits out the window');
    now += 60_001;
    assert.equal((await raw(s.port, { body: '{}', headers: { Authorization: basic('alice', 's3cr:et') } })).status, 409);
  } finally {
    await s.close();
  }
});

test('a non-loopback bind without credentials is refused; a taken port is PORT_IN_USE', async () => {
  await assert.rejects(startRpcServer(new FakeApi(), { port: 0, host: '0.0.0.0' }), (e: unknown) => isBtError(e, 'USAGE'));
  await assert.rejects(startRpcServer(new FakeApi(), { port: server.port }), (e: unknown) => isBtError(e, 'PORT_IN_USE'));
});

test('malformed JSON, non-objects and a missing method answer "no method name" (HTTP 200)', async () => {
  for (const body of ['{not json', '', '42', 'null', '"x"', '{"arguments":{}}', '{"method":7}']) {
    const r = await post(body);
    assert.equal(r.status, 200, body);
    assert.equal(r.json['result'], 'no method name', body);
    assert.deepEqual(r.json['arguments'], {});
  }
});

test('JSON-RPC over HTTP: 200 with the response; 204 and no body for notifications; batches; parse errors', async () => {
  const one = await post({ jsonrpc: '2.0', method: 'torrent_get', params: { ids: [1], fields: ['id', 'hash_string'] }, id: 'q' });
  assert.equal(one.status, 200);
  assert.match(String(one.raw.headers['content-type']), /^application\/json/);
  assert.deepEqual(one.json, { jsonrpc: '2.0', result: { torrents: [{ id: 1, hash_string: api.torrents[0]!.infoHash }] }, id: 'q' });
  const note = await post({ jsonrpc: '2.0', method: 'torrent_reannounce', params: { ids: [1] } });
  assert.equal(note.status, 204);
  assert.equal(note.raw.body, '');
  assert.equal(note.raw.headers['x-transmission-session-id'], sid);
  const onlyNotes = await post([{ jsonrpc: '2.0', method: 'torrent_reannounce' }, { jsonrpc: '2.0', method: 'session_get' }]);
  assert.equal(onlyNotes.status, 204);
  const batch = await post('[{"jsonrpc":"2.0","method":"session_stats","id":1},{"jsonrpc":"2.0","method":"x","id":2}]');
  assert.equal(batch.status, 200);
  const list = batch.json as unknown as Array<Record<string, unknown>>;
  assert.deepEqual(list.map((r) => r['id']), [1, 2]);
  assert.equal((list[1]!['error'] as Record<string, unknown>)['code'], -32601);
  for (const body of ['[]', '[{"method":"session-get"}]']) {
    const r = await post(body);
    assert.equal(r.status, 200, body);
    assert.ok(JSON.stringify(r.json).includes('-32600'), body);
  }
  const parse = await post('{"jsonrpc":"2.0","method":"session_get",');
  assert.equal(parse.status, 200);
  assert.equal((parse.json['error'] as Record<string, unknown>)['code'], -32700);
});

test('an unknown method answers "method name not recognized", echoing the tag', async () => {
  const r = await post({ method: 'torrent-explode', tag: 77 });
  assert.deepEqual(r.json, { arguments: {}, result: 'method name not recognized', tag: 77 });
});

test('wrong argument types answer a result naming the argument, and change nothing', async () => {
  const cases: [unknown, RegExp][] = [
    [{ method: 'torrent-get', arguments: { fields: ['id'], ids: { x: 1 } } }, /ids/],
    [{ method: 'torrent-get', arguments: { fields: ['id'], ids: [true] } }, /ids/],
    [{ method: 'torrent-get', arguments: {} }, /no fields specified/],
    [{ method: 'torrent-get', arguments: { fields: ['id'], format: 'xml' } }, /format/],
    [{ method: 'torrent-set', arguments: { ids: [1], 'files-wanted': 'all' } }, /files-wanted/],
    [{ method: 'torrent-set', arguments: { ids: [1], uploadLimit: '100' } }, /uploadLimit/],
    [{ method: 'torrent-set', arguments: { ids: [1], uploadLimit: -5 } }, /uploadLimit/],
    [{ method: 'torrent-add', arguments: { filename: 42 } }, /filename/],
    [{ method: 'torrent-add', arguments: { filename: 'magnet:?xt=urn:btih:' + '3'.repeat(40), paused: 'yes' } }, /paused/],
    [{ method: 'torrent-remove', arguments: { ids: [1], 'delete-local-data': 'please' } }, /delete-local-data/],
    [{ method: 'session-set', arguments: { 'peer-port': 70000 } }, /peer-port/],
    [{ method: 'session-set', arguments: { 'speed-limit-down': 1.5 } }, /speed-limit-down/],
    [{ method: 'session-set', arguments: { 'download-dir': 'relative/dir' } }, /not absolute/],
    [{ method: 'session-get', arguments: [] }, /arguments/],
  ];
  const before = JSON.stringify(api.torrents);
  const settings = JSON.stringify(api.settings);
  for (const [body, re] of cases) {
    const r = await post({ ...(body as object), tag: 5 });
    assert.equal(r.status, 200);
    assert.notEqual(r.json['result'], 'success', JSON.stringify(body));
    assert.match(String(r.json['result']), re, JSON.stringify(body));
    assert.equal(r.json['tag'], 5);
  }
  assert.equal(JSON.stringify(api.torrents), before);
  assert.equal(JSON.stringify(api.settings), settings);
});

test('an API error (BtError) becomes the result string', async () => {
  api.failNext = new BtError('IO', 'disk on fire');
  const r = await post({ method: 'torrent-start', arguments: { ids: [1] }, tag: 9 });
  assert.deepEqual(r.json, { arguments: {}, result: 'disk on fire', tag: 9 });
});

test('responses are JSON with a strict CSP, nosniff, no-store, and < > & escaped', async () => {
  const add = await post({ method: 'torrent-add', arguments: { filename: `magnet:?xt=urn:btih:${'c'.repeat(40)}&dn=%3Cscript%3Ea%26b`, paused: true } });
  assert.equal(add.json['result'], 'success');
  const id = (add.json['arguments'] as Record<string, Record<string, unknown>>)['torrent-added']!['id'];
  const r = await post({ method: 'torrent-get', arguments: { ids: [id], fields: ['name'] } });
  assert.match(String(r.raw.headers['content-type']), /^application\/json/);
  assert.match(String(r.raw.headers['content-security-policy']), /default-src 'none'/);
  assert.equal(r.raw.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.raw.headers['cache-control'], 'no-store');
  assert.ok(!r.raw.body.includes('<'), r.raw.body);
  assert.ok(r.raw.body.includes('\\u003cscript\\u003ea\\u0026b'));
  assert.equal((r.json['arguments'] as { torrents: { name: string }[] }).torrents[0]!.name, '<script>a&b');
  await post({ method: 'torrent-remove', arguments: { ids: [id] } });
});

for (const p of PROTOCOLS) test(`happy paths of every method over HTTP (${p.name})`, async () => {
  const n = p.n;
  api.shutDown = false;
  const call = async (method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const r = await post(p.body(method, args));
    assert.equal(r.status, 200);
    const reply = p.reply(r.json);
    assert.equal(reply.result, 'success', `${method}: ${String(reply.result)}`);
    return reply.arguments;
  };
  const s = await call('session-get');
  assert.equal(s['version'], p.name === 'legacy' ? '3.00 (bitpeer 0.1.0)' : '4.1.1 (bitpeer 0.1.0)');
  assert.equal(s[n('session-id')], sid);
  assert.equal(s[n('download-dir')], '/srv/downloads');
  assert.deepEqual(Object.keys(await call('session-get', { fields: ['peer-port', 'version'] })).sort(), [n('peer-port'), 'version']);
  await call('session-set', { 'speed-limit-down': 250, 'speed-limit-down-enabled': true, 'peer-port': 51413, 'alt-speed-enabled': false });
  assert.equal(api.settings.downloadLimit, 250_000);
  assert.equal(api.settings.port, 51413);
  assert.equal((await call('session-get'))[n('speed-limit-down')], 250);
  const stats = await call('session-stats');
  assert.equal(stats[n('torrentCount')], api.torrents.length);
  assert.equal(typeof (stats[n('current-stats')] as Record<string, unknown>)[n('uploadedBytes')], 'number');

  const file = path.join(tmp, 'hello.bin');
  writeFileSync(file, Buffer.alloc(100_000, 7));
  const { torrent, meta } = await createTorrent(file, { creationDate: null });
  const tfile = path.join(tmp, 'hello.torrent');
  writeFileSync(tfile, torrent);
  const added = await call('torrent-add', { metainfo: torrent.toString('base64'), 'download-dir': tmp, paused: true });
  const a = added[n('torrent-added')] as Record<string, unknown>;
  assert.deepEqual(a, { id: a['id'], name: 'hello.bin', [n('hashString')]: meta.infoHashHex });
  const dup = await call('torrent-add', { filename: tfile });
  assert.deepEqual(dup[n('torrent-duplicate')], a, 'a duplicate is still "success" (Transmission 3.00)');
  const got = await call('torrent-get', { ids: [a['id']], fields: ['id', 'status', 'downloadDir', 'totalSize'] });
  assert.deepEqual(got['torrents'], [{ id: a['id'], status: 0, [n('downloadDir')]: tmp, [n('totalSize')]: 100_000 }]);

  await call('torrent-start', { ids: [a['id']] });
  assert.equal(api.torrents.find((t) => t.id === a['id'])?.state, 'downloading');
  await call('torrent-stop', { ids: meta.infoHashHex });
  assert.equal(api.torrents.find((t) => t.id === a['id'])?.state, 'paused');
  await call('torrent-start-now', { ids: [a['id']] });
  assert.deepEqual(api.callsTo('startNow').at(-1)?.args, [[a['id']]]);
  await call('torrent-verify', { ids: [a['id']] });
  assert.equal(api.torrents.find((t) => t.id === a['id'])?.state, 'checking');
  await call('torrent-reannounce', { ids: [a['id']] });
  await call('torrent-set', { ids: [2], 'files-unwanted': [0], 'priority-low': [1], uploadLimit: 40, uploadLimited: true, seedRatioMode: 1, sequentialDownload: true });
  assert.equal(api.torrents.find((t) => t.id === 2)?.sequentialDownload, true);
  const t2 = api.torrents.find((t) => t.id === 2)!;
  assert.equal(t2.files[0]!.wanted, false);
  assert.equal(t2.files[1]!.priority, 'low');
  assert.equal(t2.uploadLimit, 40_000);
  await call('torrent-remove', { ids: [a['id']], 'delete-local-data': true });
  assert.deepEqual(api.callsTo('remove').at(-1)?.args, [[a['id']], true]);
  const recent = await call('torrent-get', { ids: 'recently-active', fields: ['id'] });
  assert.ok((recent['removed'] as unknown[]).includes(a['id']));
  assert.ok((recent['torrents'] as { id: number }[]).some((t) => t.id === 1), 'torrent 1 is active (uploading)');
  assert.equal((await call('port-test'))[n('port-is-open')], false);
  assert.ok(Number((await call('free-space', { path: tmp }))[n('size-bytes')]) > 0);
  assert.equal((await call('blocklist-update'))[n('blocklist-size')], 0);
  await call('session-close');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(api.shutDown, true, 'session-close shuts down after the reply');
});

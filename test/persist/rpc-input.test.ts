/**
 * Bad RPC input against a real daemon (issue 4): malformed JSON, an unknown method, arguments of the wrong types and
 * oversized bodies get JSON error replies (`result` other than "success"), and change nothing; a request without
 * the session id gets 409 with the id; a foreign Host gets 421 (DNS rebinding). Raw node:http requests on
 * 127.0.0.1, so every byte of the request is the test's choice.
 * BEP: none (Transmission's rpc-spec; reliability rule 10 in docs/design/reliability.md).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Scope } from '../helpers/proc.js';
import { addTorrent, createTorrent, distinctPorts, startDaemon, stopDaemonCleanly, torrents, type DaemonHandle } from './harness.js';

const scope = new Scope();
let d: DaemonHandle;
let port = 0;
let sessionId = '';
let hash = '';
const MAX_BODY = 14 * 1024 * 1024; // the daemon's cap (src/daemon/daemon.ts)

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One raw HTTP request to the daemon's RPC port. `body` as a Buffer is sent chunked when `chunked`. */
function raw(opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', ...(opts.headers ?? {}) };
    if (body !== undefined && !opts.chunked) headers['Content-Length'] = body.length;
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? '/transmission/rpc', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { answered = true; resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }); });
        res.on('error', (e) => { if (!answered) reject(e); });
      });
    req.setTimeout(20_000, () => req.destroy(new Error('no answer within 20 s')));
    req.on('error', (e) => { if (!answered) setTimeout(() => { if (!answered) reject(e); }, 500); });
    if (body !== undefined && opts.chunked) {
      // Write in 1 MiB chunks; stop writing once the server has answered (it may close the connection).
      let off = 0;
      const pump = (): void => {
        while (off < body.length && !answered && !req.destroyed) {
          const next = body.subarray(off, off + 1024 * 1024);
          off += next.length;
          if (!req.write(next)) { req.once('drain', pump); return; }
        }
        if (!req.destroyed) req.end();
      };
      pump();
    } else {
      req.end(body);
    }
  });
}

/** A request with the valid session id. */
function rpc(body: string | Buffer, extra: { chunked?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> {
  return raw({ body, headers: { 'X-Transmission-Session-Id': sessionId, ...(extra.headers ?? {}) }, ...(extra.chunked ? { chunked: true } : {}) });
}

/** The answer is a JSON RPC reply with a failure `result`; returns that result. */
function jsonError(a: Answer, what: string): string {
  assert.match(String(a.headers['content-type'] ?? ''), /^application\/json/, `${what}: a JSON reply (HTTP ${a.status}, ${a.headers['content-type']}): ${a.body.slice(0, 200)}`);
  let v: unknown;
  try {
    v = JSON.parse(a.body);
  } catch {
    assert.fail(`${what}: the body is not JSON: ${a.body.slice(0, 200)}`);
  }
  const result = (v as { result?: unknown }).result;
  assert.equal(typeof result, 'string', `${what}: a "result" string in ${a.body.slice(0, 200)}`);
  assert.notEqual(result, 'success', `${what}: must not succeed`);
  return result as string;
}

before(async () => {
  const root = await scope.tempDir('bitpeer-rpc-input-');
  const [p, rpcPort, nobody] = await distinctPorts(3);
  port = rpcPort!;
  d = await startDaemon(scope, { stateDir: join(root, 'state'), port: p!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') });
  await mkdir(join(root, 'src'), { recursive: true });
  await writeFile(join(root, 'src', 'f.bin'), Buffer.alloc(300_000, 7));
  const meta = await createTorrent(join(root, 'src', 'f.bin'), join(root, 'f.torrent'), nobody!);
  hash = meta.infoHashHex;
  await addTorrent(d.rpc, join(root, 'f.torrent'), { paused: true });
  const first = await raw({ body: '{"method":"session-get"}' });
  sessionId = String(first.headers['x-transmission-session-id'] ?? '');
});

after(async () => {
  await scope.cleanup();
});

test('no session id → 409 carrying the id; a wrong id → 409 too', async () => {
  const a = await raw({ body: '{"method":"session-get"}' });
  assert.equal(a.status, 409);
  const id = a.headers['x-transmission-session-id'];
  assert.ok(typeof id === 'string' && id.length >= 16, 'the 409 carries X-Transmission-Session-Id');
  assert.equal(id, sessionId, 'the same id every time');
  const wrong = await raw({ body: '{"method":"session-get"}', headers: { 'X-Transmission-Session-Id': 'nope' } });
  assert.equal(wrong.status, 409);
  const good = await rpc('{"method":"session-get","tag":7}');
  assert.equal(good.status, 200);
  assert.deepEqual([JSON.parse(good.body).result, JSON.parse(good.body).tag], ['success', 7]);
});

test('a foreign Host → 421, with or without a valid session id', async () => {
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `localhost.attacker.com:${port}`]) {
    const a = await raw({ body: '{"method":"session-get"}', headers: { Host: host, 'X-Transmission-Session-Id': sessionId } });
    assert.equal(a.status, 421, `Host ${host}`);
    assert.equal(a.headers['x-transmission-session-id'], undefined, 'no session id is leaked to a foreign Host');
  }
  const local = await raw({ body: '{"method":"session-get"}', headers: { Host: `localhost:${port}`, 'X-Transmission-Session-Id': sessionId } });
  assert.equal(local.status, 200, 'localhost is allowed');
});

test('malformed JSON and requests without a method → JSON "no method name"', async () => {
  for (const body of ['{"method": "torrent-get", ', 'not json at all', '', 'null', '"session-get"', '{}', '{"arguments":{}}',
    '{"method": 42}', '\u0000\u0001\u0002', '{"method":"session-get"}{"method":"session-get"}']) {
    const a = await rpc(body);
    assert.equal(a.status, 200, JSON.stringify(body));
    assert.equal(jsonError(a, JSON.stringify(body)), 'no method name', JSON.stringify(body));
  }
});

test('JSON-RPC 2.0 junk → error objects (-32700, -32600, -32601, -32602), HTTP 200, and nothing changes', async () => {
  const before = JSON.stringify(await torrents(d.rpc));
  const cases: Array<[string, number]> = [
    ['{"jsonrpc": "2.0", "method": "torrent_get", ', -32700],
    ['[]', -32600],
    ['[1, 2]', -32600],
    ['{"jsonrpc": "2.0", "method": "session_get", "id": {"x": 1}}', -32600],
    ['{"jsonrpc": "1.0", "method": "session_get", "id": 1}', -32600],
    ['{"jsonrpc": "2.0", "method": "__proto__", "id": 1}', -32601],
    ['{"jsonrpc": "2.0", "method": "torrent-remove", "id": 1, "params": {"ids": [1]}}', -32601],
    ['{"jsonrpc": "2.0", "method": "torrent_remove", "id": 1, "params": [[1], true]}', -32602],
    ['{"jsonrpc": "2.0", "method": "torrent_remove", "id": 1, "params": {"ids": [1], "delete_local_data": "yes"}}', -32602],
    ['{"jsonrpc": "2.0", "method": "torrent_set", "id": 1, "params": {"__proto__": {"x": 1}, "upload_limit": -1}}', -32602],
  ];
  for (const [body, code] of cases) {
    const a = await rpc(body);
    assert.equal(a.status, 200, body);
    const answer = JSON.parse(a.body) as { error?: { code: number } } | Array<{ error?: { code: number } }>;
    const first = Array.isArray(answer) ? answer[0] : answer;
    assert.equal(first?.error?.code, code, `${body}: ${a.body}`);
  }
  const note = await rpc('{"jsonrpc": "2.0", "method": "torrent_verify", "params": {"ids": []}}');
  assert.equal(note.status, 204, 'a notification: no body');
  assert.equal(note.body, '');
  assert.equal(JSON.stringify(await torrents(d.rpc)), before);
});

test('an unknown method → JSON "method name not recognized"', async () => {
  for (const method of ['torrent-explode', 'TORRENT-GET', '__proto__', 'constructor', 'toString', 'session-get ']) {
    const a = await rpc(JSON.stringify({ method, tag: 3 }));
    assert.equal(a.status, 200, method);
    assert.equal(jsonError(a, method), 'method name not recognized', method);
    assert.equal(JSON.parse(a.body).tag, 3, 'the tag is echoed');
  }
});

test('arguments of the wrong types → JSON errors that name the argument; nothing changes', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ method: 'torrent-get', arguments: { fields: 'name' } }, /fields/],
    [{ method: 'torrent-get', arguments: { fields: ['id'], ids: { a: 1 } } }, /ids/],
    [{ method: 'torrent-set', arguments: { ids: [hash], 'files-unwanted': 'all' } }, /files-unwanted/],
    [{ method: 'torrent-set', arguments: { ids: [hash], uploadLimit: 'fast' } }, /uploadLimit/],
    [{ method: 'torrent-add', arguments: { metainfo: 42 } }, /metainfo/],
    [{ method: 'torrent-add', arguments: { metainfo: Buffer.from('d4:infoi1ee').toString('base64') } }, /./],
    [{ method: 'torrent-add', arguments: { filename: 'relative/x.torrent' } }, /./],
    [{ method: 'torrent-add', arguments: {} }, /./],
    [{ method: 'session-set', arguments: { 'speed-limit-down': 'fast' } }, /speed-limit-down/],
    [{ method: 'session-set', arguments: { 'download-dir': 'relative/path' } }, /download/],
    [{ method: 'session-set', arguments: { 'peer-port': 70_000 } }, /peer-port/],
    [{ method: 'torrent-remove', arguments: { ids: { all: true }, 'delete-local-data': true } }, /ids/],
    [{ method: 'torrent-remove', arguments: { ids: [hash], 'delete-local-data': 'yes' } }, /delete-local-data/],
    [{ method: 'torrent-stop', arguments: { ids: [[1]] } }, /ids/],
    [{ method: 'session-get', arguments: [] }, /./],
  ];
  for (const [req, re] of cases) {
    const a = await rpc(JSON.stringify(req));
    assert.equal(a.status, 200, JSON.stringify(req));
    assert.match(jsonError(a, JSON.stringify(req)), re, JSON.stringify(req));
  }
  const list = await torrents(d.rpc, undefined, ['hashString', 'status', 'uploadLimited', 'fileStats']);
  assert.deepEqual(list.map((t) => t.hashString), [hash], 'the torrent is still there');
  assert.equal(list[0]!.uploadLimited, false, 'no limit was set');
  assert.deepEqual(list[0]!.fileStats.map((f) => f.wanted), [true], 'no file was unselected');
  const s = await d.rpc.call('session-get', {});
  assert.equal(s['speed-limit-down-enabled'], false, 'no session setting changed');
});

/**
 * Sends a request over a plain socket and returns the response, also when the server answers before the body is
 * complete (node:http's client then fails with EPIPE and loses it). The body goes out in 64 KiB writes, each after
 * the previous one drained, and stops at the first byte of a response; with `waitMs`, the headers go first and the
 * body only if no response came within that time (the server can refuse a declared Content-Length at once).
 */
function rawSocket(head: string, body: Buffer, chunked: boolean, waitMs = 0): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let done = false;
    const parse = (final: boolean): Answer | undefined => {
      const text = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
      if (!m) return undefined;
      if (m[1] === '100') { got.length = 0; got.push(Buffer.from(m[3]!, 'latin1')); send(); return undefined; }
      const headers: http.IncomingHttpHeaders = {};
      for (const line of m[2]!.split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let rest = m[3]!;
      if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) {
        let out = '';
        for (;;) {
          const nl = rest.indexOf('\r\n');
          if (nl < 0) return final ? { status: Number(m[1]), headers, body: out } : undefined;
          const n = parseInt(rest.slice(0, nl), 16);
          if (!Number.isFinite(n)) return { status: Number(m[1]), headers, body: out };
          if (n === 0) return { status: Number(m[1]), headers, body: Buffer.from(out, 'latin1').toString('utf8') };
          if (rest.length < nl + 2 + n) return final ? { status: Number(m[1]), headers, body: out } : undefined;
          out += rest.slice(nl + 2, nl + 2 + n);
          rest = rest.slice(nl + 2 + n + 2);
        }
      }
      const len = Number(headers['content-length']);
      if (Number.isFinite(len) && rest.length >= len) return { status: Number(m[1]), headers, body: Buffer.from(rest.slice(0, len), 'latin1').toString('utf8') };
      return final ? { status: Number(m[1]), headers, body: Buffer.from(rest, 'latin1').toString('utf8') } : undefined;
    };
    const finish = (a: Answer | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(bodyTimer);
      sock.destroy();
      if (a) resolve(a);
      else reject(new Error('the daemon closed the connection without a readable reply (a reset right after its answer, with ' +
        `request bytes still unread, destroys the answer at the client: RFC 9112 §9.6 asks for a lingering close); received ${JSON.stringify(Buffer.concat(got).toString('latin1').slice(0, 200))}, sent ${off} of ${body.length} body bytes`));
    };
    const timer = setTimeout(() => finish(parse(true)), 20_000);
    let bodyTimer: NodeJS.Timeout | undefined;
    sock.on('data', (c: Buffer) => {
      got.push(c);
      const a = parse(false);
      if (a) finish(a);
    });
    sock.on('error', () => finish(parse(true)));
    sock.on('close', () => finish(parse(true)));
    let off = 0;
    let sending = false;
    const send = (): void => {
      if (sending) return;
      sending = true;
      const step = (): void => {
        if (done || sock.destroyed || got.length > 0) return;
        if (off >= body.length) { if (chunked) sock.write('0\r\n\r\n'); return; }
        const piece = body.subarray(off, off + 64 * 1024);
        off += piece.length;
        sock.write(chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece, () => step());
      };
      step();
    };
    sock.on('connect', () => {
      sock.write(head);
      if (/expect: 100-continue/i.test(head)) return;
      if (waitMs > 0) bodyTimer = setTimeout(send, waitMs);
      else send();
    });
  });
}

function oversized(): Buffer {
  const body = Buffer.alloc(MAX_BODY + 1024 * 1024, 0x20);
  body.write('{"method":"session-get","arguments":{"x":"', 0);
  return body;
}

function headFor(extra: string): string {
  return `POST /transmission/rpc HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `X-Transmission-Session-Id: ${sessionId}\r\n${extra}\r\n`;
}

for (const [name, extra, chunked, waitMs] of [
  ['with Content-Length', (n: number) => `Content-Length: ${n}\r\n`, false, 1000],
  ['with Content-Length and Expect: 100-continue', (n: number) => `Content-Length: ${n}\r\nExpect: 100-continue\r\n`, false, 0],
  ['chunked (no Content-Length)', () => 'Transfer-Encoding: chunked\r\n', true, 0],
] as const) {
  test(`an oversized body ${name} → a JSON error reply`, async () => {
    const body = oversized();
    const a = await rawSocket(headFor(extra(body.length)), body, chunked, waitMs);
    assert.ok(a.status === 413 || a.status === 200, `HTTP ${a.status}`);
    jsonError(a, `a ${body.length}-byte body ${name} (HTTP ${a.status})`);
  });
}

test('after all that: the daemon answers, its torrent is intact, and it stops cleanly', async () => {
  const s = await d.rpc.call('session-stats', {});
  assert.equal(s['torrentCount'], 1);
  const list = await torrents(d.rpc, undefined, ['hashString', 'status']);
  assert.deepEqual(list.map((t) => [t.hashString, t.status]), [[hash, 0]]);
  await stopDaemonCleanly(d);
});

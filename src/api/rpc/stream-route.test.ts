// The RPC server hands /stream/ paths to stream-http.ts only after its own checks (Host 421, cross-site 403, auth
// 401); a stream needs no X-Transmission-Session-Id (it is read-only). Real sockets on 127.0.0.1, a stub facade.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { BitpeerApi, ReadFileOptions, TorrentInfo } from '../types.js';
import { startRpcServer, type RpcServer } from './server.js';

const HASH = 'a1'.repeat(20);
const DATA = Buffer.from('0123456789abcdefghij');
const torrent = { id: 1, infoHash: HASH, name: 'x', files: [{ path: 'x/song.flac', length: DATA.length, bytesCompleted: 0, wanted: true, priority: 'normal' }] } as unknown as TorrentInfo;
const api = {
  get: (ids?: Array<string | number>) => (ids === undefined || ids.includes(HASH) ? [torrent] : []),
  readFile: (_id: string | number, _index: number, o: ReadFileOptions = {}) => (async function* () { yield DATA.subarray(o.start ?? 0, o.end ?? DATA.length); })(),
} as unknown as BitpeerApi;

let server: RpcServer;
before(async () => { server = await startRpcServer(api, { port: 0, auth: { user: 'u', password: 'p' } }); });
after(async () => { await server.close(); });

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path, method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const AUTH = { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` };

test('/stream/ comes after the Host, cross-site and auth checks', async () => {
  assert.equal((await get(`/stream/${HASH}/0`, { ...AUTH, Host: 'evil.example' })).status, 421);
  assert.equal((await get(`/stream/${HASH}/0`, { ...AUTH, Origin: 'http://evil.example' })).status, 403);
  const noAuth = await get(`/stream/${HASH}/0`);
  assert.equal(noAuth.status, 401);
  assert.ok(!noAuth.body.includes(DATA.toString()));
});

test('with credentials and no session id: the file, ranges, 404 and 405 from the stream route', async () => {
  const whole = await get(`/stream/${HASH}/0`, AUTH);
  assert.equal(whole.status, 200);
  assert.equal(whole.body, DATA.toString());
  assert.equal(whole.headers['content-type'], 'audio/flac');
  const part = await get(`/stream/${HASH}/0`, { ...AUTH, Range: 'bytes=-5' });
  assert.equal(part.status, 206);
  assert.equal(part.body, 'fghij');
  assert.equal((await get(`/stream/${'b'.repeat(40)}/0`, AUTH)).status, 404);
  assert.equal((await get(`/stream/${HASH}/0`, AUTH, 'POST')).status, 405);
});

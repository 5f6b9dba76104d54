// The web UI's RPC client over a stubbed fetch: the 409 session-id handshake (one retry, the id kept for later
// calls, parallel first calls sharing one handshake), the daemon's own words on a non-"success" result, HTTP errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RpcClient, RpcError } from './rpc.js';

interface Seen { sid: string | null; body: unknown }

/** A fake daemon: answers 409 until the request carries `id`, then `reply(body)`. */
function stubFetch(id: string, reply: (body: { method: string }) => { status?: number; json?: unknown; text?: string }): Seen[] {
  const seen: Seen[] = [];
  globalThis.fetch = (async (_url: unknown, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const body = JSON.parse(String(init?.body)) as { method: string };
    seen.push({ sid: headers.get('X-Transmission-Session-Id'), body });
    if (headers.get('X-Transmission-Session-Id') !== id) {
      return new Response('409', { status: 409, headers: { 'X-Transmission-Session-Id': id } });
    }
    const r = reply(body);
    return new Response(r.text ?? JSON.stringify(r.json), { status: r.status ?? 200 });
  }) as typeof fetch;
  return seen;
}

test('the 409 handshake: one retry with the id, which later calls reuse', async () => {
  const seen = stubFetch('abc', () => ({ json: { result: 'success', arguments: { x: 1 } } }));
  const c = new RpcClient('/transmission/rpc');
  assert.deepEqual(await c.call('session-get'), { x: 1 });
  assert.deepEqual(seen.map((s) => s.sid), ['', 'abc']);
  await c.call('session-stats');
  assert.deepEqual(seen.map((s) => s.sid), ['', 'abc', 'abc']);
});

test('parallel first calls share one handshake', async () => {
  const seen = stubFetch('id2', (b) => ({ json: { result: 'success', arguments: { m: b.method } } }));
  const c = new RpcClient();
  const [a, b] = await Promise.all([c.call('torrent-get', { fields: ['id'] }), c.call('session-stats')]);
  assert.deepEqual([a, b], [{ m: 'torrent-get' }, { m: 'session-stats' }]);
  assert.equal(seen.filter((s) => s.sid === '').length, 1, 'one request without the id');
});

test('a result other than "success" rejects with the daemon\'s words; HTTP errors and junk too', async () => {
  stubFetch('k', (b) => (b.method === 'bad' ? { json: { result: 'invalid argument "ids": expected …', arguments: {} } }
    : b.method === 'http' ? { status: 401, text: '401: Unauthorized' } : { text: 'not json' }));
  const c = new RpcClient();
  await assert.rejects(c.call('bad'), (e: unknown) => e instanceof RpcError && e.message === 'bad: invalid argument "ids": expected …');
  await assert.rejects(c.call('http'), (e: unknown) => e instanceof RpcError && e.message === 'http: HTTP 401 401: Unauthorized');
  await assert.rejects(c.call('junk'), (e: unknown) => e instanceof RpcError && /not JSON/.test(e.message));
});

test('a daemon that keeps answering 409 is an error, not a loop', async () => {
  let calls = 0;
  globalThis.fetch = (async () => { calls++; return new Response('', { status: 409, headers: { 'X-Transmission-Session-Id': `n${calls}` } }); }) as typeof fetch;
  await assert.rejects(new RpcClient().call('session-get'), /kept refusing/);
  assert.equal(calls, 2);
});

// JSON-RPC 2.0 only (the method behaviour both protocols share is in methods.test.ts): the protocol switch, ids,
// notifications, batches, the error objects and codes, and Transmission 4.1's names spelled literally as its
// docs/rpc-spec.md lists them (not through any converter).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeApi } from '../../../test/support/fake-api.js';
import { RpcMethods } from './methods.js';
import { answerRpcBody, JSONRPC_ERROR, MAX_BATCH } from './jsonrpc.js';
import { legacyMethod, snakeName } from './names.js';
import { RPC_METHOD_NAMES } from './methods.js';

type Json = Record<string, unknown>;

function setup(): { api: FakeApi; ask: (body: unknown) => Promise<unknown>; answer: (body: unknown) => ReturnType<typeof answerRpcBody> } {
  const api = new FakeApi();
  const m = new RpcMethods(api, { sessionId: 'sid' });
  const answer = (body: unknown): ReturnType<typeof answerRpcBody> => answerRpcBody(m, typeof body === 'string' ? body : JSON.stringify(body));
  return { api, answer, ask: async (body) => (await answer(body)).body };
}

/** A request (id 1 unless given). */
const req = (method: string, params?: unknown, id: unknown = 1): Json =>
  ({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }), id });
/** A notification: no id member at all. */
const note = (method: string, params?: unknown): Json => ({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });

test('the switch: jsonrpc 2.0 bodies get JSON-RPC answers, legacy bodies legacy ones, on the same methods', async () => {
  const { ask } = setup();
  assert.deepEqual(await ask(req('session_stats', undefined, 'x')), { jsonrpc: '2.0', result: (await ask(req('session_stats', undefined, 'x')) as Json)['result'], id: 'x' });
  const legacy = await ask({ method: 'session-stats', tag: 3 }) as Json;
  assert.equal(legacy['result'], 'success');
  assert.equal(legacy['tag'], 3);
  assert.equal((legacy['arguments'] as Json)['torrentCount'], 2);
  assert.equal(((await ask(req('session_stats')) as Json)['result'] as Json)['torrent_count'], 2);
  // a legacy method name inside JSON-RPC is not a 4.1 method, and a 4.1 name in a legacy body is not a legacy one
  assert.equal(((await ask(req('session-stats')) as Json)['error'] as Json)['code'], JSONRPC_ERROR.METHOD_NOT_FOUND);
  assert.equal((await ask({ method: 'session_stats' }) as Json)['result'], 'method name not recognized');
});

test('ids: string, number and null are echoed; another type is -32600 with id null', async () => {
  const { ask } = setup();
  for (const id of ['abc', 7, 2.5, null, '']) assert.equal((await ask(req('session_stats', undefined, id)) as Json)['id'], id);
  for (const id of [true, { a: 1 }, [1]]) {
    const r = await ask(req('session_stats', undefined, id)) as Json;
    assert.equal(r['id'], null);
    assert.equal((r['error'] as Json)['code'], -32600);
    assert.match(String(((r['error'] as Json)['data'] as Json)['error_string']), /id type/);
  }
});

test('notifications: no response; a method with side effects runs, a getter does not', async () => {
  const { api, answer } = setup();
  const a = await answer(note('torrent_stop', { ids: [1] }));
  assert.equal(a.body, undefined);
  assert.equal(api.torrents[0]!.state, 'paused', 'the notification ran');
  const calls = api.calls.length;
  assert.equal((await answer(note('torrent_get', { fields: ['id'] }))).body, undefined);
  assert.equal(api.calls.length, calls, 'a getter notification is not run');
  // errors of a notification are not answered either
  assert.equal((await answer(note('no_such_method', {}))).body, undefined);
  assert.equal((await answer(note('torrent_set', { ids: [2], files_wanted: [9] }))).body, undefined);
  assert.equal(api.callsTo('setFiles').length, 0);
});

test('batches: answers in order, notifications left out; empty, oversized and non-object entries', async () => {
  const { api, ask, answer } = setup();
  const r = await ask([
    req('torrent_get', { ids: [1], fields: ['id', 'name'] }, 'a'),
    note('torrent_stop', { ids: [2] }),
    req('nope', {}, 'b'),
    42,
    { method: 'session-get' },
    req('torrent_get', { ids: [2], fields: ['status'] }, 'c'),
  ]) as Json[];
  assert.deepEqual(r.map((x) => x['id']), ['a', 'b', null, null, 'c']);
  assert.deepEqual((r[0]!['result'] as Json)['torrents'], [{ id: 1, name: 'ubuntu-24.04-desktop-amd64.iso' }]);
  assert.equal((r[1]!['error'] as Json)['code'], -32601);
  assert.equal((r[2]!['error'] as Json)['code'], -32600);
  assert.equal((r[3]!['error'] as Json)['code'], -32600, 'a legacy request inside a batch is invalid (Transmission: "JSON-RPC version is not 2.0")');
  assert.deepEqual((r[4]!['result'] as Json)['torrents'], [{ status: 0 }], 'the notification before it ran first');
  assert.equal(api.torrents[1]!.state, 'paused');
  const empty = await ask([]) as Json;
  assert.equal((empty['error'] as Json)['code'], -32600);
  assert.equal(empty['id'], null);
  assert.equal((await answer([note('torrent_start', {})])).body, undefined, 'only notifications: nothing');
  const big = await ask(Array.from({ length: MAX_BATCH + 1 }, () => note('torrent_stop', {}))) as Json;
  assert.equal((big['error'] as Json)['code'], -32600);
  assert.equal(api.callsTo('stop').length, 1, 'an oversized batch runs nothing');
});

test('error objects: parse error, invalid request, invalid params, and Transmission 4.1 codes with data', async () => {
  const { ask, api } = setup();
  const parse = await ask('{"jsonrpc": "2.0", "method": ') as Json;
  assert.equal((parse['error'] as Json)['code'], -32700);
  assert.equal((parse['error'] as Json)['message'], 'Parse error');
  assert.equal(parse['id'], null);
  const legacyJunk = await ask('{not json') as Json;
  assert.equal(legacyJunk['result'], 'no method name', 'junk without a jsonrpc member stays legacy');
  const err = async (body: unknown): Promise<Json> => (await ask(body) as Json)['error'] as Json;
  assert.deepEqual(await err({ jsonrpc: '1.0', method: 'session_get', id: 1 }), { code: -32600, message: 'Invalid Request', data: { error_string: 'JSON-RPC version is not 2.0', errorString: 'JSON-RPC version is not 2.0' } });
  assert.equal((await err({ jsonrpc: '2.0', method: 5, id: 1 }))['code'], -32600);
  const noId = await ask({ jsonrpc: '2.0', method: 1, params: 'bar' }) as Json;
  assert.deepEqual([noId['id'], (noId['error'] as Json)['code']], [null, -32600], 'not a request: answered even without an id');
  const byPosition = await err(req('torrent_get', [['id']]));
  assert.equal(byPosition['code'], -32602);
  assert.match(String((byPosition['data'] as Json)['error_string']), /by-position/);
  const badType = await err(req('torrent_set', { ids: [1], upload_limit: 'fast' }));
  assert.deepEqual(badType, { code: -32602, message: 'Invalid params', data: { error_string: 'invalid argument "upload_limit": expected an integer', errorString: 'invalid argument "upload_limit": expected an integer' } });
  assert.deepEqual(await err(req('torrent_set', { ids: [2], files_wanted: [7] })), { code: 6, message: 'file index out of range', data: { error_string: 'file index out of range', errorString: 'file index out of range' } });
  assert.equal((await err(req('torrent_set_location', { ids: [1], location: 'rel' })))['code'], 3);
  assert.equal((await err(req('torrent_add', { metainfo: '%%%' })))['code'], 9);
  assert.equal((await err(req('session_set', { download_dir: 'rel' })))['code'], 3);
  const enc = await err(req('session_set', { encryption: 'tolerated' }));
  assert.equal(enc['code'], -32602, '4.1 renamed tolerated to allowed');
  assert.match(String((enc['data'] as Json)['error_string']), /"allowed"/);
  assert.deepEqual(await err(req('free_space', { path: '/nonexistent/bitpeer' })),
    { code: 5, message: 'system error', data: { error_string: 'No such file or directory', errorString: 'No such file or directory', result: { path: '/nonexistent/bitpeer', size_bytes: -1 } } });
  assert.equal((await err(req('queue_move_top', { ids: [1] })))['code'], -32601, 'a method bitpeer does not support');
  assert.equal((await err(req('port_test', { ip_protocol: 'ipx' })))['code'], -32602);
  assert.deepEqual((await ask(req('port_test', { ip_protocol: 'ipv6' })) as Json)['result'], { port_is_open: false, ip_protocol: 'ipv6' });
  api.failNext = new TypeError('boom');
  assert.deepEqual(await err(req('torrent_verify', { ids: [1] })), { code: -32603, message: 'Internal error', data: { error_string: 'internal error: boom', errorString: 'internal error: boom' } });
});

test('the 4.1 names, literally: torrent_get fields, nested keys, wanted as booleans, table rows, recently_active', async () => {
  const { ask, api } = setup();
  const r = (await ask(req('torrent_get', {
    ids: [2], fields: ['hash_string', 'file_stats', 'peers_from', 'peers', 'rate_download', 'is_private', 'wanted', 'error_string', 'tracker_stats', 'sequential_download', 'percent_done', 'download_dir'],
  })) as Json)['result'] as Json;
  const t = (r['torrents'] as Json[])[0]!;
  assert.deepEqual(Object.keys(t).sort(), ['download_dir', 'error_string', 'file_stats', 'hash_string', 'is_private', 'peers', 'peers_from', 'percent_done', 'rate_download', 'sequential_download', 'tracker_stats', 'wanted']);
  assert.deepEqual(t['wanted'], [true, true, false]);
  assert.deepEqual((t['file_stats'] as Json[])[0], { bytes_completed: 100_000_000, wanted: true, priority: 1 });
  assert.deepEqual(Object.keys(t['peers_from'] as Json).sort(), ['from_cache', 'from_dht', 'from_incoming', 'from_lpd', 'from_ltep', 'from_pex', 'from_tracker']);
  const peer = (t['peers'] as Json[])[0]!;
  for (const k of ['client_name', 'client_is_choked', 'flag_str', 'is_utp', 'rate_to_client', 'peer_is_interested']) assert.ok(Object.hasOwn(peer, k), k);
  assert.equal(t['download_dir'], '/srv/downloads');
  const mime = ((await ask(req('torrent_get', { fields: ['primary_mime_type'] })) as Json)['result'] as Json)['torrents'];
  assert.deepEqual(mime, [{ primary_mime_type: 'application/x-iso9660-image' }, { primary_mime_type: 'video/mp4' }]);
  const table = ((await ask(req('torrent_get', { fields: ['id', 'wanted', 'hash_string'], format: 'table' })) as Json)['result'] as Json)['torrents'] as unknown[][];
  assert.deepEqual(table[0], ['id', 'wanted', 'hash_string']);
  assert.deepEqual(table[2]![1], [true, true, false]);
  const recent = (await ask(req('torrent_get', { ids: 'recently_active', fields: ['id'] })) as Json)['result'] as Json;
  assert.deepEqual(recent['removed'], []);
  assert.equal((recent['torrents'] as unknown[]).length, 2);
  const legacySpelling = (await ask(req('torrent_get', { ids: 'recently-active', fields: ['id'] })) as Json)['result'] as Json;
  assert.deepEqual(legacySpelling['torrents'], [], 'JSON-RPC knows only recently_active');
  const camel = (await ask(req('torrent_get', { ids: [1], fields: ['id', 'hashString', 'rateDownload'] })) as Json)['result'] as Json;
  assert.deepEqual(camel['torrents'], [{ id: 1 }], 'legacy field names are not 4.1 names');
  const calls = (await ask(req('torrent_set', { ids: [1], uploadLimit: 5, 'files-unwanted': [0] })) as Json)['result'];
  assert.deepEqual(calls, {}, 'legacy argument names are ignored, as unknown arguments are');
  assert.equal(api.callsTo('setLimits').length + api.callsTo('setFiles').length, 0);
});

test('session_get: 4.1 keys, the 4.1 RPC version, cache_size_mib, encryption "allowed"; session_set takes 4.1 keys', async () => {
  const { ask, api } = setup();
  const s = (await ask(req('session_get')) as Json)['result'] as Json;
  assert.equal(s['rpc_version'], 19);
  assert.equal(s['rpc_version_semver'], '6.0.1');
  assert.equal(s['rpc_version_minimum'], 14);
  assert.match(String(s['version']), /^4\.1\.1 \(bitpeer /);
  assert.equal(s['cache_size_mib'], 32);
  assert.equal(s['session_id'], 'sid');
  assert.equal((s['units'] as Json)['speed_bytes'], 1000);
  for (const k of ['peer_port', 'speed_limit_down_enabled', 'download_dir', 'peer_limit_per_torrent', 'download_queue_size', 'utp_enabled']) assert.ok(Object.hasOwn(s, k), k);
  assert.ok(!Object.keys(s).some((k) => /[A-Z-]/.test(k)), 'no legacy spelling left');
  const some = (await ask(req('session_get', { fields: ['peer_port', 'rpc_version_semver'] })) as Json)['result'];
  assert.deepEqual(some, { peer_port: 6881, rpc_version_semver: '6.0.1' });
  await ask(req('session_set', { encryption: 'allowed', speed_limit_down: 300, speed_limit_down_enabled: true, peer_port: 51413 }));
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ downloadLimit: 300_000, port: 51413, encryption: 'disabled' }]);
  assert.equal(((await ask(req('session_get', { fields: ['encryption'] })) as Json)['result'] as Json)['encryption'], 'allowed');
  const legacy = (await ask({ method: 'session-get', arguments: { fields: ['rpc-version', 'rpc-version-semver', 'encryption'] } }) as Json)['arguments'];
  assert.deepEqual(legacy, { encryption: 'tolerated', 'rpc-version': 16, 'rpc-version-semver': '5.2.0' }, 'the legacy protocol stays 3.00\'s');
});

test('torrent_add answers torrent_added / torrent_duplicate with hash_string; session_close shuts down after the reply', async () => {
  const { ask, answer, api } = setup();
  const mag = `magnet:?xt=urn:btih:${'d'.repeat(40)}&dn=X`;
  assert.deepEqual((await ask(req('torrent_add', { filename: mag, paused: true })) as Json)['result'], { torrent_added: { id: 3, name: 'X', hash_string: 'd'.repeat(40) } });
  assert.deepEqual((await ask(req('torrent_add', { filename: mag })) as Json)['result'], { torrent_duplicate: { id: 3, name: 'X', hash_string: 'd'.repeat(40) } });
  const a = await answer([req('session_close', {}, 9)]);
  assert.deepEqual(a.body, [{ jsonrpc: '2.0', result: {}, id: 9 }]);
  assert.equal(api.shutDown, false, 'not before the reply is written');
  a.afterReply?.();
  await new Promise((r) => setImmediate(r));
  assert.equal(api.shutDown, true);
});

test('the name map: every legacy method has a 4.1 name that maps back; the spelling rule on the awkward names', () => {
  for (const m of RPC_METHOD_NAMES) assert.equal(legacyMethod(snakeName(m)), m, m);
  const cases: [string, string][] = [
    ['hashString', 'hash_string'], ['isUTP', 'is_utp'], ['cache-size-mb', 'cache_size_mib'], ['file-count', 'file_count'],
    ['peer-limit', 'peer_limit'], ['torrent-start-now', 'torrent_start_now'], ['seedRatioLimited', 'seed_ratio_limited'],
    ['cumulative-stats', 'cumulative_stats'], ['rpc-version-semver', 'rpc_version_semver'], ['webseedsSendingToUs', 'webseeds_sending_to_us'],
  ];
  for (const [legacy, v41] of cases) assert.equal(snakeName(legacy), v41);
});

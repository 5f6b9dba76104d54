// RpcMethods without HTTP: the `ids` rules (absent = all, [] = none, unknown skipped, "recently-active"), torrent-get
// formats, torrent-set / session-set semantics (kB/s with k = 1000, the *-enabled flags, "empty list = all files"),
// torrent-add's sources, free-space, and how errors become result strings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { FakeApi } from '../../../test/support/fake-api.js';
import { RpcMethods, type RpcResponse } from './methods.js';
import { TORRENT_FIELDS } from './fields.js';
import type { BitpeerApi } from '../types.js';

function setup(nowMs = Date.now()): { api: FakeApi; m: RpcMethods; logs: string[]; rpc: (method: string, args?: unknown) => Promise<RpcResponse> } {
  const api = new FakeApi({ now: () => nowMs });
  const logs: string[] = [];
  const m = new RpcMethods(api, { now: () => nowMs, sessionId: 'sid', log: (s) => logs.push(s) });
  const rpc = async (method: string, args?: unknown): Promise<RpcResponse> =>
    (await m.handle(args === undefined ? { method } : { method, arguments: args })).response;
  return { api, m, logs, rpc };
}

const ids = (r: RpcResponse): number[] => (r.arguments['torrents'] as { id: number }[]).map((t) => t.id);

test('ids: absent = all, [] = none, unknown skipped, hashes in any case, numeric strings, a single number', async () => {
  const { rpc } = setup();
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'] })), [1, 2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: [] })), []);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: [2, 99, 'f'.repeat(40), 'nonsense'] })), [2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: '2'.repeat(40).toUpperCase() })), [2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: ['1', 1] })), [1], 'no duplicates');
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: 1 })), [1]);
});

test('an empty ids list never acts on everything; absent ids does', async () => {
  const { api, rpc } = setup();
  assert.equal((await rpc('torrent-stop', { ids: [] })).result, 'success');
  assert.equal((await rpc('torrent-remove', { ids: [], 'delete-local-data': true })).result, 'success');
  assert.equal(api.callsTo('stop').length + api.callsTo('remove').length, 0);
  assert.equal(api.torrents.length, 2);
  await rpc('torrent-stop');
  assert.deepEqual(api.callsTo('stop')[0]?.args, [[1, 2]]);
  assert.ok(api.torrents.every((t) => t.state === 'paused'));
});

test('recently-active: torrents active in the last 60 s, plus the ids removed in that window', async () => {
  let now = 1_700_000_000_000;
  const api = new FakeApi({ now: () => now });
  const m = new RpcMethods(api, { now: () => now });
  const get = async (): Promise<RpcResponse> => (await m.handle({ method: 'torrent-get', arguments: { ids: 'recently-active', fields: ['id'] } })).response;
  const first = await get();
  assert.deepEqual(ids(first), [1, 2], 'torrent 1 has activityDate now-1, torrent 2 is downloading');
  assert.deepEqual(first.arguments['removed'], []);
  await m.handle({ method: 'torrent-remove', arguments: { ids: [2] } });
  assert.deepEqual((await get()).arguments['removed'], [2]);
  now += 61_000;
  const later = await get();
  assert.deepEqual(later.arguments['removed'], [], 'forgotten after the window');
  assert.deepEqual(ids(later), [], 'torrent 1 last active 62 s ago');
});

test('torrent-get: only the known fields asked for, in order; unknown ones skipped and logged once; table format', async () => {
  const { rpc, logs } = setup();
  const r = await rpc('torrent-get', { ids: [1], fields: ['name', 'bogus', 'id', 'name'] });
  assert.deepEqual(r.arguments['torrents'], [{ name: 'ubuntu-24.04-desktop-amd64.iso', id: 1 }]);
  await rpc('torrent-get', { ids: [1], fields: ['bogus'] });
  assert.equal(logs.filter((l) => l.includes('"bogus"')).length, 1);
  const t = await rpc('torrent-get', { format: 'table', fields: ['id', 'status', 'percentDone'] });
  assert.deepEqual(t.arguments['torrents'], [['id', 'status', 'percentDone'], [1, 6, 1], [2, 4, (250_300_000 - 150_000_000) / 250_300_000]]);
});

test('torrent-get answers every field it knows, integers as integers', async () => {
  const { rpc, api } = setup();
  api.torrents[1]!.downloadRate = 1234.56; // rates are meters: fractions must not reach the wire
  api.torrents[1]!.eta = 61.7;
  const r = await rpc('torrent-get', { fields: TORRENT_FIELDS });
  const torrents = r.arguments['torrents'] as Record<string, unknown>[];
  const reals = new Set(['percentDone', 'percentComplete', 'uploadRatio', 'recheckProgress', 'metadataPercentComplete', 'seedRatioLimit']);
  for (const t of torrents) {
    assert.deepEqual(Object.keys(t).sort(), [...TORRENT_FIELDS].sort());
    for (const [k, v] of Object.entries(t)) {
      if (typeof v === 'number' && !reals.has(k)) assert.ok(Number.isInteger(v), `${k} = ${v}`);
    }
  }
  assert.equal(torrents[1]!['rateDownload'], 1235);
  assert.equal(torrents[1]!['eta'], 62);
});

test('torrent-set: empty file lists mean all files; an index out of range changes nothing', async () => {
  const { api, rpc } = setup();
  const bad = await rpc('torrent-set', { ids: [2], 'files-wanted': [0, 3] });
  assert.equal(bad.result, 'file index out of range');
  assert.equal(api.callsTo('setFiles').length, 0);
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-wanted': [], 'priority-high': [] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[0]?.args, [[2], { wanted: [0, 1, 2], priorityHigh: [0, 1, 2] }]);
  assert.ok(api.torrents[1]!.files.every((f) => f.wanted && f.priority === 'high'));
});

test('torrent-set limits: kB/s × 1000; Limited=false clears; Limited=true alone leaves it; other keys ignored', async () => {
  const { api, rpc } = setup();
  await rpc('torrent-set', { ids: [1], downloadLimit: 500, downloadLimited: true, uploadLimit: 20 });
  assert.deepEqual(api.callsTo('setLimits').at(-1)?.args, [[1], { downloadLimit: 500_000, uploadLimit: 20_000 }]);
  await rpc('torrent-set', { ids: [1], downloadLimited: false });
  assert.deepEqual(api.callsTo('setLimits').at(-1)?.args, [[1], { downloadLimit: 0 }]);
  const n = api.callsTo('setLimits').length;
  assert.equal((await rpc('torrent-set', { ids: [1], uploadLimited: true, labels: ['x'], 'peer-limit': 5, location: '/x' })).result, 'success');
  assert.equal(api.callsTo('setLimits').length, n);
  const got = await rpc('torrent-get', { ids: [1], fields: ['downloadLimit', 'downloadLimited', 'uploadLimit', 'uploadLimited'] });
  assert.deepEqual(got.arguments['torrents'], [{ downloadLimit: 0, downloadLimited: false, uploadLimit: 20, uploadLimited: true }]);
});

test('session-set: the speed limits and flags, the mapped keys, and harmless acceptance of the rest', async () => {
  const { api, rpc } = setup();
  await rpc('session-set', { 'speed-limit-up': 100, 'speed-limit-up-enabled': true, 'download-dir': '/data', 'lpd-enabled': false, 'dht-enabled': true, 'seed-queue-size': 9 });
  assert.deepEqual(api.callsTo('setSettings')[0]?.args, [{ downloadDir: '/data', uploadLimit: 100_000, maxActiveSeeds: 9, lsd: false, dht: true }]);
  await rpc('session-set', { 'speed-limit-up-enabled': false });
  assert.equal(api.settings.uploadLimit, 0);
  assert.equal((await rpc('session-set', { 'alt-speed-enabled': false, 'rpc-version': 99 })).result, 'success');
  assert.equal(api.callsTo('setSettings').length, 2, 'nothing to change: no call');
  await rpc('session-set', { 'utp-enabled': false });
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ utp: false }]);
  // Transmission's encryption names: required = forced, preferred = enabled, tolerated = disabled.
  assert.equal((await rpc('session-set', { encryption: 'required' })).result, 'success');
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ encryption: 'forced' }]);
  assert.equal((await rpc('session-get', { fields: ['encryption'] })).arguments['encryption'], 'required');
  await rpc('session-set', { encryption: 'tolerated' });
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ encryption: 'disabled' }]);
  assert.match(String((await rpc('session-set', { encryption: 'always' })).result), /invalid argument "encryption"/);
  const s = (await rpc('session-get')).arguments;
  assert.equal(s['utp-enabled'], false);
  assert.equal(s['speed-limit-up'], 0);
  assert.equal(s['speed-limit-up-enabled'], false);
  assert.equal(s['download-dir'], '/data');
  assert.equal(s['lpd-enabled'], false);
  assert.equal((s['units'] as Record<string, unknown>)['speed-bytes'], 1000);
});

test('torrent-add: sources, options, files on add, and refusals', async () => {
  const { api, rpc } = setup();
  const mag = `magnet:?xt=urn:btih:${'a'.repeat(40)}&dn=Film`;
  const r = await rpc('torrent-add', { filename: mag, 'download-dir': '/dl', paused: 1, cookies: 'x=y' });
  assert.deepEqual(r.arguments, { 'torrent-added': { id: 3, name: 'Film', hashString: 'a'.repeat(40) } });
  assert.deepEqual(api.callsTo('add')[0]?.args[1], { downloadDir: '/dl', paused: true });
  const dup = await rpc('torrent-add', { filename: mag, 'files-unwanted': [] });
  assert.equal(dup.result, 'success');
  assert.deepEqual(dup.arguments, { 'torrent-duplicate': { id: 3, name: 'Film', hashString: 'a'.repeat(40) } });
  assert.equal(api.callsTo('setFiles').length, 0, 'a duplicate is left alone');
  for (const [args, re] of [
    [{}, /no filename or metainfo/],
    [{ filename: 'https://example.com/x.torrent' }, /by URL is not supported/],
    [{ filename: 'relative.torrent' }, /not absolute/],
    [{ metainfo: '!!!not base64!!!' }, /invalid or corrupt/],
    [{ filename: mag, 'download-dir': 'dl' }, /not absolute/],
    [{ filename: 'magnet:?xt=urn:btih:zz' }, /magnet/i],
  ] as [Record<string, unknown>, RegExp][]) {
    const bad = await rpc('torrent-add', args);
    assert.match(bad.result, re, JSON.stringify(args));
  }
});

test('free-space: the path, its free bytes; missing, relative and nonexistent paths', async () => {
  const { rpc } = setup();
  const ok = await rpc('free-space', { path: tmpdir() });
  assert.equal(ok.arguments['path'], tmpdir());
  assert.ok(Number(ok.arguments['size-bytes']) > 0);
  assert.equal((await rpc('free-space', {})).result, 'directory path argument is missing');
  assert.equal((await rpc('free-space', { path: 'tmp' })).result, 'directory path is not absolute');
  const gone = await rpc('free-space', { path: '/nonexistent/bitpeer/dir' });
  assert.notEqual(gone.result, 'success');
  assert.equal(gone.arguments['size-bytes'], -1);
});

test('unsupported methods and session-close without shutdown say so; internal errors are reported, not thrown', async () => {
  const { api, rpc, logs } = setup();
  assert.match((await rpc('queue-move-top', { ids: [1] })).result, /not supported/);
  const noShutdown = Object.assign(Object.create(api) as BitpeerApi, { shutdown: undefined });
  const m2 = new RpcMethods(noShutdown);
  assert.match((await m2.handle({ method: 'session-close' })).response.result, /not supported/);
  api.failNext = new TypeError('boom');
  const r = await rpc('torrent-verify', { ids: [1] });
  assert.equal(r.result, 'internal error: boom');
  assert.ok(logs.some((l) => l.includes('torrent-verify failed: boom')));
});

test('the tag is echoed when it is a number, and only then', async () => {
  const { m } = setup();
  assert.equal((await m.handle({ method: 'session-stats', tag: 12 })).response.tag, 12);
  assert.equal((await m.handle({ method: 'session-stats', tag: 'x' })).response.tag, undefined);
  assert.equal((await m.handle({ method: 'nope', tag: 3 })).response.tag, 3);
});

test('torrent-set-location passes ids, the absolute location and move (default false) to the API', async () => {
  const { api, rpc } = setup();
  assert.equal((await rpc('torrent-set-location', { ids: [1], location: '/srv/new', move: true })).result, 'success');
  assert.deepEqual(api.callsTo('setLocation')[0]?.args, [[1], '/srv/new', true]);
  assert.equal((await rpc('torrent-set-location', { ids: [2], location: '/srv/other' })).result, 'success');
  assert.deepEqual(api.callsTo('setLocation')[1]?.args, [[2], '/srv/other', false]);
  assert.equal((await rpc('torrent-set-location', { ids: [1], location: 'relative' })).result, 'invalid argument "location": expected an absolute path');
  assert.equal((await rpc('torrent-set-location', { ids: [1] })).result, 'missing argument "location"');
  assert.equal(api.callsTo('setLocation').length, 2);
});

test('BEP 47 pad files are hidden from the RPC and its file indices skip them', async () => {
  const { api, rpc } = setup();
  const t = api.torrents[1]!;
  // Put a pad after the first file: [f0, pad, f1, f2] in the API; the RPC shows [f0, f1, f2].
  const pad = { path: `${t.name}/.pad/100`, length: 100, bytesCompleted: 0, wanted: true, priority: 'normal' as const, padding: true };
  t.files.splice(1, 0, pad);
  const before = { totalSize: t.totalSize, sizeWhenDone: t.sizeWhenDone, leftUntilDone: t.leftUntilDone };
  t.totalSize += 100; t.sizeWhenDone += 100; t.leftUntilDone += 100;
  const got = await rpc('torrent-get', { ids: [2], fields: ['files', 'fileStats', 'file-count', 'wanted', 'priorities', 'totalSize', 'sizeWhenDone', 'leftUntilDone'] });
  const o = (got.arguments as { torrents: Record<string, unknown>[] }).torrents[0]!;
  assert.equal(o['file-count'], 3);
  assert.deepEqual((o['files'] as { name: string }[]).map((f) => f.name), t.files.filter((f) => f.padding !== true).map((f) => f.path));
  assert.equal((o['fileStats'] as unknown[]).length, 3);
  assert.equal((o['wanted'] as unknown[]).length, 3);
  assert.deepEqual({ totalSize: o['totalSize'], sizeWhenDone: o['sizeWhenDone'], leftUntilDone: o['leftUntilDone'] }, before);
  // RPC index 1 is the API's file 2 (the pad at API index 1 is skipped); index 3 is out of range.
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-unwanted': [1] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[0]?.args, [[2], { unwanted: [2] }]);
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-unwanted': [3] })).result, 'file index out of range');
  assert.equal((await rpc('torrent-set', { ids: [2], 'priority-high': [] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[1]?.args, [[2], { priorityHigh: [0, 2, 3] }]);
});

test('the DHT: dht-enabled and bitpeer-dht-bootstrap in session-get/set (junk changes nothing), bitpeer-dht in session-stats', async () => {
  const { api, rpc } = setup();
  await rpc('session-set', { 'dht-enabled': false, 'bitpeer-dht-bootstrap': ['127.0.0.1:6881', ' router.example.org:25401'] });
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ dht: false, dhtBootstrap: ['127.0.0.1:6881', 'router.example.org:25401'] }]);
  const got = (await rpc('session-get', { fields: ['dht-enabled', 'bitpeer-dht-bootstrap'] })).arguments;
  assert.deepEqual(got, { 'dht-enabled': false, 'bitpeer-dht-bootstrap': ['127.0.0.1:6881', 'router.example.org:25401'] });
  const calls = api.callsTo('setSettings').length;
  for (const junk of [['127.0.0.1'], 'a:1', [7], Array.from({ length: 65 }, () => '127.0.0.1:1')]) {
    const r = await rpc('session-set', { 'dht-enabled': true, 'bitpeer-dht-bootstrap': junk });
    assert.match(r.result, /^invalid argument "bitpeer-dht-bootstrap"/, JSON.stringify(junk));
  }
  assert.equal(api.callsTo('setSettings').length, calls, 'a bad list changes nothing, not even dht-enabled');
  assert.equal((await rpc('session-stats')).arguments['bitpeer-dht'], null, 'null while off (the fake has no DHT)');
});

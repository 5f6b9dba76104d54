// RpcMethods without HTTP, over both protocols (the legacy one and JSON-RPC 2.0 with Transmission 4.1's names, through
// jsonrpc.ts): the `ids` rules (absent = all, [] = none, unknown skipped, "recently-active"), torrent-get formats,
// torrent-set / session-set semantics (kB/s with k = 1000, the *-enabled flags, "empty list = all files"),
// torrent-add's sources and file choices, sequential download, free-space, and how errors become results.
// JSON-RPC-only cases (ids, errors, notifications, batches, the exact 4.1 names) are in jsonrpc.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { FakeApi } from '../../../test/support/fake-api.js';
import { PROTOCOLS, type RpcProtocol, type RpcReply } from '../../../test/support/rpc-protocols.js';
import { RpcMethods } from './methods.js';
import { answerRpcBody } from './jsonrpc.js';
import { TORRENT_FIELDS } from './fields.js';
import type { BitpeerApi } from '../types.js';
import { encode } from '../../bencode/index.js';

/** A three-file .torrent (metadata only: the fake never reads data). */
function multiFileTorrent(): Buffer {
  return encode({
    info: {
      name: Buffer.from('album'), 'piece length': 16_384, pieces: Buffer.alloc(20 * 2),
      files: [
        { length: 10_000, path: [Buffer.from('a.flac')] },
        { length: 10_000, path: [Buffer.from('b.flac')] },
        { length: 100, path: [Buffer.from('cover.jpg')] },
      ],
    },
  });
}

type Rpc = (method: string, args?: Record<string, unknown>) => Promise<RpcReply>;

/** `rpc(method, args)` over protocol `p` (legacy names in, the reply normalised to the legacy shape). */
function driver(p: RpcProtocol, m: RpcMethods): Rpc {
  return async (method, args) => {
    const answer = await answerRpcBody(m, JSON.stringify(p.body(method, args)));
    return p.reply(answer.body);
  };
}

function setup(p: RpcProtocol, nowMs = Date.now()): { api: FakeApi; m: RpcMethods; logs: string[]; rpc: Rpc } {
  const api = new FakeApi({ now: () => nowMs });
  const logs: string[] = [];
  const m = new RpcMethods(api, { now: () => nowMs, sessionId: 'sid', log: (s) => logs.push(s) });
  return { api, m, logs, rpc: driver(p, m) };
}

const ids = (r: RpcReply): number[] => (r.arguments['torrents'] as { id: number }[]).map((t) => t.id);

for (const p of PROTOCOLS) describe(`RPC methods over ${p.name}`, () => {
  const n = p.n;

test('ids: absent = all, [] = none, unknown skipped, hashes in any case, numeric strings, a single number', async () => {
  const { rpc } = setup(p);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'] })), [1, 2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: [] })), []);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: [2, 99, 'f'.repeat(40), 'nonsense'] })), [2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: '2'.repeat(40).toUpperCase() })), [2]);
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: ['1', 1] })), [1], 'no duplicates');
  assert.deepEqual(ids(await rpc('torrent-get', { fields: ['id'], ids: 1 })), [1]);
});

test('an empty ids list never acts on everything; absent ids does', async () => {
  const { api, rpc } = setup(p);
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
  const rpc = driver(p, new RpcMethods(api, { now: () => now }));
  const get = (): Promise<RpcReply> => rpc('torrent-get', { ids: 'recently-active', fields: ['id'] });
  const first = await get();
  assert.deepEqual(ids(first), [1, 2], 'torrent 1 has activityDate now-1, torrent 2 is downloading');
  assert.deepEqual(first.arguments['removed'], []);
  await rpc('torrent-remove', { ids: [2] });
  assert.deepEqual((await get()).arguments['removed'], [2]);
  now += 61_000;
  const later = await get();
  assert.deepEqual(later.arguments['removed'], [], 'forgotten after the window');
  assert.deepEqual(ids(later), [], 'torrent 1 last active 62 s ago');
});

test('torrent-get: only the known fields asked for, in order; unknown ones skipped and logged once; table format', async () => {
  const { rpc, logs } = setup(p);
  const r = await rpc('torrent-get', { ids: [1], fields: ['name', 'bogus', 'id', 'name'] });
  assert.deepEqual(r.arguments['torrents'], [{ name: 'ubuntu-24.04-desktop-amd64.iso', id: 1 }]);
  await rpc('torrent-get', { ids: [1], fields: ['bogus'] });
  assert.equal(logs.filter((l) => l.includes('"bogus"')).length, 1);
  const t = await rpc('torrent-get', { format: 'table', fields: ['id', 'status', 'percentDone'] });
  assert.deepEqual(t.arguments['torrents'], [[n('id'), n('status'), n('percentDone')], [1, 6, 1], [2, 4, (250_300_000 - 150_000_000) / 250_300_000]]);
});

test('torrent-get answers every field it knows, integers as integers', async () => {
  const { rpc, api } = setup(p);
  api.torrents[1]!.downloadRate = 1234.56; // rates are meters: fractions must not reach the wire
  api.torrents[1]!.eta = 61.7;
  const r = await rpc('torrent-get', { fields: TORRENT_FIELDS });
  const torrents = r.arguments['torrents'] as Record<string, unknown>[];
  const reals = new Set(['percentDone', 'percentComplete', 'uploadRatio', 'recheckProgress', 'metadataPercentComplete', 'seedRatioLimit'].map(n));
  for (const t of torrents) {
    assert.deepEqual(Object.keys(t).sort(), TORRENT_FIELDS.map(n).sort());
    for (const [k, v] of Object.entries(t)) {
      if (typeof v === 'number' && !reals.has(k)) assert.ok(Number.isInteger(v), `${k} = ${v}`);
    }
  }
  assert.equal(torrents[1]![n('rateDownload')], 1235);
  assert.equal(torrents[1]!['eta'], 62);
});

test('torrent-set: empty file lists mean all files; an index out of range changes nothing', async () => {
  const { api, rpc } = setup(p);
  const bad = await rpc('torrent-set', { ids: [2], 'files-wanted': [0, 3] });
  assert.equal(bad.result, 'file index out of range');
  assert.equal(api.callsTo('setFiles').length, 0);
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-wanted': [], 'priority-high': [] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[0]?.args, [[2], { wanted: [0, 1, 2], priorityHigh: [0, 1, 2] }]);
  assert.ok(api.torrents[1]!.files.every((f) => f.wanted && f.priority === 'high'));
});

test('torrent-set limits: kB/s × 1000; Limited=false clears; Limited=true alone leaves it; other keys ignored', async () => {
  const { api, rpc } = setup(p);
  await rpc('torrent-set', { ids: [1], downloadLimit: 500, downloadLimited: true, uploadLimit: 20 });
  assert.deepEqual(api.callsTo('setLimits').at(-1)?.args, [[1], { downloadLimit: 500_000, uploadLimit: 20_000 }]);
  await rpc('torrent-set', { ids: [1], downloadLimited: false });
  assert.deepEqual(api.callsTo('setLimits').at(-1)?.args, [[1], { downloadLimit: 0 }]);
  const calls = api.callsTo('setLimits').length;
  assert.equal((await rpc('torrent-set', { ids: [1], uploadLimited: true, labels: ['x'], 'peer-limit': 5, location: '/x' })).result, 'success');
  assert.equal(api.callsTo('setLimits').length, calls);
  const got = await rpc('torrent-get', { ids: [1], fields: ['downloadLimit', 'downloadLimited', 'uploadLimit', 'uploadLimited'] });
  assert.deepEqual(got.arguments['torrents'], [{ [n('downloadLimit')]: 0, [n('downloadLimited')]: false, [n('uploadLimit')]: 20, [n('uploadLimited')]: true }]);
});

test('session-set: the queues, Transmission\'s way (enabled false = no limit; enabling one that is off takes the default size)', async () => {
  const { api, rpc } = setup(p);
  const queues = async (args: Record<string, unknown>): Promise<[number, number]> => {
    await rpc('session-set', args);
    const got = (await rpc('session-get', { fields: ['download-queue-enabled', 'download-queue-size', 'seed-queue-enabled', 'seed-queue-size'] })).arguments;
    assert.equal(got[n('seed-queue-enabled')], api.settings.maxActiveSeeds > 0);
    assert.equal(got[n('download-queue-enabled')], api.settings.maxActiveDownloads > 0);
    return [api.settings.maxActiveDownloads, api.settings.maxActiveSeeds];
  };
  assert.deepEqual(await queues({ 'seed-queue-enabled': false }), [api.settings.maxActiveDownloads, 0]);
  assert.deepEqual(await queues({ 'seed-queue-enabled': true }), [api.settings.maxActiveDownloads, 10]);
  assert.deepEqual(await queues({ 'seed-queue-size': 3 }), [api.settings.maxActiveDownloads, 3]);
  assert.deepEqual(await queues({ 'seed-queue-enabled': true }), [api.settings.maxActiveDownloads, 3], 'already on: unchanged');
  assert.deepEqual(await queues({ 'download-queue-enabled': false, 'download-queue-size': 7 }), [0, 3], 'disabled wins');
  assert.deepEqual(await queues({ 'download-queue-enabled': true }), [5, 3]);
  assert.deepEqual(await queues({ 'download-queue-size': 2, 'download-queue-enabled': true }), [2, 3]);
});

test('session-set: the speed limits and flags, the mapped keys, and harmless acceptance of the rest', async () => {
  const { api, rpc } = setup(p);
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
  assert.equal(s[n('utp-enabled')], false);
  assert.equal(s[n('speed-limit-up')], 0);
  assert.equal(s[n('speed-limit-up-enabled')], false);
  assert.equal(s[n('download-dir')], '/data');
  assert.equal(s[n('lpd-enabled')], false);
  assert.equal((s['units'] as Record<string, unknown>)[n('speed-bytes')], 1000);
});

test('torrent-add: sources, options and refusals', async () => {
  const { api, rpc } = setup(p);
  const mag = `magnet:?xt=urn:btih:${'a'.repeat(40)}&dn=Film`;
  const r = await rpc('torrent-add', { filename: mag, 'download-dir': '/dl', paused: 1, cookies: 'x=y' });
  assert.deepEqual(r.arguments, { [n('torrent-added')]: { id: 3, name: 'Film', [n('hashString')]: 'a'.repeat(40) } });
  assert.deepEqual(api.callsTo('add')[0]?.args[1], { downloadDir: '/dl', paused: true });
  const dup = await rpc('torrent-add', { filename: mag });
  assert.equal(dup.result, 'success');
  assert.deepEqual(dup.arguments, { [n('torrent-duplicate')]: { id: 3, name: 'Film', [n('hashString')]: 'a'.repeat(40) } });
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
  assert.equal(api.torrents.length, 3, 'no refusal added anything');
});

test('torrent-add with file choices: added paused, files set, then started (unless paused was asked)', async () => {
  const { api, rpc } = setup(p);
  const torrent = multiFileTorrent();
  const r = await rpc('torrent-add', { metainfo: torrent.toString('base64'), 'files-unwanted': [1], 'priority-high': [2] });
  assert.equal(r.result, 'success');
  const id = (r.arguments[n('torrent-added')] as { id: number }).id;
  // The order is the point: no start before the file choices are in.
  const order = api.calls.filter((c) => ['add', 'setFiles', 'start'].includes(c.method)).map((c) => c.method);
  assert.deepEqual(order, ['add', 'setFiles', 'start']);
  assert.equal((api.callsTo('add')[0]!.args[1] as { paused?: boolean }).paused, true);
  assert.deepEqual(api.callsTo('setFiles')[0]!.args, [[id], { unwanted: [1], priorityHigh: [2] }]);
  const t = api.torrents.find((x) => x.id === id)!;
  assert.deepEqual(t.files.map((f) => [f.wanted, f.priority]), [[true, 'normal'], [false, 'normal'], [true, 'high']]);
  assert.equal(t.state, 'downloading');

  // paused asked: the choices are applied and it stays paused
  const { api: api2, rpc: rpc2 } = setup(p);
  const r2 = await rpc2('torrent-add', { metainfo: torrent.toString('base64'), 'files-wanted': [0], 'files-unwanted': [1, 2], paused: true });
  assert.equal(r2.result, 'success');
  assert.equal(api2.callsTo('start').length, 0);
  assert.deepEqual(api2.torrents.at(-1)!.files.map((f) => f.wanted), [true, false, false]);
  assert.equal(api2.torrents.at(-1)!.state, 'paused');
});

test('torrent-add with a bad file index removes what it added; a magnet with file choices is refused before adding', async () => {
  const { api, rpc } = setup(p);
  const bad = await rpc('torrent-add', { metainfo: multiFileTorrent().toString('base64'), 'files-unwanted': [3] });
  assert.equal(bad.result, 'file index out of range');
  assert.equal(api.torrents.length, 2, 'the torrent added for the call is gone again');
  assert.deepEqual(api.callsTo('remove').at(-1)?.args.slice(1), [false], 'and its data is never deleted');
  assert.equal(api.callsTo('start').length, 0);
  const mag = await rpc('torrent-add', { filename: `magnet:?xt=urn:btih:${'b'.repeat(40)}`, 'files-wanted': [0] });
  assert.match(mag.result, /metadata/);
  assert.equal(api.callsTo('add').length, 1, 'the magnet was never added');
});

test('sequential download: torrent-get reports it, torrent-set and torrent-add set it through api.setSequential', async () => {
  const { api, rpc } = setup(p);
  const get = async (): Promise<unknown[]> =>
    ((await rpc('torrent-get', { fields: ['id', 'sequentialDownload'] })).arguments['torrents'] as Record<string, unknown>[]).map((t) => t[n('sequentialDownload')]);
  assert.deepEqual(await get(), [false, false]);
  assert.equal((await rpc('torrent-set', { ids: [2], sequentialDownload: true })).result, 'success');
  assert.deepEqual(api.callsTo('setSequential').at(-1)?.args, [[2], true]);
  assert.deepEqual(await get(), [false, true]);
  assert.match((await rpc('torrent-set', { ids: [2], sequentialDownload: 'yes' })).result, /sequential/i);
  const added = await rpc('torrent-add', { metainfo: multiFileTorrent().toString('base64'), sequentialDownload: true });
  const id = (added.arguments[n('torrent-added')] as { id: number }).id;
  assert.deepEqual(api.calls.filter((c) => ['add', 'setSequential', 'start'].includes(c.method)).slice(-3).map((c) => c.method), ['add', 'setSequential', 'start']);
  assert.equal(api.torrents.find((t) => t.id === id)?.sequentialDownload, true);

  // A facade without setSequential: a clear refusal, and nothing changes (not even the other arguments).
  const plain = new FakeApi();
  const noSeq = Object.assign(Object.create(plain) as BitpeerApi, { setSequential: undefined });
  const rpc2 = driver(p, new RpcMethods(noSeq));
  const r = await rpc2('torrent-set', { ids: [2], sequentialDownload: true, 'files-unwanted': [0] });
  assert.equal(r.result, 'sequential download is not supported by this daemon');
  assert.equal(plain.callsTo('setFiles').length, 0);
  assert.match((await rpc2('torrent-add', { metainfo: multiFileTorrent().toString('base64'), sequentialDownload: true })).result, /not supported/);
  assert.equal(plain.callsTo('add').length, 0);
});

test('free-space: the path, its free bytes; missing, relative and nonexistent paths', async () => {
  const { rpc } = setup(p);
  const ok = await rpc('free-space', { path: tmpdir() });
  assert.equal(ok.arguments['path'], tmpdir());
  assert.ok(Number(ok.arguments[n('size-bytes')]) > 0);
  assert.equal((await rpc('free-space', {})).result, 'directory path argument is missing');
  assert.equal((await rpc('free-space', { path: 'tmp' })).result, 'directory path is not absolute');
  const gone = await rpc('free-space', { path: '/nonexistent/bitpeer/dir' });
  assert.notEqual(gone.result, 'success');
  assert.equal(gone.arguments[n('size-bytes')], -1);
});

test('unsupported methods and session-close without shutdown say so; internal errors are reported, not thrown', async () => {
  const { api, rpc, logs } = setup(p);
  assert.match((await rpc('queue-move-top', { ids: [1] })).result, /not supported/);
  const noShutdown = Object.assign(Object.create(api) as BitpeerApi, { shutdown: undefined });
  assert.match((await driver(p, new RpcMethods(noShutdown))('session-close')).result, /not supported/);
  api.failNext = new TypeError('boom');
  const r = await rpc('torrent-verify', { ids: [1] });
  assert.equal(r.result, 'internal error: boom');
  assert.ok(logs.some((l) => l.includes('torrent-verify failed: boom')));
});

test('the tag is echoed when it is a number, and only then (legacy)', { skip: p.name !== 'legacy' }, async () => {
  const { m } = setup(p);
  assert.equal((await m.handle({ method: 'session-stats', tag: 12 })).response.tag, 12);
  assert.equal((await m.handle({ method: 'session-stats', tag: 'x' })).response.tag, undefined);
  assert.equal((await m.handle({ method: 'nope', tag: 3 })).response.tag, 3);
});

test('torrent-set-location passes ids, the absolute location and move (default false) to the API', async () => {
  const { api, rpc } = setup(p);
  assert.equal((await rpc('torrent-set-location', { ids: [1], location: '/srv/new', move: true })).result, 'success');
  assert.deepEqual(api.callsTo('setLocation')[0]?.args, [[1], '/srv/new', true]);
  assert.equal((await rpc('torrent-set-location', { ids: [2], location: '/srv/other' })).result, 'success');
  assert.deepEqual(api.callsTo('setLocation')[1]?.args, [[2], '/srv/other', false]);
  assert.equal((await rpc('torrent-set-location', { ids: [1], location: 'relative' })).result, 'invalid argument "location": expected an absolute path');
  assert.equal((await rpc('torrent-set-location', { ids: [1] })).result, 'missing argument "location"');
  assert.equal(api.callsTo('setLocation').length, 2);
});

test('BEP 47 pad files are hidden from the RPC and its file indices skip them', async () => {
  const { api, rpc } = setup(p);
  const t = api.torrents[1]!;
  // Put a pad after the first file: [f0, pad, f1, f2] in the API; the RPC shows [f0, f1, f2].
  const pad = { path: `${t.name}/.pad/100`, length: 100, bytesCompleted: 0, wanted: true, priority: 'normal' as const, padding: true };
  t.files.splice(1, 0, pad);
  const before = { totalSize: t.totalSize, sizeWhenDone: t.sizeWhenDone, leftUntilDone: t.leftUntilDone };
  t.totalSize += 100; t.sizeWhenDone += 100; t.leftUntilDone += 100;
  const got = await rpc('torrent-get', { ids: [2], fields: ['files', 'fileStats', 'file-count', 'wanted', 'priorities', 'totalSize', 'sizeWhenDone', 'leftUntilDone', 'bytesCompleted'] });
  const o = (got.arguments as { torrents: Record<string, unknown>[] }).torrents[0]!;
  assert.equal(o[n('file-count')], 3);
  const files = o['files'] as Record<string, unknown>[];
  assert.deepEqual(files.map((f) => f['name']), t.files.filter((f) => f.padding !== true).map((f) => f.path));
  // begin/end pieces (end exclusive) count the pad's 100 bytes: file 1 starts at 250_000_100 in 262_144-byte pieces.
  assert.deepEqual(files.map((f) => [f[n('beginPiece')], f[n('endPiece')]]), [[0, 954], [953, 955], [954, 955]]);
  assert.equal((o[n('fileStats')] as unknown[]).length, 3);
  assert.deepEqual(o['wanted'], [p.wanted(true), p.wanted(true), p.wanted(false)]);
  assert.deepEqual(o[n('bytesCompleted')], [100_000_000, 300_000, 0]);
  assert.deepEqual({ totalSize: o[n('totalSize')], sizeWhenDone: o[n('sizeWhenDone')], leftUntilDone: o[n('leftUntilDone')] }, before);
  // RPC index 1 is the API's file 2 (the pad at API index 1 is skipped); index 3 is out of range.
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-unwanted': [1] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[0]?.args, [[2], { unwanted: [2] }]);
  assert.equal((await rpc('torrent-set', { ids: [2], 'files-unwanted': [3] })).result, 'file index out of range');
  assert.equal((await rpc('torrent-set', { ids: [2], 'priority-high': [] })).result, 'success');
  assert.deepEqual(api.callsTo('setFiles')[1]?.args, [[2], { priorityHigh: [0, 2, 3] }]);
});

test('the DHT: dht-enabled and bitpeer-dht-bootstrap in session-get/set (junk changes nothing), bitpeer-dht in session-stats', async () => {
  const { api, rpc } = setup(p);
  await rpc('session-set', { 'dht-enabled': false, 'bitpeer-dht-bootstrap': ['127.0.0.1:6881', ' router.example.org:25401'] });
  assert.deepEqual(api.callsTo('setSettings').at(-1)?.args, [{ dht: false, dhtBootstrap: ['127.0.0.1:6881', 'router.example.org:25401'] }]);
  const got = (await rpc('session-get', { fields: ['dht-enabled', 'bitpeer-dht-bootstrap'] })).arguments;
  assert.deepEqual(got, { [n('dht-enabled')]: false, [n('bitpeer-dht-bootstrap')]: ['127.0.0.1:6881', 'router.example.org:25401'] });
  const calls = api.callsTo('setSettings').length;
  for (const junk of [['127.0.0.1'], 'a:1', [7], Array.from({ length: 65 }, () => '127.0.0.1:1')]) {
    const r = await rpc('session-set', { 'dht-enabled': true, 'bitpeer-dht-bootstrap': junk });
    assert.ok(r.result.startsWith(`invalid argument "${n('bitpeer-dht-bootstrap')}"`), `${JSON.stringify(junk)}: ${r.result}`);
  }
  assert.equal(api.callsTo('setSettings').length, calls, 'a bad list changes nothing, not even dht-enabled');
  assert.equal((await rpc('session-stats')).arguments[n('bitpeer-dht')], null, 'null while off (the fake has no DHT)');
});
});

// bitpeer's client commands (add, ls, pause, resume, rm, stats) against the RPC server on the FakeApi, on
// 127.0.0.1: their output (human and --json), exit codes, id checks before acting, credentials from the environment,
// and the one-line error when no daemon is listening.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BtError } from '../../util/errors.js';
import { createTorrent } from '../../create/create-torrent.js';
import { FakeApi } from '../../../test/support/fake-api.js';
import { startRpcServer, type RpcServer } from '../../api/rpc/server.js';
import { localDaemonCredentials, remoteCommand } from './remote.js';

const root = mkdtempSync(path.join(tmpdir(), 'bitpeer-remote-'));
let api: FakeApi;
let server: RpcServer;

interface Result { code: number; out: string; err: string }

async function run(name: string, argv: string[], env: Record<string, string> = {}, port = server.port): Promise<Result> {
  let out = '';
  let err = '';
  const code = await remoteCommand(name, [...argv, '--rpc-port', String(port)], {
    out: { write: (s: string) => { out += s; } }, err: { write: (s: string) => { err += s; } }, env, cwd: root,
  });
  return { code, out, err };
}

before(async () => {
  api = new FakeApi();
  server = await startRpcServer(api, { port: 0 });
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

test('ls: a table with state words, sizes and rates; --json: one object per torrent', async () => {
  const r = await run('ls', []);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+Done\s+Size\s+Down\s+Up\s+Peers\s+ETA\s+State\s+Name$/);
  assert.match(lines[1]!, /^1\s+100\.0%\s+4\.4 GiB\s+0 B\/s\s+1\.2 MiB\/s\s+2\s+-\s+seeding\s+ubuntu-24\.04-desktop-amd64\.iso$/);
  assert.match(lines[2]!, /^2\s+40\.0%\s+238\.7 MiB\s+2\.4 MiB\/s\s+0 B\/s\s+2\s+1m00s\s+downloading\s+Big Buck Bunny$/);
  const j = await run('ls', ['--json']);
  const rows = j.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rows.length, 2);
  assert.deepEqual({ id: rows[0]!['id'], state: rows[0]!['state'], infoHash: rows[0]!['infoHash'], eta: rows[0]!['eta'] },
    { id: 1, state: 'seeding', infoHash: '1'.repeat(40), eta: null });
  assert.equal(rows[1]!['downloadRate'], 2_500_000);
});

test('stats: human lines and --json', async () => {
  const r = await run('stats', []);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^torrents: 2 \(2 active, 0 paused\)$/m);
  assert.match(r.out, /^this session: downloaded 4\.5 GiB, uploaded 8\.8 GiB, ratio 1\.96, running 1h02m$/m);
  const j = JSON.parse((await run('stats', ['--json'])).out) as Record<string, unknown>;
  assert.equal(j['torrentCount'], 2);
  assert.deepEqual(j['cumulative'], { uploadedBytes: 9_405_000_000, downloadedBytes: 4_807_000_000, secondsActive: 90_000, sessionCount: 4 });
});

test('add: a .torrent inline, a magnet, -o relative to the cwd, --paused; again: "already added"', async () => {
  const data = path.join(root, 'song.flac');
  writeFileSync(data, Buffer.alloc(50_000, 1));
  const { torrent, meta } = await createTorrent(data, { creationDate: null });
  writeFileSync(path.join(root, 'song.torrent'), torrent);
  const r = await run('add', ['song.torrent', '--paused', '-o', 'music']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `added: #3 song.flac (${meta.infoHashHex})\n`);
  const call = api.callsTo('add').at(-1)!;
  assert.equal((call.args[0] as { torrentFile?: string }).torrentFile, `<${torrent.length} bytes>`, 'sent as metainfo');
  assert.deepEqual(call.args[1], { downloadDir: path.join(root, 'music'), paused: true });
  const again = await run('add', ['song.torrent', '--json']);
  assert.deepEqual(JSON.parse(again.out), { event: 'added', id: 3, name: 'song.flac', infoHash: meta.infoHashHex, duplicate: true });
  const mag = await run('add', [`magnet:?xt=urn:btih:${'d'.repeat(40)}&dn=Doc`]);
  assert.equal(mag.out, `added: #4 Doc (${'d'.repeat(40)}); fetching metadata from peers (see \`bitpeer ls\`)\n`);
  // A magnet without its metadata yet (metadataPercentComplete 0): size unknown, state "fetching metadata".
  const ls = await run('ls', []);
  assert.match(ls.out, /^4\s+0\.0%\s+\?\s+0 B\/s\s+0 B\/s\s+0\s+-\s+fetching metadata\s+Doc$/m);
  const row = (await run('ls', ['--json'])).out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((x) => x['id'] === 4);
  assert.deepEqual([row?.['state'], row?.['metadata']], ['fetching-metadata', false]);
});

test('add: a .torrent too big to send inline goes by absolute path', async () => {
  const data = path.join(root, 'big-comment.bin');
  writeFileSync(data, Buffer.alloc(20_000, 2));
  const { torrent } = await createTorrent(data, { creationDate: null });
  assert.equal(torrent[0], 0x64); // 'd'
  const comment = 'c'.repeat(800 * 1024);
  const big = Buffer.concat([Buffer.from(`d7:comment${comment.length}:${comment}`), torrent.subarray(1)]);
  writeFileSync(path.join(root, 'big.torrent'), big);
  const r = await run('add', ['big.torrent']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(api.callsTo('add').at(-1)!.args[0], { path: path.join(root, 'big.torrent'), torrentFile: undefined });
});

test('add: errors per source are reported; a missing file or a URL is refused before any request', async () => {
  const bad = await run('add', ['magnet:?xt=urn:btih:nothex']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^bitpeer: error: magnet:\?xt=urn:btih:nothex: .*magnet/);
  const n = api.calls.length;
  const missing = await run('add', ['nope.torrent']);
  assert.equal(missing.code, 1);
  assert.equal(missing.err, 'bitpeer: error: no such file: nope.torrent\n');
  const url = await run('add', ['https://example.com/a.torrent']);
  assert.equal(url.code, 2);
  assert.equal(api.calls.length, n);
});

test('pause / resume by id, hash and "all"; an unknown id fails before anything changes', async () => {
  const p = await run('pause', ['1', '2'.repeat(40)]);
  assert.equal(p.code, 0, p.err);
  assert.equal(p.out, 'paused: #1 ubuntu-24.04-desktop-amd64.iso\npaused: #2 Big Buck Bunny\n');
  assert.deepEqual(api.callsTo('stop').at(-1)?.args, [[1, 2]]);
  const stops = api.callsTo('stop').length;
  const unknown = await run('resume', ['1', '99']);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.err, 'bitpeer: error: no torrent with id 99 (see `bitpeer ls`)\n');
  assert.equal(api.callsTo('start').length, 0);
  assert.equal((await run('pause', ['one'])).code, 2);
  const all = await run('resume', ['all', '--json']);
  assert.equal(all.code, 0);
  assert.equal(all.out.trimEnd().split('\n').length, api.torrents.length);
  assert.deepEqual(api.callsTo('start').at(-1)?.args, [api.torrents.map((t) => t.id)], 'all: every torrent');
  assert.equal(api.callsTo('stop').length, stops);
});

test('pause / rm by a unique info-hash prefix (as the log shows them); ambiguous or unknown prefixes fail in one line', async () => {
  const fake = new FakeApi();
  fake.torrents.push({ ...structuredClone(fake.torrents[1]!), id: 9, infoHash: `2222${'a'.repeat(36)}`, name: 'Twin' });
  const s = await startRpcServer(fake, { port: 0 });
  try {
    const p = await run('pause', ['2222aaaa'], {}, s.port);
    assert.equal(p.code, 0, p.err);
    assert.equal(p.out, 'paused: #9 Twin\n');
    assert.deepEqual(fake.callsTo('stop').at(-1)?.args, [[9]]);
    const digits = await run('pause', ['11111111', '22222'], {}, s.port); // digits: not an id here, so a prefix
    assert.equal(digits.code, 0, digits.err);
    assert.deepEqual(fake.callsTo('stop').at(-1)?.args, [[1, 2]]);
    const stops = fake.callsTo('stop').length;
    const ambiguous = await run('pause', ['1', '2222'], {}, s.port);
    assert.equal(ambiguous.code, 1);
    assert.equal(ambiguous.err, 'bitpeer: error: "2222" matches 2 torrents: #2 Big Buck Bunny (222222222222…), #9 Twin (2222aaaaaaaa…); give more hex digits or the id\n');
    const unknown = await run('rm', ['abcdef'], {}, s.port);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.err, 'bitpeer: error: no torrent with id abcdef (see `bitpeer ls`)\n');
    assert.equal((await run('pause', ['abc'], {}, s.port)).code, 2, 'three hex digits are too few');
    assert.equal(fake.callsTo('stop').length, stops, 'nothing was paused by the failed commands');
    assert.equal(fake.callsTo('remove').length, 0);
    const rm = await run('rm', ['2222AAAA'], {}, s.port);
    assert.equal(rm.out, 'removed: #9 Twin\n');
  } finally {
    await s.close();
  }
});

test('rm with and without --delete-data; never "all"', async () => {
  assert.equal((await run('rm', ['all'])).code, 2);
  const r = await run('rm', ['4']);
  assert.equal(r.out, 'removed: #4 Doc\n');
  assert.deepEqual(api.callsTo('remove').at(-1)?.args, [[4], false]);
  const d = await run('rm', ['3', '--delete-data']);
  assert.equal(d.out, 'removed: #3 song.flac (and deleted its data)\n');
  assert.deepEqual(api.callsTo('remove').at(-1)?.args, [[3], true]);
});

test('an API error is one line and exit 1', async () => {
  api.failNext = new BtError('IO', 'disk on fire');
  const r = await run('stats', []);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'bitpeer: error: session-stats: disk on fire\n');
});

test('no daemon: one clear line, exit 1', async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0 });
  const port = s.port;
  await s.close();
  const r = await run('ls', [], {}, port);
  assert.equal(r.code, 1);
  assert.equal(r.err, `bitpeer: error: cannot reach the bitpeer daemon at 127.0.0.1:${port} — is \`bitpeer daemon\` running?\n`);
  assert.equal(r.out, '');
});

test('credentials from --rpc-user/--rpc-password or BITPEER_RPC_USER/BITPEER_RPC_PASSWORD', async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0, auth: { user: 'u', password: 'p w' } });
  try {
    const none = await run('ls', [], { XDG_DATA_HOME: root }, s.port); // no rpc-credentials.json there
    assert.equal(none.code, 1);
    assert.match(none.err, /refused the credentials/);
    assert.equal((await run('ls', [], { BITPEER_RPC_USER: 'u', BITPEER_RPC_PASSWORD: 'p w' }, s.port)).code, 0);
    assert.equal((await run('ls', ['--rpc-user', 'u', '--rpc-password', 'p w'], {}, s.port)).code, 0);
  } finally {
    await s.close();
  }
});

test('no credentials given: a local daemon that asks gets the ones it made itself (state-dir/rpc-credentials.json), once', async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0, auth: { user: 'bitpeer', password: 'made-by-the-daemon' } });
  const xdg = mkdtempSync(path.join(root, 'xdg-'));
  const stateDir = path.join(xdg, 'bitpeer');
  try {
    mkdirSync(stateDir);
    writeFileSync(path.join(stateDir, 'rpc-credentials.json'), '{"user":"bitpeer","password":"made-by-the-daemon"}\n', { mode: 0o600 });
    // The default state folder ($XDG_DATA_HOME/bitpeer), and --state-dir (relative to the cwd).
    assert.equal((await run('ls', [], { XDG_DATA_HOME: xdg }, s.port)).code, 0);
    assert.equal((await run('ls', ['--state-dir', path.relative(root, stateDir)], { XDG_DATA_HOME: root }, s.port)).code, 0);
    // Credentials given explicitly are never replaced by the file's.
    const wrong = await run('ls', ['--rpc-user', 'bitpeer', '--rpc-password', 'wrong'], { XDG_DATA_HOME: xdg }, s.port);
    assert.equal(wrong.code, 1);
    assert.match(wrong.err, /refused the credentials/);
    // A file with other credentials: asked once, then the 401 is reported (no loop).
    writeFileSync(path.join(stateDir, 'rpc-credentials.json'), '{"user":"bitpeer","password":"stale-password"}\n');
    const stale = await run('ls', [], { XDG_DATA_HOME: xdg }, s.port);
    assert.equal(stale.code, 1);
    assert.match(stale.err, /refused the credentials/);
    // An unusable file is ignored, not an error of its own.
    writeFileSync(path.join(stateDir, 'rpc-credentials.json'), 'not json');
    assert.match((await run('ls', [], { XDG_DATA_HOME: xdg }, s.port)).err, /refused the credentials/);
  } finally {
    await s.close();
  }
});

test('a daemon elsewhere never gets the local credential file', async () => {
  const dir = mkdtempSync(path.join(root, 'state-'));
  writeFileSync(path.join(dir, 'rpc-credentials.json'), '{"user":"bitpeer","password":"made-by-the-daemon"}');
  for (const host of ['192.168.1.5', 'nas.local', '10.0.0.1', '[2001:db8::1]']) assert.equal(localDaemonCredentials(host, dir), undefined, host);
  for (const host of ['127.0.0.1', 'localhost', '[::1]', '127.0.0.2']) {
    assert.deepEqual(await localDaemonCredentials(host, dir)?.(), { user: 'bitpeer', password: 'made-by-the-daemon' }, host);
  }
});

test('usage: --help, an unknown command, bad options', async () => {
  const h = await run('add', ['--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /^usage: bitpeer add /);
  assert.equal((await run('frobnicate', [])).code, 2);
  assert.equal((await run('ls', ['--bogus'])).code, 2);
  assert.equal((await run('ls', ['extra'])).code, 2);
  assert.equal((await run('pause', [])).code, 2);
});

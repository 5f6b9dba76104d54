// Interop: the real `transmission-remote` (Transmission 3.00) drives bitpeer's RPC server, here on the FakeApi in
// this process on 127.0.0.1. Every command must exit 0 and print sensible values; and no torrent-get may ask for a
// field we do not answer (the server logs such names). Skipped, with the reason printed, only when
// transmission-remote is missing (Debian package transmission-cli).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTorrent } from '../../src/create/create-torrent.js';
import { FakeApi } from '../support/fake-api.js';
import { startRpcServer, type RpcServer } from '../../src/api/rpc/server.js';

const probe = spawnSync('transmission-remote', ['--version'], { encoding: 'utf8' });
const missing = probe.error !== undefined ? 'transmission-remote not installed (apt-get install transmission-cli)' : undefined;
if (missing !== undefined) console.log(`# skipping transmission-remote interop: ${missing}`);

const root = mkdtempSync(path.join(tmpdir(), 'bitpeer-trremote-'));
let api: FakeApi;
let server: RpcServer | undefined;
const logs: string[] = [];

interface Run { code: number; out: string; err: string }

/** Runs transmission-remote against `port` (asynchronously: the server lives in this process). */
function remote(port: number, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('transmission-remote', [`127.0.0.1:${port}`, ...args], { timeout: 20_000, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } },
      (err, out, errText) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, out, err: errText });
      });
  });
}

/** Runs it and requires exit 0. */
async function ok(...args: string[]): Promise<string> {
  const r = await remote(server!.port, ...args);
  assert.equal(r.code, 0, `transmission-remote ${args.join(' ')} exited ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

/** The -l line of the torrent named `name`. */
function listLine(list: string, name: string): string | undefined {
  return list.split('\n').find((l) => l.trimEnd().endsWith(`  ${name}`));
}

before(async () => {
  if (missing) return;
  api = new FakeApi();
  server = await startRpcServer(api, { port: 0, log: (m) => logs.push(m) });
});

after(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
  const unknown = logs.filter((l) => l.includes('unknown field'));
  assert.deepEqual(unknown, [], 'transmission-remote asked for fields we do not answer');
});

test('-l lists both torrents with percent, sizes, ratio and status words', { skip: missing }, async () => {
  const out = await ok('-l');
  assert.match(out, /^\s*ID\s+Done\s+Have\s+ETA\s+Up\s+Down\s+Ratio\s+Status\s+Name/);
  const seed = listLine(out, 'ubuntu-24.04-desktop-amd64.iso');
  assert.ok(seed, out);
  assert.match(seed, /^\s+1\s+100%\s+4\.70 GB\s+Done\s+1250\.0\s+0\.0\s+2\.0\s+Seeding\s/);
  const dl = listLine(out, 'Big Buck Bunny');
  assert.ok(dl, out);
  assert.match(dl, /^\s+2\s+40%\s+100\.3 MB\s+1 min\s+0\.0\s+2500\.0\s+0\.0\s+Downloading\s/);
  assert.match(out, /^Sum:\s+4\.80 GB\s+1250\.0\s+2500\.0$/m);
});

test('-t 1 -i shows the details', { skip: missing }, async () => {
  const out = await ok('-t', '1', '-i');
  for (const re of [
    /^ {2}Id: 1$/m, /^ {2}Name: ubuntu-24\.04-desktop-amd64\.iso$/m, /^ {2}Hash: 1{40}$/m, /^ {2}Magnet: magnet:\?xt=urn:btih:1{40}/m,
    /^ {2}State: Seeding$/m, /^ {2}Location: \/srv\/downloads$/m, /^ {2}Percent Done: 100%$/m, /^ {2}Upload Speed: 1\.25 MB\/s$/m,
    /^ {2}Have: 4\.70 GB \(4\.70 GB verified\)$/m, /^ {2}Total size: 4\.70 GB \(4\.70 GB wanted\)$/m, /^ {2}Ratio: 2\.0$/m,
    /^ {2}Peers: connected to 2, uploading to 2, downloading from 0$/m, /^ {2}Date added: /m, /^ {2}Public torrent: Yes$/m,
    /^ {2}Piece Count: 1121$/m, /^ {2}Piece Size: 4\.00 MiB$/m, /^ {2}Download Limit: Unlimited$/m, /^ {2}Peer limit: 50$/m,
  ]) assert.match(out, re);
});

test('-t 2 -if, -t 1 -it, -t 2 -ip, -t 1 -ic: files, trackers, peers, pieces', { skip: missing }, async () => {
  const files = await ok('-t', '2', '-if');
  assert.match(files, /^Big Buck Bunny \(3 files\):$/m);
  assert.match(files, /^ {2}0: {2}40% High {5}Yes {2}250\.0 MB {2}Big Buck Bunny\/bbb_1080p\.mp4$/m);
  assert.match(files, /^ {2}2: {3}0% Low {6}No {3}40\.00 kB {2}Big Buck Bunny\/subs\/en\.srt$/m);
  const trackers = await ok('-t', '1', '-it');
  assert.match(trackers, /Tracker 0: http:\/\/127\.0\.0\.1:6969/);
  assert.match(trackers, /Got a list of 12 peers/);
  const peers = await ok('-t', '2', '-ip');
  assert.match(peers, /^127\.0\.0\.4 +DX +100\.0 +1500\.0 +0\.0 +Deluge 2\.1$/m);
  const pieces = await ok('-t', '1', '-ic');
  assert.match(pieces, /^ {2}11111111 /);
});

test('-t 1 -S stops, -t 1 -s starts, -t 1 -v verifies', { skip: missing }, async () => {
  assert.match(await ok('-t', '1', '-S'), /responded: "success"/);
  assert.match(listLine(await ok('-l'), 'ubuntu-24.04-desktop-amd64.iso') ?? '', /\sStopped\s/);
  await ok('-t', '1', '-s');
  const started = listLine(await ok('-l'), 'ubuntu-24.04-desktop-amd64.iso') ?? '';
  assert.doesNotMatch(started, /Stopped/);
  assert.match(started, /\s(Idle|Seeding)\s/, 'running again (no peers yet after the stop: Idle)');
  await ok('-t', '1', '-v');
  assert.match(listLine(await ok('-l'), 'ubuntu-24.04-desktop-amd64.iso') ?? '', /\sVerifying\s/);
  assert.deepEqual(api.callsTo('verify').at(-1)?.args, [[1]]);
});

test('-a file.torrent adds it (sent as metainfo), -w sets its folder; adding it again is still success', { skip: missing }, async () => {
  const data = path.join(root, 'interop-data.bin');
  writeFileSync(data, Buffer.alloc(300_000, 3));
  const { torrent, meta } = await createTorrent(data, { creationDate: null });
  const file = path.join(root, 'interop.torrent');
  writeFileSync(file, torrent);
  assert.match(await ok('-a', file, '-w', root), /responded: "success"/);
  const line = listLine(await ok('-l'), 'interop-data.bin');
  assert.ok(line, 'listed after add');
  assert.match(line, /^\s+3\s+0%\s+None\s/);
  const info = await ok('-t', meta.infoHashHex, '-i');
  assert.match(info, new RegExp(`^ {2}Location: ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.match(info, /^ {2}Total size: 300\.0 kB/m);
  assert.match(await ok('-a', file), /responded: "success"/);
  assert.equal(api.torrents.filter((t) => t.name === 'interop-data.bin').length, 1);
});

test('limits: -d/-u globally and per torrent, in kB/s (k = 1000)', { skip: missing }, async () => {
  await ok('-d', '300');
  assert.equal(api.settings.downloadLimit, 300_000);
  assert.match(await ok('-si'), /Download speed limit: 300 kB\/s \(Enabled limit: 300 kB\/s;/);
  await ok('-D');
  assert.equal(api.settings.downloadLimit, 0);
  await ok('-t', '2', '-u', '50');
  assert.match(await ok('-t', '2', '-i'), /^ {2}Upload Limit: 50 kB\/s$/m);
  assert.equal(api.torrents.find((t) => t.id === 2)?.uploadLimit, 50_000);
  await ok('-t', '2', '-G', '1', '-ph', '0');
  const files = await ok('-t', '2', '-if');
  assert.match(files, /^ {2}1: 100% Normal {3}No /m);
});

test('-t 3 -r removes (data kept), -t 2 --remove-and-delete removes with its data', { skip: missing }, async () => {
  await ok('-t', '3', '-r');
  assert.deepEqual(api.callsTo('remove').at(-1)?.args, [[3], false]);
  await ok('-t', '2', '--remove-and-delete');
  assert.deepEqual(api.callsTo('remove').at(-1)?.args, [[2], true]);
  const list = await ok('-l');
  assert.equal(listLine(list, 'Big Buck Bunny'), undefined);
  assert.equal(listLine(list, 'interop-data.bin'), undefined);
  assert.ok(listLine(list, 'ubuntu-24.04-desktop-amd64.iso'));
});

test('-si shows the session, -st the statistics, -pt the port test', { skip: missing }, async () => {
  const si = await ok('-si');
  for (const re of [/Daemon version: 3\.00 \(bitpeer/, /RPC version: 16/, /Download directory: \/srv\/downloads/, /Listenport: 6881/,
    /Peer exchange allowed: Yes/, /Upload speed limit: Unlimited/]) assert.match(si, re);
  const st = await ok('-st');
  assert.match(st, /CURRENT SESSION\n {2}Uploaded: {3}9\.40 GB\n/);
  assert.match(st, /TOTAL\n {2}Started 4 times/);
  assert.match(await ok('-pt'), /Port is open: No/);
});

test('Basic auth: -n user:password works, a wrong password fails', { skip: missing }, async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0, auth: { user: 'admin', password: 'pa:ss word' } });
  try {
    const good = await remote(s.port, '-n', 'admin:pa:ss word', '-l');
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /Seeding/);
    const bad = await remote(s.port, '-n', 'admin:wrong', '-l');
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /Unexpected response: 401/);
  } finally {
    await s.close();
  }
});

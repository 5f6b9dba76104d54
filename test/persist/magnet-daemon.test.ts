/**
 * Issue 9, finding 4, in the daemon: a magnet link is accepted at once (`bitpeer add` and the RPC torrent-add), shown
 * as fetching metadata (`bitpeer ls`, torrent-get: metadataPercentComplete 0), persisted as a pending magnet, brought
 * back with the same id after `kill -9`, and completed in place (same id) once a seed appears at its x.pe address
 * (the link's tracker, the seed's own, is down until then). Pause and remove work on a pending magnet; adding it
 * again is a duplicate.
 * BEP 9 (ut_metadata), BEP 3.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree } from '../helpers/content.js';
import { bitpeerBin, Scope } from '../helpers/proc.js';
import {
  createTorrent, distinctPorts, startDaemon, startSeed, STATUS, torrents, waitComplete, waitUntil, type DaemonSpec,
} from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

function cli(args: string[], rpcPort: number): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args, '--rpc-port', String(rpcPort)], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

const MAGNET_FIELDS = ['id', 'name', 'hashString', 'status', 'metadataPercentComplete', 'percentDone', 'totalSize', 'eta', 'downloadDir'];

test('daemon: magnets are accepted at once, fetch metadata across kill -9, and complete in place with the same id', { timeout: 90_000 }, async () => {
  const root = await scope.tempDir('bitpeer-magnet-daemon-');
  const [seedPort, port, rpcPort] = await distinctPorts(3) as [number, number, number];
  const data = join(root, 'src', 'movie');
  await writeTree(data, [{ path: 'part1.bin', size: 700_001 }, { path: 'extra/part2.bin', size: 123_456 }], 'magnet-daemon');
  const meta = await createTorrent(data, join(root, 'movie.torrent'), seedPort, '64K');
  const hash = meta.infoHashHex;
  const tracker = meta.announce!;
  const magnet = `magnet:?xt=urn:btih:${hash}&dn=movie&tr=${encodeURIComponent(tracker)}&x.pe=127.0.0.1:${seedPort}`;
  const lonely = `magnet:?xt=urn:btih:${'6b'.repeat(20)}&dn=lonely`;
  const downloads = join(root, 'downloads');
  const spec: DaemonSpec = { stateDir: join(root, 'state'), port, rpcPort, downloadDir: downloads };
  let d = await startDaemon(scope, spec);

  // `bitpeer add <magnet>` returns at once, with an id, saying it fetches metadata.
  const add = cli(['add', magnet], rpcPort);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, new RegExp(`^added: #1 movie \\(${hash}\\); fetching metadata`));
  assert.ok(add.ms < 5000, `add returned in ${add.ms} ms`);
  // The RPC torrent-add (transmission-remote -a) too.
  const t0 = Date.now();
  const rpcAdd = await d.rpc.call('torrent-add', { filename: lonely });
  assert.ok(Date.now() - t0 < 3000, 'torrent-add returned at once');
  assert.deepEqual(rpcAdd['torrent-added'], { id: 2, name: 'lonely', hashString: '6b'.repeat(20) });
  // Again: a duplicate with the same id.
  const again = cli(['add', magnet], rpcPort);
  assert.match(again.stdout, /^already added: #1 movie/);

  // Shown as fetching metadata.
  const ls = cli(['ls'], rpcPort);
  assert.match(ls.stdout, /^1 .* \? .* fetching metadata +movie$/m);
  assert.match(ls.stdout, /^2 .* fetching metadata +lonely$/m);
  let list = await torrents(d.rpc, undefined, MAGNET_FIELDS) as unknown as Array<Record<string, unknown>>;
  assert.deepEqual(list.map((t) => [t['id'], t['status'], t['metadataPercentComplete'], t['totalSize'], t['eta'], t['downloadDir']]),
    [[1, STATUS.DOWNLOAD, 0, 0, -2, downloads], [2, STATUS.DOWNLOAD, 0, 0, -2, downloads]]);
  // Pause works on a pending magnet.
  assert.equal(cli(['pause', '2'], rpcPort).code, 0);
  assert.match(cli(['ls'], rpcPort).stdout, /^2 .* paused +lonely$/m);
  assert.deepEqual((await readdir(join(spec.stateDir, 'magnets'))).sort(), [`${'6b'.repeat(20)}.json`, `${hash}.json`].sort());

  // kill -9, restart: both are back with their ids, one still fetching, the other still paused.
  d.child.signal('SIGKILL');
  await d.child.exited(10_000);
  d = await startDaemon(scope, { ...spec, name: 'daemon (after kill -9)' });
  list = await torrents(d.rpc, undefined, MAGNET_FIELDS) as unknown as Array<Record<string, unknown>>;
  assert.deepEqual(list.map((t) => [t['id'], t['name'], t['status'], t['metadataPercentComplete']]),
    [[1, 'movie', STATUS.DOWNLOAD, 0], [2, 'lonely', STATUS.STOPPED, 0]]);

  // A seed appears at the x.pe address (and its tracker comes up): the magnet completes in place, same id.
  await startSeed(scope, join(root, 'movie.torrent'), data, seedPort, '0');
  const done = await waitComplete(d, hash, 45_000, 'the magnet to complete');
  assert.equal(done.id, 1);
  assert.equal(done.name, 'movie');
  assert.deepEqual(await compareTrees(data, join(downloads, 'movie')), []);
  const full = (await torrents(d.rpc, [1], MAGNET_FIELDS))[0] as unknown as Record<string, unknown>;
  assert.equal(full['metadataPercentComplete'], 1);
  assert.equal(full['totalSize'], meta.totalLength);
  // It is a normal torrent of the state directory now; its pending record is gone.
  await waitUntil(async () => !(await readdir(join(spec.stateDir, 'magnets'))).includes(`${hash}.json`), 5000, 'the pending record removed');
  assert.ok((await readdir(join(spec.stateDir, 'torrents'))).includes(`${hash}.torrent`));

  // Resume works on it too (and is saved).
  assert.equal(cli(['resume', '2'], rpcPort).code, 0);
  assert.match(cli(['ls'], rpcPort).stdout, /^2 .* fetching metadata +lonely$/m);
  assert.match(await readFile(join(spec.stateDir, 'magnets', `${'6b'.repeat(20)}.json`), 'utf8'), /"paused":false/);
  // Remove works on a pending magnet: gone from ls and from the state directory.
  assert.equal(cli(['rm', '2'], rpcPort).code, 0);
  const after2 = cli(['ls', '--json'], rpcPort).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(after2.map((t) => [t['id'], t['state'], t['metadata']]), [[1, 'seeding', true]]);
  assert.deepEqual(await readdir(join(spec.stateDir, 'magnets')), []);
});

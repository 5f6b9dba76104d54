/**
 * Eight bitpeer processes on one IP (127.0.0.1), eight ports: one `share`s a folder, seven `get` it with only the
 * .torrent, whose announce URL is the sharer's embedded tracker (`--announce-host 127.0.0.1`). LSD is off.
 *
 * Checks: all complete with identical content; every getter announced to the embedded tracker; peers connect to
 * several other peers on the same IP (nothing is de-duplicated by IP alone); getters upload to each other.
 * Every socket is bound to / dialled on 127.0.0.1 only.
 * BEP: 3, 15/23 via the embedded tracker (end to end).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import { bitpeerBin, Scope, type Child } from '../helpers/proc.js';
import { freePort } from '../helpers/trackers.js';
import { connectedPeers, dumpLogs, formatTable, ipOf, mib, perPeerBytes, summarize } from '../lan/swarm-report.js';

const MiB = 1024 * 1024;
const GETTERS = 7;
const FILES: FileSpec[] = [
  { path: 'one.bin', size: 5 * MiB + 3 },
  { path: 'nested/two.bin', size: 9 * MiB - 17 },
  { path: 'nested/deeper/three.txt', size: 12_345 },
  { path: 'zero', size: 0 },
];

const scope = new Scope();
after(() => scope.cleanup());

/** `n` distinct ports free on 127.0.0.1 for TCP and UDP. */
async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n && tries < n * 10; tries++) ports.add(await freePort());
  assert.equal(ports.size, n, 'found enough free ports');
  return [...ports];
}

test('eight processes, eight ports, one IP: the embedded tracker, no de-duplication by IP', { timeout: 180_000 }, async () => {
  const root = await scope.tempDir('bitpeer-many-ports-');
  const data = join(root, 'src', 'many');
  await writeTree(data, FILES, 'many-ports');
  const torrent = join(root, 'many.torrent');
  const ports = await distinctPorts(GETTERS + 1);
  const sharerPort = ports[0]!;
  const url = `http://127.0.0.1:${sharerPort}/announce`;
  const common = ['--bind', '127.0.0.1', '--no-lsd', '--json'];
  const logDir = join(tmpdir(), `bitpeer-many-ports-${process.pid}-logs`);

  // 1. The sharer, with an upload limit so that the getters need each other.
  const sharer = scope.bitpeer(['share', data, '-o', torrent, '--port', String(sharerPort), '--announce-host', '127.0.0.1',
    '--upload-limit', '2M', ...common]);
  await sharer.waitFor((e) => e.event === 'state' && e.state === 'seeding', 60_000, 'the sharer seeding');
  const info = spawnSync(process.execPath, [bitpeerBin(), 'info', torrent, '--json'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(info.status, 0, info.stderr);
  const meta = JSON.parse(info.stdout) as { announce: string | null; announceList: string[][] };
  assert.equal(meta.announce, url, 'the announce URL is the sharer\'s embedded tracker');

  // 2. Seven getters with only a copy of the .torrent, all at once.
  const getters: Child[] = [];
  const started = Date.now();
  for (let i = 1; i <= GETTERS; i++) {
    const dir = join(root, `g${i}`);
    await mkdir(dir);
    await copyFile(torrent, join(dir, 'many.torrent'));
    getters.push(scope.bitpeer(['get', join(dir, 'many.torrent'), '-o', join(dir, 'dl'), '--seed', '--port', String(ports[i]!), ...common],
      { name: `get g${i}:${ports[i]!}` }));
  }
  const results = await Promise.allSettled(getters.map((g) => g.waitForEvent('complete', 120_000)));
  const notDone = getters.filter((_, i) => results[i]!.status === 'rejected');
  if (notDone.length > 0) {
    await Promise.all([sharer, ...getters].map((c) => c.stop(10_000)));
    console.log(`# many ports: event logs in ${await dumpLogs(logDir, [sharer, ...getters])}`);
  }
  assert.deepEqual(notDone.map((g) => g.name), [],
    `not complete within 120 s:\n${[sharer, ...getters].map((c) => '  ' + summarize(c)).join('\n')}`);
  const completeAt = getters.map((g) => Number(g.find((e) => e.event === 'complete')?.time ?? NaN) - started);
  for (let i = 1; i <= GETTERS; i++) {
    assert.deepEqual(await compareTrees(data, join(root, `g${i}`, 'dl', 'many')), [], `g${i} content`);
  }

  // 3. Stop everyone; peer-totals come at exit.
  await Promise.all([sharer, ...getters].map((c) => c.stop(10_000)));
  const failures: string[] = [];
  for (const c of [sharer, ...getters]) if (c.exitInfo?.code !== 0) failures.push(`${c.name} exit ${JSON.stringify(c.exitInfo)}`);

  const sharerKey = `127.0.0.1:${sharerPort}`;
  const rows: string[][] = [];
  let getterUploads = 0;
  let maxOutPorts = 0;
  getters.forEach((g, k) => {
    const peers = connectedPeers(g.events);
    const nonLocal = [...peers].filter((p) => ipOf(p) !== '127.0.0.1');
    if (nonLocal.length > 0) failures.push(`${g.name} connected to non-loopback peers: ${nonLocal.join(', ')}`);
    // Outgoing connections carry the remote's listening port: distinct ports on one IP = distinct peers kept.
    const outPorts = new Set(g.events.filter((e) => e.event === 'peer-connect' && e.direction === 'out' && typeof e.peer === 'string')
      .map((e) => String(e.peer)));
    maxOutPorts = Math.max(maxOutPorts, outPorts.size);
    if (peers.size < 2) failures.push(`${g.name} connected to only ${peers.size} peer(s): ${[...peers].join(', ')}`);
    if (!g.events.some((e) => e.event === 'tracker-announce' && e.url === url)) failures.push(`${g.name}: no tracker-announce to ${url}`);
    const { exact, peers: bytes } = perPeerBytes(g.events);
    if (!exact) failures.push(`${g.name} printed no peer-totals`);
    let down = 0;
    let up = 0;
    for (const b of bytes.values()) { down += b.down; up += b.up; }
    getterUploads += up;
    rows.push([g.name, String(peers.size), String(outPorts.size), mib(bytes.get(sharerKey)?.down), mib(down), mib(up),
      (completeAt[k]! / 1000).toFixed(1)]);
  });
  if (maxOutPorts < 3) failures.push(`no getter dialled 3 or more distinct ports on 127.0.0.1 (max ${maxOutPorts})`);
  if (!(getterUploads > 0)) failures.push('the getters uploaded nothing to each other');
  console.log('\n# many ports: per getter\n' + formatTable(
    ['getter', 'peers', 'out ports', 'MiB from sharer (out conn)', 'MiB down', 'MiB up', 'complete s'], rows));
  if (failures.length > 0) console.log(`# many ports: event logs in ${await dumpLogs(logDir, [sharer, ...getters])}`);
  assert.deepEqual(failures, [], `${failures.join('\n')}\n${[sharer, ...getters].map((c) => '  ' + summarize(c)).join('\n')}`);
});

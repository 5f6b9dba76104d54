/**
 * Disk faults (issue 4), root only: the daemon runs in its own mount namespace (`unshare -m`, private propagation,
 * so no mount is ever visible outside it, and every mount vanishes with the process), where one torrent's save
 * folder is (a) a tiny tmpfs that fills up, or (b) a read-only bind mount. That torrent must go to the error state
 * with a clear reason (ENOSPC / EROFS) while another torrent on a normal folder keeps downloading and completes; once
 * the fault is cleared (a filler file removed through /proc/<pid>/root, or the mount made read-write with
 * `nsenter -m`), `torrent-start` resumes it and it completes with the right content.
 * Skipped, with the reason printed, when not root or when unshare/nsenter are missing.
 * BEP: none (error handling end to end).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import { Scope, type Child } from '../helpers/proc.js';
import {
  addTorrent, createTorrent, distinctPorts, MiB, startDaemon, startSeed, STATUS, torrent, torrents, waitComplete, waitUntil,
  type DaemonHandle, type DaemonSpec, type RpcTorrent,
} from './harness.js';
import type { Metainfo } from '../../src/metainfo/index.js';

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (tmpfs and read-only mounts inside unshare -m)';
  const u = spawnSync('unshare', ['-m', 'sh', '-c', 'mount -t tmpfs -o size=1m bitpeer-probe /mnt 2>/dev/null || mount -t tmpfs -o size=1m bitpeer-probe /tmp'], { stdio: 'ignore' });
  if (u.error !== undefined || u.status !== 0) return 'unshare -m cannot mount a tmpfs here';
  const n = spawnSync('nsenter', ['--version'], { stdio: 'ignore' });
  if (n.error !== undefined) return 'nsenter is missing (util-linux)';
  return undefined;
}
const skip = whyNot();
if (skip !== undefined) console.log(`# skipping fault tests: ${skip}`);

const scope = new Scope();
after(() => scope.cleanup());

const FAULTY: FileSpec[] = [{ path: 'one.bin', size: 3 * MiB + 4321 }, { path: 'dir/two.bin', size: 2 * MiB - 99 }];
const BYSTANDER: FileSpec[] = [{ path: 'big.bin', size: 7 * MiB + 1 }, { path: 'small.txt', size: 777 }];

let root = '';
let faulty: { meta: Metainfo; file: string; data: string };
let bystander: { meta: Metainfo; file: string; data: string };

before(async () => {
  if (skip !== undefined) return;
  root = await scope.tempDir('bitpeer-faults-');
  const [pf, pb] = await distinctPorts(2);
  const make = async (name: string, files: FileSpec[], seedPort: number, rate: string): Promise<{ meta: Metainfo; file: string; data: string }> => {
    const data = join(root, 'src', name);
    await writeTree(data, files, `faults-${name}`);
    const file = join(root, `${name}.torrent`);
    const meta = await createTorrent(data, file, seedPort);
    await startSeed(scope, file, data, seedPort, rate, `seed ${name}`);
    return { meta, file, data };
  };
  faulty = await make('faulty', FAULTY, pf!, '4M');
  // Slow on purpose: it must still be downloading when the other torrent fails.
  bystander = await make('bystander', BYSTANDER, pb!, '1M');
});

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A daemon in its own mount namespace: `setup` (shell) runs there first, then the daemon is exec'd (same PID). */
async function daemonWithMounts(name: string, setup: string): Promise<{ d: DaemonHandle; spec: DaemonSpec }> {
  const [port, rpcPort] = await distinctPorts(2);
  const spec: DaemonSpec = {
    stateDir: join(root, name, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, name, 'dl'), name: `daemon ${name}`,
    wrap: (argv) => ['unshare', ['-m', '--propagation', 'private', 'sh', '-c', `set -e; ${setup}; exec "$@"`, 'sh', ...argv]],
  };
  return { d: await startDaemon(scope, spec), spec };
}

/** Adds both torrents (the faulty one into `faultyDir`), waits for the fault; returns the bystander's state then. */
async function expectFault(d: DaemonHandle, faultyDir: string, reason: RegExp): Promise<{ failed: RpcTorrent; bystanderThen: RpcTorrent }> {
  await addTorrent(d.rpc, bystander.file);
  // The fault must put the torrent in the error state, not make the add fail: it is to be resumed once cleared.
  const reply = await d.rpc.request('torrent-add', { metainfo: (await readFile(faulty.file)).toString('base64'), 'download-dir': faultyDir });
  if (reply.result !== 'success') {
    const list = await torrents(d.rpc, undefined, ['id', 'name', 'status', 'error', 'errorString', 'percentDone']);
    assert.fail(`torrent-add into the faulty folder was refused (${JSON.stringify(reply.result)}) instead of adding the torrent in ` +
      `the error state; the daemon then lists ${JSON.stringify(list)}`);
  }
  // The last state seen, for the message if the error never comes (a stalled transfer and a swallowed write error
  // look the same in the daemon's events).
  let last: RpcTorrent | undefined;
  const failed = await waitUntil(async () => {
    const t = last = await torrent(d.rpc, faulty.meta.infoHashHex);
    return t && t.error !== 0 ? t : undefined;
  }, 30_000, 'the faulty torrent to enter the error state', () => `last seen over the RPC: ${JSON.stringify(last && {
    status: last.status, percentDone: last.percentDone, haveValid: last.haveValid, peersConnected: last.peersConnected,
    downloadedEver: last.downloadedEver,
  })}\n${d.child.describe(12)}`);
  const bystanderThen = (await torrent(d.rpc, bystander.meta.infoHashHex))!;
  console.log(`# faults: errorString ${JSON.stringify(failed.errorString)}; bystander at ${(bystanderThen.percentDone * 100).toFixed(1)} % then`);
  assert.equal(failed.status, STATUS.STOPPED, 'a torrent in error is not active');
  assert.equal(failed.error, 3, 'error 3 = local error');
  assert.match(failed.errorString, reason);
  assert.equal(bystanderThen.error, 0, 'the other torrent is not in error');
  assert.ok(bystanderThen.percentDone < 1, 'the other torrent was still downloading when the fault hit (the test needs that to mean anything)');
  return { failed, bystanderThen };
}

async function bystanderCompletes(d: DaemonHandle, dlDir: string): Promise<void> {
  await waitComplete(d, bystander.meta.infoHashHex, 60_000, 'the other torrent to complete despite the fault');
  assert.deepEqual(await compareTrees(bystander.data, join(dlDir, bystander.meta.name)), [], 'the other torrent\'s content');
  const f = await torrent(d.rpc, faulty.meta.infoHashHex);
  assert.equal(f?.error, 3, 'the faulty torrent stays in error until it is started again');
}

async function resumeAndComplete(d: DaemonHandle, dataDir: string): Promise<void> {
  await d.rpc.call('torrent-start', { ids: [faulty.meta.infoHashHex] });
  const done = await waitComplete(d, faulty.meta.infoHashHex, 60_000, 'the faulty torrent to complete once the fault is cleared');
  assert.equal(done.error, 0);
  assert.equal(done.errorString, '');
  assert.deepEqual(await compareTrees(faulty.data, join(dataDir, faulty.meta.name)), [], 'the resumed torrent\'s content');
}

test('(a) the save folder runs out of space: error with ENOSPC, the other torrent goes on; free space, start → completes',
  { skip, timeout: 110_000 }, async () => {
    const mnt = join(root, 'full', 'mnt');
    await mkdir(mnt, { recursive: true });
    // 8 MiB of tmpfs, 7 MB of it taken by a filler: the 5 MiB torrent cannot fit.
    const { d, spec } = await daemonWithMounts('full',
      `mount -t tmpfs -o size=8m bitpeer-test-full ${quote(mnt)}; head -c 7000000 /dev/zero > ${quote(join(mnt, 'filler'))}`);
    const pid = d.child.pid!;
    const inNs = (p: string): string => `/proc/${pid}/root${p}`;
    await expectFault(d, mnt, /ENOSPC|no space/i);
    await bystanderCompletes(d, spec.downloadDir!);
    // Clear the fault: remove the filler inside the daemon's namespace.
    const rm = spawnSync('rm', ['-f', inNs(join(mnt, 'filler'))]);
    assert.equal(rm.status, 0, 'removed the filler');
    await resumeAndComplete(d, inNs(mnt));
    await stopClean(d.child);
  });

test('(b) the save folder is on a read-only mount: error with EROFS, the other torrent goes on; remount rw, start → completes',
  { skip, timeout: 110_000 }, async () => {
    const ro = join(root, 'ro', 'target');
    await mkdir(ro, { recursive: true });
    const { d, spec } = await daemonWithMounts('ro', `mount --bind ${quote(ro)} ${quote(ro)}; mount -o remount,bind,ro ${quote(ro)}`);
    await expectFault(d, ro, /EROFS|read-only/i);
    await bystanderCompletes(d, spec.downloadDir!);
    const rw = spawnSync('nsenter', ['-t', String(d.child.pid!), '-m', 'mount', '-o', 'remount,bind,rw', ro], { encoding: 'utf8' });
    assert.equal(rw.status, 0, `remount rw inside the daemon's namespace: ${rw.stderr}`);
    await resumeAndComplete(d, ro); // a bind mount of the same folder: the data is visible here too
    await stopClean(d.child);
  });

test('(c) a restart finds the save folder read-only: restored in error with EROFS, the other goes on; remount rw, start → completes',
  { skip, timeout: 110_000 }, async () => {
    // A kernel remounts a busy file system read-only only on errors (errors=remount-ro); a test cannot flip a mount
    // with open writers (EBUSY). So the fault comes with a restart, as after a reboot that found the disk read-only.
    const mnt = join(root, 'ro-later', 'target');
    await mkdir(mnt, { recursive: true });
    const hash = faulty.meta.infoHashHex;
    const bind = `mount --bind ${quote(mnt)} ${quote(mnt)}`;
    const first = await daemonWithMounts('ro-later', bind);
    // The other torrent slowed down too (300 kB/s) until the restart: it must still be downloading when the fault
    // hits, however long this first part takes on a busy machine (it once finished before the restart).
    const otherId = await addTorrent(first.d.rpc, bystander.file, { paused: true });
    await first.d.rpc.call('torrent-set', { ids: [otherId], downloadLimit: 300, downloadLimited: true });
    await first.d.rpc.call('torrent-start', { ids: [otherId] });
    // Slowed down (500 kB/s) so that it is part-way when the daemon stops.
    await addTorrent(first.d.rpc, faulty.file, { 'download-dir': mnt, paused: true });
    await first.d.rpc.call('torrent-set', { ids: [hash], downloadLimit: 500, downloadLimited: true });
    await first.d.rpc.call('torrent-start', { ids: [hash] });
    await waitUntil(async () => {
      const t = await torrent(first.d.rpc, hash);
      return t !== undefined && t.percentDone >= 0.15;
    }, 30_000, 'the torrent to be 15 % done', () => first.d.child.describe(12));
    await stopClean(first.d.child);

    const d = await startDaemon(scope, { ...first.spec, name: 'daemon ro-later 2',
      wrap: (argv) => ['unshare', ['-m', '--propagation', 'private', 'sh', '-c',
        `set -e; ${bind}; mount -o remount,bind,ro ${quote(mnt)}; exec "$@"`, 'sh', ...argv]] });
    await d.rpc.call('torrent-set', { ids: [hash, bystander.meta.infoHashHex], downloadLimited: false });
    const failed = await waitUntil(async () => {
      const t = await torrent(d.rpc, hash);
      return t && t.error !== 0 ? t : undefined;
    }, 30_000, 'the restored torrent to enter the error state', () => d.child.describe(12));
    const other = (await torrent(d.rpc, bystander.meta.infoHashHex))!;
    console.log(`# faults: errorString ${JSON.stringify(failed.errorString)} at ${(failed.percentDone * 100).toFixed(1)} %; bystander at ${(other.percentDone * 100).toFixed(1)} % then`);
    assert.equal(failed.error, 3);
    assert.match(failed.errorString, /EROFS|read-only/i);
    assert.ok(failed.percentDone > 0, 'the pieces it had are kept');
    assert.equal(other.error, 0);
    assert.ok(other.percentDone < 1, 'the other torrent was still downloading when the fault hit');
    await bystanderCompletes(d, first.spec.downloadDir!);
    const rw = spawnSync('nsenter', ['-t', String(d.child.pid!), '-m', 'mount', '-o', 'remount,bind,rw', mnt], { encoding: 'utf8' });
    assert.equal(rw.status, 0, `remount rw inside the daemon's namespace: ${rw.stderr}`);
    await resumeAndComplete(d, mnt);
    await stopClean(d.child);
  });

async function stopClean(child: Child): Promise<void> {
  child.signal('SIGTERM');
  assert.deepEqual(await child.exited(20_000), { code: 0, signal: null }, `the daemon stops cleanly\n${child.describe()}`);
}

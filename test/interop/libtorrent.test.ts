/**
 * Interop with libtorrent 2.0 (python3-libtorrent): bitpeer downloads from a libtorrent seed, and libtorrent
 * downloads from a bitpeer seed, for a single-file and a multi-file torrent; the content must come out identical.
 *
 * Invariant: everything runs on 127.0.0.1 (both sides bind there, DHT/LSD/UPnP are off, trackers unused), every wait
 * is bounded, and every process and temp folder a test made is gone when it ends. The tests are skipped, with the
 * reason printed, only when no Python with the libtorrent bindings is found.
 * A control case (libtorrent to libtorrent) checks the harness itself, so a failure elsewhere points at bitpeer.
 * BEP: 3 (peer wire protocol, metainfo), 10/11 as negotiated by the two sides.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { findLibtorrentPython, libtorrentVersion } from '../helpers/python.js';
import { Scope, type Child, type JsonEvent } from '../helpers/proc.js';
import { compareTrees, writeRandomFile, writeTree, type FileSpec } from '../helpers/content.js';

const MiB = 1024 * 1024;
/** Bound for one transfer (start of the downloader to its exit). */
const TRANSFER_MS = 60_000;
/** Bound for a seed to check its data and open its port. */
const READY_MS = 30_000;
/** Bound for `create` and other short commands. */
const SHORT_MS = 30_000;
const CASE_MS = 120_000;

const python = findLibtorrentPython();
const skipReason = python === null
  ? 'no Python interpreter can `import libtorrent` (tried /usr/bin/python3, python3, python); ' +
    'install python3-libtorrent'
  : false;
if (python === null) console.log(`# SKIP libtorrent interop: ${String(skipReason)}`);
else console.log(`# libtorrent interop: ${python}, libtorrent ${libtorrentVersion(python) ?? '?'}`);

const hasMktorrent = spawnSync('mktorrent', ['-h'], { stdio: 'ignore', timeout: 5000 }).error === undefined;

/** A torrent's content: one file (`files` has one spec with path '') or a folder. */
interface Fixture {
  readonly label: string;
  readonly name: string;
  readonly files: readonly FileSpec[];
  readonly pieceLength: number;
}

const SINGLE: Fixture = {
  label: 'single file',
  name: 'single-file.bin',
  files: [{ path: '', size: 5 * MiB + 13 }],
  pieceLength: 256 * 1024,
};

const MULTI: Fixture = {
  label: 'multi-file',
  name: 'multi folder',
  files: [
    { path: 'a.bin', size: MiB + 7 },
    { path: 'empty.txt', size: 0 },
    { path: 'sub/b.bin', size: 300_001 },
    { path: 'sub/deeper/c.bin', size: 2 * MiB + 3 },
    { path: 'sub/spaced name é.txt', size: 777 },
    { path: 'z/last.dat', size: 12_345 },
  ],
  pieceLength: 64 * 1024,
};

const totalSize = (f: Fixture): number => f.files.reduce((s, x) => s + x.size, 0);

/** Writes the fixture's content as `<dir>/<name>` and returns that path. */
async function makeContent(dir: string, f: Fixture): Promise<string> {
  const path = join(dir, f.name);
  const only = f.files[0];
  if (f.files.length === 1 && only !== undefined && only.path === '') await writeRandomFile(path, only.size, f.name);
  else await writeTree(path, f.files, f.name);
  return path;
}

/** Makes `out` from `dataPath` with `bitpeer create` or mktorrent (v1, no trackers). */
async function makeTorrent(scope: Scope, tool: 'bitpeer' | 'mktorrent', dataPath: string, out: string,
  pieceLength: number): Promise<void> {
  const child = tool === 'bitpeer'
    ? scope.bitpeer(['create', dataPath, '-o', out, '--piece-length', String(pieceLength)])
    : scope.spawn('mktorrent', ['-l', String(Math.log2(pieceLength)), '-o', out, dataPath]);
  const exit = await child.exited(SHORT_MS);
  assert.equal(exit.code, 0, `${tool} create failed\n${child.describe()}`);
}

/** The port from a child's "listening" event. */
async function listeningPort(child: Child): Promise<number> {
  const e = await child.waitForEvent('listening', READY_MS);
  const port = e.port;
  assert.ok(typeof port === 'number' && port > 0 && port < 65536, `bad listening event ${JSON.stringify(e)}`);
  return port;
}

/** Sum of a numeric field over the peers of a "peer-totals" event. */
function peerTotal(e: JsonEvent | undefined, field: 'downloaded' | 'uploaded'): number {
  const peers = e?.peers;
  if (!Array.isArray(peers)) return -1;
  return peers.reduce((s: number, p: unknown) => s + Number((p as Record<string, unknown>)[field] ?? 0), 0);
}

/** Fails with every child's recent output when the trees differ. */
async function assertSameContent(scope: Scope, expected: string, actual: string,
  opts: { allowMissingEmpty?: boolean } = {}): Promise<void> {
  const diffs = await compareTrees(expected, actual, opts);
  assert.deepEqual(diffs, [], `downloaded content differs from the source:\n${diffs.join('\n')}\n${scope.describe()}`);
}

/** The v1 info-hash each side reported in its "added" event must agree. */
function assertSameInfoHash(a: Child, b: Child): void {
  const ha = a.find((e) => e.event === 'added')?.infoHash;
  const hb = b.find((e) => e.event === 'added')?.infoHash;
  assert.equal(typeof ha, 'string', `${a.name} printed no "added" event with an infoHash\n${a.describe()}`);
  assert.equal(String(ha).toLowerCase(), String(hb).toLowerCase(), 'bitpeer and libtorrent disagree on the info-hash');
}

/** Awaits `p`; on failure, adds the recent output of every child in the scope (the other side's view helps). */
async function within<T>(scope: Scope, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n=== all processes of this test:\n${scope.describe()}`, { cause: err });
  }
}

/** Starts a scope whose cleanup runs when the test ends. */
function scopeFor(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  return scope;
}

describe('libtorrent interop', { skip: skipReason }, () => {
  const py = python ?? 'python3';

  test('control: libtorrent seeds to libtorrent (multi-file, checks the harness)', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const dir = await scope.tempDir('bitpeer-lt-control-');
    const src = await makeContent(join(dir, 'src'), MULTI);
    const torrent = join(dir, 'control.torrent');
    if (hasMktorrent) await makeTorrent(scope, 'mktorrent', src, torrent, MULTI.pieceLength);
    else await makeTorrent(scope, 'bitpeer', src, torrent, MULTI.pieceLength);
    const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'), '--port', '0']);
    const port = await within(scope, listeningPort(seed));
    const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', join(dir, 'dl'), '--port', '0',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000)]);
    const exit = await within(scope, dl.exited(TRANSFER_MS + 10_000));
    assert.equal(exit.code, 0, `libtorrent download failed\n${scope.describe()}`);
    await assertSameContent(scope, src, join(dir, 'dl', MULTI.name));
  });

  for (const fixture of [SINGLE, MULTI]) {
    test(`libtorrent seeds, bitpeer gets (${fixture.label})`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-lt-a-');
      const src = await makeContent(join(dir, 'src'), fixture);
      const torrent = join(dir, 'a.torrent');
      // A torrent made by another tool, when there is one: bitpeer must accept what others create.
      await makeTorrent(scope, hasMktorrent ? 'mktorrent' : 'bitpeer', src, torrent, fixture.pieceLength);

      const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'), '--port', '0']);
      const port = await within(scope, listeningPort(seed));
      const out = join(dir, 'dl');
      const get = scope.bitpeer(['get', torrent, '-o', out, '--port', '0', '--peer', `127.0.0.1:${port}`, '--json',
        '--no-lsd']);
      const exit = await within(scope, get.exited(TRANSFER_MS));
      assert.equal(exit.code, 0, `bitpeer get did not finish cleanly\n${scope.describe()}`);
      assert.ok(get.find((e) => e.event === 'complete'), `bitpeer get printed no "complete" event\n${get.describe()}`);
      assertSameInfoHash(get, seed);
      await assertSameContent(scope, src, join(out, fixture.name));
      const got = peerTotal(get.find((e) => e.event === 'peer-totals'), 'downloaded');
      assert.ok(got >= totalSize(fixture), `peer-totals: downloaded ${got} < ${totalSize(fixture)}\n${get.describe()}`);
    });

    test(`bitpeer seeds, libtorrent downloads (${fixture.label})`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-lt-b-');
      const src = await makeContent(join(dir, 'src'), fixture);
      const torrent = join(dir, 'b.torrent');
      await makeTorrent(scope, 'bitpeer', src, torrent, fixture.pieceLength);

      const seed = scope.bitpeer(['seed', torrent, src, '--port', '0', '--json', '--no-lsd']);
      const port = await within(scope, listeningPort(seed));
      const out = join(dir, 'dl');
      const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', out, '--port', '0',
        '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000)]);
      const exit = await within(scope, dl.exited(TRANSFER_MS + 10_000));
      assert.equal(exit.code, 0, `libtorrent did not complete the download from bitpeer\n${scope.describe()}`);
      assertSameInfoHash(seed, dl);
      await assertSameContent(scope, src, join(out, fixture.name));

      // The seed stops cleanly on SIGTERM and accounts for what it sent.
      const stopped = await seed.stop(5000);
      assert.notEqual(stopped.signal, 'SIGKILL', `bitpeer seed ignored SIGTERM for 5 s\n${seed.describe()}`);
      const sent = peerTotal(seed.find((e) => e.event === 'peer-totals'), 'uploaded');
      assert.ok(sent >= totalSize(fixture), `peer-totals: uploaded ${sent} < ${totalSize(fixture)}\n${seed.describe()}`);
    });
  }
});

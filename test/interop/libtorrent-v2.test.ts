/**
 * Interop with libtorrent 2.0 (python3-libtorrent) on BitTorrent v2 and hybrid torrents (BEP 52): multi-file torrents
 * made by libtorrent's own `create_torrent` (flags `v2_only`, and 0 = hybrid, its default, both with pad files), in
 * both directions: libtorrent seeds → bitpeer downloads, bitpeer seeds → libtorrent downloads; and a download by a
 * `btmh` magnet link (v2-only, and btih+btmh for a hybrid) whose only peer is the libtorrent seed given by `x.pe`.
 *
 * What must hold: the downloaded tree is exactly the source tree (same relative paths, sizes and bytes, walked on
 * disk), no `.pad` file or folder is anywhere on disk, and both sides name the torrent by the same info-hashes
 * (bitpeer's `added` event against libtorrent's `torrent_info`).
 *
 * Invariant: everything runs on 127.0.0.1 (both sides bind there, DHT/LSD/UPnP off, no tracker: peers are given), every
 * wait is bounded, and every process and temp folder a test made is gone when it ends. Skipped, with the reason
 * printed, only when no Python with the libtorrent bindings is found. A control case (libtorrent to libtorrent, v2)
 * checks the harness, so a failure elsewhere points at bitpeer.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { findLibtorrentPython, libtorrentVersion } from '../helpers/python.js';
import type { Child, JsonEvent, Scope } from '../helpers/proc.js';
import { writeTree, type FileSpec } from '../helpers/content.js';
import { assertSameTree, listeningPort, scopeFor } from '../helpers/interop.js';

/** Bound for one transfer (start of the downloader to its exit). */
const TRANSFER_MS = 20_000;
/** Bound for a seed to check its data and open its port, and for `create`. */
const READY_MS = 15_000;
const CASE_MS = 60_000;

const python = findLibtorrentPython();
const skipReason = python === null
  ? 'no Python interpreter can `import libtorrent` (tried /usr/bin/python3, python3, python); install python3-libtorrent'
  : false;
if (python === null) console.log(`# SKIP libtorrent v2 interop: ${String(skipReason)}`);
else console.log(`# libtorrent v2 interop: ${python}, libtorrent ${libtorrentVersion(python) ?? '?'}`);

const NAME = 'v2 tree';
/** 32 KiB pieces (two 16 KiB merkle leaves each); sizes chosen so that libtorrent inserts pad files between files. */
const PIECE_LENGTH = 32 * 1024;
const FILES: readonly FileSpec[] = [
  { path: 'a.bin', size: 100_000 }, // 3 pieces and a bit: a piece layer, then a pad file
  { path: 'empty.txt', size: 0 }, // no pieces root
  { path: 'sub/b.bin', size: 20_000 }, // under one piece: no piece layer, root from the leaves
  { path: 'sub/deeper/c.bin', size: 200_003 }, // 7 pieces (odd, not a power of two)
  { path: 'sub/spaced name é.txt', size: 777 },
  { path: 'z/last.dat', size: PIECE_LENGTH }, // exactly one piece: no pad after it
];

type Format = 'v2' | 'hybrid';

interface Made {
  dir: string;
  /** The content folder (`<dir>/src/<NAME>`); seeds run with `<dir>/src` as their save path. */
  src: string;
  torrent: string;
  /** libtorrent's view: the wire info-hash, the v1 (hybrid) and v2 hashes, the version. */
  infoHash: string;
  infoHashV1: string | null;
  infoHashV2: string;
  version: string;
  pads: number;
}

/** Writes the fixture and has libtorrent make a `format` torrent of it. */
async function make(scope: Scope, py: string, format: Format, prefix: string): Promise<Made> {
  const dir = await scope.tempDir(prefix);
  const src = join(dir, 'src', NAME);
  await writeTree(src, FILES, `${NAME}-${format}`);
  const torrent = join(dir, `${format}.torrent`);
  const c = scope.ltPeer(py, ['--mode', 'create', '--content', src, '--torrent', torrent, '--format', format,
    '--piece-length', String(PIECE_LENGTH)]);
  const exit = await c.exited(READY_MS);
  assert.equal(exit.code, 0, `libtorrent create_torrent failed\n${c.describe()}`);
  const e = c.find((x) => x.event === 'created');
  assert.ok(e, `no "created" event\n${c.describe()}`);
  assert.equal(e.version, format, 'libtorrent made another kind of torrent than asked');
  const files = e.files as Array<{ pad: boolean }>;
  const pads = files.filter((f) => f.pad).length;
  assert.ok(pads > 0, 'the fixture should make libtorrent insert pad files');
  return {
    dir, src, torrent, infoHash: String(e.infoHash), infoHashV1: e.infoHashV1 === null ? null : String(e.infoHashV1),
    infoHashV2: String(e.infoHashV2), version: String(e.version), pads,
  };
}

/** Every path under `root` (files and folders) with a `.pad` component: must be none. */
async function padPaths(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    let entries;
    try { entries = await readdir(p, { withFileTypes: true }); } catch { return; }
    for (const d of entries) {
      const full = join(p, d.name);
      if (d.name === '.pad' || /^_____padding_file/.test(d.name)) out.push(relative(root, full));
      if (d.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return out;
}

/** The downloaded copy is exactly the source and no pad file or folder reached the disk. */
async function assertExactCopy(scope: Scope, m: Made, outDir: string): Promise<void> {
  await assertSameTree(scope, m.src, join(outDir, NAME));
  assert.deepEqual(await padPaths(outDir), [], `pad files on disk under ${outDir}`);
}

/** bitpeer's `added` event names the torrent as libtorrent does: wire hash, v2 hash, meta version. */
function assertSameNames(bp: Child, m: Made): void {
  const added: JsonEvent | undefined = bp.find((e) => e.event === 'added');
  assert.ok(added, `bitpeer printed no "added" event\n${bp.describe()}`);
  assert.equal(String(added.infoHash), m.infoHash, 'bitpeer and libtorrent disagree on the wire info-hash');
  assert.equal(String(added.infoHashV2), m.infoHashV2, 'bitpeer and libtorrent disagree on the v2 info-hash');
  assert.equal(added.version, m.version, 'bitpeer and libtorrent disagree on the meta version');
}

/** Awaits `p`; on failure, adds the recent output of every child in the scope. */
async function within<T>(scope: Scope, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n=== all processes of this test:\n${scope.describe()}`, { cause: err });
  }
}

/** `bitpeer get <what>` from the one peer at `port`; resolves when it has exited cleanly with a "complete" event. */
async function bitpeerGet(scope: Scope, what: string, out: string, port: number | null): Promise<Child> {
  const get = scope.bitpeer(['get', what, '-o', out, '--port', '0', ...(port === null ? [] : ['--peer', `127.0.0.1:${port}`]),
    '--json', '--no-lsd']);
  const exit = await within(scope, get.exited(TRANSFER_MS));
  assert.equal(exit.code, 0, `bitpeer get did not finish cleanly\n${scope.describe()}`);
  assert.ok(get.find((e) => e.event === 'complete'), `bitpeer get printed no "complete" event\n${get.describe()}`);
  return get;
}

describe('libtorrent v2 and hybrid interop', { skip: skipReason }, () => {
  const py = python ?? 'python3';

  test('control: libtorrent seeds a v2 torrent to libtorrent (checks the harness)', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const m = await make(scope, py, 'v2', 'bitpeer-lt2-control-');
    const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', m.torrent, '--save', join(m.dir, 'src'), '--port', '0']);
    const port = await within(scope, listeningPort(seed, READY_MS));
    const out = join(m.dir, 'dl');
    const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', m.torrent, '--save', out, '--port', '0',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000)]);
    const exit = await within(scope, dl.exited(TRANSFER_MS + 5_000));
    assert.equal(exit.code, 0, `libtorrent download failed\n${scope.describe()}`);
    await assertExactCopy(scope, m, out);
  });

  for (const format of ['v2', 'hybrid'] as const) {
    test(`libtorrent seeds, bitpeer downloads (${format}, made by libtorrent)`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const m = await make(scope, py, format, `bitpeer-lt2-a-${format}-`);
      const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', m.torrent, '--save', join(m.dir, 'src'), '--port', '0']);
      const port = await within(scope, listeningPort(seed, READY_MS));
      const out = join(m.dir, 'dl');
      const get = await bitpeerGet(scope, m.torrent, out, port);
      assertSameNames(get, m);
      await assertExactCopy(scope, m, out);
    });

    test(`bitpeer seeds, libtorrent downloads (${format}, made by libtorrent)`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const m = await make(scope, py, format, `bitpeer-lt2-b-${format}-`);
      const seed = scope.bitpeer(['seed', m.torrent, m.src, '--port', '0', '--json', '--no-lsd']);
      const port = await within(scope, listeningPort(seed, READY_MS));
      await within(scope, seed.waitForEvent('added', READY_MS));
      assertSameNames(seed, m);
      const out = join(m.dir, 'dl');
      const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', m.torrent, '--save', out, '--port', '0',
        '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000)]);
      const exit = await within(scope, dl.exited(TRANSFER_MS + 5_000));
      assert.equal(exit.code, 0, `libtorrent did not complete the download from bitpeer\n${scope.describe()}`);
      assert.ok(!dl.find((e) => e.event === 'hash-failed'), `libtorrent failed a piece from bitpeer\n${dl.describe()}`);
      await assertExactCopy(scope, m, out);
      const stopped = await seed.stop(5000);
      assert.notEqual(stopped.signal, 'SIGKILL', `bitpeer seed ignored SIGTERM for 5 s\n${seed.describe()}`);
    });

    const link = format === 'v2' ? 'btmh' : 'btih+btmh';
    test(`a ${link} magnet (${format}): bitpeer fetches the metadata and the data from libtorrent, peer by x.pe`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const m = await make(scope, py, format, `bitpeer-lt2-m-${format}-`);
      const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', m.torrent, '--save', join(m.dir, 'src'), '--port', '0']);
      const port = await within(scope, listeningPort(seed, READY_MS));
      const xts = [...(m.infoHashV1 !== null ? [`xt=urn:btih:${m.infoHashV1}`] : []), `xt=urn:btmh:1220${m.infoHashV2}`];
      const magnet = `magnet:?${xts.join('&')}&dn=${encodeURIComponent(NAME)}&x.pe=127.0.0.1:${port}`;
      const out = join(m.dir, 'dl');
      const get = await bitpeerGet(scope, magnet, out, null);
      assert.ok(get.find((e) => e.event === 'metadata-received'), `no "metadata-received" event\n${get.describe()}`);
      assertSameNames(get, m);
      await assertExactCopy(scope, m, out);
    });
  }

  test('hybrid over MSE (libtorrent\'s stock encryption): the connection keeps the v1 name, a btih+btmh magnet still completes', { timeout: CASE_MS }, async (t) => {
    // Over MSE the key exchange fixes the name, so there is no upgrade: a v1 connection, on which libtorrent would
    // drop a peer sending a hash request. The metadata has no piece layers; the v1 piece hashes carry the download.
    const scope = scopeFor(t);
    const m = await make(scope, py, 'hybrid', 'bitpeer-lt2-mse-');
    const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', m.torrent, '--save', join(m.dir, 'src'), '--port', '0',
      '--encryption', 'stock']);
    const port = await within(scope, listeningPort(seed, READY_MS));
    const magnet = `magnet:?xt=urn:btih:${m.infoHashV1!}&xt=urn:btmh:1220${m.infoHashV2}&x.pe=127.0.0.1:${port}`;
    const out = join(m.dir, 'dl');
    const get = await bitpeerGet(scope, magnet, out, null);
    const connects = get.events.filter((e) => e.event === 'peer-connect');
    assert.ok(connects.length > 0 && connects.every((e) => e.encryption !== 'none'), `connected through MSE\n${get.describe()}`);
    assert.ok(!get.find((e) => e.event === 'peer-disconnect' && String(e.reason).includes('invalid')), get.describe());
    assertSameNames(get, m);
    await assertExactCopy(scope, m, out);
  });
});

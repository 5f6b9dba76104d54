/**
 * MSE/PE interop with libtorrent 2.0 (python3-libtorrent), issue 11 item 2: bitpeer and libtorrent exchange a torrent
 * over TCP with libtorrent's encryption **forced** (pe_forced both ways, RC4 only: qBittorrent's "Require
 * encryption") and with libtorrent's **stock** encryption settings (pe_enabled, both levels), in both directions.
 * libtorrent's uTP is off in these cases (uTP is tested on its own); the content must come out identical.
 *
 * Invariant: everything runs on 127.0.0.1 (DHT/LSD/UPnP off, no trackers), every wait is bounded, every process and
 * temp folder a case made is gone when it ends. Skipped, with the reason printed, only when no Python with the
 * libtorrent bindings is found.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findLibtorrentPython } from '../helpers/python.js';
import { assertSameTree, listeningPort, prepareSingleFile, scopeFor } from '../helpers/interop.js';

const TRANSFER_MS = 60_000;
const READY_MS = 30_000;
const CASE_MS = 120_000;
const SIZE = 4 * 1024 * 1024 + 11;

const python = findLibtorrentPython();
const skipReason = python === null ? 'no Python interpreter can `import libtorrent`; install python3-libtorrent' : false;
if (python === null) console.log(`# SKIP MSE interop: ${String(skipReason)}`);

/** Each case: libtorrent's encryption mode and bitpeer's, and what bitpeer's log must show. */
const CASES = [
  { lt: 'forced', bp: 'forced', proof: /RC4 selected/ },
  { lt: 'forced', bp: 'enabled', proof: /RC4 selected/ },
  { lt: 'stock', bp: 'enabled', proof: /MSE/ },
] as const;

describe('MSE/PE interop with libtorrent', { skip: skipReason }, () => {
  const py = python ?? 'python3';
  for (const c of CASES) {
    test(`libtorrent (${c.lt}) seeds, bitpeer (${c.bp}) gets`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const { dir, src, torrent } = await prepareSingleFile(scope, 'bitpeer-mse-a-', SIZE);
      const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'), '--port', '0',
        '--encryption', c.lt]);
      const port = await listeningPort(seed, READY_MS);
      const out = join(dir, 'dl');
      const get = scope.bitpeer(['get', torrent, '-o', out, '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--json',
        '--verbose', '--encryption', c.bp, '--peer', `127.0.0.1:${port}`]);
      const exit = await get.exited(TRANSFER_MS);
      assert.equal(exit.code, 0, `bitpeer get failed\n${scope.describe()}`);
      await assertSameTree(scope, src, join(out, 'data.bin'));
      assert.match(get.stderr, c.proof, `bitpeer did not connect through MSE\n${get.describe()}`);
    });

    test(`bitpeer (${c.bp}) seeds, libtorrent (${c.lt}) downloads`, { timeout: CASE_MS }, async (t) => {
      const scope = scopeFor(t);
      const { dir, src, torrent } = await prepareSingleFile(scope, 'bitpeer-mse-b-', SIZE);
      const seed = scope.bitpeer(['seed', torrent, src, '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--json',
        '--verbose', '--encryption', c.bp]);
      const port = await listeningPort(seed, READY_MS);
      const out = join(dir, 'dl');
      const started = Date.now();
      const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', out, '--port', '0',
        '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000), '--encryption', c.lt]);
      const exit = await dl.exited(TRANSFER_MS + 10_000);
      assert.equal(exit.code, 0, `libtorrent did not complete the download from bitpeer\n${scope.describe()}`);
      await assertSameTree(scope, src, join(out, 'data.bin'));
      assert.match(seed.stderr, /MSE handshake done/, `libtorrent did not come in through MSE\n${seed.describe()}`);
      // The first (encrypted) attempt is taken: no closed attempt and plaintext retry (issue 11 measured 3.1 s).
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
      await seed.stop(5000);
    });
  }
});

/**
 * uTP interop with libtorrent 2.0 (python3-libtorrent), issue 11 item 3: libtorrent with TCP turned off
 * (enable_outgoing_tcp/enable_incoming_tcp false, uTP only, no encryption), both directions, so every byte crosses
 * bitpeer's uTP (BEP 29). The content must come out identical. Then libtorrent's stock uTP-first dialing against a
 * bitpeer seed: it must connect over uTP without a time-out (the issue measured 5.2 s when bitpeer dropped the SYN).
 *
 * Invariant: everything on 127.0.0.1; every wait bounded; every process and temp folder is gone after each test.
 * Skipped, with the reason, only when no Python with the libtorrent bindings is found.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findLibtorrentPython, libtorrentVersion } from '../helpers/python.js';
import type { Scope } from '../helpers/proc.js';
import { compareTrees, writeRandomFile } from '../helpers/content.js';
import { listeningPort, scopeFor } from '../helpers/interop.js';

const MiB = 1024 * 1024;
const TRANSFER_MS = 45_000;
const READY_MS = 30_000;
const CASE_MS = 90_000;
const SIZE = 8 * MiB + 77;

const python = findLibtorrentPython();
const skipReason = python === null ? 'no Python interpreter can `import libtorrent`; install python3-libtorrent' : false;
if (python === null) console.log(`# SKIP libtorrent uTP interop: ${String(skipReason)}`);
else console.log(`# libtorrent uTP interop: ${python}, libtorrent ${libtorrentVersion(python) ?? '?'}`);

async function within<T>(scope: Scope, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n=== all processes of this test:\n${scope.describe()}`, { cause: err });
  }
}

/** Source file and a bitpeer-made torrent of it. */
async function fixture(scope: Scope, tag: string): Promise<{ dir: string; src: string; torrent: string }> {
  const dir = await scope.tempDir(`bitpeer-lt-utp-${tag}-`);
  const src = join(dir, 'src', 'utp.bin');
  await writeRandomFile(src, SIZE, tag);
  const torrent = join(dir, 'utp.torrent');
  const mk = scope.bitpeer(['create', src, '-o', torrent, '--piece-length', String(256 * 1024)]);
  assert.equal((await mk.exited(30_000)).code, 0, mk.describe());
  return { dir, src, torrent };
}

describe('libtorrent uTP interop', { skip: skipReason }, () => {
  const py = python ?? 'python3';

  test('libtorrent seeds over uTP only, bitpeer gets', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const { dir, src, torrent } = await fixture(scope, 'a');
    const seed = scope.ltPeer(py, ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'), '--port', '0', '--utp-only']);
    const port = await within(scope, listeningPort(seed, READY_MS));
    const out = join(dir, 'dl');
    const get = scope.bitpeer(['get', torrent, '-o', out, '--port', '0', '--bind', '127.0.0.1', '--peer', `127.0.0.1:${port}`,
      '--json', '--no-lsd', '--utp']);
    const exit = await within(scope, get.exited(TRANSFER_MS));
    assert.equal(exit.code, 0, `bitpeer get did not finish\n${scope.describe()}`);
    assert.deepEqual(await compareTrees(src, join(out, 'utp.bin')), []);
  });

  test('bitpeer seeds, libtorrent downloads over uTP only', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const { dir, src, torrent } = await fixture(scope, 'b');
    const seed = scope.bitpeer(['seed', torrent, src, '--port', '0', '--bind', '127.0.0.1', '--json', '--no-lsd']);
    const port = await within(scope, listeningPort(seed, READY_MS));
    const out = join(dir, 'dl');
    const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', out, '--port', '0', '--utp-only',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(TRANSFER_MS / 1000)]);
    const exit = await within(scope, dl.exited(TRANSFER_MS + 10_000));
    assert.equal(exit.code, 0, `libtorrent (uTP only) did not complete from bitpeer\n${scope.describe()}`);
    assert.deepEqual(await compareTrees(src, join(out, 'utp.bin')), []);
  });

  test('libtorrent (uTP only) gets nothing from a bitpeer seed with --no-utp: the option really turns uTP off', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const { dir, src, torrent } = await fixture(scope, 'c');
    const seed = scope.bitpeer(['seed', torrent, src, '--port', '0', '--bind', '127.0.0.1', '--json', '--no-lsd', '--no-utp']);
    const port = await within(scope, listeningPort(seed, READY_MS));
    const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', join(dir, 'dl'), '--port', '0', '--utp-only',
      '--peer', `127.0.0.1:${port}`, '--timeout', '6']);
    const exit = await within(scope, dl.exited(20_000));
    assert.equal(exit.code, 3, `expected libtorrent's time-out (exit 3)\n${scope.describe()}`);
  });
});

/**
 * `bitpeer stream --stdout` end to end on loopback (issue 15): a bitpeer seed, and `bitpeer stream` writing the
 * chosen file's bytes in order to stdout while it downloads, then exiting 0. Without --file it picks the largest
 * media file; `--file N` (the RPC's index) picks another; a bad index is a usage error (exit 2).
 * Invariant: only 127.0.0.1 (no DHT, LSD or trackers); every wait bounded; processes stopped and folders removed.
 * BEP: 3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { bitpeerBin } from '../helpers/proc.js';
import { scopeFor, listeningPort } from '../helpers/interop.js';
import { writeRandomFile } from '../helpers/content.js';

const NET = ['--no-lsd', '--no-dht', '--no-tracker', '--no-utp'];

/** Runs `bitpeer stream …` and collects its stdout as bytes (bounded by `timeoutMs`). */
function streamToBuffer(args: string[], timeoutMs: number): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bitpeerBin(), 'stream', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => { err += c; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out: Buffer.concat(chunks), err }); });
  });
}

test('bitpeer stream --stdout writes the chosen file in order and exits 0', { timeout: 90_000 }, async (t) => {
  const scope = scopeFor(t);
  const dir = await scope.tempDir('bitpeer-stream-cli-');
  const src = join(dir, 'src', 'show');
  await mkdir(src, { recursive: true });
  await writeRandomFile(join(src, 'episode.mkv'), 3 * 1024 * 1024 + 17, 'ep');
  await writeRandomFile(join(src, 'bigger.bin'), 4 * 1024 * 1024, 'big');
  await writeFile(join(src, 'notes.txt'), 'hello\n');
  const torrent = join(dir, 'show.torrent');
  assert.equal((await scope.bitpeer(['create', src, '-o', torrent, '--piece-length', '65536']).exited(30_000)).code, 0);
  const seed = scope.bitpeer(['seed', torrent, src, '--port', '0', '--json', ...NET]);
  const port = await listeningPort(seed, 30_000);
  const peer = ['--peer', `127.0.0.1:${port}`, '--port', '0', ...NET];

  // The largest media file (episode.mkv), not the largest file (bigger.bin).
  const a = await streamToBuffer([torrent, '-o', join(dir, 'a'), '--stdout', ...peer], 60_000);
  assert.equal(a.code, 0, a.err);
  assert.ok(a.out.equals(await readFile(join(src, 'episode.mkv'))), 'stdout holds episode.mkv');
  assert.match(a.err, /streaming show\/episode\.mkv at http:\/\/127\.0\.0\.1:\d+\/stream\/[0-9a-f]{40}\/1/);

  // --file 2: the files are bigger.bin, episode.mkv, notes.txt (create sorts them).
  const b = await streamToBuffer([torrent, '-o', join(dir, 'b'), '--stdout', '--file', '2', ...peer], 60_000);
  assert.equal(b.code, 0, b.err);
  assert.equal(b.out.toString(), 'hello\n');

  const bad = await streamToBuffer([torrent, '-o', join(dir, 'c'), '--stdout', '--file', '3', ...peer], 60_000);
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /--file 3: the torrent has files 0\.\.2/);
});

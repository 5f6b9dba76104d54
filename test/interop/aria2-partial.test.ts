/**
 * Issue 11, item 1: an aria2 leecher that already holds part of the data (checked from disk) completes from a bitpeer
 * seed, found through bitpeer's embedded tracker, without being dropped. aria2 sends its extension handshake first
 * and its bitfield after it; bitpeer must keep the connection (no `PROTOCOL` disconnect) and serve only what aria2
 * lacks.
 * Invariant: every process talks to 127.0.0.1 only, every wait is bounded, and the scope stops what it started and
 * removes its temp folders. Skipped, with the reason printed, when aria2c is missing.
 * BEP: 3, 6, 10 (peer wire), 3 (HTTP announce).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Scope, type JsonEvent } from '../helpers/proc.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import { aria2Args, aria2LogTail, findAria2, freePort } from '../helpers/trackers.js';

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const SIZE = 4 * MiB + 12_345;
/** The leecher starts with the first 40 % of the pieces. */
const HAVE_BYTES = Math.floor((SIZE * 0.4) / PIECE) * PIECE;
const aria2 = findAria2();

test('an aria2 leecher with part of the data completes from a bitpeer seed without being dropped', {
  timeout: 120_000, skip: aria2 === null ? 'aria2c is not installed (apt-get install aria2)' : false,
}, async (t) => {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  const dir = await scope.tempDir('bitpeer-aria2-partial-');
  const name = 'partial.bin';
  await writeTree(join(dir, 'src'), [{ path: name, size: SIZE }], 'aria2 partial');
  const src = join(dir, 'src', name);
  const torrent = join(dir, 'p.torrent');
  const port = await freePort();
  const share = scope.bitpeer(['share', src, '-o', torrent, '--port', String(port), '--bind', '127.0.0.1',
    '--announce-host', '127.0.0.1', '--piece-length', String(PIECE), '--json', '--no-lsd']);
  await share.waitFor((e) => e.event === 'info' && typeof e.torrent === 'string', 30_000, 'the shared torrent');

  // aria2's copy: the right bytes for the first pieces, zeros after.
  const dl = join(dir, 'dl');
  await mkdir(dl);
  await copyFile(src, join(dl, name));
  const fh = await open(join(dl, name), 'r+');
  try {
    const zeros = Buffer.alloc(64 * 1024);
    for (let off = HAVE_BYTES; off < SIZE; off += zeros.length) await fh.write(zeros, 0, Math.min(zeros.length, SIZE - off), off);
  } finally { await fh.close(); }

  const log = join(dir, 'aria2.log');
  const args = aria2Args({ torrent, dir: dl, tracker: `http://127.0.0.1:${port}/announce`, listenPort: await freePort(), logFile: log });
  args.splice(args.length - 1, 0, '--check-integrity=true');
  const aria = scope.spawn('aria2c', args, { name: 'aria2c' });
  const exit = await aria.exited(90_000);
  const disconnects = (): string => share.events.filter((e: JsonEvent) => e.event === 'peer-disconnect').slice(0, 5)
    .map((e) => JSON.stringify(e)).join('\n');
  // What aria2 told bitpeer about its pieces (its info log names every message it sends).
  const said = async (): Promise<string> => (await readFile(log, 'utf8').catch(() => '')).split('\n')
    .filter((l) => /To: \S+ (bitfield|have|extended|interested)/i.test(l)).slice(0, 12).join('\n');
  assert.equal(exit.code, 0, `aria2c failed\n--- bitpeer's disconnects\n${disconnects()}\n--- aria2 sent\n${await said()}\n` +
    `${scope.describe()}\n--- aria2 log tail\n${await aria2LogTail(log)}`);
  assert.deepEqual(await compareTrees(join(dir, 'src'), dl), [], 'aria2 holds the seed\'s bytes');

  const dropped = share.events.filter((e: JsonEvent) => e.event === 'peer-disconnect' && e.code === 'PROTOCOL');
  assert.deepEqual(dropped, [], `bitpeer dropped no peer for a protocol error\n${scope.describe()}`);
  const connects = share.events.filter((e: JsonEvent) => e.event === 'peer-connect');
  assert.equal(connects.length, 1, `aria2 connected once (no reconnects after a drop): ${JSON.stringify(connects)}`);
  await share.stop(5000);
  const totals = share.events.find((e: JsonEvent) => e.event === 'peer-totals');
  const peers = Array.isArray(totals?.peers) ? totals.peers as Array<Record<string, unknown>> : [];
  const uploaded = peers.reduce((s, p) => s + Number(p.uploaded ?? 0), 0);
  assert.ok(uploaded > 0 && uploaded <= SIZE - HAVE_BYTES + PIECE,
    `bitpeer sent only what aria2 lacked: ${uploaded} bytes for ${SIZE - HAVE_BYTES} missing`);
});

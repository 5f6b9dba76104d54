/**
 * Changed files (issue 4): the daemon downloads a multi-file torrent and is stopped cleanly; while it is down, a few
 * bytes of one file are modified and another file is truncated. On restart the daemon must trust the resume data for
 * every untouched file (its start-up log line "N pieces trusted from resume data, M to check, changed files: K" is
 * parsed), re-check only the two changed files, and fetch again only their bad pieces: a fresh seed process counts
 * exactly what it uploads in that second phase.
 * BEP: none (persistence end to end).
 */
import assert from 'node:assert/strict';
import { open, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';
import {
  addTorrent, createTorrent, distinctPorts, fileIndex, havePieces, logLines, MiB, mibText, pieceBytes, piecesOfFile, startDaemon,
  startSeed, startupPlan, stopDaemonCleanly, stopSeed, uploadedOf, waitComplete,
} from './harness.js';

const KiB = 1024;
const FILES: FileSpec[] = [
  { path: 'a.bin', size: 3 * MiB + 1000 },
  { path: 'sub/b.bin', size: 5 * MiB - 77 },           // a few bytes modified
  { path: 'sub/c.bin', size: 2 * MiB + 5 },
  { path: 'sub/deep/d.bin', size: 6 * MiB + 12_345 },  // truncated
  { path: 'e.bin', size: 4 * MiB },
  { path: 'tiny.txt', size: 10 },
];
const SIZE = FILES.reduce((s, f) => s + f.size, 0);
const MODIFY_AT = 2 * MiB + 100 * KiB + 3; // inside b.bin
const TRUNCATE_TO = 2 * MiB + 300 * KiB + 7; // d.bin's new length

const scope = new Scope();
after(() => scope.cleanup());

test('a modified file and a truncated file: only they are re-checked, only their bad pieces are fetched again', { timeout: 110_000 }, async () => {
  const root = await scope.tempDir('bitpeer-changed-');
  const data = join(root, 'src', 'cf');
  await writeTree(data, FILES, 'changed-files');
  const [seedPort, port, rpcPort] = await distinctPorts(3);
  const torrentFile = join(root, 'cf.torrent');
  const meta = await createTorrent(data, torrentFile, seedPort!);
  const hash = meta.infoHashHex;
  const spec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') };
  const out = join(spec.downloadDir, meta.name);

  // 1. Download everything, then stop cleanly (resume data saved).
  const seed1 = await startSeed(scope, torrentFile, data, seedPort!, '16M', 'seed 1');
  let d = await startDaemon(scope, spec);
  await addTorrent(d.rpc, torrentFile);
  const first = await waitComplete(d, hash, 60_000);
  await stopDaemonCleanly(d);
  const phase1 = uploadedOf(await stopSeed(seed1));
  assert.deepEqual(await compareTrees(data, out), [], 'first download: content matches');
  assert.ok(phase1 >= SIZE, `the seed uploaded the whole torrent once (${phase1} of ${SIZE})`);

  // 2. While it is down: flip 3 bytes in the middle of b.bin, truncate d.bin mid-piece.
  const bIndex = fileIndex(meta, 'sub/b.bin');
  const dIndex = fileIndex(meta, 'sub/deep/d.bin');
  const fh = await open(join(out, 'sub', 'b.bin'), 'r+');
  try {
    const buf = Buffer.alloc(3);
    await fh.read(buf, 0, 3, MODIFY_AT);
    for (let i = 0; i < 3; i++) buf[i] = buf[i]! ^ 0xff;
    await fh.write(buf, 0, 3, MODIFY_AT);
  } finally {
    await fh.close();
  }
  await truncate(join(out, 'sub', 'deep', 'd.bin'), TRUNCATE_TO);

  // What a correct start-up plan looks like.
  const touched = new Set([...piecesOfFile(meta, bIndex), ...piecesOfFile(meta, dIndex)]);
  const untouched = meta.pieceCount - touched.size;
  const bFile = meta.files[bIndex]!;
  const dFile = meta.files[dIndex]!;
  const badPieces = new Set<number>([Math.floor((bFile.offset + MODIFY_AT) / meta.pieceLength), Math.floor((bFile.offset + MODIFY_AT + 2) / meta.pieceLength)]);
  for (const i of piecesOfFile(meta, dIndex)) if ((i + 1) * meta.pieceLength > dFile.offset + TRUNCATE_TO) badPieces.add(i);
  const badBytes = pieceBytes(meta, badPieces);
  const touchedBytes = pieceBytes(meta, touched);

  // 3. Restart with a fresh seed that counts only this phase.
  const seed2 = await startSeed(scope, torrentFile, data, seedPort!, '16M', 'seed 2');
  const t0 = Date.now();
  d = await startDaemon(scope, spec);
  const plan = startupPlan(d.child, meta.name);
  assert.ok(plan, `the daemon logged its start-up plan:\n${logLines(d.child).join('\n')}`);
  const again = await waitComplete(d, hash, 60_000, 'the torrent to complete again');
  const refetchMs = Date.now() - t0;
  await stopDaemonCleanly(d);
  const upload2 = await stopSeed(seed2);
  const phase2 = uploadedOf(upload2);

  console.log(`# changed files: ${meta.pieceCount} pieces of ${meta.pieceLength / KiB} KiB, ${mibText(SIZE)}; first download ${mibText(phase1)} sent`);
  console.log(`# changed files: restart plan "${plan.line}"`);
  console.log(`# changed files: pieces touching b.bin or d.bin: ${touched.size} (${mibText(touchedBytes)}); bad pieces ${badPieces.size} ` +
    `(${mibText(badBytes)}); the seed sent ${phase2} bytes (${mibText(phase2)}) in the second phase; complete again after ${refetchMs} ms`);
  console.log(`# changed files: daemon downloadedEver ${first.downloadedEver} → ${again.downloadedEver} (+${again.downloadedEver - first.downloadedEver})`);

  assert.equal(plan.changedFiles, 2, 'exactly the two changed files are counted as changed');
  assert.equal(plan.trusted, untouched, 'every piece of the untouched files is trusted from the resume data, and no other');
  assert.ok(plan.toCheck <= touched.size + 4, `at most the changed files' pieces (+4 spot checks) are re-checked: ${plan.toCheck} > ${touched.size} + 4`);
  assert.deepEqual(await compareTrees(data, out), [], 'after the restart: content matches');
  const have = havePieces(again.pieces, again.pieceCount);
  assert.equal(have.size, meta.pieceCount, 'every piece is had again');
  assert.ok(phase2 >= badBytes, `the bad pieces were fetched again (${phase2} < ${badBytes})`);
  assert.ok(phase2 <= badBytes + 2 * meta.pieceLength,
    `only roughly the bad pieces were fetched again: ${phase2} bytes > bad pieces ${badBytes} + 2 pieces of slack ` +
    `(pieces touching the changed files: ${touchedBytes})`);
});

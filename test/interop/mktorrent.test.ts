// Interop: for the same input, name, piece length and private flag, createTorrent and mktorrent 1.1 produce the
// same info-hash (and byte-identical info dicts). Skipped, with the reason printed, only when mktorrent is missing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTorrent } from '../../src/create/create-torrent.js';
import { parseTorrent } from '../../src/metainfo/metainfo.js';

const probe = spawnSync('mktorrent', ['-h'], { encoding: 'utf8' });
const missing = probe.error !== undefined ? 'mktorrent not installed' : undefined;
if (missing !== undefined) console.log(`# skipping mktorrent interop: ${missing}`);

const root = mkdtempSync(path.join(tmpdir(), 'bitpeer-mktorrent-'));
after(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, data: Buffer | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

/** Builds the torrent both ways and compares. */
async function compare(target: string, log2: number, priv: boolean): Promise<void> {
  const out = path.join(root, `mk-${path.basename(target)}-${log2}-${priv}.torrent`);
  const name = path.basename(target);
  const args = ['-d', '-l', String(log2), '-n', name, '-o', out, ...(priv ? ['-p'] : []), target];
  const r = spawnSync('mktorrent', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `mktorrent ${args.join(' ')} failed: ${r.stderr}`);
  const theirs = parseTorrent(readFileSync(out));
  const ours = await createTorrent(target, { pieceLength: 2 ** log2, private: priv, name, creationDate: null });
  assert.deepEqual(ours.meta.files, theirs.files);
  assert.equal(ours.meta.private, priv);
  assert.equal(theirs.private, priv);
  assert.ok(ours.meta.infoBytes.equals(theirs.infoBytes), 'info dicts are byte-identical');
  assert.equal(ours.meta.infoHashHex, theirs.infoHashHex);
}

test('single file of an awkward size', { skip: missing }, async () => {
  const file = path.join(root, 'single', 'movie.part.mkv');
  write(file, randomBytes(1_000_003));
  await compare(file, 15, false);
  await compare(file, 18, false);
});

test('nested folder: several levels, several files, awkward sizes, hidden and empty files', { skip: missing }, async () => {
  const dir = path.join(root, 'My Album');
  write(path.join(dir, '01 - intro.flac'), randomBytes(123_457));
  write(path.join(dir, '01-intro.txt'), 'notes');
  write(path.join(dir, '01.intro'), randomBytes(65_536));
  write(path.join(dir, 'art', 'front.jpg'), randomBytes(33_333));
  write(path.join(dir, 'art', 'scans', 'deep', 'er', 'page 1.png'), randomBytes(200_001));
  write(path.join(dir, 'art', 'scans', 'deep', 'er', 'page 2.png'), randomBytes(1));
  write(path.join(dir, '.hidden', 'x'), randomBytes(7));
  write(path.join(dir, 'Zed'), randomBytes(16_384));
  write(path.join(dir, 'empty.cue'), '');
  write(path.join(dir, 'naïve ünïcödé', 'ß.txt'), randomBytes(999));
  await compare(dir, 15, false);
  await compare(dir, 16, false);
});

test('private flag, single file and folder', { skip: missing }, async () => {
  const file = path.join(root, 'private', 'secret.bin');
  write(file, randomBytes(70_000));
  write(path.join(root, 'private', 'sub', 'more.bin'), randomBytes(40_000));
  await compare(file, 15, true);
  await compare(path.join(root, 'private'), 15, true);
});

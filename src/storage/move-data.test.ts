import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { moveTorrentData } from './move-data.js';
import { makeMeta } from '../../test/support/test-meta.js';
import { isBtError } from '../util/errors.js';
import { put, tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('move-data');
const meta = () => makeMeta({ name: 'doc', pieceLength: 16, files: [
  { path: ['a.txt'], length: 1 }, { path: ['.pad', '0'], length: 15, padding: true }, { path: ['sub', 'b.txt'], length: 1 },
] }).meta;

test('moves the torrent\'s own files, creates the destination folders, removes source folders that became empty', async () => {
  const from = tmpDir();
  const to = path.join(tmpDir(), 'new', 'place');
  put(from, 'doc/a.txt', 'A'); put(from, 'doc/sub/b.txt', 'B');
  put(from, 'doc/mine.txt', 'user');
  const r = await moveTorrentData(meta(), from, to);
  assert.equal(r.moved.length, 2);
  assert.equal(fs.readFileSync(path.join(to, 'doc/a.txt'), 'utf8'), 'A');
  assert.equal(fs.readFileSync(path.join(to, 'doc/sub/b.txt'), 'utf8'), 'B');
  assert.ok(!fs.existsSync(path.join(from, 'doc/sub')), 'emptied source folder removed');
  assert.deepEqual(fs.readdirSync(path.join(from, 'doc')), ['mine.txt'], 'the user\'s file stays where it was');
  assert.ok(!fs.existsSync(path.join(to, 'doc/mine.txt')));
});

test('refuses, before moving anything, when a destination file exists; never overwrites', async () => {
  const from = tmpDir();
  const to = tmpDir();
  put(from, 'doc/a.txt', 'A'); put(from, 'doc/sub/b.txt', 'B');
  put(to, 'doc/sub/b.txt', 'someone else\'s');
  await assert.rejects(moveTorrentData(meta(), from, to), (e: unknown) => isBtError(e, 'IO') && /already exists/.test(e.message));
  assert.equal(fs.readFileSync(path.join(to, 'doc/sub/b.txt'), 'utf8'), 'someone else\'s');
  assert.equal(fs.readFileSync(path.join(from, 'doc/a.txt'), 'utf8'), 'A');
  assert.equal(fs.readFileSync(path.join(from, 'doc/sub/b.txt'), 'utf8'), 'B');
  assert.ok(!fs.existsSync(path.join(to, 'doc/a.txt')));
});

test('a destination folder that is a symlink leading outside is refused; a source symlink is not moved', async () => {
  const from = tmpDir();
  const to = tmpDir();
  const outside = tmpDir();
  put(from, 'doc/a.txt', 'A'); put(from, 'doc/sub/b.txt', 'B');
  fs.mkdirSync(path.join(to, 'doc'));
  fs.symlinkSync(outside, path.join(to, 'doc', 'sub'));
  await assert.rejects(moveTorrentData(meta(), from, to), (e: unknown) => isBtError(e, 'BAD_PATH') || /exists/.test(String(e)));
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing written outside');
  assert.equal(fs.readFileSync(path.join(from, 'doc/a.txt'), 'utf8'), 'A', 'moved back after the failure');
  assert.equal(fs.readFileSync(path.join(from, 'doc/sub/b.txt'), 'utf8'), 'B');
  const from2 = tmpDir();
  put(from2, 'target', 'T');
  fs.mkdirSync(path.join(from2, 'doc'));
  fs.symlinkSync(path.join(from2, 'target'), path.join(from2, 'doc', 'a.txt'));
  const to2 = tmpDir();
  const r = await moveTorrentData(meta(), from2, to2);
  assert.ok(r.kept.some((k) => /symbolic link/.test(k.reason)));
  assert.ok(fs.lstatSync(path.join(from2, 'doc', 'a.txt')).isSymbolicLink());
  assert.ok(!fs.existsSync(path.join(to2, 'doc', 'a.txt')));
});

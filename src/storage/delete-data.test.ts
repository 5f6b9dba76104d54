import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deleteTorrentData, torrentFolders } from './delete-data.js';
import { makeMeta } from '../../test/support/test-meta.js';
import { put, tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('delete-data');

const torrentA = () => makeMeta({ name: 'doc', pieceLength: 16, files: [
  { path: ['a.txt'], length: 5 },
  { path: ['.pad', '0'], length: 11, padding: true },
  { path: ['sub', 'deep', 'b.txt'], length: 7 },
  { path: ['sub', 'c.txt'], length: 3 },
] }).meta;

test('deletes only the listed files and the folders that became empty; a user file and another torrent survive', async () => {
  const dir = tmpDir();
  put(dir, 'doc/a.txt'); put(dir, 'doc/sub/deep/b.txt'); put(dir, 'doc/sub/c.txt');
  put(dir, 'doc/my-notes.txt', 'mine');          // the user's
  put(dir, 'doc/other/b2.txt', 'B');              // another torrent named doc
  put(dir, 'doc/.pad/0', 'not ours to delete');   // pad files are never touched, even if something is there
  const r = await deleteTorrentData(torrentA(), dir);
  assert.deepEqual(r.deleted.map((p) => path.relative(dir, p)).sort(), ['doc/a.txt', 'doc/sub/c.txt', 'doc/sub/deep/b.txt']);
  assert.deepEqual(r.removedDirs.map((p) => path.relative(dir, p)), ['doc/sub/deep', 'doc/sub']);
  assert.equal(fs.readFileSync(path.join(dir, 'doc/my-notes.txt'), 'utf8'), 'mine');
  assert.equal(fs.readFileSync(path.join(dir, 'doc/other/b2.txt'), 'utf8'), 'B');
  assert.ok(fs.existsSync(path.join(dir, 'doc/.pad/0')));
  assert.ok(r.kept.some((k) => k.path === path.join(dir, 'doc') && /not empty/.test(k.reason)));
  assert.ok(fs.existsSync(dir), 'the save folder stays');
});

test('removes the top folder when it became empty, never the save folder', async () => {
  const dir = tmpDir();
  put(dir, 'doc/a.txt'); put(dir, 'doc/sub/deep/b.txt'); put(dir, 'doc/sub/c.txt');
  const r = await deleteTorrentData(torrentA(), dir);
  assert.equal(r.deleted.length, 3);
  assert.deepEqual(fs.readdirSync(dir), []);
  assert.ok(r.removedDirs.includes(path.join(dir, 'doc')));
  // A single-file torrent: the save folder is its only "folder", and it is never removed.
  const single = makeMeta({ name: 'one.bin', pieceLength: 16, length: 4 }).meta;
  put(dir, 'one.bin');
  const r2 = await deleteTorrentData(single, dir);
  assert.deepEqual(r2.deleted, [path.join(dir, 'one.bin')]);
  assert.deepEqual(r2.removedDirs, []);
  assert.ok(fs.existsSync(dir));
});

test('a file another torrent lists is kept, with the reason', async () => {
  const dir = tmpDir();
  put(dir, 'doc/a.txt'); put(dir, 'doc/sub/c.txt');
  const shared = path.join(dir, 'doc/a.txt');
  const r = await deleteTorrentData(torrentA(), dir, { isShared: (p) => (p === shared ? 'B (2)' : undefined) });
  assert.ok(fs.existsSync(shared));
  assert.ok(r.kept.some((k) => k.path === shared && /also listed by torrent B/.test(k.reason)));
  assert.ok(!fs.existsSync(path.join(dir, 'doc/sub')));
});

test('symlinks: a link at a file path is unlinked as a link; a folder link leading outside is not followed', async () => {
  const dir = tmpDir();
  const outside = tmpDir();
  put(outside, 'precious.txt', 'keep');
  put(outside, 'sub/c.txt', 'keep too');
  fs.mkdirSync(path.join(dir, 'doc'));
  fs.symlinkSync(path.join(outside, 'precious.txt'), path.join(dir, 'doc/a.txt'));
  fs.symlinkSync(path.join(outside, 'sub'), path.join(dir, 'doc/sub'));
  const r = await deleteTorrentData(torrentA(), dir);
  assert.equal(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'keep');
  assert.equal(fs.readFileSync(path.join(outside, 'sub/c.txt'), 'utf8'), 'keep too');
  assert.ok(!fs.existsSync(path.join(dir, 'doc/a.txt')) && r.deleted.includes(path.join(dir, 'doc/a.txt')));
  assert.ok(r.kept.some((k) => k.path === path.join(dir, 'doc/sub/c.txt') && /outside/.test(k.reason)));
  assert.ok(fs.lstatSync(path.join(dir, 'doc/sub')).isSymbolicLink(), 'a folder link is not removed');
});

test('a folder at a file path is left alone; a missing save folder is nothing to do', async () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 'doc/a.txt'), { recursive: true });
  put(dir, 'doc/a.txt/inside', 'user');
  const r = await deleteTorrentData(torrentA(), dir);
  assert.ok(fs.existsSync(path.join(dir, 'doc/a.txt/inside')));
  assert.ok(r.kept.some((k) => k.path === path.join(dir, 'doc/a.txt')));
  const none = await deleteTorrentData(torrentA(), path.join(dir, 'absent'));
  assert.deepEqual(none, { deleted: [], removedDirs: [], kept: [] });
});

test('torrentFolders lists the parents of non-pad files, deepest first', () => {
  assert.deepEqual(torrentFolders(torrentA()).map((c) => c.join('/')), ['doc/sub/deep', 'doc/sub', 'doc']);
});

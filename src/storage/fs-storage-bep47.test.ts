// BEP 47 on disk: pad files never created, symlinks created only when they stay inside the torrent's folder,
// execute bits set at completion, and never a file opened through a link that leaves the folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FsStorage } from './fs-storage.js';
import { parseTorrent, pieceSize } from '../metainfo/metainfo.js';
import type { Metainfo } from '../metainfo/types.js';
import { encode } from '../bencode/encode.js';
import type { Encodable } from '../bencode/types.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('fs-storage-bep47');

function torrent(files: Encodable[], pieces: number): Metainfo {
  return parseTorrent(encode({ info: { name: 't', 'piece length': 16384, pieces: Buffer.alloc(20 * pieces), files } }));
}

/** Write every piece (bytes 1..255 repeating) and call prepare, as a completed download does. */
async function complete(meta: Metainfo, dir: string): Promise<FsStorage> {
  const s = await FsStorage.open(meta, dir);
  for (let p = 0; p < meta.pieceCount; p++) await s.writePiece(p, Buffer.alloc(pieceSize(meta, p), 7));
  await s.prepare();
  return s;
}

test('pad files are never created; symlinks inside the folder are made relative; x sets execute where read is set', async () => {
  const dir = tmpDir();
  const meta = torrent([
    { length: 5, path: ['bin', 'run.sh'], attr: 'x' },
    { length: 16379, path: ['.pad', '16379'], attr: 'p' },
    { length: 5, path: ['data'], attr: 'h' },
    { length: 0, path: ['lnk'], attr: 'l', 'symlink path': ['bin', 'run.sh'] },
    { length: 0, path: ['sub', 'up'], attr: 'l', 'symlink path': ['data'] },
    { length: 0, path: ['dirlink'], attr: 'l', 'symlink path': ['bin'] },
  ], 2);
  const s = await complete(meta, dir);
  await s.close();
  const root = path.join(dir, 't');
  assert.equal(fs.existsSync(path.join(root, '.pad')), false);
  assert.equal(fs.readlinkSync(path.join(root, 'lnk')), path.join('bin', 'run.sh'));
  assert.equal(fs.readlinkSync(path.join(root, 'sub', 'up')), path.join('..', 'data'));
  assert.equal(fs.readlinkSync(path.join(root, 'dirlink')), 'bin');
  assert.equal(fs.readFileSync(path.join(root, 'lnk')).length, 5);
  const mode = fs.statSync(path.join(root, 'bin', 'run.sh')).mode;
  assert.equal(mode & 0o111, (mode & 0o444) >> 2);
  assert.ok((mode & 0o100) !== 0);
  assert.equal(fs.statSync(path.join(root, 'data')).mode & 0o111, 0);
  assert.deepEqual(s.warnings, []);
});

test('a symlink whose target resolves outside the torrent folder (through a planted link) is skipped, not made', async () => {
  const dir = tmpDir();
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(dir, 'save', 't'), { recursive: true });
  fs.mkdirSync(outside);
  fs.symlinkSync(outside, path.join(dir, 'save', 't', 'planted'));
  const meta = torrent([
    { length: 5, path: ['a'] },
    { length: 0, path: ['evil'], attr: 'l', 'symlink path': ['planted', 'x'] },
    { length: 0, path: ['escape'], attr: 'l', 'symlink path': ['..', '..', 'etc', 'passwd'] },
  ], 1);
  assert.deepEqual(meta.files[2]!.symlinkTarget, ['etc', 'passwd']); // sanitised: never climbs
  const s = await complete(meta, path.join(dir, 'save'));
  await s.close();
  assert.equal(fs.existsSync(path.join(dir, 'save', 't', 'evil')), false);
  assert.ok(s.warnings.some((w) => w.includes('evil') && w.includes('outside')), JSON.stringify(s.warnings));
  // the sanitised "escape" link points inside (a dangling link to t/etc/passwd), never to /etc/passwd
  assert.equal(fs.readlinkSync(path.join(dir, 'save', 't', 'escape')), path.join('etc', 'passwd'));
  assert.deepEqual(fs.readdirSync(outside), []);
});

test('an existing file where a symlink goes is kept, with a warning', async () => {
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 't'), { recursive: true });
  fs.writeFileSync(path.join(dir, 't', 'lnk'), 'user data');
  const meta = torrent([{ length: 5, path: ['a'] }, { length: 0, path: ['lnk'], attr: 'l', 'symlink path': ['a'] }], 1);
  const s = await complete(meta, dir);
  await s.close();
  assert.equal(fs.readFileSync(path.join(dir, 't', 'lnk'), 'utf8'), 'user data');
  assert.ok(s.warnings.some((w) => w.includes('already at its path')));
});

test('a data file is never opened through a planted folder link that leaves the save folder', async () => {
  const dir = tmpDir();
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(outside);
  fs.mkdirSync(path.join(dir, 'save', 't'), { recursive: true });
  fs.symlinkSync(outside, path.join(dir, 'save', 't', 'sub'));
  const meta = torrent([{ length: 5, path: ['sub', 'f'] }, { length: 5, path: ['b'] }], 1);
  const s = await FsStorage.open(meta, path.join(dir, 'save'));
  await assert.rejects(s.writePiece(0, Buffer.alloc(10, 1)), /resolves outside the save folder/);
  await s.close();
  assert.deepEqual(fs.readdirSync(outside), []);
});

test('a link made under a folder that is itself a link (an earlier torrent\'s) still points where its entry says', async () => {
  // Torrent A ("t") leaves t/a/b/c/d → t/xd (a folder link one level deep). Torrent B (also "t", same save folder)
  // has a link a/b/c/d/L → T: its relative text must be computed from the folder it really lands in (t/xd), or
  // "../../../../T" climbs three levels above the torrent folder, out of the save folder.
  const dir = tmpDir();
  const save = path.join(dir, 'deep', 'save');
  const a = torrent([
    { length: 5, path: ['xd', 'f'] },
    { length: 0, path: ['a', 'b', 'c', 'd'], attr: 'l', 'symlink path': ['xd'] },
  ], 1);
  await (await complete(a, save)).close();
  assert.equal(fs.realpathSync(path.join(save, 't', 'a', 'b', 'c', 'd')), fs.realpathSync(path.join(save, 't', 'xd')));
  const b = torrent([
    { length: 5, path: ['q'] },
    { length: 0, path: ['a', 'b', 'c', 'd', 'L'], attr: 'l', 'symlink path': ['T'] },
  ], 1);
  const s = await complete(b, save);
  await s.close();
  const made = path.join(fs.realpathSync(path.join(save, 't', 'xd')), 'L');
  if (fs.existsSync(path.join(save, 't', 'xd', 'L')) || fs.lstatSync(made, { throwIfNoEntry: false }) !== undefined) {
    const resolved = path.resolve(path.dirname(made), fs.readlinkSync(made));
    assert.equal(resolved, path.join(fs.realpathSync(path.join(save, 't')), 'T'), `link text ${fs.readlinkSync(made)}`);
  } else {
    assert.ok(s.warnings.some((w) => w.includes('L')), JSON.stringify(s.warnings));
  }
});

test('prepare never creates a deselected (never written) executable file just to set its x bit', async () => {
  const dir = tmpDir();
  const meta = torrent([{ length: 16384, path: ['wanted'] }, { length: 16384, path: ['skipped.sh'], attr: 'x' }], 2);
  const s = await FsStorage.open(meta, dir);
  await s.writePiece(0, Buffer.alloc(16384, 1));
  await s.prepare();
  await s.close();
  assert.equal(fs.existsSync(path.join(dir, 't', 'wanted')), true);
  assert.equal(fs.existsSync(path.join(dir, 't', 'skipped.sh')), false);
});

test('deleting the torrent\'s data removes its links but never a user\'s file that sat where a link would go', async () => {
  const { deleteTorrentData } = await import('./delete-data.js');
  const dir = tmpDir();
  fs.mkdirSync(path.join(dir, 't'), { recursive: true });
  fs.writeFileSync(path.join(dir, 't', 'lnk'), 'user data');
  const meta = torrent([
    { length: 5, path: ['a'] },
    { length: 0, path: ['lnk'], attr: 'l', 'symlink path': ['a'] },
    { length: 0, path: ['lnk2'], attr: 'l', 'symlink path': ['a'] },
  ], 1);
  const s = await complete(meta, dir);
  await s.close();
  assert.equal(fs.lstatSync(path.join(dir, 't', 'lnk2')).isSymbolicLink(), true);
  const r = await deleteTorrentData(meta, dir);
  assert.equal(fs.readFileSync(path.join(dir, 't', 'lnk'), 'utf8'), 'user data');
  assert.equal(fs.existsSync(path.join(dir, 't', 'a')), false);
  assert.equal(fs.lstatSync(path.join(dir, 't', 'lnk2'), { throwIfNoEntry: false }), undefined);
  assert.ok(r.kept.some((k) => k.path.endsWith('lnk')), JSON.stringify(r.kept));
});

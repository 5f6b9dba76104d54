/**
 * Session-level storage policy (issue 9, finding 1): two torrents never share file paths (PATH_CONFLICT), and a
 * failed add removes only what it created.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTorrent } from '../create/create-torrent.js';
import { isBtError } from '../util/errors.js';
import { Session } from './session.js';
import { put, tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('session-storage');
const opts = { pieceLength: 16 * 1024, creationDate: null, announce: [] as string[] };

test('a torrent whose files are another torrent\'s files, or folders of them, is refused with PATH_CONFLICT', async () => {
  const src = tmpDir();
  put(src, 'a/doc/one.txt', 'one'); put(src, 'a/doc/sub/two.txt', 'two');
  put(src, 'b/doc/three.txt', 'three');
  put(src, 'c/doc', 'a file named doc');
  put(src, 'd/doc/one.txt/x', 'one.txt is a folder here');
  const a = (await createTorrent(path.join(src, 'a/doc'), opts)).meta;
  const aAgain = (await createTorrent(path.join(src, 'a/doc'), { ...opts, private: true })).meta;
  const b = (await createTorrent(path.join(src, 'b/doc'), opts)).meta;
  const c = (await createTorrent(path.join(src, 'c/doc'), opts)).meta;
  const d = (await createTorrent(path.join(src, 'd/doc'), opts)).meta;
  assert.notEqual(a.infoHashHex, aAgain.infoHashHex);
  const save = tmpDir();
  const session = new Session({ hashWorkers: 1 });
  try {
    const ta = await session.addTorrent(a, { savePath: save, paused: true, tag: '#1' }); // the API tags torrents with their ids
    await assert.rejects(session.addTorrent(aAgain, { savePath: save, paused: true }), (e: unknown) =>
      isBtError(e, 'PATH_CONFLICT') && /one\.txt is also a file of torrent #1 \("doc"\)/.test(e.message) && /another download folder/.test(e.message));
    await assert.rejects(session.addTorrent(c, { savePath: save, paused: true }), (e: unknown) => isBtError(e, 'PATH_CONFLICT'));
    await assert.rejects(session.addTorrent(d, { savePath: save, paused: true }), (e: unknown) => isBtError(e, 'PATH_CONFLICT'));
    assert.equal(session.torrents.size, 1, 'refused torrents are not in the session');
    // Same top-level name, disjoint files: allowed. The same files in another folder: allowed.
    await session.addTorrent(b, { savePath: save, paused: true });
    await session.addTorrent(aAgain, { savePath: tmpDir(), paused: true });
    // Once the first is removed, its paths are free again.
    await session.removeTorrent(ta);
    await session.addTorrent(c, { savePath: save, paused: true }).then(
      () => assert.fail('doc is still a folder of torrent b'), (e: unknown) => assert.ok(isBtError(e, 'PATH_CONFLICT')));
    const again = await createTorrent(path.join(src, 'a/doc'), { ...opts, pieceLength: 32 * 1024 });
    await session.addTorrent(again.meta, { savePath: save, paused: true });
    assert.equal(session.torrents.size, 3);
  } finally {
    await session.close();
  }
});

test('a failed add removes the files and folders it created and keeps what existed before', async () => {
  const src = tmpDir();
  const body = Buffer.alloc(20_000, 7);
  put(src, 't/a.bin', body); put(src, 't/sub/empty', ''); put(src, 't/x/empty2', '');
  const meta = (await createTorrent(path.join(src, 't'), opts)).meta;
  const save = tmpDir();
  put(save, 't/a.bin', body);                 // the data, complete: the torrent is done after its check
  put(save, 't/x', 'a user file where the torrent wants a folder');
  const session = new Session({ hashWorkers: 1 });
  try {
    // Completion creates the zero-length files: t/sub/empty works, t/x/empty2 cannot (t/x is a file): the add fails.
    await assert.rejects(session.addTorrent(meta, { savePath: save }), /x\/empty2|ENOTDIR|EEXIST/);
    assert.equal(session.torrents.size, 0);
    assert.ok(!fs.existsSync(path.join(save, 't/sub')), 't/sub and t/sub/empty were created by the add: removed');
    assert.deepEqual(fs.readdirSync(path.join(save, 't')).sort(), ['a.bin', 'x']);
    assert.deepEqual(fs.readFileSync(path.join(save, 't/a.bin')), body);
    assert.equal(fs.readFileSync(path.join(save, 't/x'), 'utf8'), 'a user file where the torrent wants a folder');
  } finally {
    await session.close();
  }
});

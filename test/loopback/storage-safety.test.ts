/**
 * Issue 9, findings 3 and 5 (folders), through the CLI on 127.0.0.1:
 * - `share` of a folder that holds symlinks (to a file inside it and to one outside) seeds what `create` hashed
 *   through the links, and a downloader gets the data as regular files;
 * - `get` that has received nothing yet leaves no folder behind after SIGINT (folders appear when their first file
 *   is written).
 * BEP: none (storage policy).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeTree, type FileSpec } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';

const scope = new Scope();
after(() => scope.cleanup());

const NET = ['--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker', '--json'];

test('share of a folder with symlinks seeds through them; a downloader gets the data', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir('bitpeer-share-links-');
  const share = join(dir, 'share');
  await writeTree(share, [{ path: 'real.bin', size: 70_001 }, { path: 'inner/target.bin', size: 50_000 }], 'share-links');
  await writeTree(join(dir, 'outside'), [{ path: 'far.bin', size: 90_003 }], 'outside');
  await symlink(join(share, 'inner', 'target.bin'), join(share, 'link-inside.bin'));
  await symlink(join(dir, 'outside', 'far.bin'), join(share, 'link-outside.bin'));
  const seeder = scope.bitpeer(['share', share, '-o', join(dir, 'share.torrent'), '--piece-length', '16K', '--announce-host', '127.0.0.1', ...NET]);
  const listening = await seeder.waitFor((e) => e.event === 'listening', 15_000, 'the share listening');
  await seeder.waitFor((e) => e.event === 'state' && e['state'] === 'seeding', 15_000, 'the share seeding (not refusing the links)');
  const get = scope.bitpeer(['get', join(dir, 'share.torrent'), '-o', join(dir, 'out'), '--peer', `127.0.0.1:${String(listening['port'])}`, ...NET]);
  const exit = await get.exited(20_000);
  assert.equal(exit.code, 0, get.describe());
  const expect: Array<[string, string]> = [
    ['real.bin', join(share, 'real.bin')], ['inner/target.bin', join(share, 'inner', 'target.bin')],
    ['link-inside.bin', join(share, 'inner', 'target.bin')], ['link-outside.bin', join(dir, 'outside', 'far.bin')],
  ];
  for (const [rel, source] of expect) {
    const got = join(dir, 'out', 'share', rel);
    assert.ok((await lstat(got)).isFile(), `${rel} downloaded as a regular file`);
    assert.deepEqual(await readFile(got), await readFile(source), rel);
  }
  assert.equal(seeder.exitInfo, null, 'the share is still seeding');
  await seeder.stop();
});

test('get that has received nothing leaves no folder behind after SIGINT', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir('bitpeer-get-nofolders-');
  const files: FileSpec[] = Array.from({ length: 40 }, (_, i) => ({ path: `d${i % 20}/sub${i}/f${i}.bin`, size: 1000 + i }));
  files.push({ path: 'empty/zero', size: 0 });
  await writeTree(join(dir, 'src', 'many'), files, 'many-folders');
  const create = scope.bitpeer(['create', join(dir, 'src', 'many'), '-o', join(dir, 'many.torrent'), '--json']);
  assert.equal((await create.exited(15_000)).code, 0, create.describe());
  const out = join(dir, 'out');
  await mkdir(out);
  // No peer and no tracker: nothing can arrive.
  const get = scope.bitpeer(['get', join(dir, 'many.torrent'), '-o', out, ...NET]);
  await get.waitFor((e) => e.event === 'state' && e['state'] === 'downloading', 15_000, 'the get downloading');
  await get.waitFor((e) => e.event === 'progress', 5000, 'a progress event (the torrent is live)');
  get.signal('SIGINT');
  const exit = await get.exited(10_000);
  assert.equal(exit.code, 130, get.describe());
  assert.deepEqual(await readdir(out), [], 'no folder (and no file) was created');
  assert.ok(!existsSync(join(out, 'many')));
});

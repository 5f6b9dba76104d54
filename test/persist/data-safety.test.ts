/**
 * Issue 9, finding 1 and torrent-set-location (finding 10), end to end on a real daemon on 127.0.0.1:
 * - `bitpeer rm <A> --delete-data` deletes exactly torrent A's files and its folders that became empty; a user's own
 *   `doc/my-notes.txt` and torrent B (also named `doc`, disjoint files) survive, and B still verifies complete;
 *   then `torrent-remove` with `delete-local-data` does the same for B;
 * - a torrent with the same file paths as one in the daemon is refused (PATH_CONFLICT);
 * - `torrent-set-location` with move=true (`transmission-remote --move` when installed) and move=false, both
 *   surviving a daemon restart (the resume data follows the folder), with the same id and paused state.
 * The data is put in the download folder beforehand, so no seed is needed (the daemon's check finds it complete).
 * BEP: none (data safety; Transmission's rpc-spec).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { writeTree, type FileSpec } from '../helpers/content.js';
import { bitpeerBin, Scope } from '../helpers/proc.js';
import {
  addTorrent, createTorrent, distinctPorts, KiB, logLines, startDaemon, STATUS, stopDaemonCleanly, torrent, waitComplete, waitUntil,
  type DaemonHandle,
} from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

const A_FILES: FileSpec[] = [
  { path: 'a1.txt', size: 3 * KiB + 7 }, { path: 'sub/a2.bin', size: 40 * KiB }, { path: 'sub/deep/a3.bin', size: 20 * KiB + 1 },
];
const B_FILES: FileSpec[] = [{ path: 'b1.txt', size: 5 * KiB }, { path: 'bsub/b2.bin', size: 30 * KiB + 3 }];

/** Every file under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { out.push(`${relative(dir, p)}/`); await walk(p); } else out.push(relative(dir, p));
    }
  };
  await walk(dir);
  return out.sort();
}

function bitpeer(rpcPort: number, ...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args, '--rpc-port', String(rpcPort)], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('rm --delete-data and torrent-remove delete-local-data delete only the torrent\'s own files; conflicting paths are refused',
  { timeout: 60_000 }, async () => {
    const root = await scope.tempDir('bitpeer-safety-');
    const [seedPort, port, rpcPort] = await distinctPorts(3);
    await writeTree(join(root, 'srcA', 'doc'), A_FILES, 'torrent A');
    await writeTree(join(root, 'srcB', 'doc'), B_FILES, 'torrent B');
    const metaA = await createTorrent(join(root, 'srcA', 'doc'), join(root, 'A.torrent'), seedPort!, '16K');
    const metaB = await createTorrent(join(root, 'srcB', 'doc'), join(root, 'B.torrent'), seedPort!, '16K');
    const metaA2 = await createTorrent(join(root, 'srcA', 'doc'), join(root, 'A2.torrent'), seedPort!, '32K');
    const dl = join(root, 'dl');
    await cp(join(root, 'srcA', 'doc'), join(dl, 'doc'), { recursive: true });
    await cp(join(root, 'srcB', 'doc'), join(dl, 'doc'), { recursive: true });
    await writeFile(join(dl, 'doc', 'my-notes.txt'), 'my own notes\n');
    const d = await startDaemon(scope, { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: dl });
    const idA = await addTorrent(d.rpc, join(root, 'A.torrent'));
    await addTorrent(d.rpc, join(root, 'B.torrent'));
    await waitComplete(d, metaA.infoHashHex, 20_000, 'A complete from the data in place');
    await waitComplete(d, metaB.infoHashHex, 20_000, 'B complete from the data in place');

    // Same files under another info-hash: refused, naming the other torrent.
    const conflict = await d.rpc.request('torrent-add', { metainfo: (await readFile(join(root, 'A2.torrent'))).toString('base64') });
    assert.match(conflict.result, /would share data with another torrent: .*a1\.txt is also a file of torrent #\d+ \("doc"\).*another download folder/);
    assert.equal(await torrent(d.rpc, metaA2.infoHashHex), undefined);

    const rm = bitpeer(rpcPort!, 'rm', String(idA), '--delete-data');
    assert.equal(rm.code, 0, `bitpeer rm failed: ${rm.out}${rm.err}`);
    assert.deepEqual(await tree(dl), ['doc/', 'doc/b1.txt', 'doc/bsub/', 'doc/bsub/b2.bin', 'doc/my-notes.txt']);
    assert.equal(await readFile(join(dl, 'doc', 'my-notes.txt'), 'utf8'), 'my own notes\n');
    await waitUntil(() => logLines(d.child).find((l) => /^#\d+ doc: removed with its data: deleted 3 file\(s\) and 2 empty folder\(s\)/.test(l)),
      5000, 'the deletion logged');

    // B is intact: a full re-check finds every piece.
    await d.rpc.call('torrent-verify', { ids: [metaB.infoHashHex] });
    await waitUntil(async () => (await torrent(d.rpc, metaB.infoHashHex))?.status === STATUS.CHECK || undefined, 2000, 'B checking').catch(() => undefined);
    const b = await waitComplete(d, metaB.infoHashHex, 20_000, 'B complete after a re-check');
    assert.equal(b.percentDone, 1);

    await d.rpc.call('torrent-remove', { ids: [metaB.infoHashHex], 'delete-local-data': true });
    assert.deepEqual(await tree(dl), ['doc/', 'doc/my-notes.txt']);
    await stopDaemonCleanly(d);
  });

function remote(rpcPort: number, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('transmission-remote', [`127.0.0.1:${rpcPort}`, ...args], { timeout: 20_000, encoding: 'utf8' },
      (err, out, errText) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out, err: errText }));
  });
}
const haveRemote = spawnSync('transmission-remote', ['--version'], { encoding: 'utf8' }).error === undefined;

test('torrent-set-location: move=true moves the data, move=false re-points and re-checks; both survive a restart',
  { timeout: 90_000 }, async () => {
    const root = await scope.tempDir('bitpeer-setloc-');
    const [seedPort, port, rpcPort] = await distinctPorts(3);
    await writeTree(join(root, 'src', 'doc'), A_FILES, 'set-location');
    const meta = await createTorrent(join(root, 'src', 'doc'), join(root, 'C.torrent'), seedPort!, '16K');
    const dl = join(root, 'dl');
    const moved = join(root, 'elsewhere', 'moved');
    const empty = join(root, 'empty');
    await cp(join(root, 'src', 'doc'), join(dl, 'doc'), { recursive: true });
    await writeFile(join(dl, 'doc', 'my-notes.txt'), 'mine');
    // A user's own file already in the destination's torrent folder: the move must neither overwrite nor remove it.
    await mkdir(join(moved, 'doc'), { recursive: true });
    await writeFile(join(moved, 'doc', 'their-notes.txt'), 'theirs');
    await mkdir(empty);
    const spec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: dl };
    let d: DaemonHandle = await startDaemon(scope, spec);
    const id = await addTorrent(d.rpc, join(root, 'C.torrent'));
    await waitComplete(d, meta.infoHashHex, 20_000, 'complete from the data in place');
    const hash = meta.infoHashHex;
    const dirOf = async (): Promise<string> => {
      const got = await d.rpc.call('torrent-get', { ids: [hash], fields: ['downloadDir'] });
      return (got['torrents'] as Array<{ downloadDir: string }>)[0]!.downloadDir;
    };

    // move=true: the files go, the user's files (old folder and new) stay, nothing is re-downloaded or lost.
    if (haveRemote) {
      const r = await remote(rpcPort!, '-t', String(id), '--move', moved);
      assert.equal(r.code, 0, `transmission-remote --move: ${r.out}${r.err}`);
      assert.match(r.out, /success/);
    } else {
      await d.rpc.call('torrent-set-location', { ids: [id], location: moved, move: true });
    }
    assert.deepEqual(await tree(dl), ['doc/', 'doc/my-notes.txt']);
    assert.equal(await readFile(join(dl, 'doc', 'my-notes.txt'), 'utf8'), 'mine', 'the user\'s file in the old folder stays');
    assert.deepEqual(await tree(join(moved, 'doc')),
      ['a1.txt', 'sub/', 'sub/a2.bin', 'sub/deep/', 'sub/deep/a3.bin', 'their-notes.txt']);
    assert.equal(await readFile(join(moved, 'doc', 'their-notes.txt'), 'utf8'), 'theirs',
      'the user\'s file in the new folder is neither overwritten nor removed');
    const after1 = await waitComplete(d, hash, 10_000, 'complete at the new place');
    assert.equal(after1.id, id);
    assert.equal(await dirOf(), moved);

    // Never overwrite: a file in the way refuses the move, and the torrent stays where it was.
    await writeTree(join(root, 'blocked', 'doc'), [{ path: 'sub/a2.bin', size: 10 }], 'in the way');
    const refused = await d.rpc.request('torrent-set-location', { ids: [id], location: join(root, 'blocked'), move: true });
    assert.match(refused.result, /already exists/);
    assert.equal((await readFile(join(root, 'blocked', 'doc', 'sub', 'a2.bin'))).length, 10);
    await waitComplete(d, hash, 10_000, 'still complete where it was');
    assert.equal(await dirOf(), moved);

    // Paused, then restarted: the daemon finds the data at the new folder, same id, still paused.
    await d.rpc.call('torrent-stop', { ids: [id] });
    await stopDaemonCleanly(d);
    d = await startDaemon(scope, spec);
    await waitUntil(async () => {
      const t = await torrent(d.rpc, hash);
      return t && t.status === STATUS.STOPPED && t.percentDone === 1 ? t : undefined;
    }, 20_000, 'restored paused and complete at the new folder');
    assert.equal((await torrent(d.rpc, hash))!.id, id);
    assert.equal(await dirOf(), moved);

    // move=false: only re-pointed (to an empty folder) and re-checked: nothing there; nothing moved.
    await d.rpc.call('torrent-set-location', { ids: [id], location: empty, move: false });
    await waitUntil(async () => {
      const t = await torrent(d.rpc, hash);
      return t && t.status === STATUS.STOPPED && t.percentDone === 0 ? t : undefined;
    }, 10_000, 'paused with nothing verified at the empty folder');
    assert.ok(existsSync(join(moved, 'doc', 'sub', 'deep', 'a3.bin')), 'move=false moves nothing');
    assert.deepEqual(await tree(empty), [], 'a paused torrent creates nothing at its new folder');
    await stopDaemonCleanly(d);
    d = await startDaemon(scope, spec);
    await waitUntil(async () => ((await torrent(d.rpc, hash))?.status === STATUS.STOPPED ? true : undefined), 20_000, 'restored');
    assert.equal(await dirOf(), empty, 'the resume data followed the folder');
    // And back with move=false to where the data is: found complete by the check.
    await d.rpc.call('torrent-set-location', { ids: [id], location: moved, move: false });
    await d.rpc.call('torrent-start', { ids: [id] });
    await waitComplete(d, hash, 20_000, 'complete again once pointed at the data');
    await stopDaemonCleanly(d);
  });

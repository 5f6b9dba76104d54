/**
 * The real `transmission-remote` (Debian transmission-cli, Transmission 3.00) drives a real bitpeer daemon on
 * 127.0.0.1: adds a .torrent (`-a`), lists (`-l`), shows details (`-t N -i`), stops (`-S`), starts (`-s`), verifies
 * (`-v`: a byte corrupted on disk must be found and fetched again) and removes (`-r`: the data stays, the state
 * directory forgets it). Every command must exit 0 and print sensible values (name, percent, status, size).
 * Skipped, with the reason printed, only when transmission-remote is missing.
 * BEP: none (Transmission's rpc-spec, end to end).
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import { Scope, type Child } from '../helpers/proc.js';
import {
  createTorrent, distinctPorts, logLines, MiB, startDaemon, startSeed, STATUS, stopDaemonCleanly, torrent, torrents, waitComplete,
  waitUntil,
} from './harness.js';

const probe = spawnSync('transmission-remote', ['--version'], { encoding: 'utf8' });
const missing = probe.error !== undefined ? 'transmission-remote not installed (apt-get install transmission-cli)' : undefined;
if (missing !== undefined) console.log(`# skipping transmission-remote against the daemon: ${missing}`);

const FILES: FileSpec[] = [{ path: 'movie.bin', size: 6 * MiB + 4321 }, { path: 'extras/notes.txt', size: 1234 }];
const SIZE = FILES.reduce((s, f) => s + f.size, 0);

const scope = new Scope();
after(() => scope.cleanup());

interface Run { code: number; out: string; err: string }

function remote(rpcPort: number, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('transmission-remote', [`127.0.0.1:${rpcPort}`, ...args], { timeout: 20_000, encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } },
      (err, out, errText) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out, err: errText }));
  });
}

/** The -l line of the torrent named `name`. */
function listLine(list: string, name: string): string | undefined {
  return list.split('\n').find((l) => l.trimEnd().endsWith(`  ${name}`));
}

/** Transmission's size text (k = 1000): "6.29 MB". */
function trSize(bytes: number): string {
  const mb = bytes / 1e6;
  return mb < 100 ? `${mb.toFixed(2)} MB` : `${mb.toFixed(1)} MB`;
}

test('transmission-remote adds, lists, shows, stops, starts, verifies and removes on a running daemon', { skip: missing, timeout: 110_000 }, async (t) => {
  const root = await scope.tempDir('bitpeer-trd-');
  const data = join(root, 'src', 'trd');
  await writeTree(data, FILES, 'transmission-remote-daemon');
  const [seedPort, port, rpcPort] = await distinctPorts(3);
  const torrentFile = join(root, 'trd.torrent');
  const meta = await createTorrent(data, torrentFile, seedPort!);
  const hash = meta.infoHashHex;
  let seed: Child = await startSeed(scope, torrentFile, data, seedPort!, '8M');
  const spec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') };
  const d = await startDaemon(scope, spec);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await remote(rpcPort!, ...args);
    assert.equal(r.code, 0, `transmission-remote ${args.join(' ')} exited ${r.code}\n${r.out}\n${r.err}\n${d.child.describe()}`);
    return r.out;
  };

  // Each step is a subtest, so that one wrong value does not hide the others (later steps need only the torrent).
  let id = '1';
  await t.test('-a adds the .torrent', async () => {
    assert.match(await ok('-a', torrentFile), /responded: "success"/);
    id = String((await torrent(d.rpc, hash))!.id);
    assert.ok(existsSync(join(spec.stateDir, 'torrents', `${hash}.torrent`)), 'the state directory holds the added torrent');
  });

  await t.test('-l lists it while it runs and once complete: id, percent, size, ETA "Done", status, name', async () => {
    const early = listLine(await ok('-l'), meta.name);
    assert.ok(early, 'listed right after the add');
    assert.match(early, new RegExp(`^\\s+${id}\\*?\\s+(\\d+|n/a)%?\\s`), `an id and a percent: ${early}`);
    await waitComplete(d, hash, 60_000);
    const list = await ok('-l');
    const done = listLine(list, meta.name);
    assert.ok(done, list);
    assert.match(done, new RegExp(`^\\s+${id}\\s+100%\\s+${trSize(SIZE).replace('.', '\\.')}\\s+Done\\s+.*\\s(Seeding|Idle)\\s+${meta.name}$`),
      `the -l line after completion: ${done}`);
    assert.match(list, /^\s*ID\s+Done\s+Have\s+ETA\s+Up\s+Down\s+Ratio\s+Status\s+Name/);
    assert.match(list, new RegExp(`^Sum:\\s+${trSize(SIZE).replace('.', '\\.')}\\s`, 'm'));
  });

  await t.test('-t N -i shows the details', async () => {
    const info = await ok('-t', id, '-i');
    for (const re of [
      new RegExp(`^ {2}Id: ${id}$`, 'm'), new RegExp(`^ {2}Name: ${meta.name}$`, 'm'), new RegExp(`^ {2}Hash: ${hash}$`, 'm'),
      new RegExp(`^ {2}Magnet: magnet:\\?xt=urn:btih:${hash}`, 'm'), /^ {2}State: (Seeding|Idle)$/m,
      new RegExp(`^ {2}Location: ${spec.downloadDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), /^ {2}Percent Done: 100%$/m,
      new RegExp(`^ {2}Total size: ${trSize(SIZE).replace('.', '\\.')} \\(${trSize(SIZE).replace('.', '\\.')} wanted\\)$`, 'm'),
      new RegExp(`^ {2}Have: ${trSize(SIZE).replace('.', '\\.')} \\(${trSize(SIZE).replace('.', '\\.')} verified\\)$`, 'm'),
      new RegExp(`^ {2}Piece Count: ${meta.pieceCount}$`, 'm'), /^ {2}Piece Size: 256\.0 KiB$/m, /^ {2}Public torrent: Yes$/m,
      /^ {2}Date added: /m, /^ {2}Date finished: /m,
    ]) assert.match(info, re);
  });

  await t.test('-S stops, -s starts', async () => {
    assert.match(await ok('-t', id, '-S'), /responded: "success"/);
    assert.match(listLine(await ok('-l'), meta.name) ?? '', /\sStopped\s/);
    assert.equal((await torrent(d.rpc, hash))!.status, STATUS.STOPPED);
    assert.match(await ok('-t', id, '-s'), /responded: "success"/);
    await waitUntil(async () => (await torrent(d.rpc, hash))?.status === STATUS.SEED, 10_000, 'seeding again after -s');
    assert.match(listLine(await ok('-l'), meta.name) ?? '', /\s100%\s.*\s(Seeding|Idle)\s/);
  });

  await t.test('-v verifies: a corrupted byte is found, and fetched again', async () => {
    // With the seed gone, a corrupted byte must show as a missing piece; with the seed back, it is fetched again.
    await seed.stop(10_000);
    const fh = await open(join(spec.downloadDir, meta.name, 'movie.bin'), 'r+');
    try {
      await fh.write(Buffer.from([0x55 ^ 0xff]), 0, 1, 3 * MiB + 17);
    } finally {
      await fh.close();
    }
    assert.match(await ok('-t', id, '-v'), /responded: "success"/);
    const afterVerify = await waitUntil(async () => {
      const x = await torrent(d.rpc, hash);
      return x && x.status !== STATUS.CHECK && x.status !== STATUS.CHECK_WAIT && x.percentDone < 1 ? x : undefined;
    }, 20_000, 'the verify to find the corrupted piece', () => d.child.describe(12));
    assert.equal(afterVerify.leftUntilDone, meta.pieceLength, 'exactly one piece is missing after the verify');
    const partial = listLine(await ok('-l'), meta.name) ?? '';
    assert.match(partial, /^\s+\d+\s+9\d%\s/, `-l shows the piece missing: ${partial}`);
    seed = await startSeed(scope, torrentFile, data, seedPort!, '8M', 'seed again');
    await d.rpc.call('torrent-reannounce', { ids: [hash] });
    await waitComplete(d, hash, 30_000, 'the corrupted piece to be fetched again');
    assert.deepEqual(await compareTrees(data, join(spec.downloadDir, meta.name)), [], 'content after the verify and refetch');
    assert.match(listLine(await ok('-l'), meta.name) ?? '', /\s100%\s/);
  });

  await t.test('-r removes it from the daemon and the state directory, and keeps the data', async () => {
    // Removed from the daemon and its state directory; the data stays.
    assert.match(await ok('-t', id, '-r'), /responded: "success"/);
    assert.equal(listLine(await ok('-l'), meta.name), undefined, 'no longer listed');
    assert.deepEqual(await torrents(d.rpc), []);
    assert.ok(!existsSync(join(spec.stateDir, 'torrents', `${hash}.torrent`)), 'the state directory forgot the torrent');
    assert.ok(!existsSync(join(spec.stateDir, 'resume', `${hash}.resume`)), 'and its resume data');
    assert.deepEqual(await compareTrees(data, join(spec.downloadDir, meta.name)), [], 'the data is kept');
  });

  await stopDaemonCleanly(d);
  const unknown = logLines(d.child).filter((l) => l.includes('unknown field'));
  assert.deepEqual(unknown, [], 'transmission-remote asked for fields the daemon does not answer');
});

/**
 * The daemon's rough edges of issue 9 (findings 6 and 10), against real `bitpeer daemon` processes on 127.0.0.1:
 * - rates fall to 0: a torrent that was downloading is paused → its rateDownload/rateUpload and the session's
 *   speeds read 0 within a few seconds (they used to keep their last value for a minute);
 * - torrent ids are stable across restarts, clean and `kill -9`, and never given twice (even after the highest id
 *   was removed); `bitpeer pause <hash prefix>` works, and the log names torrents `#id name`;
 * - the default download folder is the user's (XDG_DOWNLOAD_DIR, user-dirs.dirs, else ~/Downloads), under a
 *   temporary HOME, never the real one;
 * - `GET /` on the RPC port is the built web UI (issue 15) and its hashed assets under the strict CSP; other paths
 *   stay 404; TRANSMISSION_WEB_HOME serves another folder at /transmission/web/; the log has no `rpc: rpc:`.
 * BEP: none (Transmission's rpc-spec; test tooling in harness.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RpcClient } from '../../src/api/rpc/client.js';
import { writeTree } from '../helpers/content.js';
import { bitpeerBin, Scope } from '../helpers/proc.js';
import {
  addTorrent, createTorrent, distinctPorts, logLines, MiB, startDaemon, startSeed, stopDaemonCleanly, waitUntil, type DaemonHandle,
  type DaemonSpec,
} from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

/** No variable of the test runner's own desktop leaks into the daemon's choice of download folder. */
const NO_XDG = { XDG_DOWNLOAD_DIR: '', XDG_CONFIG_HOME: '' };

async function idsByHash(rpc: RpcClient): Promise<Map<string, number>> {
  const args = await rpc.call('torrent-get', { fields: ['id', 'hashString'] });
  return new Map((args['torrents'] as Array<{ id: number; hashString: string }>).map((t) => [t.hashString, t.id]));
}

async function rates(d: DaemonHandle, id: number): Promise<{ down: number; up: number; sessionDown: number; sessionUp: number }> {
  const t = ((await d.rpc.call('torrent-get', { ids: [id], fields: ['rateDownload', 'rateUpload'] }))['torrents'] as Array<Record<string, number>>)[0]!;
  const s = await d.rpc.call('session-stats');
  return { down: t['rateDownload']!, up: t['rateUpload']!, sessionDown: Number(s['downloadSpeed']), sessionUp: Number(s['uploadSpeed']) };
}

function get(port: number, path: string): Promise<{ status: number; body: string; type: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? ''), headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

test('a paused torrent that was downloading reads 0 B/s within a few seconds, and so does the session', { timeout: 60_000 }, async () => {
  const root = await scope.tempDir('bitpeer-ux-rate-');
  const data = join(root, 'src', 'flow');
  await writeTree(data, [{ path: 'flow.bin', size: 24 * MiB }], 'daemon-ux-rate');
  const [seedPort, port, rpcPort] = await distinctPorts(3);
  const file = join(root, 'flow.torrent');
  await createTorrent(data, file, seedPort!);
  await startSeed(scope, file, data, seedPort!, '2M');
  const d = await startDaemon(scope, { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') });
  const id = await addTorrent(d.rpc, file);
  await waitUntil(async () => (await rates(d, id)).down > 100_000, 20_000, 'the download to run at > 100 kB/s', () => d.child.describe(8));
  await d.rpc.call('torrent-stop', { ids: [id] });
  const pausedAt = Date.now();
  let last = await rates(d, id);
  await waitUntil(async () => {
    last = await rates(d, id);
    return last.down === 0 && last.up === 0 && last.sessionDown === 0 && last.sessionUp === 0;
  }, 3000, 'every rate to read 0 after the pause', () => JSON.stringify(last), 200);
  assert.ok(Date.now() - pausedAt < 3500);
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(await rates(d, id), { down: 0, up: 0, sessionDown: 0, sessionUp: 0 }, 'and they stay 0');
  await stopDaemonCleanly(d);
});

test('ids survive restarts (clean and kill -9) and are never given twice; a hash prefix names a torrent', { timeout: 60_000 }, async () => {
  const root = await scope.tempDir('bitpeer-ux-ids-');
  const [port, rpcPort, nobody] = await distinctPorts(3);
  const files: Array<{ file: string; hash: string; name: string }> = [];
  for (const name of ['alpha', 'bravo', 'charlie', 'delta', 'echo']) {
    await mkdir(join(root, 'src'), { recursive: true });
    await writeFile(join(root, 'src', `${name}.bin`), Buffer.alloc(40_000 + files.length, name.charCodeAt(0)));
    const file = join(root, `${name}.torrent`);
    const meta = await createTorrent(join(root, 'src', `${name}.bin`), file, nobody!, '16K');
    files.push({ file, hash: meta.infoHashHex, name: meta.name });
  }
  const [a, b, c, dd, e] = files as [typeof files[0], typeof files[0], typeof files[0], typeof files[0], typeof files[0]];
  const spec: DaemonSpec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') };
  let d = await startDaemon(scope, spec);
  assert.deepEqual([await addTorrent(d.rpc, a.file, { paused: true }), await addTorrent(d.rpc, b.file, { paused: true }),
    await addTorrent(d.rpc, c.file, { paused: true })], [1, 2, 3]);
  await d.rpc.call('torrent-remove', { ids: [1] });
  await stopDaemonCleanly(d);

  d = await startDaemon(scope, { ...spec, name: 'daemon restarted' });
  assert.deepEqual([...await idsByHash(d.rpc)].sort((x, y) => x[1] - y[1]), [[b.hash, 2], [c.hash, 3]], 'ids kept over a clean restart');
  assert.ok(logLines(d.child).some((l) => l.startsWith(`#2 ${b.name}: `)), `the log names torrents "#id name":\n${logLines(d.child).join('\n')}`);
  assert.equal(await addTorrent(d.rpc, dd.file, { paused: true }), 4, 'a new torrent gets a fresh id');
  // The highest id goes away, then the daemon dies: id 4 must still not come back.
  await d.rpc.call('torrent-remove', { ids: [4] });
  d.child.signal('SIGKILL');
  assert.equal((await d.child.exited(10_000)).signal, 'SIGKILL');

  d = await startDaemon(scope, { ...spec, name: 'daemon after kill -9' });
  assert.deepEqual([...await idsByHash(d.rpc)].sort((x, y) => x[1] - y[1]), [[b.hash, 2], [c.hash, 3]], 'ids kept over kill -9');
  assert.equal(await addTorrent(d.rpc, e.file, { paused: true }), 5, 'id 4 is not given again');

  // `bitpeer resume <8 hex digits>`, as a log line might show a torrent; an unknown prefix is one line, exit 1.
  const cli = (...args: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath, [bitpeerBin(), ...args, '--rpc-port', String(rpcPort)],
    { encoding: 'utf8', timeout: 20_000 });
  const ok = cli('resume', c.hash.slice(0, 8));
  assert.equal(ok.status, 0, String(ok.stderr));
  assert.equal(String(ok.stdout), `resumed: #3 ${c.name}\n`);
  const unknownPrefix = [...'0123456789abcdef'].map((x) => x.repeat(8)).find((p) => !files.some((f) => f.hash.startsWith(p)))!;
  const bad = cli('pause', unknownPrefix);
  assert.equal(bad.status, 1);
  assert.equal(String(bad.stderr), `bitpeer: error: no torrent with id ${unknownPrefix} (see \`bitpeer ls\`)\n`);
  await stopDaemonCleanly(d);
});

test('the default download folder is the user\'s: XDG_DOWNLOAD_DIR, user-dirs.dirs, else ~/Downloads (temporary HOME)', { timeout: 60_000 }, async () => {
  const root = await scope.tempDir('bitpeer-ux-dl-');
  const home = join(root, 'home');
  await mkdir(home, { recursive: true });
  const cases: Array<{ what: string; env: Record<string, string>; setup?: () => Promise<void>; expect: string }> = [
    { what: 'no XDG variable → ~/Downloads', env: { HOME: home, ...NO_XDG }, expect: join(home, 'Downloads') },
    { what: 'XDG_DOWNLOAD_DIR', env: { HOME: home, ...NO_XDG, XDG_DOWNLOAD_DIR: join(root, 'xdg dl') }, expect: join(root, 'xdg dl') },
    {
      what: '~/.config/user-dirs.dirs', env: { HOME: home, ...NO_XDG }, expect: join(home, 'Téléchargements'),
      setup: async () => {
        await mkdir(join(home, '.config'), { recursive: true });
        await writeFile(join(home, '.config', 'user-dirs.dirs'), '# xdg-user-dirs\nXDG_DOWNLOAD_DIR="$HOME/Téléchargements"\n');
      },
    },
  ];
  let k = 0;
  for (const c of cases) {
    await c.setup?.();
    const [port, rpcPort] = await distinctPorts(2);
    const d = await startDaemon(scope, { stateDir: join(root, `state${k++}`), port: port!, rpcPort: rpcPort!, env: c.env, name: `daemon (${c.what})` });
    const s = await d.rpc.call('session-get', { fields: ['download-dir'] });
    assert.equal(s['download-dir'], c.expect, c.what);
    assert.ok(logLines(d.child).some((l) => l.startsWith('daemon running') && l.includes(`downloads to ${c.expect},`)),
      `the start-up line says where downloads go:\n${logLines(d.child).join('\n')}`);
    await stopDaemonCleanly(d);
  }
});

test('GET / answers the built web UI and its assets under the strict CSP; other paths 404; TRANSMISSION_WEB_HOME serves a folder at /transmission/web/', { timeout: 60_000 }, async () => {
  const root = await scope.tempDir('bitpeer-ux-page-');
  const [port, rpcPort] = await distinctPorts(2);
  const spec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') };
  const d = await startDaemon(scope, spec);
  const page = await get(rpcPort!, '/');
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.ok(page.body.includes('<div id="app">'), page.body);
  assert.match(String(page.headers['content-security-policy']), /script-src 'self'; style-src 'self';/);
  assert.equal(page.headers['cache-control'], 'no-cache');
  const script = /src="(assets\/app-[A-Z0-9]+\.js)"/.exec(page.body)?.[1];
  assert.ok(script !== undefined, page.body);
  const js = await get(rpcPort!, `/${script}`);
  assert.equal(js.status, 200);
  assert.match(js.type, /^text\/javascript/);
  assert.match(String(js.headers['cache-control']), /immutable/);
  assert.equal((await get(rpcPort!, '/transmission/web/')).status, 404);
  assert.equal((await get(rpcPort!, '/favicon.ico')).status, 404);
  assert.equal((await get(rpcPort!, '/../package.json')).status, 404);
  await stopDaemonCleanly(d);
  const lines = logLines(d.child);
  assert.ok(lines.some((l) => l.startsWith('rpc: listening on 127.0.0.1:')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('daemon running') && l.includes(`web UI http://127.0.0.1:${rpcPort!}/,`)), lines.join('\n'));
  assert.deepEqual(lines.filter((l) => l.includes('rpc: rpc:')), []);

  // Transmission's way of naming another web client: its files at /transmission/web/, / redirecting there.
  const web = join(root, 'web');
  await mkdir(web);
  await writeFile(join(web, 'index.html'), '<!DOCTYPE html><title>other client</title>');
  const w = await startDaemon(scope, { ...spec, env: { TRANSMISSION_WEB_HOME: web } });
  const home = await get(rpcPort!, '/');
  assert.equal(home.status, 302);
  assert.equal(home.headers['location'], '/transmission/web/');
  const other = await get(rpcPort!, '/transmission/web/');
  assert.equal(other.status, 200);
  assert.equal(other.body, '<!DOCTYPE html><title>other client</title>');
  assert.match(String(other.headers['content-security-policy']), /style-src 'self' 'unsafe-inline'/);
  await stopDaemonCleanly(w);
});

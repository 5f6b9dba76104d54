/**
 * The CLI contract for user errors: one clear line on stderr, a non-zero exit, never a stack trace.
 * Also: `create` + `info` round trip, `get` over loopback from a `seed` process, and --json events.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree } from '../helpers/content.js';
import { bitpeerBin, Scope } from '../helpers/proc.js';

const scope = new Scope();
after(() => scope.cleanup());

function run(args: string[], cwd?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args], { encoding: 'utf8', timeout: 30_000, ...(cwd ? { cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function assertUserError(r: { code: number | null; stderr: string }, fragment: RegExp): void {
  assert.notEqual(r.code, 0, 'non-zero exit');
  assert.notEqual(r.code, null, 'exited (no timeout)');
  assert.notEqual(r.code, 70, `not an internal error: ${r.stderr}`);
  assert.match(r.stderr, fragment);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.ok(r.stderr.trim().split('\n').length <= 2, `one clear line (plus usage): ${r.stderr}`);
}

test('user errors: one line on stderr, non-zero exit, no stack trace', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  await writeFile(join(dir, 'garbage.torrent'), 'd4:infoi3ee');
  await writeFile(join(dir, 'notbencode.torrent'), 'hello world');
  assertUserError(run(['create', join(dir, 'nope')]), /no such file|not found|does not exist/i);
  assertUserError(run(['info', join(dir, 'missing.torrent')]), /no such file/);
  assertUserError(run(['info', join(dir, 'garbage.torrent')]), /info/);
  assertUserError(run(['info', join(dir, 'notbencode.torrent')]), /bencode|torrent/i);
  assertUserError(run(['info', 'magnet:?xt=urn:btih:zz']), /magnet|info-hash|btih/i);
  assertUserError(run(['frobnicate']), /unknown command/);
  assertUserError(run(['get']), /usage/);
  assertUserError(run(['get', 'x.torrent', '--port', 'abc']), /port/);
  assertUserError(run(['get', 'x.torrent', '--peer', 'nocolon']), /peer address/);

  // A port in use.
  await writeTree(join(dir, 'data'), [{ path: 'f.bin', size: 100_000 }], 'cli');
  assert.equal(run(['create', join(dir, 'data', 'f.bin'), '-o', join(dir, 'f.torrent'), '--announce-host', '127.0.0.1']).code, 0);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    assertUserError(run(['seed', join(dir, 'f.torrent'), join(dir, 'data', 'f.bin'), '--port', String(port), '--bind', '127.0.0.1', '--no-lsd', '--no-tracker']), /port .* in use/);
  } finally {
    blocker.close();
  }
  // Seeding data that is not there.
  assertUserError(run(['seed', join(dir, 'f.torrent'), join(dir, 'elsewhere'), '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker']), /no such file/);
  // An unwritable download folder: a regular file where the folder should be.
  await writeFile(join(dir, 'blocker'), 'x');
  assertUserError(run(['get', join(dir, 'f.torrent'), '-o', join(dir, 'blocker', 'sub'), '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker']), /error/);
  if (process.getuid?.() !== 0) {
    await mkdir(join(dir, 'ro'));
    await chmod(join(dir, 'ro'), 0o500);
    assertUserError(run(['get', join(dir, 'f.torrent'), '-o', join(dir, 'ro'), '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker']), /error/);
  }
  // create refuses to overwrite.
  assertUserError(run(['create', join(dir, 'data', 'f.bin'), '-o', join(dir, 'f.torrent'), '--announce-host', '127.0.0.1']), /already exists/);
});

test('create, info, seed and get through the CLI with --json events', { timeout: 90_000 }, async () => {
  const dir = await scope.tempDir();
  await writeTree(join(dir, 'share'), [
    { path: 'one.bin', size: 300_001 }, { path: 'empty', size: 0 }, { path: 'deep/two.bin', size: 1_000_000 },
  ], 'cli2');
  const created = run(['create', join(dir, 'share'), '-o', join(dir, 's.torrent'), '--piece-length', '32K', '--json', '--announce-host', '127.0.0.1']);
  assert.equal(created.code, 0, created.stderr);
  const c = JSON.parse(created.stdout) as { infoHash: string; files: number };
  assert.equal(c.files, 3);
  const info = run(['info', join(dir, 's.torrent'), '--json']);
  assert.equal(info.code, 0);
  assert.equal((JSON.parse(info.stdout) as { infoHash: string }).infoHash, c.infoHash);

  const seed = scope.bitpeer(['seed', join(dir, 's.torrent'), join(dir, 'share'), '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker', '--json']);
  const listening = await seed.waitFor((e) => e.event === 'listening', 30_000);
  await seed.waitFor((e) => e.event === 'state' && e['state'] === 'seeding', 30_000);
  const get = scope.bitpeer(['get', join(dir, 's.torrent'), '-o', join(dir, 'out'), '--port', '0', '--bind', '127.0.0.1', '--no-lsd', '--no-tracker',
    '--peer', `127.0.0.1:${String(listening['port'])}`, '--json']);
  const exit = await get.exited(60_000);
  assert.equal(exit.code, 0, get.describe());
  const names = new Set(get.events.map((e) => e.event));
  for (const ev of ['added', 'progress', 'peer-connect', 'complete', 'peer-totals']) assert.ok(names.has(ev), `event ${ev} printed`);
  assert.ok(get.events.some((e) => e.event === 'added' && e['infoHash'] === c.infoHash));
  assert.deepEqual(await compareTrees(join(dir, 'share'), join(dir, 'out', 'share')), []);
  // Every disconnect names its cause (op, code), and peer-totals counts them by cause.
  const disconnects = get.events.filter((e) => e.event === 'peer-disconnect');
  for (const d of disconnects) assert.ok(typeof d['op'] === 'string' && typeof d['code'] === 'string', JSON.stringify(d));
  const totals = get.events.find((e) => e.event === 'peer-totals')!;
  const byCause = totals['disconnects'] as Array<{ op: string; code: string; count: number }>;
  assert.ok(Array.isArray(byCause), JSON.stringify(totals));
  assert.equal(byCause.reduce((n, d) => n + d.count, 0), disconnects.length, JSON.stringify(byCause));

  // The same download from a magnet link: the metadata comes from the seed (BEP 9), then the data.
  const magnet = `magnet:?xt=urn:btih:${c.infoHash}&dn=share&x.pe=127.0.0.1:${String(listening['port'])}`;
  const mget = scope.bitpeer(['get', magnet, '-o', join(dir, 'out-magnet'), '--port', '0', '--bind', '127.0.0.1',
    '--no-lsd', '--no-tracker', '--json']);
  const mexit = await mget.exited(60_000);
  assert.equal(mexit.code, 0, mget.describe());
  assert.ok(mget.events.some((e) => e.event === 'added' && e['infoHash'] === c.infoHash));
  assert.deepEqual(await compareTrees(join(dir, 'share'), join(dir, 'out-magnet', 'share')), []);
  await seed.stop();
});

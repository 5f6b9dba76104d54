/**
 * What `get`, `seed`, `share` and `create` say and do in a terminal (issue 9, findings 2, 5, 7, 8 (-o), 9):
 * share never overwrites a .torrent without --force; an unwritable -o is one line, once, before hashing; a tracker
 * that refuses shows on --verbose with its retry, and a hint follows; `get` says "exiting" when done and a stop
 * prints a summary; the live line fits a narrow terminal and shows bytes done/total; a busy 6881 is not an error
 * for `get` without --port.
 *
 * Invariant: everything binds and dials 127.0.0.1; every wait is bounded; children are stopped by PID (Scope).
 * BEP: none (CLI behaviour).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeTree } from '../helpers/content.js';
import { bitpeerBin, Scope, type Child } from '../helpers/proc.js';
import { commandWorks, freePort } from '../helpers/trackers.js';

const scope = new Scope();
after(() => scope.cleanup());

const LOCAL = ['--bind', '127.0.0.1', '--no-lsd'];

function run(args: string[], opts: { cwd?: string; timeout?: number } = {}): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args], { encoding: 'utf8', timeout: opts.timeout ?? 30_000, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/** Resolves with the first stdout line (not JSON) matching `re`; rejects after `timeoutMs` or on exit. */
async function waitForLine(child: Child, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const hit = child.otherLines.find((l) => re.test(l));
    if (hit !== undefined) return hit;
    if (child.exitInfo !== null) throw new Error(`exited before a line matching ${String(re)}\n${child.describe()}`);
    if (performance.now() > deadline) throw new Error(`no line matching ${String(re)} within ${timeoutMs} ms\n${child.describe()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A seed of `size` bytes of data in `dir`, with its .torrent; resolves with the seed's port. */
async function startSeed(dir: string, size: number): Promise<{ torrent: string; port: number }> {
  await writeTree(join(dir, 'data'), [{ path: 'f.bin', size }], 'ux');
  const torrent = join(dir, 'f.torrent');
  const c = run(['create', join(dir, 'data', 'f.bin'), '-o', torrent, '--piece-length', '32K', '--announce-host', '127.0.0.1']);
  assert.equal(c.code, 0, c.stderr);
  const seed = scope.bitpeer(['seed', torrent, join(dir, 'data', 'f.bin'), '--port', '0', ...LOCAL, '--no-tracker', '--json']);
  const listening = await seed.waitForEvent('listening', 20_000);
  await seed.waitFor((e) => e.event === 'state' && e['state'] === 'seeding', 20_000, 'seeding');
  return { torrent, port: Number(listening['port']) };
}

test('share refuses to overwrite an existing .torrent; --force replaces it', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir();
  await writeTree(join(dir, 'd'), [{ path: 'a.bin', size: 50_000 }], 'share-ow');
  const precious = Buffer.from('a precious, much larger torrent');
  await writeFile(join(dir, 'd.torrent'), precious);
  const refused = run(['share', 'd', '--port', '0', ...LOCAL], { cwd: dir, timeout: 15_000 });
  assert.equal(refused.code, 2, `refused with a usage error: ${refused.stderr}${refused.stdout}`);
  assert.match(refused.stderr, /d\.torrent already exists \(use --force to overwrite\)/);
  assert.deepEqual(await readFile(join(dir, 'd.torrent')), precious, 'the file is untouched');

  const forced = scope.bitpeer(['share', 'd', '--force', '--port', '0', ...LOCAL, '--json'], { cwd: dir });
  await forced.waitFor((e) => e.event === 'info' && typeof e['torrent'] === 'string', 15_000, 'the torrent line');
  const now = await readFile(join(dir, 'd.torrent'));
  assert.ok(now.subarray(0, 1).toString() === 'd' && now.includes('4:info'), 'a real .torrent replaced it');
  await forced.stop();
});

test('an unwritable -o is one line, once, before hashing (share, create, get)', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  await writeFile(join(dir, 'blocker'), 'a regular file');
  // 16 GiB, sparse: hashing it would take many seconds, so a fast failure proves the check comes first.
  const big = join(dir, 'big.bin');
  const fh = await open(big, 'w');
  await fh.truncate(16 * 1024 ** 3);
  await fh.close();
  const cases: Array<[string, string[]]> = [
    ['share', ['share', big, '-o', join(dir, 'blocker', 'x.torrent'), '--port', '0', ...LOCAL]],
    ['create', ['create', big, '-o', join(dir, 'blocker', 'x.torrent')]],
  ];
  for (const [name, args] of cases) {
    const r = run(args, { timeout: 30_000 });
    assert.equal(r.code, 1, `${name}: exit 1 (${r.stderr})`);
    assert.ok(r.ms < 5000, `${name}: failed fast (${Math.round(r.ms)} ms), before hashing`);
    const all = r.stdout + r.stderr;
    assert.equal(all.match(/cannot write/g)?.length, 1, `${name}: the error once: ${all}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line: ${r.stderr}`);
    assert.match(r.stderr, /^bitpeer: error: cannot write .*blocker\/x\.torrent: .*not a folder/);
    assert.doesNotMatch(r.stdout, /listening|torrent:/, `${name}: nothing started`);
  }
  const c = run(['create', join(dir, 'blocker'), '-o', join(dir, 'b.torrent'), '--announce-host', '127.0.0.1']);
  assert.equal(c.code, 0, c.stderr);
  const g = run(['get', join(dir, 'b.torrent'), '-o', join(dir, 'blocker', 'sub'), '--port', '0', ...LOCAL, '--no-tracker']);
  assert.equal(g.code, 1, g.stderr);
  const all = g.stdout + g.stderr;
  assert.equal(all.match(/cannot write/g)?.length, 1, `get: the error once: ${all}`);
  assert.match(g.stderr, /^bitpeer: error: cannot write to .*blocker\/sub: .*blocker is a file, not a folder\n$/);
  assert.equal(g.stdout, '', 'nothing started');
});

test('get: a refusing tracker shows on --verbose with its retry, then a hint; SIGINT prints a summary', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir();
  await writeTree(join(dir, 'data'), [{ path: 'f.bin', size: 100_000 }], 'ux-tr');
  const deadPort = await freePort(); // nothing listens there: connection refused
  const torrent = join(dir, 't.torrent');
  const c = run(['create', join(dir, 'data', 'f.bin'), '-o', torrent, '--announce', `http://127.0.0.1:${deadPort}/announce`]);
  assert.equal(c.code, 0, c.stderr);
  const get = scope.bitpeer(['get', torrent, '-o', join(dir, 'out'), '--port', '0', ...LOCAL, '--verbose'],
    { env: { BITPEER_NO_PEER_HINT_MS: '1500' } });
  await waitForLine(get, new RegExp(`^tracker 127\\.0\\.0\\.1:${deadPort}: connection refused; retry in \\d+ s$`), 15_000);
  const hint = await waitForLine(get, /^hint: no peer after \d+ s/, 10_000);
  assert.match(hint, new RegExp(`http://127\\.0\\.0\\.1:${deadPort}/announce`));
  assert.match(hint, /--peer HOST:PORT/);
  get.signal('SIGINT');
  const exit = await get.exited(10_000);
  assert.equal(exit.code, 130, get.describe());
  await waitForLine(get, new RegExp(`^stopped: 0 B down, 0 B up, 0/\\d+ pieces in ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/out/f\\.bin; run the same command again to resume$`), 1000);
});

test('get says "exiting" when complete; SIGINT mid-download prints bytes, pieces and the folder, exit 130', { timeout: 40_000 }, async () => {
  const dir = await scope.tempDir();
  const { torrent, port } = await startSeed(dir, 600_000);
  const done = scope.bitpeer(['get', torrent, '-o', join(dir, 'out1'), '--port', '0', ...LOCAL, '--no-tracker', '--peer', `127.0.0.1:${port}`]);
  assert.equal((await done.exited(20_000)).code, 0, done.describe());
  assert.ok(done.otherLines.some((l) => /^download complete in [\d.]+ s; exiting$/.test(l)), done.describe());
  assert.ok(!done.otherLines.some((l) => /now seeding/.test(l)), 'does not claim to seed');

  const slow = scope.bitpeer(['get', torrent, '-o', join(dir, 'out2'), '--port', '0', ...LOCAL, '--no-tracker', '--peer', `127.0.0.1:${port}`,
    '--download-limit', '64K', '--verbose']);
  await waitForLine(slow, /^peer .* connected/, 15_000);
  await new Promise((r) => setTimeout(r, 2000));
  slow.signal('SIGINT');
  const exit = await slow.exited(10_000);
  assert.equal(exit.code, 130, slow.describe());
  const line = slow.otherLines.find((l) => l.startsWith('stopped: ')) ?? '';
  const m = /^stopped: ([\d.]+ (?:B|KiB)) down, 0 B up, (\d+)\/19 pieces in (.+)\/f\.bin; run the same command again to resume$/.exec(line);
  assert.ok(m, `one summary line: ${slow.describe()}`);
  assert.notEqual(m[1], '0 B', 'some bytes came down');
  assert.ok(Number(m[2]) < 19, 'stopped before the end');
  assert.equal(m[3], join(dir, 'out2'));
});

test('on a 40-column terminal the live line never wraps and shows bytes done/total', { timeout: 40_000, skip: !commandWorks('script', ['-V']) && 'script (util-linux) is missing' }, async () => {
  const dir = await scope.tempDir();
  const { torrent, port } = await startSeed(dir, 600_000);
  const cmd = `stty cols 40; exec ${process.execPath} ${bitpeerBin()} get ${torrent} -o ${join(dir, 'out')} --port 0 --bind 127.0.0.1 --no-lsd --no-tracker --peer 127.0.0.1:${port} --download-limit 200K --progress-interval 200`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /download complete in/);
  // eslint-disable-next-line no-control-regex
  const segments = r.stdout.split(/\r|\n/).map((s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
  const live = segments.filter((s) => /^\s*\d+\.\d%/.test(s));
  assert.ok(live.length >= 2, `live lines drawn: ${JSON.stringify(segments.slice(0, 20))}`);
  for (const s of live) assert.ok(s.length < 40, `fits in 40 columns: ${JSON.stringify(s)}`);
  assert.ok(live.some((s) => /\d+(\.\d)? (B|KiB)\/585\.9 KiB/.test(s)), `bytes done/total shown: ${JSON.stringify(live.slice(0, 5))}`);
});

test('get without --port takes another port when 6881 is busy; an explicit --port 6881 stays an error', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir();
  await writeTree(join(dir, 'data'), [{ path: 'f.bin', size: 10_000 }], 'ux-port');
  const torrent = join(dir, 't.torrent');
  assert.equal(run(['create', join(dir, 'data', 'f.bin'), '-o', torrent, '--announce-host', '127.0.0.1']).code, 0);
  // In the test tier's private namespace 6881 is free; elsewhere it may already be taken, which serves as well.
  const blocker = net.createServer();
  await new Promise<void>((resolve) => {
    blocker.once('error', () => resolve());
    blocker.listen(6881, '127.0.0.1', () => resolve());
  });
  try {
    const get = scope.bitpeer(['get', torrent, '-o', join(dir, 'out'), ...LOCAL, '--no-tracker']);
    const line = await waitForLine(get, /^listening on /, 15_000);
    assert.match(line, /^listening on 127\.0\.0\.1:(\d+) \(6881(, \d+)* (was|were) in use\)$/);
    assert.notEqual(/:(\d+) /.exec(line)?.[1], '6881');
    await get.stop();
    const explicit = run(['get', torrent, '-o', join(dir, 'out'), '--port', '6881', ...LOCAL, '--no-tracker'], { timeout: 15_000 });
    assert.equal(explicit.code, 1, explicit.stderr);
    assert.match(explicit.stderr, /^bitpeer: error: port 6881 is already in use/);
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});

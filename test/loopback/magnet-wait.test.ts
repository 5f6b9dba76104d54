/**
 * Issue 9, finding 4: `bitpeer get <magnet>` waits for peers instead of giving up. With the link's tracker down and
 * its x.pe peer not yet listening, `get` says it is fetching metadata, shows the tracker's error and the next retry,
 * and keeps waiting; once a seed starts at the x.pe address it fetches the metadata and completes. With no seed ever,
 * Ctrl-C (SIGINT) stops it cleanly with exit 130 and one line saying what happened. A magnet with no tracker and no
 * x.pe gets its metadata from a peer that connects to us (the session routes the incoming handshake to the fetch).
 * BEP 9 (ut_metadata), BEP 3.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree } from '../helpers/content.js';
import { bitpeerBin, Scope, type Child } from '../helpers/proc.js';
import { delay, freePort } from '../helpers/trackers.js';

const scope = new Scope();
after(() => scope.cleanup());

const NET = ['--bind', '127.0.0.1', '--no-lsd'];

async function twoPorts(): Promise<[number, number]> {
  const a = await freePort();
  let b = await freePort();
  for (let i = 0; b === a && i < 10; i++) b = await freePort();
  assert.notEqual(a, b);
  return [a, b];
}

/** A shared folder and its .torrent; returns the info-hash. */
async function makeTorrent(dir: string): Promise<{ data: string; torrent: string; infoHash: string }> {
  const data = join(dir, 'share');
  await writeTree(data, [{ path: 'a.bin', size: 200_001 }, { path: 'sub/b.bin', size: 90_000 }], 'magnet-wait');
  const torrent = join(dir, 'share.torrent');
  const r = spawnSync(process.execPath, [bitpeerBin(), 'create', data, '-o', torrent, '--announce-host', '127.0.0.1', '--json'],
    { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return { data, torrent, infoHash: (JSON.parse(r.stdout) as { infoHash: string }).infoHash };
}

async function waitLine(child: Child, re: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = child.otherLines.find((l) => re.test(l));
    if (line !== undefined) return line;
    if (child.exitInfo !== null || Date.now() > deadline) assert.fail(`no line matching ${re}\n${child.describe()}`);
    await delay(50);
  }
}

test('get <magnet> with a dead tracker waits, shows why, and completes once a seed appears at its x.pe address', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  const { data, torrent, infoHash } = await makeTorrent(dir);
  const [deadTracker, seedPort] = await twoPorts();
  const tracker = `http://127.0.0.1:${deadTracker}/announce`;
  const magnet = `magnet:?xt=urn:btih:${infoHash}&dn=share&tr=${encodeURIComponent(tracker)}&x.pe=127.0.0.1:${seedPort}`;
  const out = join(dir, 'out');
  const get = scope.bitpeer(['get', magnet, '-o', out, '--port', '0', ...NET, '--json']);
  const started = Date.now();

  // It says it is fetching metadata, and why nothing arrives: the tracker's error and when it is retried.
  await get.waitFor((e) => e.event === 'info' && /fetching metadata/.test(String(e.message)), 10_000, 'the "fetching metadata" line');
  const status = await get.waitFor((e) => e.event === 'metadata-fetching' && Array.isArray(e.trackers)
    && (e.trackers as Array<{ message: string; retryInSeconds: number }>).some((t) => t.message !== '' && t.retryInSeconds > 0),
  10_000, 'a metadata-fetching event with the tracker error');
  assert.equal(status.infoHash, infoHash);
  assert.match(String(status.status), new RegExp(`tracker ${tracker.replace(/[.]/g, '\\.')}: .*(refused|failed).*; retry in \\d+ s`));
  assert.ok(get.find((e) => e.event === 'tracker-error' && e.url === tracker), 'tracker-error event');

  // Still waiting after 5 s (it used to give up in 0.3 s).
  await delay(Math.max(0, 5000 - (Date.now() - started)));
  assert.equal(get.exitInfo, null, `get is still waiting\n${get.describe()}`);
  assert.ok(!get.find((e) => e.event === 'metadata-received'));

  // A seed appears at the link's x.pe address: the metadata arrives and the download completes.
  scope.bitpeer(['seed', torrent, data, '--port', String(seedPort), ...NET, '--no-tracker', '--json'], { name: 'seed' });
  const exit = await get.exited(40_000);
  assert.deepEqual(exit, { code: 0, signal: null }, get.describe());
  const received = get.find((e) => e.event === 'metadata-received');
  assert.ok(received && received.infoHash === infoHash, 'metadata-received event');
  assert.deepEqual(await compareTrees(data, join(out, 'share')), []);
});

test('get <magnet> with no peer anywhere: human status lines, then Ctrl-C exits 130 cleanly', { timeout: 30_000 }, async () => {
  const dir = await scope.tempDir();
  const [deadTracker] = await twoPorts();
  const tracker = `http://127.0.0.1:${deadTracker}/announce`;
  const magnet = `magnet:?xt=urn:btih:${'5a'.repeat(20)}&dn=nobody-has-it&tr=${encodeURIComponent(tracker)}`;
  const get = scope.bitpeer(['get', magnet, '-o', join(dir, 'out'), '--port', '0', ...NET], { cwd: dir });
  await waitLine(get, /^fetching metadata… \(info-hash 5a5a.*nobody-has-it\)/, 10_000);
  await waitLine(get, /^fetching metadata: no peers yet; tracker http:\/\/127\.0\.0\.1:\d+\/announce: .*; retry in \d+ s$/, 10_000);
  assert.doesNotMatch(get.stderr, /--peer/, 'no advice about a flag in an error');
  await delay(1500);
  assert.equal(get.exitInfo, null, get.describe());
  get.signal('SIGINT');
  const exit = await get.exited(10_000);
  assert.deepEqual(exit, { code: 130, signal: null }, get.describe());
  await waitLine(get, /^stopped while fetching metadata \(0 peer\(s\) found, 0 tried\); nothing was downloaded$/, 1000);
  assert.equal(get.stderr.includes('error'), false, `nothing on stderr but the live line: ${get.stderr}`);
});

test('get <magnet> with no tracker and no x.pe completes when a seed connects to it (incoming peer)', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  const { data, torrent, infoHash } = await makeTorrent(dir);
  const [getPort, seedPort] = await twoPorts();
  const out = join(dir, 'out');
  const get = scope.bitpeer(['get', `magnet:?xt=urn:btih:${infoHash}&dn=share`, '-o', out, '--port', String(getPort), ...NET, '--json']);
  await get.waitFor((e) => e.event === 'metadata-fetching', 10_000, 'the metadata fetch');
  await delay(1000);
  assert.equal(get.exitInfo, null, get.describe());
  // The seed knows the getter (--peer) and dials it: the incoming connection serves the metadata, then the data.
  scope.bitpeer(['seed', torrent, data, '--port', String(seedPort), ...NET, '--no-tracker', '--peer', `127.0.0.1:${getPort}`, '--json'],
    { name: 'seed' });
  const exit = await get.exited(40_000);
  assert.deepEqual(exit, { code: 0, signal: null }, get.describe());
  assert.ok(get.find((e) => e.event === 'metadata-received' && e.infoHash === infoHash));
  assert.deepEqual(await compareTrees(data, join(out, 'share')), []);
});

/**
 * Tracker interop, over HTTP and over UDP announce URLs:
 * - bitpeer's embedded tracker: `bitpeer share` serves a folder and tracks it; libtorrent and aria2c, given only the
 *   torrent (and, for aria2, `--bt-tracker`), find bitpeer and each other through it and download identical content;
 * - a real tracker (opentracker): a libtorrent seed announces there, and `bitpeer get` with nothing but the .torrent
 *   finds it, completes, and reports "completed" and "stopped" to the tracker;
 * - control cases (libtorrent→libtorrent and libtorrent→aria2 through opentracker) that check the harness itself, so
 *   a failure in the other cases points at bitpeer.
 *
 * Invariant: every client talks to 127.0.0.1 only (bound there; DHT, LSD, UPnP, NAT-PMP off — except aria2's DHT
 * socket for udp:// trackers, see test/helpers/trackers.ts), every wait is bounded (≤ 60 s per step), and every
 * process and temp folder a test made is gone when it ends. A case is skipped, with the reason printed, only when one
 * of its tools (libtorrent bindings, aria2c, opentracker) is missing.
 * BEP: 3 (HTTP tracker, peer wire), 15 (UDP tracker), 23 (compact peers), 48 (scrape).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/metainfo.js';
import { findLibtorrentPython, libtorrentVersion } from '../helpers/python.js';
import { Scope, type Child, type JsonEvent } from '../helpers/proc.js';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import {
  aria2Args, aria2LogPeers, aria2LogTail, delay, findAria2, findOpentracker, freePort, httpScrape,
  isAria2Client, isLibtorrentClient, ltEventShowsAria2, startOpentracker, trackerPeers, type AnnounceAnswer,
} from '../helpers/trackers.js';

const MiB = 1024 * 1024;
/** Bound for one transfer. */
const TRANSFER_MS = 60_000;
/** Bound for a seed to check its data, open its port and hear from its tracker. */
const READY_MS = 30_000;
/** Bound for a tracker's view to catch up (an announce in flight, "completed"/"stopped" at exit). */
const SETTLE_MS = 10_000;
const SHORT_MS = 30_000;
const CASE_MS = 150_000;

const python = findLibtorrentPython();
const aria2 = findAria2();
const opentracker = findOpentracker();
const hasMktorrent = spawnSync('mktorrent', ['-h'], { stdio: 'ignore', timeout: 5000 }).error === undefined;

const MISSING = {
  libtorrent: python === null
    ? 'no Python can `import libtorrent` (install python3-libtorrent)' : null,
  aria2: aria2 === null ? 'aria2c is not installed (apt-get install aria2)' : null,
  opentracker: opentracker === null ? 'opentracker is not installed (apt-get install opentracker)' : null,
};
console.log(`# tracker interop: libtorrent ${python === null ? 'missing' : `${libtorrentVersion(python) ?? '?'} (${python})`}, ` +
  `aria2c ${aria2 === null ? 'missing' : 'present'}, opentracker ${opentracker === null ? 'missing' : 'present'}`);

/** The skip reason for a case that needs `tools`, or false; printed once per skipped case. */
function need(label: string, ...tools: Array<keyof typeof MISSING>): string | false {
  const missing = tools.map((t) => MISSING[t]).filter((m): m is string => m !== null);
  if (missing.length === 0) return false;
  const reason = missing.join('; ');
  console.log(`# SKIP ${label}: ${reason}`);
  return reason;
}

type Proto = 'http' | 'udp';

const FILES: readonly FileSpec[] = [
  { path: 'big.bin', size: 3 * MiB + 17 },
  { path: 'sub/mid.bin', size: 700_001 },
  { path: 'sub/small.txt', size: 4321 },
];
const TOTAL = FILES.reduce((s, f) => s + f.size, 0);
const PIECE = 64 * 1024;

/** Writes the fixture as `<dir>/<name>` and returns that path. */
async function makeContent(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await writeTree(path, FILES, name);
  return path;
}

/** Starts a scope whose cleanup runs when the test ends. */
function scopeFor(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  return scope;
}

/**
 * Every child of the scope: its status, its last non-"progress" events (tracker and peer events tell why a swarm did
 * not form; progress lines would crowd them out), the last progress line, and its stderr tail.
 */
function describeAll(scope: Scope): string {
  return scope.started.map((c) => {
    const lines = [`--- ${c.name} (pid ${c.pid ?? '?'}) ${c.exitInfo ? JSON.stringify(c.exitInfo) : 'running'}`];
    const notable = c.events.filter((e) => e.event !== 'progress').slice(-20);
    const lastProgress = c.events.filter((e) => e.event === 'progress').at(-1);
    for (const e of notable) lines.push('  ' + JSON.stringify(e));
    if (lastProgress) lines.push('  (last progress) ' + JSON.stringify(lastProgress));
    if (c.otherLines.length > 0) lines.push(...c.otherLines.slice(-5).map((l) => '  | ' + l));
    const err = c.stderr.trim();
    if (err.length > 0) lines.push('  stderr: ' + err.slice(-1500));
    return lines.join('\n');
  }).join('\n');
}

/** Awaits `p`; on failure adds the recent output of every child in the scope (and `extra`, e.g. aria2's log). */
async function within<T>(scope: Scope, p: Promise<T>, extra?: () => Promise<string>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err);
    const more = extra ? '\n' + await extra().catch(() => '') : '';
    throw new Error(`${message}\n=== all processes of this test:\n${describeAll(scope)}${more}`);
  }
}

async function assertSameContent(scope: Scope, expected: string, actual: string, extra = ''): Promise<void> {
  const diffs = await compareTrees(expected, actual);
  assert.deepEqual(diffs, [], `downloaded content differs from the source:\n${diffs.join('\n')}\n${describeAll(scope)}${extra}`);
}

/** The torrent's v1 info-hash (hex) and announce URLs, read with bitpeer's own parser. */
async function readTorrent(path: string): Promise<{ infoHash: string; trackers: string[] }> {
  const meta = parseTorrent(await readFile(path));
  const trackers = [...(meta.announce !== undefined ? [meta.announce] : []), ...meta.announceList.flat()];
  return { infoHash: meta.infoHashHex, trackers: [...new Set(trackers)] };
}

/** A .torrent for `src` whose only tracker is `url`: made by mktorrent when present (another tool), else by bitpeer. */
async function makeTrackerTorrent(scope: Scope, src: string, out: string, url: string): Promise<string> {
  const child = hasMktorrent
    ? scope.spawn('mktorrent', ['-a', url, '-l', String(Math.log2(PIECE)), '-o', out, src])
    : scope.bitpeer(['create', src, '-o', out, '--piece-length', String(PIECE), '--announce', url]);
  const exit = await child.exited(SHORT_MS);
  assert.equal(exit.code, 0, `making the torrent failed\n${child.describe()}`);
  const { infoHash } = await readTorrent(out);
  return infoHash;
}

/** The port from a child's "listening" event. */
async function listeningPort(child: Child, timeoutMs = READY_MS): Promise<number> {
  const e = await child.waitForEvent('listening', timeoutMs);
  const port = e.port;
  assert.ok(typeof port === 'number' && port > 0 && port < 65536, `bad listening event ${JSON.stringify(e)}`);
  return port;
}

/** A libtorrent seed of `torrent` (data in `save`) that announces to the torrent's tracker `url`. */
async function ltTrackerSeed(scope: Scope, torrent: string, save: string, url: string): Promise<{ child: Child; port: number }> {
  const child = scope.ltPeer(python ?? 'python3', ['--mode', 'seed', '--torrent', torrent, '--save', save, '--port', '0',
    '--keep-trackers']);
  const port = await within(scope, listeningPort(child));
  await within(scope, child.waitFor((e) => e.event === 'tracker-reply' && e.url === url, READY_MS,
    `a tracker-reply from ${url}`));
  return { child, port };
}

/** Polls `trackerPeers` until `ok` holds for its answer, or `timeoutMs` passes; returns the last answer. */
async function pollTracker(url: string, infoHash: string, ok: (a: AnnounceAnswer) => boolean,
  timeoutMs = SETTLE_MS): Promise<AnnounceAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await trackerPeers(url, infoHash).catch((err: unknown) =>
      ({ failure: `test-side announce failed: ${String(err)}`, peers: [] }));
    if (ok(answer) || Date.now() > deadline) return answer;
    await delay(250);
  }
}

/** Scrapes (HTTP) until the tracker's "downloaded" counter is ≥ 1 or SETTLE_MS passes; returns the last answer. */
async function scrapeUntilDownloaded(httpUrl: string, infoHash: string):
Promise<Awaited<ReturnType<typeof httpScrape>>> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const scrape = await httpScrape(httpUrl, infoHash).catch(() => null);
    if ((scrape !== null && scrape.downloaded >= 1) || Date.now() > deadline) return scrape;
    await delay(250);
  }
}

/** Events of `child` named `event`. */
function eventsOf(child: Child, event: string): JsonEvent[] {
  return child.events.filter((e) => e.event === event);
}

/** Sum of a numeric field over the peers of a "peer-totals" event. */
function peerTotal(e: JsonEvent | undefined, field: 'downloaded' | 'uploaded'): number {
  const peers = e?.peers;
  if (!Array.isArray(peers)) return -1;
  return peers.reduce((s: number, p: unknown) => s + Number((p as Record<string, unknown>)[field] ?? 0), 0);
}

const PEER_SOURCES = new Set(['manual', 'tracker', 'pex', 'lsd', 'incoming']);

describe('tracker interop', () => {
  const py = python ?? 'python3';

  for (const proto of ['http', 'udp'] as const satisfies readonly Proto[]) {
    // ---------------------------------------------------------------------------------------------------------
    const control1 = `control: libtorrent seeds, libtorrent downloads through opentracker (${proto})`;
    test(control1, { timeout: CASE_MS, skip: need(control1, 'libtorrent', 'opentracker') }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-trk-c1-');
      const src = await makeContent(join(dir, 'src'), 'control folder');
      const port = await freePort();
      const url = `${proto}://127.0.0.1:${port}/announce`;
      const torrent = join(dir, 'c1.torrent');
      const infoHash = await makeTrackerTorrent(scope, src, torrent, url);
      const ot = await within(scope, startOpentracker(scope, [infoHash], { port }));

      const seed = await ltTrackerSeed(scope, torrent, join(dir, 'src'), url);
      const dl = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', join(dir, 'dl'), '--port', '0',
        '--keep-trackers', '--keep-seeding', '--timeout', String(TRANSFER_MS / 1000)]);
      await within(scope, dl.waitForEvent('complete', TRANSFER_MS + 5000));
      await assertSameContent(scope, src, join(dir, 'dl', 'control folder'));
      // The downloader dialled the seed's listening port, which it can only have learned from the tracker (it was
      // given no --peer; DHT, LSD and PEX are off). A fast transfer can end before its 100 ms peer-list scan, so the
      // outgoing peer-connect counts as much as a peer-info with source "tracker".
      const seedAddr = `127.0.0.1:${seed.port}`;
      assert.ok(dl.find((e) => (e.event === 'peer-connect' && e.peer === seedAddr) || (e.event === 'peer-info' &&
        e.peer === seedAddr && Array.isArray(e.source) && e.source.includes('tracker'))),
      `the downloader never dialled the seed ${seedAddr}\n${describeAll(scope)}`);
      // The tracker counts the completion (the same check is made of bitpeer below) and lists both peers.
      const dlPort = await listeningPort(dl);
      const scrape = await scrapeUntilDownloaded(ot.httpUrl, infoHash);
      assert.ok(scrape !== null && scrape.downloaded >= 1,
        `opentracker did not count libtorrent's "completed": ${JSON.stringify(scrape)}\n${describeAll(scope)}`);
      const listed = await pollTracker(url, infoHash,
        (a) => a.peers.includes(`127.0.0.1:${seed.port}`) && a.peers.includes(`127.0.0.1:${dlPort}`));
      assert.ok(listed.peers.includes(`127.0.0.1:${seed.port}`) && listed.peers.includes(`127.0.0.1:${dlPort}`),
        `opentracker lists ${JSON.stringify(listed)}, expected the seed ${seed.port} and the downloader ${dlPort}`);
    });

    // ---------------------------------------------------------------------------------------------------------
    const control2 = `control: aria2 downloads from a libtorrent seed through opentracker (${proto})`;
    test(control2, { timeout: CASE_MS, skip: need(control2, 'libtorrent', 'aria2', 'opentracker') }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-trk-c2-');
      const src = await makeContent(join(dir, 'src'), 'aria2 control');
      const port = await freePort();
      const url = `${proto}://127.0.0.1:${port}/announce`;
      const torrent = join(dir, 'c2.torrent');
      const infoHash = await makeTrackerTorrent(scope, src, torrent, url);
      await within(scope, startOpentracker(scope, [infoHash], { port }));
      const seed = await ltTrackerSeed(scope, torrent, join(dir, 'src'), url);

      const log = join(dir, 'aria2.log');
      const ariaPort = await freePort();
      const udp = proto === 'udp' ? { dhtPort: await freePort(), dhtFile: join(dir, 'dht.dat') } : undefined;
      const aria = scope.spawn('aria2c', aria2Args({ torrent, dir: join(dir, 'dl'), tracker: url, listenPort: ariaPort,
        logFile: log, ...(udp ? { udp } : {}) }), { name: 'aria2c' });
      const exit = await within(scope, aria.exited(TRANSFER_MS), () => aria2LogTail(log));
      assert.equal(exit.code, 0, `aria2c failed\n${describeAll(scope)}\n--- aria2 log tail\n${await aria2LogTail(log)}`);
      await assertSameContent(scope, src, join(dir, 'dl', 'aria2 control'));
      const seen = await aria2LogPeers(log);
      assert.ok(seen.dialled.has(`127.0.0.1:${seed.port}`),
        `aria2 never dialled the seed 127.0.0.1:${seed.port} (dialled: ${[...seen.dialled].join(', ')})\n` +
        seen.trackerLines.join('\n'));
      assert.ok(seen.handshakes.some((h) => h.peerIdPrefix.startsWith('-LT')),
        `aria2 completed no handshake with libtorrent: ${JSON.stringify(seen.handshakes)}`);
      const ltSawAria = await within(scope, seed.child.waitFor((e) => ltEventShowsAria2(e),
        SETTLE_MS, 'aria2 in the seed\'s peer list'));
      assert.ok(ltSawAria);
    });

    // ---------------------------------------------------------------------------------------------------------
    const embedded = `bitpeer's embedded tracker (${proto}): libtorrent and aria2 find bitpeer and each other`;
    test(embedded, { timeout: CASE_MS, skip: need(embedded, 'libtorrent', 'aria2') }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-trk-emb-');
      const name = 'shared folder';
      const src = await makeContent(join(dir, 'src'), name);
      const torrent = join(dir, 'shared.torrent');
      const port = await freePort();
      const url = `${proto}://127.0.0.1:${port}/announce`;
      const share = scope.bitpeer(['share', src, '-o', torrent, '--port', String(port), '--bind', '127.0.0.1',
        '--announce-host', '127.0.0.1', '--piece-length', String(PIECE), '--json', '--no-lsd',
        ...(proto === 'udp' ? ['--announce', url] : [])]);
      const sharePort = await within(scope, listeningPort(share));
      assert.equal(sharePort, port, 'bitpeer share listens on the port it was given');
      await within(scope, share.waitFor((e) => e.event === 'info' && typeof e.torrent === 'string', READY_MS,
        'an "info" event naming the torrent file'));
      const { infoHash, trackers } = await readTorrent(torrent);
      // http: no --announce, so the torrent names this peer's own tracker; udp: exactly the --announce given.
      assert.deepEqual(trackers, [url], `the shared torrent's trackers`);

      // 1. libtorrent, given only the torrent, finds bitpeer through its tracker and downloads everything.
      const lt = scope.ltPeer(py, ['--mode', 'download', '--torrent', torrent, '--save', join(dir, 'lt'), '--port', '0',
        '--keep-trackers', '--keep-seeding', '--timeout', String(TRANSFER_MS / 1000)]);
      const ltPort = await within(scope, listeningPort(lt));
      await within(scope, lt.waitForEvent('complete', TRANSFER_MS + 5000));
      await assertSameContent(scope, src, join(dir, 'lt', name));
      // libtorrent may announce while bitpeer is still checking the data it shares (before its own first announce):
      // that reply lists nobody, and bitpeer dials libtorrent once its announce names it. The reply to libtorrent's
      // `completed` announce must then list bitpeer.
      const reply = await within(scope, lt.waitFor((e) => e.event === 'tracker-reply' && e.url === url && Number(e.peers) >= 1,
        SETTLE_MS, `a tracker-reply from ${url} that lists a peer`));
      assert.ok(Number(reply.peers) >= 1, `bitpeer's tracker gave libtorrent no peers: ${JSON.stringify(reply)}`);

      // 2. The tracker lists bitpeer itself and libtorrent (asked over the same protocol).
      const listed = await pollTracker(url, infoHash,
        (a) => a.peers.includes(`127.0.0.1:${port}`) && a.peers.includes(`127.0.0.1:${ltPort}`));
      assert.equal(listed.failure, undefined, `bitpeer's tracker refused an announce: ${listed.failure ?? ''}`);
      assert.ok(listed.peers.includes(`127.0.0.1:${port}`),
        `bitpeer's tracker does not list bitpeer itself (127.0.0.1:${port}): ${JSON.stringify(listed)}`);
      assert.ok(listed.peers.includes(`127.0.0.1:${ltPort}`),
        `bitpeer's tracker does not list libtorrent (127.0.0.1:${ltPort}): ${JSON.stringify(listed)}`);

      // 3. aria2, given only the tracker URL, finds bitpeer and libtorrent and downloads everything.
      const log = join(dir, 'aria2.log');
      const ariaPort = await freePort();
      const udp = proto === 'udp' ? { dhtPort: await freePort(), dhtFile: join(dir, 'dht.dat') } : undefined;
      const aria = scope.spawn('aria2c', aria2Args({ torrent, dir: join(dir, 'aria'), tracker: url,
        listenPort: ariaPort, logFile: log, ...(udp ? { udp } : {}) }), { name: 'aria2c' });
      const exit = await within(scope, aria.exited(TRANSFER_MS), () => aria2LogTail(log));
      const seen = await aria2LogPeers(log);
      const ariaDiag = `\n--- aria2 tracker lines\n${seen.trackerLines.join('\n')}\n--- aria2 log tail\n${await aria2LogTail(log)}`;
      assert.equal(exit.code, 0, `aria2c failed\n${describeAll(scope)}${ariaDiag}`);
      await assertSameContent(scope, src, join(dir, 'aria', name), ariaDiag);
      assert.ok(seen.dialled.has(`127.0.0.1:${port}`),
        `aria2 never dialled bitpeer 127.0.0.1:${port}; dialled ${[...seen.dialled].join(', ')}${ariaDiag}`);
      assert.ok(seen.dialled.has(`127.0.0.1:${ltPort}`),
        `aria2 never dialled libtorrent 127.0.0.1:${ltPort}; dialled ${[...seen.dialled].join(', ')}${ariaDiag}`);
      const ltMetAria = lt.find((e) => e.event === 'peer-info' && isAria2Client(e.client));
      t.diagnostic(`libtorrent ${ltMetAria ? 'saw' : 'did not see'} aria2 connect; aria2 handshakes: ` +
        JSON.stringify(seen.handshakes));

      // 4. bitpeer's own view: both clients connected to it, with a contract-conforming source.
      const connects = eventsOf(share, 'peer-connect');
      assert.ok(connects.some((e) => isLibtorrentClient(e.client)),
        `bitpeer reported no peer-connect from libtorrent\n${describeAll(scope)}`);
      assert.ok(connects.some((e) => isAria2Client(e.client)),
        `bitpeer reported no peer-connect from aria2\n${describeAll(scope)}`);
      for (const e of connects) {
        assert.ok(typeof e.source === 'string' && PEER_SOURCES.has(e.source), `bad peer-connect source: ${JSON.stringify(e)}`);
      }

      // 5. It stops cleanly on SIGTERM and accounts for what it sent (at least one full copy, to libtorrent).
      await lt.stop();
      const stopped = await share.stop(5000);
      assert.notEqual(stopped.signal, 'SIGKILL', `bitpeer share ignored SIGTERM for 5 s\n${describeAll(scope)}`);
      const sent = peerTotal(share.find((e) => e.event === 'peer-totals'), 'uploaded');
      assert.ok(sent >= TOTAL, `peer-totals: uploaded ${sent} < ${TOTAL}\n${describeAll(scope)}`);
    });

    // ---------------------------------------------------------------------------------------------------------
    const viaOt = `bitpeer get finds a libtorrent seed through opentracker (${proto})`;
    test(viaOt, { timeout: CASE_MS, skip: need(viaOt, 'libtorrent', 'opentracker') }, async (t) => {
      const scope = scopeFor(t);
      const dir = await scope.tempDir('bitpeer-trk-ot-');
      const name = 'tracked folder';
      const src = await makeContent(join(dir, 'src'), name);
      const otPort = await freePort();
      const url = `${proto}://127.0.0.1:${otPort}/announce`;
      const torrent = join(dir, 'ot.torrent');
      const infoHash = await makeTrackerTorrent(scope, src, torrent, url);
      const ot = await within(scope, startOpentracker(scope, [infoHash], { port: otPort }));
      const seed = await ltTrackerSeed(scope, torrent, join(dir, 'src'), url);

      const port = await freePort();
      const get = scope.bitpeer(['get', torrent, '-o', join(dir, 'dl'), '--port', String(port), '--bind', '127.0.0.1',
        '--json', '--no-lsd']);
      const exit = await within(scope, get.exited(TRANSFER_MS));
      assert.equal(exit.code, 0, `bitpeer get did not finish cleanly\n${describeAll(scope)}`);
      await assertSameContent(scope, src, join(dir, 'dl', name));

      // It announced "started" to the torrent's tracker and dialled the seed it learned there.
      const started = get.find((e) => e.event === 'tracker-announce' && e.url === url && e.trackerEvent === 'started');
      assert.ok(started, `no tracker-announce "started" to ${url}\n${describeAll(scope)}`);
      const toSeed = eventsOf(get, 'peer-connect').find((e) => e.peer === `127.0.0.1:${seed.port}`);
      assert.ok(toSeed, `bitpeer never connected to the seed 127.0.0.1:${seed.port}\n${describeAll(scope)}`);
      assert.ok(isLibtorrentClient(toSeed.client), `the seed's client is ${String(toSeed.client)}`);
      assert.equal(toSeed.direction, 'out', `bitpeer should have dialled the seed: ${JSON.stringify(toSeed)}`);
      assert.equal(toSeed.source, 'tracker', `the seed's address came from the tracker: ${JSON.stringify(toSeed)}`);
      const errors = eventsOf(get, 'tracker-error');
      assert.deepEqual(errors, [], `tracker errors: ${JSON.stringify(errors)}`);

      // The tracker heard "completed" (its download counter) and "stopped" (bitpeer is no longer listed).
      const scrape = await scrapeUntilDownloaded(ot.httpUrl, infoHash);
      assert.ok(scrape !== null && scrape.downloaded >= 1,
        `opentracker never counted bitpeer's "completed": ${JSON.stringify(scrape)}\n${describeAll(scope)}`);
      const listed = await pollTracker(url, infoHash, (a) => !a.peers.includes(`127.0.0.1:${port}`));
      assert.ok(!listed.peers.includes(`127.0.0.1:${port}`),
        `opentracker still lists bitpeer 127.0.0.1:${port} after it exited (no "stopped"?): ${JSON.stringify(listed)}`);
      assert.ok(listed.peers.includes(`127.0.0.1:${seed.port}`), `opentracker lost the seed: ${JSON.stringify(listed)}`);
    });
  }
});

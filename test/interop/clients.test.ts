/**
 * Issue 11: aria2 and Transmission, both directions, through a loopback tracker (opentracker), against bitpeer with
 * its defaults (uTP on, encryption enabled) and the clients with their default connection settings (Transmission
 * 3.00: uTP on, encryption preferred):
 * - bitpeer downloads from an aria2 seed;
 * - Transmission downloads from a bitpeer seed;
 * - a Transmission leecher that already holds part of the data (checked from disk) completes from a bitpeer seed,
 *   and bitpeer sends it only what it lacks;
 * - bitpeer downloads from a Transmission seed.
 * Every downloaded copy is compared byte for byte (SHA-1 per file) with the source.
 *
 * Transmission ignores loopback peers that a tracker hands it, so in its cases it announces first and bitpeer,
 * started once the tracker lists Transmission, dials it. The same order is used with aria2 (it seeds first).
 * Invariant: every process talks to 127.0.0.1 only (Transmission: DHT, LPD, PEX, port mapping off and bound to
 * 127.0.0.1; aria2: see test/helpers/trackers.ts), every wait is bounded, and the scope stops what it started (by
 * PID) and removes its temp folders. A case is skipped, with the reason printed, only when one of its tools is missing.
 * BEP: 3 (HTTP tracker, peer wire), 6 (fast extension), 10 (extension protocol), 23 (compact peers), 29 (uTP).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTorrent } from '../../src/metainfo/metainfo.js';
import { Scope, type Child, type JsonEvent } from '../helpers/proc.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import {
  aria2LogTail, commandWorks, delay, findAria2, findOpentracker, freePort, startOpentracker, trackerPeers,
} from '../helpers/trackers.js';

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;
const SIZE = 3 * MiB + 4321;
/** The partial Transmission leecher starts with the first 40 % of the pieces. */
const HAVE_BYTES = Math.floor((SIZE * 0.4) / PIECE) * PIECE;
/** Bound for one transfer (Transmission waits about 10 s before its first request). */
const TRANSFER_MS = 40_000;
/** Bound for a client to start, check its data and appear in the tracker's peer list. */
const READY_MS = 20_000;
const CASE_MS = 70_000;

const aria2 = findAria2();
const opentracker = findOpentracker();
const transmission = commandWorks('transmission-cli', ['--version']) ? 'transmission-cli' : null;
const MISSING = {
  aria2: aria2 === null ? 'aria2c is not installed (apt-get install aria2)' : null,
  opentracker: opentracker === null ? 'opentracker is not installed (apt-get install opentracker)' : null,
  transmission: transmission === null ? 'transmission-cli is not installed (apt-get install transmission-cli)' : null,
};

/** The skip reason for a case that needs `tools`, or false; printed once per skipped case. */
function need(label: string, ...tools: Array<keyof typeof MISSING>): string | false {
  const missing = tools.map((t) => MISSING[t]).filter((m): m is string => m !== null);
  if (missing.length === 0) return false;
  const reason = missing.join('; ');
  console.log(`# SKIP ${label}: ${reason}`);
  return reason;
}

/** One case's setup: source file, torrent on an opentracker URL, the tracker running. */
interface Swarm {
  readonly scope: Scope;
  readonly dir: string;
  readonly name: string;
  readonly src: string;
  readonly torrent: string;
  readonly url: string;
  readonly infoHash: string;
}

async function swarm(t: { after: (fn: () => Promise<void>) => void }, label: string): Promise<Swarm> {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  const dir = await scope.tempDir(`bitpeer-clients-${label}-`);
  const name = `${label}.bin`;
  await writeTree(join(dir, 'src'), [{ path: name, size: SIZE }], `clients ${label}`);
  const src = join(dir, 'src', name);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/announce`;
  const torrent = join(dir, `${label}.torrent`);
  const made = scope.bitpeer(['create', src, '-o', torrent, '--piece-length', String(PIECE), '--announce', url]);
  const exit = await made.exited(20_000);
  assert.equal(exit.code, 0, `bitpeer create failed\n${made.describe()}`);
  const infoHash = parseTorrent(await readFile(torrent)).infoHashHex;
  await startOpentracker(scope, [infoHash], { port });
  return { scope, dir, name, src, torrent, url, infoHash };
}

/** Waits until the tracker lists `127.0.0.1:port` (the client has announced). */
async function listed(s: Swarm, port: number, who: string): Promise<void> {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    const answer = await trackerPeers(s.url, s.infoHash).catch(() => ({ peers: [] as string[] }));
    if (answer.peers.includes(`127.0.0.1:${port}`)) return;
    if (Date.now() > deadline) {
      throw new Error(`${who} (port ${port}) never appeared at the tracker: ${JSON.stringify(answer)}\n${s.scope.describe()}`);
    }
    await delay(250);
  }
}

/**
 * A transmission-cli with Transmission 3.00's default connection settings (uTP on, encryption preferred), made
 * loopback-only: DHT, LPD, PEX and port mapping off, bound to 127.0.0.1, no blocklist, no watch-dir. Its finish
 * script writes `done` into its folder.
 */
async function startTransmission(s: Swarm, label: string, downloadDir: string):
Promise<{ child: Child; port: number; done: string; debugLog: string }> {
  const cfg = join(s.dir, `tr-${label}`);
  await mkdir(cfg, { recursive: true });
  await mkdir(downloadDir, { recursive: true });
  const port = await freePort();
  await writeFile(join(cfg, 'settings.json'), JSON.stringify({
    'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'port-forwarding-enabled': false,
    'bind-address-ipv4': '127.0.0.1', 'bind-address-ipv6': '::1', 'blocklist-enabled': false,
    'watch-dir-enabled': false, 'rpc-enabled': false, 'peer-port': port, 'peer-port-random-on-start': false,
    'message-level': 2,
  }, null, 2));
  const done = join(cfg, 'done');
  const script = join(cfg, 'done.sh');
  await writeFile(script, `#!/bin/sh\necho done > '${done}'\n`, { mode: 0o755 });
  // Its debug log names each connection's socket type and the MSE crypto mode it selected. Transmission writes it only
  // to stdout or stderr (TR_DEBUG_FD=1|2): `sh` sends stderr to a file and execs transmission-cli, so the child's PID
  // is Transmission's own.
  const debugLog = join(cfg, 'debug.log');
  const child = s.scope.spawn('sh', ['-c', 'exec "$@" 2>"$0"', debugLog, 'transmission-cli', '-g', cfg, '-p', String(port),
    '-w', downloadDir, '-f', script, '-v', s.torrent], { name: `transmission ${label}`, env: { TR_DEBUG_FD: '2' } });
  return { child, port, done, debugLog };
}

/**
 * What Transmission's debug log says about each peer connection (bitpeer is its only peer): the socket type (uTP or
 * TCP) and the encryption (the MSE crypto mode it selected: 2 = RC4, 1 = plaintext; else a plaintext handshake).
 */
async function transmissionLinks(debugLog: string): Promise<string> {
  const byPeer = new Map<string, string[]>();
  for (const line of (await readFile(debugLog, 'utf8').catch(() => '')).split('\n')) {
    const peer = /\] (\[[^\]]+\]:\d+) /.exec(line)?.[1];
    if (peer === undefined) continue;
    byPeer.set(peer, [...(byPeer.get(peer) ?? []), line]);
  }
  const out = [...byPeer].filter(([, lines]) => lines.some((l) => l.includes('handshake'))).map(([peer, lines]) => {
    const transport = lines.some((l) => l.includes('socket (utp)')) ? 'uTP' : 'TCP';
    const mode = lines.map((l) => /selecting crypto mode '(\d)'/.exec(l)?.[1]).find((m) => m !== undefined);
    const encryption = mode === '2' ? 'MSE RC4' : mode === '1' ? 'MSE plaintext' : 'plaintext handshake';
    return `${peer} over ${transport}, ${encryption}`;
  });
  return `Transmission's links: ${out.length > 0 ? out.join('; ') : 'none in its debug log'}`;
}

/** The last lines of Transmission's log (its stderr goes there), without the per-packet uTP lines, for failures. */
async function transmissionTail(debugLog: string): Promise<string> {
  const lines = (await readFile(debugLog, 'utf8').catch(() => '')).split('\n').filter((l) => !l.includes('utp_on_'));
  return `--- Transmission log tail (${debugLog})\n${lines.slice(-40).join('\n')}`;
}

/** Resolves when `path` exists; rejects after `timeoutMs` or when `child` exits first. */
async function fileAppears(path: string, child: Child, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await stat(path).then(() => true, () => false)) return;
    if (child.exitInfo !== null) throw new Error(`${child.name} exited before ${what}\n${child.describe()}`);
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms\n${child.describe()}`);
    await delay(200);
  }
}

function eventsOf(child: Child, event: string): JsonEvent[] {
  return child.events.filter((e) => e.event === event);
}

/** Sum of a numeric field over the peers of bitpeer's "peer-totals" event. */
function peerTotal(child: Child, field: 'downloaded' | 'uploaded'): number {
  const peers = child.find((e) => e.event === 'peer-totals')?.peers;
  if (!Array.isArray(peers)) return -1;
  return peers.reduce((sum: number, p: unknown) => sum + Number((p as Record<string, unknown>)[field] ?? 0), 0);
}

/** bitpeer's connections and disconnects, for the test's diagnostics. */
function links(child: Child): string {
  return [...eventsOf(child, 'peer-connect'), ...eventsOf(child, 'peer-disconnect')].map((e) => JSON.stringify(e)).join('; ');
}

const BITPEER_NET = ['--bind', '127.0.0.1', '--no-lsd', '--json'];

// -------------------------------------------------------------------------------------------------------------------
const aria2Seed = 'bitpeer downloads from an aria2 seed found through the tracker';
test(aria2Seed, { timeout: CASE_MS, skip: need(aria2Seed, 'aria2', 'opentracker') }, async (t) => {
  const s = await swarm(t, 'aria2-seed');
  const log = join(s.dir, 'aria2.log');
  const ariaPort = await freePort();
  const ariaSeed = s.scope.spawn('aria2c', ['--no-conf=true', '--interface=127.0.0.1', '--disable-ipv6=true',
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--check-integrity=true', '--seed-ratio=0.0', '--seed-time=5', `--listen-port=${ariaPort}`,
    `--bt-tracker=${s.url}`, '--bt-exclude-tracker=*', `--dir=${join(s.dir, 'src')}`, `--log=${log}`, '--log-level=info',
    '--console-log-level=warn', '--summary-interval=0', '--show-console-readout=false', '--bt-save-metadata=false',
    s.torrent], { name: 'aria2c seed' });
  await listed(s, ariaPort, 'the aria2 seed').catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n--- aria2 log tail\n${await aria2LogTail(log)}`);
  });

  const started = performance.now();
  const get = s.scope.bitpeer(['get', s.torrent, '-o', join(s.dir, 'dl'), '--port', '0', ...BITPEER_NET]);
  const exit = await get.exited(TRANSFER_MS);
  assert.equal(exit.code, 0, `bitpeer get failed\n${ariaSeed.describe()}\n${get.describe()}\n--- aria2 log tail\n${await aria2LogTail(log)}`);
  t.diagnostic(`aria2 → bitpeer: ${SIZE} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s; ${links(get)}`);
  assert.deepEqual(await compareTrees(s.src, join(s.dir, 'dl', s.name)), [], 'bitpeer holds the seed\'s bytes');
  const toSeed = eventsOf(get, 'peer-connect').find((e) => e.peer === `127.0.0.1:${ariaPort}`);
  assert.ok(toSeed !== undefined && toSeed.source === 'tracker', `bitpeer met aria2 through the tracker: ${links(get)}`);
  // bitpeer names a client it does not decode by the hex of its peer id's first bytes: "A2-1-36-" for aria2 1.36.
  assert.ok(/aria2|^A2-|^41322d/i.test(String(toSeed.client)), `the seed is aria2: ${JSON.stringify(toSeed)}`);
});

// -------------------------------------------------------------------------------------------------------------------
/** Transmission downloads from a bitpeer seed; with `partial`, it starts with the first HAVE_BYTES on disk. */
async function transmissionLeeches(t: TestContext, partial: boolean): Promise<void> {
  const s = await swarm(t, partial ? 'tr-partial' : 'tr-leech');
  const dl = join(s.dir, 'tr-dl');
  await mkdir(dl);
  if (partial) {
    // Transmission's copy: the right bytes for the first pieces, zeros after.
    await copyFile(s.src, join(dl, s.name));
    const fh = await open(join(dl, s.name), 'r+');
    try {
      const zeros = Buffer.alloc(PIECE);
      for (let off = HAVE_BYTES; off < SIZE; off += zeros.length) await fh.write(zeros, 0, Math.min(zeros.length, SIZE - off), off);
    } finally { await fh.close(); }
  }
  const tr = await startTransmission(s, 'leech', dl);
  await listed(s, tr.port, 'the Transmission leecher').catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await transmissionTail(tr.debugLog)}`);
  });

  const started = performance.now();
  const seed = s.scope.bitpeer(['seed', s.torrent, join(s.dir, 'src'), '--port', '0', ...BITPEER_NET]);
  await fileAppears(tr.done, tr.child, TRANSFER_MS, 'Transmission\'s completion').catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${s.scope.describe()}\n${await transmissionTail(tr.debugLog)}`);
  });
  t.diagnostic(`bitpeer → Transmission${partial ? ' (partial)' : ''}: ${SIZE} bytes in ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s; ${links(seed)}`);
  tr.child.signal('SIGINT');
  await tr.child.exited(10_000).catch(() => tr.child.stop());
  t.diagnostic(await transmissionLinks(tr.debugLog));
  assert.deepEqual(await compareTrees(s.src, join(dl, s.name)), [], 'Transmission holds the seed\'s bytes');

  const connects = eventsOf(seed, 'peer-connect');
  const toTr = connects.find((e) => e.peer === `127.0.0.1:${tr.port}`);
  assert.ok(toTr !== undefined && toTr.source === 'tracker' && toTr.direction === 'out',
    `bitpeer dialled Transmission, learned from the tracker: ${links(seed)}`);
  assert.ok(/transmission|^TR\d/i.test(String(toTr.client)), `the peer is Transmission: ${JSON.stringify(toTr)}`);
  const dropped = eventsOf(seed, 'peer-disconnect').filter((e) => e.code === 'PROTOCOL');
  assert.deepEqual(dropped, [], `bitpeer dropped no peer for a protocol error\n${s.scope.describe()}`);
  const stopped = await seed.stop(5000);
  assert.notEqual(stopped.signal, 'SIGKILL', `bitpeer seed ignored SIGTERM\n${seed.describe()}`);
  const uploaded = peerTotal(seed, 'uploaded');
  const missing = partial ? SIZE - HAVE_BYTES : SIZE;
  assert.ok(uploaded >= missing && uploaded <= missing + 2 * PIECE,
    `bitpeer sent what Transmission lacked: ${uploaded} bytes for ${missing} missing\n${seed.describe()}`);
}

const trLeech = 'Transmission downloads from a bitpeer seed';
test(trLeech, { timeout: CASE_MS, skip: need(trLeech, 'transmission', 'opentracker') },
  (t) => transmissionLeeches(t, false));

const trPartial = 'a Transmission leecher with part of the data completes from a bitpeer seed';
test(trPartial, { timeout: CASE_MS, skip: need(trPartial, 'transmission', 'opentracker') },
  (t) => transmissionLeeches(t, true));

// -------------------------------------------------------------------------------------------------------------------
const trSeed = 'bitpeer downloads from a Transmission seed found through the tracker';
test(trSeed, { timeout: CASE_MS, skip: need(trSeed, 'transmission', 'opentracker') }, async (t) => {
  const s = await swarm(t, 'tr-seed');
  const tr = await startTransmission(s, 'seed', join(s.dir, 'src'));
  // It verifies the data (-v) and then announces as a seed; the finish script also runs for a complete torrent.
  await listed(s, tr.port, 'the Transmission seed').catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await transmissionTail(tr.debugLog)}`);
  });

  const started = performance.now();
  const get = s.scope.bitpeer(['get', s.torrent, '-o', join(s.dir, 'dl'), '--port', '0', ...BITPEER_NET]);
  const exit = await get.exited(TRANSFER_MS);
  assert.equal(exit.code, 0, `bitpeer get failed\n${s.scope.describe()}\n${await transmissionTail(tr.debugLog)}`);
  t.diagnostic(`Transmission → bitpeer: ${SIZE} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s; ${links(get)}`);
  tr.child.signal('SIGINT');
  await tr.child.exited(10_000).catch(() => tr.child.stop());
  t.diagnostic(await transmissionLinks(tr.debugLog));
  assert.deepEqual(await compareTrees(s.src, join(s.dir, 'dl', s.name)), [], 'bitpeer holds the seed\'s bytes');
  const toSeed = eventsOf(get, 'peer-connect').find((e) => e.peer === `127.0.0.1:${tr.port}`);
  assert.ok(toSeed !== undefined && toSeed.source === 'tracker', `bitpeer met Transmission through the tracker: ${links(get)}`);
  assert.ok(/transmission|^TR\d/i.test(String(toSeed.client)), `the seed is Transmission: ${JSON.stringify(toSeed)}`);
});

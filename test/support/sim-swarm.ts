/**
 * The simulation tier's driver (issue 10, item 7): many bitpeer `Session`s in one process, on one virtual clock, over
 * a `SimNetwork` (sim-network.ts), each with a `SimStorage` (sim-storage.ts); peers join, download, leave.
 *
 * Discrete-event loop (`runUntil`): let everything runnable run (microtasks, nextTicks and immediates, until no
 * immediate is pending), then move the ManualClock straight to its next due timer (`nextDue`), firing every timer
 * due then; repeat until a condition holds or a virtual deadline passes. Nothing waits on wall time.
 *
 * Determinism: one seed drives everything: the torrent's bytes, each host's latency, join and leave times, each
 * session's rng and peer id (seeded `rng` and `peerId` session options), the loss draws and the "tracker" samples.
 * Hashing runs on the main thread (`hashWorkers: 0`), the UDP endpoint is off (`udp: false`), LSD and trackers are
 * off, so no real I/O, thread or timer takes part. A run with the same options replays exactly; `digest` (SHA-256 of
 * every session event with its virtual time, and of the per-peer results) proves it.
 *
 * Peer discovery: a peer joining gets, as a tracker's first answer would give it, the seed and a random sample of
 * the peers present (`addTorrent`'s initial `peers`); after that, bitpeer's own mechanisms spread the swarm: incoming
 * connections and peer exchange (BEP 11, `pex: true`).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Session } from '../../src/session/session.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRng } from '../../src/util/seeded-rng.js';
import { makePeerId } from '../../src/util/peer-id.js';
import { SimNetwork } from './sim-network.js';
import { SimContent, SimStorage } from './sim-storage.js';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Let everything runnable run: microtasks and ticks, then immediates until none is pending. */
export async function settle(): Promise<void> {
  do await immediate(); while (process.getActiveResourcesInfo().includes('Immediate'));
}

/**
 * Discrete-event loop: settle, check `done`, jump the clock to its next timer; until `done()` (true) or the next
 * timer lies beyond `deadline` / nothing is pending (false).
 */
export async function runUntil(clock: ManualClock, done: () => boolean, deadline: number): Promise<boolean> {
  for (;;) {
    await settle();
    if (done()) return true;
    const next = clock.nextDue();
    if (next === undefined || next > deadline) return false;
    clock.advanceTo(next);
  }
}

export interface SwarmOptions {
  /** Everything random derives from this. */
  seed: number;
  leechers: number;
  sizeBytes: number;
  pieceLength: number;
  /** Upload rates in bytes/s of the seed and of each leecher; leechers' download rate. */
  seedUpload: number;
  leecherUpload: number;
  leecherDownload: number;
  /** Each host's access latency is drawn in [min, max] ms; a link's one-way latency is the sum of its two ends'. */
  accessLatencyMs: [number, number];
  /** Probability that a packet is lost (see sim-network.ts). */
  loss: number;
  /** Leechers join at random times in [0, joinWindowMs]. */
  joinWindowMs: number;
  /** Peers (besides the seed) a joining peer is given, at most. */
  trackerPeers: number;
  /** `leave` of the first leechers leave, and `arrive` new ones join, at random times in [fromMs, toMs]. */
  churn?: { leave: number; arrive: number; fromMs: number; toMs: number };
  /** Virtual deadline for the download, in ms. */
  deadlineMs: number;
}

export interface PeerResult {
  address: string;
  role: 'seed' | 'leecher';
  joinedAt: number;
  leftAt: number | null;
  /** Virtual ms from joining to 'complete' (null: did not complete). */
  completedAfter: number | null;
  bytesUp: number;
  bytesDown: number;
  connectsIn: number;
  connectsOut: number;
  /** Pieces its storage holds at the end (or when it left). */
  pieces: number;
  badWrites: number;
}

export interface SwarmResult {
  peers: PeerResult[];
  /** Leechers present at the end, and how many of them completed. */
  present: number;
  presentComplete: number;
  left: number;
  arrived: number;
  simSeconds: number;
  wallSeconds: number;
  speedup: number;
  events: number;
  /** 'piece-failed' events (a received piece whose SHA-1 did not match): none on an honest network. */
  pieceFailures: number;
  digest: string;
  /** Timers left on the clock and connections left open after every session closed. */
  timersAfterClose: number;
  openStreamsAfterClose: number;
  /** A description of the first few of them. */
  openAfterClose: string[];
}

interface Member {
  index: number;
  address: string;
  role: 'seed' | 'leecher';
  session?: Session;
  storage: SimStorage;
  port: number;
  /** Planned join time (ms after the start). */
  joinAt: number;
  joinedAt: number;
  leftAt: number | null;
  completedAt: number | null;
  closing?: Promise<void>;
}

const START = 1_700_000_000_000;

/**
 * Host addresses from 198.18.0.0/15 (RFC 2544, benchmarking): a session counts the machine's own interface addresses
 * as itself (Session.listen), so the simulated hosts must not be addresses the machine could have.
 */
function address(index: number): string {
  return index === 0 ? '198.18.0.1' : `198.18.${1 + (index >> 8)}.${index & 0xff}`;
}

/** Run one swarm to completion (or to its deadline) and close it. */
export async function runSwarm(o: SwarmOptions): Promise<SwarmResult> {
  const wall0 = performance.now();
  const rng = seededRng(o.seed);
  const derive = (): number => Math.floor(rng() * 0xffffffff);
  const content = new SimContent('sim.bin', o.sizeBytes, o.pieceLength, derive());
  const clock = new ManualClock(START);
  const access = new Map<string, number>();
  const net = new SimNetwork({
    clock, rng: seededRng(derive()), loss: o.loss,
    latencyMs: (a, b) => (access.get(a) ?? 0) + (access.get(b) ?? 0),
  });
  const members: Member[] = [];
  const present: Member[] = [];
  const eventHash = createHash('sha256');
  let events = 0;
  const errors: string[] = [];
  let arrived = 0;
  let pieceFailures = 0;

  const join = async (m: Member): Promise<void> => {
    const [lo, hi] = o.accessLatencyMs;
    access.set(m.address, Math.round(lo + rng() * (hi - lo)));
    const isSeed = m.role === 'seed';
    const transport = net.addHost(m.address, isSeed ? { upload: o.seedUpload } : { upload: o.leecherUpload, download: o.leecherDownload });
    const srng = seededRng(derive());
    const session = new Session({
      clock, rng: srng, peerId: makePeerId((n) => Uint8Array.from({ length: n }, () => Math.floor(srng() * 256))),
      host: m.address, transport, udp: false, lsd: false, trackers: false, pex: true, hashWorkers: 0,
      sharedReadBuffer: false,
    });
    m.session = session;
    m.joinedAt = clock.now();
    session.events.subscribe((e) => {
      events++;
      eventHash.update(`${clock.now() - START} ${m.address} ${JSON.stringify(e)}\n`);
      if (e.event === 'complete' && m.completedAt === null) m.completedAt = clock.now();
      if (e.event === 'error') errors.push(`${m.address}: ${e.message}`);
      if (e.event === 'piece-failed') pieceFailures++;
    });
    m.port = await session.listen();
    // The "tracker": the seed and a sample of the peers present.
    const others = present.filter((p) => p.role === 'leecher');
    const sample: Member[] = [];
    while (sample.length < o.trackerPeers && others.length > 0) sample.push(others.splice(Math.floor(rng() * others.length), 1)[0]!);
    const seedMember = members[0]!;
    const peers = isSeed ? [] : [seedMember, ...sample].filter((p) => p.leftAt === null).map((p) => ({ host: p.address, port: p.port }));
    present.push(m);
    await session.addTorrent(content.meta, { savePath: `/sim/${m.address}`, storage: m.storage, peers });
  };

  const leave = (m: Member): void => {
    if (m.leftAt !== null || !m.session) return;
    m.leftAt = clock.now();
    present.splice(present.indexOf(m), 1);
    net.leave(m.address);
    m.closing = m.session.close();
  };

  const add = (role: 'seed' | 'leecher', at: number): Member => {
    const index = members.length;
    const m: Member = {
      index, address: address(index), role, storage: new SimStorage(content, role === 'seed'), port: 0, joinAt: at,
      joinedAt: -1, leftAt: null, completedAt: null,
    };
    members.push(m);
    clock.setTimeout(() => { join(m).catch((err: unknown) => errors.push(`${m.address} join: ${String(err)}`)); }, at);
    return m;
  };

  add('seed', 0);
  for (let i = 0; i < o.leechers; i++) add('leecher', Math.round(rng() * o.joinWindowMs));
  if (o.churn) {
    const c = o.churn;
    const span = (): number => Math.round(c.fromMs + rng() * (c.toMs - c.fromMs));
    // Leaving: distinct leechers of the first wave, chosen at random.
    const firstWave = members.filter((m) => m.role === 'leecher');
    for (let k = 0; k < c.leave && firstWave.length > 0; k++) {
      const m = firstWave.splice(Math.floor(rng() * firstWave.length), 1)[0]!;
      clock.setTimeout(() => leave(m), Math.max(span(), m.joinAt + 1000)); // a peer leaves after it joined
    }
    for (let k = 0; k < c.arrive; k++) { add('leecher', span()); arrived++; }
  }

  const pendingJoins = (): boolean => members.some((m) => m.joinedAt < 0);
  const allDone = (): boolean => !pendingJoins() && present.every((m) => m.role === 'seed' || m.completedAt !== null);
  let runError: unknown;
  try {
    await runUntil(clock, () => allDone() || errors.length > 0, START + o.deadlineMs);
  } catch (err) {
    runError = err;
  }
  {
    const simEnd = clock.now();
    const wallEnd = performance.now();
    for (const m of present.splice(0)) m.closing = m.session?.close();
    let closed = false;
    void Promise.all(members.map((m) => m.closing)).then(() => { closed = true; });
    // Run the clock on until nothing is pending: a timer left behind by a closed session shows as timersAfterClose.
    await runUntil(clock, () => closed && clock.pending === 0, simEnd + 120_000);
    if (runError !== undefined) throw runError;
    if (errors.length > 0) throw new Error(`simulation errors: ${errors.slice(0, 5).join('; ')}`);
    const peers: PeerResult[] = members.map((m) => {
      const s = net.stats(m.address);
      return {
        address: m.address, role: m.role, joinedAt: m.joinedAt < 0 ? -1 : m.joinedAt - START,
        leftAt: m.leftAt === null ? null : m.leftAt - START,
        completedAfter: m.completedAt === null ? null : m.completedAt - m.joinedAt,
        bytesUp: s?.bytesSent ?? 0, bytesDown: s?.bytesReceived ?? 0,
        connectsIn: s?.connectsIn ?? 0, connectsOut: s?.connectsOut ?? 0,
        pieces: m.storage.heldCount, badWrites: m.storage.badWrites,
      };
    });
    const stay = members.filter((m) => m.role === 'leecher' && m.leftAt === null);
    const digest = createHash('sha256').update(eventHash.digest('hex'));
    for (const p of peers) digest.update(JSON.stringify(p));
    const simSeconds = (simEnd - START) / 1000;
    const wallSeconds = (wallEnd - wall0) / 1000;
    const result: SwarmResult = {
      peers, present: stay.length, presentComplete: stay.filter((m) => m.completedAt !== null).length,
      left: members.filter((m) => m.leftAt !== null).length, arrived,
      simSeconds, wallSeconds, speedup: simSeconds / wallSeconds, events, pieceFailures, digest: digest.digest('hex'),
      timersAfterClose: clock.pending, openStreamsAfterClose: net.openStreams, openAfterClose: net.describeOpen().slice(0, 10),
    };
    return result;
  }
}

/** Where a run's figures are written: $BITPEER_SIM_RESULTS, else dist/sim-results.json (build output, not tracked). */
export function resultsPath(): string {
  return process.env['BITPEER_SIM_RESULTS'] ?? fileURLToPath(new URL('../../sim-results.json', import.meta.url));
}

/** The figures of a run, without the per-peer table: what a report cites. */
export function summary(name: string, o: SwarmOptions, r: SwarmResult): Record<string, unknown> {
  const leechers = r.peers.filter((p) => p.role === 'leecher' && p.completedAfter !== null).map((p) => p.completedAfter!);
  leechers.sort((a, b) => a - b);
  const q = (f: number): number => leechers.length === 0 ? 0 : leechers[Math.min(leechers.length - 1, Math.floor(f * leechers.length))]! / 1000;
  return {
    scenario: name, seed: o.seed, peers: r.peers.length, leechers: o.leechers, sizeMiB: o.sizeBytes / 2 ** 20,
    pieceKiB: o.pieceLength / 1024, churn: o.churn ?? null, loss: o.loss,
    left: r.left, arrived: r.arrived, presentAtEnd: r.present, presentComplete: r.presentComplete,
    simSeconds: r.simSeconds, wallSeconds: Number(r.wallSeconds.toFixed(2)), speedup: Number(r.speedup.toFixed(3)),
    completionSeconds: { min: q(0), median: q(0.5), p90: q(0.9), max: q(1) },
    bytesUp: r.peers.reduce((n, p) => n + p.bytesUp, 0), events: r.events, digest: r.digest,
  };
}

/** Print a run's summary and merge it into the results file under `name`. */
export function record(name: string, o: SwarmOptions, r: SwarmResult, extra: Record<string, unknown> = {}): void {
  const entry = { ...summary(name, o, r), ...extra, node: process.version, at: new Date().toISOString() };
  console.log(`# sim ${name}: ${JSON.stringify(entry)}`);
  const path = resultsPath();
  let all: Record<string, unknown> = {};
  try { all = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>; } catch { /* first run */ }
  all[name] = entry;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(all, null, 2) + '\n');
}

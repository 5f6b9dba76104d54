/**
 * The DHT simulation (issue 13, "Simulation"): 2,000 real DhtNode instances (src/discovery/dht/dht-node.ts) on one
 * ManualClock over an in-memory datagram network (test/support/sim-udp.ts: per-pair latency 10..150 ms, 1% loss).
 *
 * Scenario: nodes join in waves (the first ones bootstrap from node 0, later ones from a random earlier node, as real
 * clients use routers); info-hashes are announced by 1..3 random nodes each; then churn: 10% of the nodes leave (some
 * announcers among them) and as many new ones join; then lookups (get_peers) from random live nodes for hashes
 * whose announcer is still alive. The report (lines starting `# dht-sim:`) gives the lookup success rate, hops,
 * queries per lookup, time to the first peer, and Kademlia's expectation log2(N)/b (b = 1: plain k-buckets, one
 * bit of progress per hop at worst) for comparison.
 *
 * Determinism: everything random derives from one seed, printed in the report; `DHT_SIM_SEED=<n>` replays a run.
 * The clock is driven in fixed steps (`clock.advance`), letting promise continuations run between steps, so nothing
 * depends on wall time.
 *
 * The first tests check the datagram network itself (latency, loss, leaving, replay).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../src/util/clock.js';
import { seededRng } from '../../src/util/seeded-rng.js';
import { DhtNode } from '../../src/discovery/dht/dht-node.js';
import { K } from '../../src/discovery/dht/types.js';
import type { LookupSummary, NodeAddress } from '../../src/discovery/dht/types.js';
import { SimUdpNetwork } from '../support/sim-udp.js';
import type { SimUdpHost } from '../support/sim-udp.js';

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Seeded bytes from a seeded rng. */
function bytesOf(rng: () => number): (n: number) => Buffer {
  return (n) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
    return b;
  };
}

/** Move the clock by `ms` in steps of `stepMs`, letting promise continuations run after each step; stop early when `until` holds. */
async function run(clock: ManualClock, ms: number, until: () => boolean = () => false, stepMs = 10): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    await immediate();
    if (until()) return;
    clock.advance(Math.min(stepMs, end - clock.now()));
  }
  await immediate();
}

// ---------------------------------------------------------------------------------------------------------------
// The datagram network

test('sim-udp: per-pair latency in range and symmetric; delivery after it; loss near its rate; counters', async () => {
  const clock = new ManualClock(0);
  // Seed 2: neither of the first two datagrams (the echo exchange) is lost.
  const net = new SimUdpNetwork({ clock, rng: seededRng(2), seed: 2, minLatencyMs: 10, maxLatencyMs: 150, loss: 0.01 });
  const got: Array<{ at: number; from: string; bytes: string }> = [];
  const a = net.addHost('10.0.0.1', 1000, (m, f) => got.push({ at: clock.now(), from: `${f.address}:${f.port}`, bytes: m.toString() }));
  const b = net.addHost('10.0.0.2', 2000, (m, f) => { b.send(Buffer.from(`echo ${m.toString()}`), f.address, f.port); });
  const lat = net.latency('10.0.0.1', '10.0.0.2');
  assert.equal(lat, net.latency('10.0.0.2', '10.0.0.1'));
  const lats = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const l = net.latency('10.0.0.1', `10.1.${i >> 8}.${i & 255}`);
    assert.ok(l >= 10 && l <= 150);
    lats.add(l);
  }
  assert.ok(lats.size > 50, 'latencies spread over the range');
  const buf = Buffer.from('hi');
  a.send(buf, '10.0.0.2', 2000);
  buf.write('XX'); // the network copied it
  await run(clock, 2 * lat + 5, undefined, 1);
  const echo = got[0];
  assert.ok(echo);
  assert.equal(echo.bytes, 'echo hi');
  assert.equal(echo.from, '10.0.0.2:2000');
  assert.equal(echo.at, 2 * lat);
  // Loss: 20,000 datagrams to a host that exists.
  let arrived = 0;
  const sink = net.addHost('10.0.0.3', 3000, () => { arrived++; });
  for (let i = 0; i < 20_000; i++) a.send(Buffer.from('x'), '10.0.0.3', 3000);
  await run(clock, 200, undefined, 50);
  const lossRate = 1 - arrived / 20_000;
  assert.ok(lossRate > 0.005 && lossRate < 0.015, `loss ${lossRate}`);
  assert.equal(net.counters.sent, 20_002);
  assert.equal(net.counters.delivered + net.counters.lost, net.counters.sent);
  // Leaving: datagrams to it go nowhere, its own sends are dropped; the address can be bound again (a host joining).
  sink.leave();
  assert.equal(sink.alive, false);
  const lostBefore = net.counters.lost;
  a.send(Buffer.from('y'), '10.0.0.3', 3000);
  sink.send(Buffer.from('z'), '10.0.0.1', 1000);
  await run(clock, 200, undefined, 50);
  assert.equal(net.counters.fromGone, 1);
  assert.equal(net.counters.toNowhere + net.counters.lost - lostBefore, 1, 'the datagram to the departed host went nowhere (or was lost first)');
  assert.equal(net.counters.delivered + net.counters.lost + net.counters.toNowhere, net.counters.sent, 'every datagram sent is accounted for');
  let rejoined = 0;
  net.addHost('10.0.0.3', 3000, () => { rejoined++; });
  a.send(Buffer.from('w'), '10.0.0.3', 3000);
  a.send(Buffer.from('w'), '10.0.0.3', 3000);
  await run(clock, 200, undefined, 50);
  assert.ok(rejoined >= 1);
  assert.throws(() => net.addHost('10.0.0.1', 1000, () => {}), /already bound/);
});

test('sim-udp: a throwing receiver is recorded, not fatal; the same seed replays the same deliveries', async () => {
  const trace = async (seed: number): Promise<string> => {
    const clock = new ManualClock(0);
    const net = new SimUdpNetwork({ clock, rng: seededRng(seed), seed, loss: 0.2 });
    const log: string[] = [];
    const hosts = Array.from({ length: 5 }, (_, i) => net.addHost(`10.0.0.${i + 1}`, 1, (m, f) => log.push(`${clock.now()} ${f.address}->${i} ${m.toString()}`)));
    for (let i = 0; i < 200; i++) hosts[i % 5]?.send(Buffer.from(String(i)), `10.0.0.${((i * 7) % 5) + 1}`, 1);
    await run(clock, 500, undefined, 25);
    return log.join('\n');
  };
  const one = await trace(5);
  assert.equal(one, await trace(5));
  assert.notEqual(one, await trace(6));
  const clock = new ManualClock(0);
  const net = new SimUdpNetwork({ clock, rng: seededRng(1), seed: 1, loss: 0 });
  const a = net.addHost('10.0.0.1', 1, () => { throw new Error('boom'); });
  a.send(Buffer.from('x'), '10.0.0.1', 1);
  a.send(Buffer.from('x'), '10.0.0.1', 1);
  await run(clock, 400, undefined, 50);
  assert.equal(net.errors.length, 2);
});

// ---------------------------------------------------------------------------------------------------------------
// The 2,000-node simulation

const N = Number(process.env['DHT_SIM_NODES'] ?? 2000);
const TORRENTS = 150;
const LOOKUPS = 500;
const CHURN = 0.1;
const PEER_PORT = 51413;

interface SimNode {
  index: number;
  ip: string;
  node: DhtNode;
  udp: SimUdpHost;
  alive: boolean;
}

const pct = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
};
const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
const f1 = (x: number): string => x.toFixed(1);

test(`dht simulation: ${N} nodes, ${TORRENTS} torrents, ${CHURN * 100}% churn, ${LOOKUPS} lookups`, { timeout: 240_000 }, async () => {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  /** Wall and CPU seconds since the start (the machine is shared: CPU time is what this run itself cost). */
  const elapsed = (): string => {
    const c = process.cpuUsage(cpuStart);
    return `${net.counters.sent} datagrams so far; wall ${f1((performance.now() - wallStart) / 1000)} s, cpu ${f1((c.user + c.system) / 1e6)} s`;
  };
  const seed = Number(process.env['DHT_SIM_SEED'] ?? 20261202) >>> 0;
  const log = (line: string): void => console.log(`# dht-sim: ${line}`);
  log(`seed ${seed} (DHT_SIM_SEED=${seed} replays this run)`);
  const rng = seededRng(seed);
  const clock = new ManualClock(1_000_000);
  const net = new SimUdpNetwork({ clock, rng: seededRng(seed ^ 0x5eed), seed, minLatencyMs: 10, maxLatencyMs: 150, loss: 0.01 });
  const nodes: SimNode[] = [];
  const internalErrors: string[] = [];
  const pick = <T>(xs: readonly T[]): T => {
    const x = xs[Math.floor(rng() * xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  };
  const live = (): SimNode[] => nodes.filter((n) => n.alive);

  const addNode = (bootstrapFrom: SimNode | undefined): SimNode => {
    const index = nodes.length;
    const i = index + 1;
    const ip = `10.${i >> 14}.${(i >> 7) & 127}.${(i & 127) + 1}`; // distinct, never .0 or .255
    const nodeRng = seededRng((seed + 0x9e3779b9 * (index + 1)) >>> 0);
    const receiver: { node?: DhtNode } = {};
    const udp = net.addHost(ip, 6881, (msg, from) => { receiver.node?.handleDatagram(msg, from); });
    const node = new DhtNode({
      send: (buf, host, port) => udp.send(buf, host, port),
      clock,
      rng: nodeRng,
      randomBytes: bytesOf(nodeRng),
      bootstrap: bootstrapFrom ? [`${bootstrapFrom.ip}:6881`] : [],
      resolve: (host) => Promise.resolve([host]),
      privateNetwork: true,
      log: (m) => { if (/internal error/i.test(m)) internalErrors.push(m); },
    });
    receiver.node = node;
    const sn: SimNode = { index, ip, node, udp, alive: true };
    nodes.push(sn);
    node.start();
    return sn;
  };
  const leave = (n: SimNode): void => {
    n.alive = false;
    n.node.close();
    n.udp.leave();
  };

  // --- Join: node 0 first, then waves of 50 every 500 ms (the first 20 from node 0, later ones from a random earlier node).
  const first = addNode(undefined);
  await run(clock, 100);
  while (nodes.length < N) {
    for (let j = 0; j < 50 && nodes.length < N; j++) addNode(nodes.length <= 20 ? first : pick(nodes));
    await run(clock, 500);
  }
  await run(clock, 60_000);
  const tableSizes = live().map((n) => n.node.stats().nodes);
  const thin = tableSizes.filter((x) => x < 2 * K).length;
  log(`joined ${N} nodes in ${f1((clock.now() - 1_000_000) / 1000)} s virtual; routing table size mean ${f1(mean(tableSizes))}, min ${Math.min(...tableSizes)}, p50 ${pct(tableSizes, 50)}, ${thin} under 2k = ${2 * K}; ${elapsed()}`);
  assert.ok(Math.min(...tableSizes) > 0, 'every node has a routing table');

  // --- Announce: each info-hash by 1..3 random nodes.
  const hashBytes = bytesOf(rng);
  const torrents: Array<{ hash: Buffer; announcers: SimNode[]; storedAt: Map<SimNode, number> }> = [];
  const announces: Array<Promise<LookupSummary>> = [];
  for (let t = 0; t < TORRENTS; t++) {
    const hash = hashBytes(20);
    const count = 1 + Math.floor(rng() * 3);
    const announcers = new Set<SimNode>();
    while (announcers.size < count) announcers.add(pick(nodes));
    const storedAt = new Map<SimNode, number>();
    torrents.push({ hash, announcers: [...announcers], storedAt });
    for (const a of announcers) {
      announces.push(a.node.announce(hash, PEER_PORT).then((r) => { storedAt.set(a, r.announcedTo ?? 0); return r; }));
    }
  }
  let announced: LookupSummary[] | undefined;
  void Promise.all(announces).then((r) => { announced = r; });
  await run(clock, 120_000, () => announced !== undefined);
  assert.ok(announced, 'every announce finished');
  const announcedTo = announced.map((s) => s.announcedTo ?? 0);
  log(`announced ${TORRENTS} info-hashes from ${announced.length} announcers: stored at mean ${f1(mean(announcedTo))} nodes each (min ${Math.min(...announcedTo)}); ${f1((clock.now() - 1_000_000) / 1000)} s virtual; ${elapsed()}`);
  assert.ok(Math.min(...announcedTo) > 0, 'every announce reached a node');

  // --- Churn: 10% leave (announcers among them, as chance picks), as many join (bootstrapping from live nodes), spread over 60 s.
  const leaving = Math.round(CHURN * N);
  for (let w = 0; w < 10; w++) {
    for (let j = 0; j < leaving / 10; j++) {
      const candidates = live().filter((n) => n.index !== 0);
      leave(pick(candidates));
      addNode(pick(live()));
    }
    await run(clock, 6_000);
  }
  await run(clock, 30_000);
  const announcersGone = torrents.reduce((s, t) => s + t.announcers.filter((a) => !a.alive).length, 0);
  log(`churn: ${leaving} nodes left (${announcersGone} of them announcers) and ${leaving} joined; ${live().length} live; ${elapsed()}`);

  // --- Lookups: from random live nodes, for hashes with a live announcer; 50 at a time.
  const wanted = torrents.filter((t) => t.announcers.some((a) => a.alive));
  assert.ok(wanted.length > TORRENTS / 2);
  const results: Array<{ summary: LookupSummary; found: boolean; t: (typeof torrents)[number]; from: SimNode; fromTable: number }> = [];
  const sentBefore = net.counters.sent;
  for (let batch = 0; batch < LOOKUPS / 50; batch++) {
    const pending: Array<Promise<void>> = [];
    for (let j = 0; j < 50; j++) {
      const t = pick(wanted);
      const from = pick(live().filter((n) => !t.announcers.includes(n)));
      const want = new Set(t.announcers.filter((a) => a.alive).map((a) => `${a.ip}:${PEER_PORT}`));
      let found = false;
      const fromTable = from.node.stats().nodes;
      pending.push(from.node.getPeers(t.hash, {
        onPeers: (peers: readonly NodeAddress[]) => { if (peers.some((p) => want.has(`${p.host}:${p.port}`))) found = true; },
      }).then((summary) => { results.push({ summary, found, t, from, fromTable }); }));
    }
    let settled = false;
    void Promise.all(pending).then(() => { settled = true; });
    await run(clock, 120_000, () => settled);
    assert.ok(settled, `lookup batch ${batch} finished`);
  }
  const lookupDatagrams = net.counters.sent - sentBefore;

  // --- Report.
  const ok = results.filter((r) => r.found);
  const rate = ok.length / results.length;
  const hops = results.map((r) => r.summary.hops);
  const queried = results.map((r) => r.summary.queried);
  const firstPeer = ok.map((r) => r.summary.firstPeerMs ?? NaN).filter((x) => Number.isFinite(x));
  const duration = results.map((r) => r.summary.durationMs);
  const liveN = live().length;
  const expectation = Math.log2(liveN);
  log(`lookups: ${results.length}, success ${ok.length}/${results.length} = ${(100 * rate).toFixed(2)}%`);
  log(`hops: mean ${f1(mean(hops))}, p50 ${pct(hops, 50)}, p95 ${pct(hops, 95)}, max ${Math.max(...hops)}; Kademlia expectation log2(N)/b = log2(${liveN})/1 = ${f1(expectation)} (b = 1, plain k-buckets)`);
  log(`queries per lookup: mean ${f1(mean(queried))}, p50 ${pct(queried, 50)}, p95 ${pct(queried, 95)}; all datagrams during the lookups / lookup: ${f1(lookupDatagrams / results.length)}`);
  log(`time to first peer (virtual ms): p50 ${pct(firstPeer, 50)}, p95 ${pct(firstPeer, 95)}; lookup duration p50 ${pct(duration, 50)}, p95 ${pct(duration, 95)}`);
  if (ok.length < results.length) {
    // Why lookups failed, by the first cause that applies (the causes the first runs of this simulation found).
    const causes = new Map<string, number>();
    for (const r of results.filter((x) => !x.found)) {
      const liveStored = r.t.announcers.filter((a) => a.alive).map((a) => r.t.storedAt.get(a) ?? 0);
      const cause = r.fromTable < 2 * K ? 'querier had a thin table (< 2k nodes) when it started'
        : r.summary.peers > 0 ? 'peers found, but only departed announcers (answers held few values)'
          : Math.max(...liveStored) < K / 2 ? 'the live announcers stored at fewer than k/2 nodes'
            : 'other';
      causes.set(cause, (causes.get(cause) ?? 0) + 1);
    }
    log(`failed lookups by cause: ${[...causes].map(([c, n]) => `${n} ${c}`).join('; ')}`);
  }
  log(`network: ${net.counters.sent} datagrams, ${net.counters.lost} lost, ${net.counters.toNowhere} to departed nodes; virtual ${f1((clock.now() - 1_000_000) / 1000)} s; ${elapsed()}`);

  for (const n of nodes) if (n.alive) leave(n);
  assert.deepEqual(net.errors, [], 'no receive handler threw');
  assert.deepEqual(internalErrors, [], 'no internal error in any node');
  assert.ok(rate >= 0.99, `success rate ${rate}`);
  assert.ok(pct(hops, 95) <= Math.ceil(expectation), `p95 hops ${pct(hops, 95)} within log2(N)`);
  assert.ok(mean(queried) <= 60, `mean queries per lookup ${mean(queried)}`);
});

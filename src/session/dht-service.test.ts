import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOUNCE_INTERVAL_MS, type DhtLookupOptions, type DhtNodeApi, type DhtPhase, type DhtStats, type LookupSummary, type NodeAddress } from '../discovery/dht/types.js';
import { DhtService, MAX_CONCURRENT_LOOKUPS, retryDelay, RETRY_FIRST_MS, RETRY_MAX_MS, type DhtSubject } from './dht-service.js';

/** One announce the fake node was asked for; `finish` ends it (with peers given to onPeers first). */
interface Call { hash: string; port: number; at: number; opts: DhtLookupOptions | undefined; finish: (peers?: NodeAddress[]) => void }

/** A DhtNodeApi that records announces and ends them when told (or at once, with `auto`). */
class FakeNode implements DhtNodeApi {
  readonly id = Buffer.alloc(20, 7);
  onPhase: ((phase: DhtPhase) => void) | undefined;
  readonly calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  started = 0;
  closed = 0;
  auto: NodeAddress[] | undefined;
  /** Nodes that answer each announce (0: an empty table). */
  responded = 1;
  throwOnAnnounce = false;
  constructor(private readonly now: () => number) {}
  start(): void { this.started++; }
  handleDatagram(): boolean { return false; }
  getPeers(): Promise<LookupSummary> { return Promise.reject(new Error('the service announces')); }
  announce(infoHash: Buffer, port: number, opts?: DhtLookupOptions): Promise<LookupSummary> {
    if (this.throwOnAnnounce) return Promise.reject(new Error('boom'));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve) => {
      let done = false;
      const finish = (peers: NodeAddress[] = []): void => {
        if (done) return;
        done = true;
        this.inFlight--;
        if (peers.length > 0) opts?.onPeers?.(peers);
        resolve({ peers: peers.length, queried: this.responded, responded: this.responded, failed: 0, hops: 0, durationMs: 0, announcedTo: this.responded });
      };
      opts?.signal?.addEventListener('abort', () => finish(), { once: true });
      this.calls.push({ hash: infoHash.toString('hex'), port, at: this.now(), opts, finish });
      if (this.auto) finish(this.auto);
    });
  }
  addNode(): void {}
  noteExternalAddress(): void {}
  stats(): DhtStats {
    return { phase: 'ready', id: this.id.toString('hex'), nodes: 3, good: 3, questionable: 0, buckets: 1, storedTorrents: 0, storedPeers: 0,
      lookups: 0, activeLookups: this.inFlight, queriesIn: 0, queriesOut: 0, responsesIn: 0, timeouts: 0, dropped: {}, bytesIn: 0, bytesOut: 0 };
  }
  snapshot(): { id: Buffer; nodes: [] } { return { id: this.id, nodes: [] }; }
  close(): void { this.closed++; }
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function hash(n: number): Buffer { const b = Buffer.alloc(20); b.writeUInt32BE(n, 16); return b; }

function subject(n: number, over: Partial<DhtSubject> & { peers?: () => number; found?: Array<[string, number]> } = {}): DhtSubject {
  const found = over.found ?? [];
  return {
    key: hash(n).toString('hex'), names: [hash(n)], private: false, needsPeers: true,
    connectedPeers: over.peers ?? ((): number => 0), addPeer: (h, p) => { found.push([h, p]); }, ...over,
  };
}

function setup(opts: { maxLookups?: number } = {}): { clock: { t: number }; node: FakeNode; svc: DhtService; phases: DhtPhase[] } {
  const clock = { t: 1_000_000 };
  const node = new FakeNode(() => clock.t);
  const phases: DhtPhase[] = [];
  const svc = new DhtService({ node, port: () => 6881, now: () => clock.t, log: () => undefined, onPhase: (p) => phases.push(p), ...opts });
  svc.start();
  return { clock, node, svc, phases };
}

test('retry delays: 10 s, 20 s, 40 s … capped at 5 minutes', () => {
  assert.equal(retryDelay(0), RETRY_FIRST_MS);
  assert.equal(retryDelay(1), 10_000);
  assert.equal(retryDelay(2), 20_000);
  assert.equal(retryDelay(3), 40_000);
  assert.equal(retryDelay(6), 300_000);
  assert.equal(retryDelay(1000), RETRY_MAX_MS);
});

test('a new torrent is announced at once with our port; a seed again only after the announce interval', async () => {
  const { clock, node, svc } = setup();
  assert.equal(node.started, 1);
  const seed = subject(1, { needsPeers: false });
  svc.tick(clock.t, [seed]);
  assert.equal(node.calls.length, 1);
  assert.equal(node.calls[0]!.hash, hash(1).toString('hex'));
  assert.equal(node.calls[0]!.port, 6881);
  node.calls[0]!.finish();
  await flush();
  for (let s = 1; s < ANNOUNCE_INTERVAL_MS / 1000; s += 1) { clock.t += 1000; svc.tick(clock.t, [seed]); }
  assert.equal(node.calls.length, 1, 'not before the interval');
  clock.t += 1000;
  svc.tick(clock.t, [seed]);
  assert.equal(node.calls.length, 2, 'again after ANNOUNCE_INTERVAL_MS');
});

test('a download with no peer is looked up again after 10 s, 20 s, 40 s … at most 5 minutes apart', async () => {
  const { clock, node, svc } = setup();
  const dl = subject(2);
  const start = clock.t;
  for (let s = 0; s < 3600; s++) {
    svc.tick(clock.t, [dl]);
    for (const c of node.calls) c.finish();
    await flush();
    clock.t += 1000;
  }
  const gaps = node.calls.slice(1).map((c, i) => c.at - node.calls[i]!.at);
  assert.equal(node.calls[0]!.at, start);
  assert.deepEqual(gaps.slice(0, 6), [10_000, 20_000, 40_000, 80_000, 160_000, 300_000]);
  assert.ok(gaps.slice(5).every((g) => g === 300_000), `capped: ${gaps.join(',')}`);
});

test('once peers connect the back-off ends: the next lookup is the regular announce', async () => {
  const { clock, node, svc } = setup();
  let peers = 0;
  const dl = subject(3, { peers: () => peers });
  svc.tick(clock.t, [dl]);
  node.calls[0]!.finish([{ host: '127.0.0.2', port: 7000 }]);
  peers = 1;
  await flush();
  for (let s = 0; s < 600; s++) { clock.t += 1000; svc.tick(clock.t, [dl]); }
  assert.equal(node.calls.length, 1, 'no retry while a peer is connected');
  // The peer leaves: the retry comes 10 s after the last lookup (already past), at the next tick.
  peers = 0;
  clock.t += 1000;
  svc.tick(clock.t, [dl]);
  assert.equal(node.calls.length, 2);
});

test('a seed whose announce reached no node (an empty table) is announced again with the back-off, not 15 minutes later', async () => {
  const { clock, node, svc } = setup();
  node.auto = [];
  node.responded = 0;
  const seed = subject(10, { needsPeers: false });
  for (let s = 0; s < 31; s++) { svc.tick(clock.t, [seed]); await flush(); clock.t += 1000; }
  assert.deepEqual(node.calls.map((c) => c.at - node.calls[0]!.at), [0, 10_000, 30_000]);
  node.responded = 2; // the table filled: the next announce reaches nodes, then the regular interval
  for (let s = 0; s < 600; s++) { svc.tick(clock.t, [seed]); await flush(); clock.t += 1000; }
  assert.equal(node.calls.length, 4);
});

test('private torrents (BEP 27) are never announced nor looked up', async () => {
  const { clock, node, svc } = setup();
  for (let s = 0; s < 100; s++) { svc.tick(clock.t, [subject(4, { private: true })]); clock.t += 1000; await flush(); }
  assert.equal(node.calls.length, 0);
  assert.equal(svc.tracked, 0);
});

test('a hybrid is announced under both names, one lookup slot', async () => {
  const { clock, node, svc } = setup({ maxLookups: 1 });
  const v2 = Buffer.alloc(20, 0xab);
  svc.tick(clock.t, [subject(5, { names: [hash(5), v2] }), subject(6)]);
  assert.deepEqual(node.calls.map((c) => c.hash), [hash(5).toString('hex')]);
  node.calls[0]!.finish();
  await flush();
  assert.deepEqual(node.calls.map((c) => c.hash), [hash(5).toString('hex'), v2.toString('hex')], 'second name next, in the same slot');
  assert.equal(svc.activeLookups, 1);
  node.calls[1]!.finish();
  await flush();
  svc.tick(clock.t, [subject(5, { names: [hash(5), v2] }), subject(6)]);
  assert.equal(node.calls[2]!.hash, hash(6).toString('hex'));
});

test('a thousand torrents never start more than a few lookups at once, and all get their turn, oldest first', async () => {
  const { clock, node, svc } = setup();
  const all = Array.from({ length: 1000 }, (_, i) => subject(100 + i, { needsPeers: false }));
  svc.tick(clock.t, all);
  assert.equal(node.calls.length, MAX_CONCURRENT_LOOKUPS);
  for (let round = 0; round < 400 && node.calls.length < 1000; round++) {
    for (const c of node.calls) c.finish();
    await flush();
    clock.t += 1000;
    svc.tick(clock.t, all);
    assert.ok(node.inFlight <= MAX_CONCURRENT_LOOKUPS);
  }
  for (const c of node.calls) c.finish();
  assert.equal(node.maxInFlight, MAX_CONCURRENT_LOOKUPS);
  assert.equal(new Set(node.calls.map((c) => c.hash)).size, 1000, 'every torrent announced once');
  assert.equal(node.calls.length, 1000);
  assert.deepEqual(node.calls.map((c) => c.hash), all.map((x) => x.key), 'in the order they came (all waited as long)');
});

test('found peers reach the torrent with their address; none after it is dropped, and its lookup is aborted', async () => {
  const { clock, node, svc } = setup();
  const found: Array<[string, number]> = [];
  const dl = subject(7, { found });
  svc.tick(clock.t, [dl]);
  node.calls[0]!.opts!.onPeers!([{ host: '127.0.0.5', port: 6001 }, { host: '127.0.0.6', port: 6002 }]);
  assert.deepEqual(found, [['127.0.0.5', 6001], ['127.0.0.6', 6002]]);
  clock.t += 1000;
  svc.tick(clock.t, []); // stopped, paused or removed
  assert.equal(node.calls[0]!.opts!.signal!.aborted, true);
  node.calls[0]!.opts!.onPeers!([{ host: '127.0.0.7', port: 6003 }]);
  assert.equal(found.length, 2);
  assert.equal(svc.tracked, 0);
});

test('the DHT becoming ready announces everything again at the next tick; phases are reported once per change', async () => {
  const { clock, node, svc, phases } = setup();
  node.auto = [];
  const seed = subject(8, { needsPeers: false });
  svc.tick(clock.t, [seed]);
  await flush();
  assert.equal(node.calls.length, 1);
  node.onPhase?.('ready');
  node.onPhase?.('ready');
  clock.t += 1000;
  svc.tick(clock.t, [seed]);
  await flush();
  assert.equal(node.calls.length, 2);
  assert.deepEqual(phases, ['ready']);
  assert.equal(svc.currentPhase, 'ready');
});

test('a node whose announce fails is counted, never thrown; close() closes the node and stops everything', async () => {
  const { clock, node, svc } = setup();
  node.throwOnAnnounce = true;
  svc.tick(clock.t, [subject(9)]);
  await flush();
  assert.equal(svc.counters.failures, 1);
  assert.equal(svc.activeLookups, 0);
  svc.close();
  assert.equal(node.closed, 1);
  assert.equal(node.onPhase, undefined);
  node.throwOnAnnounce = false;
  svc.tick(clock.t + 60_000, [subject(9)]);
  assert.equal(node.calls.length, 0, 'nothing after close');
});

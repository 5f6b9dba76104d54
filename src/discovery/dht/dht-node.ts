/**
 * The Mainline DHT node (BEP 5, with BEP 42 node ids and BEP 43's `ro` read): it answers queries, drives iterative
 * lookups (get_peers, announce_peer, find_node) and keeps its routing table fresh, on an injected `send` (the session's
 * UDP endpoint, or a simulated network), Clock and randomness. No socket, no file: the session owns those.
 *
 * Invariants:
 * - Nothing a datagram contains throws out of `handleDatagram`: malformed, oversized, unknown-transaction,
 *   wrong-source, rate-limited and bad-token input is dropped and counted in `stats().dropped`.
 * - Only verified nodes enter the routing table: a node that answered one of our queries from the address we sent it
 *   to. Nodes named in answers feed lookups only. An unverified querier is pinged (at most once per address a minute).
 * - An answer to an unverified source is never larger than its request (responder.ts). The other side of that rule:
 *   a find_node / get_peers answer with neither `nodes` nor `values` (trimmed: the node did not know us yet, and has
 *   pinged us since) is asked again once.
 * - Our own id is looked up after bootstrap, after a BEP 42 re-key (our neighbourhood moved) and while the table is
 *   thin; a table with no usable node (empty, or every node bad) is not 'ready' and bootstraps again with backoff.
 * - Everything is bounded: outstanding queries (MAX_OUTSTANDING; lookups wait for a slot), verified and pinged
 *   address memories (LRU), votes, peers per lookup, bootstrap retries (backoff to 5 min), and the stores of the pure
 *   modules (routing table, peer store, rate limiter).
 * - After `close()` no timer is left and every pending lookup has resolved.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import type { Clock, ClockTimer } from '../../util/clock.js';
import { canonicalHost, parseIPv4 } from '../../util/ip.js';
import { BtError, errorMessage } from '../../util/errors.js';
import { ExternalIpVotes } from './external-ip.js';
import { decodeKrpc, encodeKrpc } from './krpc.js';
import { Lookup } from './lookup.js';
import { bep42Id, isBep42Valid, isPrivateOrLoopback } from './node-id.js';
import { parseHostPort } from './host-port.js';
import { PeerStore } from './peer-store.js';
import { QueryRateLimiter } from './rate-limit.js';
import { answerQuery, encodeFitted } from './responder.js';
import { RoutingTable, type RoutingNode } from './routing-table.js';
import { TokenKeeper } from './tokens.js';
import { Transactions, type QueryOutcome } from './transactions.js';
import {
  ALPHA, ANNOUNCE_INTERVAL_MS, ID_LENGTH, K, MAX_CACHED_NODES, MAX_KRPC_BYTES, MAX_PEERS_PER_TORRENT, MAX_STORED_TORRENTS, NODE_BAD_FAILURES,
  PEER_TTL_MS, QUERY_TIMEOUT_MS, RATE_BLOCK_MS, RATE_PER_SECOND, RATE_WINDOW_MS, TOKEN_ROTATE_MS,
  type DhtLookupOptions, type DhtNodeApi, type DhtPersistedState, type DhtPhase, type DhtStats, type KrpcMessage,
  type KrpcQuery, type KrpcResponse, type LookupSummary, type NodeAddress, type NodeContact,
} from './types.js';

/** Queries outstanding at once; beyond that lookups wait for a slot. */
export const MAX_OUTSTANDING = 512;
/** Addresses remembered as verified (answered one of our queries) besides the routing table. */
export const MAX_VERIFIED = 2048;
/**
 * Unverified queriers (and addNode addresses) remembered as pinged, each pinged at most once per PING_UNVERIFIED_MS,
 * so a spoofed source costs its victim at most one 56-byte ping every 10 s. (A lost ping leaves that querier with
 * trimmed answers from us until the next one; it still gets our id and tokens. With a minute here, 177 of the 2,000
 * simulated nodes still had thin tables after joining, and some announces reached no node.)
 */
export const MAX_PINGED = 1024;
export const PING_UNVERIFIED_MS = 10_000;
/** Refresh tick: stale buckets, questionable nodes, peer store expiry, periodic persistence. */
export const REFRESH_TICK_MS = 60_000;
export const MAX_REFRESH_LOOKUPS = 3;
/** A table with fewer nodes than this gets a lookup of our own id at every refresh tick. */
export const THIN_TABLE = 2 * K;
export const MAX_QUESTIONABLE_PINGS = 8;
/** Bootstrap retry while the table is empty: first delay, doubled up to the last. */
export const RETRY_FIRST_MS = 5_000;
export const RETRY_MAX_MS = 5 * 60_000;
/** onPersist at most this often while the table changes. */
export const PERSIST_EVERY_MS = 10 * 60_000;
/** Distinct peers one lookup keeps (and reports). */
export const MAX_PEERS_PER_LOOKUP = 2000;
/** Nodes learned from bootstrap answers that seed the lookup of our own id. */
const MAX_BOOTSTRAP_SEEDS = 64;

export interface DhtNodeOptions {
  send: (buf: Buffer, host: string, port: number) => void;
  clock: Clock;
  rng: () => number;
  randomBytes: (n: number) => Buffer;
  /** HOST:PORT strings; names resolved with `resolve` (default: node:dns lookup, IPv4). Numeric IPs need no lookup. */
  bootstrap?: readonly string[];
  resolve?: (host: string) => Promise<string[]>;
  privateNetwork?: boolean;
  /** id + cached nodes (cached nodes are tried first). */
  restored?: DhtPersistedState;
  /** Called when the id or the table changed enough to be worth saving. */
  onPersist?: () => void;
  log?: (msg: string) => void;
  /** Our client version `v` (4 bytes). */
  version?: Buffer;
}

type LookupMethod = 'find_node' | 'get_peers';

/** One running lookup and what it found. */
interface ActiveLookup {
  readonly lookup: Lookup;
  readonly method: LookupMethod;
  readonly started: number;
  readonly seen: Set<string>;
  readonly onPeers: ((peers: readonly NodeAddress[]) => void) | undefined;
  firstPeerAt: number | undefined;
  finished: boolean;
  /** Queued in Transactions.whenFree. */
  waiting: boolean;
  readonly done: Promise<void>;
  resolve: () => void;
  cleanup: (() => void) | undefined;
}

const addrKey = (a: NodeAddress): string => `${a.host}:${a.port}`;
const isLoopback = (host: string): boolean => host.startsWith('127.');

async function defaultResolve(host: string): Promise<string[]> {
  const found = await dnsLookup(host, { family: 4, all: true });
  return found.map((a) => a.address);
}

export class DhtNode implements DhtNodeApi {
  onPhase: ((phase: DhtPhase) => void) | undefined = undefined;

  private readonly opts: DhtNodeOptions;
  private readonly clock: Clock;
  private readonly privateNetwork: boolean;
  private readonly log: (msg: string) => void;
  private readonly table: RoutingTable;
  private readonly store: PeerStore;
  private readonly tokens: TokenKeeper;
  private readonly limiter: QueryRateLimiter;
  private readonly tx: Transactions;
  private readonly votes = new ExternalIpVotes();
  /** Addresses that answered us (LRU: Map order, oldest first). */
  private readonly verified = new Map<string, true>();
  /** Unverified addresses we pinged, and when (LRU). */
  private readonly pinged = new Map<string, number>();
  /** Table nodes being pinged because a newcomer wants their place. */
  private readonly pingingQuestionable = new Set<string>();
  /** Info-hashes we announced (hex) with our port, until when (LRU, bounded): get_peers answers list us. */
  private readonly ownAnnounces = new Map<string, { port: number; until: number }>();
  private readonly active = new Set<ActiveLookup>();
  private phase: DhtPhase = 'off';
  private started = false;
  private closed = false;
  /** A bootstrap round or a lookup of our own id is running. */
  private bootstrapping = false;
  /** Another lookup of our own id is wanted when the running one ends (our id changed meanwhile). */
  private rejoinWanted = false;
  private refreshTimer: ClockTimer | undefined;
  private retryTimer: ClockTimer | undefined;
  private retryDelay = RETRY_FIRST_MS;
  private refreshLookups = 0;
  private tableDirty = false;
  private lastPersistAt: number;
  private lookupsRun = 0;
  /** Queries asked again after a trimmed answer (see queryNodes). */
  private retriedTrimmed = 0;
  private readonly counters = { queriesIn: 0, queriesOut: 0, responsesIn: 0, timeouts: 0, bytesIn: 0, bytesOut: 0 };
  private readonly dropped: Record<string, number> = {};

  constructor(opts: DhtNodeOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.privateNetwork = opts.privateNetwork ?? false;
    this.log = opts.log ?? ((): void => {});
    const restoredId = opts.restored?.id;
    const id = restoredId && restoredId.length === ID_LENGTH ? Buffer.from(restoredId) : opts.randomBytes(ID_LENGTH);
    this.table = new RoutingTable(id, { k: K, allowSameIp: this.privateNetwork });
    this.store = new PeerStore({ maxTorrents: MAX_STORED_TORRENTS, maxPeersPerTorrent: MAX_PEERS_PER_TORRENT, ttlMs: PEER_TTL_MS });
    this.tokens = new TokenKeeper({ randomBytes: opts.randomBytes, now: this.clock.now, rotateMs: TOKEN_ROTATE_MS });
    this.limiter = new QueryRateLimiter({ perSecond: RATE_PER_SECOND, windowMs: RATE_WINDOW_MS, blockMs: RATE_BLOCK_MS });
    this.tx = new Transactions({
      clock: this.clock, randomBytes: opts.randomBytes, timeoutMs: QUERY_TIMEOUT_MS, max: MAX_OUTSTANDING,
      onError: (err) => { this.drop('internal'); this.log(`DHT: internal error in a query callback: ${errorMessage(err)}`); },
    });
    this.lastPersistAt = this.clock.now();
  }

  get id(): Buffer { return this.table.ownId; }

  /** Queries asked again after a trimmed answer (see queryNodes), for tests and the simulation's report. */
  get trimmedRetries(): number { return this.retriedTrimmed; }

  // ------------------------------------------------------------------------------------------------------------
  // Life cycle

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.refreshTimer = this.clock.setInterval(() => this.guard('refresh', () => this.refresh()), REFRESH_TICK_MS);
    this.refreshTimer.unref();
    this.bootstrap();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearInterval(this.refreshTimer);
    this.clock.clearTimeout(this.retryTimer);
    this.refreshTimer = undefined;
    this.retryTimer = undefined;
    this.tx.closeAll();
    for (const a of [...this.active]) this.finishLookup(a);
    this.setPhase('off');
  }

  // ------------------------------------------------------------------------------------------------------------
  // Datagrams

  handleDatagram(msg: Buffer, from: { address: string; port: number }): boolean {
    if (this.closed || msg.length === 0 || msg[0] !== 0x64 /* 'd' */) return false;
    this.guard('datagram', () => {
      this.counters.bytesIn += msg.length;
      if (msg.length > MAX_KRPC_BYTES) { this.drop('oversized'); return; }
      const host = canonicalHost(from.address);
      if (host === null || parseIPv4(host) === null || !Number.isInteger(from.port) || from.port < 1 || from.port > 65535) {
        this.drop('bad-source');
        return;
      }
      const src: NodeAddress = { host, port: from.port };
      let m: KrpcMessage;
      try {
        m = decodeKrpc(msg);
      } catch {
        this.drop('malformed');
        return;
      }
      if (m.y === 'q') this.onQuery(m, src, msg.length);
      else this.onAnswer(m, src);
    });
    return true;
  }

  private onQuery(q: KrpcQuery, src: NodeAddress, requestBytes: number): void {
    this.counters.queriesIn++;
    const now = this.clock.now();
    if (!this.limiter.allow(this.privateNetwork ? addrKey(src) : src.host, now)) { this.drop('rate-limited'); return; }
    const verified = this.isVerified(src);
    const answer = answerQuery({
      ownId: this.id, table: this.table, tokens: this.tokens, store: this.store, rng: this.opts.rng,
      version: this.opts.version, now, self: (h) => this.selfPeer(h, now),
    }, q, src);
    if (answer.note === 'bad-token') this.drop('bad-token');
    // The verification ping goes out before the answer: on an in-order path the querier has answered it (and is
    // verified here) before a repeat of its query arrives (see queryNodes: a trimmed answer is asked again once).
    if (!q.readOnly && !q.id.equals(this.id)) {
      if (!verified) this.pingUnverified(src);
      else if (this.table.get(src)?.id.equals(q.id) === false) this.pingChangedId(src);
    }
    const buf = verified ? encodeKrpc(answer.reply) : encodeFitted(answer.reply, requestBytes);
    this.sendBytes(buf, src);
  }

  private onAnswer(m: KrpcMessage & { y: 'r' | 'e' }, src: NodeAddress): void {
    if (m.y === 'r') this.counters.responsesIn++;
    const outcome: QueryOutcome = m.y === 'r' ? { kind: 'response', msg: m } : { kind: 'error', msg: m };
    const result = this.tx.settle(m.t, src, outcome);
    if (result !== 'settled') this.drop(result);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Outgoing queries

  /** Sends a query; `done` gets its outcome (after the routing table has learned from it). False: no free slot. */
  private query(to: NodeAddress, method: string, args: Partial<KrpcQuery>, done?: (o: QueryOutcome) => void): boolean {
    const t = this.tx.open(to, method, (o) => {
      this.guard('answer', () => this.learnFrom(to, o));
      if (done) this.guard('answer', () => done(o));
    });
    if (t === undefined) return false;
    const msg: KrpcQuery = { ...args, y: 'q', t, q: method, id: this.id, ...(this.opts.version ? { version: this.opts.version } : {}) };
    this.counters.queriesOut++;
    this.sendBytes(encodeKrpc(msg), to);
    return true;
  }

  /**
   * A find_node / get_peers query whose answer names nodes. An answer with neither `nodes` nor `values` is what a
   * node that has not verified us yet sends when the full answer would be larger than our query (responder.ts: our
   * own answers then leave `nodes` out, while an empty table still sends an empty `nodes`): the node is asked once
   * more, since it has pinged us meanwhile, and the second answer is taken whatever it holds.
   */
  private queryNodes(to: NodeAddress, method: LookupMethod, args: Partial<KrpcQuery>, done: (o: QueryOutcome) => void): boolean {
    return this.query(to, method, args, (first) => {
      const trimmed = first.kind === 'response' && first.msg.nodes === undefined && first.msg.values === undefined;
      if (!trimmed || this.closed) { done(first); return; }
      this.retriedTrimmed++;
      if (!this.query(to, method, args, done)) done(first);
    });
  }

  /** What every answer teaches: its sender is verified (table), its `ip` is a vote; a timeout is a failure. */
  private learnFrom(to: NodeAddress, o: QueryOutcome): void {
    const now = this.clock.now();
    if (o.kind === 'timeout') {
      this.counters.timeouts++;
      if (this.table.get(to)) {
        this.table.failed(to, now);
        this.tableDirty = true;
      }
      return;
    }
    if (o.kind === 'error' && o.msg.ip) this.voteExternal(o.msg.ip.host, to.host);
    if (o.kind !== 'response') return;
    const r = o.msg;
    this.remember(this.verified, addrKey(to), true, MAX_VERIFIED);
    if (r.ip) this.voteExternal(r.ip.host, to.host);
    if (r.id.equals(this.id) || !this.acceptForTable(to)) return;
    const wasUsable = this.usable();
    const heard = this.table.heard({ id: r.id, host: to.host, port: to.port }, now);
    if (heard.status === 'added') this.tableDirty = true;
    if (heard.status === 'full' && heard.ping) this.pingQuestionable(heard.ping, 1);
    if (!wasUsable && this.usable()) this.onTableFilled();
  }

  private sendBytes(buf: Buffer, to: NodeAddress): void {
    this.counters.bytesOut += buf.length;
    try {
      this.opts.send(buf, to.host, to.port);
    } catch (err) {
      this.drop('send-failed');
      this.log(`DHT: send to ${addrKey(to)} failed: ${errorMessage(err)}`);
    }
  }

  /** Pings a querier we have not verified, so that it can enter the table (once a minute per address, bounded). */
  private pingUnverified(src: NodeAddress): void {
    // A query of ours to it is pending: its answer verifies it (no ping back and forth between two new nodes).
    if (!this.acceptForTable(src) || this.table.get(src) || this.tx.pendingTo(src)) return;
    const key = addrKey(src);
    const now = this.clock.now();
    const last = this.pinged.get(key);
    if (last !== undefined && now - last < PING_UNVERIFIED_MS) return;
    // Keep half of the slots for lookups: verification pings are best effort.
    if (this.tx.free < MAX_OUTSTANDING / 2) return;
    this.remember(this.pinged, key, now, MAX_PINGED);
    this.query(src, 'ping', {});
  }

  /** A table node that queries us with another id (a restart, a BEP 42 re-key): its answer to a ping re-keys it. */
  private pingChangedId(src: NodeAddress): void {
    const key = addrKey(src);
    const now = this.clock.now();
    const last = this.pinged.get(key);
    if (this.tx.pendingTo(src) || (last !== undefined && now - last < PING_UNVERIFIED_MS)) return;
    this.remember(this.pinged, key, now, MAX_PINGED);
    this.query(src, 'ping', {});
  }

  /** A questionable table node a newcomer wants to replace: pinged up to NODE_BAD_FAILURES times, then it is bad. */
  private pingQuestionable(node: RoutingNode, attempt: number): void {
    const key = addrKey(node);
    if (attempt === 1 && this.pingingQuestionable.has(key)) return;
    this.pingingQuestionable.add(key);
    const sent = this.query(node, 'ping', {}, (o) => {
      this.pingingQuestionable.delete(key);
      if (o.kind === 'timeout' && attempt < NODE_BAD_FAILURES && this.table.get(node)) this.pingQuestionable(node, attempt + 1);
    });
    if (!sent) this.pingingQuestionable.delete(key);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Lookups

  getPeers(infoHash: Buffer, opts?: DhtLookupOptions): Promise<LookupSummary> {
    if (infoHash.length !== ID_LENGTH) return Promise.reject(new BtError('INTERNAL', `DHT: info-hash of ${infoHash.length} bytes`));
    const a = this.startLookup(infoHash, 'get_peers', opts);
    return a.done.then(() => this.summaryOf(a));
  }

  async announce(infoHash: Buffer, port: number, opts?: DhtLookupOptions): Promise<LookupSummary> {
    if (infoHash.length !== ID_LENGTH) throw new BtError('INTERNAL', `DHT: info-hash of ${infoHash.length} bytes`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new BtError('INTERNAL', `DHT: announce port ${port}`);
    if (port > 0) this.rememberOwnAnnounce(infoHash, port);
    const a = this.startLookup(infoHash, 'get_peers', opts);
    await a.done;
    const targets = a.lookup.closestResponded().filter((c) => c.token !== undefined).slice(0, K);
    const results = opts?.signal?.aborted || this.closed ? [] :
      await Promise.all(targets.map((c) => this.announceTo(c.node, infoHash, port, c.token!)));
    const summary = this.summaryOf(a);
    summary.announcedTo = results.filter(Boolean).length;
    return summary;
  }

  /** We are a peer of `infoHash` on `port` until two announce intervals pass without another announce (bounded). */
  private rememberOwnAnnounce(infoHash: Buffer, port: number): void {
    this.remember(this.ownAnnounces, infoHash.toString('hex'), { port, until: this.clock.now() + 2 * ANNOUNCE_INTERVAL_MS }, MAX_STORED_TORRENTS);
  }

  /** Ourselves as a peer of `infoHash` (a get_peers answer lists us): our leading external address and announced port. */
  private selfPeer(infoHash: Buffer, now: number): NodeAddress | undefined {
    if (this.ownAnnounces.size === 0) return undefined;
    const own = this.ownAnnounces.get(infoHash.toString('hex'));
    const host = this.votes.leading;
    if (!own || own.until < now || host === undefined) return undefined;
    const me = { host, port: own.port };
    return this.acceptForTable(me) ? me : undefined;
  }

  /** announce_peer to one node with its token; true when it answered without error. */
  private announceTo(node: NodeContact, infoHash: Buffer, port: number, token: Buffer): Promise<boolean> {
    return new Promise((resolve) => {
      this.tx.whenFree(() => {
        const args: Partial<KrpcQuery> = port > 0 ? { infoHash, token, port } : { infoHash, token, port: 0, impliedPort: true };
        const sent = this.query(node, 'announce_peer', args, (o) => resolve(o.kind === 'response'));
        if (!sent) resolve(false);
      });
    });
  }

  private startLookup(target: Buffer, method: LookupMethod, opts?: DhtLookupOptions, extraSeeds: readonly NodeContact[] = []): ActiveLookup {
    const now = this.clock.now();
    const lookup = new Lookup(target, [...this.table.closest(target, K), ...extraSeeds], {
      k: K, alpha: ALPHA, ownId: this.id, accept: (n) => this.validAddress(n),
    });
    let resolve = (): void => {};
    const done = new Promise<void>((r) => { resolve = r; });
    const a: ActiveLookup = {
      lookup, method, started: now, seen: new Set(), onPeers: opts?.onPeers, firstPeerAt: undefined, finished: false,
      waiting: false, done, resolve, cleanup: undefined,
    };
    this.lookupsRun++;
    this.active.add(a);
    if (method === 'get_peers') this.foundPeers(a, this.store.get(target, now, MAX_PEERS_PER_LOOKUP, this.opts.rng));
    const signal = opts?.signal;
    if (this.closed || signal?.aborted) {
      this.finishLookup(a);
      return a;
    }
    if (signal) {
      const onAbort = (): void => this.finishLookup(a);
      signal.addEventListener('abort', onAbort, { once: true });
      a.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.pump(a);
    return a;
  }

  /** Sends the lookup's next queries while slots are free; finishes it when it is done. */
  private pump(a: ActiveLookup): void {
    for (;;) {
      if (a.finished) return;
      if (this.closed || a.lookup.done) { this.finishLookup(a); return; }
      if (this.tx.free < ALPHA) {
        if (!a.waiting) {
          a.waiting = true;
          this.tx.whenFree(() => { a.waiting = false; this.pump(a); }, ALPHA);
        }
        return;
      }
      const batch = a.lookup.next();
      if (batch.length === 0) return;
      for (const n of batch) {
        const args: Partial<KrpcQuery> = a.method === 'get_peers' ? { infoHash: a.lookup.target } : { target: a.lookup.target };
        const sent = this.queryNodes(n, a.method, args, (o) => this.onLookupAnswer(a, n, o));
        if (!sent) a.lookup.onFailure(n);
      }
    }
  }

  private onLookupAnswer(a: ActiveLookup, from: NodeContact, o: QueryOutcome): void {
    if (a.finished) return;
    if (o.kind === 'response') {
      const r: KrpcResponse = o.msg;
      const nodes = (r.nodes ?? []).filter((n) => !n.id.equals(this.id) && this.acceptContact(n, from.host));
      a.lookup.onResponse(from, nodes, r.token);
      if (a.method === 'get_peers' && r.values) this.foundPeers(a, r.values.filter((v) => this.acceptContact(v, from.host)));
    } else {
      a.lookup.onFailure(from);
    }
    this.pump(a);
  }

  private foundPeers(a: ActiveLookup, peers: readonly NodeAddress[]): void {
    const fresh: NodeAddress[] = [];
    for (const p of peers) {
      if (a.seen.size >= MAX_PEERS_PER_LOOKUP) break;
      const key = addrKey(p);
      if (a.seen.has(key)) continue;
      a.seen.add(key);
      fresh.push({ host: p.host, port: p.port });
    }
    if (fresh.length === 0) return;
    a.firstPeerAt ??= this.clock.now();
    if (a.onPeers) {
      const onPeers = a.onPeers;
      this.guard('onPeers', () => onPeers(fresh));
    }
  }

  private finishLookup(a: ActiveLookup): void {
    if (a.finished) return;
    a.finished = true;
    this.active.delete(a);
    a.cleanup?.();
    a.resolve();
  }

  private summaryOf(a: ActiveLookup): LookupSummary {
    return {
      peers: a.seen.size,
      queried: a.lookup.queried,
      responded: a.lookup.responded,
      failed: a.lookup.failed,
      hops: a.lookup.hops,
      ...(a.firstPeerAt !== undefined ? { firstPeerMs: a.firstPeerAt - a.started } : {}),
      durationMs: this.clock.now() - a.started,
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Bootstrap, refresh, retry

  addNode(addr: NodeAddress): void {
    if (this.closed) return;
    this.guard('addNode', () => {
      const host = canonicalHost(addr.host);
      if (host === null) return;
      const node = { host, port: addr.port };
      if (!this.acceptForTable(node) || this.table.get(node)) return;
      const key = addrKey(node);
      const now = this.clock.now();
      const last = this.pinged.get(key);
      if (last !== undefined && now - last < PING_UNVERIFIED_MS) return;
      this.remember(this.pinged, key, now, MAX_PINGED);
      this.query(node, 'ping', {});
    });
  }

  /**
   * One bootstrap round: find_node(own id) to the cached nodes and the bootstrap nodes (names resolved); when every
   * one has answered or failed, a lookup of our own id seeded with what they named; then 'ready' or 'no-nodes' (and a
   * retry later while the table is empty).
   */
  private bootstrap(): void {
    if (this.closed || this.bootstrapping) return;
    // The nodes of the table (all bad, or there would be no bootstrap) and the restored cache, then the bootstrap nodes.
    const cached = [...this.table.all(), ...(this.opts.restored?.nodes ?? [])].slice(0, MAX_CACHED_NODES)
      .filter((n) => this.validAddress(n));
    const entries = this.opts.bootstrap ?? [];
    if (cached.length === 0 && entries.length === 0) {
      this.setPhase(this.usable() ? 'ready' : 'no-nodes');
      return;
    }
    this.bootstrapping = true;
    // 'bootstrapping' for the first round; a retry stays 'no-nodes' until it finds one (no phase event per retry).
    if (!this.usable() && this.phase !== 'no-nodes') this.setPhase('bootstrapping');
    const learned: NodeContact[] = [];
    const asked = new Set<string>();
    let steps = 1; // this function's own step, ended below once everything is sent
    const stepDone = (): void => {
      if (--steps === 0) this.selfLookup(learned);
    };
    const ask = (addr: NodeAddress): void => {
      const key = addrKey(addr);
      if (this.closed || asked.has(key) || !this.validAddress(addr)) return;
      asked.add(key);
      steps++;
      this.tx.whenFree(() => {
        const sent = this.queryNodes(addr, 'find_node', { target: this.id }, (o) => {
          if (o.kind === 'response') {
            for (const n of o.msg.nodes ?? []) {
              if (learned.length < MAX_BOOTSTRAP_SEEDS && !n.id.equals(this.id) && this.acceptContact(n, addr.host)) learned.push(n);
            }
          }
          stepDone();
        });
        if (!sent) stepDone();
      });
    };
    for (const n of cached) ask(n);
    const resolve = this.opts.resolve ?? defaultResolve;
    for (const entry of entries) {
      const hp = parseHostPort(entry);
      if (!hp) { this.log(`DHT: bootstrap node "${entry}" is not HOST:PORT; skipped`); continue; }
      if (parseIPv4(hp.host) !== null) { ask(hp); continue; }
      steps++;
      resolve(hp.host).then((ips) => {
        for (const ip of ips) if (parseIPv4(ip) !== null) ask({ host: ip, port: hp.port });
      }, (err: unknown) => {
        this.log(`DHT: cannot resolve bootstrap node ${hp.host}: ${errorMessage(err)}`);
      }).finally(() => this.guard('bootstrap', stepDone));
    }
    stepDone();
  }

  /** The lookup of our own id that fills the table, then the phase. */
  private selfLookup(seeds: readonly NodeContact[]): void {
    if (this.closed) { this.bootstrapping = false; return; }
    const a = this.startLookup(this.id, 'find_node', undefined, seeds);
    a.done.then(() => this.guard('bootstrap', () => {
      this.bootstrapping = false;
      if (this.closed) return;
      if (this.rejoinWanted && this.usable()) {
        this.rejoinWanted = false;
        this.rejoin();
        return;
      }
      if (this.usable()) {
        this.retryDelay = RETRY_FIRST_MS;
        this.setPhase('ready');
      } else {
        this.setPhase('no-nodes');
        this.scheduleRetry();
      }
    }), () => {});
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.guard('retry', () => { if (!this.usable()) this.bootstrap(); });
    }, delay);
    this.retryTimer.unref();
  }

  /** The table got its first node (an answer to addNode or a verification ping): fill it, be ready. */
  private onTableFilled(): void {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryDelay = RETRY_FIRST_MS;
    // Ready at the first verified node, not when the bootstrap's lookup of our own id ends: that lookup waits out
    // the timeouts of every dead node it was told of (5 s each), and the torrents' lookups need not wait for it
    // (they walk the network from this node's answers). A magnet bootstrapped from a node whose store named a
    // departed peer found its first peer 10 s after start, 1 s with this.
    if (this.started && this.phase !== 'ready') this.setPhase('ready');
    if (this.started) this.rejoin();
  }

  /**
   * A lookup of our own id (after bootstrap: the table got its first node, is thin, or our id changed), one at a
   * time: asked while one runs, another follows it.
   */
  private rejoin(): void {
    if (this.closed) return;
    if (this.bootstrapping) { this.rejoinWanted = true; return; }
    this.bootstrapping = true;
    this.selfLookup([]);
  }

  private refresh(): void {
    const now = this.clock.now();
    this.store.expire(now);
    if (!this.usable() && !this.bootstrapping) {
      // Every node went bad (our network was down?): bootstrap again, with backoff.
      if (this.phase === 'ready') this.setPhase('no-nodes');
      this.scheduleRetry();
    } else if (this.table.size > 0) {
      // A thin table (a lost verification ping, answers trimmed while we were unknown) bootstraps again: its cached
      // and bootstrap nodes reach the rest of the network, where a lookup seeded from the thin table alone may only
      // find the few nodes it knows (two such nodes can keep each other company for ever: the simulation saw it).
      if (this.table.size < THIN_TABLE && !this.bootstrapping) this.bootstrap();
      for (const target of this.table.staleBuckets(now, this.opts.randomBytes)) {
        if (this.refreshLookups >= MAX_REFRESH_LOOKUPS) break;
        this.refreshLookups++;
        this.startLookup(target, 'find_node').done.then(() => { this.refreshLookups--; }, () => {});
      }
      let pings = 0;
      for (const n of this.table.all()) {
        if (pings >= MAX_QUESTIONABLE_PINGS) break;
        if (this.table.stateOf(n, now) !== 'questionable' || this.pingingQuestionable.has(addrKey(n))) continue;
        pings++;
        this.pingQuestionable(n, NODE_BAD_FAILURES);
      }
    }
    if (this.tableDirty && now - this.lastPersistAt >= PERSIST_EVERY_MS) this.persist();
  }

  // ------------------------------------------------------------------------------------------------------------
  // BEP 42

  noteExternalAddress(ip: string, from: string): void {
    this.guard('external-address', () => this.voteExternal(ip, from));
  }

  private voteExternal(ip: string, source: string): void {
    const host = canonicalHost(ip);
    if (host === null || parseIPv4(host) === null) return;
    const winner = this.votes.vote(source, host);
    if (winner === undefined || isPrivateOrLoopback(winner) || isBep42Valid(this.id, winner)) return;
    const id = bep42Id(winner, this.opts.randomBytes);
    this.log(`DHT: external address ${winner} by ${this.votes.sources} votes; node id ${this.id.toString('hex')} -> ${id.toString('hex')} (BEP 42)`);
    this.table.setOwnId(id);
    this.persist();
    // Our neighbourhood moved with the id: look it up, as a joining node does.
    if (this.started && this.usable()) this.rejoin();
  }

  // ------------------------------------------------------------------------------------------------------------
  // State and stats

  stats(): DhtStats {
    const counts = this.table.counts(this.clock.now());
    const external = this.votes.winner;
    return {
      phase: this.phase,
      id: this.id.toString('hex'),
      nodes: this.table.size,
      good: counts.good,
      questionable: counts.questionable,
      buckets: this.table.bucketCount,
      storedTorrents: this.store.torrentCount,
      storedPeers: this.store.peerCount,
      ...(external !== undefined ? { externalAddress: external } : {}),
      lookups: this.lookupsRun,
      activeLookups: this.active.size,
      ...this.counters,
      dropped: { ...this.dropped },
    };
  }

  snapshot(): DhtPersistedState {
    return {
      id: Buffer.from(this.id),
      nodes: this.table.all().slice(0, MAX_CACHED_NODES).map((n) => ({ id: Buffer.from(n.id), host: n.host, port: n.port })),
    };
  }

  // ------------------------------------------------------------------------------------------------------------
  // Helpers

  private persist(): void {
    this.tableDirty = false;
    this.lastPersistAt = this.clock.now();
    const onPersist = this.opts.onPersist;
    if (onPersist) this.guard('onPersist', onPersist);
  }

  private setPhase(phase: DhtPhase): void {
    if (phase === this.phase) return;
    this.phase = phase;
    this.log(`DHT: ${phase} (${this.table.size} nodes)`);
    const onPhase = this.onPhase;
    if (onPhase) this.guard('onPhase', () => onPhase(phase));
  }

  /** The table has a node that is not bad (lookups have a seed). A table of bad nodes only bootstraps again. */
  private usable(): boolean {
    return this.table.closest(this.id, 1).length > 0;
  }

  private isVerified(a: NodeAddress): boolean {
    return this.table.get(a) !== undefined || this.verified.has(addrKey(a));
  }

  /** A unicast IPv4 address with a port: nothing else is ever queried or stored. */
  private validAddress(a: NodeAddress): boolean {
    const b = parseIPv4(a.host);
    return b !== null && b[0] !== 0 && b[0]! < 224 && Number.isInteger(a.port) && a.port >= 1 && a.port <= 65535;
  }

  /** May this address be in the routing table? Public DHT: no loopback or private address. */
  private acceptForTable(a: NodeAddress): boolean {
    return this.validAddress(a) && (this.privateNetwork || !isPrivateOrLoopback(a.host));
  }

  /**
   * May a node or peer named by `source` be used? Public DHT: a loopback contact only from a loopback source, a
   * private-range one only from a private or loopback source (reliability rule 12).
   */
  private acceptContact(a: NodeAddress, source: string): boolean {
    if (!this.validAddress(a)) return false;
    if (this.privateNetwork || !isPrivateOrLoopback(a.host)) return true;
    if (isLoopback(a.host)) return isLoopback(source);
    return isPrivateOrLoopback(source);
  }

  private remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > max) {
      const oldest = map.keys().next().value;
      if (oldest === undefined) break;
      map.delete(oldest);
    }
  }

  private drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  /** Error boundary: nothing escapes a datagram, timer or callback (reliability rule 11). */
  private guard(where: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.drop('internal');
      this.log(`DHT: internal error in ${where}: ${errorMessage(err)}`);
    }
  }
}

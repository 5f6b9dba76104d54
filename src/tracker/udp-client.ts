/**
 * UDP tracker client (BEP 15) over the session's single UDP socket.
 *
 * The client never owns a socket: it sends through the `send` callback, and the session hands every datagram that
 * came from outside to {@link UdpTrackerClient.handleResponse} first, which claims it (true) when it answers a
 * pending transaction.
 *
 * Invariants:
 * - A datagram is accepted only if its transaction id is pending AND it comes from the address and port the request
 *   went to; anything else is left to the caller (false).
 * - Transaction ids are random u32 values, unique among pending transactions.
 * - A connection id is used for at most 60 s after it was received (BEP 15), then re-requested; concurrent requests
 *   to one tracker share one connect exchange. The cache is bounded (MAX_CACHED_CONNECTIONS).
 * - Retransmission follows BEP 15: a request unanswered after base·2^n ms is sent again, n = 0, 1, …, maxRetries
 *   (base 15 s, n ≤ 8 by default); then it fails with `BtError('TIMEOUT')`.
 * - Every pending transaction ends exactly once: answer, error action (`BtError('TRACKER', message)`), timeout,
 *   abort (`BtError('ABORTED')`) or `close()`. Its timer is cleared then. Timers are unref'd: a pending tracker
 *   request never keeps the process alive by itself.
 * - Nothing thrown by a tracker's datagram escapes `handleResponse` (reliability rule 11 in
 *   docs/design/reliability.md): decoding happens in the promise chain of the request, and the codec's errors become
 *   `BtError('TRACKER')`.
 * - Peers from an answer pass the PeerCollector of client-common.ts (no port 0, no duplicates, at most maxPeers).
 *
 * The wire format is the shared BEP 15 codec in udp-codec.ts (the tracker server uses it too).
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { clockWithNow, systemClock, systemRng } from '../platform/clock.js';
import type { Clock, ClockTimer } from '../util/clock.js';
import { BtError, errorMessage } from '../util/errors.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { normalizeIp } from './address.js';
import { cleanMessage, DEFAULT_MAX_PEERS, PeerCollector, requireTrackerUrl } from './client-common.js';
import type { AnnounceParams, AnnounceResponse, ScrapeResult } from './client-common.js';
import {
  ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE, decodeUdpAnnounceResponse, decodeUdpConnectResponse,
  decodeUdpErrorResponse, decodeUdpScrapeResponse, encodeUdpAnnounceRequest, encodeUdpConnectRequest,
  encodeUdpScrapeRequest, UDP_MAX_SCRAPE_HASHES,
} from './udp-codec.js';

/** Resolves a host name to one address (the default uses node:dns `lookup`). */
export type LookupFn = (hostname: string, family: 0 | 4 | 6) => Promise<{ address: string; family: number }>;

/** Options of {@link UdpTrackerClient}. */
export interface UdpTrackerClientOptions {
  /** Sends one datagram (through the session's UDP socket). May throw; the request then fails. */
  send: (buf: Buffer, host: string, port: number) => void;
  /** Time in ms (default the clock's); used for connection-id expiry. */
  now?: () => number;
  /** Retransmission timers and time (default the system clock of src/platform/clock.ts). */
  clock?: Clock;
  /** Uniform in [0, 1) (default the system rng); used for transaction ids. */
  rng?: () => number;
  /** BEP 15's 15 s: the first wait before retransmitting (default 15,000 ms). */
  baseTimeoutMs?: number;
  /** Retransmissions before giving up (default 8, BEP 15's n ≤ 8). */
  maxRetries?: number;
  /** Address family to resolve tracker names to (default 4; 0 = whatever the resolver gives first). */
  family?: 0 | 4 | 6;
  /** DNS resolution (default node:dns `lookup`). */
  lookup?: LookupFn;
  /** Peers taken from one answer (default 200). */
  maxPeers?: number;
}

/** How long a connection id may be used (BEP 15). */
export const CONNECTION_ID_TTL_MS = 60_000;
/** Most cached connection ids. */
export const MAX_CACHED_CONNECTIONS = 1024;

interface Target {
  /** Normalised IP address and port of the tracker. */
  address: string;
  port: number;
  family: 4 | 6;
  key: string;
}

interface Pending {
  target: Target;
  /** Called with the whole datagram once its source has been checked. Must not throw. */
  onAnswer: (action: number, msg: Buffer) => void;
  /** Ends the transaction with an error (used by close()). */
  fail: (err: BtError) => void;
}

interface ConnectOp {
  promise: Promise<bigint>;
  waiters: number;
  cancel: () => void;
}

const defaultLookup: LookupFn = (hostname, family) => dnsPromises.lookup(hostname, { family });

/** See the module comment. */
export class UdpTrackerClient {
  private readonly send: UdpTrackerClientOptions['send'];
  private readonly now: () => number;
  private readonly rng: () => number;
  private readonly clock: Clock;
  private readonly baseTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly family: 0 | 4 | 6;
  private readonly lookup: LookupFn;
  private readonly maxPeers: number;
  private readonly pending = new Map<number, Pending>();
  private readonly connections = new Map<string, { id: bigint; at: number }>();
  private readonly connecting = new Map<string, ConnectOp>();
  private closed = false;

  constructor(opts: UdpTrackerClientOptions) {
    this.send = opts.send;
    this.clock = clockWithNow(opts.clock ?? systemClock, opts.now);
    this.now = this.clock.now;
    this.rng = opts.rng ?? systemRng;
    this.baseTimeoutMs = opts.baseTimeoutMs ?? 15_000;
    this.maxRetries = opts.maxRetries ?? 8;
    this.family = opts.family ?? 4;
    this.lookup = opts.lookup ?? defaultLookup;
    this.maxPeers = opts.maxPeers ?? DEFAULT_MAX_PEERS;
  }

  /** Number of transactions waiting for an answer (connects included). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Announces to a `udp://host:port` tracker. Rejects with `BtError` `TRACKER` (error action, malformed answer,
   * refused URL, DNS or send failure), `TIMEOUT` (no answer after all retransmissions) or `ABORTED`.
   */
  async announce(url: string, params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResponse> {
    const target = await this.resolve(url, signal);
    const msg = await this.request(target, ACTION_ANNOUNCE, (connectionId, transactionId) => encodeUdpAnnounceRequest({
      connectionId, transactionId, infoHash: params.infoHash, peerId: params.peerId,
      downloaded: u64(params.downloaded), left: u64(params.left), uploaded: u64(params.uploaded), event: params.event,
      ip: 0, key: params.key >>> 0, port: params.port & 0xffff,
      numWant: params.numwant === undefined ? -1 : Math.min(Math.max(0, Math.floor(params.numwant)), 0x7fffffff),
    }), signal);
    const r = decoded(() => decodeUdpAnnounceResponse(msg, target.family));
    const peers = new PeerCollector(this.maxPeers);
    for (const p of r.peers) if (!peers.add(p.host, p.port)) break;
    return { interval: r.interval, complete: r.seeders, incomplete: r.leechers, peers: peers.peers };
  }

  /** Scrapes a `udp://` tracker for 1..74 info-hashes; results keyed by lower-case hex info-hash. */
  async scrape(url: string, infoHashes: readonly Buffer[], signal?: AbortSignal): Promise<ScrapeResult> {
    if (infoHashes.length === 0 || infoHashes.length > UDP_MAX_SCRAPE_HASHES) {
      throw new BtError('TRACKER', `a UDP scrape takes 1 to ${UDP_MAX_SCRAPE_HASHES} info-hashes`);
    }
    const target = await this.resolve(url, signal);
    const msg = await this.request(target, ACTION_SCRAPE,
      (connectionId, transactionId) => encodeUdpScrapeRequest({ connectionId, transactionId, infoHashes: [...infoHashes] }),
      signal);
    const files = decoded(() => decodeUdpScrapeResponse(msg)).files;
    const out: ScrapeResult = new Map();
    files.forEach((f, i) => {
      const h = infoHashes[i];
      if (h !== undefined) out.set(h.toString('hex'), { complete: f.seeders, downloaded: f.completed, incomplete: f.leechers });
    });
    return out;
  }

  /**
   * Offers a datagram received on the session's UDP socket. Returns true when it answered a pending transaction
   * (the datagram is consumed), false when it is not ours. Never throws.
   */
  /** Whether `transactionId` is one of our pending requests (the session's datagram classifier asks). */
  isPending(transactionId: number): boolean {
    return this.pending.has(transactionId);
  }

  handleResponse(msg: Buffer, rinfo: { address: string; port: number }): boolean {
    if (msg.length < 8) return false;
    const p = this.pending.get(msg.readUInt32BE(4));
    if (p === undefined) return false;
    if (rinfo.port !== p.target.port || normalizeIp(rinfo.address) !== p.target.address) return false;
    try {
      p.onAnswer(msg.readUInt32BE(0), msg);
    } catch (e) {
      p.fail(new BtError('TRACKER', `UDP tracker answer handling failed: ${errorMessage(e)}`, { cause: e }));
    }
    return true;
  }

  /** Fails every pending transaction with `BtError('ABORTED')` and forgets cached connection ids. */
  close(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) p.fail(new BtError('ABORTED', 'UDP tracker client closed'));
    this.pending.clear();
    this.connections.clear();
    this.connecting.clear();
  }

  /** Parses and resolves a tracker URL (the DNS wait honours `signal`). */
  private async resolve(url: string, signal?: AbortSignal): Promise<Target> {
    if (this.closed) throw new BtError('ABORTED', 'UDP tracker client closed');
    const u = requireTrackerUrl(url);
    if (u.protocol !== 'udp:') throw new BtError('TRACKER', `not a udp tracker: ${u.protocol}`);
    const port = Number(u.port);
    let host = u.hostname;
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    let address: string;
    if (isIP(host) !== 0) {
      address = host;
    } else {
      try {
        address = (await abortable(this.lookup(host, this.family), signal)).address;
      } catch (e) {
        if (e instanceof BtError) throw e;
        throw new BtError('TRACKER', `cannot resolve ${host}: ${errorMessage(e)}`, { cause: e });
      }
    }
    address = normalizeIp(address);
    const family = isIP(address) === 6 ? 6 : 4;
    return { address, port, family, key: formatPeerAddress(address, port) };
  }

  private newTransactionId(): number {
    let tid = Math.floor(this.rng() * 0x1_0000_0000) >>> 0;
    while (this.pending.has(tid)) tid = (tid + 1) >>> 0; // linear probing: ends even with a constant rng
    return tid;
  }

  private cachedConnection(key: string): bigint | undefined {
    const c = this.connections.get(key);
    if (c === undefined) return undefined;
    if (this.now() - c.at >= CONNECTION_ID_TTL_MS) {
      this.connections.delete(key);
      return undefined;
    }
    return c.id;
  }

  private storeConnection(key: string, id: bigint): void {
    this.connections.delete(key);
    if (this.connections.size >= MAX_CACHED_CONNECTIONS) {
      const t = this.now();
      for (const [k, c] of this.connections) if (t - c.at >= CONNECTION_ID_TTL_MS) this.connections.delete(k);
      if (this.connections.size >= MAX_CACHED_CONNECTIONS) {
        const oldest = this.connections.keys().next();
        if (oldest.done !== true) this.connections.delete(oldest.value);
      }
    }
    this.connections.set(key, { id, at: this.now() });
  }

  /**
   * Sends `build()` and retransmits per BEP 15 until an answer with `action` (resolves with the datagram), an error
   * action, a timeout, an abort or close(). `build` is called again for each retransmission.
   */
  private exchange(target: Target, action: number, build: (tid: number) => Buffer | Promise<Buffer>,
    signal?: AbortSignal): { promise: Promise<Buffer>; cancel: (err: BtError) => void } {
    const tid = this.newTransactionId();
    let attempt = 0;
    let timer: ClockTimer | undefined;
    let finished = false;
    let resolveFn!: (b: Buffer) => void;
    let rejectFn!: (e: unknown) => void;
    const promise = new Promise<Buffer>((res, rej) => { resolveFn = res; rejectFn = rej; });
    const finish = (err: unknown, msg?: Buffer): void => {
      if (finished) return;
      finished = true;
      this.clock.clearTimeout(timer);
      if (this.pending.get(tid) === pending) this.pending.delete(tid);
      signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) rejectFn(err);
      else resolveFn(msg!);
    };
    const onAbort = (): void => finish(new BtError('ABORTED', 'UDP tracker request cancelled'));
    const pending: Pending = {
      target,
      onAnswer: (act, msg) => {
        if (act === action) finish(undefined, msg);
        else if (act === ACTION_ERROR) {
          this.connections.delete(target.key); // a stale connection id is the usual cause
          const text = cleanMessage(decoded(() => decodeUdpErrorResponse(msg)).message);
          finish(new BtError('TRACKER', text === '' ? 'UDP tracker error (no message)' : text));
        } else finish(new BtError('TRACKER', `UDP tracker answered action ${act}, expected ${action}`));
      },
      fail: (err) => finish(err),
    };
    const transmit = async (): Promise<void> => {
      let packet: Buffer;
      try {
        packet = await build(tid);
      } catch (e) {
        finish(e instanceof BtError ? e : new BtError('TRACKER', `UDP request not encodable: ${errorMessage(e)}`, { cause: e }));
        return;
      }
      if (finished) return;
      try {
        this.send(packet, target.address, target.port);
      } catch (e) {
        finish(new BtError('TRACKER', `UDP send to ${target.key} failed: ${errorMessage(e)}`, { cause: e }));
        return;
      }
      const wait = this.baseTimeoutMs * 2 ** attempt;
      timer = this.clock.setTimeout(() => {
        timer = undefined;
        if (finished) return;
        if (attempt >= this.maxRetries) {
          if (action !== ACTION_CONNECT) this.connections.delete(target.key);
          finish(new BtError('TIMEOUT', `UDP tracker ${target.key} did not answer (${attempt + 1} attempts)`));
          return;
        }
        attempt++;
        void transmit();
      }, wait);
      timer.unref?.();
    };
    if (signal?.aborted) {
      finish(new BtError('ABORTED', 'UDP tracker request cancelled'));
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(tid, pending);
      void transmit();
    }
    return { promise, cancel: (err) => finish(err) };
  }

  /** A valid connection id for `target`: cached, or from a (shared) connect exchange. */
  private connectionId(target: Target, signal?: AbortSignal): Promise<bigint> {
    const cached = this.cachedConnection(target.key);
    if (cached !== undefined) return Promise.resolve(cached);
    let op = this.connecting.get(target.key);
    if (op === undefined) {
      const ex = this.exchange(target, ACTION_CONNECT, (transactionId) => encodeUdpConnectRequest({ transactionId }));
      const created: ConnectOp = {
        promise: ex.promise.then((msg) => {
          const id = decoded(() => decodeUdpConnectResponse(msg)).connectionId;
          this.storeConnection(target.key, id);
          return id;
        }),
        waiters: 0,
        cancel: () => ex.cancel(new BtError('ABORTED', 'UDP connect cancelled')),
      };
      const forget = (): void => {
        if (this.connecting.get(target.key) === created) this.connecting.delete(target.key);
      };
      created.promise.then(forget, forget);
      this.connecting.set(target.key, created);
      op = created;
    }
    const shared = op;
    shared.waiters++;
    return new Promise<bigint>((resolve, reject) => {
      let done = false;
      const leave = (): void => {
        done = true;
        shared.waiters--;
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        if (done) return;
        leave();
        if (shared.waiters === 0) shared.cancel();
        reject(new BtError('ABORTED', 'UDP tracker request cancelled'));
      };
      if (signal?.aborted) { onAbort(); return; }
      signal?.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (id) => { if (!done) { leave(); resolve(id); } },
        (e: unknown) => { if (!done) { leave(); reject(e); } },
      );
    });
  }

  /** Connect if needed, then one request exchange; every (re)transmission uses a connection id younger than 60 s. */
  private request(target: Target, action: number, build: (connectionId: bigint, tid: number) => Buffer,
    signal?: AbortSignal): Promise<Buffer> {
    const ex = this.exchange(target, action, async (tid) => build(await this.connectionId(target, signal), tid), signal);
    return ex.promise;
  }
}

/** A safe non-negative integer as a u64 (anything else is 0). */
function u64(n: number): bigint {
  return BigInt(Number.isSafeInteger(n) && n > 0 ? n : 0);
}

/** Runs a codec decoder, turning its `BtError('PROTOCOL')` (or anything else) into `BtError('TRACKER')`. */
function decoded<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new BtError('TRACKER', `malformed UDP tracker answer: ${errorMessage(e)}`, { cause: e });
  }
}

/** Races a promise with an AbortSignal (the promise keeps running; its result is dropped). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new BtError('ABORTED', 'UDP tracker request cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new BtError('ABORTED', 'UDP tracker request cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e: unknown) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

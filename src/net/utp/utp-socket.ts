/**
 * The uTP socket layer (BEP 29): many `UtpConnection`s over one UDP endpoint, demultiplexed by (source address, port,
 * connection id), each exposed as a `PeerStream` (src/net/transport.ts) so the wire layer, and stream wrappers such as
 * encryption, use it as they use TCP.
 *
 * Incoming: a SYN from a new (address, port, id) becomes a half-open connection answered with one STATE; it is handed
 * to the acceptor (paused) only once the initiator's next packet proves it hears us. A SYN nobody can take (no
 * acceptor, too many connections or half-open ones) is answered with a RESET, so no client waits for a time-out. A
 * packet for an unknown connection is answered with a RESET (never a RESET to a RESET), at most `resetsPerSecond`.
 * Half-open connections that never prove their source are dropped after HALF_OPEN_MS without a word.
 *
 * Invariants: to a source that has not proved it hears us we send at most one 20-byte packet per packet of at least
 * 20 bytes it sent (a STATE per SYN, or a RESET); connections and half-open connections are bounded; nothing thrown
 * while handling a datagram escapes (the endpoint logs it); every stream ends with 'close', an 'error' is emitted only
 * to a listener.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { monotonicMs, systemClock } from '../../platform/clock.js';
import type { Clock, ClockTimer } from '../../util/clock.js';
import { BtError } from '../../util/errors.js';
import type { DialOptions, PeerStream } from '../transport.js';
import { UtpConnection, type UtpHooks } from './connection.js';
import { decodePacket, encodePacket, ST_RESET, ST_SYN, type UtpPacket } from './packet.js';

const TICK_MS = 50;
const HALF_OPEN_MS = 10_000;

export interface UtpSocketOptions {
  /** Monotonic milliseconds (fractions give microsecond timestamps). Default `monotonicMs` (performance.now). */
  now?: () => number;
  /** Timers (dial time-outs, the tick). Default the system clock. */
  clock?: Clock;
  log?: (msg: string) => void;
  /** Diagnostics: every connection's send/receive state through `log` at most this often (ms; default 0 = off). */
  debugDumpMs?: number;
  /** Open uTP connections at most (default 1000). */
  maxConnections?: number;
  /** Incoming connections not yet verified, at most (default 64). */
  maxHalfOpen?: number;
  /** RESETs sent per second at most (default 100). */
  resetsPerSecond?: number;
}

type SendFn = (buf: Buffer, port: number, host: string) => void;

interface Entry {
  conn: UtpConnection;
  stream: UtpStream;
  halfOpenSince?: number | undefined;
}

/** A uTP connection as a PeerStream. */
export class UtpStream extends EventEmitter implements PeerStream {
  readonly transport = 'utp';
  destroyed = false;
  /** Set by the socket layer right after construction. */
  conn!: UtpConnection;
  private corked = 0;
  private flushQueued = false;

  constructor(readonly remoteAddress: string, readonly remotePort: number, readonly localAddress: string | undefined) {
    super();
  }

  get writableLength(): number { return this.destroyed ? 0 : this.conn.writableLength; }

  write(data: Buffer, cb?: (err?: Error | null) => void): boolean {
    if (this.destroyed || this.conn.isClosed) {
      if (cb) process.nextTick(cb, new BtError('NET', 'write after uTP stream closed'));
      return false;
    }
    const ok = this.conn.write(data);
    this.scheduleFlush();
    if (cb) process.nextTick(cb, null);
    return ok;
  }

  end(data: Buffer): this {
    if (this.destroyed) return this;
    if (data.length > 0) this.conn.write(data);
    this.conn.end();
    return this;
  }

  cork(): void { this.corked++; }
  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.scheduleFlush();
  }

  pause(): this { if (!this.destroyed) this.conn.pause(); return this; }
  resume(): this { if (!this.destroyed) this.conn.resume(); return this; }
  setNoDelay(): this { return this; }

  destroy(): this {
    if (!this.destroyed) this.conn.destroy();
    return this;
  }

  private scheduleFlush(): void {
    if (this.flushQueued || this.corked > 0) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      if (!this.destroyed) this.conn.flush();
    });
  }

  /** The connection's hooks, bound to this stream (the socket layer adds its own bookkeeping around them). */
  hooks(send: (dg: Buffer) => void, onConnect: () => void, onClosed: (err?: BtError) => void): UtpHooks {
    return {
      send,
      onConnect,
      onData: (chunk) => this.emit('data', chunk),
      onEnd: () => this.emit('end'),
      onDrain: () => this.emit('drain'),
      onClose: (err) => {
        this.destroyed = true;
        onClosed(err);
        process.nextTick(() => {
          if (err && this.listenerCount('error') > 0) this.emit('error', err);
          this.emit('close');
        });
      },
    };
  }
}

export class UtpSocket {
  readonly stats = { accepted: 0, dialed: 0, refused: 0, resetsSent: 0, resetsSuppressed: 0, malformed: 0 };
  private sendFn: SendFn | undefined;
  private localAddress: string | undefined;
  private acceptor: ((s: PeerStream) => void) | undefined;
  private readonly conns = new Map<string, Entry>();
  private halfOpen = 0;
  private timer: ClockTimer | undefined;
  private readonly clock: Clock;
  private readonly ackDue = new Set<UtpConnection>();
  private lastDebugDump = 0;
  private ackScheduled = false;
  private resetBudget: number;
  private resetRefillAt = 0;
  private readonly now: () => number;
  private readonly maxConnections: number;
  private readonly maxHalfOpen: number;
  private readonly resetsPerSecond: number;

  constructor(private readonly opts: UtpSocketOptions = {}) {
    this.now = opts.now ?? monotonicMs;
    this.clock = opts.clock ?? systemClock;
    this.maxConnections = opts.maxConnections ?? 1000;
    this.maxHalfOpen = opts.maxHalfOpen ?? 64;
    this.resetsPerSecond = opts.resetsPerSecond ?? 100;
    this.resetBudget = this.resetsPerSecond;
  }

  /** Where datagrams go out (the session's UDP endpoint); `localAddress` names our side of the streams. */
  attach(send: SendFn, localAddress?: string): void {
    this.sendFn = send;
    this.localAddress = localAddress;
  }

  /** Who takes accepted streams (none: incoming SYNs are reset). */
  setAcceptor(fn: ((s: PeerStream) => void) | undefined): void { this.acceptor = fn; }

  get connectionCount(): number { return this.conns.size; }

  /** Take one datagram that the endpoint classified as uTP. Always true: malformed ones are counted here. */
  handleDatagram(msg: Buffer, from: { address: string; port: number }): boolean {
    const r = decodePacket(msg);
    if (!r.ok) { this.stats.malformed++; return true; }
    const p = r.packet;
    const nowUs = this.nowUs();
    if (p.type === ST_RESET) {
      // Our recv id, or our send id (libutp answers with either).
      const e = this.conns.get(key(from, p.connectionId)) ?? this.bySendId(from, p.connectionId);
      e?.conn.receive(p, nowUs);
      return true;
    }
    if (p.type === ST_SYN) {
      const existing = this.conns.get(key(from, (p.connectionId + 1) & 0xffff));
      if (existing) { existing.conn.receive(p, nowUs); return true; }
      this.acceptSyn(p, from, nowUs);
      return true;
    }
    const e = this.conns.get(key(from, p.connectionId));
    if (!e) { this.sendReset(from, p); return true; }
    e.conn.receive(p, nowUs);
    if (!e.conn.isClosed) this.queueAck(e.conn);
    return true;
  }

  /** Dial host:port (IPv4). Settles once: the open stream, or BtError TIMEOUT / ABORTED / NET. */
  connect(host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    return new Promise<PeerStream>((resolve, reject) => {
      if (opts.signal?.aborted) { reject(new BtError('ABORTED', 'connect aborted')); return; }
      const send = this.sendFn;
      if (!send) { reject(new BtError('NET', 'uTP unavailable: no UDP socket')); return; }
      if (host.includes(':')) { reject(new BtError('NET', 'uTP over IPv6 is not supported')); return; }
      if (this.conns.size >= this.maxConnections) { reject(new BtError('LIMIT', 'too many uTP connections')); return; }
      const from = { address: host, port };
      let recvId = randomInt(0, 0xffff);
      for (let i = 0; this.conns.has(key(from, recvId)) || this.conns.has(key(from, (recvId + 1) & 0xffff)); i++) {
        if (i > 100) { reject(new BtError('LIMIT', 'no free uTP connection id')); return; }
        recvId = randomInt(0, 0xffff);
      }
      const stream = new UtpStream(host, port, this.localAddress);
      let settled = false;
      const settle = (err: BtError | undefined): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) { stream.destroy(); reject(err); } else resolve(stream);
      };
      const onAbort = (): void => settle(new BtError('ABORTED', 'connect aborted'));
      const timer = this.clock.setTimeout(() => settle(new BtError('TIMEOUT', 'uTP connect timeout')), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const k = key(from, recvId);
      const hooks = stream.hooks((dg) => this.out(dg, from), () => settle(undefined), (err) => {
        this.conns.delete(k);
        settle(err ?? new BtError('NET', 'uTP connection closed'));
      });
      this.stats.dialed++;
      // Registered before the SYN goes out: a reply can only come later, but the entry must exist for it.
      const entry: Entry = { conn: undefined as unknown as UtpConnection, stream };
      this.conns.set(k, entry);
      entry.conn = UtpConnection.connect({ now: this.now, recvId, sendId: (recvId + 1) & 0xffff, seqNr: 1, hooks });
      stream.conn = entry.conn;
      this.startTimer();
    });
  }

  /** Close every connection (abortively) and stop the timer. */
  close(): void {
    this.acceptor = undefined;
    for (const e of [...this.conns.values()]) e.conn.destroy();
    this.conns.clear();
    this.stopTimer();
    this.sendFn = undefined;
  }

  private acceptSyn(p: UtpPacket, from: { address: string; port: number }, nowUs: number): void {
    const acceptor = this.acceptor;
    const k = key(from, (p.connectionId + 1) & 0xffff);
    if (!acceptor || this.conns.size >= this.maxConnections || this.halfOpen >= this.maxHalfOpen) {
      this.stats.refused++;
      this.sendReset(from, p);
      return;
    }
    const stream = new UtpStream(from.address, from.port, this.localAddress);
    const entry: Entry = { conn: undefined as unknown as UtpConnection, stream, halfOpenSince: this.now() };
    this.halfOpen++;
    const hooks = stream.hooks((dg) => this.out(dg, from), () => {
      // Verified: the initiator's packet after the SYN acks our STATE. Now it is a connection.
      this.halfOpen--;
      entry.halfOpenSince = undefined;
      this.stats.accepted++;
      if (this.acceptor) this.acceptor(stream); else stream.destroy();
    }, () => {
      if (entry.halfOpenSince !== undefined) this.halfOpen--;
      entry.halfOpenSince = undefined;
      if (this.conns.get(k) === entry) this.conns.delete(k);
    });
    this.conns.set(k, entry);
    entry.conn = UtpConnection.accept({ now: this.now, seqNr: randomInt(0, 0xffff), hooks }, p, nowUs);
    stream.conn = entry.conn;
    this.startTimer();
  }

  private bySendId(from: { address: string; port: number }, id: number): Entry | undefined {
    for (const k of [key(from, (id + 1) & 0xffff), key(from, (id - 1) & 0xffff)]) {
      const e = this.conns.get(k);
      if (e && e.conn.sendId === id) return e;
    }
    return undefined;
  }

  /** A RESET in answer to `p` (never to a RESET), within the rate limit. 20 bytes: never more than `p`. */
  private sendReset(from: { address: string; port: number }, p: UtpPacket): void {
    if (p.type === ST_RESET) return;
    const now = this.now();
    if (now >= this.resetRefillAt) { this.resetBudget = this.resetsPerSecond; this.resetRefillAt = now + 1000; }
    if (this.resetBudget <= 0) { this.stats.resetsSuppressed++; return; }
    this.resetBudget--;
    this.stats.resetsSent++;
    this.out(encodePacket({
      type: ST_RESET, connectionId: p.connectionId, timestampUs: this.nowUs(), timestampDiffUs: 0, wndSize: 0,
      seqNr: randomInt(0, 0xffff), ackNr: p.seqNr, payload: Buffer.alloc(0),
    }), from);
  }

  private out(dg: Buffer, to: { address: string; port: number }): void {
    try {
      this.sendFn?.(dg, to.port, to.address);
    } catch (err) {
      this.opts.log?.(`uTP send to ${to.address}:${to.port} failed: ${(err as Error).message}`);
    }
  }

  private nowUs(): number { return Math.floor(this.now() * 1000) >>> 0; }

  private queueAck(c: UtpConnection): void {
    this.ackDue.add(c);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      const due = [...this.ackDue];
      this.ackDue.clear();
      for (const conn of due) conn.sendPendingAck();
    });
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = this.clock.setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = this.now();
    const dumpMs = this.opts.debugDumpMs ?? 0;
    if (dumpMs > 0 && this.opts.log && now - this.lastDebugDump >= dumpMs) {
      this.lastDebugDump = now;
      for (const [k, e] of this.conns) this.opts.log(`uTP ${k}: ${e.conn.debugState()}`);
    }
    for (const [k, e] of [...this.conns]) {
      if (e.halfOpenSince !== undefined && now - e.halfOpenSince > HALF_OPEN_MS) {
        e.conn.abandon(); // unverified source: not even a RESET
        this.conns.delete(k);
        continue;
      }
      try {
        e.conn.tick();
      } catch (err) {
        this.opts.log?.(`uTP tick: ${(err as Error).message}`);
        e.conn.abandon(new BtError('INTERNAL', (err as Error).message));
      }
    }
    if (this.conns.size === 0) this.stopTimer();
  }
}

function key(from: { address: string; port: number }, recvId: number): string {
  return `${from.address}|${from.port}|${recvId}`;
}

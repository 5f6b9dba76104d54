/**
 * A simulated network for the simulation tier (issue 10, item 7): a `Transport` (src/net/transport.ts) per host whose
 * connections carry bytes on a virtual clock (`ManualClock`, src/util/clock.ts), with per-link latency, per-host
 * upload and download bandwidth caps, packet loss, connect latency, refusal and hosts leaving. No socket, no port.
 *
 * The model, per direction of a connection (what one host writes, the other reads):
 * - Upload: each host has one FIFO uplink served at its upload rate (bytes/s; 0 = unlimited). A write (or a corked
 *   batch of writes) is one segment; it leaves the uplink at `max(now, uplink busy until) + size / rate`. Until then
 *   its bytes count in the writer's `writableLength` (backpressure, 'drain') and its write callback is pending.
 * - Propagation: the segment arrives `latency(a, b)` ms later (one way; default 25 ms).
 * - Loss: a stream transport cannot drop bytes, so loss is modelled as TCP makes it look: each segment is made of
 *   packets of `MSS` bytes, each lost with probability `loss`; a segment with a lost packet arrives a retransmission
 *   timeout late (`rtoMs`, default max(200 ms, 2 × RTT), as Linux's minimum RTO), and it is sent twice (it uses
 *   the uplink twice). Delivery is in order, so everything behind a late segment waits for it (head-of-line blocking).
 * - Download: each host has one FIFO downlink served at its download rate; a segment is handed to the reader when it
 *   has arrived and the downlink has carried it, in order of arrival (store and forward: a segment's time is its
 *   uplink time + latency + downlink time; the slower link paces a stream).
 * - Connect: a SYN reaches the listener after one latency, the dialer's `connect` resolves one latency later (one
 *   round trip). A host that exists but has no listener on the port refuses (ECONNREFUSED, after a round trip); a host
 *   that does not exist or has left never answers (the dial times out at its `timeoutMs`, as a vanished peer does).
 * - Close: `destroy()` sends a FIN behind the bytes already written (the kernel still flushes them); the other side
 *   reads 'end' and closes. A host that leaves (`leave`) resets all its connections: the other ends get
 *   ECONNRESET one latency later, after the bytes already on the way.
 *
 * Determinism: every delivery is a timer on the ManualClock (ties broken by the clock's creation order, never by wall
 * time); loss draws from the injected seeded rng; each direction keeps at most three timers pending (send done,
 * arrival, delivery), each armed for the head of its queue, so the clock's heap stays small.
 *
 * Buffers: a write without a callback is copied (as a kernel copies it), so its writer may reuse the buffer at once.
 * A write with a callback (the session's piece blocks, whose callback releases the upload cache's memory) is held by
 * reference, not copied, and its callback runs once the reader has been handed the bytes (or the connection closed):
 * 12.8 GB of blocks in a 200-peer run are then not copied twice. `writableLength` still falls when the bytes leave
 * the uplink.
 *
 * Not modelled: TCP slow start and congestion windows (a connection gets the bytes its host's queues give it at
 * once), fair queueing between the connections of one host (the FIFO is served in write order), NAT, and UDP.
 */
import { EventEmitter } from 'node:events';
import { BtError } from '../../src/util/errors.js';
import { formatPeerAddress } from '../../src/util/peer-address.js';
import type { ManualClock, ClockTimer } from '../../src/util/clock.js';
import type { DialOptions, PeerStream, Transport, TransportListener } from '../../src/net/transport.js';

/** Bytes per packet for the loss model. */
export const MSS = 1460;
/** A write returns false (and 'drain' follows) once this many bytes wait in the uplink for one connection. */
const HIGH_WATER_MARK = 64 * 1024;

/** One host of the network: an address and its access link. */
export interface SimHostOptions {
  /** Upload rate in bytes/s (0 = unlimited). */
  upload?: number;
  /** Download rate in bytes/s (0 = unlimited). */
  download?: number;
}

export interface SimNetworkOptions {
  clock: ManualClock;
  /** Seeded randomness in [0, 1) for the loss model. */
  rng: () => number;
  /** One-way latency between two hosts in ms (default 25). Called once per connection. */
  latencyMs?: (a: string, b: string) => number;
  /** Probability that one packet of MSS bytes is lost (default 0). */
  loss?: number;
  /** Retransmission timeout in ms (default max(200, 2 × RTT)). */
  rtoMs?: number;
}

/** Counters of one host, for a run's log and digest. */
export interface SimHostStats {
  bytesSent: number;
  bytesReceived: number;
  connectsOut: number;
  connectsIn: number;
  refused: number;
  lostSegments: number;
}

interface Host {
  readonly address: string;
  readonly up: number;
  readonly down: number;
  upBusy: number;
  downBusy: number;
  gone: boolean;
  nextPort: number;
  readonly listeners: Map<number, (stream: PeerStream) => void>;
  readonly streams: Set<SimStream>;
  readonly stats: SimHostStats;
}

/**
 * Items due at non-decreasing times, processed in order by one clock timer armed for the head.
 * Invariant: at most one timer pending; `push` requires `at` ≥ the last pushed `at`.
 */
class TimedQueue<T> {
  private readonly items: Array<{ at: number; item: T }> = [];
  private head = 0;
  private timer: ClockTimer | undefined;
  private lastAt = -Infinity;

  constructor(private readonly clock: ManualClock, private readonly run: (item: T) => void) {}

  get last(): number { return this.lastAt; }
  get size(): number { return this.items.length - this.head; }

  push(at: number, item: T): void {
    this.lastAt = Math.max(this.lastAt, at);
    this.items.push({ at: this.lastAt, item });
    if (!this.timer) this.arm();
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
    if (this.timer) { this.clock.clearTimeout(this.timer); this.timer = undefined; }
  }

  private arm(): void {
    const next = this.items[this.head];
    if (!next) return;
    this.timer = this.clock.setTimeout(this.fire, Math.ceil(next.at) - this.clock.now());
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.head < this.items.length && Math.ceil(this.items[this.head]!.at) <= now) {
      const { item } = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as { at: number; item: T };
      this.run(item);
    }
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items.splice(0, this.head); this.head = 0; }
    if (this.head === this.items.length) { this.items.length = 0; this.head = 0; }
    if (!this.timer) this.arm();
  };
}

type WriteCb = (err?: Error | null) => void;
/** A data segment: one write, or the writes of one cork; `cbs` run once the reader was handed `bufs`. */
type Segment = { kind: 'data'; bufs: Buffer[]; size: number; cbs: WriteCb[] } | { kind: 'fin' } | { kind: 'reset' };

/** Run a data segment's write callbacks: the reader has it (err null) or never will. */
function release(seg: Segment, err: Error | null): void {
  if (seg.kind !== 'data') return;
  for (const cb of seg.cbs) cb(err);
  seg.cbs.length = 0;
}

/** One end of a simulated connection. */
class SimStream extends EventEmitter implements PeerStream {
  other: SimStream | undefined;
  destroyed = false;
  writableLength = 0;
  /** null: flows once a 'data' listener is added; false: paused; true: flowing. */
  private flowing: boolean | null = null;
  private readonly inbox: Segment[] = [];
  private flushScheduled = false;
  private corked = 0;
  private corkBufs: Buffer[] = [];
  private corkCbs: WriteCb[] = [];
  private needDrain = false;
  private finSent = false;
  /** Bytes of each segment sent, by the time it leaves the uplink. */
  private readonly sendDone: TimedQueue<number>;
  private readonly arrivals: TimedQueue<Segment>;
  private readonly deliveries: TimedQueue<Segment>;

  constructor(private readonly net: SimNetwork, readonly host: Host, readonly peerHost: Host, readonly latency: number,
    readonly localAddress: string, readonly localPort: number, readonly remoteAddress: string, readonly remotePort: number) {
    super();
    const clock = net.clock;
    this.sendDone = new TimedQueue(clock, (n) => this.onSent(n));
    // Arrivals and deliveries of what this end writes, processed for the other end.
    this.arrivals = new TimedQueue(clock, (s) => this.onArrival(s));
    this.deliveries = new TimedQueue(clock, (s) => this.deliver(s));
    this.on('newListener', (event: string) => {
      if (event === 'data' && this.flowing === null) this.resume();
    });
  }

  write(data: Buffer, cb?: WriteCb): boolean {
    if (this.destroyed || this.finSent) {
      if (cb) queueMicrotask(() => cb(new Error('write after end')));
      return false;
    }
    this.writableLength += data.length;
    let held = data;
    if (!cb) { held = Buffer.allocUnsafe(data.length); data.copy(held); }
    if (this.corked > 0) {
      this.corkBufs.push(held);
      if (cb) this.corkCbs.push(cb);
    } else {
      this.send([held], data.length, cb ? [cb] : []);
    }
    if (this.writableLength >= HIGH_WATER_MARK) { this.needDrain = true; return false; }
    return true;
  }

  end(data: Buffer): this {
    this.write(data);
    this.finish();
    return this;
  }

  cork(): void { this.corked++; }

  uncork(): void {
    if (this.corked === 0) return;
    if (--this.corked > 0 || this.corkBufs.length === 0) return;
    const bufs = this.corkBufs;
    const cbs = this.corkCbs;
    this.corkBufs = [];
    this.corkCbs = [];
    let size = 0;
    for (const b of bufs) size += b.length;
    if (!this.destroyed) this.send(bufs, size, cbs);
    else for (const cb of cbs) queueMicrotask(() => cb(new Error('connection closed')));
  }

  pause(): this { this.flowing = false; return this; }

  resume(): this {
    this.flowing = true;
    if (this.inbox.length > 0 && !this.flushScheduled) { this.flushScheduled = true; process.nextTick(this.flush); }
    return this;
  }

  setNoDelay(): this { return this; }

  describe(): string {
    return `flowing=${String(this.flowing)} inbox=${this.inbox.length} fin=${this.finSent} listeners=${this.listenerCount('data')}/${this.listenerCount('close')} other=${this.other ? (this.other.destroyed ? 'destroyed' : 'open') : 'none'}`;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.finish();
    this.close(null);
    return this;
  }

  /** The host left: the other end reads a reset, after what is already on the way. */
  reset(): void {
    if (this.destroyed) return;
    if (!this.finSent) { this.finSent = true; this.transmit({ kind: 'reset' }, 0); }
    this.close(null);
  }

  /** Send FIN once, behind the bytes already written. */
  private finish(): void {
    if (this.corked > 0) { this.corked = 1; this.uncork(); }
    if (this.finSent) return;
    this.finSent = true;
    this.transmit({ kind: 'fin' }, 0);
  }

  private close(err: Error | null): void {
    this.destroyed = true;
    this.flowing = false;
    this.host.streams.delete(this);
    this.net.noteClosed(this);
    this.sendDone.clear();
    const dropped = this.inbox.splice(0);
    process.nextTick(() => {
      for (const seg of dropped) release(seg, new Error('connection closed'));
      if (err && this.listenerCount('error') > 0) this.emit('error', err);
      this.emit('close');
    });
  }

  private send(bufs: Buffer[], size: number, cbs: WriteCb[]): void {
    const finish = this.transmit({ kind: 'data', bufs, size, cbs }, size);
    this.sendDone.push(finish, size);
  }

  /** Put a segment on the uplink; returns when it has left it. Schedules its arrival, in order behind the earlier ones. */
  private transmit(seg: Segment, size: number): number {
    const now = this.net.clock.now();
    const h = this.host;
    const duration = h.up > 0 ? (size / h.up) * 1000 : 0;
    // A FIN or reset carries no bytes: it takes no uplink time (it still arrives after every byte sent before it).
    let sent = size > 0 ? Math.max(now, h.upBusy) + duration : now;
    let arrival = sent + this.latency;
    const lossP = this.net.loss;
    if (lossP > 0 && size > 0) {
      const packets = Math.ceil(size / MSS);
      if (this.net.rng() < 1 - Math.pow(1 - lossP, packets)) {
        h.stats.lostSegments++;
        sent += duration; // sent again
        arrival = sent + this.latency + this.net.rto(this.latency);
      }
    }
    if (h.up > 0) h.upBusy = sent;
    h.stats.bytesSent += size;
    this.arrivals.push(arrival, seg);
    return sent;
  }

  private onSent(bytes: number): void {
    this.writableLength -= bytes;
    if (this.needDrain && this.writableLength < HIGH_WATER_MARK && !this.destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** A segment this end wrote reached the other host: through its downlink, then to the other end. */
  private onArrival(seg: Segment): void {
    const h = this.peerHost;
    const now = this.net.clock.now();
    const size = seg.kind === 'data' ? seg.size : 0;
    let at = now;
    if (h.down > 0 && size > 0) {
      at = Math.max(now, h.downBusy) + (size / h.down) * 1000;
      h.downBusy = at;
    }
    if (Math.ceil(at) <= now && this.deliveries.size === 0) this.deliver(seg);
    else this.deliveries.push(at, seg);
  }

  private deliver(seg: Segment): void {
    const o = this.other;
    if (o) o.receive(seg); else release(seg, new Error('connection closed'));
  }

  /** A segment for this end. */
  receive(seg: Segment): void {
    if (this.destroyed) { release(seg, new Error('connection closed')); return; }
    if (seg.kind === 'data') this.host.stats.bytesReceived += seg.size;
    if (this.flowing === true && this.inbox.length === 0 && !this.flushScheduled) this.dispatch(seg);
    else {
      this.inbox.push(seg);
      if (this.flowing === true && !this.flushScheduled) { this.flushScheduled = true; process.nextTick(this.flush); }
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    while (this.flowing === true && this.inbox.length > 0 && !this.destroyed) this.dispatch(this.inbox.shift()!);
  };

  private dispatch(seg: Segment): void {
    if (seg.kind === 'data') {
      for (const b of seg.bufs) if (!this.destroyed) this.emit('data', b);
      release(seg, null);
      return;
    }
    if (seg.kind === 'fin') {
      this.emit('end');
      this.destroy();
      return;
    }
    const err = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    this.finSent = true;
    this.close(err);
  }
}

/** Hosts, listeners and connections of one simulated network. */
export class SimNetwork {
  readonly clock: ManualClock;
  readonly rng: () => number;
  readonly loss: number;
  private readonly latencyOf: (a: string, b: string) => number;
  private readonly rtoMs: number | undefined;
  private readonly hosts = new Map<string, Host>();
  private readonly open = new Set<SimStream>();

  constructor(opts: SimNetworkOptions) {
    this.clock = opts.clock;
    this.rng = opts.rng;
    this.loss = opts.loss ?? 0;
    if (!(this.loss >= 0 && this.loss < 1)) throw new RangeError(`loss must be in [0, 1), got ${this.loss}`);
    this.latencyOf = opts.latencyMs ?? (() => 25);
    this.rtoMs = opts.rtoMs;
  }

  /** Connection ends not yet closed. */
  get openStreams(): number { return this.open.size; }

  /** The connection ends not yet closed, described (for a failing test's message). */
  describeOpen(): string[] {
    return [...this.open].map((s) => `${s.localAddress}:${s.localPort}->${s.remoteAddress}:${s.remotePort} ${s.describe()}`);
  }

  /** Retransmission timeout for a link of one-way latency `latency`. */
  rto(latency: number): number { return this.rtoMs ?? Math.max(200, 4 * latency); }

  /** Add a host (or bring back one that left) and return its transport. */
  addHost(address: string, opts: SimHostOptions = {}): Transport {
    const old = this.hosts.get(address);
    if (old && !old.gone) throw new Error(`host ${address} is already on the network`);
    const host: Host = {
      address, up: opts.upload ?? 0, down: opts.download ?? 0, upBusy: 0, downBusy: 0, gone: false, nextPort: 50_000,
      listeners: new Map(), streams: new Set(),
      stats: old?.stats ?? { bytesSent: 0, bytesReceived: 0, connectsOut: 0, connectsIn: 0, refused: 0, lostSegments: 0 },
    };
    this.hosts.set(address, host);
    return {
      listen: (_bindHost, port, onConnection) => this.listen(host, port, onConnection),
      connect: (toHost, port, dial) => this.connect(host, toHost, port, dial),
    };
  }

  /** The host leaves: its listeners go, its connections are reset; dials to it are no longer answered. */
  leave(address: string): void {
    const h = this.hosts.get(address);
    if (!h || h.gone) return;
    h.gone = true;
    h.listeners.clear();
    for (const s of [...h.streams]) s.reset();
  }

  stats(address: string): SimHostStats | undefined { return this.hosts.get(address)?.stats; }

  noteClosed(s: SimStream): void { this.open.delete(s); }

  private listen(host: Host, port: number, onConnection: (stream: PeerStream) => void): Promise<TransportListener> {
    if (host.gone) return Promise.reject(new BtError('IO', `host ${host.address} has left the network`));
    const chosen = port === 0 ? host.nextPort++ : port;
    if (host.listeners.has(chosen)) return Promise.reject(new BtError('PORT_IN_USE', `port ${chosen} is already in use on ${host.address}`));
    host.listeners.set(chosen, onConnection);
    return Promise.resolve({
      port: chosen,
      close: () => { if (host.listeners.get(chosen) === onConnection) host.listeners.delete(chosen); return Promise.resolve(); },
    });
  }

  private connect(from: Host, to: string, port: number, opts: DialOptions): Promise<PeerStream> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(new BtError('ABORTED', 'connect aborted'));
    if (from.gone) return Promise.reject(new BtError('IO', `host ${from.address} has left the network`));
    from.stats.connectsOut++;
    const target = formatPeerAddress(to, port);
    return new Promise<PeerStream>((resolve, reject) => {
      let settled = false;
      /** Our end, once the SYN reached a listener (the other end is then accepted already). */
      let ours: SimStream | undefined;
      const timers: ClockTimer[] = [];
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        for (const t of timers) this.clock.clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      /** Settle with an error; an end already made is closed (its peer reads a FIN), nothing stays open. */
      const fail = (err: Error): void => {
        if (!settle()) return;
        ours?.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(new BtError('ABORTED', 'connect aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      timers.push(this.clock.setTimeout(() => fail(new BtError('TIMEOUT', `connect to ${target} timed out`)), opts.timeoutMs));
      const dest = this.hosts.get(to);
      if (!dest || dest.gone || dest === from) return; // nobody answers: the timeout settles it
      const latency = Math.max(0, this.latencyOf(from.address, to));
      timers.push(this.clock.setTimeout(() => { // the SYN arrives
        const accept = dest.gone ? undefined : dest.listeners.get(port);
        if (!accept) {
          dest.stats.refused++;
          timers.push(this.clock.setTimeout(() => {
            fail(Object.assign(new Error(`connect ECONNREFUSED ${target}`), { code: 'ECONNREFUSED' }));
          }, latency));
          return;
        }
        const localPort = from.nextPort++;
        ours = new SimStream(this, from, dest, latency, from.address, localPort, to, port);
        const theirs = new SimStream(this, dest, from, latency, to, port, from.address, localPort);
        ours.other = theirs;
        theirs.other = ours;
        from.streams.add(ours);
        dest.streams.add(theirs);
        this.open.add(ours);
        this.open.add(theirs);
        dest.stats.connectsIn++;
        theirs.pause();
        accept(theirs);
        timers.push(this.clock.setTimeout(() => { // the SYN-ACK is back
          if (from.gone) { fail(new BtError('IO', `host ${from.address} has left the network`)); return; }
          if (settle()) resolve(ours!);
        }, latency));
      }, latency));
    });
  }
}

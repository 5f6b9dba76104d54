/**
 * An in-memory datagram network on a ManualClock, for the DHT simulation (test/sim/5-dht.test.ts): hosts (IP:port
 * endpoints) send datagrams to each other with a per-pair latency and a loss rate; hosts leave and join. No socket.
 *
 * The model:
 * - Latency: one way, fixed per pair of IPs (the same in both directions), drawn uniformly from
 *   [minLatencyMs, maxLatencyMs] by hashing the two IPs with the seed, so 2,000 hosts need no 4-million-entry table
 *   and a pair keeps its latency when a host leaves and comes back.
 * - Loss: each datagram is lost with probability `loss`, drawn from the seeded rng when it is sent.
 * - Delivery: a datagram is a timer on the clock, due `latency` ms after the send; it is delivered if a host is bound
 *   at the destination then (a host that left, or never was, loses it: counted `toNowhere`). Datagrams are copied at
 *   the send, so the sender may reuse its buffer. Sending from a host that has left does nothing (counted).
 * - A receive handler that throws is a bug of the code under test: the error is kept in `errors` (the simulation
 *   fails on it), and the network goes on.
 *
 * Determinism: every delivery is a clock timer (ties in creation order), every draw comes from the seeded rng, so a
 * run with the same seed and the same sequence of calls replays exactly.
 *
 * Not modelled: bandwidth, reordering beyond what latency differences give, NAT, duplication, fragmentation.
 */
import type { ManualClock } from '../../src/util/clock.js';

export interface SimUdpOptions {
  clock: ManualClock;
  /** Seeded randomness in [0, 1) (loss draws). */
  rng: () => number;
  /** Seed of the per-pair latency hash. */
  seed: number;
  /** One-way latency range, ms (default 10..150). */
  minLatencyMs?: number;
  maxLatencyMs?: number;
  /** Probability that a datagram is lost (default 0.01). */
  loss?: number;
}

export type DatagramHandler = (msg: Buffer, from: { address: string; port: number }) => void;

/** Counters of the whole network. */
export interface SimUdpCounters {
  sent: number;
  delivered: number;
  /** Lost by the loss draw. */
  lost: number;
  /** Arrived where no host was bound (left, or never existed). */
  toNowhere: number;
  /** Sent by a host after it left. */
  fromGone: number;
  bytesSent: number;
}

/** One endpoint: `send` is what a DhtNode's `send` option wants. */
export interface SimUdpHost {
  readonly address: string;
  readonly port: number;
  send(buf: Buffer, host: string, port: number): void;
  /** Unbind: datagrams to it are lost from now on, its sends are dropped. */
  leave(): void;
  readonly alive: boolean;
}

const keyOf = (host: string, port: number): string => `${host}:${port}`;

/** 32-bit FNV-1a over a string, mixed with a seed. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

export class SimUdpNetwork {
  readonly counters: SimUdpCounters = { sent: 0, delivered: 0, lost: 0, toNowhere: 0, fromGone: 0, bytesSent: 0 };
  /** Errors thrown by receive handlers (bugs of the code under test). */
  readonly errors: unknown[] = [];
  private readonly clock: ManualClock;
  private readonly rng: () => number;
  private readonly seed: number;
  private readonly minLatency: number;
  private readonly spread: number;
  private readonly loss: number;
  private readonly bound = new Map<string, DatagramHandler>();

  constructor(opts: SimUdpOptions) {
    this.clock = opts.clock;
    this.rng = opts.rng;
    this.seed = opts.seed >>> 0;
    this.minLatency = opts.minLatencyMs ?? 10;
    this.spread = Math.max(0, (opts.maxLatencyMs ?? 150) - this.minLatency);
    this.loss = opts.loss ?? 0.01;
  }

  /** Hosts bound now. */
  get hostCount(): number { return this.bound.size; }

  /** One-way latency between two IPs, ms (symmetric, fixed for the run). */
  latency(a: string, b: string): number {
    const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
    return this.minLatency + (hash32(pair, this.seed) % (this.spread + 1));
  }

  /** Bind an endpoint (a host joining). Throws if the address is taken. */
  addHost(address: string, port: number, onDatagram: DatagramHandler): SimUdpHost {
    const key = keyOf(address, port);
    if (this.bound.has(key)) throw new Error(`sim-udp: ${key} is already bound`);
    this.bound.set(key, onDatagram);
    let alive = true;
    const from = { address, port };
    return {
      address,
      port,
      get alive() { return alive; },
      send: (buf, host, toPort) => {
        if (!alive) { this.counters.fromGone++; return; }
        this.transmit(from, Buffer.from(buf), host, toPort);
      },
      leave: () => {
        if (!alive) return;
        alive = false;
        if (this.bound.get(key) === onDatagram) this.bound.delete(key);
      },
    };
  }

  private transmit(from: { address: string; port: number }, buf: Buffer, host: string, port: number): void {
    this.counters.sent++;
    this.counters.bytesSent += buf.length;
    if (this.loss > 0 && this.rng() < this.loss) { this.counters.lost++; return; }
    this.clock.setTimeout(() => {
      const handler = this.bound.get(keyOf(host, port));
      if (!handler) { this.counters.toNowhere++; return; }
      this.counters.delivered++;
      try {
        handler(buf, from);
      } catch (err) {
        this.errors.push(err);
      }
    }, this.latency(from.address, host));
  }
}

/**
 * A small in-memory datagram network for DhtNode unit tests: each node has an address, `send` delivers a copy of the
 * datagram to the node at the destination address after `latencyMs` on a ManualClock (dropped when no node is
 * there, or when the destination is `down`). Deterministic: ids and tokens come from a seeded rng.
 * (The 2,000-node simulation has its own, larger network in test/support/sim-udp.ts.)
 */
import { DhtNode, type DhtNodeOptions } from '../../src/discovery/dht/dht-node.js';
import type { NodeAddress } from '../../src/discovery/dht/types.js';
import { ManualClock } from '../../src/util/clock.js';
import { seededRng } from '../../src/util/seeded-rng.js';

export interface SentDatagram { from: NodeAddress; to: NodeAddress; buf: Buffer }

export class DhtMemoryNet {
  readonly clock: ManualClock;
  readonly nodes = new Map<string, DhtNode>();
  /** Addresses whose datagrams are lost (both ways). */
  readonly down = new Set<string>();
  /** Every datagram sent, when `record` is on. */
  readonly sent: SentDatagram[] = [];
  record = false;
  /** Extra receivers (a raw test socket): gets datagrams sent to its address. */
  readonly taps = new Map<string, (buf: Buffer, from: NodeAddress) => void>();
  private seq = 1;

  constructor(readonly latencyMs = 5, start = 1_000_000) {
    this.clock = new ManualClock(start);
  }

  /** A seeded randomBytes. */
  randomBytes(seed: number): (n: number) => Buffer {
    const rng = seededRng(seed);
    return (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rng() * 256)));
  }

  /** The `send` of a node at `from`. */
  sender(from: NodeAddress): (buf: Buffer, host: string, port: number) => void {
    return (buf, host, port) => this.deliver(from, { host, port }, buf);
  }

  /** Sends a datagram from any address (a raw test socket). */
  deliver(from: NodeAddress, to: NodeAddress, buf: Buffer): void {
    const copy = Buffer.from(buf);
    if (this.record) this.sent.push({ from, to, buf: copy });
    const key = `${to.host}:${to.port}`;
    if (this.down.has(key) || this.down.has(`${from.host}:${from.port}`)) return;
    const t = this.clock.setTimeout(() => {
      this.taps.get(key)?.(copy, from);
      this.nodes.get(key)?.handleDatagram(copy, { address: from.host, port: from.port });
    }, this.latencyMs);
    t.unref();
  }

  /** A node at `addr` on this network (not started). */
  add(addr: NodeAddress, opts: Partial<DhtNodeOptions> = {}): DhtNode {
    const seed = this.seq++;
    const node = new DhtNode({
      send: this.sender(addr), clock: this.clock, rng: seededRng(seed * 7919), randomBytes: this.randomBytes(seed),
      ...opts,
    });
    this.nodes.set(`${addr.host}:${addr.port}`, node);
    return node;
  }

  /** Moves the clock in steps (letting promises run between them) until `p` settles or `maxMs` passes. */
  async run<T>(p: Promise<T>, maxMs = 120_000, stepMs = 10): Promise<T> {
    let settled = false;
    const watched = p.finally(() => { settled = true; });
    for (let t = 0; t < maxMs && !settled; t += stepMs) {
      this.clock.advance(stepMs);
      await flush();
    }
    if (!settled) throw new Error(`did not settle within ${maxMs} ms of virtual time`);
    return watched;
  }

  /** Moves the clock by `ms` in steps, letting promises run. */
  async advance(ms: number, stepMs = 10): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) {
      this.clock.advance(Math.min(stepMs, ms - t));
      await flush();
    }
  }

  /** Closes every node, then lets the datagrams in flight arrive (closed nodes take none): no timer is left. */
  closeAll(): void {
    for (const n of this.nodes.values()) n.close();
    this.clock.advance(this.latencyMs);
  }
}

export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

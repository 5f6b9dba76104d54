/**
 * An in-memory `Transport` (src/net/transport.ts) for tests: sessions in one process connect to each other through
 * a `MemoryNetwork` instead of sockets. No byte leaves the process, no port is bound.
 *
 * A connection is a pair of `Duplex` streams: what one side writes, the other reads. Closing one side destroys the
 * other (as a TCP reset would), so both see 'close'. Accepted streams are handed over paused, as the contract says.
 * There is no latency, bandwidth cap or loss here (test/support/sim-network.ts, the simulation tier's network, has
 * them, on a virtual clock); a dial to an address nobody listens on fails at once with ECONNREFUSED.
 */
import { Duplex } from 'node:stream';
import { BtError } from '../../src/util/errors.js';
import { formatPeerAddress } from '../../src/util/peer-address.js';
import type { DialOptions, PeerStream, Transport, TransportListener } from '../../src/net/transport.js';

class MemoryStream extends Duplex {
  other: MemoryStream | undefined;
  constructor(readonly localAddress: string, readonly localPort: number, readonly remoteAddress: string,
    readonly remotePort: number) {
    super({ allowHalfOpen: false });
  }

  override _read(): void { /* data is pushed by the other side */ }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const o = this.other;
    if (!o || o.destroyed) { cb(new Error('connection reset')); return; }
    o.push(Buffer.from(chunk)); // a copy: the writer may reuse its buffer
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const o = this.other;
    this.other = undefined;
    if (o && !o.destroyed) queueMicrotask(() => o.destroy());
    cb(err);
  }

  setNoDelay(): this { return this; }
}

/** Addresses and listeners of one in-memory network. */
export class MemoryNetwork {
  private readonly listeners = new Map<string, (stream: PeerStream) => void>();
  private nextEphemeral = 50_000;
  private readonly streams = new Set<MemoryStream>();

  /** Streams (both ends of every connection) not yet closed. */
  get openStreams(): number { return this.streams.size; }

  /** A transport for a host of this network: connections it opens come from `address`. */
  transport(address: string): Transport {
    return {
      listen: (host, port, onConnection) => this.listen(address, host, port, onConnection),
      connect: (host, port, opts) => this.connect(address, host, port, opts),
    };
  }

  private listen(address: string, host: string, port: number,
    onConnection: (stream: PeerStream) => void): Promise<TransportListener> {
    const bindAddress = host === '0.0.0.0' || host === '::' ? address : host;
    const chosen = port === 0 ? this.nextEphemeral++ : port;
    const key = formatPeerAddress(bindAddress, chosen);
    if (this.listeners.has(key)) return Promise.reject(new BtError('PORT_IN_USE', `port ${chosen} is already in use on ${host}`));
    this.listeners.set(key, onConnection);
    return Promise.resolve({
      port: chosen,
      close: () => { this.listeners.delete(key); return Promise.resolve(); },
    });
  }

  private connect(from: string, host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    if (opts.signal?.aborted) return Promise.reject(new BtError('ABORTED', 'connect aborted'));
    const accept = this.listeners.get(formatPeerAddress(host, port));
    if (!accept) return Promise.reject(Object.assign(new Error(`connect ECONNREFUSED ${formatPeerAddress(host, port)}`), { code: 'ECONNREFUSED' }));
    const localPort = this.nextEphemeral++;
    const ours = new MemoryStream(from, localPort, host, port);
    const theirs = new MemoryStream(host, port, from, localPort);
    ours.other = theirs;
    theirs.other = ours;
    for (const s of [ours, theirs]) {
      s.on('error', () => undefined);
      this.streams.add(s);
      s.once('close', () => this.streams.delete(s));
    }
    theirs.pause();
    accept(theirs);
    return Promise.resolve(ours);
  }
}

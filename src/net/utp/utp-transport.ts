/**
 * uTP as a `Transport` (src/net/transport.ts), in two shapes:
 * - `UtpTransport`: uTP alone, on a `UtpSocket` fed by a UDP endpoint (its own, bound by `listen`, unless the socket
 *   is already attached to one, as the session's is).
 * - `UtpTcpTransport`: what a session with uTP enabled dials and listens through. Incoming: TCP and uTP both reach
 *   the one `onConnection` (so connection limits count both). Outgoing: uTP first, as libtorrent does, and TCP when
 *   the uTP dial fails or does not connect within `utpDialTimeoutMs` (a peer that speaks no uTP answers a SYN with
 *   nothing, or an ICMP error). `tcpOutgoing`/`tcpIncoming` false turn TCP off (libtorrent's enable_outgoing_tcp and
 *   enable_incoming_tcp), for a uTP-only peer. A peer whose uTP dial failed is dialed over TCP only for a while.
 *
 * Invariant: `connect` settles once (transport contract); an aborted dial never falls back.
 */
import { BtError, isBtError } from '../../util/errors.js';
import { UdpEndpoint } from '../udp-endpoint.js';
import type { DialOptions, PeerStream, Transport, TransportListener } from '../transport.js';
import { UtpSocket } from './utp-socket.js';

/** How long a uTP dial may take before a session tries TCP instead. */
export const UTP_DIAL_TIMEOUT_MS = 3000;

export class UtpTransport implements Transport {
  private endpoint: UdpEndpoint | undefined;

  constructor(readonly socket: UtpSocket = new UtpSocket(), private readonly log: (msg: string) => void = () => undefined) {}

  async listen(host: string, port: number, onConnection: (stream: PeerStream) => void): Promise<TransportListener> {
    const endpoint = new UdpEndpoint({ isTrackerTransaction: () => false, log: this.log });
    endpoint.setOwner('utp', (msg, from) => this.socket.handleDatagram(msg, from));
    try {
      await endpoint.bind(port, host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') throw new BtError('PORT_IN_USE', `UDP port ${port} is not available on ${host}`);
      throw new BtError('IO', `cannot bind UDP ${host}:${port}: ${(err as Error).message}`);
    }
    this.endpoint = endpoint;
    this.socket.attach((buf, p, h) => { if (endpoint.bound) endpoint.send(buf, p, h); }, host);
    this.socket.setAcceptor(onConnection);
    return {
      port: endpoint.port,
      close: async () => {
        this.socket.close();
        this.endpoint = undefined;
        await endpoint.close();
      },
    };
  }

  connect(host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    return this.socket.connect(host, port, opts);
  }
}

export interface UtpTcpOptions {
  /** uTP on (default true); off: dials go straight to TCP and incoming SYNs are reset. `setEnabled` changes it. */
  enabled?: boolean;
  /** Dial TCP (after uTP failed). Default true. */
  tcpOutgoing?: boolean;
  /** Accept TCP peer connections. Default true. */
  tcpIncoming?: boolean;
  /** Bound on a uTP dial before TCP is tried (default UTP_DIAL_TIMEOUT_MS). */
  utpDialTimeoutMs?: number;
  log?: (msg: string) => void;
  /** Milliseconds, for how long a peer without uTP is remembered (default: none remembered). */
  now?: () => number;
}

/** A peer whose uTP dial failed is dialed over TCP only, for this long (libtorrent clears its `supports_utp`). */
const NO_UTP_MEMORY_MS = 30 * 60_000;
const NO_UTP_MAX = 4096;

export class UtpTcpTransport implements Transport {
  readonly stats = { utpDials: 0, utpConnected: 0, tcpFallbacks: 0 };
  enabled: boolean;
  private onConnection: ((stream: PeerStream) => void) | undefined;
  /** host:port → until when it is dialed over TCP only (insertion order: oldest first, evicted first). */
  private readonly noUtp = new Map<string, number>();

  constructor(private readonly tcp: Transport, readonly socket: UtpSocket, private readonly opts: UtpTcpOptions = {}) {
    this.enabled = opts.enabled ?? true;
  }

  setEnabled(on: boolean): void {
    this.enabled = on;
    this.socket.setAcceptor(on ? this.onConnection : undefined);
  }

  async listen(host: string, port: number, onConnection: (stream: PeerStream) => void,
    onError?: (err: Error) => void): Promise<TransportListener> {
    const tcpIncoming = this.opts.tcpIncoming ?? true;
    const listener = await this.tcp.listen(host, port, tcpIncoming ? onConnection : (s) => s.destroy(), onError);
    this.onConnection = onConnection;
    if (this.enabled) this.socket.setAcceptor(onConnection);
    return {
      port: listener.port,
      close: async () => {
        this.onConnection = undefined;
        this.socket.setAcceptor(undefined);
        await listener.close();
      },
    };
  }

  async connect(host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    const tcpOutgoing = this.opts.tcpOutgoing ?? true;
    const addr = `${host}|${port}`;
    const now = this.opts.now?.();
    const until = this.noUtp.get(addr);
    if (until !== undefined && now !== undefined && now >= until) this.noUtp.delete(addr);
    if (!this.enabled || (tcpOutgoing && this.noUtp.has(addr))) return this.tcp.connect(host, port, opts);
    const utpTimeout = tcpOutgoing ? Math.min(opts.timeoutMs, this.opts.utpDialTimeoutMs ?? UTP_DIAL_TIMEOUT_MS) : opts.timeoutMs;
    this.stats.utpDials++;
    try {
      const s = await this.socket.connect(host, port, { ...opts, timeoutMs: utpTimeout });
      this.stats.utpConnected++;
      return s;
    } catch (err) {
      if (!tcpOutgoing || isBtError(err, 'ABORTED') || opts.signal?.aborted) throw err;
      if (now !== undefined) {
        if (this.noUtp.size >= NO_UTP_MAX) this.noUtp.delete(this.noUtp.keys().next().value!);
        this.noUtp.set(addr, now + NO_UTP_MEMORY_MS);
      }
      this.opts.log?.(`uTP dial to ${host}:${port} failed (${(err as Error).message}); trying TCP`);
    }
    this.stats.tcpFallbacks++;
    return this.tcp.connect(host, port, opts);
  }
}

/**
 * uTP as a `Transport` (src/net/transport.ts), in two shapes:
 * - `UtpTransport`: uTP alone, on a `UtpSocket` fed by a UDP endpoint (its own, bound by `listen`, unless the socket
 *   is already attached to one, as the session's is).
 * - `UtpTcpTransport`: what a session with uTP enabled dials and listens through. Incoming: TCP and uTP both reach
 *   the one `onConnection` (so connection limits count both). Outgoing: uTP first, as libtorrent does, and TCP when
 *   the uTP dial fails or does not connect within `utpDialTimeoutMs` (a peer that speaks no uTP answers a SYN with
 *   nothing, or an ICMP error). `tcpOutgoing`/`tcpIncoming` false turn TCP off (libtorrent's enable_outgoing_tcp and
 *   enable_incoming_tcp), for a uTP-only peer.
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
  /** Dial TCP (after uTP failed). Default true. */
  tcpOutgoing?: boolean;
  /** Accept TCP peer connections. Default true. */
  tcpIncoming?: boolean;
  /** Bound on a uTP dial before TCP is tried (default UTP_DIAL_TIMEOUT_MS). */
  utpDialTimeoutMs?: number;
  log?: (msg: string) => void;
}

export class UtpTcpTransport implements Transport {
  readonly stats = { utpDials: 0, utpConnected: 0, tcpFallbacks: 0 };

  constructor(private readonly tcp: Transport, readonly utp: UtpSocket, private readonly opts: UtpTcpOptions = {}) {}

  async listen(host: string, port: number, onConnection: (stream: PeerStream) => void,
    onError?: (err: Error) => void): Promise<TransportListener> {
    const tcpIncoming = this.opts.tcpIncoming ?? true;
    const listener = await this.tcp.listen(host, port, tcpIncoming ? onConnection : (s) => s.destroy(), onError);
    this.utp.setAcceptor(onConnection);
    return {
      port: listener.port,
      close: async () => {
        this.utp.setAcceptor(undefined);
        await listener.close();
      },
    };
  }

  async connect(host: string, port: number, opts: DialOptions): Promise<PeerStream> {
    const tcpOutgoing = this.opts.tcpOutgoing ?? true;
    const utpTimeout = tcpOutgoing ? Math.min(opts.timeoutMs, this.opts.utpDialTimeoutMs ?? UTP_DIAL_TIMEOUT_MS) : opts.timeoutMs;
    this.stats.utpDials++;
    try {
      const s = await this.utp.connect(host, port, { ...opts, timeoutMs: utpTimeout });
      this.stats.utpConnected++;
      return s;
    } catch (err) {
      if (!tcpOutgoing || isBtError(err, 'ABORTED') || opts.signal?.aborted) throw err;
      this.opts.log?.(`uTP dial to ${host}:${port} failed (${(err as Error).message}); trying TCP`);
    }
    this.stats.tcpFallbacks++;
    return this.tcp.connect(host, port, opts);
  }
}

/**
 * uTP as a `Transport` (src/net/transport.ts), in two shapes:
 * - `UtpTransport`: uTP alone, on a `UtpSocket` fed by a UDP endpoint (its own, bound by `listen`, unless the socket
 *   is already attached to one, as the session's is).
 * - `UtpTcpTransport`: what a session with uTP enabled dials and listens through. Incoming: TCP and uTP both reach
 *   the one `onConnection` (so connection limits count both). Outgoing: uTP first, as libtorrent does, then TCP
 *   beside it ("happy eyeballs", RFC 8305's idea) when uTP has not connected within `tcpHeadStartMs` (500 ms), or at
 *   once when the uTP dial fails. The first to connect wins and the other attempt is aborted (or its stream closed).
 *   A peer that speaks no uTP answers a SYN with nothing (an ICMP error never reaches an unconnected UDP socket), so
 *   libtorrent's way, TCP only after a 3 s uTP time-out, cost every first connection to a TCP-only client (aria2,
 *   rtorrent, a Transmission with uTP off) 3 s. `tcpOutgoing`/`tcpIncoming` false turn TCP off (libtorrent's
 *   enable_outgoing_tcp and enable_incoming_tcp), for a uTP-only peer. A peer whose uTP dial failed, or lost to TCP,
 *   is dialed over TCP only for a while.
 *
 * Invariant: `connect` settles once (transport contract), with at most one open stream: a second one that connects
 * is destroyed; an aborted dial never falls back.
 */
import { BtError } from '../../util/errors.js';
import { systemClock } from '../../platform/clock.js';
import type { Clock, ClockTimer } from '../../util/clock.js';
import { UdpEndpoint } from '../udp-endpoint.js';
import type { DialOptions, PeerStream, Transport, TransportListener } from '../transport.js';
import { UtpSocket } from './utp-socket.js';

/** How long a uTP dial may take in all (libtorrent's utp_connect_timeout). */
export const UTP_DIAL_TIMEOUT_MS = 3000;
/**
 * How long a uTP dial runs alone before TCP is dialed beside it. Both answer after one round trip, so this is RFC
 * 8305's 250 ms connection attempt delay with room for a slow path: a peer with uTP that answers later than this
 * races TCP, and the first connection wins.
 */
export const TCP_HEAD_START_MS = 500;

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
  /** Bound on a uTP dial (default UTP_DIAL_TIMEOUT_MS). */
  utpDialTimeoutMs?: number;
  /** How long uTP runs alone before TCP is dialed beside it (default TCP_HEAD_START_MS). */
  tcpHeadStartMs?: number;
  log?: (msg: string) => void;
  /** Milliseconds, for how long a peer without uTP is remembered (default: none remembered). */
  now?: () => number;
  /** The head-start timer and dial budgets (default the system clock). */
  clock?: Clock;
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
    this.stats.utpDials++;
    if (!tcpOutgoing) {
      const s = await this.socket.connect(host, port, opts);
      this.stats.utpConnected++;
      return s;
    }
    return this.race(host, port, opts, () => {
      if (now === undefined) return;
      if (this.noUtp.size >= NO_UTP_MAX) this.noUtp.delete(this.noUtp.keys().next().value!);
      this.noUtp.set(addr, now + NO_UTP_MEMORY_MS);
    });
  }

  /** uTP, then TCP beside it after the head start (or at once when uTP fails); the first stream wins. */
  private race(host: string, port: number, opts: DialOptions, rememberNoUtp: () => void): Promise<PeerStream> {
    return new Promise<PeerStream>((resolve, reject) => {
      if (opts.signal?.aborted) { reject(new BtError('ABORTED', 'connect aborted')); return; }
      const clock = this.opts.clock ?? systemClock;
      const started = clock.now();
      const utpAbort = new AbortController();
      const tcpAbort = new AbortController();
      let settled = false;
      let utpFailed = false;
      let tcpStarted = false;
      let tcpError: unknown;
      const onAbort = (): void => { clock.clearTimeout(headStart); utpAbort.abort(); tcpAbort.abort(); };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (err: unknown, stream?: PeerStream): void => {
        if (settled) { stream?.destroy(); return; }
        settled = true;
        clock.clearTimeout(headStart);
        opts.signal?.removeEventListener('abort', onAbort);
        if (stream) resolve(stream);
        else reject(err);
      };
      const startTcp = (): void => {
        if (tcpStarted || settled || opts.signal?.aborted) return;
        tcpStarted = true;
        clock.clearTimeout(headStart);
        this.stats.tcpFallbacks++;
        // TCP gets the caller's whole budget from its own start, as when it only followed a failed uTP dial.
        this.tcp.connect(host, port, { timeoutMs: opts.timeoutMs, signal: tcpAbort.signal }).then((s) => {
          if (!settled) {
            utpAbort.abort();
            rememberNoUtp();
            this.opts.log?.(`uTP dial to ${host}:${port} had no answer in ${clock.now() - started} ms; connected over TCP`);
          }
          finish(undefined, s);
        }, (err: unknown) => {
          tcpError = opts.signal?.aborted ? new BtError('ABORTED', 'connect aborted') : err;
          if (utpFailed) finish(tcpError);
        });
      };
      // Declared here, used above only from callbacks that run later (an abort, a dial's settling, the timer).
      const headStart: ClockTimer = clock.setTimeout(startTcp, this.opts.tcpHeadStartMs ?? TCP_HEAD_START_MS);
      const utpTimeout = Math.min(opts.timeoutMs, this.opts.utpDialTimeoutMs ?? UTP_DIAL_TIMEOUT_MS);
      this.socket.connect(host, port, { timeoutMs: utpTimeout, signal: utpAbort.signal }).then((s) => {
        if (!settled) {
          this.stats.utpConnected++;
          tcpAbort.abort();
        }
        finish(undefined, s);
      }, (err: unknown) => {
        utpFailed = true;
        if (settled) return;
        if (opts.signal?.aborted) { finish(new BtError('ABORTED', 'connect aborted')); return; }
        if (!tcpStarted) {
          rememberNoUtp();
          this.opts.log?.(`uTP dial to ${host}:${port} failed (${(err as Error).message}); trying TCP`);
          startTcp();
        } else if (tcpError !== undefined) {
          finish(tcpError);
        }
      });
    });
  }
}

/**
 * The session's shared network services besides the TCP listener: the embedded tracker (HTTP part is reached
 * through the TCP port sniffer, UDP part through the shared UDP socket), the UDP tracker client, and LSD.
 *
 * One UDP endpoint on the session's port number (src/net/udp-endpoint.ts) carries the UDP tracker server (BEP 15),
 * the UDP tracker client's answers, uTP (registered by the session) and the DHT (BEP 5 KRPC, first byte `d`: its
 * owner here hands them to the node while one runs, `dhtUdp.setDhtHandler`). Demultiplexing
 * (src/net/datagram-codec.ts): a datagram that answers one of our pending tracker transactions goes to the client; a
 * datagram shaped like a tracker request goes to the server; a KRPC one to the DHT; anything else is counted and
 * dropped.
 *
 * Invariant: no exception from a datagram or a tracker socket escapes; errors are logged and counted.
 */
import { randomBytes } from 'node:crypto';
import type { PeerStream } from '../net/transport.js';
import { LsdService } from '../discovery/lsd.js';
import { createHttpTrackerStats, handleHttpConnection } from '../tracker/http-server.js';
import { TrackerSwarms } from '../tracker/swarm.js';
import { UdpTrackerClient } from '../tracker/udp-client.js';
import { UdpTrackerServer } from '../tracker/udp-server.js';
import { UdpEndpoint, type DatagramHandler } from '../net/udp-endpoint.js';
import type { DhtUdp } from './session-dht.js';
import { errorMessage } from '../util/errors.js';
import { formatPeerAddress } from '../util/peer-address.js';
import type { Clock } from '../util/clock.js';

/** Concurrent HTTP tracker connections. */
const MAX_HTTP_OPEN = 64;

export interface ServicesOptions {
  port: number;
  host: string;
  peerId: Buffer;
  now: () => number;
  rng: () => number;
  /** Timers for LSD (default: the real clock). */
  clock?: Clock;
  openTracker: boolean;
  /** Bind the UDP endpoint (default true); false leaves it unbound (UDP tracker off, as when the bind fails). */
  udp?: boolean;
  isKnown: (infoHashHex: string) => boolean;
  lsd: boolean;
  onLsdPeer: (infoHashHex: string, host: string, port: number) => void;
  log: (msg: string) => void;
}

export class SessionServices {
  readonly swarms: TrackerSwarms;
  readonly udpServer: UdpTrackerServer;
  readonly udpClient: UdpTrackerClient;
  readonly httpStats = createHttpTrackerStats();
  /** The session's one UDP socket and its demultiplexer (`udp.stats.dropped`: datagrams nobody took). */
  readonly udp: UdpEndpoint;
  lsd: LsdService | undefined;
  private httpOpen = 0;
  /** The DHT node's datagram handler while a node runs. */
  private dhtHandler: DatagramHandler | undefined;
  /** The UDP endpoint as the DHT uses it: send, and the `dht` datagrams routed to the node. */
  readonly dhtUdp: DhtUdp = {
    bound: () => this.udp.bound,
    send: (buf, port, host) => this.udp.send(buf, port, host),
    setDhtHandler: (handler) => { this.dhtHandler = handler; },
  };

  constructor(private readonly opts: ServicesOptions) {
    this.swarms = new TrackerSwarms({ now: opts.now, rng: opts.rng, open: opts.openTracker, isKnown: opts.isKnown });
    this.udpServer = new UdpTrackerServer(this.swarms, { now: opts.now, secret: randomBytes(32), log: opts.log, localAddress: opts.host });
    this.udpClient = new UdpTrackerClient({
      send: (buf, host, port) => this.udp.send(buf, port, host),
      now: opts.now, rng: opts.rng, ...(opts.clock ? { clock: opts.clock } : {}),
    });
    this.udp = new UdpEndpoint({ isTrackerTransaction: (id) => this.udpClient.isPending(id), log: opts.log });
    this.udp.setOwner('tracker-response', (msg, from) => this.udpClient.handleResponse(msg, from));
    this.udp.setOwner('dht', (msg, from) => this.dhtHandler?.(msg, from) ?? false);
    this.udp.setOwner('tracker-request', (msg, from) => {
      this.udpServer.handlePacket(msg, from, (buf) => { if (this.udp.bound) this.udp.send(buf, from.port, from.address); });
      return true;
    });
  }

  /** Bind UDP on the session's port number; start LSD. A UDP failure is logged, not fatal (TCP still works). */
  async start(): Promise<void> {
    try {
      if (this.opts.udp !== false) await this.udp.bind(this.opts.port, this.opts.host);
    } catch (err) {
      this.opts.log(`cannot bind UDP ${formatPeerAddress(this.opts.host, this.opts.port)} (UDP tracker off): ${errorMessage(err)}`);
    }
    if (this.opts.lsd) {
      this.lsd = new LsdService({
        port: this.opts.port, onPeer: this.opts.onLsdPeer, log: this.opts.log, now: this.opts.now, rng: this.opts.rng,
        ...(this.opts.clock ? { clock: this.opts.clock } : {}),
        ...(this.opts.host !== '0.0.0.0' ? { interfaceAddress: this.opts.host } : {}),
      });
      try {
        await this.lsd.start();
      } catch (err) {
        this.opts.log(`LSD unavailable: ${errorMessage(err)}`);
      }
    }
  }

  /** A TCP connection whose first bytes are `GET `: the HTTP tracker. At most MAX_HTTP_OPEN at once. */
  handleHttp(socket: PeerStream, firstBytes: Buffer): void {
    if (this.httpOpen >= MAX_HTTP_OPEN) { socket.destroy(); this.httpStats.rejected.error++; return; }
    this.httpOpen++;
    socket.once('close', () => { this.httpOpen--; });
    handleHttpConnection(socket, firstBytes, this.swarms, { log: this.opts.log, stats: this.httpStats, ...(this.opts.clock ? { clock: this.opts.clock } : {}) });
  }

  /** Once a second. */
  tick(): void {
    this.swarms.expire();
  }

  async close(): Promise<void> {
    this.udpClient.close();
    await this.lsd?.close().catch(() => {});
    await this.udp.close();
  }
}

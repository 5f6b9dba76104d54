/**
 * The session's one UDP endpoint: one socket on the session's port number, shared by every UDP protocol, handing
 * each datagram to its owner as `classifyDatagram` (datagram-codec.ts) decides. The owners are the UDP tracker
 * client (answers to our requests), the embedded UDP tracker (requests), uTP (BEP 29: src/net/utp/, registered with
 * `setOwner('utp', ...)`) and the DHT (BEP 5 KRPC: the session's node, src/session/session-dht.ts).
 *
 * Invariants:
 * - A datagram goes to at most one owner. One with no owner, or that its owner does not take (a handler returns
 *   false), is counted in `stats.dropped`; a tracker-response its client refuses (wrong source) is classified again
 *   by shape alone, as the demultiplexer always did.
 * - Nothing thrown by an owner escapes (reliability rule 11 in docs/design/reliability.md): it is logged and counted.
 * - `send` throws when the socket is not bound or closed (the caller's request then fails).
 */
import dgram from 'node:dgram';
import { errorMessage } from '../util/errors.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { classifyDatagram, type DatagramOwner } from './datagram-codec.js';

export interface DatagramSource { address: string; port: number; family?: string | number }
/** Takes a datagram; true when it was consumed. */
export type DatagramHandler = (msg: Buffer, from: DatagramSource) => boolean;

export interface UdpEndpointOptions {
  /** Is this a pending transaction id of our UDP tracker client? */
  isTrackerTransaction: (transactionId: number) => boolean;
  log: (msg: string) => void;
}

export class UdpEndpoint {
  readonly stats = { dropped: 0 };
  private socket: dgram.Socket | undefined;
  private readonly owners = new Map<DatagramOwner, DatagramHandler>();

  constructor(private readonly opts: UdpEndpointOptions) {}

  /** The handler for one class of datagrams (replaces the previous one). */
  setOwner(owner: Exclude<DatagramOwner, 'unknown'>, handler: DatagramHandler): void {
    this.owners.set(owner, handler);
  }

  get bound(): boolean { return this.socket !== undefined; }

  /** The bound port (0 when unbound). */
  get port(): number { return this.socket?.address().port ?? 0; }

  /** Bind host:port (IPv4). Rejects when the port cannot be bound; the endpoint then stays unbound. */
  async bind(port: number, host: string): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    socket.on('error', (err) => this.opts.log(`UDP socket error: ${err.message}`));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => { socket.off('error', reject); resolve(); });
      });
    } catch (err) {
      socket.close();
      throw err;
    }
    this.socket = socket;
  }

  send(buf: Buffer, port: number, host: string): void {
    if (!this.socket) throw new Error('UDP socket closed');
    this.socket.send(buf, port, host);
  }

  /** Hand one datagram to its owner (public for tests; the socket calls it). */
  onDatagram(msg: Buffer, from: DatagramSource): void {
    try {
      let owner = classifyDatagram(msg, this.opts.isTrackerTransaction);
      if (owner === 'tracker-response') {
        if (this.owners.get(owner)?.(msg, from) === true) return;
        owner = classifyDatagram(msg, () => false);
      }
      const handler = owner === 'unknown' ? undefined : this.owners.get(owner);
      if (handler?.(msg, from) !== true) this.stats.dropped++;
    } catch (err) {
      this.stats.dropped++;
      this.opts.log(`datagram from ${formatPeerAddress(from.address, from.port)}: ${errorMessage(err)}`);
    }
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/**
 * The embedded UDP tracker (BEP 15) on the session's UDP port. The session's UDP endpoint (src/net/udp-endpoint.ts)
 * classifies each packet (`isUdpTrackerRequest` of udp-codec.ts), and hands tracker packets to
 * `UdpTrackerServer.handlePacket` with a `send`.
 *
 * Invariants:
 * - An unverified source (no valid connection id for its address and port) never gets more bytes back than it sent:
 *   connect answers 16 bytes to a request of ≥ 16; an error reply to a bad connection id is sent only if it is no
 *   longer than the request, otherwise the packet is dropped. Unknown actions and short packets get no answer.
 * - Announce and scrape are served only with a connection id issued to that exact (ip, port) within 2–4 minutes
 *   (`ConnectionIds`, an HMAC: no per-client state). The packet's `ip` field is ignored: the peer is recorded at the
 *   packet's source address, normalised (`::ffff:1.2.3.4` → `1.2.3.4`).
 * - Peer entries follow the source's address family: 6 bytes for IPv4 sources, 18 bytes for IPv6 sources, and only
 *   peers of that family are listed (BEP 15, IPv6 section).
 * - `handlePacket` never throws; every rejected packet is counted in `stats.rejected` by reason.
 */
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../util/errors.js';
import { ipFamily, isLoopback, isUnspecified, normalizeIp } from './address.js';
import type { AnnounceRequest, TrackerSwarms } from './swarm.js';
import {
  ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_SCRAPE, ConnectionIds, UDP_ANNOUNCE_REQUEST_SIZE, UDP_MAX_SCRAPE_HASHES,
  UDP_PROTOCOL_ID, decodeUdpAnnounceRequest, decodeUdpScrapeRequest, encodeUdpAnnounceResponse,
  encodeUdpConnectResponse, encodeUdpErrorResponse, encodeUdpScrapeResponse,
} from './udp-codec.js';

/** Why a packet was not served. */
export type UdpRejectReason =
  | 'short'              // under 16 bytes
  | 'bad-magic'          // connect without the protocol id
  | 'bad-action'         // action other than connect / announce / scrape
  | 'bad-connection-id'  // announce/scrape with an id not issued to this source, or expired
  | 'malformed'          // bad length or field in an announce/scrape from a verified source
  | 'bad-port'           // announce with port 0
  | 'refused'            // the swarm refused the announce (e.g. torrent not tracked here)
  | 'error';             // an unexpected throw (a bug), caught

/** Counters of the UDP tracker. */
export interface UdpTrackerStats {
  received: number;
  connects: number;
  announces: number;
  scrapes: number;
  /** Error packets sent back (action 3). */
  errorReplies: number;
  rejected: Record<UdpRejectReason, number>;
}

/** The sender of a packet. `family` is informational; the address decides the family. */
export interface UdpSource {
  address: string;
  port: number;
  family?: string | number;
}

export interface UdpTrackerServerOptions {
  /** HMAC key for connection ids (≥ 16 bytes). Default: 32 random bytes. */
  secret?: Buffer;
  /** Milliseconds, like Date.now. */
  now: () => number;
  log?: (msg: string) => void;
  /**
   * The address the UDP socket is bound to. A dgram socket does not report a packet's destination address, so this
   * is what the session's own entry (see `TrackerSwarms.setSelf`) uses when `setSelf` gave no ip. When it is unset
   * or unspecified (0.0.0.0 / ::), loopback sources get 127.0.0.1 or ::1 and other sources get no self entry.
   */
  localAddress?: string;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
function toNumber(n: bigint): number {
  return Number(n > MAX_SAFE ? MAX_SAFE : n);
}

/** BEP 15 server over a `TrackerSwarms`. Stateless apart from counters (connection ids are HMACs). */
export class UdpTrackerServer {
  readonly stats: UdpTrackerStats = {
    received: 0, connects: 0, announces: 0, scrapes: 0, errorReplies: 0,
    rejected: { short: 0, 'bad-magic': 0, 'bad-action': 0, 'bad-connection-id': 0, malformed: 0, 'bad-port': 0,
      refused: 0, error: 0 },
  };
  private readonly swarms: TrackerSwarms;
  private readonly ids: ConnectionIds;
  private readonly log: (msg: string) => void;
  private readonly localAddress: string | undefined;

  constructor(swarms: TrackerSwarms, opts: UdpTrackerServerOptions) {
    this.swarms = swarms;
    this.ids = new ConnectionIds(opts.secret ?? randomBytes(32), opts.now);
    this.log = opts.log ?? (() => undefined);
    this.localAddress = opts.localAddress !== undefined && !isUnspecified(opts.localAddress)
      ? normalizeIp(opts.localAddress) : undefined;
  }

  /** Serves one datagram; replies through `send` (zero or one packet). Never throws. */
  handlePacket(msg: Buffer, rinfo: UdpSource, send: (buf: Buffer) => void): void {
    try {
      this.stats.received++;
      if (msg.length < 16) { this.reject('short'); return; }
      const action = msg.readUInt32BE(8);
      const transactionId = msg.readUInt32BE(12);
      const ip = normalizeIp(rinfo.address);
      const port = rinfo.port;

      if (action === ACTION_CONNECT) {
        if (msg.readBigUInt64BE(0) !== UDP_PROTOCOL_ID) { this.reject('bad-magic'); return; }
        this.stats.connects++;
        send(encodeUdpConnectResponse({ transactionId, connectionId: this.ids.issue(ip, port) }));
        return;
      }
      if (action !== ACTION_ANNOUNCE && action !== ACTION_SCRAPE) { this.reject('bad-action'); return; }
      if (!this.ids.check(msg.readBigUInt64BE(0), ip, port)) {
        this.reject('bad-connection-id');
        // Unverified source: answer only if the answer is no bigger than the question.
        const reply = encodeUdpErrorResponse({ transactionId, message: 'bad connection id' });
        if (reply.length <= msg.length) this.sendError(send, reply);
        return;
      }
      if (action === ACTION_ANNOUNCE) this.announce(msg, ip, port, transactionId, send);
      else this.scrape(msg, transactionId, send);
    } catch (e) {
      this.stats.rejected.error++;
      this.log(`udp tracker: internal error: ${errorMessage(e)}`);
    }
  }

  private announce(msg: Buffer, ip: string, port: number, transactionId: number, send: (buf: Buffer) => void): void {
    if (msg.length < UDP_ANNOUNCE_REQUEST_SIZE) {
      this.reject('malformed');
      this.sendError(send, encodeUdpErrorResponse({ transactionId, message: 'malformed announce' }));
      return;
    }
    let parsed;
    try {
      parsed = decodeUdpAnnounceRequest(msg);
    } catch (e) {
      this.reject('malformed');
      this.sendError(send, encodeUdpErrorResponse({ transactionId, message: errorMessage(e).slice(0, 100) }));
      return;
    }
    if (parsed.port === 0) {
      this.reject('bad-port');
      this.sendError(send, encodeUdpErrorResponse({ transactionId, message: 'invalid port' }));
      return;
    }
    const family = ipFamily(ip) ?? 4;
    const req: AnnounceRequest = {
      infoHash: parsed.infoHash, peerId: parsed.peerId, ip, port: parsed.port,
      uploaded: toNumber(parsed.uploaded), downloaded: toNumber(parsed.downloaded), left: toNumber(parsed.left),
      event: parsed.event, numwant: parsed.numWant < 0 ? undefined : parsed.numWant,
      compact: true, noPeerId: true, key: parsed.key.toString(16).padStart(8, '0'), family,
    };
    const localIp = this.localAddress ?? (isLoopback(ip) ? (family === 4 ? '127.0.0.1' : '::1') : undefined);
    if (localIp !== undefined) req.localIp = localIp;
    const result = this.swarms.announce(req);
    this.stats.announces++;
    if ('failure' in result) {
      this.reject('refused');
      this.sendError(send, encodeUdpErrorResponse({ transactionId, message: result.failure }));
      return;
    }
    send(encodeUdpAnnounceResponse({
      transactionId, interval: result.interval, leechers: result.incomplete, seeders: result.complete,
      peers: result.peers.map((p) => ({ host: p.ip, port: p.port })),
    }, family));
  }

  private scrape(msg: Buffer, transactionId: number, send: (buf: Buffer) => void): void {
    let parsed;
    try {
      parsed = decodeUdpScrapeRequest(msg);
    } catch (e) {
      this.reject('malformed');
      this.sendError(send, encodeUdpErrorResponse({ transactionId, message: errorMessage(e).slice(0, 100) }));
      return;
    }
    this.stats.scrapes++;
    const entries = this.swarms.scrape(parsed.infoHashes.slice(0, UDP_MAX_SCRAPE_HASHES));
    send(encodeUdpScrapeResponse({
      transactionId,
      files: entries.map((e) => ({ seeders: e.complete, completed: e.downloaded, leechers: e.incomplete })),
    }));
  }

  private reject(reason: UdpRejectReason): void {
    this.stats.rejected[reason]++;
  }

  private sendError(send: (buf: Buffer) => void, reply: Buffer): void {
    this.stats.errorReplies++;
    send(reply);
  }
}

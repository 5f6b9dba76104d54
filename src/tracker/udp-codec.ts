/**
 * UDP tracker protocol codec (BEP 15), both directions, and the server's connection ids. Pure (node:crypto's HMAC
 * is computation, not I/O).
 *
 * Invariants:
 * - Every decoder checks the action and the length before reading a field, and throws `BtError('PROTOCOL')` on any
 *   mismatch; none reads past the buffer. Lengths: a connect request is ≥ 16 bytes (extra ignored), an announce
 *   request ≥ 98 (BEP 41 options may follow and are ignored), a scrape request is 16 + 20·n (n ≥ 1); responses:
 *   connect ≥ 16, announce 20 + 6·n (IPv4) or 20 + 18·n (IPv6) exactly, scrape 8 + 12·n exactly, error ≥ 8.
 * - Integers are big-endian. 64-bit fields are `bigint`; the announce request's byte counters are unsigned.
 * - Connection ids issued by `ConnectionIds` always have the top bit set (first byte ≥ 0x80), so they can never be
 *   the protocol magic, a KRPC packet (`d…`) or a uTP header (version nibble 1, first byte < 0x80). The session's
 *   UDP demultiplexer relies on it (see `isUdpTrackerRequest` below and src/net/datagram-codec.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { BtError } from '../util/errors.js';
import { decodeCompactPeers, encodeCompactPeers, normalizeIp } from './address.js';
import type { IpFamily, PeerAddress, TrackerEvent } from './types.js';

/**
 * Cheap demultiplexer check for the session's shared UDP port: a 16-byte-or-longer connect carrying the protocol id,
 * or an announce/scrape (action 1 or 2 at offset 8) whose connection id has its top bit set, as every id we issue
 * does. KRPC (`d…`) and uTP (first byte < 0x80) packets never match.
 */
export function isUdpTrackerRequest(msg: Buffer): boolean {
  if (msg.length < 16) return false;
  const action = msg.readUInt32BE(8);
  if (action === ACTION_CONNECT) return msg.readBigUInt64BE(0) === UDP_PROTOCOL_ID;
  if (action === ACTION_ANNOUNCE || action === ACTION_SCRAPE) return (msg[0]! & 0x80) !== 0;
  return false;
}

/** The connect request's protocol id ("magic constant"). */
export const UDP_PROTOCOL_ID = 0x41727101980n;
export const ACTION_CONNECT = 0;
export const ACTION_ANNOUNCE = 1;
export const ACTION_SCRAPE = 2;
export const ACTION_ERROR = 3;

export const UDP_CONNECT_REQUEST_SIZE = 16;
export const UDP_ANNOUNCE_REQUEST_SIZE = 98;
export const UDP_CONNECT_RESPONSE_SIZE = 16;
/** Most info-hashes in one scrape (BEP 15: about 74 fit a packet). */
export const UDP_MAX_SCRAPE_HASHES = 74;

/** Action number of each event (BEP 15): none 0, completed 1, started 2, stopped 3. */
const EVENT_CODES: Record<TrackerEvent, number> = { '': 0, completed: 1, started: 2, stopped: 3 };
const EVENTS: TrackerEvent[] = ['', 'completed', 'started', 'stopped'];

export interface UdpConnectRequest {
  transactionId: number;
}

export interface UdpAnnounceRequest {
  connectionId: bigint;
  transactionId: number;
  infoHash: Buffer;
  peerId: Buffer;
  downloaded: bigint;
  left: bigint;
  uploaded: bigint;
  event: TrackerEvent;
  /** IPv4 address as uint32; 0 = "use the source address". The server ignores it. */
  ip: number;
  key: number;
  /** -1 = default. */
  numWant: number;
  port: number;
}

export interface UdpScrapeRequest {
  connectionId: bigint;
  transactionId: number;
  infoHashes: Buffer[];
}

export interface UdpConnectResponse {
  transactionId: number;
  connectionId: bigint;
}

export interface UdpAnnounceResponse {
  transactionId: number;
  interval: number;
  leechers: number;
  seeders: number;
  peers: PeerAddress[];
}

/** Per info-hash, in the order of the request. */
export interface UdpScrapeFile {
  seeders: number;
  completed: number;
  leechers: number;
}

export interface UdpScrapeResponse {
  transactionId: number;
  files: UdpScrapeFile[];
}

export interface UdpErrorResponse {
  transactionId: number;
  message: string;
}

/** Any server → client packet, by action (what a client gets back). */
export type UdpResponse =
  | ({ action: 'connect' } & UdpConnectResponse)
  | ({ action: 'announce' } & UdpAnnounceResponse)
  | ({ action: 'scrape' } & UdpScrapeResponse)
  | ({ action: 'error' } & UdpErrorResponse);

function fail(msg: string): never {
  throw new BtError('PROTOCOL', `udp tracker: ${msg}`);
}

function expectAction(buf: Buffer, at: number, action: number, what: string): void {
  const got = buf.readUInt32BE(at);
  if (got !== action) fail(`${what}: expected action ${action}, got ${got}`);
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} must be a uint32, got ${n}`);
  return n;
}

function u64(n: bigint, what: string): bigint {
  if (n < 0n || n > 0xffffffffffffffffn) throw new RangeError(`${what} must be a uint64, got ${n}`);
  return n;
}

function bytes20(b: Uint8Array, what: string): Uint8Array {
  if (b.length !== 20) throw new RangeError(`${what} must be 20 bytes, got ${b.length}`);
  return b;
}

// ---- requests (client → server) ----

export function encodeUdpConnectRequest(req: UdpConnectRequest): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  b.writeUInt32BE(ACTION_CONNECT, 8);
  b.writeUInt32BE(u32(req.transactionId, 'transactionId'), 12);
  return b;
}

export function decodeUdpConnectRequest(buf: Buffer): UdpConnectRequest {
  if (buf.length < UDP_CONNECT_REQUEST_SIZE) fail(`connect request too short (${buf.length} bytes)`);
  if (buf.readBigUInt64BE(0) !== UDP_PROTOCOL_ID) fail('connect request without the protocol id');
  expectAction(buf, 8, ACTION_CONNECT, 'connect request');
  return { transactionId: buf.readUInt32BE(12) };
}

export function encodeUdpAnnounceRequest(req: UdpAnnounceRequest): Buffer {
  const b = Buffer.alloc(UDP_ANNOUNCE_REQUEST_SIZE);
  b.writeBigUInt64BE(u64(req.connectionId, 'connectionId'), 0);
  b.writeUInt32BE(ACTION_ANNOUNCE, 8);
  b.writeUInt32BE(u32(req.transactionId, 'transactionId'), 12);
  b.set(bytes20(req.infoHash, 'infoHash'), 16);
  b.set(bytes20(req.peerId, 'peerId'), 36);
  b.writeBigUInt64BE(u64(req.downloaded, 'downloaded'), 56);
  b.writeBigUInt64BE(u64(req.left, 'left'), 64);
  b.writeBigUInt64BE(u64(req.uploaded, 'uploaded'), 72);
  b.writeUInt32BE(EVENT_CODES[req.event], 80);
  b.writeUInt32BE(u32(req.ip, 'ip'), 84);
  b.writeUInt32BE(u32(req.key, 'key'), 88);
  b.writeInt32BE(req.numWant, 92);
  b.writeUInt16BE(req.port, 96);
  return b;
}

export function decodeUdpAnnounceRequest(buf: Buffer): UdpAnnounceRequest {
  if (buf.length < UDP_ANNOUNCE_REQUEST_SIZE) fail(`announce request too short (${buf.length} bytes)`);
  expectAction(buf, 8, ACTION_ANNOUNCE, 'announce request');
  const eventCode = buf.readUInt32BE(80);
  const event = EVENTS[eventCode];
  if (event === undefined) fail(`announce request with unknown event ${eventCode}`);
  return {
    connectionId: buf.readBigUInt64BE(0),
    transactionId: buf.readUInt32BE(12),
    infoHash: Buffer.from(buf.subarray(16, 36)),
    peerId: Buffer.from(buf.subarray(36, 56)),
    downloaded: buf.readBigUInt64BE(56),
    left: buf.readBigUInt64BE(64),
    uploaded: buf.readBigUInt64BE(72),
    event,
    ip: buf.readUInt32BE(84),
    key: buf.readUInt32BE(88),
    numWant: buf.readInt32BE(92),
    port: buf.readUInt16BE(96),
  };
}

export function encodeUdpScrapeRequest(req: UdpScrapeRequest): Buffer {
  if (req.infoHashes.length === 0) throw new RangeError('a scrape needs at least one info-hash');
  const b = Buffer.alloc(16 + 20 * req.infoHashes.length);
  b.writeBigUInt64BE(u64(req.connectionId, 'connectionId'), 0);
  b.writeUInt32BE(ACTION_SCRAPE, 8);
  b.writeUInt32BE(u32(req.transactionId, 'transactionId'), 12);
  req.infoHashes.forEach((h, i) => b.set(bytes20(h, 'infoHash'), 16 + 20 * i));
  return b;
}

export function decodeUdpScrapeRequest(buf: Buffer): UdpScrapeRequest {
  if (buf.length < 36 || (buf.length - 16) % 20 !== 0) fail(`scrape request of bad length (${buf.length} bytes)`);
  expectAction(buf, 8, ACTION_SCRAPE, 'scrape request');
  const infoHashes: Buffer[] = [];
  for (let at = 16; at < buf.length; at += 20) infoHashes.push(Buffer.from(buf.subarray(at, at + 20)));
  return { connectionId: buf.readBigUInt64BE(0), transactionId: buf.readUInt32BE(12), infoHashes };
}

// ---- responses (server → client) ----

export function encodeUdpConnectResponse(res: UdpConnectResponse): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(ACTION_CONNECT, 0);
  b.writeUInt32BE(u32(res.transactionId, 'transactionId'), 4);
  b.writeBigUInt64BE(u64(res.connectionId, 'connectionId'), 8);
  return b;
}

export function decodeUdpConnectResponse(buf: Buffer): UdpConnectResponse {
  if (buf.length < UDP_CONNECT_RESPONSE_SIZE) fail(`connect response too short (${buf.length} bytes)`);
  expectAction(buf, 0, ACTION_CONNECT, 'connect response');
  return { transactionId: buf.readUInt32BE(4), connectionId: buf.readBigUInt64BE(8) };
}

/** Peers of the other family (or not IP addresses) are left out: the entry size follows `family`. */
export function encodeUdpAnnounceResponse(res: UdpAnnounceResponse, family: IpFamily): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32BE(ACTION_ANNOUNCE, 0);
  head.writeUInt32BE(u32(res.transactionId, 'transactionId'), 4);
  head.writeUInt32BE(u32(res.interval, 'interval'), 8);
  head.writeUInt32BE(u32(res.leechers, 'leechers'), 12);
  head.writeUInt32BE(u32(res.seeders, 'seeders'), 16);
  return Buffer.concat([head, encodeCompactPeers(res.peers, family)]);
}

/** `family` is the address family of the socket the response came in on (BEP 15: 6-byte or 18-byte entries). */
export function decodeUdpAnnounceResponse(buf: Buffer, family: IpFamily): UdpAnnounceResponse {
  if (buf.length < 20) fail(`announce response too short (${buf.length} bytes)`);
  expectAction(buf, 0, ACTION_ANNOUNCE, 'announce response');
  const peers = decodeCompactPeers(buf.subarray(20), family);
  if (!peers) fail(`announce response of bad length (${buf.length} bytes) for IPv${family}`);
  return {
    transactionId: buf.readUInt32BE(4),
    interval: buf.readUInt32BE(8),
    leechers: buf.readUInt32BE(12),
    seeders: buf.readUInt32BE(16),
    peers,
  };
}

export function encodeUdpScrapeResponse(res: UdpScrapeResponse): Buffer {
  const b = Buffer.alloc(8 + 12 * res.files.length);
  b.writeUInt32BE(ACTION_SCRAPE, 0);
  b.writeUInt32BE(u32(res.transactionId, 'transactionId'), 4);
  res.files.forEach((f, i) => {
    b.writeUInt32BE(u32(f.seeders, 'seeders'), 8 + 12 * i);
    b.writeUInt32BE(u32(f.completed, 'completed'), 12 + 12 * i);
    b.writeUInt32BE(u32(f.leechers, 'leechers'), 16 + 12 * i);
  });
  return b;
}

export function decodeUdpScrapeResponse(buf: Buffer): UdpScrapeResponse {
  if (buf.length < 8 || (buf.length - 8) % 12 !== 0) fail(`scrape response of bad length (${buf.length} bytes)`);
  expectAction(buf, 0, ACTION_SCRAPE, 'scrape response');
  const files: UdpScrapeFile[] = [];
  for (let at = 8; at < buf.length; at += 12) {
    files.push({ seeders: buf.readUInt32BE(at), completed: buf.readUInt32BE(at + 4), leechers: buf.readUInt32BE(at + 8) });
  }
  return { transactionId: buf.readUInt32BE(4), files };
}

export function encodeUdpErrorResponse(res: UdpErrorResponse): Buffer {
  const msg = Buffer.from(res.message, 'utf8');
  const b = Buffer.alloc(8 + msg.length);
  b.writeUInt32BE(ACTION_ERROR, 0);
  b.writeUInt32BE(u32(res.transactionId, 'transactionId'), 4);
  msg.copy(b, 8);
  return b;
}

/** The message is decoded as UTF-8 (invalid sequences become U+FFFD). */
export function decodeUdpErrorResponse(buf: Buffer): UdpErrorResponse {
  if (buf.length < 8) fail(`error response too short (${buf.length} bytes)`);
  expectAction(buf, 0, ACTION_ERROR, 'error response');
  return { transactionId: buf.readUInt32BE(4), message: buf.subarray(8).toString('utf8') };
}

/**
 * Decodes any server response by its action (for clients). `family`: the family of the tracker's address.
 * Throws `BtError('PROTOCOL')` on a short packet, an unknown action, or a bad length.
 */
export function decodeUdpResponse(buf: Buffer, family: IpFamily): UdpResponse {
  if (buf.length < 8) fail(`response too short (${buf.length} bytes)`);
  const action = buf.readUInt32BE(0);
  switch (action) {
    case ACTION_CONNECT: return { action: 'connect', ...decodeUdpConnectResponse(buf) };
    case ACTION_ANNOUNCE: return { action: 'announce', ...decodeUdpAnnounceResponse(buf, family) };
    case ACTION_SCRAPE: return { action: 'scrape', ...decodeUdpScrapeResponse(buf) };
    case ACTION_ERROR: return { action: 'error', ...decodeUdpErrorResponse(buf) };
    default: return fail(`response with unknown action ${action}`);
  }
}

// ---- connection ids (server) ----

/** Length of one connection-id slot. An id is accepted in its slot and the next: 2 to 4 minutes. */
export const CONNECTION_ID_SLOT_MS = 120_000;

/**
 * Stateless connection ids (BEP 15 anti-spoofing): HMAC-SHA256(secret, slot | ip | port), first 8 bytes, top bit
 * forced on. `check` accepts the current and the previous 2-minute slot, so an id lives 2 to 4 minutes; clients
 * reuse one for at most 1 minute (BEP 15), so this is generous. `now` returns milliseconds.
 */
export class ConnectionIds {
  private readonly secret: Buffer;
  private readonly now: () => number;

  constructor(secret: Buffer, now: () => number) {
    if (secret.length < 16) throw new RangeError('connection id secret must be at least 16 bytes');
    this.secret = Buffer.from(secret);
    this.now = now;
  }

  /** A fresh id for this source address. */
  issue(ip: string, port: number): bigint {
    return this.idFor(this.slot(), ip, port).readBigUInt64BE(0);
  }

  /** Whether `id` was issued to this source address in the current or the previous slot. */
  check(id: bigint, ip: string, port: number): boolean {
    if (id < 0n || id > 0xffffffffffffffffn) return false;
    const given = Buffer.alloc(8);
    given.writeBigUInt64BE(id);
    const slot = this.slot();
    return timingSafeEqual(given, this.idFor(slot, ip, port)) || timingSafeEqual(given, this.idFor(slot - 1, ip, port));
  }

  private slot(): number {
    return Math.floor(this.now() / CONNECTION_ID_SLOT_MS);
  }

  private idFor(slot: number, ip: string, port: number): Buffer {
    const mac = createHmac('sha256', this.secret).update(`${slot}|${normalizeIp(ip)}|${port}`).digest();
    const id = mac.subarray(0, 8);
    id[0] = id[0]! | 0x80;
    return id;
  }
}

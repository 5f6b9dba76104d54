/**
 * Who owns a datagram that arrived on the session's one UDP port: a pure classifier of its first bytes.
 *
 * bitpeer has one public port number, for TCP and UDP alike (docs/design/architecture.md, "Seams"); every UDP
 * protocol shares the one socket, and each datagram goes to its owner by its shape:
 * - `tracker-response`: an answer to one of our UDP tracker requests (BEP 15), matched by its transaction id
 *   (bytes 4..8), which must be pending. Checked first: only we know our ids.
 * - `tracker-request`: a request to the embedded UDP tracker (BEP 15): a connect starting with the protocol id
 *   0x41727101980 (action 0 at offset 8), or an announce/scrape whose connection id has its top bit set (first byte
 *   ≥ 0x80), as every id the tracker issues does (`isUdpTrackerRequest`, src/tracker/udp-codec.ts).
 * - `utp` (BEP 29; owner: the session's UtpSocket): a header of at least 20 bytes whose first byte is type << 4 | version, type 0..4
 *   (ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN) and version 1, so the first byte is 0x01, 0x11, 0x21, 0x31 or 0x41.
 * - `dht` (BEP 5 KRPC; owner: the session's DHT node, src/session/session-dht.ts): a bencoded dictionary, first byte `d`.
 * - `unknown`: anything else (dropped and counted by the endpoint).
 *
 * Invariant: the classes are disjoint whatever the pending ids: a connect request starts with 0x00 (version nibble
 * 0, not uTP), an announce/scrape request with a byte ≥ 0x80 (not uTP, not `d`); uTP's first bytes are ≤ 0x41 and
 * never `d` (0x64). Only a tracker response is decided by state (the pending id), and it is checked first. Never
 * throws, for any input.
 */
import { isUdpTrackerRequest } from '../tracker/udp-codec.js';

export type DatagramOwner = 'tracker-response' | 'tracker-request' | 'utp' | 'dht' | 'unknown';

/** Smallest uTP packet: the 20-byte header (BEP 29). */
export const UTP_HEADER_SIZE = 20;
/** The uTP version this header layout is (low nibble of the first byte). */
export const UTP_VERSION = 1;
/** Highest uTP packet type (ST_SYN). */
export const UTP_MAX_TYPE = 4;

/** A BEP 29 header: type 0..4 in the high nibble, version 1 in the low nibble, at least 20 bytes. */
export function isUtpPacket(msg: Buffer): boolean {
  if (msg.length < UTP_HEADER_SIZE) return false;
  const b = msg[0]!;
  return (b & 0x0f) === UTP_VERSION && b >> 4 <= UTP_MAX_TYPE;
}

/** A KRPC message (BEP 5): a bencoded dictionary. */
export function isKrpcPacket(msg: Buffer): boolean {
  return msg.length > 0 && msg[0] === 0x64; // 'd'
}

/**
 * The owner of `msg`. `isTrackerTransaction(id)` says whether `id` is a pending transaction of our UDP tracker
 * client; pass `() => false` to classify by shape alone.
 */
export function classifyDatagram(msg: Buffer, isTrackerTransaction: (transactionId: number) => boolean): DatagramOwner {
  if (msg.length >= 8 && isTrackerTransaction(msg.readUInt32BE(4))) return 'tracker-response';
  if (isUdpTrackerRequest(msg)) return 'tracker-request';
  if (isUtpPacket(msg)) return 'utp';
  if (isKrpcPacket(msg)) return 'dht';
  return 'unknown';
}

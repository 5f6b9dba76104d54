/**
 * The peer wire handshake (BEP 3) and its reserved bits (BEP 5 DHT, BEP 6 Fast, BEP 10 extension protocol, BEP 52
 * v2 support).
 *
 * Layout, 68 bytes: `<pstrlen=19><pstr="BitTorrent protocol"><reserved:8><info_hash:20><peer_id:20>`.
 *
 * Invariant: `parseHandshake` accepts exactly 68 bytes with the exact protocol string, and returns fresh copies of
 * its fields, so a parsed handshake never keeps the socket chunk it came from alive.
 */

import { BtError } from '../../util/errors.js';

/** The protocol string that follows the length byte (BEP 3). */
export const PROTOCOL_NAME = 'BitTorrent protocol';
/** Total length of a BitTorrent v1 handshake in bytes. */
export const HANDSHAKE_LENGTH = 68;

const PSTR = Buffer.from(PROTOCOL_NAME, 'latin1');
const PSTR_LENGTH = PSTR.length; // 19
const RESERVED_OFFSET = 1 + PSTR_LENGTH; // 20
const INFO_HASH_OFFSET = RESERVED_OFFSET + 8; // 28
const PEER_ID_OFFSET = INFO_HASH_OFFSET + 20; // 48

/** The three variable fields of a handshake. */
export interface Handshake {
  /** 8 bytes of feature flags; see {@link ReservedBit}. */
  reserved: Buffer;
  /** 20-byte info-hash of the torrent: SHA-1 (v1, hybrid) or SHA-256 truncated to 20 bytes (v2, hybrid; BEP 52). */
  infoHash: Buffer;
  /** 20-byte peer id. */
  peerId: Buffer;
}

/** A single reserved-bit position: `reserved[byte] & mask`. */
export interface ReservedBitPosition {
  readonly byte: number;
  readonly mask: number;
}

/** Reserved bits bitpeer knows about. */
export const ReservedBit = {
  /** BEP 10 extension protocol: `reserved[5] & 0x10`. */
  EXTENSION_PROTOCOL: { byte: 5, mask: 0x10 },
  /** BEP 6 Fast extension: `reserved[7] & 0x04`. */
  FAST: { byte: 7, mask: 0x04 },
  /** BEP 5 DHT (the peer sends `port` messages): `reserved[7] & 0x01`. */
  DHT: { byte: 7, mask: 0x01 },
  /**
   * BEP 52 BitTorrent v2 support: `reserved[7] & 0x10`. Set by v2-capable clients for every torrent (libtorrent 2 does);
   * a hybrid torrent's peer that sets it can answer v2 hash requests.
   */
  V2: { byte: 7, mask: 0x10 },
} as const;

function checkLength(name: string, b: Buffer, n: number): void {
  if (!Buffer.isBuffer(b) || b.length !== n) {
    throw new RangeError(`handshake ${name} must be ${n} bytes, got ${Buffer.isBuffer(b) ? b.length : typeof b}`);
  }
}

/**
 * Encodes a handshake into a fresh 68-byte buffer.
 * @throws RangeError if a field has the wrong length (a caller bug, not peer input).
 */
export function encodeHandshake(h: Handshake): Buffer {
  checkLength('reserved', h.reserved, 8);
  checkLength('infoHash', h.infoHash, 20);
  checkLength('peerId', h.peerId, 20);
  const out = Buffer.allocUnsafe(HANDSHAKE_LENGTH);
  out[0] = PSTR_LENGTH;
  PSTR.copy(out, 1);
  h.reserved.copy(out, RESERVED_OFFSET);
  h.infoHash.copy(out, INFO_HASH_OFFSET);
  h.peerId.copy(out, PEER_ID_OFFSET);
  return out;
}

/**
 * Parses a complete handshake. The returned fields are copies.
 * @throws BtError('HANDSHAKE') if `buf` is not exactly 68 bytes, or the length byte or protocol string is wrong.
 */
export function parseHandshake(buf: Buffer): Handshake {
  if (buf.length !== HANDSHAKE_LENGTH) {
    throw new BtError('HANDSHAKE', `handshake must be ${HANDSHAKE_LENGTH} bytes, got ${buf.length}`);
  }
  if (buf[0] !== PSTR_LENGTH) {
    throw new BtError('HANDSHAKE', `bad handshake protocol string length: ${buf[0]} != ${PSTR_LENGTH}`);
  }
  if (!PSTR.equals(buf.subarray(1, RESERVED_OFFSET))) {
    throw new BtError('HANDSHAKE', 'bad handshake protocol string (expected "BitTorrent protocol")');
  }
  return {
    reserved: Buffer.from(buf.subarray(RESERVED_OFFSET, INFO_HASH_OFFSET)),
    infoHash: Buffer.from(buf.subarray(INFO_HASH_OFFSET, PEER_ID_OFFSET)),
    peerId: Buffer.from(buf.subarray(PEER_ID_OFFSET, HANDSHAKE_LENGTH)),
  };
}

/** Builds an 8-byte reserved field with the given bits set (and every other bit zero). */
export function makeReserved(bits: ReadonlyArray<ReservedBitPosition>): Buffer {
  const r = Buffer.alloc(8);
  for (const b of bits) {
    if (!Number.isInteger(b.byte) || b.byte < 0 || b.byte > 7) throw new RangeError(`reserved byte out of range: ${b.byte}`);
    r[b.byte] = r[b.byte]! | (b.mask & 0xff);
  }
  return r;
}

/** True if every bit of `bit.mask` is set in `reserved[bit.byte]`. A short `reserved` has no bits set. */
export function hasReserved(reserved: Buffer, bit: ReservedBitPosition): boolean {
  const v = reserved[bit.byte];
  return v !== undefined && (v & bit.mask) === bit.mask && bit.mask !== 0;
}

/**
 * The peer wire handshake (BEP 3) and its reserved bits (BEP 5 DHT, BEP 6 Fast, BEP 10 extension protocol, BEP 52
 * v2 support).
 *
 * Layout, 68 bytes: `<pstrlen=19><pstr="BitTorrent protocol"><reserved:8><info_hash:20><peer_id:20>`.
 *
 * Invariant: `parseHandshake` accepts exactly 68 bytes with the exact protocol string, and returns fresh copies of
 * its fields, so a parsed handshake never keeps the socket chunk it came from alive.
 *
 * BEP 52 names (as libtorrent 2 does it): a v1 torrent is named by its SHA-1 info-hash, a v2-only torrent by its
 * SHA-256 truncated to 20 bytes, a hybrid by either. A connection named by the truncated v2 hash is a v2 connection
 * (hash request / hashes / hash reject allowed). A peer dialling with a hybrid's v1 hash sets reserved[7] & 0x10 to
 * offer an upgrade; a plaintext receiver that knows the hybrid answers with the truncated v2 hash and the connection
 * is then a v2 one ({@link answerIncoming}, {@link acceptAnswer}). libtorrent drops a plaintext peer that sets the
 * bit for a torrent without v2, so it is set only for hybrids ({@link reservedFor}).
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
   * BEP 52 upgrade to v2: `reserved[7] & 0x10`, sent with a hybrid torrent's v1 info-hash ("I can speak v2"; see the
   * module comment). Never for a v1-only torrent: libtorrent disconnects a plaintext peer that sets it then.
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

/** A torrent's names on the wire (BEP 52). */
export interface WireNames {
  /** What we send when we dial: the v1 info-hash (v1, hybrid), or the truncated v2 info-hash (v2-only). */
  infoHash: Buffer;
  /** A hybrid's second name: its SHA-256 info-hash truncated to 20 bytes. */
  v2Truncated?: Buffer | undefined;
  /** The torrent is v2-only: every connection is a v2 one. */
  v2Only?: boolean | undefined;
}

/** Our reserved bytes for a torrent: `base`, plus the v2 upgrade bit for a hybrid (and only then). */
export function reservedFor(base: Buffer, names: WireNames): Buffer {
  const r = Buffer.from(base);
  if (names.v2Truncated === undefined) r[ReservedBit.V2.byte] = r[ReservedBit.V2.byte]! & ~ReservedBit.V2.mask;
  else r[ReservedBit.V2.byte] = r[ReservedBit.V2.byte]! | ReservedBit.V2.mask;
  return r;
}

/** The name a connection was agreed on, and whether it is a v2 one. */
export interface AgreedName {
  /** The info-hash in our answer. */
  infoHash: Buffer;
  /** A v2 connection: the torrent is v2-only, or a hybrid named (or upgraded to) by its truncated v2 hash. */
  v2: boolean;
}

/**
 * An incoming handshake `hs` for a torrent with these names: what we answer, or null if it names another torrent.
 * A hybrid named by its v1 hash, with the upgrade bit, over plaintext, is upgraded to v2 (libtorrent does the same;
 * over MSE the name is fixed by the key exchange, so it is kept).
 */
export function answerIncoming(names: WireNames, hs: Handshake, encrypted: boolean): AgreedName | null {
  if (names.v2Truncated?.equals(hs.infoHash)) return { infoHash: names.v2Truncated, v2: true };
  if (!hs.infoHash.equals(names.infoHash)) return null;
  if (names.v2Only === true) return { infoHash: names.infoHash, v2: true };
  if (names.v2Truncated !== undefined && !encrypted && hasReserved(hs.reserved, ReservedBit.V2)) {
    return { infoHash: names.v2Truncated, v2: true };
  }
  return { infoHash: names.infoHash, v2: false };
}

/**
 * The answer `hs` to our dial (we sent `names.infoHash`): the agreed name, or null if it names another torrent. A
 * hybrid's peer may answer with the truncated v2 hash (it took our upgrade offer).
 */
export function acceptAnswer(names: WireNames, hs: Handshake): AgreedName | null {
  if (hs.infoHash.equals(names.infoHash)) return { infoHash: names.infoHash, v2: names.v2Only === true };
  if (names.v2Truncated?.equals(hs.infoHash)) return { infoHash: names.v2Truncated, v2: true };
  return null;
}

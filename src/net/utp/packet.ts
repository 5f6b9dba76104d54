/**
 * uTP packet codec (BEP 29): the 20-byte header, its extension chain, and validation. Pure; never throws on input.
 *
 * Header (big-endian): type << 4 | version (1), first extension type, connection_id (16 bits), timestamp_microseconds
 * and timestamp_difference_microseconds (32 bits each, wrapping), wnd_size (32 bits), seq_nr and ack_nr (16 bits
 * each, wrapping). Each extension is: next extension type (1 byte), length (1 byte), `length` bytes. Extension 1 is
 * the selective ACK: a bit mask whose bit i (byte i >> 3, bit i & 7, least significant first) says packet
 * ack_nr + 2 + i arrived. BEP 29 asks for a multiple of 4 bytes (libutp sends 4); libtorrent sends whole bytes, so
 * any length of at least 1 is accepted. Unknown extensions are skipped.
 *
 * Invariant: `decodePacket` returns a packet or a reason, for any bytes, reading only inside the buffer; the chain is
 * walked at most once per byte (each extension consumes at least 2), so its cost is bounded by the datagram's size.
 */

export const ST_DATA = 0;
export const ST_FIN = 1;
export const ST_STATE = 2;
export const ST_RESET = 3;
export const ST_SYN = 4;
export type UtpType = 0 | 1 | 2 | 3 | 4;

export const UTP_HEADER_BYTES = 20;
const EXT_SACK = 1;
/** Largest selective ACK mask we send (bytes; 256 packets past the cumulative ACK). */
export const MAX_SACK_BYTES = 32;

export const TYPE_NAMES = ['DATA', 'FIN', 'STATE', 'RESET', 'SYN'] as const;

export interface UtpPacket {
  type: UtpType;
  connectionId: number;
  timestampUs: number;
  timestampDiffUs: number;
  wndSize: number;
  seqNr: number;
  ackNr: number;
  /** Selective ACK mask, when the packet carries one (at least one byte). */
  sack?: Buffer | undefined;
  payload: Buffer;
}

export type DecodeResult = { ok: true; packet: UtpPacket } | { ok: false; reason: string };

/** Parse one datagram. Payload and SACK are views into `buf` (copy them to keep them past the datagram). */
export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < UTP_HEADER_BYTES) return { ok: false, reason: 'shorter than a uTP header' };
  const b0 = buf[0]!;
  const type = b0 >> 4;
  if ((b0 & 0x0f) !== 1) return { ok: false, reason: `unsupported uTP version ${b0 & 0x0f}` };
  if (type > ST_SYN) return { ok: false, reason: `unknown uTP packet type ${type}` };
  let ext = buf[1]!;
  let off = UTP_HEADER_BYTES;
  let sack: Buffer | undefined;
  while (ext !== 0) {
    if (off + 2 > buf.length) return { ok: false, reason: 'truncated uTP extension header' };
    const next = buf[off]!;
    const len = buf[off + 1]!;
    off += 2;
    if (off + len > buf.length) return { ok: false, reason: 'truncated uTP extension' };
    if (ext === EXT_SACK) {
      if (len === 0) return { ok: false, reason: 'empty selective ACK' };
      if (sack === undefined) sack = buf.subarray(off, off + len);
    }
    off += len;
    ext = next;
  }
  return {
    ok: true,
    packet: {
      type: type as UtpType,
      connectionId: buf.readUInt16BE(2),
      timestampUs: buf.readUInt32BE(4),
      timestampDiffUs: buf.readUInt32BE(8),
      wndSize: buf.readUInt32BE(12),
      seqNr: buf.readUInt16BE(16),
      ackNr: buf.readUInt16BE(18),
      sack,
      payload: buf.subarray(off),
    },
  };
}

/** Encode a packet (SACK, when given, as the one extension; 1..255 bytes). */
export function encodePacket(p: UtpPacket): Buffer {
  const sackLen = p.sack ? p.sack.length : 0;
  if (sackLen > 255) throw new RangeError('selective ACK longer than 255 bytes');
  const extBytes = sackLen > 0 ? 2 + sackLen : 0;
  const buf = Buffer.allocUnsafe(UTP_HEADER_BYTES + extBytes + p.payload.length);
  buf[0] = (p.type << 4) | 1;
  buf[1] = sackLen > 0 ? EXT_SACK : 0;
  buf.writeUInt16BE(p.connectionId & 0xffff, 2);
  buf.writeUInt32BE(p.timestampUs >>> 0, 4);
  buf.writeUInt32BE(p.timestampDiffUs >>> 0, 8);
  buf.writeUInt32BE(Math.max(0, Math.min(0xffffffff, p.wndSize)) >>> 0, 12);
  buf.writeUInt16BE(p.seqNr & 0xffff, 16);
  buf.writeUInt16BE(p.ackNr & 0xffff, 18);
  let off = UTP_HEADER_BYTES;
  if (sackLen > 0) {
    buf[off] = 0;
    buf[off + 1] = sackLen;
    p.sack!.copy(buf, off + 2);
    off += 2 + sackLen;
  }
  p.payload.copy(buf, off);
  return buf;
}

/** Signed distance a - b of two 16-bit sequence numbers, in -32768..32767. */
export function seqDiff(a: number, b: number): number {
  return ((a - b + 0x8000) & 0xffff) - 0x8000;
}

/** Signed distance a - b of two 32-bit microsecond timestamps. */
export function usDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Is packet ack_nr + 2 + i marked in `mask`? */
export function sackHas(mask: Buffer, i: number): boolean {
  const byte = i >> 3;
  return byte < mask.length && (mask[byte]! & (1 << (i & 7))) !== 0;
}

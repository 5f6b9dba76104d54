/**
 * IP address literals and compact peer addresses (the "compact" format of BEP 23, reused by BEP 10, BEP 11, BEP 5).
 *
 * The address literals themselves are parsed and formatted by src/util/ip.ts; `host:port` text by
 * src/util/peer-address.ts.
 *
 * Invariant:
 * - Compact form: 4 or 16 address bytes then a big-endian uint16 port (6 or 18 bytes). An IPv4-mapped IPv6 address
 *   is written in the 6-byte IPv4 form.
 */
import { formatIPv4, formatIPv6, isV4Mapped, parseIp } from '../../util/ip.js';

/** Bytes of one compact IPv4 peer (address + port). */
export const COMPACT_V4_LENGTH = 6;
/** Bytes of one compact IPv6 peer (address + port). */
export const COMPACT_V6_LENGTH = 18;

/** A host and port, the host in canonical text form. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Compact form of `host:port`: 6 bytes for IPv4 (and IPv4-mapped IPv6), 18 for IPv6.
 * @returns null when `host` is not an IP literal or `port` is not an integer in 1..65535.
 */
export function compactAddr(host: string, port: number): Buffer | null {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const b = parseIp(host);
  if (b === null) return null;
  if (b.length === 4 || isV4Mapped(b)) {
    const out = Buffer.alloc(COMPACT_V4_LENGTH);
    (b.length === 4 ? b : b.subarray(12)).copy(out, 0);
    out.writeUInt16BE(port, 4);
    return out;
  }
  const out = Buffer.alloc(COMPACT_V6_LENGTH);
  b.copy(out, 0);
  out.writeUInt16BE(port, 16);
  return out;
}

/**
 * Unpacks concatenated compact peers. Entries are returned as they are (port 0 included); callers filter.
 * @param family 4 for 6-byte entries, 6 for 18-byte entries.
 * @returns null when the length is not a multiple of the entry size.
 */
export function unpackCompact(buf: Buffer, family: 4 | 6): HostPort[] | null {
  const size = family === 4 ? COMPACT_V4_LENGTH : COMPACT_V6_LENGTH;
  if (buf.length % size !== 0) return null;
  const out: HostPort[] = [];
  for (let off = 0; off < buf.length; off += size) {
    const host = family === 4 ? formatIPv4(buf, off) : formatIPv6(buf, off);
    out.push({ host, port: buf.readUInt16BE(off + size - 2) });
  }
  return out;
}

/**
 * True for addresses no peer can listen on: unspecified (0.0.0.0, ::), IPv4 broadcast, multicast (224/4, ff00::/8),
 * and "this network" 0/8. Private and loopback ranges are NOT rejected here (that is a policy for the caller).
 */
export function isUnusableAddress(b: Buffer): boolean {
  if (b.length === 16 && isV4Mapped(b)) return isUnusableAddress(b.subarray(12));
  if (b.length === 4) {
    if (b[0] === 0) return true;
    if (b[0]! >= 224) return true; // multicast 224/4, reserved 240/4, broadcast
    return false;
  }
  if (b[0] === 0xff) return true;
  return b.every((x) => x === 0);
}

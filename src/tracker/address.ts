/**
 * IP address text ↔ bytes, and compact peer lists (BEP 23 for IPv4, BEP 7 for IPv6). Pure.
 *
 * Invariant: `normalizeIp` is the single canonical form used for identity. An IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`) becomes `1.2.3.4`; other IPv6 addresses are rewritten in RFC 5952 form (lower case, longest run
 * of zero groups compressed) with any zone id (`%eth0`) dropped. Text that is not an IP address is returned as is.
 */
import { formatIp, formatIPv4, isV4Mapped, parseIp } from '../util/ip.js';
import type { IpFamily, PeerAddress } from './types.js';

/**
 * Address bytes: 4 for IPv4, 16 for IPv6 (IPv4-mapped IPv6 gives 4). Null when `ip` is not an IP address.
 * Parsing is shared with the peer-wire helpers (src/util/ip.ts); a zone id (`%eth0`) is ignored.
 */
export function ipToBytes(ip: string): Buffer | null {
  const pct = ip.indexOf('%');
  const b = parseIp(pct >= 0 && ip.includes(':') ? ip.slice(0, pct) : ip);
  if (!b) return null;
  return isV4Mapped(b) ? Buffer.from(b.subarray(12)) : b;
}

/** Text of 4 or 16 address bytes (RFC 5952 for IPv6; an IPv4-mapped address gives IPv4 text). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${b.length}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (buf.length === 16 && isV4Mapped(buf)) return formatIPv4(buf, 12);
  return formatIp(buf);
}

/** The canonical text of an address (see the module invariant). Non-IP text comes back unchanged. */
export function normalizeIp(ip: string): string {
  const b = ipToBytes(ip);
  return b ? bytesToIp(b) : ip;
}

/** 4, 6, or null when `ip` is not an IP address. IPv4-mapped IPv6 counts as 4. */
export function ipFamily(ip: string): IpFamily | null {
  const b = ipToBytes(ip);
  if (!b) return null;
  return b.length === 4 ? 4 : 6;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: string): boolean {
  const b = ipToBytes(ip);
  if (!b) return false;
  if (b.length === 4) return b[0] === 127;
  return b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
}

/** True for 0.0.0.0 and :: (a bind-to-all address, not one a peer can dial). */
export function isUnspecified(ip: string): boolean {
  const b = ipToBytes(ip);
  return b !== null && b.every((x) => x === 0);
}

/**
 * Compact peer list of one family: 6 bytes (IPv4 + port) or 18 bytes (IPv6 + port) per entry, ports big-endian.
 * Peers of the other family, or whose host is not an IP address, are skipped.
 */
export function encodeCompactPeers(peers: Iterable<PeerAddress>, family: IpFamily): Buffer {
  const size = family === 4 ? 6 : 18;
  const parts: Buffer[] = [];
  for (const p of peers) {
    const b = ipToBytes(p.host);
    if (!b || b.length !== size - 2 || !Number.isInteger(p.port) || p.port < 0 || p.port > 0xffff) continue;
    const e = Buffer.alloc(size);
    b.copy(e, 0);
    e.writeUInt16BE(p.port, size - 2);
    parts.push(e);
  }
  return Buffer.concat(parts);
}

/**
 * Decodes a compact peer list. Returns null when the length is not a multiple of the entry size.
 * Entries with port 0 are dropped (nobody listens there).
 */
export function decodeCompactPeers(buf: Uint8Array, family: IpFamily): PeerAddress[] | null {
  const size = family === 4 ? 6 : 18;
  if (buf.length % size !== 0) return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const out: PeerAddress[] = [];
  for (let at = 0; at < b.length; at += size) {
    const port = b.readUInt16BE(at + size - 2);
    if (port === 0) continue;
    out.push({ host: bytesToIp(b.subarray(at, at + size - 2)), port });
  }
  return out;
}

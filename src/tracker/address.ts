/**
 * IP address text ↔ bytes, and compact peer lists (BEP 23 for IPv4, BEP 7 for IPv6). Pure.
 *
 * Invariant: `normalizeIp` is the single canonical form used for identity. An IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`) becomes `1.2.3.4`; other IPv6 addresses are rewritten in RFC 5952 form (lower case, longest run
 * of zero groups compressed) with any zone id (`%eth0`) dropped. Text that is not an IP address is returned as is.
 */
import type { IpFamily, PeerAddress } from './types.js';

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string, out: Buffer, at: number): boolean {
  const m = V4_RE.exec(s);
  if (!m) return false;
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1]!;
    if (part.length > 1 && part[0] === '0') return false; // no octal-looking leading zeros
    const n = Number(part);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

function parseV6(input: string): Buffer | null {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.length < 2 || s.length > 45) return null;
  const out = Buffer.alloc(16);
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null;
  const headText = dbl >= 0 ? s.slice(0, dbl) : s;
  const tailText = dbl >= 0 ? s.slice(dbl + 2) : '';
  const head = headText === '' ? [] : headText.split(':');
  const tail = tailText === '' ? [] : tailText.split(':');
  // An embedded IPv4 address may end the last group list.
  const groups: number[] = [];
  const all = dbl >= 0 ? [...head, '::', ...tail] : head;
  let v4Tail: Buffer | null = null;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    v4Tail = Buffer.alloc(4);
    if (!parseV4(last, v4Tail, 0)) return null;
    all.pop();
  }
  let gap = -1;
  for (const g of all) {
    if (g === '::') { gap = groups.length; continue; }
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    groups.push(parseInt(g, 16));
  }
  const needed = v4Tail ? 6 : 8;
  if (gap < 0 && groups.length !== needed) return null;
  if (gap >= 0 && groups.length > needed - 1) return null;
  const full: number[] = gap < 0 ? groups
    : [...groups.slice(0, gap), ...new Array<number>(needed - groups.length).fill(0), ...groups.slice(gap)];
  for (let i = 0; i < full.length; i++) out.writeUInt16BE(full[i]!, i * 2);
  if (v4Tail) v4Tail.copy(out, 12);
  return out;
}

const V4_MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** Address bytes: 4 for IPv4, 16 for IPv6 (IPv4-mapped IPv6 gives 4). Null when `ip` is not an IP address. */
export function ipToBytes(ip: string): Buffer | null {
  const v4 = Buffer.alloc(4);
  if (parseV4(ip, v4, 0)) return v4;
  if (!ip.includes(':')) return null;
  const v6 = parseV6(ip);
  if (!v6) return null;
  if (v6.subarray(0, 12).equals(V4_MAPPED_PREFIX)) return Buffer.from(v6.subarray(12));
  return v6;
}

/** Text of 4 or 16 address bytes (RFC 5952 for IPv6; an IPv4-mapped address gives IPv4 text). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new RangeError(`address must be 4 or 16 bytes, got ${b.length}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, 16);
  if (buf.subarray(0, 12).equals(V4_MAPPED_PREFIX)) return bytesToIp(buf.subarray(12));
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(buf.readUInt16BE(i * 2));
  // Longest run of zero groups (length ≥ 2), the first one on a tie.
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
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

/**
 * IP address literals: strict parsing to bytes and canonical formatting. Pure; shared by the peer address type
 * (peer-address.ts), the compact peer formats (src/wire/ext/ip.ts) and the tracker.
 *
 * Why our own: the pure layers may not import `node:net` (no `isIP`), and we need exact control: a peer-supplied
 * string is either a strict literal or nothing.
 *
 * Invariants:
 * - Parsing is strict: IPv4 is dotted-quad with decimal octets 0..255 and no leading zeros; IPv6 is RFC 4291 text
 *   (hex groups, at most one `::`, optional dotted IPv4 tail), without brackets or zone ids. Anything else is null.
 * - Formatting is canonical: IPv4 dotted-quad, IPv6 per RFC 5952 (lowercase, longest zero run compressed, IPv4-mapped
 *   as `::ffff:a.b.c.d`). So `formatIp(parseIp(s))` is the one canonical spelling of an address.
 */

/** Parses a dotted-quad IPv4 literal into 4 bytes, or null. */
export function parseIPv4(s: string): Buffer | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return null;
    if (p.length > 1 && p[0] === '0') return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IPv6 literal (no brackets, no zone) into 16 bytes, or null. */
export function parseIPv6(s: string): Buffer | null {
  if (s.length < 2 || s.length > 45) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const parseSide = (side: string, v4Tail: boolean): number[] | null => {
    if (side === '') return [];
    const groups = side.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (v4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === null) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let words: number[];
  if (dbl === -1) {
    const all = parseSide(s, true);
    if (all === null || all.length !== 8) return null;
    words = all;
  } else {
    const head = parseSide(s.slice(0, dbl), false);
    const tail = parseSide(s.slice(dbl + 2), true);
    if (head === null || tail === null) return null;
    // A dotted IPv4 part may only end the address: "::1.2.3.4" is fine, "1.2.3.4::" is not.
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  }
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(words[i]!, i * 2);
  return out;
}

/** Parses an IPv4 or IPv6 literal into 4 or 16 bytes, or null. */
export function parseIp(s: string): Buffer | null {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

/** True when 16 bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export function isV4Mapped(b: Buffer): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Formats 4 bytes at `off` as dotted-quad. */
export function formatIPv4(b: Buffer, off = 0): string {
  return `${b[off]!}.${b[off + 1]!}.${b[off + 2]!}.${b[off + 3]!}`;
}

/** Formats 16 bytes at `off` as canonical IPv6 text (RFC 5952). */
export function formatIPv6(b: Buffer, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(off + i * 2));
  if (isV4Mapped(b.subarray(off, off + 16))) return `::ffff:${formatIPv4(b, off + 12)}`;
  // Longest run of two or more zero words (the first one on a tie) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestAt === -1) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** Formats 4 or 16 address bytes. */
export function formatIp(b: Buffer): string {
  return b.length === 4 ? formatIPv4(b) : formatIPv6(b);
}

/**
 * The canonical text of an address literal (IPv4-mapped IPv6 becomes plain IPv4), or null if `host` is not a
 * strict IPv4/IPv6 literal.
 */
export function canonicalHost(host: string): string | null {
  const b = parseIp(host);
  if (b === null) return null;
  return isV4Mapped(b) ? formatIPv4(b, 12) : formatIp(b);
}

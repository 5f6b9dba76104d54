/**
 * Local Service Discovery datagrams (BEP 14): an HTTP-like `BT-SEARCH` request sent to a multicast group.
 *
 *   BT-SEARCH * HTTP/1.1\r\n
 *   Host: 239.192.152.143:6771\r\n
 *   Port: <listen port>\r\n
 *   Infohash: <40 hex>\r\n          (one or more, consecutive)
 *   cookie: <opaque token>\r\n      (optional; lets a sender recognise its own announces)
 *   \r\n
 *   \r\n
 *
 * Pure: no I/O.
 *
 * Invariants:
 * - Every datagram we encode is under {@link LSD_MAX_DATAGRAM} bytes (BEP 14: "should not exceed 1400").
 * - `parseLsdAnnounce` never throws and is strict: ≤ 1400 bytes of printable ASCII (plus CR, LF, tab), the request
 *   line `BT-SEARCH * HTTP/1.x`, ≤ {@link LSD_MAX_HEADERS} well-formed header lines (up to the first empty line; what
 *   follows it is ignored), exactly one port value (1..65535, decimal), at least one info-hash, every info-hash 40 hex
 *   digits. Anything else is null. Header names are case-insensitive (HTTP); unknown headers are ignored (BEP 14),
 *   and so is a malformed cookie (it only serves to spot our own announces). Info-hashes come out lowercase and
 *   de-duplicated.
 */

/** The LSD UDP port. */
export const LSD_PORT = 6771;
/** IPv4 multicast group (organisation-local scope). */
export const LSD_GROUP_V4 = '239.192.152.143';
/** IPv6 multicast group (site-local scope). */
export const LSD_GROUP_V6 = 'ff15::efc0:988f';
/** `Host` header value for IPv4 announces. */
export const LSD_HOST_V4 = '239.192.152.143:6771';
/** `Host` header value for IPv6 announces. */
export const LSD_HOST_V6 = '[ff15::efc0:988f]:6771';
/** Datagrams must be smaller than this (we encode at most LSD_MAX_DATAGRAM - 1 bytes and parse at most this many). */
export const LSD_MAX_DATAGRAM = 1400;
/** Most header lines we read in one announce (Host, Port, cookie and up to ~25 info-hashes fit 1400 bytes). */
export const LSD_MAX_HEADERS = 40;
/** Longest cookie we send or accept. */
export const LSD_MAX_COOKIE = 64;

/** What an announce carries. */
export interface LsdAnnounce {
  /** Our TCP listen port, 1..65535. */
  port: number;
  /** Info-hashes as 40 hex digits (lowercase when parsed). */
  infoHashes: string[];
  /** Opaque token identifying the sender. */
  cookie?: string;
}

/** Input of {@link encodeLsdAnnounce}. */
export interface LsdAnnounceInput extends LsdAnnounce {
  /** The `Host` header: {@link LSD_HOST_V4} or {@link LSD_HOST_V6}. */
  host: typeof LSD_HOST_V4 | typeof LSD_HOST_V6;
}

const HEX40 = /^[0-9a-fA-F]{40}$/;
const COOKIE = /^[\x21-\x7e]+$/;

/** True when `s` is a valid cookie: 1..64 printable ASCII characters without spaces. */
export function isValidLsdCookie(s: string): boolean {
  return s.length >= 1 && s.length <= LSD_MAX_COOKIE && COOKIE.test(s);
}

/** True when `s` is a 40-digit hex info-hash (either case). */
export function isHexInfoHash(s: string): boolean {
  return HEX40.test(s);
}

function checkInput(a: Omit<LsdAnnounceInput, 'infoHashes'>): void {
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new RangeError(`LSD port must be 1..65535, got ${a.port}`);
  if (a.host !== LSD_HOST_V4 && a.host !== LSD_HOST_V6) throw new RangeError(`LSD host must be ${LSD_HOST_V4} or ${LSD_HOST_V6}`);
  if (a.cookie !== undefined && !isValidLsdCookie(a.cookie)) throw new RangeError('LSD cookie must be 1..64 printable ASCII characters');
}

function render(head: string, hashes: string[], tail: string): string {
  return head + hashes.map((h) => `Infohash: ${h.toLowerCase()}\r\n`).join('') + tail;
}

function parts(a: Omit<LsdAnnounceInput, 'infoHashes'>): [string, string] {
  const head = `BT-SEARCH * HTTP/1.1\r\nHost: ${a.host}\r\nPort: ${a.port}\r\n`;
  const tail = `${a.cookie !== undefined ? `cookie: ${a.cookie}\r\n` : ''}\r\n\r\n`;
  return [head, tail];
}

/**
 * Encodes one announce datagram carrying every info-hash given.
 * @throws RangeError for a bad port, host, cookie or info-hash, no info-hash, or a datagram of 1400 bytes or more
 *   (use {@link encodeLsdAnnounces} to split).
 */
export function encodeLsdAnnounce(a: LsdAnnounceInput): Buffer {
  checkInput(a);
  if (a.infoHashes.length === 0) throw new RangeError('LSD announce needs at least one info-hash');
  for (const h of a.infoHashes) if (!isHexInfoHash(h)) throw new RangeError(`not a hex info-hash: ${JSON.stringify(h)}`);
  const [head, tail] = parts(a);
  const s = render(head, a.infoHashes, tail);
  if (s.length >= LSD_MAX_DATAGRAM) throw new RangeError(`LSD announce of ${s.length} bytes is too large`);
  return Buffer.from(s, 'latin1');
}

/**
 * Encodes as few datagrams as possible, each under 1400 bytes, carrying all the info-hashes in order, at most
 * `perDatagram` per datagram (default: as many as fit).
 * @throws RangeError as {@link encodeLsdAnnounce} does.
 */
export function encodeLsdAnnounces(a: LsdAnnounceInput, perDatagram = Infinity): Buffer[] {
  checkInput(a);
  const [head, tail] = parts(a);
  const room = Math.floor((LSD_MAX_DATAGRAM - 1 - head.length - tail.length) / 52); // "Infohash: " + 40 + CRLF
  const n = Math.max(1, Math.min(room, perDatagram));
  const out: Buffer[] = [];
  for (let i = 0; i < a.infoHashes.length; i += n) {
    out.push(encodeLsdAnnounce({ ...a, infoHashes: a.infoHashes.slice(i, i + n) }));
  }
  return out;
}

/**
 * Parses an announce datagram. Returns null for anything that is not a valid BEP 14 announce (see the module
 * comment for the rules). Never throws.
 */
export function parseLsdAnnounce(buf: Buffer): LsdAnnounce | null {
  if (buf.length === 0 || buf.length > LSD_MAX_DATAGRAM) return null;
  for (const c of buf) {
    if ((c < 0x20 && c !== 0x0d && c !== 0x0a && c !== 0x09) || c > 0x7e) return null;
  }
  const text = buf.toString('latin1');
  // Header section: up to the first empty line (or the end). Lines end with CRLF (a bare LF is tolerated).
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  let end = lines.indexOf('');
  if (end === -1) end = lines.length;
  if (end < 1) return null; // no request line
  if (!/^BT-SEARCH \* HTTP\/1\.[01]$/i.test(lines[0]!)) return null;
  if (end - 1 > LSD_MAX_HEADERS) return null;

  let port: number | undefined;
  let cookie: string | undefined;
  const hashes: string[] = [];
  for (let i = 1; i < end; i++) {
    const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+):[ \t]*(.*?)[ \t]*$/.exec(lines[i]!);
    if (m === null) return null;
    const name = m[1]!.toLowerCase();
    const value = m[2]!;
    if (name === 'port') {
      if (!/^[0-9]{1,5}$/.test(value)) return null;
      const p = Number(value);
      if (p < 1 || p > 65535) return null;
      if (port !== undefined && port !== p) return null;
      port = p;
    } else if (name === 'infohash') {
      if (!isHexInfoHash(value)) return null;
      const h = value.toLowerCase();
      if (!hashes.includes(h)) hashes.push(h);
    } else if (name === 'cookie') {
      // Only used to recognise our own announces (ours are always valid), so an odd cookie is just ignored.
      if (cookie === undefined && isValidLsdCookie(value)) cookie = value;
    }
  }
  if (port === undefined || hashes.length === 0) return null;
  return cookie === undefined ? { port, infoHashes: hashes } : { port, infoHashes: hashes, cookie };
}

/**
 * HTTP tracker codec, server side (BEP 3 announce, BEP 23 compact peers, BEP 7 `peers6`, BEP 48 scrape). Pure.
 *
 * Invariants:
 * - Parsing never throws: any query string gives `{ ok }` or `{ failure }`, and the work is bounded (at most
 *   MAX_QUERY_PARAMS parameters, query length ≤ MAX_QUERY_LENGTH).
 * - The query is binary-safe: it is taken as a latin1 string (one char per byte, as read off the socket), `%XX`
 *   escapes give raw bytes, `+` is a space (form encoding). A bad escape (`%zz`, a lone `%`) fails the request.
 * - `info_hash` and `peer_id` must decode to exactly 20 bytes. The `ip`/`ipv4`/`ipv6` parameters are ignored: a
 *   peer is always recorded at the request's source address.
 * - Numbers are plain decimal digits (no sign, exponent or fraction). uploaded/downloaded/left above 2^53 are clamped
 *   to Number.MAX_SAFE_INTEGER. `numwant`: a negative integer (e.g. `-1`, BEP 15's "default") means the default; a
 *   huge one is capped later by the swarm; anything else non-decimal (`1e9`, `abc`) fails the request.
 * - A known parameter given twice fails the request (for `info_hash` in scrape, repeating is the point).
 */
import { encode } from '../bencode/index.js';
import type { Encodable } from '../bencode/index.js';
import { encodeCompactPeers, ipFamily, normalizeIp } from './address.js';
import type { AnnounceRequest, AnnounceResult, SwarmScrapeEntry } from './swarm.js';
import type { TrackerEvent } from './types.js';

/** Longest query accepted (characters = bytes). */
export const MAX_QUERY_LENGTH = 8192;
/** Most `name=value` pairs read from one query. */
export const MAX_QUERY_PARAMS = 100;
/** Most info-hashes answered in one scrape (more are ignored). */
export const MAX_SCRAPE_HASHES = 74;
/** Longest `key` parameter kept. */
export const MAX_KEY_LENGTH = 64;

/** Result of parsing a query: a value, or the failure reason to send back. */
export type ParseResult<T> = { ok: T } | { failure: string };

/** Percent-decodes a query component to raw bytes. Null on a bad escape or a char above 0xff. */
export function percentDecode(s: string): Buffer | null {
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) { // %
      if (i + 2 >= s.length) return null;
      const h = hexVal(s.charCodeAt(i + 1));
      const l = hexVal(s.charCodeAt(i + 2));
      if (h < 0 || l < 0) return null;
      out[n++] = (h << 4) | l;
      i += 2;
    } else if (c === 0x2b) { // +
      out[n++] = 0x20;
    } else if (c > 0xff) {
      return null;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Splits and decodes a query into (name, value) pairs, in order. */
function splitQuery(query: string): ParseResult<Array<[string, Buffer]>> {
  if (query.length > MAX_QUERY_LENGTH) return { failure: 'query too long' };
  const pairs: Array<[string, Buffer]> = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    if (pairs.length >= MAX_QUERY_PARAMS) return { failure: 'too many query parameters' };
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const name = percentDecode(rawName);
    const value = percentDecode(rawValue);
    if (!name || !value) return { failure: 'invalid percent-encoding in query' };
    pairs.push([name.toString('latin1'), value]);
  }
  return { ok: pairs };
}

const DIGITS = /^[0-9]{1,20}$/;

function parseCount(v: Buffer): number | null {
  const s = v.toString('latin1');
  if (!DIGITS.test(s)) return null;
  return Math.min(Number(s), Number.MAX_SAFE_INTEGER);
}

const EVENTS: Record<string, TrackerEvent> = {
  '': '', empty: '', paused: '', started: 'started', completed: 'completed', stopped: 'stopped',
};

const ANNOUNCE_KEYS = new Set(['info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant',
  'compact', 'no_peer_id', 'key']);

/**
 * Parses the query of `GET /announce?…` (without the `?`). `sourceIp` is the TCP peer's address; it is what gets
 * recorded (IPv4-mapped IPv6 is normalised). Unknown parameters (including `ip`, `trackerid`, `corrupt`…) are ignored.
 * Defaults: compact=1, no_peer_id=0, uploaded=downloaded=0, left missing = not a seed, event none, numwant default.
 */
export function parseAnnounceQuery(query: string, sourceIp: string): ParseResult<AnnounceRequest> {
  const split = splitQuery(query);
  if ('failure' in split) return split;
  const got = new Map<string, Buffer>();
  for (const [name, value] of split.ok) {
    if (!ANNOUNCE_KEYS.has(name)) continue;
    if (got.has(name)) return { failure: `duplicate parameter ${name}` };
    got.set(name, value);
  }
  const infoHash = got.get('info_hash');
  if (!infoHash) return { failure: 'missing info_hash' };
  if (infoHash.length !== 20) return { failure: 'invalid info_hash (must be 20 bytes)' };
  const peerId = got.get('peer_id');
  if (!peerId) return { failure: 'missing peer_id' };
  if (peerId.length !== 20) return { failure: 'invalid peer_id (must be 20 bytes)' };

  const portRaw = got.get('port');
  if (!portRaw) return { failure: 'missing port' };
  const port = parseCount(portRaw);
  if (port === null || port < 1 || port > 65535) return { failure: 'invalid port' };

  const counts: Record<'uploaded' | 'downloaded' | 'left', number> = { uploaded: 0, downloaded: 0, left: 0 };
  for (const k of ['uploaded', 'downloaded', 'left'] as const) {
    const raw = got.get(k);
    if (!raw) { counts[k] = k === 'left' ? Number.MAX_SAFE_INTEGER : 0; continue; }
    const n = parseCount(raw);
    if (n === null) return { failure: `invalid ${k}` };
    counts[k] = n;
  }

  const eventRaw = got.get('event')?.toString('latin1') ?? '';
  const event = Object.hasOwn(EVENTS, eventRaw) ? EVENTS[eventRaw]! : undefined;
  if (event === undefined) return { failure: 'invalid event' };

  let numwant: number | undefined;
  const nw = got.get('numwant')?.toString('latin1');
  if (nw !== undefined) {
    if (/^-[0-9]{1,20}$/.test(nw)) numwant = undefined;
    else if (DIGITS.test(nw)) numwant = Math.min(Number(nw), Number.MAX_SAFE_INTEGER);
    else return { failure: 'invalid numwant' };
  }

  const flag = (name: string, dflt: boolean): boolean | null => {
    const v = got.get(name)?.toString('latin1');
    if (v === undefined) return dflt;
    if (v === '1') return true;
    if (v === '0') return false;
    return null;
  };
  const compact = flag('compact', true);
  if (compact === null) return { failure: 'invalid compact' };
  const noPeerId = flag('no_peer_id', false);
  if (noPeerId === null) return { failure: 'invalid no_peer_id' };

  const keyRaw = got.get('key');
  if (keyRaw && keyRaw.length > MAX_KEY_LENGTH) return { failure: 'invalid key' };

  const req: AnnounceRequest = {
    infoHash: Buffer.from(infoHash), peerId: Buffer.from(peerId), ip: normalizeIp(sourceIp), port,
    uploaded: counts.uploaded, downloaded: counts.downloaded, left: counts.left, event, numwant, compact, noPeerId,
  };
  if (keyRaw) req.key = keyRaw.toString('latin1');
  return { ok: req };
}

/**
 * Parses the query of `GET /scrape?…`: one or more `info_hash` (20 bytes each). No info_hash is refused (we never
 * dump every torrent). Duplicates are merged; beyond MAX_SCRAPE_HASHES the rest are ignored.
 */
export function parseScrapeQuery(query: string): ParseResult<Buffer[]> {
  const split = splitQuery(query);
  if ('failure' in split) return split;
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const [name, value] of split.ok) {
    if (name !== 'info_hash') continue;
    if (value.length !== 20) return { failure: 'invalid info_hash (must be 20 bytes)' };
    const hex = value.toString('hex');
    if (seen.has(hex) || out.length >= MAX_SCRAPE_HASHES) continue;
    seen.add(hex);
    out.push(Buffer.from(value));
  }
  if (out.length === 0) return { failure: 'scrape needs at least one info_hash' };
  return { ok: out };
}

/**
 * Bencodes an announce response. compact: IPv4 peers in `peers` (6 bytes each, BEP 23), IPv6 peers in `peers6`
 * (18 bytes each, BEP 7; the key is present only when there are IPv6 peers). Otherwise the dictionary model:
 * `peers` is a list of `{ ip, peer id, port }` (`peer id` left out with noPeerId).
 */
export function encodeAnnounceResponse(result: AnnounceResult, opts: { compact: boolean; noPeerId: boolean }): Buffer {
  const dict: Record<string, Encodable | undefined> = {
    complete: result.complete,
    incomplete: result.incomplete,
    interval: result.interval,
    'min interval': result.minInterval,
  };
  if (opts.compact) {
    const addrs = result.peers.map((p) => ({ host: p.ip, port: p.port }));
    dict.peers = encodeCompactPeers(addrs, 4);
    const v6 = result.peers.some((p) => ipFamily(p.ip) === 6) ? encodeCompactPeers(addrs, 6) : undefined;
    if (v6 && v6.length > 0) dict.peers6 = v6;
  } else {
    dict.peers = result.peers.map((p) => (opts.noPeerId ? { ip: p.ip, port: p.port }
      : { ip: p.ip, 'peer id': p.peerId, port: p.port }));
  }
  return encode(dict);
}

/** Bencodes `{ failure reason }` (BEP 3). */
export function encodeFailure(reason: string): Buffer {
  return encode({ 'failure reason': reason });
}

/** Bencodes a scrape response (BEP 48): `files` maps each raw 20-byte info-hash to its three counts. */
export function encodeScrapeResponse(files: SwarmScrapeEntry[]): Buffer {
  const map = new Map<string, Encodable>();
  for (const f of files) {
    map.set(f.infoHash.toString('latin1'), { complete: f.complete, downloaded: f.downloaded, incomplete: f.incomplete });
  }
  return encode({ files: map });
}

/**
 * HTTP(S) tracker client: announce (BEP 3, compact peers BEP 23, IPv6 peers BEP 7) and scrape (BEP 48).
 *
 * Invariants:
 * - Every request is bounded: a timeout (AbortSignal-based, 15 s by default), a response-size cap enforced while
 *   streaming (1 MiB by default, reliability rule 6 in docs/design/reliability.md; the socket is destroyed the moment
 *   the cap is passed), a redirect cap (3), and a bencode depth (8) and token cap on the answer.
 * - Only http, https and udp tracker URLs are accepted, redirects only to http/https, and both pass the outbound
 *   URL policy of client-common.ts (reliability rule 12 in docs/design/reliability.md).
 * - Binary values (info_hash, peer_id, tracker id) are percent-encoded byte by byte; nothing is read as UTF-8.
 * - A `failure reason` becomes `BtError('TRACKER', reason)`; transport failures are `BtError('TRACKER')` too, except
 *   our timeout (`TIMEOUT`) and the caller's abort (`ABORTED`).
 * - The answer is validated here (intervals, counts, peers: see {@link parseAnnounceBody}); the announcer clamps.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type * as Zlib from 'node:zlib';
import { decode, getBytes, getDict, getInt, isBytes, isDict, isList } from '../bencode/index.js';
import type { BDict } from '../bencode/index.js';
import { systemClock } from '../platform/clock.js';
import type { Clock } from '../util/clock.js';
import { BtError, errorMessage, isBtError } from '../util/errors.js';
import { normalizeIp } from './address.js';
import {
  cleanMessage, DEFAULT_MAX_PEERS, joinWarnings, MAX_TRACKER_ID_BYTES, PeerCollector, readCompactPeers, requireTrackerUrl,
} from './client-common.js';
import type { AnnounceParams, AnnounceResponse, ScrapeEntry, ScrapeResult } from './client-common.js';

export type { AnnounceParams, AnnounceResponse, ScrapeEntry, ScrapeResult, TrackerPeer } from './client-common.js';

/**
 * node:http, node:https (with TLS) and node:zlib, loaded synchronously at the first request: importing them costs
 * ~13 ms of every process start (docs/design/performance.md, "Start-up"), and a session without HTTP trackers never
 * needs them.
 */
const loadBuiltin = createRequire(import.meta.url);
let httpModules: { http: typeof Http; https: typeof Https; zlib: typeof Zlib } | undefined;
function httpBuiltins(): { http: typeof Http; https: typeof Https; zlib: typeof Zlib } {
  httpModules ??= {
    http: loadBuiltin('node:http') as typeof Http,
    https: loadBuiltin('node:https') as typeof Https,
    zlib: loadBuiltin('node:zlib') as typeof Zlib,
  };
  return httpModules;
}

/** Options of {@link announceHttp} and {@link scrapeHttp}. */
export interface HttpTrackerOptions {
  /** Cancels the request (rejects with `BtError('ABORTED')`). */
  signal?: AbortSignal;
  /** Whole-request deadline including redirects (default 15,000 ms; rejects with `BtError('TIMEOUT')`). */
  timeoutMs?: number;
  /** Largest response body accepted (default 1 MiB). */
  maxResponseBytes?: number;
  /** Redirects followed (default 3). */
  maxRedirects?: number;
  /** Peers taken from one answer (default 200). */
  maxPeers?: number;
  /** The deadline's timer (default the system clock of src/platform/clock.ts). */
  clock?: Clock;
}

export const HTTP_DEFAULTS = {
  timeoutMs: 15_000,
  maxResponseBytes: 1024 * 1024,
  maxRedirects: 3,
} as const;

/** Depth and token caps for tracker answers (reliability rule 2 in docs/design/reliability.md; depth 8 as Transmission). */
export const TRACKER_MAX_DEPTH = 8;
export const TRACKER_MAX_TOKENS = 50_000;
/** Most info-hashes in one HTTP scrape (keeps the URL reasonable). */
export const MAX_HTTP_SCRAPE_HASHES = 100;

const USER_AGENT = 'bitpeer/0.1';

/** Percent-encodes raw bytes: unreserved characters (RFC 3986) stay, every other byte becomes `%XX`. */
export function percentEncodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
      || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function nonNegInt(n: number): string {
  return String(Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
}

/** Appends `query` to a URL that may already carry a query string (private trackers put passkeys there). */
function withQuery(u: URL, query: string): string {
  const base = new URL(u.href);
  base.hash = '';
  const href = base.href;
  return `${href}${base.search === '' ? (href.endsWith('?') ? '' : '?') : '&'}${query}`;
}

/** The full announce URL for `params` (BEP 3 parameters; `key` as 8 hex digits, as libtorrent sends it). */
export function buildAnnounceUrl(url: string, params: AnnounceParams): string {
  const u = requireTrackerUrl(url);
  const q = [
    `info_hash=${percentEncodeBytes(params.infoHash)}`,
    `peer_id=${percentEncodeBytes(params.peerId)}`,
    `port=${nonNegInt(params.port)}`,
    `uploaded=${nonNegInt(params.uploaded)}`,
    `downloaded=${nonNegInt(params.downloaded)}`,
    `left=${nonNegInt(params.left)}`,
    `key=${(params.key >>> 0).toString(16).padStart(8, '0')}`,
    'compact=1',
  ];
  if (params.event !== '') q.push(`event=${params.event}`);
  if (params.numwant !== undefined) q.push(`numwant=${nonNegInt(params.numwant)}`);
  if (params.trackerId !== undefined) q.push(`trackerid=${percentEncodeBytes(Buffer.from(params.trackerId, 'latin1'))}`);
  return withQuery(u, q.join('&'));
}

/**
 * The scrape URL for an announce URL (BEP 48 convention): the last path segment must start with `announce`, which
 * becomes `scrape`; anything after it and the query are kept. Undefined when the tracker has no scrape URL (or is
 * not http/https).
 */
export function scrapeUrlFor(announceUrl: string): string | undefined {
  let u: URL;
  try {
    u = new URL(announceUrl);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  const slash = u.pathname.lastIndexOf('/');
  const last = u.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return undefined;
  u.pathname = `${u.pathname.slice(0, slash + 1)}scrape${last.slice('announce'.length)}`;
  u.hash = '';
  return u.href;
}

/** Decodes a tracker body with the tracker limits; a non-dictionary is an error. */
function decodeTrackerDict(body: Buffer): BDict {
  let value;
  try {
    // Lenient where it is harmless: trailing bytes (some trackers add a newline) and leading zeros.
    value = decode(body, {
      maxDepth: TRACKER_MAX_DEPTH, maxTokens: TRACKER_MAX_TOKENS, allowTrailing: true, leadingZeros: 'soft',
    }).value;
  } catch (e) {
    throw new BtError('TRACKER', `malformed tracker response: ${errorMessage(e)}`, { cause: e });
  }
  if (!isDict(value)) throw new BtError('TRACKER', 'malformed tracker response: not a dictionary');
  return value;
}

/** Throws `BtError('TRACKER', reason)` when the answer carries a `failure reason`. */
function throwIfFailure(d: BDict): void {
  const failure = getBytes(d, 'failure reason');
  if (failure !== undefined) {
    throw new BtError('TRACKER', cleanMessage(failure.toString('utf8')) || 'tracker failure (no reason given)');
  }
}

function optionalCount(d: BDict, key: string): number | undefined {
  const v = getInt(d, key);
  return v !== undefined && v >= 0 ? v : undefined;
}

/**
 * Validates a bencoded announce answer (pure; exported for tests and other transports).
 * - `failure reason` → `BtError('TRACKER', reason)`.
 * - `interval` must be a non-negative integer (a negative one is an error); a missing one defaults to 1800 s.
 *   `min interval` that is missing, negative or not an integer is ignored.
 * - `peers` as a compact string (BEP 23) or a list of `{ip, port}` dictionaries (IP literals only: a host name from
 *   a tracker is not resolved); `peers6` as compact 18-byte entries (BEP 7). Compact lengths that are not a
 *   multiple of the entry size are truncated and noted in `warning`. Port 0, duplicates and peers beyond `maxPeers`
 *   are dropped.
 */
export function parseAnnounceBody(body: Buffer, maxPeers = DEFAULT_MAX_PEERS): AnnounceResponse {
  const d = decodeTrackerDict(body);
  throwIfFailure(d);

  const rawInterval = d.get('interval');
  let interval = 1800;
  if (rawInterval !== undefined) {
    if (typeof rawInterval !== 'number' || rawInterval < 0) {
      throw new BtError('TRACKER', 'malformed tracker response: invalid interval');
    }
    interval = rawInterval;
  }
  const out: AnnounceResponse = { interval, peers: [] };
  const minInterval = optionalCount(d, 'min interval');
  if (minInterval !== undefined) out.minInterval = minInterval;
  const complete = optionalCount(d, 'complete');
  if (complete !== undefined) out.complete = complete;
  const incomplete = optionalCount(d, 'incomplete');
  if (incomplete !== undefined) out.incomplete = incomplete;
  const trackerId = getBytes(d, 'tracker id');
  if (trackerId !== undefined && trackerId.length > 0 && trackerId.length <= MAX_TRACKER_ID_BYTES) {
    out.trackerId = trackerId.toString('latin1');
  }

  const collector = new PeerCollector(maxPeers);
  const notes: Array<string | undefined> = [];
  const warning = getBytes(d, 'warning message');
  if (warning !== undefined) notes.push(cleanMessage(warning.toString('utf8')));
  const peers = d.get('peers');
  if (isBytes(peers)) {
    notes.push(readCompactPeers(peers, 4, collector));
  } else if (isList(peers)) {
    for (const p of peers) {
      if (collector.full) break;
      if (!isDict(p)) continue;
      const ip = getBytes(p, 'ip');
      const port = getInt(p, 'port');
      if (ip === undefined || port === undefined) continue;
      const host = ip.toString('latin1');
      if (isIP(host) === 0) continue;
      collector.add(normalizeIp(host), port);
    }
  }
  const peers6 = d.get('peers6');
  if (isBytes(peers6)) notes.push(readCompactPeers(peers6, 6, collector));
  out.peers = collector.peers;
  const w = joinWarnings(notes);
  if (w !== undefined) out.warning = w;
  return out;
}

/** Validates a bencoded scrape answer (BEP 48); keeps only the requested hashes when `wanted` is given. */
export function parseScrapeBody(body: Buffer, wanted?: readonly Buffer[]): ScrapeResult {
  const d = decodeTrackerDict(body);
  throwIfFailure(d);
  const files = getDict(d, 'files');
  if (files === undefined) throw new BtError('TRACKER', 'malformed scrape response: no files dictionary');
  const want = wanted === undefined ? undefined : new Set(wanted.map((h) => h.toString('hex')));
  const out: ScrapeResult = new Map();
  for (const [key, v] of files) {
    if (key.length !== 20 || !isDict(v)) continue;
    const hex = Buffer.from(key, 'latin1').toString('hex');
    if (want !== undefined && !want.has(hex)) continue;
    const entry: ScrapeEntry = {
      complete: optionalCount(v, 'complete') ?? 0,
      downloaded: optionalCount(v, 'downloaded') ?? 0,
      incomplete: optionalCount(v, 'incomplete') ?? 0,
    };
    out.set(hex, entry);
  }
  return out;
}

interface RawResponse {
  status: number;
  statusText: string;
  body: Buffer;
}

interface Limits {
  maxResponseBytes: number;
  maxRedirects: number;
}

/** One GET, no redirects followed: resolves with the body, or with `location` for a redirect. */
function getOnce(u: URL, limits: Limits, signal: AbortSignal): Promise<RawResponse & { location?: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: unknown, value?: RawResponse & { location?: string }): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const onAbort = (): void => done(signal.reason);
    const { http, https, zlib } = httpBuiltins();
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(u, {
      method: 'GET',
      agent: false,
      headers: { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'gzip, identity', Connection: 'close' },
    });
    // The error listener goes first: destroying the request below emits 'error', which must never be unhandled.
    req.on('error', (e) => done(new BtError('TRACKER', `tracker request failed: ${errorMessage(e)}`, { cause: e })));
    if (signal.aborted) {
      done(signal.reason);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const statusText = res.statusMessage ?? '';
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location !== undefined) {
        res.resume();
        done(undefined, { status, statusText, body: Buffer.alloc(0), location });
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxResponseBytes) {
        done(new BtError('TRACKER', `tracker response too large (${declared} bytes declared)`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > limits.maxResponseBytes) {
          done(new BtError('TRACKER', `tracker response larger than ${limits.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (e) => done(new BtError('TRACKER', `tracker response failed: ${errorMessage(e)}`, { cause: e })));
      res.on('end', () => {
        if (settled) return;
        let body = Buffer.concat(chunks, total);
        const enc = String(res.headers['content-encoding'] ?? '').toLowerCase();
        try {
          if (enc === 'gzip' || enc === 'x-gzip') body = zlib.gunzipSync(body, { maxOutputLength: limits.maxResponseBytes });
          else if (enc === 'deflate') body = zlib.inflateSync(body, { maxOutputLength: limits.maxResponseBytes });
        } catch (e) {
          done(new BtError('TRACKER', `tracker response could not be decompressed: ${errorMessage(e)}`, { cause: e }));
          return;
        }
        done(undefined, { status, statusText, body });
      });
    });
    req.end();
  });
}

/** GET with the redirect cap, a deadline, and the caller's signal. */
async function httpGet(url: string, opts: HttpTrackerOptions): Promise<RawResponse> {
  const timeoutMs = opts.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const limits: Limits = {
    maxResponseBytes: opts.maxResponseBytes ?? HTTP_DEFAULTS.maxResponseBytes,
    maxRedirects: opts.maxRedirects ?? HTTP_DEFAULTS.maxRedirects,
  };
  const ac = new AbortController();
  const clock = opts.clock ?? systemClock;
  const timer = clock.setTimeout(() => ac.abort(new BtError('TIMEOUT', `tracker did not answer within ${timeoutMs} ms`)),
    timeoutMs);
  const outer = opts.signal;
  const onOuterAbort = (): void => ac.abort(new BtError('ABORTED', 'tracker request cancelled'));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    let current = requireTrackerUrl(url);
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new BtError('TRACKER', `not an http(s) tracker: ${current.protocol}`);
    }
    for (let hops = 0; ; hops++) {
      const r = await getOnce(current, limits, ac.signal);
      if (r.location === undefined) return r;
      if (hops >= limits.maxRedirects) throw new BtError('TRACKER', `too many redirects (more than ${limits.maxRedirects})`);
      let next: URL;
      try {
        next = new URL(r.location, current);
      } catch {
        throw new BtError('TRACKER', 'redirect to an invalid URL');
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new BtError('TRACKER', `redirect to an unsupported scheme ${next.protocol}`);
      }
      current = requireTrackerUrl(next.href);
    }
  } catch (e) {
    if (isBtError(e)) throw e;
    throw new BtError('TRACKER', errorMessage(e), { cause: e });
  } finally {
    clock.clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
}

/** A non-2xx answer: its bencoded failure reason if it has one, otherwise the HTTP status. */
function statusError(r: RawResponse): BtError {
  let d: BDict | undefined;
  try {
    d = decodeTrackerDict(r.body);
  } catch {
    d = undefined;
  }
  const failure = d === undefined ? undefined : getBytes(d, 'failure reason');
  if (failure !== undefined) return new BtError('TRACKER', cleanMessage(failure.toString('utf8')) || `HTTP ${r.status}`);
  return new BtError('TRACKER', `tracker answered HTTP ${r.status} ${cleanMessage(r.statusText)}`.trim());
}

/**
 * Announces to an http(s) tracker (BEP 3). Resolves with the validated answer; rejects with `BtError` `TRACKER`
 * (failure reason, HTTP error, malformed or oversized answer, too many redirects, refused URL), `TIMEOUT` or
 * `ABORTED`.
 */
export async function announceHttp(url: string, params: AnnounceParams, opts: HttpTrackerOptions = {}): Promise<AnnounceResponse> {
  const r = await httpGet(buildAnnounceUrl(url, params), opts);
  if (r.status < 200 || r.status >= 300) throw statusError(r);
  return parseAnnounceBody(r.body, opts.maxPeers ?? DEFAULT_MAX_PEERS);
}

/**
 * Scrapes an http(s) tracker (BEP 48) for 1..100 info-hashes; `url` is the ANNOUNCE URL, turned into the scrape URL
 * by {@link scrapeUrlFor}. Resolves with the entries the tracker knows, keyed by lower-case hex info-hash.
 */
export async function scrapeHttp(url: string, infoHashes: readonly Buffer[], opts: HttpTrackerOptions = {}): Promise<ScrapeResult> {
  const scrapeUrl = scrapeUrlFor(url);
  if (scrapeUrl === undefined) throw new BtError('TRACKER', 'this tracker has no scrape URL');
  if (infoHashes.length === 0 || infoHashes.length > MAX_HTTP_SCRAPE_HASHES) {
    throw new BtError('TRACKER', `a scrape takes 1 to ${MAX_HTTP_SCRAPE_HASHES} info-hashes`);
  }
  const q = infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`).join('&');
  const r = await httpGet(withQuery(requireTrackerUrl(scrapeUrl), q), opts);
  if (r.status < 200 || r.status >= 300) throw statusError(r);
  return parseScrapeBody(r.body, infoHashes);
}

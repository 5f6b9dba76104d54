/**
 * Shared pieces of the tracker clients (HTTP: BEP 3, 23, 7, 48; UDP: BEP 15): the announce parameter and response
 * types, compact peer lists, the tracker URL policy (reliability rule 12 in docs/design/reliability.md), and text
 * cleaning for tracker messages.
 *
 * Invariants:
 * - Pure: no I/O, no timers. Everything here is a function of its arguments.
 * - A peer list produced here never holds port 0, the unspecified address, a duplicate `host:port`, or more than
 *   the caller's cap.
 * - A tracker message (failure reason, warning) leaving here is at most {@link MAX_MESSAGE_CHARS} characters with
 *   no control characters, so it can be shown on a terminal as is.
 */
import { BtError } from '../util/errors.js';
import { formatPeerAddress, isValidPort } from '../util/peer-address.js';
import { bytesToIp } from './address.js';

/** A peer address as handed to the session. IPv6 hosts are written without brackets. */
export interface TrackerPeer {
  host: string;
  port: number;
}

/** What one announce sends (BEP 3 names; the UDP client maps them onto BEP 15 fields). */
export interface AnnounceParams {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: 'started' | 'completed' | 'stopped' | '';
  /** How many peers we would like (omitted: the tracker's default). */
  numwant?: number;
  /** Our u32 key, so a tracker can recognise us across IP changes. */
  key: number;
  compact: true;
  /** The `tracker id` a tracker returned before, sent back to it (latin1: one char per byte). */
  trackerId?: string;
}

/** A successful announce, validated. Intervals are in seconds, as the tracker sent them (clamping is the caller's). */
export interface AnnounceResponse {
  interval: number;
  minInterval?: number;
  peers: TrackerPeer[];
  /** Seeders. */
  complete?: number;
  /** Leechers. */
  incomplete?: number;
  /** The tracker's `warning message`, and notes about tolerated irregularities in its answer. */
  warning?: string;
  /** The tracker's `tracker id` (latin1: one char per byte). */
  trackerId?: string;
}

/** One torrent's entry in a scrape answer. */
export interface ScrapeEntry {
  /** Seeders. */
  complete: number;
  /** Completed downloads ever reported. */
  downloaded: number;
  /** Leechers. */
  incomplete: number;
}

/** Scrape results keyed by the info-hash in lower-case hex. */
export type ScrapeResult = Map<string, ScrapeEntry>;

/** Default cap on the peers taken from one answer. */
export const DEFAULT_MAX_PEERS = 200;
/** Longest tracker message we keep (characters). */
export const MAX_MESSAGE_CHARS = 300;
/** Longest `tracker id` we keep and send back (bytes). */
export const MAX_TRACKER_ID_BYTES = 256;

/** The URL schemes we announce to (reliability rule 12 in docs/design/reliability.md). */
export const SUPPORTED_SCHEMES: readonly string[] = ['http:', 'https:', 'udp:'];

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '[::1]', '::1', '[::]', '::', '0.0.0.0']);

/**
 * True for a host name that is a loopback name or address literal (`localhost`, 127.0.0.0/8, ::1, the unspecified
 * addresses, which reach this machine, and IPv4-mapped loopback as the URL parser writes it: `[::ffff:7f00:1]`).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  if (/^\[?::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]?$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Checks a tracker URL against the outbound policy (reliability rule 12 in docs/design/reliability.md) and returns the
 * parsed URL, or a reason.
 * - The scheme must be http, https or udp.
 * - An http(s) tracker on a loopback host is accepted only with the path `/announce` (or `/scrape`, its scrape
 *   twin), so a torrent cannot make us send GETs to arbitrary local web services.
 * - udp needs an explicit port.
 */
export function checkTrackerUrl(url: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  if (!SUPPORTED_SCHEMES.includes(u.protocol)) return { ok: false, reason: `unsupported scheme ${u.protocol}` };
  if (u.hostname === '') return { ok: false, reason: 'no host' };
  if (u.protocol === 'udp:') {
    if (u.port === '') return { ok: false, reason: 'udp tracker without a port' };
  } else if (isLoopbackHost(u.hostname) && u.pathname !== '/announce' && u.pathname !== '/scrape') {
    return { ok: false, reason: 'a loopback http tracker must use the path /announce' };
  }
  return { ok: true, url: u };
}

/** Like {@link checkTrackerUrl} but throws `BtError('TRACKER')`. */
export function requireTrackerUrl(url: string): URL {
  const r = checkTrackerUrl(url);
  if (!r.ok) throw new BtError('TRACKER', `refused tracker URL ${cleanMessage(url)}: ${r.reason}`);
  return r.url;
}

/** A tracker-supplied text made safe to print: control characters become spaces, length is capped. */
export function cleanMessage(s: string): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return t.length > MAX_MESSAGE_CHARS ? `${t.slice(0, MAX_MESSAGE_CHARS)}…` : t;
}

/**
 * Collects peers with the invariants of this module (no port 0, no unspecified address, no duplicates, a cap).
 * `add` returns false once the cap is reached.
 */
export class PeerCollector {
  readonly peers: TrackerPeer[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly max: number) {}

  get full(): boolean {
    return this.peers.length >= this.max;
  }

  add(host: string, port: number): boolean {
    if (this.full) return false;
    if (!isValidPort(port)) return true;
    if (host === '0.0.0.0' || host === '::' || host === '') return true;
    const key = formatPeerAddress(host, port);
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    this.peers.push({ host, port });
    return true;
  }
}

/**
 * Reads a compact peer list (BEP 23: 6 bytes per IPv4 peer; BEP 7: 18 bytes per IPv6 peer) into `into`.
 * A length that is not a multiple of the entry size is truncated (as libtorrent and Transmission do); the
 * returned note says so, otherwise it is undefined.
 */
export function readCompactPeers(buf: Uint8Array, family: 4 | 6, into: PeerCollector): string | undefined {
  const size = family === 4 ? 6 : 18;
  const whole = buf.length - (buf.length % size);
  for (let off = 0; off < whole && !into.full; off += size) {
    const port = (buf[off + size - 2]! << 8) | buf[off + size - 1]!;
    const host = family === 4
      ? `${buf[off]!}.${buf[off + 1]!}.${buf[off + 2]!}.${buf[off + 3]!}`
      : bytesToIp(buf.subarray(off, off + 16));
    into.add(host, port);
  }
  if (whole !== buf.length) {
    const name = family === 4 ? 'peers' : 'peers6';
    return `compact ${name} length ${buf.length} is not a multiple of ${size}; the last ${buf.length - whole} bytes were ignored`;
  }
  return undefined;
}

/** Joins warning texts, skipping empty ones. */
export function joinWarnings(parts: Array<string | undefined>): string | undefined {
  const kept = parts.filter((p): p is string => p !== undefined && p !== '');
  return kept.length === 0 ? undefined : kept.join('; ');
}

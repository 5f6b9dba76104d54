/**
 * What the CLI prints: JSON lines (`--json`, one session event per line, the machine contract in docs/cli.md) or
 * human lines; on a TTY, a live progress line (percent, bytes done/total, rates, peers, ETA, and why nothing moves
 * when no peer is connected) redrawn in place on stderr.
 *
 * Invariant: the live line never wraps: it is fitted to the terminal's width (less one column) on every redraw and
 * redrawn when the terminal is resized, so `\r` plus erase-line always removes all of it.
 */
import type { SessionEvent } from '../api/types.js';
import { formatPeerAddress } from '../util/peer-address.js';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '--';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

type Progress = Extract<SessionEvent, { event: 'progress' }>;

/** A tracker URL as people name it: host:port (the whole URL when it does not parse). */
export function trackerName(url: string): string {
  try {
    const u = new URL(url);
    return u.host || url;
  } catch {
    return url;
  }
}

/** A tracker failure in plain words ("connection refused") when its cause is a well-known network error. */
export function plainTrackerError(message: string): string {
  const known: Array<[RegExp, string]> = [
    [/ECONNREFUSED|connection refused/i, 'connection refused'],
    [/ECONNRESET/, 'connection reset'],
    [/ETIMEDOUT|did not answer|timed? ?out/i, 'no answer (timed out)'],
    [/ENOTFOUND|EAI_AGAIN/, 'host not found'],
    [/EHOSTUNREACH/, 'host unreachable'],
    [/ENETUNREACH/, 'network unreachable'],
  ];
  for (const [re, text] of known) if (re.test(message)) return text;
  return message;
}

/** What a tracker last said, for the live line. */
interface TrackerNote { ok: boolean; message: string; peers: number; retryAt: number | undefined }

/**
 * The live line for `p`, fitted to `width` columns: parts are dropped (DHT nodes, ↑ rate, ETA, peers, ↓ rate, bytes,
 * in that order) until it fits, then what is left is cut with "…". `status` (why nothing moves) goes last: its first
 * variant that fits is used (variants go from long to short).
 */
export function liveLine(p: Progress, status: string | readonly string[] | undefined, width: number): string {
  const variants = typeof status === 'string' ? [status] : status ?? [];
  if (variants.length > 1) {
    for (const v of variants) {
      const text = liveLine(p, v, width);
      if (!text.endsWith('…')) return text;
    }
    return liveLine(p, variants[variants.length - 1], width);
  }
  const statusText = variants[0];
  const bytes = p.size !== undefined && p.completedBytes !== undefined ? `${formatBytes(p.completedBytes)}/${formatBytes(p.size)}` : undefined;
  const parts: Array<{ key: string; text: string }> = [
    { key: 'pct', text: `${p.percent.toFixed(1).padStart(5)}%` },
    ...(bytes !== undefined ? [{ key: 'bytes', text: bytes }] : []),
    { key: 'down', text: `↓ ${formatBytes(p.downRate)}/s` },
    { key: 'up', text: `↑ ${formatBytes(p.upRate)}/s` },
    { key: 'peers', text: `peers ${p.peers}` },
    ...(p.dhtNodes !== undefined ? [{ key: 'dht', text: `DHT ${p.dhtNodes}` }] : []),
    { key: 'eta', text: `ETA ${formatDuration(p.etaSeconds)}` },
    ...(statusText !== undefined ? [{ key: 'status', text: statusText }] : []),
  ];
  const render = (): string => parts.map((x) => x.text).join('  ');
  for (const key of ['dht', 'up', 'eta', 'peers', 'down', 'bytes']) {
    if (render().length <= width) break;
    const i = parts.findIndex((x) => x.key === key);
    if (i >= 0) parts.splice(i, 1);
  }
  const text = render();
  if (text.length <= width) return text;
  return width <= 1 ? text.slice(0, Math.max(0, width)) : text.slice(0, width - 1) + '…';
}

export class Reporter {
  private liveShown = false;
  readonly tty: boolean;
  private lastProgress: Progress | undefined;
  private readonly trackers = new Map<string, TrackerNote>();
  /** Per tracker, the last failure printed as a line (printed again only when it changes). */
  private readonly printedTrackerError = new Map<string, string>();
  private afterComplete = 'now seeding';
  private listenNote: { text: string; fields: Record<string, unknown> } | undefined;
  private readonly onResize = (): void => { if (this.liveShown && this.lastProgress) this.live(this.lastProgress); };

  constructor(readonly json: boolean, private readonly verbose: boolean, private readonly out: { write(s: string): unknown } = process.stdout,
    private readonly err: NodeJS.WriteStream = process.stderr, private readonly now: () => number = Date.now) {
    this.tty = !json && Boolean(err.isTTY);
    if (this.tty) err.on('resize', this.onResize);
  }

  /** What the `complete` line says happens next ("exiting", "seeding until Ctrl-C"). */
  setAfterComplete(text: string): void { this.afterComplete = text; }

  /** The session is closing: the `stopped` announce that goes with it is not news (human mode prints no tracker line). */
  closing(): void { this.isClosing = true; }
  private isClosing = false;
  private completed = false;

  /** Extra words for the `listening` line, and extra fields for its JSON event (e.g. the port that was in use). */
  noteListening(text: string, fields: Record<string, unknown>): void { this.listenNote = { text, fields }; }

  event(e: SessionEvent): void {
    this.track(e);
    if (this.json) {
      const extra = e.event === 'listening' && this.listenNote ? this.listenNote.fields : {};
      this.jsonLine({ ...e, ...extra });
      return;
    }
    if (e.event === 'progress') { this.live(e); return; }
    if (e.event === 'complete') this.completed = true;
    // A one-torrent run's `queued` is a step of every start, and `seeding` after "complete; exiting" is not what
    // happens next: both only with --verbose.
    if (e.event === 'state' && !this.verbose && (e.state === 'queued' || (e.state === 'seeding' && this.completed && this.afterComplete === 'exiting'))) return;
    let line = e.event === 'complete'
      ? `download complete in ${(e.elapsedMs / 1000).toFixed(1)} s; ${this.afterComplete}`
      : e.event === 'listening' && this.listenNote
        ? `listening on ${formatPeerAddress(e.host, e.port)} ${this.listenNote.text}`
        : humanLine(e, this.verbose);
    if (e.event === 'tracker-error' || e.event === 'tracker-announce') line = this.trackerLine(e);
    if (line !== null) this.line(line);
  }

  /** A plain informational line (human mode) or an `info` JSON event. */
  info(message: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.jsonLine({ event: 'info', message, ...fields });
    else this.line(message);
  }

  /** Advice for the user ("hint: ..."), or a `hint` JSON event. */
  hint(message: string): void {
    if (this.json) this.jsonLine({ event: 'hint', message });
    else this.line(`hint: ${message}`);
  }

  /** The one line printed when the user stops the command (human), or a `stopped` JSON event with `fields`. */
  summary(message: string, fields: Record<string, unknown>): void {
    if (this.json) this.jsonLine({ event: 'stopped', message, ...fields });
    else this.line(message);
  }

  debug(message: string): void {
    if (!this.verbose) return;
    this.clearLive();
    this.err.write(`debug: ${message}\n`);
  }

  /** Why nothing moves, for the live line (long and short forms): only while no peer is connected and data is missing. */
  status(p: Progress): string[] | undefined {
    if (p.peers > 0 || p.percent >= 100) return undefined;
    let worst: [string, TrackerNote] | undefined;
    for (const entry of this.trackers) if (!entry[1].ok) worst = entry;
    if (worst) {
      const [url, t] = worst;
      const secs = t.retryAt === undefined ? undefined : Math.ceil((t.retryAt - this.now()) / 1000);
      const wait = secs === undefined ? '' : secs <= 0 ? '; retrying' : `; retry in ${secs} s`;
      const shortWait = secs === undefined ? '' : secs <= 0 ? ' (retrying)' : ` (retry ${secs}s)`;
      return [`tracker ${trackerName(url)}: ${t.message}${wait}`, `tracker: ${t.message}${wait}`, `${t.message}${shortWait}`];
    }
    const answered = [...this.trackers.values()].filter((t) => t.ok);
    return answered.length > 0 ? [`no peers yet (tracker: ${answered.reduce((n, t) => n + t.peers, 0)} peers)`, 'no peers yet'] : ['no peers yet'];
  }

  private track(e: SessionEvent): void {
    if (e.event === 'tracker-error') {
      this.trackers.set(e.url, { ok: false, message: plainTrackerError(e.message), peers: 0,
        retryAt: e.retryInSec !== undefined && e.retryInSec > 0 ? this.now() + e.retryInSec * 1000 : undefined });
    } else if (e.event === 'tracker-announce' && e.trackerEvent !== 'stopped') {
      this.trackers.set(e.url, { ok: true, message: 'ok', peers: e.peers, retryAt: undefined });
    }
  }

  private trackerLine(e: Extract<SessionEvent, { event: 'tracker-error' | 'tracker-announce' }>): string | null {
    if (this.isClosing && !this.verbose) return null;
    const name = trackerName(e.url);
    if (e.event === 'tracker-announce') {
      const recovered = this.printedTrackerError.delete(e.url);
      if (this.verbose) return `tracker ${name}: ${e.peers} peer${e.peers === 1 ? '' : 's'}${e.trackerEvent ? ` (${e.trackerEvent})` : ''}; next announce in ${e.interval} s`;
      return recovered ? `tracker ${name}: answering again (${e.peers} peer${e.peers === 1 ? '' : 's'})` : null;
    }
    const message = plainTrackerError(e.message);
    const retry = e.retryInSec === undefined ? '' : e.retryInSec === 0 ? '; trying the next tracker' : `; retry in ${e.retryInSec} s`;
    const repeated = this.printedTrackerError.get(e.url) === message;
    this.printedTrackerError.set(e.url, message);
    return this.verbose || !repeated ? `tracker ${name}: ${message}${retry}` : null;
  }

  /** One `--json` line: `fields` then the time. */
  private jsonLine(fields: Record<string, unknown>): void {
    this.out.write(JSON.stringify({ ...fields, time: Date.now() }) + '\n');
  }

  private line(s: string): void {
    this.clearLive();
    this.out.write(s + '\n');
  }

  private clearLive(): void {
    if (this.liveShown) { this.err.write('\r\x1b[K'); this.liveShown = false; }
  }

  private live(p: Progress): void {
    this.lastProgress = p;
    if (!this.tty) return;
    const width = Math.max(1, (this.err.columns || 80) - 1);
    this.err.write(`\r\x1b[K${liveLine(p, this.status(p), width)}`);
    this.liveShown = true;
  }

  done(): void {
    this.clearLive();
    if (this.tty) this.err.off('resize', this.onResize);
  }
}

function humanLine(e: SessionEvent, verbose: boolean): string | null {
  switch (e.event) {
    case 'listening': return `listening on ${formatPeerAddress(e.host, e.port)}`;
    case 'added': return `added ${e.name} (${formatBytes(e.size)}, ${e.pieces} pieces) info-hash ${e.infoHash}`
      + (e.infoHashV2 !== undefined ? ` (${e.version ?? 'v2'}, v2 info-hash ${e.infoHashV2})` : '');
    case 'checking': return null;
    case 'checked': return `checked: ${e.have}/${e.pieces} pieces present (${(e.elapsedMs / 1000).toFixed(1)} s)`;
    case 'state': return `state: ${e.state}${e.reason ? ` (${e.reason})` : ''}`;
    case 'peer-connect': return verbose
      ? `peer ${e.peer} connected (${e.direction}, ${e.client}, ${e.transport}${e.encryption === 'none' ? '' : `, ${e.encryption}`})` : null;
    case 'peer-disconnect': return verbose ? `peer ${e.peer} disconnected: ${e.reason}` : null;
    case 'peer-banned': return `banned peer ${e.peer}: ${e.reason}`;
    case 'piece-failed': return `piece ${e.piece} failed its hash check (from ${e.peers.join(', ') || 'unknown'})`;
    case 'peer-totals': {
      if (!verbose) return null;
      const lines = e.peers.map((p) => `  ${p.peer} (${p.client}): down ${formatBytes(p.downloaded)}, up ${formatBytes(p.uploaded)}`);
      if (e.disconnects && e.disconnects.length > 0) lines.push(`  disconnects: ${e.disconnects.map((d) => `${d.op}/${d.code} ${d.count}`).join(', ')}`);
      return lines.join('\n') || null;
    }
    case 'tracker-warning': return `tracker ${trackerName(e.url)} warning: ${e.message}`;
    case 'dht': return verbose ? `DHT ${e.phase} (${e.nodes} node${e.nodes === 1 ? '' : 's'})` : null;
    case 'warning': return `warning: ${e.message}`;
    case 'error': return `error: ${e.message}`;
    default: return null;
  }
}

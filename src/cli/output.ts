/**
 * What the CLI prints: JSON lines (`--json`, one session event per line, the machine contract in docs/cli.md) or
 * human lines; on a TTY, a live progress line (percent, rates, peers, ETA) redrawn in place on stderr.
 */
import type { SessionEvent } from '../session/events.js';

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

export class Reporter {
  private liveShown = false;
  readonly tty: boolean;

  constructor(readonly json: boolean, private readonly verbose: boolean, private readonly out = process.stdout, private readonly err = process.stderr) {
    this.tty = !json && Boolean(err.isTTY);
  }

  event(e: SessionEvent): void {
    if (this.json) {
      this.out.write(JSON.stringify({ ...e, time: Date.now() }) + '\n');
      return;
    }
    if (e.event === 'progress') { this.live(e); return; }
    const line = humanLine(e, this.verbose);
    if (line !== null) this.line(line);
  }

  /** A plain informational line (human mode) or an `info` JSON event. */
  info(message: string, fields: Record<string, unknown> = {}): void {
    if (this.json) this.out.write(JSON.stringify({ event: 'info', message, ...fields, time: Date.now() }) + '\n');
    else this.line(message);
  }

  debug(message: string): void {
    if (!this.verbose) return;
    this.clearLive();
    this.err.write(`debug: ${message}\n`);
  }

  private line(s: string): void {
    this.clearLive();
    this.out.write(s + '\n');
  }

  private clearLive(): void {
    if (this.liveShown) { this.err.write('\r\x1b[K'); this.liveShown = false; }
  }

  private live(p: Extract<SessionEvent, { event: 'progress' }>): void {
    const text = `${p.percent.toFixed(1).padStart(5)}%  ↓ ${formatBytes(p.downRate)}/s  ↑ ${formatBytes(p.upRate)}/s  ` +
      `peers ${p.peers}  ETA ${formatDuration(p.etaSeconds)}`;
    if (this.tty) {
      this.err.write(`\r\x1b[K${text}`);
      this.liveShown = true;
    }
  }

  done(): void { this.clearLive(); }
}

function humanLine(e: SessionEvent, verbose: boolean): string | null {
  switch (e.event) {
    case 'listening': return `listening on ${e.host}:${e.port}`;
    case 'added': return `added ${e.name} (${formatBytes(e.size)}, ${e.pieces} pieces) info-hash ${e.infoHash}`;
    case 'checking': return null;
    case 'checked': return `checked: ${e.have}/${e.pieces} pieces present (${(e.elapsedMs / 1000).toFixed(1)} s)`;
    case 'state': return `state: ${e.state}${e.reason ? ` (${e.reason})` : ''}`;
    case 'peer-connect': return verbose ? `peer ${e.peer} connected (${e.direction}, ${e.client})` : null;
    case 'peer-disconnect': return verbose ? `peer ${e.peer} disconnected: ${e.reason}` : null;
    case 'peer-banned': return `banned peer ${e.peer}: ${e.reason}`;
    case 'piece-failed': return `piece ${e.piece} failed its hash check (from ${e.peers.join(', ') || 'unknown'})`;
    case 'complete': return `download complete in ${(e.elapsedMs / 1000).toFixed(1)} s; now seeding`;
    case 'peer-totals': return verbose ? e.peers.map((p) => `  ${p.peer} (${p.client}): down ${formatBytes(p.downloaded)}, up ${formatBytes(p.uploaded)}`).join('\n') || null : null;
    case 'warning': return `warning: ${e.message}`;
    case 'error': return `error: ${e.message}`;
    default: return null;
  }
}

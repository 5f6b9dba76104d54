/**
 * Reading a swarm's `--json` event logs: per-peer byte totals, how peers were found (sources), one-line summaries for
 * failure messages, and plain-text tables for the closing notes.
 *
 * Invariant: pure functions of the recorded events (except {@link dumpLogs}, which only writes files); nothing here
 * waits or touches a process.
 * BEP: none (test tooling).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Child, JsonEvent } from '../helpers/proc.js';

/**
 * Writes each child's events (JSON lines) and stderr to `dir/<name>.jsonl` / `.stderr`, for a diagnosis after the
 * test's temp folders are gone. Returns `dir`.
 */
export async function dumpLogs(dir: string, children: readonly Child[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  await Promise.all(children.map(async (c) => {
    const base = join(dir, c.name.replace(/[^A-Za-z0-9._-]+/g, '-'));
    await writeFile(`${base}.jsonl`, c.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    if (c.stderr.length > 0) await writeFile(`${base}.stderr`, c.stderr);
  }));
  return dir;
}

/** One entry of a `peer-totals` event. */
export interface PeerTotal {
  readonly peer: string;
  readonly client: string;
  readonly downloaded: number;
  readonly uploaded: number;
}

/** The peers of the last `peer-totals` event (printed at exit), or null if the child printed none. */
export function peerTotals(events: readonly JsonEvent[]): PeerTotal[] | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.event === 'peer-totals' && Array.isArray(e.peers)) {
      return (e.peers as unknown[]).filter(isPeerTotal);
    }
  }
  return null;
}

function isPeerTotal(x: unknown): x is PeerTotal {
  const o = x as Partial<PeerTotal> | null;
  return typeof o === 'object' && o !== null && typeof o.peer === 'string' && typeof o.downloaded === 'number' &&
    typeof o.uploaded === 'number';
}

/** The IP part of "ip:port" / "[v6]:port" (an IPv4-mapped IPv6 address is shown as IPv4). */
export function ipOf(peer: string): string {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(peer);
  const ip = v6 ? v6[1]! : peer.replace(/:\d+$/, '');
  return ip.replace(/^::ffff:/i, '');
}

/**
 * Bytes received from / sent to each peer key. From `peer-totals` when present (cumulative over the run); otherwise
 * the sum of `peer-disconnect` counters, which misses connections still open at the end (`exact: false`).
 */
export function perPeerBytes(events: readonly JsonEvent[]): { exact: boolean; peers: Map<string, { down: number; up: number }> } {
  const totals = peerTotals(events);
  const peers = new Map<string, { down: number; up: number }>();
  if (totals !== null) {
    for (const t of totals) {
      const cur = peers.get(t.peer) ?? { down: 0, up: 0 };
      peers.set(t.peer, { down: cur.down + t.downloaded, up: cur.up + t.uploaded });
    }
    return { exact: true, peers };
  }
  for (const e of events) {
    if (e.event !== 'peer-disconnect' || typeof e.peer !== 'string') continue;
    const cur = peers.get(e.peer) ?? { down: 0, up: 0 };
    peers.set(e.peer, { down: cur.down + num(e.downloaded), up: cur.up + num(e.uploaded) });
  }
  return { exact: false, peers };
}

/** {@link perPeerBytes} grouped by a label of the peer key (e.g. the host that owns the IP). */
export function bytesBy(events: readonly JsonEvent[], label: (peer: string) => string): { exact: boolean; down: Map<string, number>; up: Map<string, number> } {
  const { exact, peers } = perPeerBytes(events);
  const down = new Map<string, number>();
  const up = new Map<string, number>();
  for (const [peer, b] of peers) {
    const l = label(peer);
    down.set(l, (down.get(l) ?? 0) + b.down);
    up.set(l, (up.get(l) ?? 0) + b.up);
  }
  return { exact, down, up };
}

function num(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : 0;
}

/** Counts of events by a string field (e.g. `peer-connect` by `source`). */
export function countBy(events: readonly JsonEvent[], event: string, field: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    if (e.event !== event) continue;
    const k = String(e[field] ?? '?');
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** Distinct `peer` values of `peer-connect` events. */
export function connectedPeers(events: readonly JsonEvent[]): Set<string> {
  const out = new Set<string>();
  for (const e of events) if (e.event === 'peer-connect' && typeof e.peer === 'string') out.add(e.peer);
  return out;
}

function fmtCounts(c: Record<string, number>): string {
  const parts = Object.entries(c).map(([k, v]) => `${k}:${v}`);
  return parts.length > 0 ? parts.join(',') : '-';
}

/**
 * One line about a child's run, for failure messages: exit status, last progress, completion, connections by source,
 * discoveries by source, tracker announces/errors, the first tracker error and the last few disconnect reasons.
 */
export function summarize(child: Child): string {
  const ev = child.events;
  const last = <T extends string>(name: T): JsonEvent | undefined => [...ev].reverse().find((e) => e.event === name);
  const progress = last('progress');
  const complete = last('complete');
  const trackerErr = ev.find((e) => e.event === 'tracker-error');
  const disconnects = ev.filter((e) => e.event === 'peer-disconnect').slice(-3)
    .map((e) => `${String(e.peer)}: ${String(e.reason)}`);
  const exit = child.exitInfo;
  return [
    `${child.name} [${exit ? (exit.signal ?? `exit ${String(exit.code)}`) : 'running'}]`,
    progress ? `progress ${String(progress.percent)}% peers=${String(progress.peers)}` : 'no progress event',
    complete ? `complete after ${String(complete.elapsedMs)} ms` : 'not complete',
    `connect{${fmtCounts(countBy(ev, 'peer-connect', 'source'))}}`,
    `discovered{${fmtCounts(countBy(ev, 'peer-discovered', 'source'))}}`,
    `tracker-announce=${ev.filter((e) => e.event === 'tracker-announce').length}`,
    `tracker-error=${ev.filter((e) => e.event === 'tracker-error').length}${trackerErr ? ` (first: ${String(trackerErr.message)})` : ''}`,
    disconnects.length > 0 ? `last disconnects: ${disconnects.join(' | ')}` : 'no disconnects',
  ].join('; ');
}

/** A plain-text table with right-aligned columns after the first. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Bytes as MiB with one decimal (tables). */
export function mib(n: number | undefined): string {
  return n === undefined || n === 0 ? '0' : (n / 1048576).toFixed(1);
}

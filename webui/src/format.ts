/**
 * Formatting for the web UI: sizes, rates, durations, ratios, dates. Pure (no DOM). Sizes use k = 1000 as
 * transmission-daemon's `units` do (src/api/rpc/fields.ts).
 */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** 1234567 → "1.23 MB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) { v /= 1000; i++; }
  return i === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[i]}`;
}

/** Bytes/s → "1.2 MB/s"; 0 → "0 B/s". */
export function formatRate(bps: number): string {
  return `${formatBytes(Math.max(0, bps))}/s`;
}

/** Seconds left → "3h 12m"; -1 → "–" (not downloading), -2 → "?" (unknown). */
export function formatEta(sec: number): string {
  if (sec === -2) return '?';
  if (!Number.isFinite(sec) || sec < 0) return '–';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  const d = Math.floor(s / 86_400);
  return d >= 365 ? '∞' : `${d}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Transmission's ratio: -1 = none ("–"), -2 = infinite ("∞"). */
export function formatRatio(r: number): string {
  if (r === -2) return '∞';
  if (!Number.isFinite(r) || r < 0) return '–';
  return r.toFixed(2);
}

/** Seconds since the epoch → a local date and time; 0 → "–". */
export function formatDate(sec: number): string {
  if (!Number.isFinite(sec) || sec <= 0) return '–';
  return new Date(sec * 1000).toLocaleString();
}

/** Seconds from now to `sec` (epoch), e.g. "in 4m 3s"; 0 or past → "–". */
export function formatUntil(sec: number, nowSec: number): string {
  if (!Number.isFinite(sec) || sec <= 0 || sec <= nowSec) return '–';
  return `in ${formatEta(sec - nowSec)}`;
}

/** A kB/s limit input's value ("" = unlimited) → kB/s, or undefined when it is not a non-negative integer. */
export function parseKBps(text: string): number | 'unlimited' | undefined {
  const t = text.trim();
  if (t === '') return 'unlimited';
  if (!/^\d{1,10}$/.test(t)) return undefined;
  const n = Number(t);
  return n === 0 ? 'unlimited' : n;
}

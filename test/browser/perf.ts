/**
 * Main-thread responsiveness of a page, measured by the browser itself: long tasks (PerformanceObserver 'longtask':
 * any task over 50 ms), frame times (the intervals between requestAnimationFrame callbacks), and the long animation
 * frames with the scripts that ran in them ('long-animation-frame', to say what was slow).
 *
 * {@link startPerfProbe} and {@link stopPerfProbe} run in the page (self-contained: Playwright sends their source
 * text); {@link summarisePerf} and {@link percentile} are pure and unit-tested in test/unit/browser-layout.test.ts.
 * Invariant: the probe records only between start and stop; stop ends the requestAnimationFrame loop and
 * disconnects the observer, so nothing keeps running in the page afterwards.
 * BEP: none (test tooling).
 */

/** What the page recorded. Times in ms of the page's performance clock. */
export interface PerfRecord {
  startedAt: number;
  stoppedAt: number;
  longTasks: Array<{ start: number; duration: number }>;
  /** requestAnimationFrame timestamps, in order. */
  frames: number[];
  /**
   * Long animation frames (PerformanceObserver 'long-animation-frame', over 50 ms) with the scripts that ran in
   * them (invoker, function, duration): what made the page slow, for the report.
   */
  slowFrames: Array<{ start: number; duration: number; blockingDuration: number; scripts: string[] }>;
}

/** The figures a test prints and asserts on. */
export interface PerfSummary {
  /** The longest animation frames and what ran in them (at most 3), e.g. "120 ms: TimerHandler:setTimeout poll (30 ms)". */
  slowest: string[];
  durationMs: number;
  longTasks: number;
  longestTaskMs: number;
  totalLongTaskMs: number;
  /** totalLongTaskMs / durationMs. */
  longTaskShare: number;
  frames: number;
  p50FrameMs: number;
  p95FrameMs: number;
  maxFrameMs: number;
}

/** The p-th percentile (0..100) of `values` by the nearest-rank method; 0 for an empty list. Pure. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** Figures from a record. Long tasks are clipped to the recorded window. Pure. */
export function summarisePerf(rec: PerfRecord): PerfSummary {
  const durationMs = Math.max(0, rec.stoppedAt - rec.startedAt);
  let longest = 0;
  let total = 0;
  for (const t of rec.longTasks) {
    const d = Math.max(0, Math.min(t.start + t.duration, rec.stoppedAt) - Math.max(t.start, rec.startedAt));
    longest = Math.max(longest, d);
    total += d;
  }
  const intervals: number[] = [];
  for (let i = 1; i < rec.frames.length; i++) intervals.push(rec.frames[i]! - rec.frames[i - 1]!);
  const slowest = [...rec.slowFrames].sort((a, b) => b.duration - a.duration).slice(0, 3)
    .map((f) => `${f.duration.toFixed(0)} ms${f.scripts.length ? `: ${f.scripts.join(', ')}` : ' (no script: style, layout, paint or the machine)'}`);
  return {
    slowest, durationMs, longTasks: rec.longTasks.length, longestTaskMs: longest, totalLongTaskMs: total,
    longTaskShare: durationMs > 0 ? total / durationMs : 0, frames: intervals.length,
    p50FrameMs: percentile(intervals, 50), p95FrameMs: percentile(intervals, 95), maxFrameMs: intervals.length ? Math.max(...intervals) : 0,
  };
}

/** One line for the test output. */
export function formatPerf(s: PerfSummary): string {
  const ms = (x: number): string => `${x.toFixed(1)} ms`;
  return `${(s.durationMs / 1000).toFixed(2)} s: ${s.longTasks} long tasks, longest ${ms(s.longestTaskMs)}, total ${ms(s.totalLongTaskMs)} `
    + `(${(s.longTaskShare * 100).toFixed(1)} % of the time); ${s.frames} frames, p50 ${ms(s.p50FrameMs)}, p95 ${ms(s.p95FrameMs)}, max ${ms(s.maxFrameMs)}`
    + (s.slowest.length ? `; slowest frames: ${s.slowest.join(' | ')}` : '');
}

interface Entry {
  startTime: number; duration: number; blockingDuration?: number;
  scripts?: Array<{ invoker?: string; sourceFunctionName?: string; duration: number }>;
}
interface Observer { observe(o: { type: string; buffered?: boolean }): void; disconnect(): void; takeRecords(): Entry[] }
interface ProbeState { rec: PerfRecord; running: boolean; observers: Array<{ o: Observer; take(e: Entry): void }> }

/** Runs in the page: starts recording (replacing a previous probe). */
export function startPerfProbe(): void {
  const g = globalThis as unknown as {
    performance: { now(): number };
    requestAnimationFrame(cb: (t: number) => void): number;
    PerformanceObserver: (new (cb: (list: { getEntries(): Entry[] }) => void) => Observer) & { supportedEntryTypes?: string[] };
    __bitpeerPerf?: ProbeState;
  };
  if (g.__bitpeerPerf) g.__bitpeerPerf.running = false;
  const state: ProbeState = { rec: { startedAt: g.performance.now(), stoppedAt: 0, longTasks: [], frames: [], slowFrames: [] }, running: true, observers: [] };
  const watch = (type: string, take: (e: Entry) => void): void => {
    if (!(g.PerformanceObserver.supportedEntryTypes ?? []).includes(type)) return;
    const o = new g.PerformanceObserver((list) => { for (const e of list.getEntries()) take(e); });
    o.observe({ type });
    state.observers.push({ o, take });
  };
  watch('longtask', (e) => state.rec.longTasks.push({ start: e.startTime, duration: e.duration }));
  watch('long-animation-frame', (e) => state.rec.slowFrames.push({
    start: e.startTime, duration: e.duration, blockingDuration: e.blockingDuration ?? 0,
    scripts: (e.scripts ?? []).filter((x) => x.duration >= 5)
      .map((x) => `${x.invoker ?? '?'}${x.sourceFunctionName ? ` ${x.sourceFunctionName}` : ''} (${x.duration.toFixed(0)} ms)`),
  }));
  const frame = (t: number): void => {
    if (!state.running) return;
    state.rec.frames.push(t);
    g.requestAnimationFrame(frame);
  };
  g.requestAnimationFrame(frame);
  g.__bitpeerPerf = state;
}

/** Runs in the page: stops the probe and returns what it recorded. */
export function stopPerfProbe(): PerfRecord {
  const g = globalThis as unknown as { performance: { now(): number }; __bitpeerPerf?: ProbeState };
  const state = g.__bitpeerPerf;
  if (!state) throw new Error('stopPerfProbe: no probe running');
  state.running = false;
  state.rec.stoppedAt = g.performance.now();
  // Entries not yet delivered to the callbacks (they run asynchronously) are taken here.
  for (const { o, take } of state.observers) {
    for (const e of o.takeRecords()) take(e);
    o.disconnect();
  }
  delete g.__bitpeerPerf;
  return state.rec;
}

/**
 * The pure halves of the browser tier's checks: the layout rules (test/browser/layout.ts analyseLayout) on
 * hand-made snapshots, and the performance figures (test/browser/perf.ts). The page-side collectors are tested in
 * a real browser by test/browser/layout-checker.test.ts.
 * BEP: none (test tooling).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseLayout, type Box, type LayoutItem, type LayoutSnapshot } from '../browser/layout.js';
import { percentile, summarisePerf } from '../browser/perf.js';

const VIEW: Box = { l: 0, t: 0, r: 400, b: 800 };
function item(label: string, rect: Box, more: Partial<LayoutItem> = {}): LayoutItem {
  return { label, kind: 'interactive', rect, visible: rect, hclip: VIEW, hclipLabel: 'viewport', ancestors: [], covered: false, coveredBy: -1, coveredByLayer: null, ...more };
}
function snap(items: LayoutItem[], scrollWidth = 400): LayoutSnapshot {
  return { viewport: { width: 400, height: 800 }, scrollWidth, items };
}

test('layout: side-by-side elements and nested ones pass', () => {
  const panel = item('torrent-list', { l: 0, t: 0, r: 200, b: 800 }, { kind: 'panel' });
  const a = item('action-start', { l: 10, t: 10, r: 50, b: 30 }, { ancestors: [0] });
  const b = item('action-pause', { l: 50, t: 10, r: 90, b: 30 }, { ancestors: [0] }); // touching edges is not overlapping
  const details = item('details-panel', { l: 200, t: 0, r: 400, b: 800 }, { kind: 'panel' });
  assert.deepEqual(analyseLayout(snap([panel, a, b, details])), []);
});

test('layout: overlapping buttons, rows and panels are reported; the tolerance absorbs rounding', () => {
  const v = analyseLayout(snap([
    item('a', { l: 0, t: 0, r: 50, b: 20 }), item('b', { l: 40, t: 5, r: 90, b: 25 }),
    item('torrent-row[1]', { l: 0, t: 100, r: 400, b: 130 }, { kind: 'row' }), item('torrent-row[2]', { l: 0, t: 129.5, r: 400, b: 160 }, { kind: 'row' }),
    item('torrent-row[3]', { l: 0, t: 200, r: 400, b: 230 }, { kind: 'row' }), item('torrent-row[4]', { l: 0, t: 220, r: 400, b: 250 }, { kind: 'row' }),
  ]));
  assert.deepEqual(v.map((x) => x.rule), ['overlap', 'overlap']);
  assert.match(v[0]!.message, /^a .* overlaps b /);
  assert.match(v[1]!.message, /torrent-row\[3\].*overlaps torrent-row\[4\]/);
});

test('layout: only the visible (clipped) parts count, covered elements are left out unless a control covers them', () => {
  // Rows scrolled under the list's edge: their full boxes overlap a header button, their visible parts do not.
  const header = item('add-button', { l: 0, t: 0, r: 60, b: 40 });
  const row = item('torrent-row[7]', { l: 0, t: 20, r: 400, b: 60 }, { kind: 'row', visible: { l: 0, t: 40, r: 400, b: 60 } });
  // A list entirely under a full-screen sheet (a panel): left out.
  const list = item('torrent-list', { l: 0, t: 40, r: 400, b: 800 }, { kind: 'panel', covered: true, coveredBy: 3, coveredByLayer: 'details-panel' });
  // A row under a control of that sheet (its close button): the control is on another layer, not a fault.
  const under = item('torrent-row[9]', { l: 300, t: 70, r: 400, b: 90 }, { kind: 'row', covered: true, coveredBy: 5, coveredByLayer: 'details-panel' });
  const close = item('details-close', { l: 300, t: 62, r: 400, b: 100 }, { ancestors: [3] });
  const sheet = item('details-panel', { l: 0, t: 0, r: 400, b: 800 }, { kind: 'panel' });
  assert.deepEqual(analyseLayout(snap([header, row, list, sheet, under, close])).map((x) => x.message), [
    // the sheet still overlaps the (uncovered) header button and row: both are under it only in part
    'add-button [0,0 → 60,40] overlaps details-panel [0,0 → 400,800] (2400 px²)',
    'torrent-row[7] [0,40 → 400,60] overlaps details-panel [0,0 → 400,800] (8000 px²)',
  ]);
  // A button entirely under another button on the same layer is reported as covered.
  const v = analyseLayout(snap([item('x', { l: 0, t: 0, r: 50, b: 50 }), item('y', { l: 10, t: 10, r: 20, b: 20 }, { covered: true, coveredBy: 0 })]));
  assert.deepEqual(v.map((x) => x.rule), ['covered']);
  assert.match(v[0]!.message, /^y .* is hidden under x /);
  // mustBeUncovered names a panel that must be on top.
  const w = analyseLayout(snap([{ ...list, coveredBy: 1 }, sheet]), { mustBeUncovered: ['torrent-list', 'details-panel', 'settings-dialog'] });
  assert.deepEqual(w.map((x) => x.message), ['torrent-list is entirely covered (by details-panel)', 'settings-dialog is not visible']);
});

test('layout: horizontal clipping by a container or the viewport, and a page that scrolls sideways', () => {
  const cell = item('row-name', { l: 300, t: 0, r: 460, b: 20 }, { kind: 'content', hclip: { l: 0, t: 0, r: 400, b: 800 }, hclipLabel: 'torrent-list',
    visible: { l: 300, t: 0, r: 400, b: 20 } });
  const ok = item('row-eta', { l: 10, t: 30, r: 399.5, b: 50 }, { kind: 'content' });
  const v = analyseLayout(snap([cell, ok], 460));
  assert.deepEqual(v.map((x) => x.rule), ['page-scrolls-x', 'clipped-x']);
  assert.match(v[1]!.message, /row-name .* is cut off horizontally by torrent-list/);
});

test('perf: percentile (nearest rank) and the summary of a record', () => {
  assert.equal(percentile([], 95), 0);
  assert.equal(percentile([5], 95), 5);
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(xs, 95), 95);
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile([3, 1, 2], 100), 3);
  const s = summarisePerf({
    startedAt: 1000, stoppedAt: 2000,
    longTasks: [{ start: 950, duration: 100 }, { start: 1500, duration: 80 }, { start: 1990, duration: 60 }],
    frames: [1000, 1016, 1033, 1050, 1150, 1166],
    slowFrames: [{ start: 1050, duration: 100, blockingDuration: 50, scripts: ['TimerHandler:setTimeout (80 ms)'] }, { start: 1500, duration: 60, blockingDuration: 10, scripts: [] }],
  });
  assert.deepEqual(s.slowest, ['100 ms: TimerHandler:setTimeout (80 ms)', '60 ms (no script: style, layout, paint or the machine)']);
  // Clipped to the window: 50 + 80 + 10.
  assert.equal(s.longTasks, 3);
  assert.equal(s.totalLongTaskMs, 140);
  assert.equal(s.longestTaskMs, 80);
  assert.equal(s.longTaskShare, 0.14);
  assert.equal(s.frames, 5);
  assert.equal(s.maxFrameMs, 100);
  assert.equal(s.p95FrameMs, 100);
  assert.equal(s.p50FrameMs, 17);
});

/**
 * The web UI with 1,000 torrents (issue 15): a daemon seeding 1,000 small torrents (16 KiB each, one piece, made
 * here: random bytes, a v1 info dictionary bencoded in-process, added with torrent-add as B4 adds them), the list
 * scrolled by mouse wheel from top to bottom and back while the daemon's state keeps changing (every 400 ms, 50
 * torrents are paused or resumed over the RPC, so the UI's polls bring real updates). The browser measures itself:
 * long tasks (PerformanceObserver 'longtask') and frame times (requestAnimationFrame), and the test counts the rows
 * in the DOM (the list is virtualised). The figures are printed and written to
 * test-artifacts/browser/scale-perf.json.
 *
 * The budget, chosen from measurements on the shared 2-core machine of 2026-12-03 (docs/testing.md): with the
 * machine merely busy (load average 5-11 from other work) the scroll had no long task at all and a p95 frame of
 * 16.8 ms; with a busy loop of ours taking one of the two cores on top, the longest task was 170-293 ms, long tasks
 * 6-8 % of the time, p95 frame 33 ms. So: no long task over 400 ms, long tasks at most 20 % of the scroll time,
 * p95 frame at most 100 ms, and at most 3× the rows that fit in the list plus 20 in the DOM (the structural check:
 * a list that is not virtualised fails it whatever the machine). The list also has to follow: at the bottom the
 * last torrent's row is shown, at the top the first one's, and the layout check passes there.
 * BEP 3 (the torrents); no swarm.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { encode } from '../../src/bencode/index.js';
import { Scope } from '../helpers/proc.js';
import {
  ARTIFACTS_DIR, UiBrowser, assertLayout, assertNoPageErrors, openUi, screenshot, startUiDaemon, tid, waitUntil, type UiDaemon,
} from './harness.js';
import { formatPerf, startPerfProbe, stopPerfProbe, summarisePerf, type PerfSummary } from './perf.js';

const N = 1000;
const SIZE = 16 * 1024;
/** The budget: see the header. */
const BUDGET = { longestTaskMs: 400, longTaskShare: 0.2, p95FrameMs: 100, rowsFactor: 3, rowsSlack: 20 };

const scope = new Scope();
let browser: UiBrowser | undefined;
let d: UiDaemon;
let page: Page;
let ids: number[] = [];

/** N single-file v1 torrents (one 16 KiB piece each) with their data in `dir`; returns the .torrent bytes. */
async function makeTorrents(dir: string, n: number): Promise<Buffer[]> {
  await mkdir(dir, { recursive: true });
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const name = `scale-${String(i).padStart(4, '0')}-${['alpha', 'bravo', 'charlie', 'delta', 'echo'][i % 5]}.bin`;
    const bytes = randomBytes(SIZE);
    await writeFile(join(dir, name), bytes);
    out.push(encode({ info: { length: SIZE, name, 'piece length': SIZE, pieces: createHash('sha1').update(bytes).digest() } }));
  }
  return out;
}

before(async () => {
  const root = await scope.tempDir('bitpeer-browser-scale-');
  d = await startUiDaemon(scope, { root: join(root, 'daemon') });
  const t0 = Date.now();
  const torrents = await makeTorrents(d.downloadDir, N);
  // Seeding is a queue state too: let all N seed at once.
  await d.rpc.call('session-set', { 'seed-queue-size': N + 10, 'seed-queue-enabled': true });
  const queue = [...torrents];
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const r = await d.rpc.call('torrent-add', { metainfo: t.toString('base64') });
      assert.ok(r['torrent-added'], JSON.stringify(r));
    }
  }));
  const all = await waitUntil(async () => {
    const r = await d.rpc.call('torrent-get', { fields: ['id', 'status'] });
    const list = r['torrents'] as Array<{ id: number; status: number }>;
    return list.length === N && list.every((t) => t.status === 6) ? list : undefined;
  }, 60_000, `all ${N} torrents seeding`, () => d.child.describe(6), 500);
  ids = all.map((t) => t.id).sort((a, b) => a - b);
  console.log(`# scale: ${N} torrents made, added and seeding in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  browser = await UiBrowser.launch(scope);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
});

after(async () => {
  await browser?.close();
  await scope.cleanup();
});

/** Rows in the DOM, and how many fit in the list. */
async function rowCounts(): Promise<{ rows: number; paused: number; fit: number; scrollTop: number; scrollHeight: number }> {
  return page.evaluate(`(() => {
    const list = document.querySelector('[data-testid="torrent-list"]');
    const rows = list.querySelectorAll('[data-testid="torrent-row"]');
    const h = rows.length ? rows[0].getBoundingClientRect().height : 1;
    const paused = [...rows].filter((r) => r.querySelector('[data-testid="row-state"]')?.textContent?.trim() === 'paused').length;
    return { rows: rows.length, paused, fit: Math.ceil(list.clientHeight / h), scrollTop: list.scrollTop, scrollHeight: list.scrollHeight };
  })()`);
}

test(`1,000 torrents: the list scrolls top to bottom and back while updates arrive, within the long-task and frame budget`, { timeout: 180_000 }, async () => {
  await openUi(page, d);
  await waitUntil(async () => (await tid(page, 'torrent-row').count()) > 0 || undefined, 20_000, 'rows shown');
  // Sorted by name: the first row is scale-0000, the last scale-0999.
  await tid(page, 'sort-select').selectOption('name');
  const first = `scale-0000-alpha.bin`;
  const last = `scale-${String(N - 1).padStart(4, '0')}-echo.bin`;
  await page.locator('[data-testid="row-name"]', { hasText: first }).waitFor({ state: 'visible' });
  await assertLayout(page, 'scale-top', { mustBeUncovered: ['torrent-list'] });
  await screenshot(page, 'scale-top');

  // Updates: every 400 ms, 50 torrents paused or resumed (the UI's polls see them change state).
  let stop = false;
  let toggles = 0;
  const churn = (async () => {
    let k = 0;
    while (!stop) {
      const batch = Array.from({ length: 50 }, (_, j) => ids[(k * 50 + j * 19) % ids.length]!);
      await d.rpc.call(k % 2 === 0 ? 'torrent-stop' : 'torrent-start', { ids: batch });
      toggles += batch.length;
      k++;
      await new Promise((r) => setTimeout(r, 400));
    }
    // Everything seeding again.
    await d.rpc.call('torrent-start', { ids });
  })();

  const list = await tid(page, 'torrent-list').boundingBox();
  assert.ok(list, 'the list has a box');
  await page.mouse.move(list.x + list.width / 2, list.y + list.height / 2);
  let maxRows = 0;
  let fit = 0;
  let pausedSeen = 0;
  await page.evaluate(startPerfProbe);
  const t0 = Date.now();
  let steps = 0;
  try {
    for (const direction of [1, -1]) {
      for (let i = 0; i < 400; i++) {
        await page.mouse.wheel(0, direction * 400);
        await page.waitForTimeout(16);
        steps++;
        if (i % 5 === 0) {
          const c = await rowCounts();
          maxRows = Math.max(maxRows, c.rows);
          fit = Math.max(fit, c.fit);
          pausedSeen += c.paused;
          const atEnd = direction > 0 ? c.scrollTop + list.height >= c.scrollHeight - 2 : c.scrollTop <= 0;
          if (atEnd) break;
        }
      }
      if (direction > 0) {
        // At the bottom: the last torrent's row is there (the window followed the scroll).
        await page.locator('[data-testid="row-name"]', { hasText: last }).waitFor({ state: 'visible', timeout: 5000 });
        const c = await rowCounts();
        maxRows = Math.max(maxRows, c.rows);
      }
    }
  } finally {
    stop = true;
  }
  const rec = await page.evaluate(stopPerfProbe);
  const scrollSeconds = (Date.now() - t0) / 1000;
  await churn;
  const perf: PerfSummary = summarisePerf(rec);
  await page.locator('[data-testid="row-name"]', { hasText: first }).waitFor({ state: 'visible', timeout: 5000 });
  const domNodes = await page.evaluate('document.getElementsByTagName("*").length') as number;
  const line = `# scale: ${N} torrents, ${steps} wheel steps over ${scrollSeconds.toFixed(1)} s, ${toggles} state changes sent; ` +
    `${formatPerf(perf)}; rows in the DOM at most ${maxRows} (${fit} fit in the list), paused rows seen in samples ${pausedSeen}, ` +
    `${domNodes} DOM elements at the end`;
  console.log(line);
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await writeFile(join(ARTIFACTS_DIR, 'scale-perf.json'), `${JSON.stringify({ n: N, steps, scrollSeconds, toggles, maxRows, fit, pausedSeen, domNodes, perf, budget: BUDGET }, null, 2)}\n`);
  await assertLayout(page, 'scale-back-at-top', { mustBeUncovered: ['torrent-list'] });
  await screenshot(page, 'scale-back-at-top');

  // Control: the probe does see a long task in this page (a 120 ms timer task), so "no long task" above is a
  // measurement, not a deaf observer.
  await page.evaluate(startPerfProbe);
  await page.evaluate('setTimeout(() => { const t = performance.now(); while (performance.now() - t < 120) {} }, 0)');
  await page.waitForTimeout(400);
  const control = summarisePerf(await page.evaluate(stopPerfProbe));
  assert.ok(control.longestTaskMs >= 100, `the control long task was seen: ${formatPerf(control)}`);

  assert.ok(steps >= 40, `the list scrolled (${steps} wheel steps)`);
  assert.ok(pausedSeen > 0, 'the updates reached the rows on screen (paused rows were seen while scrolling)');
  assert.ok(perf.frames >= 30, `frames were recorded: ${perf.frames}`);
  assert.ok(maxRows <= BUDGET.rowsFactor * fit + BUDGET.rowsSlack, `virtualised: at most ${maxRows} rows in the DOM for ${fit} that fit`);
  assert.ok(perf.longestTaskMs <= BUDGET.longestTaskMs, `longest task ${perf.longestTaskMs.toFixed(1)} ms > ${BUDGET.longestTaskMs} ms\n${line}`);
  assert.ok(perf.longTaskShare <= BUDGET.longTaskShare, `long tasks ${(perf.longTaskShare * 100).toFixed(1)} % of the time\n${line}`);
  assert.ok(perf.p95FrameMs <= BUDGET.p95FrameMs, `p95 frame ${perf.p95FrameMs.toFixed(1)} ms > ${BUDGET.p95FrameMs} ms\n${line}`);
  assertNoPageErrors(page, 'scale');
});

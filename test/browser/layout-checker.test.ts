/**
 * The browser tier's own instruments, checked in the real browser on pages made for the purpose (no daemon): the
 * layout checker (layout.ts) passes a sound page (list with rows scrolled out of view, side panel, a modal dialog
 * over everything) and finds each planted fault (overlapping buttons and rows, a button hidden under another, a cell
 * cut off by its container, a page wider than the viewport); the performance probe (perf.ts) sees a 150 ms task.
 * If these fail, the UI tests' layout and performance verdicts mean nothing.
 * BEP: none (test tooling).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { Scope } from '../helpers/proc.js';
import { UiBrowser, layoutOf } from './harness.js';
import { analyseLayout } from './layout.js';
import { startPerfProbe, stopPerfProbe, summarisePerf } from './perf.js';

const scope = new Scope();
let browser: UiBrowser | undefined;
let page: Page;
before(async () => {
  browser = await UiBrowser.launch(scope);
  page = await browser.newPage({ viewport: { width: 800, height: 600 } });
});
after(async () => {
  await browser?.close();
  await scope.cleanup();
});

const STYLE = `<style>
  * { box-sizing: border-box; } body { margin: 0; font: 14px sans-serif; }
  header { display: flex; gap: 8px; padding: 8px; height: 48px; }
  main { display: flex; height: 552px; }
  [data-testid=torrent-list] { width: 500px; overflow-y: auto; height: 300px; }
  [data-testid=torrent-row] { display: flex; height: 30px; gap: 4px; }
  [data-testid=row-name] { width: 300px; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
  [data-testid=details-panel] { width: 300px; }
</style>`;

function rows(n: number, extra = ''): string {
  return Array.from({ length: n }, (_, i) => `<div data-testid="torrent-row" data-id="${i + 1}" ${i === 3 ? extra : ''}>` +
    `<span data-testid="row-name">torrent number ${i + 1} with a rather long name that ellipsis shortens</span>` +
    `<button data-testid="action-start">start</button></div>`).join('');
}

test('layout checker: a sound page has no violation; rows scrolled out of the list and what a modal covers are left out', async () => {
  await page.setContent(`${STYLE}<header><button data-testid="add-button">Add</button><button data-testid="theme-toggle">Theme</button>
    <input data-testid="search-input"></header>
    <main><div data-testid="torrent-list">${rows(40)}</div><div data-testid="details-panel"><canvas data-testid="piece-bar" width="280" height="20"></canvas></div></main>`);
  const snap = await layoutOf(page);
  assert.deepEqual(analyseLayout(snap, { mustBeUncovered: ['torrent-list', 'details-panel'] }), []);
  const visibleRows = snap.items.filter((i) => i.label.startsWith('torrent-row')).length;
  assert.ok(visibleRows >= 10 && visibleRows <= 11, `rows seen: ${visibleRows} (10 fit in 300 px, the 11th only if cut)`);
  // A modal dialog over the page: what it covers entirely is left out; it and its controls are checked.
  await page.evaluate(`(() => { const d = document.createElement('dialog'); d.setAttribute('data-testid', 'remove-dialog');
    d.innerHTML = '<label><input type=checkbox data-testid=remove-delete-data> delete data</label> <button data-testid=remove-confirm>Remove</button>';
    document.body.append(d); d.showModal(); })()`);
  const modal = await layoutOf(page);
  assert.deepEqual(analyseLayout(modal), []);
  assert.ok(modal.items.some((i) => i.label === 'remove-confirm' && !i.covered), 'the dialog button is checked');
  assert.ok(modal.items.some((i) => i.label === 'add-button' && i.covered), 'the header button under the backdrop is covered');
});

test('layout checker: overlapping controls and rows, a hidden button, a cut-off cell and a too-wide page are all found', async () => {
  await page.setContent(`${STYLE}<header><button data-testid="add-button">Add</button>
    <button data-testid="settings-button" style="margin-left: -30px">Settings</button>
    <span style="position: relative"><button data-testid="action-verify">Verify</button>
      <button data-testid="action-remove" style="position: absolute; left: -4px; top: -4px; width: 90px; height: 40px">Remove</button></span></header>
    <main><div data-testid="torrent-list">${rows(5, 'style="margin-bottom: -12px"')}
      <div style="overflow: hidden; width: 100px"><span data-testid="row-eta" style="display: inline-block; width: 160px">ETA</span></div></div>
    <div data-testid="details-panel"><p data-testid="global-rates" style="width: 1000px">too wide</p></div></main>`);
  const v = analyseLayout(await layoutOf(page));
  const text = v.map((x) => `${x.rule}: ${x.message}`).join('\n');
  assert.ok(v.some((x) => x.rule === 'overlap' && /add-button .* overlaps settings-button/.test(x.message)), text);
  assert.ok(v.some((x) => x.rule === 'overlap' && /torrent-row\[4\] .* overlaps torrent-row\[5\]/.test(x.message)), text);
  assert.ok(v.some((x) => x.rule === 'covered' && /action-verify .* is hidden under action-remove/.test(x.message)), text);
  assert.ok(v.some((x) => x.rule === 'clipped-x' && /^row-eta .* cut off horizontally by <div/.test(x.message)), text);
  assert.ok(v.some((x) => x.rule === 'page-scrolls-x'), text);
  assert.ok(v.some((x) => x.rule === 'clipped-x' && /^global-rates .* by viewport/.test(x.message)), text);
});

test('performance probe: a 150 ms task is a long task, and frames are counted', async () => {
  await page.setContent('<div>idle</div>');
  await page.evaluate(startPerfProbe);
  await page.waitForTimeout(300);
  // A task of the page's own (a timer), as the UI's work would be: script run through DevTools is not a page task.
  await page.evaluate('setTimeout(() => { const t = performance.now(); while (performance.now() - t < 150) {} }, 0)');
  await page.waitForTimeout(300);
  const s = summarisePerf(await page.evaluate(stopPerfProbe));
  assert.ok(s.longestTaskMs >= 140, `longest task ${s.longestTaskMs} ms`);
  assert.ok(s.frames >= 5, `frames: ${s.frames}`);
  assert.ok(s.maxFrameMs >= 100, `the blocked frame: ${s.maxFrameMs} ms`);
});

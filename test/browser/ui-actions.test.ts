/**
 * The web UI's torrent actions in a real browser against a real daemon (issue 15, second round): multi-select
 * (Ctrl-click toggles, Shift-click takes a range, Ctrl+A takes every visible row, aria-selected on each), toolbar
 * actions on the whole selection (two torrents paused and resumed by one click each), the remove dialog naming how
 * many torrents it removes, reannounce sent for the selection, and "set location" (torrent-set-location) moving a
 * torrent's files on disk, with a relative path refused into the error banner. The layout check (layout.ts) runs
 * with the move dialog open on the desktop and on a 390×844 phone viewport. A list poll whose answer reaches the page
 * after a pause's reload (held back with Playwright's page.route) must not show the torrent running again.
 *
 * The torrents' data is written into the daemon's download folder before they are added, so each is complete after
 * its check (no seed needed); their trackers are a closed loopback port.
 * Transmission's rpc-spec.txt: torrent-stop, torrent-start, torrent-reannounce, torrent-set-location.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { Page, Route } from 'playwright-core';
import { compareTrees, writeTree } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';
import { addTorrent } from '../persist/harness.js';
import {
  UiBrowser, assertLayout, assertNoPageErrors, createTorrent, distinctPorts, openUi, rowOf, startUiDaemon, tid, torrent, waitUntil, waitValue,
  KiB, STATUS, type UiDaemon,
} from './harness.js';

const scope = new Scope();
let browser: UiBrowser | undefined;
let page: Page;
let d: UiDaemon;
let root: string;
const NAMES = ['alpha', 'bravo', 'charlie'] as const;
type Name = typeof NAMES[number];
const H = {} as Record<Name, string>;
/** A pristine copy of each torrent's data, to compare the moved files with. */
const ORIGINAL = {} as Record<Name, string>;

before(async () => {
  root = await scope.tempDir('bitpeer-browser-actions-');
  const [closedPort] = await distinctPorts(1);
  d = await startUiDaemon(scope, { root: join(root, 'daemon') });
  const specs = [{ path: 'one.bin', size: 300 * KiB + 17 }, { path: 'sub/two.bin', size: 200 * KiB - 5 }];
  for (const name of NAMES) {
    ORIGINAL[name] = join(root, 'original', name);
    await writeTree(ORIGINAL[name], specs, `browser-actions-${name}`);
    await writeTree(join(d.downloadDir, name), specs, `browser-actions-${name}`);
    const file = join(root, `${name}.torrent`);
    const meta = await createTorrent(join(d.downloadDir, name), file, closedPort!, '64K');
    H[name] = meta.infoHashHex;
    await addTorrent(d.rpc, file, { 'download-dir': d.downloadDir });
  }
  for (const name of NAMES) {
    await waitUntil(async () => {
      const t = await torrent(d.rpc, H[name]);
      if (t && t.percentDone === 1) return true;
      if (t && t.status === STATUS.STOPPED) await d.rpc.call('torrent-verify', { ids: [t.id] });
      return undefined;
    }, 60_000, `${name} complete from the data already on disk`, () => d.child.describe(10), 300);
  }
  browser = await UiBrowser.launch(scope);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await openUi(page, d);
  for (const name of NAMES) await rowOf(page, H[name]).waitFor({ state: 'visible', timeout: 15_000 });
});

after(async () => {
  await browser?.close();
  await scope.cleanup();
});

// A test that failed half-way may leave a dialog open or the list filtered: start each from the whole list.
beforeEach(async () => {
  for (let i = 0; i < 3 && await page.locator('dialog[open]').count() > 0; i++) await page.keyboard.press('Escape');
  await tid(page, 'search-input').fill('');
});

async function selectedNames(): Promise<Name[]> {
  const out: Name[] = [];
  for (const name of NAMES) {
    const row = rowOf(page, H[name]);
    if (await row.count() > 0 && await row.getAttribute('aria-selected', { timeout: 2000 }) === 'true') out.push(name);
  }
  return out;
}

async function waitSelected(want: Name[], what: string): Promise<void> {
  let last: Name[] = [];
  await waitUntil(async () => { last = await selectedNames(); return last.join() === want.join() ? true : undefined; },
    5000, what, () => `selected: ${last.join(', ')}`);
}

async function waitStatus(name: Name, pred: (status: number) => boolean, what: string): Promise<void> {
  await waitUntil(async () => { const t = await torrent(d.rpc, H[name]); return t && pred(t.status) ? true : undefined; },
    20_000, what, () => d.child.describe(10), 200);
}

test('Ctrl-click, Shift-click and Ctrl+A select; plain click selects one', async () => {
  await rowOf(page, H.alpha).click();
  await waitSelected(['alpha'], 'a plain click selects alpha');
  await rowOf(page, H.charlie).click({ modifiers: ['Control'] });
  await waitSelected(['alpha', 'charlie'], 'Ctrl-click adds charlie');
  await rowOf(page, H.alpha).click({ modifiers: ['Control'] });
  await waitSelected(['charlie'], 'Ctrl-click on alpha takes it out again');
  // The details panel shows the last clicked torrent.
  await rowOf(page, H.alpha).click();
  await rowOf(page, H.charlie).click({ modifiers: ['Shift'] });
  await waitSelected(['alpha', 'bravo', 'charlie'], 'Shift-click selects the range alpha..charlie');
  await rowOf(page, H.bravo).click();
  await waitSelected(['bravo'], 'a plain click selects only bravo');
  // Ctrl+A selects the visible rows only: "r" hides alpha.
  await tid(page, 'search-input').fill('r');
  await waitUntil(async () => (await rowOf(page, H.alpha).count()) === 0 ? true : undefined, 5000, 'alpha filtered out');
  await tid(page, 'torrent-list').focus();
  await page.keyboard.press('Control+a');
  await waitSelected(['bravo', 'charlie'], 'Ctrl+A selects the two visible rows');
  await tid(page, 'action-remove').click();
  await waitValue(tid(page, 'remove-count'), 'data-count', (v) => v === '2', 5000, 'the remove dialog counts 2 torrents');
  assert.match(await tid(page, 'remove-dialog').innerText(), /2 torrents/);
  await page.keyboard.press('Escape');
  await tid(page, 'search-input').fill('');
  await rowOf(page, H.alpha).waitFor({ state: 'visible', timeout: 5000 });
  // Arrows still move a single selection.
  await rowOf(page, H.alpha).click();
  await page.keyboard.press('Escape');
  await tid(page, 'torrent-list').focus();
  await page.keyboard.press('ArrowDown');
  await waitSelected(['bravo'], 'ArrowDown moves the single selection to bravo');
  assertNoPageErrors(page, 'multi-select');
});

test('pause and start act on every selected torrent', async () => {
  await rowOf(page, H.alpha).click();
  await rowOf(page, H.bravo).click({ modifiers: ['Control'] });
  await waitSelected(['alpha', 'bravo'], 'alpha and bravo selected');
  await tid(page, 'action-pause').click();
  await waitStatus('alpha', (s) => s === STATUS.STOPPED, 'alpha paused by the one click');
  await waitStatus('bravo', (s) => s === STATUS.STOPPED, 'bravo paused by the same click');
  const c = await torrent(d.rpc, H.charlie);
  assert.notEqual(c?.status, STATUS.STOPPED, 'charlie (not selected) is not paused');
  await tid(page, 'action-start').click();
  await waitStatus('alpha', (s) => s !== STATUS.STOPPED, 'alpha started again');
  await waitStatus('bravo', (s) => s !== STATUS.STOPPED, 'bravo started again');
});

test('a list poll answered after an action\'s reload never shows the state before the action again', async () => {
  await rowOf(page, H.charlie).click();
  await page.keyboard.press('Escape');
  await waitSelected(['charlie'], 'charlie selected');
  const state = tid(rowOf(page, H.charlie), 'row-state');
  await waitValue(state, null, (v) => v === 'seeding', 5000, 'charlie seeding');
  // The next list poll is answered by the daemon at once (charlie seeding) and handed to the page 2 s later, after
  // the pause and its reload: the old answer arrives last.
  let held: Promise<void> | undefined;
  const holdOnePoll = async (route: Route): Promise<void> => {
    const body = route.request().postData() ?? '';
    if (held !== undefined || !body.includes('"torrent-get"') || body.includes('"ids":[')) return route.continue();
    held = (async () => {
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 2000));
      await route.fulfill({ response });
    })();
    return held;
  };
  await page.route('**/transmission/rpc', holdOnePoll);
  try {
    await waitUntil(async () => held !== undefined || undefined, 5000, 'a list poll held back');
    await tid(page, 'action-pause').click();
    await waitValue(state, null, (v) => v === 'paused', 5000, 'charlie shown paused');
    const shown: string[] = [];
    const since = Date.now();
    while (Date.now() - since < 2500) {
      shown.push((await state.textContent())?.trim() ?? '');
      await page.waitForTimeout(100);
    }
    await held;
    assert.deepEqual([...new Set(shown)], ['paused'], 'the row stays paused while the old answer lands');
  } finally {
    await held?.catch(() => undefined);
    await page.unroute('**/transmission/rpc', holdOnePoll);
  }
  await tid(page, 'action-start').click();
  await waitStatus('charlie', (s) => s !== STATUS.STOPPED, 'charlie started again');
  assertNoPageErrors(page, 'stale poll');
});

test('reannounce is sent for the selection and the daemon accepts it', async () => {
  await rowOf(page, H.alpha).click();
  await rowOf(page, H.charlie).click({ modifiers: ['Control'] });
  await waitSelected(['alpha', 'charlie'], 'alpha and charlie selected');
  const ids = await Promise.all((['alpha', 'charlie'] as const).map(async (n) => (await torrent(d.rpc, H[n]))!.id));
  const answered = page.waitForResponse((r) => r.url().endsWith('/transmission/rpc') && r.status() === 200
    && (r.request().postData() ?? '').includes('"torrent-reannounce"'), { timeout: 10_000 });
  await tid(page, 'action-reannounce').click();
  const res = await answered;
  const sent = JSON.parse(res.request().postData() ?? '{}') as { arguments?: { ids?: number[] } };
  assert.deepEqual([...(sent.arguments?.ids ?? [])].sort((a, b) => a - b), ids.sort((a, b) => a - b));
  assert.equal(((await res.json()) as { result?: string }).result, 'success');
});

test('set location moves the files; a relative path is refused into the error banner; layout with the dialog open', async () => {
  await rowOf(page, H.alpha).click();
  await page.keyboard.press('Escape');
  await waitSelected(['alpha'], 'alpha selected');
  await tid(page, 'action-move').click();
  await tid(page, 'move-dialog').waitFor({ state: 'visible', timeout: 5000 });
  await waitValue(tid(page, 'move-path'), 'value', (v) => v === d.downloadDir, 5000, 'move-path prefilled with downloadDir');
  assert.equal(await tid(page, 'move-data').isChecked(), true, 'move-data checked by default');
  await assertLayout(page, 'desktop-move-dialog', { mustBeUncovered: ['move-dialog'] });
  const target = join(root, 'moved');
  await tid(page, 'move-path').fill(target);
  await tid(page, 'move-confirm').click();
  await waitUntil(async () => ((await torrent(d.rpc, H.alpha))?.downloadDir === target ? true : undefined),
    30_000, 'alpha downloadDir is the new folder', () => d.child.describe(10), 200);
  await waitUntil(() => (existsSync(join(target, 'alpha', 'one.bin')) && !existsSync(join(d.downloadDir, 'alpha', 'one.bin')) ? true : undefined),
    30_000, 'alpha files moved on disk');
  assert.deepEqual(await compareTrees(ORIGINAL.alpha, join(target, 'alpha')), [], 'moved files are intact');
  assert.ok(existsSync(join(d.downloadDir, 'bravo', 'one.bin')), 'bravo (not selected) stays');

  await tid(page, 'action-move').click();
  await tid(page, 'move-path').fill('relative/folder');
  await tid(page, 'move-confirm').click();
  await waitValue(tid(page, 'error-banner'), null, (v) => /absolute/i.test(v), 10_000, 'the refusal in the error banner');
  assert.equal((await torrent(d.rpc, H.alpha))?.downloadDir, target, 'a refused move changes nothing');
  await tid(page, 'error-dismiss').click();

  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await rowOf(page, H.bravo).click();
    await page.keyboard.press('Escape');
    await tid(page, 'action-move').click();
    await tid(page, 'move-dialog').waitFor({ state: 'visible', timeout: 5000 });
    await assertLayout(page, 'phone-move-dialog', { mustBeUncovered: ['move-dialog'] });
    await page.keyboard.press('Escape');
    await assertLayout(page, 'phone-list-with-actions', { mustBeUncovered: ['torrent-list'] });
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
  assertNoPageErrors(page, 'set location');
});

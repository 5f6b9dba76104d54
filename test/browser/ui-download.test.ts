/**
 * The web UI in a real browser against a real daemon downloading from real seeds on loopback (issue 15): add by
 * upload (the file picker) and by magnet and watch each complete in the list; the details tabs (piece bar, files,
 * peers with the seed's address, trackers) and the rates; unwanted files and priorities set in the add dialog and
 * the files tab, with the daemon following (an unwanted file's bytes are never fetched, by torrent-get
 * bytesCompleted and on disk; a high-priority file completes before a low one; a file wanted again is fetched);
 * pause and resume; remove with data (only what the torrent wrote goes). A wanted box keeps the user's click while the
 * torrent-set is held back on its way (page.route) and polls report the old state. Every view visited is screenshotted to
 * test-artifacts/browser/ and its layout checked (layout.ts); the last test asserts they all passed.
 *
 * Seeds are `bitpeer seed` processes whose .torrent announces to their own embedded tracker, upload-limited so a
 * download lasts long enough to look at it.
 * BEP 3, BEP 9 (the magnet's metadata), the HTTP tracker protocol (BEP 3, BEP 23).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { Page, Route } from 'playwright-core';
import { compareTrees, writeTree } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';
import { fileIndex, type RpcTorrent } from '../persist/harness.js';
import {
  UiBrowser, assertNoPageErrors, createTorrent, distinctPorts, layoutOf, openUi, rowOf, screenshot, startSeed, startUiDaemon, tid, torrent,
  waitRowComplete, waitUntil, waitValue, MiB, KiB, STATUS, type UiDaemon,
} from './harness.js';
import { analyseLayout } from './layout.js';
import type { Metainfo } from '../../src/metainfo/index.js';

const scope = new Scope();
let browser: UiBrowser | undefined;
let page: Page;
let d: UiDaemon;
let root: string;
/** Torrents: alpha (by upload, 2 files), bravo (by upload, 4 piece-aligned files, for wanted/priority), charlie (by magnet). */
const T: Record<'alpha' | 'bravo' | 'charlie', { meta: Metainfo; file: string; data: string; seedPort: number }> = {} as never;
/** Layout problems per view, asserted by the last test (so a layout fault does not hide a functional one). */
const layoutProblems: string[] = [];

before(async () => {
  root = await scope.tempDir('bitpeer-browser-ui-');
  const ports = await distinctPorts(3);
  const specs = {
    alpha: [{ path: 'one.bin', size: 5 * MiB + 123 }, { path: 'sub/two.bin', size: MiB - 77 }],
    bravo: [{ path: 'a.bin', size: MiB }, { path: 'b.bin', size: MiB }, { path: 'c/d.bin', size: 512 * KiB }, { path: 'e.bin', size: MiB }],
    charlie: [{ path: 'movie.bin', size: 6 * MiB }],
  };
  const limits = { alpha: '512K', bravo: '1M', charlie: '512K' };
  const names = ['alpha', 'bravo', 'charlie'] as const;
  await Promise.all(names.map(async (name, i) => {
    const data = join(root, 'seeds', name);
    await writeTree(data, specs[name], `browser-ui-${name}`);
    const file = join(root, `${name}.torrent`);
    const meta = await createTorrent(data, file, ports[i]!, '256K');
    T[name] = { meta, file, data, seedPort: ports[i]! };
  }));
  await Promise.all(names.map((name) => startSeed(scope, T[name].file, T[name].data, T[name].seedPort, limits[name], `seed ${name}`)));
  d = await startUiDaemon(scope, { root: join(root, 'daemon') });
  browser = await UiBrowser.launch(scope);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await openUi(page, d);
});

after(async () => {
  await browser?.close();
  await scope.cleanup();
});

// A test that failed half-way may leave a dialog open: close it, so the next test starts from the list.
beforeEach(async () => {
  for (let i = 0; i < 3 && await page.locator('dialog[open]').count() > 0; i++) await page.keyboard.press('Escape');
});

const ctx = (): string => `${d.child.describe(10)}\n${scope.started.filter((c) => c.name.startsWith('seed')).map((c) => c.describe(4)).join('\n')}`;

/** Screenshot and layout check of the current view. */
async function view(name: string, opts: { mustBeUncovered?: string[] } = {}): Promise<void> {
  await screenshot(page, name);
  const v = analyseLayout(await layoutOf(page), opts);
  for (const x of v) layoutProblems.push(`${name}: ${x.rule}: ${x.message}`);
}

/** Opens the add dialog, picks `file` with the file input, unticks `unwanted` (file indexes) and maybe "start". */
async function addByUpload(file: string, opts: { unwanted?: number[]; start?: boolean; shot?: string; files?: number } = {}): Promise<void> {
  await tid(page, 'add-button').click();
  const dialog = tid(page, 'add-dialog');
  await dialog.waitFor({ state: 'visible' });
  // The folder is prefilled with the session's download-dir.
  await waitValue(tid(dialog, 'add-folder-input'), 'value', (v) => v === d.downloadDir, 5000, 'the download folder prefilled');
  await tid(dialog, 'add-file-input').setInputFiles(file);
  const choices = tid(dialog, 'add-file-choice');
  await waitUntil(async () => (await choices.count()) === (opts.files ?? 0) || undefined, 5000, `${opts.files} file choices listed`,
    () => 'add dialog did not list the files of the .torrent');
  for (let i = 0; i < (opts.files ?? 0); i++) assert.equal(await choices.nth(i).isChecked(), true, `file choice ${i} is checked by default`);
  for (const index of opts.unwanted ?? []) await dialog.locator(`[data-testid="add-file-choice"][data-index="${index}"]`).uncheck();
  const startBox = tid(dialog, 'add-start-checkbox');
  assert.equal(await startBox.isChecked(), true, 'start when added is checked by default');
  if (opts.start === false) await startBox.uncheck();
  if (opts.shot) await view(opts.shot, { mustBeUncovered: ['add-dialog'] });
  await tid(dialog, 'add-submit').click();
  await dialog.waitFor({ state: 'hidden' });
}

/** Clicks a row: it is selected and the details open. */
async function select(hash: string): Promise<void> {
  const row = rowOf(page, hash);
  await row.click();
  await waitValue(row, 'aria-selected', (v) => v === 'true', 5000, 'the clicked row selected');
  await tid(page, 'details-panel').waitFor({ state: 'visible' });
}

async function openTab(name: 'overview' | 'files' | 'peers' | 'trackers'): Promise<void> {
  await tid(page, `tab-${name}`).click();
  await waitValue(tid(page, `tab-${name}`), 'aria-selected', (v) => v === 'true', 5000, `tab ${name} selected`);
}

async function rpcTorrent(hash: string): Promise<RpcTorrent> {
  const t = await torrent(d.rpc, hash);
  assert.ok(t, `the daemon has no torrent ${hash}`);
  return t;
}

test('add by upload: the .torrent is read in the browser, added, shown with its seed in peers, its tracker, pieces, files; it completes', { timeout: 120_000 }, async () => {
  const { meta } = T.alpha;
  const hash = meta.infoHashHex;
  await view('list-empty', { mustBeUncovered: ['torrent-list'] });
  await addByUpload(T.alpha.file, { files: 2, shot: 'add-dialog' });
  const row = rowOf(page, hash);
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal((await tid(row, 'row-name').textContent())?.trim(), 'alpha');
  await select(hash);
  // While it downloads (the seed gives 512 KiB/s): the seed is in the peers tab, by its address.
  await openTab('peers');
  const peerRow = page.locator(`[data-testid="peer-row"]`, { hasText: `127.0.0.1:${T.alpha.seedPort}` });
  await peerRow.first().waitFor({ state: 'visible', timeout: 20_000 });
  await view('details-peers', { mustBeUncovered: ['torrent-list', 'details-panel'] });
  // The rates show the download: the global rate in the header (with its graph) and the row's.
  const positive = (v: string): boolean => Number(/↓\s*([\d.]+)/.exec(v)?.[1] ?? '0') > 0;
  await waitValue(tid(page, 'global-rates'), null, positive, 10_000, 'a download rate above 0 in the header');
  assert.equal(await tid(tid(page, 'global-rates'), 'rate-graph').count(), 1, 'the rate graph is in the header');
  await waitValue(tid(row, 'row-down'), null, (v) => Number(/[\d.]+/.exec(v)?.[0] ?? '0') > 0, 10_000, 'the row\'s download rate above 0');
  const state = (await tid(row, 'row-state').textContent())?.trim();
  assert.ok(state === 'downloading' || state === 'seeding', `row state while the seed is connected: ${state}`);
  await openTab('trackers');
  const trackerRow = page.locator('[data-testid="tracker-row"]', { hasText: `http://127.0.0.1:${T.alpha.seedPort}/announce` });
  await trackerRow.first().waitFor({ state: 'visible' });
  await waitValue(trackerRow.first(), null, (v) => v.includes('✓'), 20_000, 'a successful announce shown');
  await view('details-trackers');
  await openTab('files');
  await waitUntil(async () => (await tid(page, 'file-row').count()) === 2 || undefined, 10_000, 'two file rows');
  await view('details-files');
  await openTab('overview');
  const bar = tid(page, 'piece-bar');
  await bar.waitFor({ state: 'visible' });
  const box = await bar.boundingBox();
  assert.ok(box && box.width > 50 && box.height > 2, `piece bar size ${JSON.stringify(box)}`);
  assert.match((await tid(page, 'info-hash').textContent()) ?? '', new RegExp(hash));
  assert.match((await tid(page, 'magnet-link').textContent()) ?? '', new RegExp(`^magnet:\\?xt=urn:btih:${hash}`, 'i'));

  await waitRowComplete(page, hash, 60_000, ctx);
  // The piece bar is drawn: a complete torrent paints cells (not a blank canvas).
  await waitUntil(() => page.evaluate(`(() => { const c = document.querySelector('[data-testid="piece-bar"]');
    const x = c.getContext('2d'); const d = x.getImageData(0, 0, c.width, c.height).data;
    let painted = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++; return painted > c.width * c.height / 2; })()`) as Promise<boolean>,
  10_000, 'the piece bar painted');
  await view('details-overview-complete', { mustBeUncovered: ['torrent-list', 'details-panel'] });
  const t = await rpcTorrent(hash);
  assert.equal(t.status, STATUS.SEED);
  assert.equal(t.leftUntilDone, 0);
  assert.deepEqual(await compareTrees(T.alpha.data, join(d.downloadDir, 'alpha')), []);
  assertNoPageErrors(page, 'add by upload');
});

test('files: unwanted in the add dialog and in the files tab, priorities; the daemon follows (high first) and never fetches an unwanted file', { timeout: 120_000 }, async () => {
  const { meta } = T.bravo;
  const hash = meta.infoHashHex;
  const [ia, ib, id, ie] = ['a.bin', 'b.bin', 'c/d.bin', 'e.bin'].map((rel) => fileIndex(meta, rel)) as [number, number, number, number];
  // Added paused with c/d.bin unticked in the dialog.
  await addByUpload(T.bravo.file, { files: 4, unwanted: [id], start: false });
  const row = rowOf(page, hash);
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  await waitValue(tid(row, 'row-state'), null, (v) => v === 'paused', 10_000, 'bravo paused');
  let t = await rpcTorrent(hash);
  assert.equal(t.status, STATUS.STOPPED);
  assert.deepEqual(t.fileStats.map((f) => f.wanted), meta.files.map((_, i) => i !== id), 'the dialog sent files-unwanted');

  // In the files tab: untick e.bin; b.bin high, a.bin low (against the file order, so the order seen is the priority's).
  await select(hash);
  await openTab('files');
  const fileRow = (i: number) => page.locator(`[data-testid="file-row"][data-index="${i}"]`);
  await fileRow(ie).waitFor({ state: 'visible' });
  assert.equal(await tid(fileRow(id), 'file-wanted').isChecked(), false, 'd.bin shows unwanted');
  // The torrent-set held back 2.5 s on its way to the daemon: the polls in between still report e.bin wanted, and the
  // box must keep showing the user's click (it once flipped back under Playwright's uncheck).
  const held: Array<Promise<void>> = [];
  const slowSet = (route: Route): Promise<void> => {
    const slow = (route.request().postData() ?? '').includes('"torrent-set"');
    const passed = (async () => {
      if (slow) await new Promise((r) => setTimeout(r, 2500));
      await route.continue();
    })();
    held.push(passed);
    return passed;
  };
  await page.route('**/transmission/rpc', slowSet);
  try {
    await tid(fileRow(ie), 'file-wanted').uncheck();
    const flips: number[] = [];
    const since = Date.now();
    while (Date.now() - since < 2200) {
      if (await tid(fileRow(ie), 'file-wanted').isChecked()) flips.push(Date.now() - since);
      await page.waitForTimeout(100);
    }
    assert.deepEqual(flips, [], 'e.bin stays unticked while the torrent-set is on its way (ms after the click when it showed ticked)');
  } finally {
    // Removed only once every request it holds has gone on (a handler removed mid-way would leave its route hanging).
    await Promise.allSettled(held);
    await page.unroute('**/transmission/rpc', slowSet);
  }
  await tid(fileRow(ib), 'file-priority').selectOption('high');
  await tid(fileRow(ia), 'file-priority').selectOption('low');
  const expected = meta.files.map((_, i) => [i === ia || i === ib, i === ib ? 1 : i === ia ? -1 : 0]);
  t = await waitUntil(async () => {
    const x = await rpcTorrent(hash);
    return JSON.stringify(x.fileStats.map((f) => [f.wanted, f.priority])) === JSON.stringify(expected) ? x : undefined;
  }, 10_000, 'the daemon to have e.bin unwanted, b.bin high, a.bin low', ctx);
  // The page shows what the daemon has, after its next poll too.
  await page.waitForTimeout(1500);
  assert.equal(await tid(fileRow(ie), 'file-wanted').isChecked(), false);
  assert.equal(await tid(fileRow(ib), 'file-priority').inputValue(), 'high');
  assert.equal(await tid(fileRow(ia), 'file-priority').inputValue(), 'low');
  await view('details-files-priorities');

  // Start: b.bin (high) completes before a.bin (low); d.bin and e.bin get nothing. Sampled over the RPC throughout.
  const samples: Array<{ a: number; b: number; d: number; e: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const x = await rpcTorrent(hash);
      samples.push({ a: x.files[ia]!.bytesCompleted, b: x.files[ib]!.bytesCompleted, d: x.files[id]!.bytesCompleted, e: x.files[ie]!.bytesCompleted });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await tid(page, 'action-start').click();
  try {
    await waitRowComplete(page, hash, 60_000, ctx);
  } finally {
    sampling = false;
    await sampler;
  }
  const summary = JSON.stringify(samples.filter((x, i) => i === 0 || x.a !== samples[i - 1]!.a || x.b !== samples[i - 1]!.b));
  assert.ok(samples.every((x) => x.a < MiB || x.b === MiB), `a.bin (low) never complete before b.bin (high): ${summary}`);
  assert.ok(samples.some((x) => x.b === MiB && x.a < MiB), `a moment with b.bin (high) complete and a.bin (low) not: ${summary}`);
  assert.ok(samples.every((x) => x.d === 0 && x.e === 0), `nothing of the unwanted files, ever: ${summary}`);
  t = await rpcTorrent(hash);
  assert.deepEqual([t.files[ia]!.bytesCompleted, t.files[ib]!.bytesCompleted, t.files[id]!.bytesCompleted, t.files[ie]!.bytesCompleted], [MiB, MiB, 0, 0]);
  assert.equal(t.sizeWhenDone, 2 * MiB, 'percentDone is of the wanted bytes');
  for (const rel of ['c/d.bin', 'e.bin']) {
    const p = join(d.downloadDir, 'bravo', ...rel.split('/'));
    const size = existsSync(p) ? (await stat(p)).blocks * 512 : 0;
    assert.equal(size, 0, `${rel}: nothing written on disk (allocated ${size} bytes)`);
  }
  const prog = page.locator(`[data-testid="file-row"][data-index="${ib}"] [data-testid="file-progress"]`);
  await waitValue(prog, 'data-percent', (v) => v === '100.0', 5000, 'b.bin shown at 100 %');

  // Want e.bin again: the download follows, e.bin completes, c/d.bin still untouched.
  await tid(fileRow(ie), 'file-wanted').check();
  await waitUntil(async () => {
    const x = await rpcTorrent(hash);
    return x.files[ie]!.bytesCompleted === MiB && x.leftUntilDone === 0 ? x : undefined;
  }, 60_000, 'e.bin fetched after it was wanted again', ctx);
  await waitRowComplete(page, hash, 20_000, ctx);
  t = await rpcTorrent(hash);
  assert.equal(t.files[id]!.bytesCompleted, 0, 'c/d.bin: still no byte');
  for (const rel of ['a.bin', 'b.bin', 'e.bin']) {
    assert.ok((await readFile(join(T.bravo.data, rel))).equals(await readFile(join(d.downloadDir, 'bravo', rel))), `${rel} intact`);
  }
  assertNoPageErrors(page, 'files');
});

test('add by magnet, pause while downloading (no progress while paused), resume, complete', { timeout: 120_000 }, async () => {
  const { meta } = T.charlie;
  const hash = meta.infoHashHex;
  const magnet = `magnet:?xt=urn:btih:${hash}&dn=charlie&tr=${encodeURIComponent(meta.announce!)}`;
  await tid(page, 'add-button').click();
  const dialog = tid(page, 'add-dialog');
  await dialog.waitFor({ state: 'visible' });
  await tid(dialog, 'add-magnet-input').fill(magnet);
  await tid(dialog, 'add-submit').click();
  await dialog.waitFor({ state: 'hidden' });
  const row = rowOf(page, hash);
  await row.waitFor({ state: 'visible', timeout: 10_000 });
  // Metadata arrives from the seed (BEP 9), then data.
  await waitValue(tid(row, 'row-name'), null, (v) => v === 'charlie', 30_000, 'the name from the metadata', ctx);
  await waitValue(tid(row, 'row-progress'), 'data-percent', (v) => Number(v) > 0 && Number(v) < 100, 30_000, 'charlie part-way', ctx);
  await select(hash);
  await view('magnet-downloading');
  await tid(page, 'action-pause').click();
  await waitValue(tid(row, 'row-state'), null, (v) => v === 'paused', 10_000, 'charlie paused');
  let t = await rpcTorrent(hash);
  assert.equal(t.status, STATUS.STOPPED);
  // Blocks in flight when it paused may still land: read after a moment, then nothing more comes.
  await page.waitForTimeout(1000);
  const before = (await rpcTorrent(hash)).downloadedEver;
  const shownBefore = await tid(row, 'row-progress').getAttribute('data-percent');
  await page.waitForTimeout(2500);
  t = await rpcTorrent(hash);
  assert.equal(t.downloadedEver, before, 'no download while paused');
  assert.ok(t.percentDone < 1, 'still incomplete while paused');
  assert.equal(await tid(row, 'row-progress').getAttribute('data-percent'), shownBefore, 'the row shows no progress while paused');
  await view('paused');
  await tid(page, 'action-start').click();
  await waitValue(tid(row, 'row-state'), null, (v) => v === 'downloading' || v === 'seeding', 10_000, 'charlie resumed');
  await waitRowComplete(page, hash, 60_000, ctx);
  assert.deepEqual(await compareTrees(T.charlie.data, join(d.downloadDir, 'charlie')), []);
  assertNoPageErrors(page, 'magnet');
});

test('remove with data: the torrent\'s files go, the user\'s file in its folder and the other torrents stay', { timeout: 60_000 }, async () => {
  const hash = T.bravo.meta.infoHashHex;
  const folder = join(d.downloadDir, 'bravo');
  await writeFile(join(folder, 'notes.txt'), 'mine, not the torrent\'s\n');
  await writeFile(join(d.downloadDir, 'keep.txt'), 'also mine\n');
  await select(hash);
  await tid(page, 'action-remove').click();
  const dialog = tid(page, 'remove-dialog');
  await dialog.waitFor({ state: 'visible' });
  await tid(dialog, 'remove-delete-data').check();
  await view('remove-dialog', { mustBeUncovered: ['remove-dialog'] });
  await tid(dialog, 'remove-confirm').click();
  await dialog.waitFor({ state: 'hidden' });
  await rowOf(page, hash).waitFor({ state: 'detached', timeout: 10_000 });
  await waitUntil(async () => (await torrent(d.rpc, hash)) === undefined || undefined, 10_000, 'the daemon to drop bravo');
  await waitUntil(() => !existsSync(join(folder, 'a.bin')) || undefined, 10_000, 'a.bin deleted');
  assert.equal(existsSync(join(folder, 'b.bin')), false, 'b.bin deleted');
  assert.equal(existsSync(join(folder, 'e.bin')), false, 'e.bin deleted');
  assert.equal(existsSync(join(folder, 'c', 'd.bin')), false, 'c/d.bin gone (or never written)');
  assert.equal(await readFile(join(folder, 'notes.txt'), 'utf8'), 'mine, not the torrent\'s\n', 'the user\'s file in the torrent folder stays');
  assert.equal(await readFile(join(d.downloadDir, 'keep.txt'), 'utf8'), 'also mine\n');
  // The other torrents and their data are untouched.
  for (const name of ['alpha', 'charlie'] as const) {
    await rowOf(page, T[name].meta.infoHashHex).waitFor({ state: 'visible' });
    assert.deepEqual(await compareTrees(T[name].data, join(d.downloadDir, name)), []);
  }
  await view('list-after-remove');
  assertNoPageErrors(page, 'remove');
});

test('layout: every view visited above passes the layout check (no overlap, nothing cut off sideways)', () => {
  assert.deepEqual(layoutProblems, []);
});

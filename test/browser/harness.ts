/**
 * Test harness for the `browser` tier: a real `bitpeer daemon` serving the web UI on 127.0.0.1, real seeds, and
 * Debian's headless chromium driven through playwright-core over the Chrome DevTools Protocol.
 *
 * The browser is started by this harness (not by Playwright) as a tracked child of a {@link Scope}: its PID is ours
 * to stop, its profile is a temp folder the scope removes, and it listens for DevTools on a port it picks on
 * 127.0.0.1 (`--remote-debugging-port=0`, read back from its "DevTools listening on" line). Playwright connects with
 * `connectOverCDP`. `BITPEER_CHROMIUM` overrides the binary (default /usr/bin/chromium); a missing browser is an
 * error with one message saying how to install it, never a skip.
 *
 * Invariants: every wait is bounded (Playwright's default timeout is lowered to 15 s per page; the rest poll with
 * waitUntil); every process is a Scope child, ended by its PID; every socket is 127.0.0.1; screenshots go to
 * test-artifacts/browser/ (gitignored).
 * BEP: none (test tooling).
 */
import assert from 'node:assert/strict';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { RpcClient } from '../../src/api/rpc/client.js';
import { type Child, type Scope } from '../helpers/proc.js';
import { projectRoot } from '../helpers/python.js';
import { waitUntil } from '../persist/harness.js';
import { analyseLayout, collectLayout, PANEL_IDS, ROW_IDS, type AnalyseOptions, type LayoutSnapshot } from './layout.js';

export { createTorrent, distinctPorts, startSeed, waitUntil, torrent, torrents, STATUS, MiB, KiB } from '../persist/harness.js';

/** Where screenshots go (gitignored). */
export const ARTIFACTS_DIR = join(projectRoot(), 'test-artifacts', 'browser');

/** The chromium binary: $BITPEER_CHROMIUM, else Debian's /usr/bin/chromium. */
export function chromiumPath(): string {
  const env = process.env['BITPEER_CHROMIUM'];
  return env !== undefined && env !== '' ? env : '/usr/bin/chromium';
}

/** The one message for a machine without the browser (the same text scripts/run-tests.js prints). */
export function chromiumMissingMessage(path: string): string {
  return `the browser tier needs chromium, and there is no executable at ${path}: install it (Debian/Ubuntu: ` +
    `sudo apt-get install chromium) or set BITPEER_CHROMIUM=/path/to/chromium (CI installs it: .ci/run)`;
}

/** Throws {@link chromiumMissingMessage} unless the browser is there. */
export function requireChromium(): string {
  const path = chromiumPath();
  let ok = false;
  try {
    accessSync(path, fsConstants.X_OK);
    ok = statSync(path).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(chromiumMissingMessage(path));
  return path;
}

/** Uncaught exceptions and console errors of a page, for assertions and failure messages. */
export interface PageProblems { errors: string[]; console: string[] }
const problems = new WeakMap<Page, PageProblems>();

/** The page's uncaught exceptions and console errors so far. */
export function pageProblems(page: Page): PageProblems {
  return problems.get(page) ?? { errors: [], console: [] };
}

/** A running chromium and the Playwright connection to it. */
export class UiBrowser {
  private constructor(readonly browser: Browser, readonly child: Child) {}

  /** Starts chromium (headless, no sandbox: we run as root in CI) and connects. Bounded by `timeoutMs` (30 s). */
  static async launch(scope: Scope, opts: { extraArgs?: string[]; timeoutMs?: number } = {}): Promise<UiBrowser> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const exe = requireChromium();
    const profile = await scope.tempDir('bitpeer-chromium-');
    // Chromium puts its singleton socket folder (org.chromium.Chromium.XXXXXX) in TMPDIR and removes it only on a clean
    // exit; it is stopped by PID here, so give it a TMPDIR of its own that the scope removes.
    const tmp = await scope.tempDir('bitpeer-chromium-tmp-');
    const child = scope.spawn(exe, ['--headless=new', '--no-sandbox', '--remote-debugging-port=0', '--remote-debugging-address=127.0.0.1',
      `--user-data-dir=${profile}`, '--no-first-run', '--no-default-browser-check', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--metrics-recording-only', '--password-store=basic', '--use-mock-keychain',
      '--disable-dev-shm-usage', '--hide-scrollbars', '--mute-audio', ...(opts.extraArgs ?? []), 'about:blank'],
      { name: 'chromium', env: { TMPDIR: tmp } });
    const deadline = Date.now() + timeoutMs;
    let ws: string | undefined;
    while (!(ws = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(child.stderr)?.[1])) {
      if (child.exitInfo) throw new Error(`chromium (${exe}) exited before listening for DevTools\n${child.describe()}`);
      if (Date.now() > deadline) throw new Error(`chromium did not listen for DevTools within ${timeoutMs} ms\n${child.describe()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const browser = await chromium.connectOverCDP(ws, { timeout: timeoutMs });
    return new UiBrowser(browser, child);
  }

  /**
   * A fresh context (cookies, storage, viewport) and a page in it, with problems recorded and 15 s timeouts.
   * `basicAuth` sends an Authorization header with every request of the context (as a browser that has logged in
   * does). Playwright's own httpCredentials are not used: over a CDP connection their answer to a 401 challenge
   * leaks between contexts (a context without credentials got ERR_INVALID_AUTH_CREDENTIALS, one with the right ones
   * sometimes too), which made the auth tests depend on their order.
   */
  async newPage(opts: { viewport?: { width: number; height: number }; basicAuth?: { user: string; password: string };
    colorScheme?: 'light' | 'dark' } = {}): Promise<Page> {
    const context: BrowserContext = await this.browser.newContext({
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      ...(opts.basicAuth
        ? { extraHTTPHeaders: { Authorization: `Basic ${Buffer.from(`${opts.basicAuth.user}:${opts.basicAuth.password}`).toString('base64')}` } }
        : {}),
      ...(opts.colorScheme ? { colorScheme: opts.colorScheme } : {}),
    });
    context.setDefaultTimeout(15_000);
    context.setDefaultNavigationTimeout(20_000);
    const page = await context.newPage();
    const p: PageProblems = { errors: [], console: [] };
    problems.set(page, p);
    page.on('pageerror', (e) => p.errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') p.console.push(m.text()); });
    return page;
  }

  /** Disconnects (bounded) and stops the browser by its PID. Never throws. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.browser.close().catch(() => undefined), new Promise((r) => { timer = setTimeout(r, 5000); })]);
    clearTimeout(timer);
    await this.child.stop(3000);
  }
}

/** A running daemon with its RPC (and web UI) address. */
export interface UiDaemon {
  child: Child;
  rpc: RpcClient;
  rpcPort: number;
  peerPort: number;
  /** http://127.0.0.1:PORT/ — the web UI. */
  url: string;
  stateDir: string;
  downloadDir: string;
}

/**
 * Starts `bitpeer daemon` on free ports (peer port 0, RPC port 0: read back from its "daemon running" line), DHT and
 * LSD off, on 127.0.0.1, and waits until it serves. With `auth`, the RPC (and UI) demand HTTP Basic credentials.
 */
export async function startUiDaemon(scope: Scope, opts: { root: string; name?: string; auth?: { user: string; password: string };
  extraArgs?: string[] }): Promise<UiDaemon> {
  const stateDir = join(opts.root, 'state');
  const downloadDir = join(opts.root, 'downloads');
  await mkdir(downloadDir, { recursive: true });
  const child = scope.bitpeer(['daemon', '--state-dir', stateDir, '--download-dir', downloadDir, '--port', '0', '--bind', '127.0.0.1',
    '--rpc-port', '0', '--rpc-host', '127.0.0.1', '--no-lsd', '--no-dht', '--json', ...(opts.extraArgs ?? [])], {
    name: opts.name ?? 'daemon',
    ...(opts.auth ? { env: { BITPEER_RPC_USER: opts.auth.user, BITPEER_RPC_PASSWORD: opts.auth.password } } : {}),
  });
  const line = await child.waitFor((e) => e.event === 'log' && typeof e.message === 'string' && e.message.startsWith('daemon running'),
    30_000, 'the "daemon running" log line');
  const m = /peer port (\d+), RPC http:\/\/127\.0\.0\.1:(\d+)\//.exec(String(line.message));
  assert.ok(m, `cannot read the ports from: ${String(line.message)}`);
  const rpcPort = Number(m[2]);
  const rpc = new RpcClient({ port: rpcPort, timeoutMs: 30_000, ...(opts.auth ? { user: opts.auth.user, password: opts.auth.password } : {}) });
  return { child, rpc, rpcPort, peerPort: Number(m[1]), url: `http://127.0.0.1:${rpcPort}/`, stateDir, downloadDir };
}

// ---------------------------------------------------------------------------------------------------------------
// The page.

/** The element with this data-testid (the contract in docs/design/webui.md). */
export function tid(scope: Page | Locator, id: string): Locator {
  return scope.locator(`[data-testid="${id}"]`);
}

/** The list row of a torrent, by info-hash. */
export function rowOf(page: Page, hash: string): Locator {
  return page.locator(`[data-testid="torrent-row"][data-hash="${hash}"]`);
}

/** Opens the UI and waits for the torrent list. */
export async function openUi(page: Page, d: UiDaemon): Promise<void> {
  const res = await page.goto(d.url, { waitUntil: 'load' });
  assert.equal(res?.status(), 200, `GET ${d.url} answered ${res?.status()}`);
  await tid(page, 'torrent-list').waitFor({ state: 'visible', timeout: 15_000 });
}

/**
 * Polls an attribute of a locator's first element (its text with attr = null, its current input value with
 * attr = 'value') until `pred` holds; bounded. Returns the value, trimmed.
 */
export async function waitValue(loc: Locator, attr: string | null, pred: (v: string) => boolean, timeoutMs: number, what: string,
  context?: () => string): Promise<string> {
  let last: string | null = null;
  return waitUntil(async () => {
    const el = loc.first();
    const v = attr === null ? await el.textContent({ timeout: 2000 })
      : attr === 'value' ? await el.inputValue({ timeout: 2000 }) : await el.getAttribute(attr, { timeout: 2000 });
    last = v;
    return v !== null && pred(v.trim()) ? v.trim() : undefined;
  }, timeoutMs, what, () => `last value: ${JSON.stringify(last)}${context ? `\n${context()}` : ''}`, 150);
}

/** Waits until a torrent's row shows `row-progress` data-percent 100 and `row-state` seeding. */
export async function waitRowComplete(page: Page, hash: string, timeoutMs: number, context?: () => string): Promise<void> {
  const row = rowOf(page, hash);
  await waitValue(tid(row, 'row-progress'), 'data-percent', (v) => Number(v) === 100, timeoutMs, `row ${hash.slice(0, 8)} at 100 %`, context);
  await waitValue(tid(row, 'row-state'), null, (v) => v === 'seeding', 10_000, `row ${hash.slice(0, 8)} seeding`, context);
}

/** Saves a screenshot of the viewport to test-artifacts/browser/NAME.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, timeout: 15_000, animations: 'disabled' });
  return path;
}

/** The page's layout snapshot (see layout.ts). */
export function layoutOf(page: Page): Promise<LayoutSnapshot> {
  return page.evaluate(collectLayout, { panels: PANEL_IDS, rows: ROW_IDS });
}

/**
 * Asserts the structural layout rules (layout.ts) on the page as it is now; on failure saves
 * test-artifacts/browser/layout-failure-WHAT.png and lists every violation. Returns the snapshot.
 */
export async function assertLayout(page: Page, what: string, opts: AnalyseOptions = {}): Promise<LayoutSnapshot> {
  const snap = await layoutOf(page);
  const violations = analyseLayout(snap, opts);
  if (violations.length > 0) {
    const shot = await screenshot(page, `layout-failure-${what}`).catch((e: unknown) => `(no screenshot: ${String(e)})`);
    assert.fail(`layout of ${what} (${snap.viewport.width}×${snap.viewport.height}, ${snap.items.length} elements checked) has ` +
      `${violations.length} problem(s); screenshot ${shot}:\n${violations.slice(0, 40).map((v) => `  ${v.rule}: ${v.message}`).join('\n')}`);
  }
  assert.ok(snap.items.length > 0, `layout of ${what}: no visible element was found`);
  return snap;
}

/** Fails when the page threw an uncaught exception. */
export function assertNoPageErrors(page: Page, what: string): void {
  const p = pageProblems(page);
  assert.deepEqual(p.errors, [], `${what}: uncaught exceptions in the page (console errors: ${JSON.stringify(p.console.slice(-5))})`);
}

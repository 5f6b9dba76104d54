/**
 * The RPC server's defences (src/api/rpc/server.ts, docs/design/rpc.md) as a real browser meets them, on a daemon
 * started with credentials (BITPEER_RPC_USER / BITPEER_RPC_PASSWORD):
 * - the UI without credentials, or with wrong ones, is a 401 and shows nothing; with them it loads and works;
 * - a page of another origin (a second small HTTP server on 127.0.0.1, another port: "same-site" to the browser,
 *   and one on "localhost": cross-site) that POSTs to the daemon — a no-cors fetch, a CORS fetch carrying a leaked
 *   session id, an auto-submitted form — is refused with 403 and changes nothing, even though the browser holds the
 *   user's credentials;
 * - DNS rebinding: a name that resolves to 127.0.0.1 (chromium's --host-resolver-rules) gets 421 for the UI and
 *   for the RPC, even same-origin;
 * - the UI's own origin POSTing without the X-Transmission-Session-Id header gets 409 (with the id in the answer)
 *   and changes nothing; the same request with the id succeeds.
 * BEP: none (Transmission's rpc-spec.txt: the 409 handshake; HTTP Basic auth; Fetch Metadata).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Page, Response } from 'playwright-core';
import { writeTree } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';
import { createTorrent as createTorrentFile } from '../../src/create/create-torrent.js';
import { UiBrowser, assertNoPageErrors, rowOf, startUiDaemon, tid, waitUntil, KiB, type UiDaemon } from './harness.js';

const scope = new Scope();
const AUTH = { user: 'alice', password: 'correct horse battery staple' };
let browser: UiBrowser | undefined;
let d: UiDaemon;
let hash: string;
let attacker: http.Server | undefined;
let attackerPort = 0;

/** The attacker's pages: /fetch runs two fetches at ?rpc= (one carrying ?sid=), /form auto-submits a form to it. */
function attackerPage(url: URL): string {
  const rpc = JSON.stringify(url.searchParams.get('rpc') ?? '');
  const sid = JSON.stringify(url.searchParams.get('sid') ?? '');
  const body = JSON.stringify(JSON.stringify({ method: 'session-set', arguments: { 'speed-limit-up': 66, 'speed-limit-up-enabled': true } }));
  if (url.pathname === '/fetch') {
    return `<!DOCTYPE html><title>evil</title><script>
window.results = {};
(async () => {
  try { await fetch(${rpc}, { method: 'POST', mode: 'no-cors', credentials: 'include', body: ${body} }); window.results.noCors = 'sent (opaque)'; }
  catch (e) { window.results.noCors = 'rejected: ' + e; }
  try { const r = await fetch(${rpc}, { method: 'POST', credentials: 'include', headers: { 'X-Transmission-Session-Id': ${sid}, 'Content-Type': 'application/json' }, body: ${body} });
    window.results.cors = 'status ' + r.status; }
  catch (e) { window.results.cors = 'rejected: ' + e; }
  window.done = true;
})();
</script>`;
  }
  // A text/plain form whose body is JSON: name + "=" + value.
  const name = '{"method":"torrent-remove","arguments":{"ids":[1],"delete-local-data":true},"x":"';
  return `<!DOCTYPE html><title>evil form</title><form id="f" method="POST" action=${rpc.replace(/"/g, '&quot;').replace(/^&quot;|&quot;$/g, '"')} enctype="text/plain">
<input type="hidden" name='${name}' value='"}'></form><script>document.getElementById('f').submit();</script>`;
}

before(async () => {
  const root = await scope.tempDir('bitpeer-browser-security-');
  d = await startUiDaemon(scope, { root: join(root, 'daemon'), auth: AUTH });
  await writeTree(d.downloadDir, [{ path: 'precious.bin', size: 64 * KiB }], 'browser-security');
  const { torrent, meta } = await createTorrentFile(join(d.downloadDir, 'precious.bin'), { pieceLength: 16 * KiB, creationDate: null });
  await d.rpc.call('torrent-add', { metainfo: torrent.toString('base64') });
  hash = meta.infoHashHex;
  attacker = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(attackerPage(url));
  });
  await new Promise<void>((resolve) => attacker!.listen(0, '127.0.0.1', resolve));
  attackerPort = (attacker.address() as AddressInfo).port;
  // evil.test resolves to 127.0.0.1: the DNS rebinding case.
  browser = await UiBrowser.launch(scope, { extraArgs: ['--host-resolver-rules=MAP evil.test 127.0.0.1'] });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => { if (attacker) { attacker.closeAllConnections(); attacker.close(() => resolve()); } else resolve(); });
  await scope.cleanup();
});

/** What the daemon's settings and torrents are now (to show that nothing changed). */
async function daemonState(): Promise<string> {
  const s = await d.rpc.call('session-get', { fields: ['speed-limit-up', 'speed-limit-up-enabled'] });
  const t = await d.rpc.call('torrent-get', { fields: ['hashString', 'status'] });
  return JSON.stringify({ limit: [s['speed-limit-up'], s['speed-limit-up-enabled']], torrents: t['torrents'] });
}

/** The session id, as a leaked one would be: a POST without it answers 409 with it. */
function sessionId(): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: d.rpcPort, path: '/transmission/rpc', method: 'POST', timeout: 10_000,
      headers: { Authorization: `Basic ${Buffer.from(`${AUTH.user}:${AUTH.password}`).toString('base64')}`, 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      const id = res.headers['x-transmission-session-id'];
      if (res.statusCode === 409 && typeof id === 'string') resolve(id); else reject(new Error(`expected 409 with an id, got ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end('{}');
  });
}

/** Every response from the daemon's port seen by the page: "METHOD status path". */
function recordDaemonResponses(page: Page, port: number): string[] {
  const seen: string[] = [];
  page.on('response', (r: Response) => {
    const u = new URL(r.url());
    if (u.port === String(port)) seen.push(`${r.request().method()} ${r.status()} ${u.pathname}`);
  });
  return seen;
}

/**
 * Navigates and returns what the browser met: the statuses of the responses to `url` and how the navigation ended.
 * A 401 for a navigation ends, in headless chromium driven over CDP, either as that 401 page or as
 * net::ERR_INVALID_AUTH_CREDENTIALS (it answers the challenge and gives up): both are a refusal.
 */
async function navigate(page: Page, url: string): Promise<{ statuses: string[]; end: string }> {
  const statuses: string[] = [];
  page.on('response', (r: Response) => { if (r.url() === url) statuses.push(`${r.status()} ${r.headers()['www-authenticate'] ?? ''}`.trim()); });
  const end = await page.goto(url).then((r) => `status ${r?.status()}`, (e: Error) => e.message.split('\n')[0]!);
  return { statuses, end };
}

test('auth: the UI without credentials or with wrong ones is a 401 and shows nothing; with them it loads and lists the torrent', { timeout: 60_000 }, async () => {
  for (const [what, auth] of [['no credentials', undefined], ['wrong credentials', { user: AUTH.user, password: 'wrong' }]] as const) {
    const page = await browser!.newPage(auth ? { basicAuth: auth } : {});
    const nav = await navigate(page, d.url);
    assert.deepEqual(nav.statuses, ['401 Basic realm="bitpeer"'], `${what}: the responses the browser got`);
    assert.match(nav.end, /^status 401$|ERR_INVALID_AUTH_CREDENTIALS/, `${what}: the navigation ended with ${nav.end}`);
    assert.equal(await tid(page, 'torrent-list').count(), 0, `${what}: no UI`);
    await page.context().close();
  }
  await d.child.waitFor((e) => e.event === 'log' && String(e.message).startsWith('rpc: 401 (wrong credentials)'), 5000,
    'the daemon logging the wrong credentials');
  // The RPC without credentials: 401 too.
  const anon = await browser!.newPage();
  const rpc = await anon.request.post(new URL('/transmission/rpc', d.url).href, { data: '{}', failOnStatusCode: false });
  assert.equal(rpc.status(), 401);
  await anon.context().close();

  const good = await browser!.newPage({ basicAuth: AUTH });
  assert.equal((await good.goto(d.url))?.status(), 200);
  await rowOf(good, hash).waitFor({ state: 'visible', timeout: 15_000 });
  assertNoPageErrors(good, 'the UI with credentials');
  await good.context().close();
});

test('CSRF: another origin\'s fetches and form POST to the daemon are refused with 403 and change nothing, even with credentials and a leaked session id', { timeout: 60_000 }, async () => {
  const before = await daemonState();
  const sid = await sessionId();
  const rpcUrl = `http://127.0.0.1:${d.rpcPort}/transmission/rpc`;
  // Two attacker origins: 127.0.0.1 on another port (same-site to the browser) and localhost (cross-site).
  for (const host of ['127.0.0.1', 'localhost']) {
    // The victim's browser holds the credentials (as after logging in to the UI).
    const page = await browser!.newPage({ basicAuth: AUTH });
    const seen = recordDaemonResponses(page, d.rpcPort);
    await page.goto(`http://${host}:${attackerPort}/fetch?rpc=${encodeURIComponent(rpcUrl)}&sid=${sid}`);
    await page.waitForFunction('window.done === true', undefined, { timeout: 15_000 });
    const results = await page.evaluate('window.results') as { noCors: string; cors: string };
    // The no-cors POST went out and was answered 403; the CORS one (custom header) died at its preflight (403).
    await waitUntil(() => seen.includes('POST 403 /transmission/rpc') || undefined, 5000, `the 403 for the no-cors POST from ${host}`,
      () => `daemon responses seen: ${JSON.stringify(seen)}; page results: ${JSON.stringify(results)}`);
    assert.match(results.cors, /^rejected: TypeError/, `the CORS fetch from ${host} with the session id: ${results.cors}`);
    assert.ok(!seen.some((s) => s.startsWith('POST 200')), `no POST succeeded: ${JSON.stringify(seen)}`);
    // The form: a top-level navigation POST, answered 403.
    const [nav] = await Promise.all([
      page.waitForResponse((r) => r.url() === rpcUrl && r.request().method() === 'POST', { timeout: 15_000 }),
      page.goto(`http://${host}:${attackerPort}/form?rpc=${encodeURIComponent(rpcUrl)}`),
    ]);
    assert.equal(nav.status(), 403, `the form POST from ${host}`);
    assert.match(await nav.text(), /cross-site/);
    await page.context().close();
  }
  assert.equal(await daemonState(), before, 'nothing changed: the limit and the torrent are as they were');
});

test('DNS rebinding: a foreign name that resolves to 127.0.0.1 gets 421 for the UI and for a same-origin RPC POST', { timeout: 30_000 }, async () => {
  const before = await daemonState();
  const page = await browser!.newPage({ basicAuth: AUTH });
  const res = await page.goto(`http://evil.test:${d.rpcPort}/`);
  assert.equal(res?.status(), 421);
  assert.equal(await tid(page, 'torrent-list').count(), 0);
  // The rebound page's own RPC call: chromium gets 421 (and, as HTTP asks of a 421, does not hand it to the page as
  // a success: the fetch either sees 421 or fails).
  const seen = recordDaemonResponses(page, d.rpcPort);
  const outcome = await page.evaluate(`fetch('/transmission/rpc', { method: 'POST', body: '{"method":"session-set","arguments":{"speed-limit-up":66}}' })
    .then((r) => 'status ' + r.status, (e) => 'rejected: ' + e)`) as string;
  assert.match(outcome, /^status 421$|^rejected: TypeError/, outcome);
  assert.ok(seen.length === 0 || seen.every((x) => x.startsWith('POST 421')), `responses: ${JSON.stringify(seen)}`);
  await page.context().close();
  assert.equal(await daemonState(), before);
});

test('the 409 handshake: the UI\'s own origin POSTing without the session id gets 409 with the id, and nothing changes; with the id it works', { timeout: 30_000 }, async () => {
  const before = await daemonState();
  const page = await browser!.newPage({ basicAuth: AUTH });
  assert.equal((await page.goto(d.url))?.status(), 200);
  await rowOf(page, hash).waitFor({ state: 'visible' });
  const body = JSON.stringify({ method: 'session-set', arguments: { 'speed-limit-up': 66, 'speed-limit-up-enabled': true } });
  const first = await page.evaluate(`fetch('/transmission/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: ${JSON.stringify(body)} })
    .then(async (r) => ({ status: r.status, id: r.headers.get('X-Transmission-Session-Id'), text: await r.text() }))`) as { status: number; id: string | null; text: string };
  assert.equal(first.status, 409);
  assert.match(first.id ?? '', /^[0-9a-f]{48}$/);
  assert.equal(await daemonState(), before, 'the 409 changed nothing');
  // The same request with the id: accepted (so the id was the only thing missing).
  const second = await page.evaluate(`fetch('/transmission/rpc', { method: 'POST', headers: { 'Content-Type': 'application/json',
    'X-Transmission-Session-Id': ${JSON.stringify(first.id)} }, body: ${JSON.stringify(body)} }).then(async (r) => ({ status: r.status, json: await r.json() }))`) as
    { status: number; json: { result: string } };
  assert.equal(second.status, 200);
  assert.equal(second.json.result, 'success');
  const s = await d.rpc.call('session-get', { fields: ['speed-limit-up', 'speed-limit-up-enabled'] });
  assert.deepEqual([s['speed-limit-up'], s['speed-limit-up-enabled']], [66, true]);
  assertNoPageErrors(page, 'the 409 handshake');
  await page.context().close();
});

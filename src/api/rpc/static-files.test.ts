// The static file server (static-files.ts) over real sockets on 127.0.0.1, and its pure parts: path checks
// (traversal, encoded traversal, dotfiles, NUL, backslash), symlinks out of the folder, GET/HEAD only, MIME types,
// strong ETags and 304, Cache-Control by asset kind, the CSP on HTML; and the RPC server's use of it (the web UI only
// after the Host/cross-site/auth checks, the landing page when the UI is not built, a web home at /transmission/web/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FakeApi } from '../../../test/support/fake-api.js';
import { startRpcServer } from './server.js';
import { builtWebUi, etagMatches, isHashedAsset, mimeType, packageRoot, safeSegments, staticSite, STRICT_CSP, WEB_HOME_CSP, type StaticSite } from './static-files.js';

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: string }

function get(port: number, urlPath: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    // A raw path: http.request would not normalise "..", but be explicit that nothing rewrites it.
    const req = http.request({ host: '127.0.0.1', port, method: o.method ?? 'GET', path: urlPath, headers: o.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const tmp = mkdtempSync(path.join(tmpdir(), 'bitpeer-static-'));
const site = path.join(tmp, 'site');
const outside = path.join(tmp, 'outside');
let server: http.Server;
let port = 0;
let staticSiteUnderTest: StaticSite;

before(async () => {
  mkdirSync(path.join(site, 'assets'), { recursive: true });
  mkdirSync(path.join(site, 'sub'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(site, 'index.html'), '<!DOCTYPE html><title>ui</title>');
  writeFileSync(path.join(site, 'assets', 'app-ABCD1234.js'), 'console.log(1);');
  writeFileSync(path.join(site, 'assets', 'app-ABCD1234.css'), 'body{}');
  writeFileSync(path.join(site, 'plain.js'), 'x');
  writeFileSync(path.join(site, 'data.bin'), Buffer.from([0, 1, 2]));
  writeFileSync(path.join(site, 'sub', 'index.html'), '<p>sub</p>');
  writeFileSync(path.join(site, '.secret'), 'dotfile');
  writeFileSync(path.join(outside, 'passwd'), 'outside the folder');
  symlinkSync(path.join(outside, 'passwd'), path.join(site, 'link-out.txt'));
  symlinkSync(outside, path.join(site, 'dir-out'));
  symlinkSync(path.join(site, 'plain.js'), path.join(site, 'link-in.js'));
  staticSiteUnderTest = staticSite({ root: site, csp: STRICT_CSP });
  server = http.createServer((req, res) => {
    staticSiteUnderTest.handle(req, res, (req.url ?? '').split('?')[0]!).then((done) => {
      if (!done) { res.writeHead(404); res.end('404'); }
    }, () => { res.writeHead(500); res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
  rmSync(tmp, { recursive: true, force: true });
});

test('safeSegments refuses traversal, dotfiles, NUL, backslash and bad escapes; "/" names index.html', () => {
  assert.deepEqual(safeSegments('/'), ['index.html']);
  assert.deepEqual(safeSegments('/assets/app.js'), ['assets', 'app.js']);
  assert.deepEqual(safeSegments('/sub/'), ['sub', 'index.html']);
  assert.deepEqual(safeSegments('/a%20b.txt'), ['a b.txt']);
  for (const bad of ['/../etc/passwd', '/assets/../../x', '/%2e%2e/x', '/%2E%2E%2Fx', '/.git/config', '/.secret', '/a//b',
    '/a/./b', '/x%00.js', '/a%5c..%5cb', '/%E0%A4%A', '/a\\b']) {
    assert.equal(safeSegments(bad), undefined, bad);
  }
});

test('mimeType, isHashedAsset, etagMatches', () => {
  assert.equal(mimeType('index.html'), 'text/html; charset=utf-8');
  assert.equal(mimeType('app-X.JS'), 'text/javascript; charset=utf-8');
  assert.equal(mimeType('a.css'), 'text/css; charset=utf-8');
  assert.equal(mimeType('i.svg'), 'image/svg+xml');
  assert.equal(mimeType('f.woff2'), 'font/woff2');
  assert.equal(mimeType('README'), 'application/octet-stream');
  assert.equal(isHashedAsset('app-3534XHBE.js'), true);
  assert.equal(isHashedAsset('app-UXFRSGKL.css'), true);
  assert.equal(isHashedAsset('index.html'), false);
  assert.equal(isHashedAsset('jquery.min.js'), false);
  assert.equal(etagMatches('"abc"', '"abc"'), true);
  assert.equal(etagMatches('W/"abc", "def"', '"abc"'), true);
  assert.equal(etagMatches('*', '"abc"'), true);
  assert.equal(etagMatches('"abd"', '"abc"'), false);
  assert.equal(etagMatches(undefined, '"abc"'), false);
});

test('GET serves files with their type, a strong ETag, the cache policy and, on HTML, the CSP', async () => {
  const index = await get(port, '/');
  assert.equal(index.status, 200);
  assert.equal(index.body, '<!DOCTYPE html><title>ui</title>');
  assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.equal(index.headers['content-security-policy'], STRICT_CSP);
  assert.equal(index.headers['x-content-type-options'], 'nosniff');
  assert.equal(index.headers['referrer-policy'], 'no-referrer');
  assert.match(String(index.headers['etag']), /^"[A-Za-z0-9_-]{20,}"$/, 'a strong (not W/) ETag');
  const js = await get(port, '/assets/app-ABCD1234.js');
  assert.equal(js.status, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(String(js.headers['content-security-policy']), /default-src 'none'/, 'non-HTML gets the locked-down CSP');
  assert.equal((await get(port, '/assets/app-ABCD1234.css')).headers['content-type'], 'text/css; charset=utf-8');
  assert.equal((await get(port, '/plain.js')).headers['cache-control'], 'no-cache', 'an unhashed name is revalidated');
  assert.equal((await get(port, '/data.bin')).headers['content-type'], 'application/octet-stream');
  assert.equal((await get(port, '/sub/')).body, '<p>sub</p>');
  assert.equal((await get(port, '/index.html?x=1'.split('?')[0]!)).status, 200);
});

test('If-None-Match answers 304 without a body; a changed file gets a new ETag', async () => {
  const first = await get(port, '/plain.js');
  const etag = String(first.headers['etag']);
  const again = await get(port, '/plain.js', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  assert.equal(again.headers['etag'], etag);
  assert.equal((await get(port, '/plain.js', { headers: { 'If-None-Match': '"other"' } })).status, 200);
  writeFileSync(path.join(site, 'plain.js'), 'changed');
  utimesSync(path.join(site, 'plain.js'), new Date(), new Date(Date.now() + 5000));
  const changed = await get(port, '/plain.js', { headers: { 'If-None-Match': etag } });
  assert.equal(changed.status, 200);
  assert.equal(changed.body, 'changed');
  assert.notEqual(changed.headers['etag'], etag);
});

test('HEAD answers the headers of GET without the body; other methods are 405 with Allow', async () => {
  const head = await get(port, '/assets/app-ABCD1234.js', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['content-length'], String('console.log(1);'.length));
  assert.equal(head.headers['content-type'], 'text/javascript; charset=utf-8');
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await get(port, '/index.html', { method });
    assert.equal(r.status, 405, method);
    assert.equal(r.headers['allow'], 'GET, HEAD');
  }
});

test('no path escape: traversal, encoded traversal, dotfiles, symlinks out, folders and missing files are not served', async () => {
  for (const p of ['/../outside/passwd', '/..%2foutside%2fpasswd', '/%2e%2e/outside/passwd', '/assets/..%2f..%2foutside/passwd',
    '/.secret', '/%2esecret', '/link-out.txt', '/dir-out/passwd', '/sub', '/assets', '/missing.js', '/x%00.js']) {
    const r = await get(port, p);
    assert.equal(r.status, 404, p);
    assert.ok(!r.body.includes('outside the folder') && !r.body.includes('dotfile'), p);
  }
  const inside = await get(port, '/link-in.js');
  assert.equal(inside.status, 200, 'a symlink that stays inside the folder is fine');
});

test('the RPC server serves the UI at / only after the Host and auth checks; POST / is 405; other paths 404', async () => {
  const api = new FakeApi();
  const s = await startRpcServer(api, { port: 0, web: { site: staticSite({ root: site, csp: STRICT_CSP }) } });
  try {
    const r = await get(s.port, '/', { headers: { Host: `127.0.0.1:${s.port}` } });
    assert.equal(r.status, 200);
    assert.equal(r.body, '<!DOCTYPE html><title>ui</title>');
    assert.equal(r.headers['content-security-policy'], STRICT_CSP);
    assert.equal((await get(s.port, '/assets/app-ABCD1234.js')).status, 200);
    // A reload revalidates index.html: the 304 must carry the UI's CSP, not the RPC's default-src 'none' (the
    // browser merges a 304's headers into its cached copy: that was a blank page after every reload).
    const again = await get(s.port, '/', { headers: { 'If-None-Match': String(r.headers['etag']) } });
    assert.equal(again.status, 304);
    assert.equal(again.headers['content-security-policy'], STRICT_CSP);
    assert.equal(again.headers['cache-control'], 'no-cache');
    assert.equal((await get(s.port, '/', { headers: { Host: 'evil.example' } })).status, 421);
    assert.equal((await get(s.port, '/', { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status, 403);
    assert.equal((await get(s.port, '/', { method: 'POST' })).status, 405);
    assert.equal((await get(s.port, '/nope')).status, 404);
    assert.equal((await get(s.port, '/transmission/rpc')).status, 405, 'the RPC path is still the RPC');
  } finally {
    await s.close();
  }
  const auth = await startRpcServer(api, { port: 0, auth: { user: 'u', password: 'p' }, web: { site: staticSite({ root: site, csp: STRICT_CSP }) } });
  try {
    assert.equal((await get(auth.port, '/')).status, 401);
    assert.equal((await get(auth.port, '/assets/app-ABCD1234.js')).status, 401);
    const ok = await get(auth.port, '/', { headers: { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}` } });
    assert.equal(ok.status, 200);
  } finally {
    await auth.close();
  }
});

test('a file over maxFileBytes is not served (nor read)', async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0, web: { site: staticSite({ root: site, csp: STRICT_CSP, maxFileBytes: 20 }) } });
  try {
    assert.equal((await get(s.port, '/assets/app-ABCD1234.css')).status, 200, '6 bytes');
    assert.equal((await get(s.port, '/index.html')).status, 404, '32 bytes');
  } finally {
    await s.close();
  }
});

test('a web home is served at /transmission/web/ with its own CSP; / and /transmission/web redirect there', async () => {
  const s = await startRpcServer(new FakeApi(), { port: 0, web: { site: staticSite({ root: site, csp: WEB_HOME_CSP }), webHome: true } });
  try {
    const root = await get(s.port, '/');
    assert.equal(root.status, 302);
    assert.equal(root.headers['location'], '/transmission/web/');
    assert.equal((await get(s.port, '/transmission/web')).status, 301);
    const index = await get(s.port, '/transmission/web/');
    assert.equal(index.status, 200);
    assert.equal(index.headers['content-security-policy'], WEB_HOME_CSP);
    assert.equal((await get(s.port, '/transmission/web/plain.js')).status, 200);
    assert.equal((await get(s.port, '/plain.js')).status, 404, 'only under /transmission/web/');
    assert.equal((await get(s.port, '/transmission/web/../web/.secret')).status, 404);
  } finally {
    await s.close();
  }
});

test('without a built web UI, / is the landing page with the note on how to build it, until the files appear', async () => {
  const later = path.join(tmp, 'later-webui');
  const s = await startRpcServer(new FakeApi(), { port: 0, web: { site: staticSite({ root: later, csp: STRICT_CSP }) }, webMissingNote: 'run npm run build' });
  try {
    const r = await get(s.port, '/');
    assert.equal(r.status, 200);
    assert.ok(r.body.includes('run npm run build') && r.body.includes('/transmission/rpc'), r.body);
    assert.equal((await get(s.port, '/assets/app-ABCD1234.js')).status, 404);
    assert.equal((await get(s.port, '/', { method: 'POST' })).status, 405);
    mkdirSync(later);
    writeFileSync(path.join(later, 'index.html'), '<!DOCTYPE html><title>built now</title>');
    const built = await get(s.port, '/');
    assert.equal(built.body, '<!DOCTYPE html><title>built now</title>', 'a build while the daemon runs shows at the next reload');
  } finally {
    await s.close();
  }
});

test('packageRoot finds the package from dist/src/api/rpc and from dist/bundle; builtWebUi needs index.html', async () => {
  const root = packageRoot();
  assert.ok(root !== undefined);
  assert.equal(packageRoot(path.join(root, 'dist', 'bundle', 'chunk-X.js')), root);
  assert.equal(packageRoot(path.join(root, 'dist', 'src', 'api', 'rpc', 'static-files.js')), root);
  assert.equal(packageRoot('/nonexistent-bitpeer/a/b/c.js'), undefined);
  const fake = path.join(tmp, 'pkg');
  mkdirSync(path.join(fake, 'dist', 'webui'), { recursive: true });
  assert.equal(await builtWebUi(fake), undefined, 'no index.html: not built');
  writeFileSync(path.join(fake, 'dist', 'webui', 'index.html'), '<!DOCTYPE html>');
  assert.equal(await builtWebUi(fake), path.join(fake, 'dist', 'webui'));
});

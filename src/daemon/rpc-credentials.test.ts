// First-run RPC credentials (rpc-credentials.ts) on a real temporary folder: created once with mode 0600 and a strong
// random password, reused as is afterwards, never overwritten (a user's own file, a racing start), a broken file
// refused with its path named, a loose mode warned about, and no temporary file left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isBtError } from '../util/errors.js';
import { CREDENTIALS_FILE, ensureRpcCredentials, generateCredentials, parseCredentials } from './rpc-credentials.js';

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bitpeer-creds-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('the first call creates user "bitpeer" with a 192-bit password, mode 0600; later calls read the same, not created', () => withDir(async (dir) => {
  const first = await ensureRpcCredentials(dir);
  assert.equal(first.created, true);
  assert.equal(first.user, 'bitpeer');
  assert.match(first.password, /^[A-Za-z0-9_-]{32}$/);
  assert.equal(first.path, join(dir, CREDENTIALS_FILE));
  assert.equal(statSync(first.path).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(readFileSync(first.path, 'utf8')), { user: 'bitpeer', password: first.password });
  const again = await ensureRpcCredentials(dir);
  assert.deepEqual({ ...again }, { user: 'bitpeer', password: first.password, created: false, path: first.path });
  assert.deepEqual(readdirSync(dir), [CREDENTIALS_FILE], 'no temporary file left');
  assert.notEqual((await ensureRpcCredentials(mkdtempSync(join(dir, 'x-')))).password, first.password, 'random per state directory');
}));

test('the password comes from the random source given, base64url', () => {
  const c = generateCredentials((n) => Buffer.alloc(n, 0xfb));
  assert.equal(c.password, Buffer.alloc(24, 0xfb).toString('base64url'));
  assert.equal(c.password.length, 32);
});

test('a file already there is used as is, never overwritten; a loose mode is warned about', () => withDir(async (dir) => {
  const path = join(dir, CREDENTIALS_FILE);
  writeFileSync(path, '{"user":"alice","password":"correct horse battery"}', { mode: 0o644 });
  chmodSync(path, 0o644);
  const c = await ensureRpcCredentials(dir);
  assert.equal(c.created, false);
  assert.deepEqual([c.user, c.password], ['alice', 'correct horse battery']);
  assert.match(c.warning ?? '', /readable by other users \(mode 644\)/);
  assert.equal(readFileSync(path, 'utf8'), '{"user":"alice","password":"correct horse battery"}');
}));

test('a broken file stops the start with its path named, and stays as it was', () => withDir(async (dir) => {
  const path = join(dir, CREDENTIALS_FILE);
  for (const text of ['{not json', '[]', '{"user":"a:b","password":"12345678"}', '{"user":"u","password":"short"}', 'x'.repeat(5000)]) {
    writeFileSync(path, text, { mode: 0o600 });
    await assert.rejects(ensureRpcCredentials(dir), (e: unknown) => isBtError(e, 'USAGE') && e.message.includes(path) && /never overwrites/.test(e.message), text.slice(0, 20));
    assert.equal(readFileSync(path, 'utf8'), text);
  }
}));

test('two starts racing: one creates, both end up with the same credentials', () => withDir(async (dir) => {
  const [a, b] = await Promise.all([ensureRpcCredentials(dir), ensureRpcCredentials(dir)]);
  assert.equal(a.password, b.password);
  assert.equal([a.created, b.created].filter(Boolean).length, 1);
  assert.deepEqual(readdirSync(dir), [CREDENTIALS_FILE]);
}));

test('parseCredentials names what is wrong', () => {
  assert.deepEqual(parseCredentials('{"user":"u","password":"12345678"}'), { user: 'u', password: '12345678' });
  assert.match(String(parseCredentials('{"user":""}')), /user/);
  assert.match(String(parseCredentials('{"user":"u"}')), /password/);
});

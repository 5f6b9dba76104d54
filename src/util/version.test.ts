import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLIENT_NAME, CLIENT_PREFIX, CREATED_BY, peerIdPrefix, VERSION } from './version.js';

test('VERSION is package.json version', () => {
  // dist/src/util/version.test.js → ../../../package.json
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('derived strings keep their historical spelling for 0.1.0', () => {
  assert.equal(peerIdPrefix('0.1.0'), '-bp0100-');
  if (VERSION === '0.1.0') {
    assert.equal(CLIENT_NAME, 'bitpeer 0.1.0');
    assert.equal(CREATED_BY, 'bitpeer/0.1.0');
    assert.equal(CLIENT_PREFIX, '-bp0100-');
  }
  assert.equal(CLIENT_PREFIX.length, 8);
});

test('peerIdPrefix: one character per part, letters above 9, bad versions rejected', () => {
  assert.equal(peerIdPrefix('1.2.3'), '-bp1230-');
  assert.equal(peerIdPrefix('1.10.35-rc.1'), '-bp1AZ0-');
  for (const v of ['1.2', 'x.y.z', '1.36.0', '']) assert.throws(() => peerIdPrefix(v), RangeError);
});

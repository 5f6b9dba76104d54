// The DHT's default bootstrap list and private-network default (src/api/dht-config.ts), and the facade's DHT setting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BtError } from '../util/errors.js';
import { checkBootstrapList, defaultDhtBootstrap, isPrivateBootstrap, PUBLIC_DHT_ROUTERS } from './dht-config.js';
import { dhtConfigOf } from './open.js';
import type { SessionSettings } from './types.js';

const settings: SessionSettings = { downloadDir: '/tmp', port: 0, uploadLimit: 0, downloadLimit: 0, maxActiveDownloads: 5, maxActiveSeeds: 20, lsd: true, pex: true };

test('default bootstrap: the public routers, unless BITPEER_DHT_BOOTSTRAP replaces them ("" or "none": none)', () => {
  assert.deepEqual(defaultDhtBootstrap({}), [...PUBLIC_DHT_ROUTERS]);
  assert.equal(PUBLIC_DHT_ROUTERS.length, 4);
  assert.deepEqual(defaultDhtBootstrap({ BITPEER_DHT_BOOTSTRAP: 'none' }), []);
  assert.deepEqual(defaultDhtBootstrap({ BITPEER_DHT_BOOTSTRAP: '' }), []);
  assert.deepEqual(defaultDhtBootstrap({ BITPEER_DHT_BOOTSTRAP: ' NONE ' }), []);
  assert.deepEqual(defaultDhtBootstrap({ BITPEER_DHT_BOOTSTRAP: '127.0.0.1:6881, 127.0.0.2:7000,' }), ['127.0.0.1:6881', '127.0.0.2:7000']);
  assert.throws(() => defaultDhtBootstrap({ BITPEER_DHT_BOOTSTRAP: '127.0.0.1' }), (e: unknown) => e instanceof BtError && e.code === 'USAGE' && /BITPEER_DHT_BOOTSTRAP/.test(e.message));
});

test('HOST:PORT checks', () => {
  assert.deepEqual(checkBootstrapList([' 10.0.0.1:1 ', 'dht.example.org:65535']), ['10.0.0.1:1', 'dht.example.org:65535']);
  for (const bad of ['10.0.0.1', '10.0.0.1:', 'x:0', '256.0.0.1:5', '1.2.3:5', '-a.example:5', 'a..b:5', '[::1]:5', 'a_b:5']) {
    assert.throws(() => checkBootstrapList([bad]), (e: unknown) => e instanceof BtError && e.code === 'USAGE', bad);
  }
});

test('private network: on when every bootstrap node is a loopback/private IP literal (or there is none)', () => {
  for (const ip of ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '169.254.1.1']) assert.ok(isPrivateBootstrap([`${ip}:6881`]), ip);
  for (const ip of ['172.32.0.1', '8.8.8.8', '192.169.0.1', 'localhost', 'router.bittorrent.com']) assert.ok(!isPrivateBootstrap([`${ip}:6881`]), ip);
  assert.equal(isPrivateBootstrap([]), true);
  assert.equal(isPrivateBootstrap(['127.0.0.1:6881', '192.168.1.5:6881']), true);
  assert.equal(isPrivateBootstrap(['127.0.0.1:6881', 'router.bittorrent.com:6881']), false);
  assert.equal(isPrivateBootstrap([...PUBLIC_DHT_ROUTERS]), false);
});

test('the facade: on by default; no default bootstrap without a user environment; options, then saved settings, then the default', () => {
  assert.deepEqual(dhtConfigOf({}, settings), { bootstrap: [], privateNetwork: true });
  assert.deepEqual(dhtConfigOf({ env: {} }, settings), { bootstrap: [...PUBLIC_DHT_ROUTERS], privateNetwork: false });
  assert.deepEqual(dhtConfigOf({ env: { BITPEER_DHT_BOOTSTRAP: 'none' } }, settings), { bootstrap: [], privateNetwork: true });
  assert.equal(dhtConfigOf({ dht: false }, settings), false);
  assert.equal(dhtConfigOf({}, { ...settings, dht: false }), false);
  assert.notEqual(dhtConfigOf({ dht: true }, { ...settings, dht: false }), false);
  assert.deepEqual(dhtConfigOf({ env: {} }, { ...settings, dhtBootstrap: ['127.0.0.1:9'] }), { bootstrap: ['127.0.0.1:9'], privateNetwork: true });
  assert.deepEqual(dhtConfigOf({ dhtBootstrap: ['8.8.8.8:6881'], dhtPrivate: true }, settings), { bootstrap: ['8.8.8.8:6881'], privateNetwork: true });
  const restored = { id: Buffer.alloc(20, 1), nodes: [] };
  assert.equal((dhtConfigOf({}, settings, restored) as { restored?: unknown }).restored, restored);
});

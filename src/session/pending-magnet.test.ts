import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePeerStrings } from './pending-magnet.js';

test('x.pe peers: one parse; a bare IPv6 address, port 0 and junk are skipped', () => {
  assert.deepEqual(parsePeerStrings(['10.0.0.1:6881', '[::1]:51413', 'seed.example:1', '::1:6881', '1.2.3.4:0', '[1.2.3.4]:80', 'x']), [
    { host: '10.0.0.1', port: 6881 }, { host: '::1', port: 51413 }, { host: 'seed.example', port: 1 },
  ]);
});

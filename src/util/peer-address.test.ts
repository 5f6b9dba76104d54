import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBtError } from './errors.js';
import { formatPeerAddress, isValidPort, parsePeerAddress, peerKey, tryParsePeerAddress } from './peer-address.js';

test('format: IPv6 always in brackets, IPv4 and names bare', () => {
  assert.equal(formatPeerAddress('1.2.3.4', 6881), '1.2.3.4:6881');
  assert.equal(formatPeerAddress('::1', 6881), '[::1]:6881');
  assert.equal(formatPeerAddress('::ffff:1.2.3.4', 6881), '[::ffff:1.2.3.4]:6881'); // kept as given, not normalised
  assert.equal(formatPeerAddress('example.org', 80), 'example.org:80');
  assert.equal(peerKey({ host: 'fe80::1', port: 1 }), '[fe80::1]:1');
});

test('parse: accepted forms', () => {
  assert.deepEqual(parsePeerAddress('1.2.3.4:6881'), { host: '1.2.3.4', port: 6881 });
  assert.deepEqual(parsePeerAddress('[::1]:51413'), { host: '::1', port: 51413 });
  assert.deepEqual(parsePeerAddress('[::ffff:10.0.0.1]:1'), { host: '::ffff:10.0.0.1', port: 1 });
  assert.deepEqual(parsePeerAddress('[fe80::1%eth0]:65535'), { host: 'fe80::1%eth0', port: 65535 });
  assert.deepEqual(parsePeerAddress('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parsePeerAddress('peer-1.example.org.:6881'), { host: 'peer-1.example.org.', port: 6881 });
});

test('parse: refused forms, with a USAGE error naming the input', () => {
  const bad = ['nocolon', '1.2.3.4', '1.2.3.4:', '1.2.3.4:0', '1.2.3.4:65536', '1.2.3.4:99999', '1.2.3.4:+1', '1.2.3.4:1e3',
    '1.2.3.4: 80', '::1:6881', 'fe80::1:80', '[::1]', '[::1]6881', '[1.2.3.4]:80', '[zz::1]:80', '[::1%]:80', ':80',
    '1.2.3.999:80', '10.0.0:80', 'a b:80', 'a/b:80', 'user@host:80', '[::1]:80:80', ''];
  for (const s of bad) {
    assert.equal(tryParsePeerAddress(s), null, s);
    assert.throws(() => parsePeerAddress(s), (e: unknown) => isBtError(e, 'USAGE') && e.message.startsWith(`bad peer address ${JSON.stringify(s)}`), s);
  }
  assert.throws(() => parsePeerAddress('x', { code: 'BAD_RESUME' }), (e: unknown) => isBtError(e, 'BAD_RESUME'));
  assert.match((() => { try { parsePeerAddress('::1:6881'); } catch (e) { return String(e); } return ''; })(), /needs brackets/);
});

test('parse: ipOnly refuses names, keeps literals', () => {
  assert.equal(tryParsePeerAddress('localhost:80', { ipOnly: true }), null);
  assert.deepEqual(tryParsePeerAddress('10.0.0.1:80', { ipOnly: true }), { host: '10.0.0.1', port: 80 });
  assert.deepEqual(tryParsePeerAddress('[::1]:80', { ipOnly: true }), { host: '::1', port: 80 });
});

test('isValidPort', () => {
  for (const p of [1, 80, 65535]) assert.ok(isValidPort(p));
  for (const p of [0, -1, 65536, 1.5, NaN]) assert.ok(!isValidPort(p));
});

test('property: format and parse are inverse on IP literals and names', () => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  fc.assert(fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
    const s = formatPeerAddress(h, port);
    assert.deepEqual(parsePeerAddress(s), { host: h, port });
    assert.equal(peerKey(parsePeerAddress(s)), s);
  }), { numRuns: 300 });
});

// Address text ↔ bytes (IPv4, IPv6 with compression and embedded IPv4, IPv4-mapped normalisation) and compact
// peer lists, checked against Node's own parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP, SocketAddress } from 'node:net';
import fc from 'fast-check';
import {
  bytesToIp, decodeCompactPeers, encodeCompactPeers, ipFamily, ipToBytes, isLoopback, isUnspecified, normalizeIp,
} from './address.js';

test('normalizeIp: IPv4-mapped IPv6 becomes IPv4, IPv6 is canonical, junk is untouched', () => {
  assert.equal(normalizeIp('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(normalizeIp('::FFFF:7f00:1'), '127.0.0.1');
  assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(normalizeIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(normalizeIp('1:0:0:2:0:0:0:3'), '1:0:0:2::3');
  assert.equal(normalizeIp('::'), '::');
  assert.equal(normalizeIp('::1'), '::1');
  assert.equal(normalizeIp('example.com'), 'example.com');
  assert.equal(ipToBytes('1.2.3.04'), null, 'leading zeros are not an address');
  assert.equal(ipToBytes('256.1.1.1'), null);
  assert.equal(ipToBytes('1::2::3'), null);
  assert.equal(ipToBytes('1:2:3:4:5:6:7:8:9'), null);
  assert.equal(ipFamily('::ffff:10.0.0.1'), 4);
  assert.equal(ipFamily('::1'), 6);
  assert.ok(isLoopback('127.3.2.1') && isLoopback('::1') && isLoopback('::ffff:127.0.0.1') && !isLoopback('10.0.0.1'));
  assert.ok(isUnspecified('0.0.0.0') && isUnspecified('::') && !isUnspecified('::1'));
});

test('property: IPv6 bytes → text → bytes round-trips and agrees with Node', () => {
  // Bias towards zero groups so that compression is exercised.
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
    const text = bytesToIp(b);
    const back = ipToBytes(text)!;
    const mapped = b.subarray(0, 12).equals(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]));
    assert.deepEqual(back, mapped ? b.subarray(12) : b);
    if (!mapped) {
      assert.equal(isIP(text), 6);
      // Node (inet_ntop) writes the deprecated IPv4-compatible range ::/96 as ::a.b.c.d; RFC 5952 does not.
      const compat = b.subarray(0, 12).every((x) => x === 0);
      const nodeText = new SocketAddress({ address: text, family: 'ipv6' }).address;
      if (!compat) assert.equal(text, nodeText);
      assert.equal(normalizeIp(nodeText), text);
    }
  }), { numRuns: 500 });
});

test('property: random strings never throw in ipToBytes and agree with isIP', () => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%xg'.split('')), maxLength: 45 }), (s) => {
    const b = ipToBytes(s);
    if (b !== null) assert.notEqual(isIP(s.split('%')[0]!), 0, s);
  }), { numRuns: 2000 });
});

test('compact peers: IPv4 (6 bytes) and IPv6 (18 bytes), other family skipped, bad length refused', () => {
  const peers = [{ host: '1.2.3.4', port: 6881 }, { host: '2001:db8::1', port: 51413 }, { host: '::ffff:5.6.7.8', port: 1 }];
  const v4 = encodeCompactPeers(peers, 4);
  assert.equal(v4.toString('hex'), '01020304' + '1ae1' + '05060708' + '0001');
  const v6 = encodeCompactPeers(peers, 6);
  assert.equal(v6.toString('hex'), '20010db8000000000000000000000001' + 'c8d5');
  assert.deepEqual(decodeCompactPeers(v4, 4), [{ host: '1.2.3.4', port: 6881 }, { host: '5.6.7.8', port: 1 }]);
  assert.deepEqual(decodeCompactPeers(v6, 6), [{ host: '2001:db8::1', port: 51413 }]);
  assert.equal(decodeCompactPeers(Buffer.alloc(7), 4), null);
  assert.deepEqual(decodeCompactPeers(Buffer.alloc(6), 4), [], 'port 0 dropped');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compactAddr, isUnusableAddress, unpackCompact } from './ip.js';
import { canonicalHost, formatIPv6, parseIPv4, parseIPv6, parseIp } from '../../util/ip.js';

test('IPv4 literals: strict dotted-quad', () => {
  assert.deepEqual(parseIPv4('1.2.3.4'), Buffer.from([1, 2, 3, 4]));
  assert.deepEqual(parseIPv4('255.0.0.255'), Buffer.from([255, 0, 0, 255]));
  for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', '', 'a.b.c.d', '1..3.4', '0x1.2.3.4']) {
    assert.equal(parseIPv4(bad), null, bad);
  }
});

test('IPv6 literals: RFC 4291 text, no brackets or zones', () => {
  assert.deepEqual(parseIPv6('::1'), Buffer.from('00000000000000000000000000000001', 'hex'));
  assert.deepEqual(parseIPv6('::'), Buffer.alloc(16));
  assert.deepEqual(parseIPv6('2001:db8::8:800:200c:417a'), Buffer.from('20010db80000000000080800200c417a', 'hex'));
  assert.deepEqual(parseIPv6('::ffff:1.2.3.4'), Buffer.from('00000000000000000000ffff01020304', 'hex'));
  assert.deepEqual(parseIPv6('1:2:3:4:5:6:7:8'), Buffer.from('00010002000300040005000600070008', 'hex'));
  for (const bad of ['1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1:::2', '[::1]', 'fe80::1%eth0', '12345::',
    '1.2.3.4::', '::1.2.3', 'g::1', '1:2:3:4:5:6:7:8::', '']) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

test('IPv6 formatting is RFC 5952 canonical', () => {
  const f = (s: string): string => formatIPv6(parseIPv6(s)!);
  assert.equal(f('2001:0DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(f('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // a single zero word is not compressed
  assert.equal(f('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1'); // the longest run wins
  assert.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // the first of equal runs wins
  assert.equal(f('0:0:0:0:0:0:0:0'), '::');
  assert.equal(f('::ffff:10.0.0.1'), '::ffff:10.0.0.1');
});

test('parse → format → parse is the identity on random addresses', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
    const b = Buffer.from(a);
    assert.deepEqual(parseIPv6(formatIPv6(b)), b);
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.ipV4(), (s) => { assert.equal(canonicalHost(s), s); }), { numRuns: 200 });
});

test('compactAddr: 6 bytes for IPv4 and IPv4-mapped, 18 for IPv6, null for junk', () => {
  assert.deepEqual(compactAddr('10.0.0.2', 6881), Buffer.from('0a0000021ae1', 'hex'));
  assert.deepEqual(compactAddr('::ffff:10.0.0.2', 6881), Buffer.from('0a0000021ae1', 'hex'));
  assert.deepEqual(compactAddr('::1', 1), Buffer.from('000000000000000000000000000000010001', 'hex'));
  assert.equal(compactAddr('example.com', 80), null);
  assert.equal(compactAddr('1.2.3.4', 0), null);
  assert.equal(compactAddr('1.2.3.4', 65536), null);
  assert.equal(compactAddr('1.2.3.4', 1.5), null);
});

test('unpackCompact and unusable addresses', () => {
  assert.deepEqual(unpackCompact(Buffer.from('0a0000021ae17f0000010050', 'hex'), 4),
    [{ host: '10.0.0.2', port: 6881 }, { host: '127.0.0.1', port: 80 }]);
  assert.equal(unpackCompact(Buffer.alloc(7), 4), null);
  assert.equal(unpackCompact(Buffer.alloc(17), 6), null);
  assert.deepEqual(unpackCompact(Buffer.alloc(0), 6), []);
  for (const s of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.192.152.143', '255.255.255.255', '::', 'ff15::efc0:988f', '::ffff:0.0.0.0']) {
    assert.equal(isUnusableAddress(parseIp(s)!), true, s);
  }
  for (const s of ['127.0.0.1', '10.1.2.3', '::1', '2001:db8::1', '::ffff:1.2.3.4']) {
    assert.equal(isUnusableAddress(parseIp(s)!), false, s);
  }
});

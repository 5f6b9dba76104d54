import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  bep42Id, bucketIndexOf, compareDistance, crc32c, isBep42Valid, isPrivateOrLoopback, randomIdWithPrefix, xorDistance,
} from './node-id.js';

const id = (hex: string): Buffer => Buffer.from(hex, 'hex');
const idArb = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a));
/** randomBytes that returns the given bytes (repeated when more are asked). */
const fixedBytes = (b: Buffer) => (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => b[i % b.length]!));

test('crc32c: the standard check value and the empty string', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
});

// BEP 42's test vectors: IP, rand (the last byte) and the expected id (the middle bytes are random in the BEP).
const VECTORS: Array<[string, string]> = [
  ['124.31.75.21', '5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'],
  ['21.75.31.124', '5a3ce9c14e7a08645677bbd1cfe7d8f956d53256'],
  ['65.23.51.170', 'a5d43220bc8f112a3d426c84764f8c2a1150e616'],
  ['84.124.73.14', '1b0321dd1bb1fe518101ceef99462b947a01ff41'],
  ['43.213.53.83', 'e56f6cbf5b7c4be0237986d5243b87aa6d51305a'],
];

test('bep42Id reproduces the BEP 42 test vectors, and isBep42Valid accepts them', () => {
  for (const [ip, hex] of VECTORS) {
    const want = id(hex);
    // Random bytes whose first 3 bytes are garbage: the CRC must overwrite the first 21 bits.
    const rnd = Buffer.from(want);
    rnd[0] = rnd[0]! ^ 0xff;
    rnd[1] = rnd[1]! ^ 0x5a;
    rnd[2] = rnd[2]! ^ 0xf8;
    assert.equal(bep42Id(ip, fixedBytes(rnd)).toString('hex'), hex, ip);
    assert.ok(isBep42Valid(want, ip), ip);
  }
});

test('isBep42Valid refuses an id with one of its first 21 bits flipped, or made for another IP', () => {
  for (const [ip, hex] of VECTORS) {
    for (let bit = 0; bit < 21; bit++) {
      const b = id(hex);
      b[bit >> 3] = b[bit >> 3]! ^ (0x80 >> (bit & 7));
      assert.equal(isBep42Valid(b, ip), false, `${ip} bit ${bit}`);
    }
    const lowBits = id(hex);
    lowBits[2] = lowBits[2]! ^ 0x07; // the 3 low bits of byte 2 are random
    assert.ok(isBep42Valid(lowBits, ip));
    const otherR = id(hex);
    otherR[19] = otherR[19]! ^ 0x01; // r changes the CRC
    assert.equal(isBep42Valid(otherR, ip), false);
  }
  assert.equal(isBep42Valid(id(VECTORS[0]![1]), VECTORS[1]![0]), false);
  assert.equal(isBep42Valid(Buffer.alloc(19), '1.2.3.4'), false);
  assert.equal(isBep42Valid(id(VECTORS[0]![1]), 'not-an-ip'), false);
});

test('isBep42Valid: every id is valid for exempt (loopback, private, link-local) addresses', () => {
  for (const ip of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.3.4', '::1', 'fe80::1', 'fd00::2']) {
    assert.ok(isBep42Valid(Buffer.alloc(20, 0xab), ip), ip);
  }
});

test('isPrivateOrLoopback', () => {
  for (const ip of ['127.0.0.1', '127.255.0.9', '10.0.0.0', '172.16.5.5', '172.31.0.1', '192.168.0.1', '169.254.1.1', '::1', 'fc00::1', 'fe80::abcd', '::ffff:10.0.0.1']) {
    assert.equal(isPrivateOrLoopback(ip), true, ip);
  }
  for (const ip of ['8.8.8.8', '172.15.0.1', '172.32.0.1', '192.169.0.1', '169.253.0.1', '11.0.0.1', '2001:db8::1', '::2', 'localhost', '', '1.2.3']) {
    assert.equal(isPrivateOrLoopback(ip), false, ip);
  }
});

test('bep42Id: any random input gives an id valid for the IP (property)', () => {
  fc.assert(fc.property(idArb, fc.ipV4(), (rnd, ip) => {
    const made = bep42Id(ip, fixedBytes(rnd));
    assert.equal(made.length, 20);
    assert.ok(isBep42Valid(made, ip));
    assert.deepEqual(made.subarray(3), rnd.subarray(3));
  }));
  fc.assert(fc.property(idArb, fc.ipV6(), (rnd, ip) => {
    assert.ok(isBep42Valid(bep42Id(ip, fixedBytes(rnd)), ip));
  }), { numRuns: 200 });
  // Not an IP literal: the random bytes as they are.
  const rnd = Buffer.alloc(20, 7);
  assert.deepEqual(bep42Id('nowhere', fixedBytes(rnd)), rnd);
});

test('xorDistance and compareDistance', () => {
  const a = id('ff'.repeat(20));
  const b = id('0f'.repeat(20));
  assert.equal(xorDistance(a, b).toString('hex'), 'f0'.repeat(20));
  const target = Buffer.alloc(20);
  const near = Buffer.alloc(20); near[19] = 1;
  const far = Buffer.alloc(20); far[0] = 1;
  assert.ok(compareDistance(target, near, far) < 0);
  assert.ok(compareDistance(target, far, near) > 0);
  assert.equal(compareDistance(target, far, Buffer.from(far)), 0);
  assert.throws(() => xorDistance(Buffer.alloc(19), a), { code: 'INTERNAL' });
  fc.assert(fc.property(idArb, idArb, idArb, (t, x, y) => {
    const c = compareDistance(t, x, y);
    assert.equal(Math.sign(c), Math.sign(Buffer.compare(xorDistance(t, x), xorDistance(t, y))));
    assert.equal(Math.sign(c), -Math.sign(compareDistance(t, y, x)));
  }));
});

test('bucketIndexOf counts common leading bits', () => {
  const own = Buffer.alloc(20);
  assert.equal(bucketIndexOf(own, own), 160);
  const x = Buffer.alloc(20); x[0] = 0x80;
  assert.equal(bucketIndexOf(own, x), 0);
  const y = Buffer.alloc(20); y[0] = 0x01;
  assert.equal(bucketIndexOf(own, y), 7);
  const z = Buffer.alloc(20); z[19] = 0x01;
  assert.equal(bucketIndexOf(own, z), 159);
  fc.assert(fc.property(idArb, idArb, (a, b) => {
    const n = bucketIndexOf(a, b);
    assert.equal(n, bucketIndexOf(b, a));
    const d = xorDistance(a, b);
    for (let bit = 0; bit < n; bit++) assert.equal((d[bit >> 3]! >> (7 - (bit & 7))) & 1, 0);
    if (n < 160) assert.equal((d[n >> 3]! >> (7 - (n & 7))) & 1, 1);
  }));
});

test('randomIdWithPrefix keeps exactly `bits` leading bits of the prefix', () => {
  fc.assert(fc.property(idArb, idArb, fc.integer({ min: 0, max: 160 }), (prefix, rnd, bits) => {
    const out = randomIdWithPrefix(prefix, bits, fixedBytes(rnd));
    assert.ok(bucketIndexOf(prefix, out) >= bits);
    for (let bit = bits; bit < 160; bit++) {
      const get = (b: Buffer): number => (b[bit >> 3]! >> (7 - (bit & 7))) & 1;
      assert.equal(get(out), get(rnd));
    }
  }));
  // The complement of the prefix as random bytes: the first bit after the prefix differs, so the index is exact.
  const prefix = Buffer.alloc(20, 0x55);
  for (const bits of [0, 1, 7, 8, 9, 100, 159]) {
    assert.equal(bucketIndexOf(prefix, randomIdWithPrefix(prefix, bits, fixedBytes(Buffer.alloc(20, 0xaa)))), bits);
  }
  assert.throws(() => randomIdWithPrefix(prefix, 161, fixedBytes(prefix)), { code: 'INTERNAL' });
});

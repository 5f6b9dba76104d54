import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { allowedFastSet } from './allowed-fast.js';

const sha1 = (b: Buffer): Buffer => createHash('sha1').update(b).digest();
const aa = Buffer.alloc(20, 0xaa);

test('BEP 6 example vector: 7 and 9 pieces of 1313 for 80.4.4.200', () => {
  assert.deepEqual(allowedFastSet(aa, '80.4.4.200', 1313, 7, sha1), [1059, 431, 808, 1217, 287, 376, 1188]);
  assert.deepEqual(allowedFastSet(aa, '80.4.4.200', 1313, 9, sha1), [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]);
});

test('only the /24 matters, and IPv4-mapped IPv6 is the same address', () => {
  const ref = allowedFastSet(aa, '80.4.4.200', 1313, 10, sha1);
  assert.deepEqual(allowedFastSet(aa, '80.4.4.1', 1313, 10, sha1), ref);
  assert.deepEqual(allowedFastSet(aa, '::ffff:80.4.4.7', 1313, 10, sha1), ref);
  assert.notDeepEqual(allowedFastSet(aa, '80.4.5.200', 1313, 10, sha1), ref);
});

test('k is capped at the piece count; the set is distinct and in range; k is a prefix of k+1', () => {
  const all = allowedFastSet(aa, '10.0.0.1', 5, 10, sha1);
  assert.equal(all.length, 5);
  assert.deepEqual([...all].sort((a, b) => a - b), [0, 1, 2, 3, 4]);
  assert.deepEqual(allowedFastSet(aa, '10.0.0.1', 0, 10, sha1), []);
  assert.deepEqual(allowedFastSet(aa, '10.0.0.1', 100, 0, sha1), []);
  const s20 = allowedFastSet(aa, '10.0.0.1', 100, 20, sha1);
  assert.equal(new Set(s20).size, 20);
  assert.ok(s20.every((i) => i >= 0 && i < 100));
  assert.deepEqual(allowedFastSet(aa, '10.0.0.1', 100, 12, sha1), s20.slice(0, 12));
});

test('IPv6 gives an empty set (BEP 6 has no provision); garbage throws', () => {
  assert.deepEqual(allowedFastSet(aa, '2001:db8::1', 100, 10, sha1), []);
  assert.throws(() => allowedFastSet(aa, '80.4.4', 100, 10, sha1), RangeError);
  assert.throws(() => allowedFastSet(aa, '256.1.1.1', 100, 10, sha1), RangeError);
  assert.throws(() => allowedFastSet(aa, 'example.org', 100, 10, sha1), RangeError);
  assert.throws(() => allowedFastSet(Buffer.alloc(19), '1.2.3.4', 100, 10, sha1), RangeError);
  assert.throws(() => allowedFastSet(aa, '1.2.3.4', 100, -1, sha1), RangeError);
});

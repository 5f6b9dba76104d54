// Encoder tests, and the round-trip properties decode(encode(x)) = x and encode(decode(b)) = b.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from './encode.js';
import { decode } from './decode.js';
import type { BValue, Encodable } from './types.js';
import { isBtError } from '../util/errors.js';

const s = (v: Encodable): string => encode(v).toString('latin1');

test('golden vectors', () => {
  assert.equal(s(0), 'i0e');
  assert.equal(s(-0), 'i0e');
  assert.equal(s(-42), 'i-42e');
  assert.equal(s(Number.MAX_SAFE_INTEGER), 'i9007199254740991e');
  assert.equal(s(2n ** 64n), 'i18446744073709551616e');
  assert.equal(s(''), '0:');
  assert.equal(s('spam'), '4:spam');
  assert.equal(encode('é').toString('hex'), Buffer.from('2:é').toString('hex')); // UTF-8 bytes, length in bytes
  assert.equal(s(Buffer.from([0, 255])), '2:\x00\xff');
  assert.equal(s(new Uint8Array([1, 2, 3])), '3:\x01\x02\x03');
  assert.equal(s([]), 'le');
  assert.equal(s(['spam', 3, [Buffer.from('x')]]), 'l4:spami3el1:xee');
  assert.equal(s({}), 'de');
  assert.equal(s({ spam: ['a', 'b'], cow: 'moo' }), 'd3:cow3:moo4:spaml1:a1:bee');
  assert.equal(s(new Map<string, Encodable>([['b', 1], ['a', 2]])), 'd1:ai2e1:bi1ee');
});

test('keys are sorted by raw bytes', () => {
  // objects: UTF-8 bytes; 'é' (c3 a9) sorts after 'z' and before U+1F600 (f0 9f ...); 'Z' before 'a'
  assert.equal(encode({ z: 1, 'é': 2, a: 3, Z: 4, '😀': 5, 'a\u0000': 6 }).toString('latin1'),
    Buffer.concat([Buffer.from('d1:Zi4e1:ai3e2:a\u0000i6e1:zi1e'), Buffer.from('2:éi2e4:😀i5ee')]).toString('latin1'));
  // UTF-16 code-unit order differs from byte order here: U+1F600 is d83d.. in UTF-16 (< e000) but f0.. in UTF-8 (> ee..)
  const k = encode({ '\ue000': 1, '😀': 2 }).toString('latin1');
  assert.ok(k.indexOf(Buffer.from('\ue000').toString('latin1')) < k.indexOf(Buffer.from('😀').toString('latin1')));
  // Maps: latin1 keys, byte order
  assert.equal(s(new Map<string, Encodable>([['\xff', 1], ['z', 2], ['\x00', 3]])), 'd1:\x00i3e1:zi2e1:\xffi1ee');
});

test('undefined values in dictionaries are skipped; __proto__ as an own key is encoded', () => {
  assert.equal(s({ a: undefined, b: 1 }), 'd1:bi1ee');
  assert.equal(s(new Map<string, Encodable | undefined>([['a', undefined], ['b', 1]])), 'd1:bi1ee');
  const o = JSON.parse('{"__proto__": 1}') as Record<string, Encodable>;
  assert.equal(s(o), 'd9:__proto__i1ee');
  const nullProto = Object.create(null) as Record<string, Encodable>;
  nullProto['x'] = 1;
  assert.equal(s(nullProto), 'd1:xi1ee');
});

test('rejects what bencode cannot represent', () => {
  const bad: unknown[] = [1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, null, undefined, true, [undefined],
    new Date(0), Symbol('x'), () => 1, new Map([[1, 1]]), new Map([['\u0100', 1]])];
  for (const v of bad) {
    assert.throws(() => encode(v as Encodable), (e: unknown) => isBtError(e, 'BENCODE'), String(v));
  }
  const cyc: Encodable[] = [];
  cyc.push(cyc);
  assert.throws(() => encode(cyc), /nesting deeper/);
});

test('large values grow the buffer correctly', () => {
  const big = Buffer.alloc(1_000_000, 7);
  const out = encode({ pieces: big, n: 1 });
  assert.equal(out.length, 'd1:ni1e6:pieces1000000:'.length + big.length + 1);
  assert.deepEqual(decode(out).value, new Map<string, BValue>([['n', 1], ['pieces', big]]));
});

// ---- properties ---------------------------------------------------------------------------------------------

const latin1Key = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 8 });
const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u)),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.array(fc.tuple(latin1Key, tie('v')), { maxLength: 5 }).map((es) => new Map<string, BValue>(es)),
  ),
})).v;

test('property: decode(encode(x)) deep-equals x', () => {
  fc.assert(fc.property(bvalue, (x) => {
    const r = decode(encode(x as Encodable));
    assert.deepStrictEqual(r.value, x);
    assert.deepEqual(r.softErrors, []);
  }), { numRuns: 500, interruptAfterTimeLimit: 3000 });
});

test('property: encode(decode(b)) === b for canonical inputs, with strict options', () => {
  fc.assert(fc.property(bvalue, (x) => {
    const bytes = encode(x as Encodable);
    const r = decode(bytes, { keyOrder: 'error', leadingZeros: 'error' });
    assert.ok(encode(r.value as Encodable).equals(bytes));
    // the top-level span covers everything
    if (typeof r.value === 'object' && !Buffer.isBuffer(r.value)) assert.deepEqual(r.spanOf(r.value), [0, bytes.length]);
  }), { numRuns: 500, interruptAfterTimeLimit: 3000 });
});

test('property: any byte string either decodes to something that re-encodes to a prefix-free value, or throws BENCODE', () => {
  const alphabet = fc.constantFrom(...Buffer.from('ilde0123456789:-a').values());
  fc.assert(fc.property(fc.array(alphabet, { maxLength: 40 }), (arr) => {
    const buf = Buffer.from(arr);
    let r;
    try {
      r = decode(buf);
    } catch (e) {
      assert.ok(isBtError(e, 'BENCODE'));
      return;
    }
    // accepted (default options allow unsorted keys): re-encoding is canonical and decodes to the same value
    assert.deepStrictEqual(decode(encode(r.value as Encodable)).value, r.value);
    if (r.softErrors.length === 0) assert.ok(encode(r.value as Encodable).equals(buf));
  }), { numRuns: 3000, interruptAfterTimeLimit: 3000 });
});

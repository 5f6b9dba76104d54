// Decoder tests: golden vectors, every strictness rule, limits, spans and hostile inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, type DecodeOptions } from './decode.js';
import type { BValue } from './types.js';
import { isBtError } from '../util/errors.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const dec = (s: string, opts?: DecodeOptions): BValue => decode(b(s), opts).value;

/** Asserts that decoding fails with BENCODE and a message containing each fragment. */
function rejects(input: string | Uint8Array, fragments: string[], opts?: DecodeOptions): void {
  const buf = typeof input === 'string' ? b(input) : input;
  assert.throws(() => decode(buf, opts), (e: unknown) => {
    assert.ok(isBtError(e, 'BENCODE'), `expected BtError BENCODE, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

test('golden vectors', () => {
  assert.equal(dec('i0e'), 0);
  assert.equal(dec('i42e'), 42);
  assert.equal(dec('i-42e'), -42);
  assert.equal(dec(`i${Number.MAX_SAFE_INTEGER}e`), Number.MAX_SAFE_INTEGER);
  assert.equal(dec(`i-${Number.MAX_SAFE_INTEGER}e`), -Number.MAX_SAFE_INTEGER);
  assert.deepEqual(dec('0:'), Buffer.alloc(0));
  assert.deepEqual(dec('4:spam'), b('spam'));
  assert.deepEqual(dec('le'), []);
  assert.deepEqual(dec('l4:spami3ee'), [b('spam'), 3]);
  assert.deepEqual(dec('de'), new Map());
  assert.deepEqual(dec('d3:cow3:moo4:spaml1:a1:bee'), new Map<string, BValue>([['cow', b('moo')], ['spam', [b('a'), b('b')]]]));
  assert.deepEqual(dec('lli1eeld1:xi2eeee'), [[1], [new Map([['x', 2]])]]);
});

test('strings are Buffer views of the input (no copy)', () => {
  const input = b('l3:abce');
  const v = decode(input).value as Buffer[];
  assert.ok(Buffer.isBuffer(v[0]));
  assert.equal(v[0]!.buffer, input.buffer);
  assert.equal(v[0]!.byteOffset, input.byteOffset + 3);
});

test('accepts a plain Uint8Array', () => {
  const u8 = new Uint8Array(b('xx4:spam')).subarray(2);
  assert.deepEqual(decode(u8).value, b('spam'));
});

test('binary keys are latin1 strings (1 char per byte)', () => {
  const v = dec('d2:\xff\x00i1ee') as Map<string, BValue>;
  assert.deepEqual([...v.keys()], ['\xff\x00']);
  // a UTF-8 key comes out as its bytes in latin1
  const utf8 = Buffer.concat([b('d2:'), Buffer.from('é'), b('i1ee')]);
  assert.deepEqual([...(decode(utf8).value as Map<string, BValue>).keys()], [Buffer.from('é').toString('latin1')]);
});

test('__proto__ is just a key', () => {
  const v = dec('d9:__proto__d6:polluti1eee') as Map<string, BValue>;
  assert.ok(v instanceof Map);
  assert.ok(v.has('__proto__'));
  assert.equal(({} as Record<string, unknown>)['pollut'], undefined);
  assert.equal(Object.getPrototypeOf(v), Map.prototype);
});

test('integer strictness', () => {
  rejects('ie', ['empty integer', 'at offset 0']);
  rejects('i-e', ['empty integer']);
  rejects('i-0e', ['negative zero', 'at offset 0']);
  rejects('i-00e', ['negative zero']);
  rejects('i03e', ['leading zero in integer', 'at offset 0']);
  rejects('li1ei03ee', ['leading zero in integer at offset 4']);
  rejects('i00e', ['leading zero']);
  rejects('i1.5e', ["invalid character '.' (0x2e) in integer at offset 2"]);
  rejects('i+1e', ['invalid character']);
  rejects('i 1e', ['invalid character']);
  rejects('i12', ['unexpected end of data at offset 3']);
  rejects('i', ['unexpected end of data']);
  rejects(`i${Number.MAX_SAFE_INTEGER + 1}e`, ['out of range', 'at offset 0']);
  rejects('i-9007199254740993e', ['out of range']);
  rejects(`i${'9'.repeat(100_000)}e`, ['out of range']);
});

test('leading zeros in soft mode are accepted and reported', () => {
  const r = decode(b('d6:lengthi03e4:name02:abe'), { leadingZeros: 'soft' });
  assert.deepEqual(r.value, new Map<string, BValue>([['length', 3], ['name', b('ab')]]));
  assert.equal(r.softErrors.length, 2);
  assert.match(r.softErrors[0]!, /leading zero in integer at offset 9/);
  assert.match(r.softErrors[1]!, /leading zero in string length at offset 19/);
  // negative zero stays a hard error in soft mode
  rejects('i-0e', ['negative zero'], { leadingZeros: 'soft' });
});

test('string strictness', () => {
  rejects('-3:abc', ['negative string length', 'at offset 0']);
  rejects('03:abc', ['leading zero in string length at offset 0']);
  rejects('4:abc', ['exceeds', 'at offset 0']);
  rejects('1abc', ["invalid character 'a' (0x61) in string length at offset 1"]);
  rejects('3', ['exceeds']);
  rejects('0', ['unexpected end of data at offset 1']);
  rejects('99999999999999999999999:x', ['exceeds']);
  rejects('5:abcde', ['limit of 4'], { maxStringLength: 4 });
  assert.deepEqual(dec('4:abcd', { maxStringLength: 4 }), b('abcd'));
});

test('l-3:abce fails fast', () => {
  const t0 = performance.now();
  rejects('l-3:abce', ['negative string length at offset 1']);
  assert.ok(performance.now() - t0 < 100);
});

test('a huge declared length fails before any allocation', () => {
  // 2^53-ish length on a tiny input: must be rejected by the length check, not by Buffer allocation.
  rejects('9007199254740991:abc', ['exceeds']);
  rejects('l1000000000:e', ['string length 10 exceeds the 9 remaining bytes at offset 1']);
});

test('containers: unterminated, bad keys, missing values', () => {
  rejects('l', ['unexpected end of data at offset 1', 'unterminated list starting at offset 0']);
  rejects('li1e', ['unterminated list starting at offset 0']);
  rejects('d3:fooi1e', ['unterminated dictionary starting at offset 0']);
  rejects('d3:foo', ['unterminated dictionary']);
  rejects('di1ei2ee', ['dictionary key must be a byte string', 'at offset 1']);
  rejects('dlei1ee', ['dictionary key must be a byte string']);
  rejects('d3:fooe', ['missing value for dictionary key "foo" at offset 6']);
  rejects('e', ["unexpected 'e' (0x65) at offset 0"]);
  rejects('x', ["unexpected 'x'"]);
  rejects('', ['unexpected end of data at offset 0']);
  rejects('l\x00e', ['unexpected 0x00 at offset 1']);
});

test('trailing data is an error unless allowTrailing, and end reports the consumed length', () => {
  rejects('i1eXYZ', ['trailing data (3 bytes) at offset 3']);
  rejects('dei1e', ['trailing data']);
  const r = decode(b('d1:ai1eeXYZ'), { allowTrailing: true });
  assert.equal(r.end, 8);
  assert.deepEqual(r.value, new Map([['a', 1]]));
  assert.equal(decode(b('4:spam')).end, 6);
});

test('unsorted and duplicate keys: soft by default, first duplicate wins; hard with keyOrder error', () => {
  const r = decode(b('d1:bi1e1:ai2e1:bi3ee'));
  assert.deepEqual([...(r.value as Map<string, BValue>).entries()], [['b', 1], ['a', 2]]);
  assert.equal(r.softErrors.length, 2);
  assert.match(r.softErrors[0]!, /unsorted dictionary key "a" at offset 7/);
  assert.match(r.softErrors[1]!, /duplicate dictionary key "b" at offset 13/);
  rejects('d1:bi1e1:ai2ee', ['unsorted dictionary key "a" at offset 7'], { keyOrder: 'error' });
  rejects('d1:ai1e1:ai2ee', ['duplicate dictionary key "a" at offset 7'], { keyOrder: 'error' });
  // raw byte order: 0xff sorts after 'z'
  assert.equal(decode(b('d1:zi1e1:\xffi2ee'), { keyOrder: 'error' }).softErrors.length, 0);
});

test('the soft error list is capped', () => {
  let s = 'd';
  for (let i = 0; i < 300; i++) s += '1:ai0e';
  s += 'e';
  const r = decode(b(s));
  assert.equal(r.softErrors.length, 101);
  assert.match(r.softErrors[100]!, /199 more soft errors/);
});

test('depth limit: exactly maxDepth is fine, one more fails; a depth bomb fails fast without stack overflow', () => {
  assert.doesNotThrow(() => decode(b('l'.repeat(100) + 'e'.repeat(100))));
  rejects('l'.repeat(101) + 'e'.repeat(101), ['nesting deeper than 100 at offset 100']);
  rejects('l'.repeat(11) + 'e'.repeat(11), ['nesting deeper than 10'], { maxDepth: 10 });
  rejects('d1:a'.repeat(200) + 'i1e' + 'e'.repeat(200), ['nesting deeper than 100']);
  // with the limit lifted the decoder is iterative, so a million levels cannot overflow the stack
  const deep = 200_000;
  const r = decode(b('l'.repeat(deep) + 'e'.repeat(deep)), { maxDepth: Infinity });
  let v = r.value as BValue[];
  let n = 1;
  while (v.length > 0) { v = v[0] as BValue[]; n++; }
  assert.equal(n, deep);
});

test('token limit', () => {
  assert.doesNotThrow(() => decode(b('li1ei2ee'), { maxTokens: 3 }));
  rejects('li1ei2ei3ee', ['too many tokens (limit 3) at offset 7'], { maxTokens: 3 });
  rejects('d1:ai1ee', ['too many tokens (limit 2) at offset 4'], { maxTokens: 2 }); // dict, key, value
  // 3M tokens default: 3M+1 integers in a list is refused
  const many = Buffer.alloc(2 + 3 * 3_000_001, 'i0e');
  many[0] = 0x6c;
  many[many.length - 1] = 0x65;
  many.fill('i0e', 1, many.length - 1);
  rejects(many, ['too many tokens (limit 3000000)']);
});

test('spanOf gives the raw byte span of containers, and of strings with spans: true', () => {
  const input = b('d4:infod6:lengthi03ee4:listl1:xee');
  const r = decode(input, { leadingZeros: 'soft' });
  const top = r.value as Map<string, BValue>;
  const info = top.get('info') as Map<string, BValue>;
  const list = top.get('list') as BValue[];
  assert.deepEqual(r.spanOf(top), [0, input.length]);
  assert.deepEqual(r.spanOf(info), [7, 21]);
  assert.equal(input.subarray(7, 21).toString('latin1'), 'd6:lengthi03ee');
  assert.deepEqual(r.spanOf(list), [27, 32]);
  assert.equal(r.spanOf(list[0] as Buffer), undefined);
  assert.equal(r.spanOf({}), undefined);
  const r2 = decode(input, { leadingZeros: 'soft', spans: true });
  const x = (r2.value as Map<string, BValue[]>).get('list')![0] as Buffer;
  assert.deepEqual(r2.spanOf(x), [28, 31]);
});

test('random garbage never throws anything but BENCODE', () => {
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  const alphabet = b('ilde0123456789:-xa');
  for (let i = 0; i < 5000; i++) {
    const n = rnd() % 24;
    const buf = Buffer.alloc(n);
    for (let j = 0; j < n; j++) buf[j] = alphabet[rnd() % alphabet.length]!;
    try { decode(buf); } catch (e) { assert.ok(isBtError(e, 'BENCODE'), `${buf.toString('latin1')}: ${String(e)}`); }
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBtError } from '../../util/errors.js';
import {
  LOCAL_EXTENSION_IDS, MAX_EXTENDED_HANDSHAKE_SIZE, decodeExtendedHandshake, encodeExtendedHandshake, parseCompactPeers,
  type ExtendedHandshake,
} from './extended.js';

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

function protocolError(payload: Buffer): string {
  try {
    decodeExtendedHandshake(payload);
  } catch (e) {
    assert.ok(isBtError(e, 'PROTOCOL'), `expected BtError PROTOCOL, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a PROTOCOL error');
}

test('golden bytes: the handshake we send', () => {
  const h: ExtendedHandshake = {
    m: { ut_pex: LOCAL_EXTENSION_IDS.ut_pex, ut_metadata: LOCAL_EXTENSION_IDS.ut_metadata },
    p: 6881, v: 'bitpeer 0.1.0', reqq: 500, yourip: Buffer.from([127, 0, 0, 1]), metadataSize: 31337,
  };
  const want = 'd1:md11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31337e1:pi6881e4:reqqi500e'
    + '1:v13:bitpeer 0.1.06:yourip4:\x7f\x00\x00\x01e';
  assert.equal(encodeExtendedHandshake(h).toString('latin1'), want);
  assert.deepEqual({ ...decodeExtendedHandshake(bin(want)), m: { ...decodeExtendedHandshake(bin(want)).m } }, h);
});

test('a libtorrent-style handshake: known keys read, unknown keys ignored', () => {
  const payload = bin('d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e'
    + '11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei20480e1:pi51413e4:reqqi500e11:upload_onlyi1e'
    + '1:v18:libtorrent 2.0.8.06:yourip4:\x0a\x00\x00\x02e');
  const h = decodeExtendedHandshake(payload);
  assert.deepEqual({ ...h.m }, { lt_donthave: 7, share_mode: 8, upload_only: 3, ut_holepunch: 4, ut_metadata: 2, ut_pex: 1 });
  assert.equal(h.p, 51413);
  assert.equal(h.reqq, 500);
  assert.equal(h.metadataSize, 20480);
  assert.equal(h.uploadOnly, true);
  assert.equal(h.v, 'libtorrent 2.0.8.0');
  assert.deepEqual(h.yourip, Buffer.from([10, 0, 0, 2]));
  assert.equal(h.ipv4, undefined);
  // No views into the payload: changing it afterwards changes nothing.
  payload.fill(0);
  assert.deepEqual(h.yourip, Buffer.from([10, 0, 0, 2]));
});

test('bad optional fields are ignored, not fatal', () => {
  const h = decodeExtendedHandshake(bin('d1:md1:ai256e1:bi-1e1:ci0e1:di255e1:e1:xe1:pi0e4:reqqi100001e'
    + '13:metadata_sizei0e1:v3:\x01\x02A6:yourip5:abcde4:ipv43:abc4:ipv616:0123456789abcdefe'));
  assert.deepEqual({ ...h.m }, { c: 0, d: 255 });
  assert.equal(h.p, undefined);
  assert.equal(h.reqq, undefined);
  assert.equal(h.metadataSize, undefined);
  assert.equal(h.v, 'A');
  assert.equal(h.yourip, undefined);
  assert.equal(h.ipv4, undefined);
  assert.deepEqual(h.ipv6, bin('0123456789abcdef'));
  const junk = decodeExtendedHandshake(bin('d1:mi5e1:pi65536ee'));
  assert.deepEqual({ ...junk, m: { ...junk.m } }, { m: {} });
  assert.deepEqual({ ...decodeExtendedHandshake(bin('de')).m }, {});
  assert.equal(decodeExtendedHandshake(bin(`d1:v150:${'é'.repeat(150)}e`)).v!.length, 100);
  assert.equal(decodeExtendedHandshake(bin('d4:reqqi100000ee')).reqq, 100000);
});

test('a name like __proto__ in m is plain data', () => {
  const h = decodeExtendedHandshake(bin('d1:md9:__proto__i3e8:toStringi4eee'));
  assert.equal(Object.getPrototypeOf(h.m), null);
  assert.equal(h.m['__proto__'], 3);
  assert.equal(h.m['toString'], 4);
  assert.deepEqual(Object.keys(h.m).sort(), ['__proto__', 'toString']);
});

test('garbage is a PROTOCOL error', () => {
  assert.match(protocolError(bin('')), /unexpected end/);
  assert.match(protocolError(bin('li1ee')), /not a dictionary/);
  assert.match(protocolError(bin('i3e')), /not a dictionary/);
  assert.match(protocolError(bin('d1:md1:ai1eeee')), /trailing/);
  assert.match(protocolError(bin('d1:xd1:xd1:xd1:xdeeeeee')), /nesting deeper than 4/);
  assert.ok(decodeExtendedHandshake(bin('d1:xd1:xd1:xdeeee'))); // depth 4 is fine
  assert.ok(decodeExtendedHandshake(bin(`d1:ll${'i1e'.repeat(997)}ee`))); // 1000 tokens
  assert.match(protocolError(bin(`d1:ll${'i1e'.repeat(998)}ee`)), /too many tokens/);
  assert.match(protocolError(Buffer.alloc(MAX_EXTENDED_HANDSHAKE_SIZE + 1, 0x64)), /exceeds/);
  assert.match(protocolError(bin('d1:pi03ee')), /leading zero/);
});

test('fuzz: random and mutated payloads decode or throw PROTOCOL, nothing else', () => {
  const valid = encodeExtendedHandshake({ m: { ut_pex: 1, ut_metadata: 2 }, p: 6881, v: 'x', reqq: 250 });
  const check = (b: Uint8Array): void => {
    try {
      const h = decodeExtendedHandshake(Buffer.from(b));
      for (const id of Object.values(h.m)) assert.ok(Number.isInteger(id) && id >= 0 && id <= 255);
      if (h.p !== undefined) assert.ok(h.p >= 1 && h.p <= 65535);
    } catch (e) {
      assert.ok(isBtError(e, 'PROTOCOL'), `unexpected ${String(e)}`);
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 500 });
  fc.assert(fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
    const b = Buffer.from(valid);
    b[i] = v;
    check(b);
    check(b.subarray(0, i));
  }), { numRuns: 500 });
});

test('round trip: decode(encode(h)) equals h', () => {
  const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => Buffer.byteLength(s) <= 64);
  const arb = fc.record({
    m: fc.dictionary(name, fc.integer({ min: 0, max: 255 }), { maxKeys: 8 }),
    p: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    // eslint-disable-next-line no-control-regex
    v: fc.option(fc.string({ maxLength: 30 }).map((s) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '')), { nil: undefined }),
    reqq: fc.option(fc.integer({ min: 1, max: 100_000 }), { nil: undefined }),
    yourip: fc.option(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
      .map((a) => Buffer.from(a)), { nil: undefined }),
    metadataSize: fc.option(fc.integer({ min: 1, max: 0x7fffffff }), { nil: undefined }),
    uploadOnly: fc.option(fc.boolean(), { nil: undefined }),
  }, { requiredKeys: ['m'] });
  fc.assert(fc.property(arb, (h0) => {
    // Keys whose value is undefined are absent after decoding; drop them before comparing.
    const h = Object.fromEntries(Object.entries(h0).filter(([, v]) => v !== undefined)) as unknown as ExtendedHandshake;
    if (h.v !== undefined && [...h.v].length > 100) return;
    const back = decodeExtendedHandshake(encodeExtendedHandshake(h));
    assert.deepEqual({ ...back, m: { ...back.m } }, { ...h, m: { ...h.m } });
  }), { numRuns: 300 });
});

test('encoding our own bad input is a RangeError', () => {
  assert.throws(() => encodeExtendedHandshake({ m: { ut_pex: 256 } }), RangeError);
  assert.throws(() => encodeExtendedHandshake({ m: { '': 1 } }), RangeError);
  assert.throws(() => encodeExtendedHandshake({ m: {}, p: 0 }), RangeError);
  assert.throws(() => encodeExtendedHandshake({ m: {}, reqq: 0 }), RangeError);
  assert.throws(() => encodeExtendedHandshake({ m: {}, yourip: Buffer.alloc(5) }), RangeError);
  assert.throws(() => encodeExtendedHandshake({ m: {}, ipv6: Buffer.alloc(4) }), RangeError);
});

test('parseCompactPeers', () => {
  assert.deepEqual(parseCompactPeers(Buffer.from('7f0000011ae1', 'hex'), 4), [{ host: '127.0.0.1', port: 6881 }]);
  assert.deepEqual(parseCompactPeers(Buffer.from('20010db80000000000000000000000011ae1', 'hex'), 6), [{ host: '2001:db8::1', port: 6881 }]);
  assert.throws(() => parseCompactPeers(Buffer.alloc(5), 4), (e: unknown) => isBtError(e, 'PROTOCOL'));
});

test('the `e` flag (MSE/PE preferred) round-trips and reads as a boolean', () => {
  const bytes = encodeExtendedHandshake({ m: {}, e: true });
  assert.equal(bytes.toString('latin1'), 'd1:ei1e1:mdee');
  assert.equal(decodeExtendedHandshake(bytes).e, true);
  assert.equal(decodeExtendedHandshake(Buffer.from('d1:ei0e1:mdee', 'latin1')).e, false);
  assert.equal(decodeExtendedHandshake(Buffer.from('d1:mdee', 'latin1')).e, undefined);
});

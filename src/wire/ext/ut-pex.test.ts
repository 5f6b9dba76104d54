import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '../../bencode/index.js';
import { canonicalHost } from '../../util/ip.js';
import { PEX_MAX_PAYLOAD, PexFlag, decodeUtPex, encodeUtPex, type DecodedPex, type PexDecodeResult, type PexPeer } from './ut-pex.js';

const bin = (s: string): Buffer => Buffer.from(s, 'latin1');

function ok(r: PexDecodeResult): DecodedPex {
  if (!r.ok) assert.fail(`expected ok, got ${r.error}: ${r.message}`);
  return r.value;
}

function errorOf(r: PexDecodeResult): string {
  assert.equal(r.ok, false);
  return r.ok ? '' : r.error;
}

/** n distinct compact IPv4 peers 10.0.x.y:6881. */
function v4peers(n: number, base = 0): Buffer {
  const b = Buffer.alloc(n * 6);
  for (let i = 0; i < n; i++) {
    const k = base + i + 1;
    b.set([10, 0, k >> 8, k & 0xff], i * 6);
    b.writeUInt16BE(6881, i * 6 + 4);
  }
  return b;
}

const GOLDEN = 'd5:added6:\x01\x02\x03\x04\x1a\xe17:added.f1:\x12'
  + '6:added618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50' + '8:added6.f1:\x04'
  + '7:dropped6:\x05\x06\x07\x08\x00\x01e';

test('golden bytes: encode', () => {
  const b = encodeUtPex({
    added: [{ host: '1.2.3.4', port: 6881, flags: PexFlag.SEED | PexFlag.REACHABLE }, { host: '2001:db8::1', port: 80, flags: PexFlag.UTP }],
    dropped: [{ host: '5.6.7.8', port: 1 }],
  });
  assert.equal(b.toString('latin1'), GOLDEN);
  assert.equal(encodeUtPex({}).toString('latin1'), 'de');
  // Junk hosts are skipped; mapped IPv4 goes in the IPv4 list.
  assert.equal(encodeUtPex({ added: [{ host: 'nope', port: 1, flags: 0 }, { host: '::ffff:1.2.3.4', port: 6881, flags: 0 }] }).toString('latin1'),
    'd5:added6:\x01\x02\x03\x04\x1a\xe17:added.f1:\x00e');
});

test('golden bytes: decode', () => {
  const d = ok(decodeUtPex(bin(GOLDEN)));
  assert.deepEqual(d, {
    added: [{ host: '1.2.3.4', port: 6881, flags: 0x12 }, { host: '2001:db8::1', port: 80, flags: 0x04 }],
    dropped: [{ host: '5.6.7.8', port: 1 }],
    ignored: 0, invalid: 0,
  });
});

test('round trip: decode(encode(m)) gives m back, IPv4 entries first, order kept within a family', () => {
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => {
    a[0] = 0x20; // global unicast: never mapped, unspecified or multicast
    return [...Array(8).keys()].map((i) => ((a[2 * i]! << 8) | a[2 * i + 1]!).toString(16).padStart(4, '0')).join(':');
  });
  const v4 = fc.ipV4().filter((h) => !/^(0|22[4-9]|2[3-5]\d)\./.test(h));
  const peer = fc.record({ host: fc.oneof(v4, v6), port: fc.integer({ min: 1, max: 65535 }), flags: fc.integer({ min: 0, max: 255 }) });
  const peers = fc.uniqueArray(peer, { maxLength: 25, selector: (p) => `${p.host}|${p.port}` });
  fc.assert(fc.property(peers, peers, (added, droppedPeers) => {
    const dropped = droppedPeers.map(({ host, port }) => ({ host, port }));
    const d = ok(decodeUtPex(encodeUtPex({ added, dropped })));
    const canon = <T extends { host: string }>(ps: T[]): T[] => {
      const c = ps.map((p) => ({ ...p, host: canonicalHost(p.host)! }));
      return [...c.filter((p) => !p.host.includes(':')), ...c.filter((p) => p.host.includes(':'))];
    };
    assert.deepEqual(d.added, canon(added));
    assert.deepEqual(d.dropped, canon(dropped));
    assert.equal(d.ignored, 0);
    assert.equal(d.invalid, 0);
  }), { numRuns: 200 });
});

test('caps: at most 50 per list, the excess is counted', () => {
  const payload = encode({ added: v4peers(120), dropped: v4peers(51, 1000), added6: Buffer.alloc(0) });
  const d = ok(decodeUtPex(payload));
  assert.equal(d.added.length, 50);
  assert.equal(d.dropped.length, 50);
  assert.equal(d.ignored, 70 + 1);
  assert.equal(d.added[0]!.host, '10.0.0.1');
  assert.equal(d.added[49]!.host, '10.0.0.50');
  assert.equal(ok(decodeUtPex(payload, { maxPeers: 10 })).added.length, 10);
});

test('flags: missing or short added.f means 0', () => {
  const d = ok(decodeUtPex(encode({ added: v4peers(3), 'added.f': Buffer.from([PexFlag.SEED]) })));
  assert.deepEqual(d.added.map((p: PexPeer) => p.flags), [2, 0, 0]);
  const e = ok(decodeUtPex(encode({ added: v4peers(2) })));
  assert.deepEqual(e.added.map((p) => p.flags), [0, 0]);
});

test('unusable and duplicate entries are skipped and counted', () => {
  const bad = Buffer.concat([
    Buffer.from('0102030400', 'hex'), Buffer.from([0]), // port 0
    Buffer.from('000000001ae1', 'hex'), // 0.0.0.0
    Buffer.from('efc0988f1a5b', 'hex'), // multicast
    Buffer.from('ffffffff1ae1', 'hex'), // broadcast
    v4peers(1), v4peers(1), // duplicate
  ]);
  const six = Buffer.concat([Buffer.from('00000000000000000000ffff0a0000011ae1', 'hex'), Buffer.alloc(18, 0)]);
  const d = ok(decodeUtPex(encode({ added: bad, added6: six })));
  assert.deepEqual(d.added, [{ host: '10.0.0.1', port: 6881, flags: 0 }]);
  assert.equal(d.invalid, 4 + 1 + 1 + 1); // 4 unusable, 1 duplicate, the mapped duplicate, the unspecified ::
});

test('rejections are typed', () => {
  assert.equal(errorOf(decodeUtPex(encode({ added: Buffer.alloc(7) }))), 'BAD_LENGTH');
  assert.equal(errorOf(decodeUtPex(encode({ dropped: Buffer.alloc(5) }))), 'BAD_LENGTH');
  assert.equal(errorOf(decodeUtPex(encode({ added6: Buffer.alloc(12) }))), 'BAD_LENGTH');
  assert.equal(errorOf(decodeUtPex(encode({ dropped6: Buffer.alloc(19) }))), 'BAD_LENGTH');
  assert.equal(errorOf(decodeUtPex(encode({ added: 5 }))), 'BAD_TYPE');
  assert.equal(errorOf(decodeUtPex(encode({ 'added.f': [] }))), 'BAD_TYPE');
  assert.equal(errorOf(decodeUtPex(bin('le'))), 'NOT_DICT');
  assert.equal(errorOf(decodeUtPex(bin('d5:added'))), 'BENCODE');
  assert.equal(errorOf(decodeUtPex(bin(''))), 'BENCODE');
  assert.equal(errorOf(decodeUtPex(bin('d1:xd1:xd1:xd1:xdeeeeee'))), 'BENCODE');
  assert.equal(errorOf(decodeUtPex(Buffer.alloc(PEX_MAX_PAYLOAD + 1))), 'TOO_LARGE');
  // Unknown keys are fine.
  assert.equal(ok(decodeUtPex(encode({ foo: [1, 2], added: v4peers(1) }))).added.length, 1);
  // A big but legal message under the cap decodes (capped).
  assert.equal(ok(decodeUtPex(encode({ added: v4peers(10_000) }))).ignored, 9950);
});

test('fuzz: random and mutated payloads never throw', () => {
  const valid = encodeUtPex({ added: [{ host: '1.2.3.4', port: 1, flags: 3 }, { host: '::2', port: 2, flags: 0 }], dropped: [{ host: '9.9.9.9', port: 9 }] });
  const check = (b: Uint8Array): void => {
    const r = decodeUtPex(Buffer.from(b));
    if (r.ok) {
      assert.ok(r.value.added.length <= 100 && r.value.dropped.length <= 100);
      for (const p of [...r.value.added, ...r.value.dropped]) assert.ok(p.port >= 1 && p.port <= 65535);
    } else {
      assert.ok(['TOO_LARGE', 'BENCODE', 'NOT_DICT', 'BAD_TYPE', 'BAD_LENGTH'].includes(r.error));
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), check), { numRuns: 500 });
  fc.assert(fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
    const b = Buffer.from(valid);
    b[i] = v;
    check(b);
    check(b.subarray(0, i));
  }), { numRuns: 500 });
});

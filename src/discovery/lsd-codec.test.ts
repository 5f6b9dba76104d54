import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  LSD_HOST_V4, LSD_HOST_V6, LSD_MAX_DATAGRAM, encodeLsdAnnounce, encodeLsdAnnounces, parseLsdAnnounce,
} from './lsd-codec.js';

const IH1 = '0123456789abcdef0123456789abcdef01234567';
const IH2 = 'fedcba9876543210fedcba9876543210fedcba98';
const hash = (i: number): string => i.toString(16).padStart(40, '0');
const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

test('golden bytes: one info-hash, with cookie', () => {
  const b = encodeLsdAnnounce({ host: LSD_HOST_V4, port: 6881, infoHashes: [IH1.toUpperCase()], cookie: 'c0ffee' });
  assert.equal(b.toString('latin1'),
    'BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n'
    + `Infohash: ${IH1}\r\ncookie: c0ffee\r\n\r\n\r\n`);
  assert.deepEqual(parseLsdAnnounce(b), { port: 6881, infoHashes: [IH1], cookie: 'c0ffee' });
});

test('golden bytes: IPv6 host, two info-hashes, no cookie', () => {
  const b = encodeLsdAnnounce({ host: LSD_HOST_V6, port: 1, infoHashes: [IH1, IH2] });
  assert.equal(b.toString('latin1'),
    `BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nPort: 1\r\nInfohash: ${IH1}\r\nInfohash: ${IH2}\r\n\r\n\r\n`);
  assert.deepEqual(parseLsdAnnounce(b), { port: 1, infoHashes: [IH1, IH2] });
});

test('other clients: libtorrent and Transmission style announces parse', () => {
  // libtorrent: lowercase hex, hex cookie.
  assert.deepEqual(parseLsdAnnounce(ascii(`BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: ${IH1}\r\ncookie: 5f1e\r\n\r\n\r\n`)),
    { port: 51413, infoHashes: [IH1], cookie: '5f1e' });
  // Transmission: upper-case hex, no cookie, header names in other cases, extra unknown header, bare LF.
  assert.deepEqual(parseLsdAnnounce(ascii(`bt-search * HTTP/1.1\nHOST: 239.192.152.143:6771\nport:  6881 \nX-Other: yes\nINFOHASH: ${IH2.toUpperCase()}\n\n`)),
    { port: 6881, infoHashes: [IH2] });
});

test('parse is strict', () => {
  const good = (extra = '', head = 'BT-SEARCH * HTTP/1.1'): string => `${head}\r\nHost: ${LSD_HOST_V4}\r\nPort: 6881\r\n${extra}Infohash: ${IH1}\r\n\r\n`;
  assert.ok(parseLsdAnnounce(ascii(good())));
  const bad: [string, string][] = [
    ['M-SEARCH * HTTP/1.1', good('', 'M-SEARCH * HTTP/1.1')],
    ['wrong target', good('', 'BT-SEARCH / HTTP/1.1')],
    ['HTTP/2', good('', 'BT-SEARCH * HTTP/2.0')],
    ['no port', `BT-SEARCH * HTTP/1.1\r\nInfohash: ${IH1}\r\n\r\n`],
    ['port 0', `BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ${IH1}\r\n\r\n`],
    ['port 65536', `BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\nInfohash: ${IH1}\r\n\r\n`],
    ['port not decimal', `BT-SEARCH * HTTP/1.1\r\nPort: 0x10\r\nInfohash: ${IH1}\r\n\r\n`],
    ['port 1e3', `BT-SEARCH * HTTP/1.1\r\nPort: 1e3\r\nInfohash: ${IH1}\r\n\r\n`],
    ['two ports', good('Port: 6882\r\n')],
    ['no info-hash', `BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n`],
    ['short info-hash', `BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${IH1.slice(1)}\r\n\r\n`],
    ['non-hex info-hash', `BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${IH1.slice(1)}g\r\n\r\n`],
    ['base32 info-hash', `BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${'A'.repeat(32)}\r\n\r\n`],
    ['one bad among good', good(`Infohash: xyz\r\n`)],
    ['header without colon', good('Garbage line\r\n')],
    ['NUL byte', good('X: a\u0000b\r\n')],
    ['high byte', good('X: caf\u00e9\r\n')],
    ['too many headers', good('X: 1\r\n'.repeat(40))],
    ['empty', ''],
  ];
  for (const [why, s] of bad) assert.equal(parseLsdAnnounce(ascii(s)), null, why);
  assert.equal(parseLsdAnnounce(Buffer.alloc(LSD_MAX_DATAGRAM + 1, 0x41)), null, 'too large');
  // A body after the empty line is ignored; a malformed cookie is ignored; duplicate hashes are merged.
  assert.deepEqual(parseLsdAnnounce(ascii(`${good(`cookie: has space\r\nInfohash: ${IH1.toUpperCase()}\r\n`)}whatever`)),
    { port: 6881, infoHashes: [IH1] });
});

test('splitting: every datagram under 1400 bytes, all hashes carried in order', () => {
  const many = Array.from({ length: 100 }, (_, i) => hash(i));
  const cookie = 'x'.repeat(64);
  const ds = encodeLsdAnnounces({ host: LSD_HOST_V6, port: 65535, infoHashes: many, cookie });
  assert.ok(ds.length >= 4 && ds.length <= 5, `${ds.length} datagrams`);
  const back: string[] = [];
  for (const d of ds) {
    assert.ok(d.length < LSD_MAX_DATAGRAM, `${d.length} bytes`);
    const p = parseLsdAnnounce(d);
    assert.ok(p !== null);
    assert.equal(p.cookie, cookie);
    back.push(...p.infoHashes);
  }
  assert.deepEqual(back, many);
  assert.equal(encodeLsdAnnounces({ host: LSD_HOST_V4, port: 1, infoHashes: many.slice(0, 3) }, 1).length, 3);
  assert.throws(() => encodeLsdAnnounce({ host: LSD_HOST_V4, port: 1, infoHashes: many }), RangeError);
});

test('encoding our own bad input is a RangeError', () => {
  assert.throws(() => encodeLsdAnnounce({ host: LSD_HOST_V4, port: 0, infoHashes: [IH1] }), RangeError);
  assert.throws(() => encodeLsdAnnounce({ host: LSD_HOST_V4, port: 1, infoHashes: [] }), RangeError);
  assert.throws(() => encodeLsdAnnounce({ host: LSD_HOST_V4, port: 1, infoHashes: ['zz'] }), RangeError);
  assert.throws(() => encodeLsdAnnounce({ host: LSD_HOST_V4, port: 1, infoHashes: [IH1], cookie: 'a b' }), RangeError);
  assert.throws(() => encodeLsdAnnounce({ host: '1.2.3.4:6771' as typeof LSD_HOST_V4, port: 1, infoHashes: [IH1] }), RangeError);
});

test('fuzz: parse never throws; round trip of random announces', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), (b) => { parseLsdAnnounce(Buffer.from(b)); }), { numRuns: 300 });
  const valid = encodeLsdAnnounce({ host: LSD_HOST_V4, port: 6881, infoHashes: [IH1, IH2], cookie: 'abc' });
  fc.assert(fc.property(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
    const b = Buffer.from(valid);
    b[i] = v;
    const p = parseLsdAnnounce(b);
    if (p !== null) {
      assert.ok(p.port >= 1 && p.port <= 65535);
      for (const h of p.infoHashes) assert.match(h, /^[0-9a-f]{40}$/);
    }
  }), { numRuns: 500 });
  const hex40 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((a) => Buffer.from(a).toString('hex'));
  fc.assert(fc.property(fc.uniqueArray(hex40, { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 65535 }),
    fc.option(fc.stringMatching(/^[!-~]{1,64}$/), { nil: undefined }), (infoHashes, port, cookie) => {
      const b = encodeLsdAnnounce({ host: LSD_HOST_V4, port, infoHashes, cookie });
      assert.deepEqual(parseLsdAnnounce(b), cookie === undefined ? { port, infoHashes } : { port, infoHashes, cookie });
    }), { numRuns: 200 });
});

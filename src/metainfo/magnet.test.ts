// Magnet URIs: hex and base32 info-hashes, BEP 52 btmh (v2 and hybrid), round trips, hostile inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildMagnet, infoHashToBase32, parseBtmh, parseInfoHash, parseMagnet } from './magnet.js';
import { isBtError } from '../util/errors.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
// Base32 of the same 20 bytes (checked with Python: base64.b32encode(bytes.fromhex(HEX))).
const B32 = 'YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK';
// A v2 info-hash (SHA-256, 32 bytes), as in BEP 52's example link.
const V2 = 'caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e';

test('btmh alone: a v2-only magnet, named on the wire by the SHA-256 truncated to 20 bytes', () => {
  const m = parseMagnet(`magnet:?xt=urn:btmh:1220${V2}&dn=v2&tr=http://t/a`);
  assert.deepEqual(m.infoHashV2, Buffer.from(V2, 'hex'));
  assert.equal(m.infoHashV1, undefined);
  assert.equal(m.infoHashHex, V2.slice(0, 40));
  assert.deepEqual(m.infoHash, Buffer.from(V2.slice(0, 40), 'hex'));
  assert.equal(m.name, 'v2');
  // Upper-case hex and a numbered key are accepted too.
  assert.deepEqual(parseMagnet(`magnet:?xt.1=urn:btmh:1220${V2.toUpperCase()}`).infoHashV2, Buffer.from(V2, 'hex'));
});

test('btih and btmh: a hybrid magnet, named on the wire by the btih, in either order', () => {
  for (const uri of [`magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${V2}`, `magnet:?xt=urn:btmh:1220${V2}&xt=urn:btih:${B32}`]) {
    const m = parseMagnet(uri);
    assert.equal(m.infoHashHex, HEX);
    assert.deepEqual(m.infoHashV1, Buffer.from(HEX, 'hex'));
    assert.deepEqual(m.infoHashV2, Buffer.from(V2, 'hex'));
  }
  // The first btmh wins, like the first btih.
  const zero = '0'.repeat(64);
  assert.deepEqual(parseMagnet(`magnet:?xt=urn:btmh:1220${V2}&xt=urn:btmh:1220${zero}`).infoHashV2, Buffer.from(V2, 'hex'));
});

test('buildMagnet: btih for v1, btih and btmh for hybrid, btmh only for v2', () => {
  const v2 = Buffer.from(V2, 'hex');
  assert.equal(buildMagnet({ infoHash: HEX, infoHashV2: v2, name: 'h' }), `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${V2}&dn=h`);
  assert.equal(buildMagnet({ infoHashV2: V2 }), `magnet:?xt=urn:btmh:1220${V2}`);
  // A v2-only torrent's wire hash (the truncated v2 hash) is not a btih: it is left out.
  assert.equal(buildMagnet({ infoHash: v2.subarray(0, 20), infoHashV2: v2 }), `magnet:?xt=urn:btmh:1220${V2}`);
  assert.throws(() => buildMagnet({}), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
  assert.throws(() => buildMagnet({ infoHashV2: Buffer.alloc(20) }), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
  assert.throws(() => buildMagnet({ infoHashV2: HEX }), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
  for (const uri of [buildMagnet({ infoHash: HEX, infoHashV2: v2 }), buildMagnet({ infoHashV2: v2 })]) {
    assert.deepEqual(parseMagnet(uri).infoHashV2, v2);
  }
  assert.deepEqual(parseBtmh(`1220${V2}`), v2);
  assert.equal(parseBtmh(V2), undefined);
});

test('hex and base32 forms give the same info-hash', () => {
  assert.equal(infoHashToBase32(Buffer.from(HEX, 'hex')), B32);
  const a = parseMagnet(`magnet:?xt=urn:btih:${HEX}`);
  const b = parseMagnet(`magnet:?xt=urn:btih:${B32}`);
  const c = parseMagnet(`magnet:?xt=urn:btih:${B32.toLowerCase()}`);
  const d = parseMagnet(`MAGNET:?XT=URN:BTIH:${HEX.toUpperCase()}`);
  for (const m of [a, b, c, d]) {
    assert.equal(m.infoHashHex, HEX);
    assert.deepEqual(m.infoHash, Buffer.from(HEX, 'hex'));
  }
  assert.deepEqual(a, { infoHash: Buffer.from(HEX, 'hex'), infoHashHex: HEX, infoHashV1: Buffer.from(HEX, 'hex'), trackers: [], peers: [] });
});

test('a full magnet link', () => {
  const m = parseMagnet(`magnet:?xt=urn:btih:${HEX}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ftracker.example%3A1337&tr.1=http://t2/announce`
    + '&tr=udp%3A%2F%2Ftracker.example%3A1337&x.pe=10.0.0.1:6881&x.pe=[::1]:51413&x.pe=bad&x.pe=host:0&x.pe=host:70000'
    + '&xl=123&ws=http://seed&xt=urn:btih:0000000000000000000000000000000000000000#frag');
  assert.equal(m.name, 'Big Buck Bunny');
  assert.equal(m.infoHashHex, HEX); // the first btih wins
  assert.deepEqual(m.trackers, ['udp://tracker.example:1337', 'http://t2/announce']);
  assert.deepEqual(m.peers, ['10.0.0.1:6881', '[::1]:51413']);
});

test('rejects bad magnets with BAD_MAGNET', () => {
  const bad: [string, string][] = [
    ['http://example.com', 'must start with "magnet:?"'],
    ['magnet:?dn=x', 'no xt=urn:btih: or xt=urn:btmh:'],
    // A btmh must be a sha2-256 multihash (0x12, length 0x20) of 32 bytes: sha1 (0x11) multihash, short, long, not hex.
    [`magnet:?xt=urn:btmh:1114${HEX}`, 'not a sha2-256 multihash'],
    [`magnet:?xt=urn:btmh:1220${V2.slice(2)}`, 'not a sha2-256 multihash'],
    [`magnet:?xt=urn:btmh:1220${V2}00`, 'not a sha2-256 multihash'],
    [`magnet:?xt=urn:btmh:1220${V2.slice(1)}g`, 'not a sha2-256 multihash'],
    [`magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:${V2}`, 'not a sha2-256 multihash'],
    [`magnet:?xt=urn:btih:${HEX.slice(1)}`, 'not 40 hex or 32 base32'],
    [`magnet:?xt=urn:btih:${HEX}0`, 'not 40 hex or 32 base32'],
    ['magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKE1', 'not 40 hex or 32 base32'],
    [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'malformed percent-encoding in dn'],
    [`magnet:?xt=urn:btih:${HEX}&tr=${'a'.repeat(70000)}`, 'longer than 65536'],
  ];
  for (const [uri, fragment] of bad) {
    assert.throws(() => parseMagnet(uri), (e: unknown) => isBtError(e, 'BAD_MAGNET') && e.message.includes(fragment), uri.slice(0, 80));
  }
  assert.throws(() => parseMagnet(5 as unknown as string), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
});

test('tracker and peer lists are capped', () => {
  let uri = `magnet:?xt=urn:btih:${HEX}`;
  for (let i = 0; i < 300; i++) uri += `&tr=http://t${i}/a&x.pe=10.0.0.${i % 250}:${1000 + i}`;
  const m = parseMagnet(uri);
  assert.equal(m.trackers.length, 200);
  assert.equal(m.peers.length, 200);
});

test('buildMagnet', () => {
  assert.equal(buildMagnet({ infoHash: Buffer.from(HEX, 'hex') }), `magnet:?xt=urn:btih:${HEX}`);
  assert.equal(buildMagnet({ infoHash: B32, name: 'a b&c', trackers: ['udp://t:1'], peers: ['[::1]:5', '1.2.3.4:6881'] }),
    `magnet:?xt=urn:btih:${HEX}&dn=a%20b%26c&tr=udp%3A%2F%2Ft%3A1&x.pe=[::1]:5&x.pe=1.2.3.4:6881`);
  assert.throws(() => buildMagnet({ infoHash: 'zz' }), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
  assert.throws(() => buildMagnet({ infoHash: Buffer.alloc(19) }), (e: unknown) => isBtError(e, 'BAD_MAGNET'));
});

test('parseInfoHash', () => {
  assert.deepEqual(parseInfoHash(HEX), Buffer.from(HEX, 'hex'));
  assert.deepEqual(parseInfoHash(B32), Buffer.from(HEX, 'hex'));
  assert.equal(parseInfoHash('x'), undefined);
});

test('property: parseMagnet(buildMagnet(x)) round-trips, in hex and base32', () => {
  const host = fc.oneof(fc.ipV4(), fc.domain(), fc.ipV6().map((a) => `[${a}]`));
  const peer = fc.tuple(host, fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`);
  const tracker = fc.webUrl({ withQueryParameters: true });
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    fc.uniqueArray(tracker, { maxLength: 4 }), fc.uniqueArray(peer, { maxLength: 4 }), fc.boolean(),
    (hash, name, trackers, peers, b32) => {
      const h = Buffer.from(hash);
      const uri = buildMagnet({ infoHash: b32 ? infoHashToBase32(h) : h, ...(name === undefined ? {} : { name }), trackers, peers });
      const m = parseMagnet(uri);
      assert.deepEqual(m.infoHash, h);
      assert.equal(m.name, name);
      assert.deepEqual(m.trackers, trackers.map((t) => t.trim()).filter((t, i, a) => t !== '' && a.indexOf(t) === i));
      assert.deepEqual(m.peers, peers);
    }), { numRuns: 100, interruptAfterTimeLimit: 2000 });
});

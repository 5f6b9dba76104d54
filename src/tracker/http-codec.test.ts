// HTTP tracker codec: golden responses, strict query parsing, and fuzzing with random and hostile queries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, isDict } from '../bencode/index.js';
import {
  MAX_SCRAPE_HASHES, encodeAnnounceResponse, encodeFailure, encodeScrapeResponse, parseAnnounceQuery,
  parseScrapeQuery, percentDecode,
} from './http-codec.js';
import type { AnnounceResult } from './swarm.js';

const escapeAll = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
const IH = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
const PID = Buffer.from('-lt2080-abcdefghijkl', 'latin1');
const base = `info_hash=${escapeAll(IH)}&peer_id=${escapeAll(PID)}&port=6881&uploaded=0&downloaded=0&left=1000`;

function okOf<T>(r: { ok: T } | { failure: string }): T {
  if ('failure' in r) assert.fail(`unexpected failure: ${r.failure}`);
  return r.ok;
}
function failOf(r: { ok: unknown } | { failure: string }): string {
  if (!('failure' in r)) assert.fail('expected a failure');
  return r.failure;
}

test('golden: compact announce response with IPv4 and IPv6 peers', () => {
  const result: AnnounceResult = { interval: 120, minInterval: 30, complete: 1, incomplete: 2, peers: [
    { ip: '1.2.3.4', port: 6881, peerId: PID }, { ip: '2001:db8::1', port: 1, peerId: PID }] };
  const body = encodeAnnounceResponse(result, { compact: true, noPeerId: false });
  assert.equal(body.toString('latin1'), 'd8:completei1e10:incompletei2e8:intervali120e12:min intervali30e'
    + '5:peers6:\x01\x02\x03\x04\x1a\xe1'
    + '6:peers618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01e');
  // No IPv6 peer: no peers6 key; no peer at all: empty peers string.
  assert.equal(encodeAnnounceResponse({ ...result, peers: [] }, { compact: true, noPeerId: false }).toString(),
    'd8:completei1e10:incompletei2e8:intervali120e12:min intervali30e5:peers0:e');
});

test('golden: dictionary-model announce response, with and without peer ids', () => {
  const result: AnnounceResult = { interval: 120, minInterval: 30, complete: 0, incomplete: 1, peers: [
    { ip: '10.0.0.1', port: 6881, peerId: PID }] };
  assert.equal(encodeAnnounceResponse(result, { compact: false, noPeerId: false }).toString('latin1'),
    'd8:completei0e10:incompletei1e8:intervali120e12:min intervali30e'
    + '5:peersld2:ip8:10.0.0.17:peer id20:-lt2080-abcdefghijkl4:porti6881eeee');
  assert.equal(encodeAnnounceResponse(result, { compact: false, noPeerId: true }).toString('latin1'),
    'd8:completei0e10:incompletei1e8:intervali120e12:min intervali30e5:peersld2:ip8:10.0.0.14:porti6881eeee');
});

test('golden: failure and scrape responses', () => {
  assert.equal(encodeFailure('torrent not tracked here').toString(), 'd14:failure reason24:torrent not tracked heree');
  const body = encodeScrapeResponse([{ infoHash: IH, complete: 3, downloaded: 7, incomplete: 2 }]);
  assert.equal(body.toString('latin1'),
    `d5:filesd20:${IH.toString('latin1')}d8:completei3e10:downloadedi7e10:incompletei2eeee`);
});

test('parseAnnounceQuery: a typical client query', () => {
  const r = okOf(parseAnnounceQuery(`${base}&event=started&numwant=80&compact=1&no_peer_id=1&key=ab12cd34&ip=6.6.6.6`
    + '&supportcrypto=1', '::ffff:192.168.1.9'));
  assert.deepEqual(r.infoHash, IH);
  assert.deepEqual(r.peerId, PID);
  assert.equal(r.ip, '192.168.1.9', 'source address, normalised; ip= ignored');
  assert.equal(r.port, 6881);
  assert.deepEqual([r.uploaded, r.downloaded, r.left], [0, 0, 1000]);
  assert.equal(r.event, 'started');
  assert.equal(r.numwant, 80);
  assert.equal(r.compact, true);
  assert.equal(r.noPeerId, true);
  assert.equal(r.key, 'ab12cd34');
});

test('parseAnnounceQuery: defaults and lenient spellings', () => {
  const r = okOf(parseAnnounceQuery(`info_hash=${escapeAll(IH)}&peer_id=${escapeAll(PID)}&port=1`, '10.0.0.1'));
  assert.equal(r.compact, true);
  assert.equal(r.noPeerId, false);
  assert.equal(r.event, '');
  assert.equal(r.numwant, undefined);
  assert.deepEqual([r.uploaded, r.downloaded], [0, 0]);
  assert.ok(r.left > 0, 'missing left is not a seed');
  assert.equal(okOf(parseAnnounceQuery(`${base}&event=empty`, '1.1.1.1')).event, '');
  assert.equal(okOf(parseAnnounceQuery(`${base}&event=paused`, '1.1.1.1')).event, '');
  assert.equal(okOf(parseAnnounceQuery(`${base}&compact=0`, '1.1.1.1')).compact, false);
  assert.equal(okOf(parseAnnounceQuery(`${base}&numwant=-1`, '1.1.1.1')).numwant, undefined);
  assert.equal(okOf(parseAnnounceQuery(`${base}&numwant=1000000000`, '1.1.1.1')).numwant, 1e9, 'the swarm caps it');
  assert.equal(okOf(parseAnnounceQuery(base.replace("left=1000", "left=99999999999999999999"), '1.1.1.1')).left, Number.MAX_SAFE_INTEGER);
  // Raw unreserved bytes, '+' as space, mixed case escapes.
  const raw = okOf(parseAnnounceQuery(`info_hash=abcdefghij+%2B%2b%7E%7eklmno&peer_id=${escapeAll(PID)}&port=2`, '1.1.1.1'));
  assert.equal(raw.infoHash.toString('latin1'), 'abcdefghij ++~~klmno');
});

test('parseAnnounceQuery: rejects what is malformed', () => {
  const src = '1.1.1.1';
  const cases: Array<[string, RegExp]> = [
    ['', /missing info_hash/],
    [base.replace(/info_hash=[^&]*/, 'info_hash=abc'), /info_hash/],
    [base.replace(/info_hash=[^&]*/, `info_hash=${escapeAll(Buffer.alloc(21))}`), /info_hash/],
    [base.replace(/peer_id=[^&]*/, ''), /missing peer_id/],
    [base.replace(/peer_id=[^&]*/, 'peer_id=%zz'), /percent/],
    [`${base}&x=%`, /percent/],
    [`${base}&x=%4`, /percent/],
    [base.replace('port=6881', 'port=0'), /port/],
    [base.replace('port=6881', 'port=65536'), /port/],
    [base.replace('port=6881', 'port=-1'), /port/],
    [base.replace('port=6881', 'port=6881.0'), /port/],
    [base.replace('port=6881', ''), /missing port/],
    [`${base}&numwant=1e9`, /numwant/],
    [`${base}&numwant=`, /numwant/],
    [base.replace('left=1000', 'left=-5'), /left/],
    [base.replace('left=1000', 'left=0x10'), /left/],
    [`${base}&event=finished`, /event/],
    [`${base}&compact=yes`, /compact/],
    [`${base}&port=6882`, /duplicate/],
    [`${base}&info_hash=${escapeAll(IH)}`, /duplicate/],
    [`${base}&key=${'k'.repeat(65)}`, /key/],
    [`${base}&${'a=1&'.repeat(100)}`, /too many/],
    [`${base}&pad=${'x'.repeat(9000)}`, /too long/],
    [`${base}&x=\u0100`, /percent/],
  ];
  for (const [q, re] of cases) assert.match(failOf(parseAnnounceQuery(q, src)), re, q.slice(0, 200));
});

test('parseScrapeQuery: one or many info-hashes, none refused, capped at 74, duplicates merged', () => {
  assert.deepEqual(okOf(parseScrapeQuery(`info_hash=${escapeAll(IH)}`)), [IH]);
  assert.match(failOf(parseScrapeQuery('')), /at least one/);
  assert.match(failOf(parseScrapeQuery('foo=bar')), /at least one/);
  assert.match(failOf(parseScrapeQuery('info_hash=short')), /20 bytes/);
  const many = Array.from({ length: 80 }, (_, i) => Buffer.alloc(20, i));
  const got = okOf(parseScrapeQuery(many.map((h) => `info_hash=${escapeAll(h)}`).join('&')));
  assert.equal(got.length, MAX_SCRAPE_HASHES);
  assert.deepEqual(got[73], many[73]);
  assert.equal(okOf(parseScrapeQuery(`info_hash=${escapeAll(IH)}&info_hash=${escapeAll(IH)}`)).length, 1);
});

test('property: any query string gives ok or failure, never a throw', () => {
  // Raw bytes as latin1 (what the socket gives), plus a few strings with chars above 0xff.
  const anyChar = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.string({ unit: 'grapheme', maxLength: 40 }));
  const hostileValue = fc.oneof(
    fc.constantFrom('', '%', '%%', '%z1', '%1', '-1', '1e9', '0', '65536', '99999999999999999999999', 'NaN',
      'Infinity', '0x1f', ' 1', '1 ', '+1', '__proto__', 'constructor', '\u0000', '\uffff'),
    fc.string({ maxLength: 30 }),
    fc.uint8Array({ maxLength: 25 }).map((b) => escapeAll(Buffer.from(b))),
  );
  const key = fc.constantFrom('info_hash', 'peer_id', 'port', 'uploaded', 'downloaded', 'left', 'event', 'numwant',
    'compact', 'no_peer_id', 'key', 'ip', '__proto__', 'hasOwnProperty', '', '%', 'info%5fhash');
  const structured = fc.array(fc.tuple(key, hostileValue), { maxLength: 14 })
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
  fc.assert(fc.property(fc.oneof(anyChar, structured), fc.constantFrom('1.2.3.4', '::ffff:1.2.3.4', '::1', 'junk'), (q, ip) => {
    const a = parseAnnounceQuery(q, ip);
    assert.ok(('ok' in a) !== ('failure' in a));
    if ('ok' in a) {
      assert.equal(a.ok.infoHash.length, 20);
      assert.equal(a.ok.peerId.length, 20);
      assert.ok(a.ok.port >= 1 && a.ok.port <= 65535);
      assert.ok(Number.isSafeInteger(a.ok.left) && a.ok.left >= 0);
      assert.ok(a.ok.numwant === undefined || (Number.isSafeInteger(a.ok.numwant) && a.ok.numwant >= 0));
    }
    const s = parseScrapeQuery(q);
    assert.ok(('ok' in s) !== ('failure' in s));
  }), { numRuns: 1000 });
});

test('property: info_hash and peer_id survive any mix of escaped and raw bytes', () => {
  const unreserved = /[A-Za-z0-9\-._~]/;
  const enc = (b: Uint8Array, raw: boolean[]): string => [...b].map((x, i) => {
    const ch = String.fromCharCode(x);
    return raw[i] && unreserved.test(ch) ? ch : `%${x.toString(16).padStart(2, '0')}`;
  }).join('');
  const twenty = fc.uint8Array({ minLength: 20, maxLength: 20 });
  const flags = fc.array(fc.boolean(), { minLength: 20, maxLength: 20 });
  fc.assert(fc.property(twenty, twenty, flags, fc.integer({ min: 1, max: 65535 }), (ih, id, raw, port) => {
    const r = okOf(parseAnnounceQuery(`peer_id=${enc(id, raw)}&info_hash=${enc(ih, raw)}&port=${port}`, '1.2.3.4'));
    assert.deepEqual(r.infoHash, Buffer.from(ih));
    assert.deepEqual(r.peerId, Buffer.from(id));
    assert.equal(r.port, port);
  }), { numRuns: 500 });
});

test('property: announce responses always decode with the expected fields', () => {
  const peer = fc.record({
    ip: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 1, max: 65535 }),
    peerId: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b)),
  });
  fc.assert(fc.property(fc.array(peer, { maxLength: 20 }), fc.boolean(), fc.boolean(), (peers, compact, noPeerId) => {
    const body = encodeAnnounceResponse({ interval: 120, minInterval: 30, complete: 0, incomplete: 0, peers }, { compact, noPeerId });
    const d = decode(body).value;
    assert.ok(isDict(d));
    const p = d.get('peers');
    if (compact) {
      const v6 = d.get('peers6');
      const n4 = (p as Buffer).length / 6;
      const n6 = v6 === undefined ? 0 : (v6 as Buffer).length / 18;
      assert.equal(n4 + n6, peers.length);
    } else {
      assert.equal((p as unknown[]).length, peers.length);
    }
  }), { numRuns: 200 });
});

test('percentDecode', () => {
  assert.deepEqual(percentDecode('a%00b+%FF'), Buffer.from([0x61, 0, 0x62, 0x20, 0xff]));
  assert.equal(percentDecode('%G0'), null);
  assert.equal(percentDecode('abc%'), null);
});

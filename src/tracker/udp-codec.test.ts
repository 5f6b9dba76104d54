// BEP 15 codec: golden bytes, round trips of all seven messages, exact length checks, random buffers into every
// decoder, and connection ids (HMAC, 2-minute slots, current + previous accepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isBtError } from '../util/errors.js';
import {
  ConnectionIds, UDP_PROTOCOL_ID, decodeUdpAnnounceRequest, decodeUdpAnnounceResponse, decodeUdpConnectRequest,
  decodeUdpConnectResponse, decodeUdpErrorResponse, decodeUdpResponse, decodeUdpScrapeRequest,
  decodeUdpScrapeResponse, encodeUdpAnnounceRequest, encodeUdpAnnounceResponse, encodeUdpConnectRequest,
  encodeUdpConnectResponse, encodeUdpErrorResponse, encodeUdpScrapeRequest, encodeUdpScrapeResponse,
  type UdpAnnounceRequest,
} from './udp-codec.js';

const bytes20 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b));
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });

function throwsProtocol(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isBtError(e, 'PROTOCOL'));
}

test('golden: connect request and response bytes', () => {
  assert.equal(encodeUdpConnectRequest({ transactionId: 0x01020304 }).toString('hex'),
    '0000041727101980' + '00000000' + '01020304');
  assert.equal(encodeUdpConnectResponse({ transactionId: 7, connectionId: 0x8877665544332211n }).toString('hex'),
    '00000000' + '00000007' + '8877665544332211');
  assert.equal(encodeUdpErrorResponse({ transactionId: 1, message: 'no' }).toString('hex'), '00000003' + '00000001' + '6e6f');
});

test('golden: announce request layout (98 bytes, offsets per BEP 15)', () => {
  const req: UdpAnnounceRequest = {
    connectionId: 0x8000000000000001n, transactionId: 2, infoHash: Buffer.alloc(20, 0xaa), peerId: Buffer.alloc(20, 0xbb),
    downloaded: 3n, left: 4n, uploaded: 5n, event: 'started', ip: 0, key: 6, numWant: -1, port: 6881,
  };
  const b = encodeUdpAnnounceRequest(req);
  assert.equal(b.length, 98);
  assert.equal(b.readUInt32BE(8), 1);
  assert.equal(b[16], 0xaa);
  assert.equal(b[36], 0xbb);
  assert.equal(b.readBigUInt64BE(56), 3n);
  assert.equal(b.readBigUInt64BE(64), 4n);
  assert.equal(b.readBigUInt64BE(72), 5n);
  assert.equal(b.readUInt32BE(80), 2, 'started = 2');
  assert.equal(b.readInt32BE(92), -1);
  assert.equal(b.readUInt16BE(96), 6881);
  assert.deepEqual(decodeUdpAnnounceRequest(b), req);
  // BEP 41 options after byte 98 are ignored.
  assert.deepEqual(decodeUdpAnnounceRequest(Buffer.concat([b, Buffer.from([2, 5, 0x2f, 0x61, 0x6e, 0x6e, 0x6f])])), req);
});

test('round trips of every message', () => {
  fc.assert(fc.property(u32, u64, bytes20, bytes20, u64, u64, u64,
    fc.constantFrom('', 'started', 'completed', 'stopped') as fc.Arbitrary<UdpAnnounceRequest['event']>, u32, u32,
    fc.integer({ min: -2147483648, max: 2147483647 }), fc.integer({ min: 0, max: 65535 }),
    (tid, cid, ih, id, dl, left, ul, event, ip, key, numWant, port) => {
      assert.deepEqual(decodeUdpConnectRequest(encodeUdpConnectRequest({ transactionId: tid })), { transactionId: tid });
      assert.deepEqual(decodeUdpConnectResponse(encodeUdpConnectResponse({ transactionId: tid, connectionId: cid })),
        { transactionId: tid, connectionId: cid });
      const a: UdpAnnounceRequest = { connectionId: cid, transactionId: tid, infoHash: ih, peerId: id, downloaded: dl,
        left, uploaded: ul, event, ip, key, numWant, port };
      assert.deepEqual(decodeUdpAnnounceRequest(encodeUdpAnnounceRequest(a)), a);
    }), { numRuns: 300 });
  fc.assert(fc.property(u32, u64, fc.array(bytes20, { minLength: 1, maxLength: 74 }), (tid, cid, hashes) => {
    const s = { connectionId: cid, transactionId: tid, infoHashes: hashes };
    assert.deepEqual(decodeUdpScrapeRequest(encodeUdpScrapeRequest(s)), s);
  }), { numRuns: 100 });
  const peer4 = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }).map((p) => ({ ...p }));
  fc.assert(fc.property(u32, u32, u32, u32, fc.array(peer4, { maxLength: 80 }), (tid, interval, leechers, seeders, peers) => {
    const r = { transactionId: tid, interval, leechers, seeders, peers };
    const b = encodeUdpAnnounceResponse(r, 4);
    assert.equal(b.length, 20 + 6 * peers.length);
    assert.deepEqual(decodeUdpAnnounceResponse(b, 4), r);
    assert.deepEqual(decodeUdpResponse(b, 4), { action: 'announce', ...r });
  }), { numRuns: 100 });
  const files = fc.array(fc.record({ seeders: u32, completed: u32, leechers: u32 }).map((f) => ({ ...f })), { maxLength: 74 });
  fc.assert(fc.property(u32, files, fc.string({ maxLength: 50 }), (tid, f, msg) => {
    assert.deepEqual(decodeUdpScrapeResponse(encodeUdpScrapeResponse({ transactionId: tid, files: f })), { transactionId: tid, files: f });
    const e = encodeUdpErrorResponse({ transactionId: tid, message: msg });
    assert.deepEqual(decodeUdpResponse(e, 4), { action: 'error', transactionId: tid, message: msg });
  }), { numRuns: 100 });
});

test('IPv6 announce responses use 18-byte entries and keep only IPv6 peers', () => {
  const peers = [{ host: '2001:db8::7', port: 1000 }, { host: '10.0.0.1', port: 1 }];
  const b = encodeUdpAnnounceResponse({ transactionId: 1, interval: 120, leechers: 1, seeders: 2, peers }, 6);
  assert.equal(b.length, 20 + 18);
  assert.deepEqual(decodeUdpAnnounceResponse(b, 6).peers, [{ host: '2001:db8::7', port: 1000 }]);
  // Decoding with the wrong family gives other entries (18 = 3 × 6) or a length error (6 is not 18·n).
  assert.ok(decodeUdpAnnounceResponse(b, 4).peers.length <= 3); // entries with port 0 are dropped
  const v4 = encodeUdpAnnounceResponse({ transactionId: 1, interval: 120, leechers: 1, seeders: 2, peers }, 4);
  assert.equal(v4.length, 26);
  throwsProtocol(() => decodeUdpAnnounceResponse(v4, 6));
});

test('length and action checks', () => {
  const connect = encodeUdpConnectRequest({ transactionId: 1 });
  throwsProtocol(() => decodeUdpConnectRequest(connect.subarray(0, 15)));
  const badMagic = Buffer.from(connect); badMagic[0] = 1;
  throwsProtocol(() => decodeUdpConnectRequest(badMagic));
  const ann = encodeUdpAnnounceRequest({ connectionId: 1n, transactionId: 2, infoHash: Buffer.alloc(20), peerId: Buffer.alloc(20),
    downloaded: 0n, left: 0n, uploaded: 0n, event: '', ip: 0, key: 0, numWant: -1, port: 1 });
  throwsProtocol(() => decodeUdpAnnounceRequest(ann.subarray(0, 97)));
  const badEvent = Buffer.from(ann); badEvent.writeUInt32BE(4, 80);
  throwsProtocol(() => decodeUdpAnnounceRequest(badEvent));
  throwsProtocol(() => decodeUdpScrapeRequest(ann)); // wrong action and length
  const scrape = encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: [Buffer.alloc(20)] });
  throwsProtocol(() => decodeUdpScrapeRequest(scrape.subarray(0, 35)));
  throwsProtocol(() => decodeUdpScrapeRequest(Buffer.concat([scrape, Buffer.alloc(1)])));
  throwsProtocol(() => decodeUdpScrapeRequest(scrape.subarray(0, 16)));
  throwsProtocol(() => decodeUdpConnectResponse(Buffer.alloc(15)));
  throwsProtocol(() => decodeUdpConnectResponse(encodeUdpErrorResponse({ transactionId: 1, message: 'abcdefgh' })));
  const annRes = encodeUdpAnnounceResponse({ transactionId: 1, interval: 1, leechers: 0, seeders: 0, peers: [] }, 4);
  throwsProtocol(() => decodeUdpAnnounceResponse(Buffer.concat([annRes, Buffer.alloc(5)]), 4));
  throwsProtocol(() => decodeUdpAnnounceResponse(Buffer.concat([annRes, Buffer.alloc(6)]), 6));
  throwsProtocol(() => decodeUdpScrapeResponse(Buffer.concat([encodeUdpScrapeResponse({ transactionId: 1, files: [] }), Buffer.alloc(11)])));
  throwsProtocol(() => decodeUdpErrorResponse(Buffer.alloc(7)));
  throwsProtocol(() => decodeUdpResponse(Buffer.from('0000000900000001', 'hex'), 4));
  assert.throws(() => encodeUdpScrapeRequest({ connectionId: 1n, transactionId: 1, infoHashes: [] }), RangeError);
  assert.throws(() => encodeUdpConnectRequest({ transactionId: -1 }), RangeError);
});

test('property: random buffers into every decoder give a value or a PROTOCOL error, nothing else', () => {
  const decoders: Array<(b: Buffer) => unknown> = [
    decodeUdpConnectRequest, decodeUdpAnnounceRequest, decodeUdpScrapeRequest, decodeUdpConnectResponse,
    (b) => decodeUdpAnnounceResponse(b, 4), (b) => decodeUdpAnnounceResponse(b, 6), decodeUdpScrapeResponse,
    decodeUdpErrorResponse, (b) => decodeUdpResponse(b, 4), (b) => decodeUdpResponse(b, 6),
  ];
  // Random bytes, with the action field often set to a meaningful value.
  const packet = fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 4 }), fc.boolean()).map(([b, a, atZero]) => {
    const buf = Buffer.from(b);
    if (atZero && buf.length >= 4) buf.writeUInt32BE(a, 0);
    if (!atZero && buf.length >= 12) buf.writeUInt32BE(a, 8);
    return buf;
  });
  fc.assert(fc.property(packet, (buf) => {
    for (const d of decoders) {
      try { d(buf); } catch (e) { assert.ok(isBtError(e, 'PROTOCOL'), String(e)); }
    }
  }), { numRuns: 1000 });
});

test('ConnectionIds: bound to (ip, port), valid 2–4 minutes, top bit set, never the magic', () => {
  const clock = { t: 10 * 120_000 + 5 };
  const ids = new ConnectionIds(Buffer.alloc(32, 1), () => clock.t);
  const id = ids.issue('127.0.0.1', 5000);
  assert.ok(id >= 0x8000000000000000n);
  assert.notEqual(id, UDP_PROTOCOL_ID);
  assert.ok(ids.check(id, '127.0.0.1', 5000));
  assert.ok(ids.check(id, '::ffff:127.0.0.1', 5000), 'mapped address is the same source');
  assert.ok(!ids.check(id, '127.0.0.1', 5001));
  assert.ok(!ids.check(id, '127.0.0.2', 5000));
  assert.ok(!ids.check(id ^ 1n, '127.0.0.1', 5000));
  assert.ok(!ids.check(-1n, '127.0.0.1', 5000));
  assert.ok(!ids.check(1n << 64n, '127.0.0.1', 5000));
  assert.ok(!new ConnectionIds(Buffer.alloc(32, 2), () => clock.t).check(id, '127.0.0.1', 5000), 'other secret');
  clock.t += 120_000 + 119_000; // next slot, almost over: still valid (issued ~4 min ago)
  assert.ok(ids.check(id, '127.0.0.1', 5000));
  clock.t += 1_000; // two slots later: stale
  assert.ok(!ids.check(id, '127.0.0.1', 5000));
  assert.throws(() => new ConnectionIds(Buffer.alloc(8), () => 0), RangeError);
  fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.nat(), (ip, port, t) => {
    clock.t = t;
    const i = ids.issue(ip, port);
    assert.ok(i >= 0x8000000000000000n && ids.check(i, ip, port));
  }), { numRuns: 200 });
});

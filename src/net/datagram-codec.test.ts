/**
 * The session's datagram classifier (issue 10, item 6): real packet shapes of every protocol that shares the UDP
 * port, and the disjointness the one-port design depends on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encode } from '../bencode/index.js';
import {
  ConnectionIds, encodeUdpAnnounceRequest, encodeUdpAnnounceResponse, encodeUdpConnectRequest, encodeUdpConnectResponse,
  encodeUdpErrorResponse, encodeUdpScrapeRequest, encodeUdpScrapeResponse, isUdpTrackerRequest,
} from '../tracker/udp-codec.js';
import { classifyDatagram, isKrpcPacket, isUtpPacket } from './datagram-codec.js';

const IH = Buffer.alloc(20, 7);
const none = (): boolean => false;
const pending = (...ids: number[]) => (id: number): boolean => ids.includes(id);

/** A BEP 29 header: type, version, extension 0, connection id, timestamps, window, seq/ack numbers. */
function utpHeader(type: number, version = 1, extra = 0): Buffer {
  const b = Buffer.alloc(20 + extra);
  b[0] = (type << 4) | version;
  b.writeUInt16BE(0x1234, 2);          // connection_id
  b.writeUInt32BE(0xdeadbeef, 4);      // timestamp_microseconds
  b.writeUInt32BE(1000, 8);            // timestamp_difference_microseconds
  b.writeUInt32BE(1024 * 1024, 12);    // wnd_size
  b.writeUInt16BE(1, 16);              // seq_nr
  b.writeUInt16BE(0, 18);              // ack_nr
  return b;
}

/** A KRPC ping query (BEP 5). */
const krpcPing = encode({ a: { id: Buffer.alloc(20, 1) }, q: 'ping', t: 'aa', y: 'q' });
const krpcReply = encode({ r: { id: Buffer.alloc(20, 2) }, t: 'aa', y: 'r' });

test('a BEP 15 connect request (protocol id 0x41727101980) goes to the embedded tracker', () => {
  const req = encodeUdpConnectRequest({ transactionId: 0x01020304 });
  assert.equal(req.readBigUInt64BE(0), 0x41727101980n);
  assert.equal(classifyDatagram(req, none), 'tracker-request');
  // Even if its bytes 4..8 (the low half of the protocol id) happened to be one of our pending ids, it is a request
  // only by shape when the client refuses it: the endpoint classifies again with `none` (see udp-endpoint.test.ts).
  assert.equal(classifyDatagram(req, pending(0x27101980)), 'tracker-response');
});

test('announce and scrape requests carrying a connection id the tracker issued go to the embedded tracker', () => {
  const ids = new ConnectionIds(Buffer.alloc(32, 9), () => 1_700_000_000_000);
  const cid = ids.issue('127.0.0.1', 6881);
  const announce = encodeUdpAnnounceRequest({
    connectionId: cid, transactionId: 5, infoHash: IH, peerId: Buffer.alloc(20, 1), downloaded: 0n, left: 10n, uploaded: 0n,
    event: 'started', ip: 0, key: 1, numWant: -1, port: 6881,
  });
  const scrape = encodeUdpScrapeRequest({ connectionId: cid, transactionId: 6, infoHashes: [IH] });
  assert.equal(classifyDatagram(announce, none), 'tracker-request');
  assert.equal(classifyDatagram(scrape, none), 'tracker-request');
  // An announce with an id that is not one of ours (top bit clear) is not taken for a tracker request.
  const foreign = Buffer.from(announce); foreign[0] = 0x12;
  assert.equal(classifyDatagram(foreign, none), 'unknown');
});

test('tracker responses are matched by their pending transaction id, and only then', () => {
  const responses = [
    encodeUdpConnectResponse({ transactionId: 77, connectionId: 0x8000000000000123n }),
    encodeUdpAnnounceResponse({ transactionId: 77, interval: 1800, leechers: 1, seeders: 2, peers: [{ host: '10.0.0.1', port: 6881 }] }, 4),
    encodeUdpScrapeResponse({ transactionId: 77, files: [{ seeders: 1, completed: 2, leechers: 3 }] }),
    encodeUdpErrorResponse({ transactionId: 77, message: 'go away' }),
  ];
  for (const r of responses) {
    assert.equal(classifyDatagram(r, pending(77)), 'tracker-response');
    assert.equal(classifyDatagram(r, pending(78)), 'unknown', 'an unexpected response is nobody\'s');
  }
  assert.equal(classifyDatagram(Buffer.alloc(7), () => true), 'unknown', 'too short to carry a transaction id');
});

test('uTP headers (BEP 29): types 0..4 with version 1 have the uTP slot; other versions and short packets do not', () => {
  for (let type = 0; type <= 4; type++) {
    assert.equal(classifyDatagram(utpHeader(type), none), 'utp', `type ${type}`);
    assert.equal(classifyDatagram(utpHeader(type, 1, 1400), none), 'utp', `type ${type} with payload`);
  }
  assert.equal(classifyDatagram(utpHeader(5), none), 'unknown', 'type 5 does not exist');
  assert.equal(classifyDatagram(utpHeader(4, 0), none), 'unknown', 'version 0 is the old, different header');
  assert.equal(classifyDatagram(utpHeader(4, 2), none), 'unknown');
  assert.equal(classifyDatagram(utpHeader(4).subarray(0, 19), none), 'unknown', 'shorter than the header');
});

test('KRPC messages (BEP 5, bencoded dictionaries) have the DHT slot', () => {
  assert.equal(classifyDatagram(krpcPing, none), 'dht');
  assert.equal(classifyDatagram(krpcReply, none), 'dht');
  assert.equal(classifyDatagram(Buffer.alloc(0), none), 'unknown');
  assert.equal(classifyDatagram(Buffer.from('l4:spame'), none), 'unknown');
});

test('the shape classes are disjoint and classification never throws (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, id) => {
    const msg = Buffer.from(bytes);
    const hits = [isUdpTrackerRequest(msg), isUtpPacket(msg), isKrpcPacket(msg)].filter(Boolean).length;
    assert.ok(hits <= 1, `${msg.toString('hex')} matches ${hits} classes`);
    const kind = classifyDatagram(msg, pending(id));
    assert.ok(['tracker-response', 'tracker-request', 'utp', 'dht', 'unknown'].includes(kind));
  }), { numRuns: 3000 });
  // The fixed shapes of each protocol, checked against the other classes.
  const shapes = [encodeUdpConnectRequest({ transactionId: 1 }), utpHeader(0), utpHeader(4), krpcPing];
  for (const s of shapes) {
    assert.equal([isUdpTrackerRequest(s), isUtpPacket(s), isKrpcPacket(s)].filter(Boolean).length, 1, s.toString('hex'));
  }
});

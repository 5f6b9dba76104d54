/**
 * The session's one UDP endpoint (issue 10, item 6): each datagram goes to exactly one owner, by the classifier of
 * datagram-codec.ts; nothing an owner throws escapes. Datagrams are handed in directly (no socket is bound).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../bencode/index.js';
import { encodeUdpConnectRequest, encodeUdpConnectResponse } from '../tracker/udp-codec.js';
import { UdpEndpoint, type DatagramHandler } from './udp-endpoint.js';

const FROM = { address: '127.0.0.1', port: 40000 };

function setup(pendingIds: number[] = []): { ep: UdpEndpoint; got: string[]; logs: string[] } {
  const got: string[] = [];
  const logs: string[] = [];
  const ep = new UdpEndpoint({ isTrackerTransaction: (id) => pendingIds.includes(id), log: (m) => logs.push(m) });
  return { ep, got, logs };
}
const record = (got: string[], name: string, consume = true): DatagramHandler => () => { got.push(name); return consume; };

function utp(): Buffer { const b = Buffer.alloc(20); b[0] = 0x41; return b; }

test('each datagram goes to its one owner; datagrams with no owner are counted as dropped', () => {
  const { ep, got } = setup([9]);
  ep.setOwner('tracker-response', record(got, 'client'));
  ep.setOwner('tracker-request', record(got, 'server'));
  ep.onDatagram(encodeUdpConnectResponse({ transactionId: 9, connectionId: 1n }), FROM);
  ep.onDatagram(encodeUdpConnectRequest({ transactionId: 9 }), FROM);
  assert.deepEqual(got, ['client', 'server']);
  assert.equal(ep.stats.dropped, 0);
  // No uTP or DHT owner yet: their packets are dropped and counted, as are unknown ones.
  ep.onDatagram(utp(), FROM);
  ep.onDatagram(encode({ q: 'ping', t: 'aa', y: 'q' }), FROM);
  ep.onDatagram(Buffer.from('hello'), FROM);
  ep.onDatagram(encodeUdpConnectResponse({ transactionId: 10, connectionId: 1n }), FROM); // not pending
  assert.equal(ep.stats.dropped, 4);
  // The slots take owners when those protocols exist.
  ep.setOwner('utp', record(got, 'utp'));
  ep.setOwner('dht', record(got, 'dht'));
  ep.onDatagram(utp(), FROM);
  ep.onDatagram(encode({ q: 'ping', t: 'aa', y: 'q' }), FROM);
  assert.deepEqual(got, ['client', 'server', 'utp', 'dht']);
  assert.equal(ep.stats.dropped, 4);
});

test('a pending id the tracker client refuses (wrong source) is classified again by shape', () => {
  // A connect request whose bytes 4..8 equal a pending transaction id: the client refuses it (it did not come from
  // the tracker we asked), so it goes to the embedded tracker, as before the endpoint existed.
  const req = encodeUdpConnectRequest({ transactionId: 1 });
  const { ep, got } = setup([req.readUInt32BE(4)]);
  ep.setOwner('tracker-response', record(got, 'client', false));
  ep.setOwner('tracker-request', record(got, 'server'));
  ep.onDatagram(req, FROM);
  assert.deepEqual(got, ['client', 'server']);
  assert.equal(ep.stats.dropped, 0);
  // A refused response that is no request is dropped.
  ep.onDatagram(encodeUdpConnectResponse({ transactionId: req.readUInt32BE(4), connectionId: 1n }), FROM);
  assert.equal(ep.stats.dropped, 1);
});

test('an owner that throws is contained: logged with the source, counted, and the endpoint goes on', async () => {
  const { ep, got, logs } = setup();
  ep.setOwner('tracker-request', () => { throw new Error('boom'); });
  ep.setOwner('utp', record(got, 'utp'));
  ep.onDatagram(encodeUdpConnectRequest({ transactionId: 1 }), FROM);
  ep.onDatagram(utp(), FROM);
  assert.equal(ep.stats.dropped, 1);
  assert.deepEqual(got, ['utp']);
  assert.ok(logs.some((l) => l.includes('127.0.0.1:40000') && l.includes('boom')), logs.join('\n'));
  assert.throws(() => ep.send(Buffer.alloc(1), 1, '127.0.0.1'), /UDP socket closed/);
  assert.equal(ep.bound, false);
  await ep.close();
});

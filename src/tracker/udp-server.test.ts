// UDP tracker server: connect/announce/scrape through handlePacket, every rejection path with its counter, the
// amplification rule (an unverified source never gets more bytes than it sent), IPv6 entries, the demux classifier,
// and one exchange over a real dgram socket on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import fc from 'fast-check';
import { TrackerSwarms } from './swarm.js';
import { UdpTrackerServer, type UdpSource } from './udp-server.js';
import { isUdpTrackerRequest } from './udp-codec.js';
import {
  UDP_PROTOCOL_ID, decodeUdpAnnounceResponse, decodeUdpConnectResponse, decodeUdpErrorResponse, decodeUdpResponse,
  decodeUdpScrapeResponse, encodeUdpAnnounceRequest, encodeUdpConnectRequest, encodeUdpScrapeRequest,
  type UdpAnnounceRequest,
} from './udp-codec.js';

const IH = Buffer.alloc(20, 0x11);
const IH_HEX = IH.toString('hex');
const pid = (n: number): Buffer => Buffer.from(`-XX0001-${String(n).padStart(12, '0')}`, 'latin1');

function setup(opts: { localAddress?: string } = {}): {
  server: UdpTrackerServer; swarms: TrackerSwarms; clock: { t: number };
  ask: (msg: Buffer, src?: UdpSource) => Buffer[];
} {
  const clock = { t: 50_000_000 };
  const swarms = new TrackerSwarms({ now: () => clock.t, isKnown: (h) => h === IH_HEX });
  const server = new UdpTrackerServer(swarms, { now: () => clock.t, secret: Buffer.alloc(32, 9), ...opts });
  const ask = (msg: Buffer, src: UdpSource = { address: '127.0.0.1', port: 40000, family: 'IPv4' }): Buffer[] => {
    const out: Buffer[] = [];
    server.handlePacket(msg, src, (b) => out.push(b));
    return out;
  };
  return { server, swarms, clock, ask };
}

function connect(ask: (m: Buffer, s?: UdpSource) => Buffer[], src?: UdpSource): bigint {
  const [reply] = ask(encodeUdpConnectRequest({ transactionId: 77 }), src);
  const r = decodeUdpConnectResponse(reply!);
  assert.equal(r.transactionId, 77);
  return r.connectionId;
}

function announceReq(connectionId: bigint, over: Partial<UdpAnnounceRequest> = {}): Buffer {
  return encodeUdpAnnounceRequest({
    connectionId, transactionId: 5, infoHash: IH, peerId: pid(1), downloaded: 0n, left: 10n, uploaded: 0n,
    event: 'started', ip: 0, key: 1, numWant: -1, port: 6881, ...over,
  });
}

test('connect, then announce: peers come back; the ip field is ignored', () => {
  const { ask, server, swarms } = setup();
  const a = { address: '127.0.0.1', port: 40001 };
  const b = { address: '127.0.0.1', port: 40002 };
  const idA = connect(ask, a);
  const idB = connect(ask, b);
  let [reply] = ask(announceReq(idA, { port: 7001, ip: 0x08080808 }), a);
  let r = decodeUdpAnnounceResponse(reply!, 4);
  assert.deepEqual([r.transactionId, r.interval, r.leechers, r.seeders, r.peers.length], [5, 120, 1, 0, 0]);
  [reply] = ask(announceReq(idB, { port: 7002, peerId: pid(2), left: 0n }), b);
  r = decodeUdpAnnounceResponse(reply!, 4);
  assert.deepEqual(r.peers, [{ host: '127.0.0.1', port: 7001 }], 'recorded at the source address, not 8.8.8.8');
  assert.deepEqual([r.leechers, r.seeders], [1, 1]);
  assert.equal(swarms.peerCount(IH_HEX), 2);
  assert.deepEqual([server.stats.connects, server.stats.announces], [2, 2]);
});

test('scrape with a valid id; unknown info-hashes give zeros; at most 74 answered', () => {
  const { ask, server } = setup();
  const id = connect(ask);
  ask(announceReq(id, { left: 0n, event: 'completed' }));
  const hashes = [IH, Buffer.alloc(20, 0x22), ...Array.from({ length: 80 }, (_, i) => Buffer.alloc(20, i + 0x30))];
  const [reply] = ask(encodeUdpScrapeRequest({ connectionId: id, transactionId: 9, infoHashes: hashes }));
  const r = decodeUdpScrapeResponse(reply!);
  assert.equal(r.transactionId, 9);
  assert.equal(r.files.length, 74);
  assert.deepEqual(r.files[0], { seeders: 1, completed: 1, leechers: 0 });
  assert.deepEqual(r.files[1], { seeders: 0, completed: 0, leechers: 0 });
  assert.equal(server.stats.scrapes, 1);
});

test('rejections: short, bad magic, wrong action, wrong or stale connection id, malformed, port 0, untracked', () => {
  const { ask, server, clock } = setup();
  const src = { address: '127.0.0.1', port: 40000 };
  assert.deepEqual(ask(Buffer.alloc(15)), []);
  const badMagic = encodeUdpConnectRequest({ transactionId: 1 }); badMagic.writeBigUInt64BE(123n, 0);
  assert.deepEqual(ask(badMagic), []);
  const action5 = encodeUdpConnectRequest({ transactionId: 1 }); action5.writeUInt32BE(5, 8);
  assert.deepEqual(ask(action5), []);
  const errAction = encodeUdpConnectRequest({ transactionId: 1 }); errAction.writeUInt32BE(3, 8);
  assert.deepEqual(ask(errAction), []);

  // Wrong id: a short error (≤ request size) for a full-size announce.
  let replies = ask(announceReq(0x8000000000000123n));
  assert.equal(replies.length, 1);
  assert.ok(replies[0]!.length <= 98);
  assert.equal(decodeUdpErrorResponse(replies[0]!).message, 'bad connection id');
  // Another source's id is wrong for this one (port differs).
  const other = connect(ask, { address: '127.0.0.1', port: 40009 });
  replies = ask(announceReq(other), src);
  assert.equal(decodeUdpErrorResponse(replies[0]!).transactionId, 5);
  // Magic constant as id (webtorrent's weakness) is refused.
  assert.equal(ask(announceReq(UDP_PROTOCOL_ID)).length, 1);
  // A 16-byte "announce" with a bad id: an error would be bigger than the request, so silence.
  const tiny = announceReq(0x8000000000000123n).subarray(0, 16);
  assert.deepEqual(ask(tiny), []);

  // Stale id: issued, then 4 minutes pass.
  const id = connect(ask, src);
  assert.equal(decodeUdpResponse(ask(announceReq(id), src)[0]!, 4).action, 'announce');
  clock.t += 240_000;
  assert.equal(decodeUdpResponse(ask(announceReq(id), src)[0]!, 4).action, 'error');
  const fresh = connect(ask, src);

  // Verified but malformed: too short announce, bad event, bad scrape length, port 0.
  assert.equal(decodeUdpErrorResponse(ask(announceReq(fresh).subarray(0, 60), src)[0]!).message, 'malformed announce');
  const badEvent = announceReq(fresh); badEvent.writeUInt32BE(9, 80);
  assert.match(decodeUdpErrorResponse(ask(badEvent, src)[0]!).message, /unknown event/);
  const scr = encodeUdpScrapeRequest({ connectionId: fresh, transactionId: 3, infoHashes: [IH] });
  assert.match(decodeUdpErrorResponse(ask(scr.subarray(0, 30), src)[0]!).message, /bad length/);
  assert.equal(decodeUdpErrorResponse(ask(announceReq(fresh, { port: 0 }), src)[0]!).message, 'invalid port');
  // Untracked torrent: the swarm's failure string comes back as an error.
  assert.equal(decodeUdpErrorResponse(ask(announceReq(fresh, { infoHash: Buffer.alloc(20, 0xee) }), src)[0]!).message,
    'torrent not tracked here');

  assert.deepEqual(server.stats.rejected, {
    short: 1, 'bad-magic': 1, 'bad-action': 2, 'bad-connection-id': 5, malformed: 3, 'bad-port': 1, refused: 1, error: 0,
  });
  assert.equal(server.stats.received, 18);
});

test('a throwing send is contained and counted', () => {
  const { server } = setup();
  server.handlePacket(encodeUdpConnectRequest({ transactionId: 1 }), { address: '127.0.0.1', port: 1 }, () => {
    throw new Error('socket closed');
  });
  assert.equal(server.stats.rejected.error, 1);
});

test('IPv6 sources get 18-byte entries with IPv6 peers only; mapped IPv4 sources are IPv4', () => {
  const { ask } = setup();
  const v6a = { address: '2001:db8::a', port: 1000, family: 'IPv6' };
  const v6b = { address: '2001:db8::b', port: 1000, family: 'IPv6' };
  const v4 = { address: '::ffff:10.0.0.1', port: 1000, family: 'IPv6' };
  ask(announceReq(connect(ask, v4), { port: 7000, peerId: pid(3) }), v4);
  ask(announceReq(connect(ask, v6a), { port: 7001 }), v6a);
  const reply = ask(announceReq(connect(ask, v6b), { port: 7002, peerId: pid(2) }), v6b)[0]!;
  assert.equal(reply.length, 20 + 18);
  assert.deepEqual(decodeUdpAnnounceResponse(reply, 6).peers, [{ host: '2001:db8::a', port: 7001 }]);
  const reply4 = ask(announceReq(connect(ask, v4), { port: 7000, peerId: pid(3) }), v4)[0]!;
  assert.equal(reply4.length, 20, 'no IPv4 peer but itself');
});

test('the session itself is listed through setSelf (loopback source, or the configured local address)', () => {
  const { ask, swarms } = setup();
  swarms.setSelf(IH_HEX, { port: 9000, peerId: pid(0), seed: true });
  const r = decodeUdpAnnounceResponse(ask(announceReq(connect(ask)))[0]!, 4);
  assert.deepEqual(r.peers, [{ host: '127.0.0.1', port: 9000 }]);
  assert.equal(r.seeders, 1);
  const remote = { address: '192.168.1.20', port: 5555 };
  // A remote source, socket bound to the wildcard: the session's address is unknown, so only the stored peer comes.
  assert.deepEqual(decodeUdpAnnounceResponse(ask(announceReq(connect(ask, remote), { peerId: pid(5) }), remote)[0]!, 4).peers,
    [{ host: '127.0.0.1', port: 6881 }]);
  const { ask: ask2, swarms: swarms2 } = setup({ localAddress: '192.168.1.2' });
  swarms2.setSelf(IH_HEX, { port: 9000, peerId: pid(0), seed: true });
  assert.deepEqual(decodeUdpAnnounceResponse(ask2(announceReq(connect(ask2, remote)), remote)[0]!, 4).peers,
    [{ host: '192.168.1.2', port: 9000 }]);
});

test('property: an unverified source never gets more bytes back than it sent', () => {
  const { server } = setup();
  const header = fc.tuple(fc.constantFrom(0n, UDP_PROTOCOL_ID, 0x8000000000000001n, 0xffffffffffffffffn),
    fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 200 }));
  const packet = fc.oneof(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    header.map(([cid, action, rest]) => {
      const b = Buffer.alloc(16 + rest.length);
      b.writeBigUInt64BE(cid, 0);
      b.writeUInt32BE(action, 8);
      Buffer.from(rest).copy(b, 16);
      return b;
    }));
  fc.assert(fc.property(packet, fc.integer({ min: 1, max: 65535 }), (msg, port) => {
    const replies: Buffer[] = [];
    server.handlePacket(msg, { address: '10.1.2.3', port }, (b) => replies.push(b));
    assert.ok(replies.length <= 1);
    for (const r of replies) assert.ok(r.length <= msg.length, `${r.length} > ${msg.length}`);
  }), { numRuns: 2000 });
  assert.equal(server.stats.rejected.error, 0);
});

test('isUdpTrackerRequest: connect with magic, announce/scrape with our ids; not KRPC, not uTP', () => {
  const { ask } = setup();
  const id = connect(ask);
  assert.ok(isUdpTrackerRequest(encodeUdpConnectRequest({ transactionId: 1 })));
  assert.ok(isUdpTrackerRequest(announceReq(id)));
  assert.ok(isUdpTrackerRequest(encodeUdpScrapeRequest({ connectionId: id, transactionId: 1, infoHashes: [IH] })));
  assert.ok(!isUdpTrackerRequest(Buffer.from('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe')));
  const utp = Buffer.alloc(20); utp[0] = 0x41; utp.writeUInt32BE(1, 8); // ST_SYN v1 with timestamp_diff 1
  assert.ok(!isUdpTrackerRequest(utp));
  assert.ok(!isUdpTrackerRequest(Buffer.alloc(15)));
  const noMagic = encodeUdpConnectRequest({ transactionId: 1 }); noMagic[3] = 9;
  assert.ok(!isUdpTrackerRequest(noMagic));
});

test('over a real dgram socket on 127.0.0.1', async () => {
  const clock = { t: Date.now() };
  const swarms = new TrackerSwarms({ now: () => clock.t, isKnown: (h) => h === IH_HEX });
  const server = new UdpTrackerServer(swarms, { now: () => clock.t });
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => server.handlePacket(msg, rinfo, (b) => sock.send(b, rinfo.port, rinfo.address)));
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const port = sock.address().port;
  const client = dgram.createSocket('udp4');
  client.bind(0, '127.0.0.1');
  await once(client, 'listening');
  try {
    const roundTrip = async (b: Buffer): Promise<Buffer> => {
      const p = once(client, 'message');
      client.send(b, port, '127.0.0.1');
      return ((await p) as [Buffer])[0];
    };
    const { connectionId } = decodeUdpConnectResponse(await roundTrip(encodeUdpConnectRequest({ transactionId: 42 })));
    const r = decodeUdpAnnounceResponse(await roundTrip(announceReq(connectionId)), 4);
    assert.equal(r.leechers, 1);
    assert.equal(swarms.peerCount(IH_HEX), 1);
  } finally {
    client.close();
    sock.close();
  }
});

// DhtNode against hostile input on an in-memory network (virtual clock): each case is survived (nothing thrown, the
// input dropped and counted) and bounded (stores, table, outstanding queries, timers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readKrpcCorpus } from '../../../test/fixtures/make-krpc-corpus.js';
import { DhtMemoryNet } from '../../../test/support/dht-memory-net.js';
import { MAX_OUTSTANDING, MAX_PINGED, type DhtNode } from './dht-node.js';
import { decodeKrpc, encodeKrpc } from './krpc.js';
import {
  MAX_KRPC_BYTES, MAX_STORED_TORRENTS, RATE_BLOCK_MS, TOKEN_ROTATE_MS,
  type KrpcMessage, type KrpcQuery, type KrpcResponse, type NodeAddress, type NodeContact,
} from './types.js';

const at = (host: string, port: number): NodeAddress => ({ host, port });
const key = (a: NodeAddress): string => `${a.host}:${a.port}`;
const id = (n: number): Buffer => { const b = Buffer.alloc(20); b.writeUInt32BE(n >>> 0, 16); b[0] = n & 0xff; return b; };
const tid = (n: number): Buffer => Buffer.from([n >> 8 & 0xff, n & 0xff]);

/** A raw KRPC endpoint on the memory network: sends what a test writes, keeps what it receives. */
class RawPeer {
  readonly inbox: KrpcMessage[] = [];
  readonly sizes: number[] = [];
  constructor(readonly net: DhtMemoryNet, readonly addr: NodeAddress, readonly peerId = id(0xbad)) {
    net.taps.set(key(addr), (buf) => { this.sizes.push(buf.length); this.inbox.push(decodeKrpc(buf)); });
  }
  send(to: NodeAddress, msg: KrpcMessage | Buffer): number {
    const buf = Buffer.isBuffer(msg) ? msg : encodeKrpc(msg);
    this.net.deliver(this.addr, to, buf);
    return buf.length;
  }
  query(to: NodeAddress, q: string, args: Partial<KrpcQuery> = {}, t = tid(1)): number {
    return this.send(to, { ...args, y: 'q', t, q, id: this.peerId });
  }
  last(): KrpcMessage | undefined { return this.inbox[this.inbox.length - 1]; }
  /** Answers every ping sent to it (so the node verifies it). */
  answerPings(): void {
    this.net.taps.set(key(this.addr), (buf, from) => {
      this.sizes.push(buf.length);
      const m = decodeKrpc(buf);
      this.inbox.push(m);
      if (m.y === 'q' && m.q === 'ping') this.send(from, { y: 'r', t: m.t, id: this.peerId });
    });
  }
}

/** A single node under test, plus `n` helper nodes that fill its table (private network on 127.0.0.1). */
async function target(opts: { helpers?: number; privateNetwork?: boolean; host?: string } = {}): Promise<{ net: DhtMemoryNet; node: DhtNode; addr: NodeAddress }> {
  const net = new DhtMemoryNet();
  const privateNetwork = opts.privateNetwork ?? true;
  const addr = at(opts.host ?? '127.0.0.1', 6000);
  const node = net.add(addr, { privateNetwork });
  node.start();
  for (let i = 0; i < (opts.helpers ?? 0); i++) {
    const h = net.add(at(privateNetwork ? '127.0.0.1' : `198.51.100.${i + 1}`, privateNetwork ? 6100 + i : 6000),
      { privateNetwork, bootstrap: [key(addr)] });
    h.start();
    await net.advance(50);
  }
  await net.advance(1_000);
  return { net, node, addr };
}

test('garbage bytes: never thrown, dropped as malformed, nothing grows (property)', async () => {
  const { net, node } = await target({ helpers: 3 });
  const before = node.stats();
  let sent = 0;
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 1, max: 65535 }), (bytes, port) => {
    const buf = Buffer.from(bytes);
    const taken = node.handleDatagram(buf, { address: '127.0.0.2', port });
    assert.equal(taken, buf.length > 0 && buf[0] === 0x64);
    if (taken) sent++;
  }), { numRuns: 500, seed: 42 });
  // Bencoded-looking garbage too: dictionaries with wrong types.
  for (const s of ['de', 'd1:y1:qe', 'd1:t2:ab1:y1:qe', 'd1:t2:ab1:y1:q1:q4:ping1:ad2:id3:abcee', 'd1:t2:ab1:y1:r1:rdee',
    'd1:t2:ab1:y1:e1:eli201eee', 'd1:t0:1:y1:qe', 'd' + '1:ad'.repeat(20) + 'e'.repeat(21), 'd1:t2:ab1:y1:x']) {
    assert.equal(node.handleDatagram(Buffer.from(s), { address: '127.0.0.2', port: 9 }), true);
    sent++;
  }
  const after = node.stats();
  const dropped = Object.values(after.dropped).reduce((a, b) => a + b, 0);
  assert.ok(dropped >= sent - 2, `dropped ${dropped} of ${sent}`); // 'd1:t2:ab1:y1:e...' is a valid error: unknown transaction
  assert.equal(after.dropped.internal, undefined, 'no internal error');
  assert.equal(after.nodes, before.nodes);
  assert.ok(net.clock.pending < 20, 'no timers piled up');
  net.closeAll();
});

test('each file of the KRPC fuzz corpus (test/fixtures/krpc/): bad ones dropped and counted, queries answered', async () => {
  const corpus = readKrpcCorpus();
  assert.ok(corpus.length >= 50);
  const { net, node } = await target({ helpers: 2 });
  const raw = new RawPeer(net, at('127.0.0.3', 4000));
  const malformed = (): number => (node.stats().dropped.malformed ?? 0) + (node.stats().dropped.oversized ?? 0);
  for (const e of corpus) {
    const before = malformed();
    const answersBefore = raw.inbox.filter((m) => m.y !== 'q').length;
    const taken = node.handleDatagram(e.bytes, { address: raw.addr.host, port: raw.addr.port });
    await net.advance(20);
    if (!e.ok) {
      assert.equal(malformed() - before, taken ? 1 : 0, `${e.name}: dropped and counted`);
      assert.equal(taken, e.bytes.length > 0 && e.bytes[0] === 0x64, `${e.name}: taken when it looks like KRPC`);
      continue;
    }
    assert.ok(taken, e.name);
    assert.equal(malformed(), before, `${e.name}: not malformed`);
    const m = decodeKrpc(e.bytes);
    if (m.y === 'q') assert.equal(raw.inbox.filter((x) => x.y !== 'q').length, answersBefore + 1, `${e.name}: answered`);
  }
  assert.equal(node.stats().dropped.internal, undefined);
  assert.equal(node.stats().phase, 'ready');
  net.closeAll();
});

test('oversized datagrams are dropped unread and counted', async () => {
  const { net, node, addr } = await target({});
  const raw = new RawPeer(net, at('127.0.0.2', 5000));
  const big = Buffer.alloc(MAX_KRPC_BYTES + 1, 0x30);
  big[0] = 0x64;
  raw.send(addr, big);
  raw.send(addr, Buffer.concat([Buffer.from('d1:ad2:id20:'), id(1), Buffer.from('e1:q4:ping1:t2:aa1:y1:q'), Buffer.alloc(1500, 0x65)]));
  await net.advance(20);
  assert.equal(node.stats().dropped.oversized, 2);
  assert.equal(raw.inbox.length, 0, 'no answer');
  net.closeAll();
});

test('tokens: forged and expired ones are refused (error 203, nothing stored), a fresh one is accepted', async () => {
  const { net, node, addr } = await target({});
  const raw = new RawPeer(net, at('127.0.0.2', 5000));
  const ih = Buffer.alloc(20, 7);
  raw.query(addr, 'get_peers', { infoHash: ih });
  await net.advance(20);
  const r = raw.last();
  assert.ok(r && r.y === 'r' && r.token);
  const token = r.token;

  raw.query(addr, 'announce_peer', { infoHash: ih, port: 1234, token: Buffer.from('forged-token') }, tid(2));
  await net.advance(20);
  const e = raw.last();
  assert.ok(e && e.y === 'e' && e.code === 203);
  assert.equal(node.stats().storedPeers, 0);
  assert.equal(node.stats().dropped['bad-token'], 1);

  // The token from another IP is refused too (bound to the requester's IP).
  const other = new RawPeer(net, at('127.0.0.9', 5000));
  other.query(addr, 'announce_peer', { infoHash: ih, port: 1234, token }, tid(3));
  await net.advance(20);
  assert.ok(other.last()?.y === 'e');
  assert.equal(node.stats().storedPeers, 0);

  raw.query(addr, 'announce_peer', { infoHash: ih, port: 1234, token }, tid(4));
  await net.advance(20);
  assert.equal(raw.last()?.y, 'r');
  assert.equal(node.stats().storedPeers, 1);

  // Two rotations later the token is expired.
  await net.advance(2 * TOKEN_ROTATE_MS + 1_000, 1_000);
  raw.query(addr, 'announce_peer', { infoHash: Buffer.alloc(20, 8), port: 1234, token }, tid(5));
  await net.advance(20);
  const late = raw.last();
  assert.ok(late && late.y === 'e' && late.code === 203);
  assert.equal(node.stats().dropped['bad-token'], 3);
  net.closeAll();
});

test('announce flood with distinct info-hashes: the store stays within MAX_STORED_TORRENTS', async () => {
  const { net, node, addr } = await target({});
  const raw = new RawPeer(net, at('127.0.0.2', 5000));
  raw.query(addr, 'get_peers', { infoHash: Buffer.alloc(20, 1) });
  await net.advance(20);
  const r = raw.last();
  assert.ok(r && r.y === 'r' && r.token);
  const total = MAX_STORED_TORRENTS + 300;
  for (let i = 0; i < total; i++) {
    // Many source ports on one IP (a private network keys the rate limit by IP:port), one token for the IP.
    const src = new RawPeer(net, at('127.0.0.2', 10_000 + i));
    const ih = Buffer.alloc(20);
    ih.writeUInt32BE(i, 0);
    src.query(addr, 'announce_peer', { infoHash: ih, port: 1000 + (i % 1000), token: r.token });
    if (i % 200 === 0) await net.advance(10);
  }
  await net.advance(100);
  const st = node.stats();
  assert.equal(st.storedTorrents, MAX_STORED_TORRENTS);
  assert.equal(st.storedPeers, MAX_STORED_TORRENTS);
  net.closeAll();
});

test('a flood of distinct node ids: only queriers that answer our ping enter the table; pings and timers bounded', async () => {
  const { net, node, addr } = await target({});
  const flood = 3_000;
  for (let i = 0; i < flood; i++) {
    const src = new RawPeer(net, at('127.0.0.2', 20_000 + i), id(i + 1));
    src.query(addr, 'ping');
    if (i % 100 === 0) await net.advance(5);
  }
  await net.advance(50);
  assert.ok(net.clock.pending <= MAX_OUTSTANDING + 10, `${net.clock.pending} timers`);
  await net.advance(10_000, 100);
  let st = node.stats();
  assert.equal(st.nodes, 0, 'nobody answered our pings: nobody is in the table');
  assert.ok(st.queriesOut <= flood, 'at most one ping per querier');
  assert.ok(st.queriesOut >= 200, 'queriers are pinged (half the outstanding slots)');
  assert.ok(st.queriesOut <= MAX_OUTSTANDING / 2 + MAX_PINGED, 'pings are bounded');

  // Queriers that do answer get in, as many as the table holds.
  for (let i = 0; i < 200; i++) {
    const src = new RawPeer(net, at('127.0.0.3', 30_000 + i), id(0x10000 + i * 7919));
    src.answerPings();
    src.query(addr, 'ping');
  }
  await net.advance(10_000, 100);
  st = node.stats();
  assert.ok(st.nodes > 0, 'answering queriers were verified');
  assert.ok(st.nodes <= 160 * 8);
  net.closeAll();
});

test('a response from the wrong address is dropped; duplicate and unknown transaction ids too', async () => {
  const net = new DhtMemoryNet();
  net.record = true;
  const fake = new RawPeer(net, at('127.0.0.5', 7000), id(5));
  fake.answerPings();
  const node = net.add(at('127.0.0.1', 6000), { privateNetwork: true });
  node.start();
  node.addNode(fake.addr);
  await net.advance(1);
  const ping = net.sent.find((d) => d.from.port === 6000);
  assert.ok(ping);
  const q = decodeKrpc(ping.buf);
  // An attacker on another port answers first with the right transaction id.
  const attacker = new RawPeer(net, at('127.0.0.6', 7000), id(6));
  attacker.send(at('127.0.0.1', 6000), { y: 'r', t: q.t, id: id(6) });
  await net.advance(20);
  const st = node.stats();
  assert.equal(st.dropped['wrong-source'], 1);
  assert.equal(st.nodes, 1, 'the real answer was still taken');
  // Its duplicate, and an unknown transaction id.
  fake.send(at('127.0.0.1', 6000), { y: 'r', t: q.t, id: id(5) });
  fake.send(at('127.0.0.1', 6000), { y: 'r', t: Buffer.from('zzz'), id: id(5) });
  fake.send(at('127.0.0.1', 6000), { y: 'e', t: tid(0xfffe), code: 201, message: 'x' });
  await net.advance(20);
  assert.equal(node.stats().dropped['unknown-transaction'], 3);
  net.closeAll();
});

test('rate limit: a source that floods is blocked, and unblocked after RATE_BLOCK_MS', async () => {
  const { net, node, addr } = await target({ privateNetwork: false, host: '198.51.100.200' });
  const raw = new RawPeer(net, at('203.0.113.7', 5000));
  for (let i = 0; i < 80; i++) raw.query(addr, 'ping', {}, tid(i));
  await net.advance(50);
  const answered = raw.inbox.filter((m) => m.y === 'r').length;
  assert.ok(answered >= 40 && answered <= 60, `${answered} answered`);
  assert.equal(node.stats().dropped['rate-limited'], 80 - answered);
  // Another port of the same IP is blocked too (public DHT: keyed by IP).
  const sibling = new RawPeer(net, at('203.0.113.7', 5001));
  sibling.query(addr, 'ping');
  await net.advance(50);
  assert.equal(sibling.inbox.filter((m) => m.y === 'r').length, 0);
  await net.advance(RATE_BLOCK_MS + 1_000, 1_000);
  raw.query(addr, 'ping', {}, tid(999));
  await net.advance(50);
  assert.equal(raw.last()?.y, 'r', 'unblocked');
  net.closeAll();
});

test('an unverified source never gets an answer larger than its request; a verified one gets all', async () => {
  const { net, node, addr } = await target({ helpers: 12 });
  assert.ok(node.stats().nodes >= 8);
  const raw = new RawPeer(net, at('127.0.0.2', 5000));
  const ih = Buffer.alloc(20, 3);
  const reqSizes: number[] = [];
  reqSizes.push(raw.query(addr, 'find_node', { target: ih }, tid(1)));
  reqSizes.push(raw.query(addr, 'get_peers', { infoHash: ih }, tid(2)));
  reqSizes.push(raw.query(addr, 'ping', {}, tid(3)));
  reqSizes.push(raw.query(addr, 'sample_infohashes', { target: ih }, tid(4)));
  await net.advance(20);
  const answers = raw.inbox.map((m, i) => ({ m, size: raw.sizes[i]! })).filter((x) => x.m.y !== 'q');
  assert.equal(answers.length, 4);
  for (const { m, size } of answers) {
    const req = reqSizes[m.t.readUInt16BE(0) - 1]!;
    assert.ok(size <= req, `answer ${size} > request ${req}`);
  }
  const gp = answers.find((x) => x.m.t.readUInt16BE(0) === 2)!.m;
  assert.ok(gp.y === 'r' && gp.token, 'get_peers keeps its token');

  // Once verified (it answered our ping), the full answer.
  raw.inbox.length = 0;
  raw.sizes.length = 0;
  raw.answerPings();
  raw.query(addr, 'ping', {}, tid(5));
  await net.advance(20_000, 100); // the once-a-minute ping memory: it was pinged at its first query, never answered
  await net.advance(60_000, 1_000);
  raw.query(addr, 'ping', {}, tid(6));
  await net.advance(50);
  raw.inbox.length = 0;
  raw.sizes.length = 0;
  const req = raw.query(addr, 'find_node', { target: ih }, tid(7));
  await net.advance(20);
  const full = raw.inbox.find((m) => m.y === 'r') as KrpcResponse | undefined;
  assert.ok(full);
  assert.equal(full.nodes?.length, 8);
  assert.ok(raw.sizes[raw.inbox.indexOf(full)]! > req);
  net.closeAll();
});

test('unknown query with target or info_hash is answered as find_node; other unknown ones with error 204', async () => {
  const { net, node, addr } = await target({ helpers: 3 });
  const raw = new RawPeer(net, at('127.0.0.2', 5000));
  raw.answerPings();
  raw.query(addr, 'ping', {}, tid(1));
  await net.advance(100);
  raw.inbox.length = 0;
  raw.query(addr, 'vote', { target: Buffer.alloc(20, 9) }, tid(2));
  raw.query(addr, 'scrape', { infoHash: Buffer.alloc(20, 9) }, tid(3));
  raw.query(addr, 'frobnicate', {}, tid(4));
  await net.advance(20);
  const byT = (n: number): KrpcMessage | undefined => raw.inbox.find((m) => m.y !== 'q' && m.t.readUInt16BE(0) === n);
  const a2 = byT(2);
  const a3 = byT(3);
  const a4 = byT(4);
  assert.ok(a2?.y === 'r' && (a2.nodes?.length ?? 0) > 0);
  assert.ok(a3?.y === 'r' && (a3.nodes?.length ?? 0) > 0);
  assert.ok(a4?.y === 'e' && a4.code === 204);
  assert.equal(node.stats().dropped.internal, undefined);
  net.closeAll();
});

test('a read-only querier (BEP 43 ro) is answered but never pinged nor inserted', async () => {
  const { net, node, addr } = await target({});
  const ro = new RawPeer(net, at('127.0.0.2', 5000), id(77));
  ro.answerPings();
  ro.send(addr, { y: 'q', t: tid(1), q: 'ping', id: id(77), readOnly: true });
  ro.send(addr, { y: 'q', t: tid(2), q: 'find_node', id: id(77), target: id(1), readOnly: true });
  await net.advance(1_000);
  assert.equal(ro.inbox.filter((m) => m.y === 'r').length, 2, 'answered');
  assert.equal(ro.inbox.filter((m) => m.y === 'q').length, 0, 'not pinged');
  assert.equal(node.stats().nodes, 0);
  // The same querier without `ro` is pinged and inserted.
  ro.send(addr, { y: 'q', t: tid(3), q: 'ping', id: id(77) });
  await net.advance(1_000);
  assert.equal(ro.inbox.filter((m) => m.y === 'q' && m.q === 'ping').length, 1);
  assert.equal(node.stats().nodes, 1);
  net.closeAll();
});

test('public DHT: private-range and loopback contacts from a public node are refused, and never enter the table', async () => {
  const net = new DhtMemoryNet();
  net.record = true;
  const node = net.add(at('198.51.100.1', 6881), { privateNetwork: false, bootstrap: ['203.0.113.1:6881'] });
  // A public bootstrap node that names private, loopback, zero-port and public nodes.
  const named: NodeContact[] = [
    { id: id(11), host: '10.0.0.5', port: 6881 }, { id: id(12), host: '192.168.1.9', port: 6881 },
    { id: id(13), host: '127.0.0.1', port: 6881 }, { id: id(14), host: '0.0.0.0', port: 6881 },
    { id: id(15), host: '224.0.0.1', port: 6881 }, { id: id(16), host: '198.51.100.77', port: 6881 },
  ];
  const boot = new RawPeer(net, at('203.0.113.1', 6881), id(10));
  net.taps.set('203.0.113.1:6881', (buf, from) => {
    const m = decodeKrpc(buf);
    if (m.y === 'q') boot.send(from, { y: 'r', t: m.t, id: id(10), nodes: named, token: Buffer.from('tk') });
  });
  node.start();
  await net.advance(30_000, 100);
  const queried = new Set(net.sent.filter((d) => d.from.port === 6881 && d.from.host === '198.51.100.1').map((d) => d.to.host));
  assert.deepEqual([...queried].sort(), ['198.51.100.77', '203.0.113.1']);
  assert.equal(node.stats().nodes, 1, 'only the public bootstrap node (198.51.100.77 never answered)');
  // A querier on a private address is answered but never pinged nor inserted.
  const lan = new RawPeer(net, at('192.168.1.50', 6881), id(20));
  lan.answerPings();
  lan.query(at('198.51.100.1', 6881), 'ping');
  await net.advance(1_000);
  assert.equal(lan.inbox.filter((m) => m.y === 'r').length, 1);
  assert.equal(lan.inbox.filter((m) => m.y === 'q').length, 0);
  assert.equal(node.stats().nodes, 1);
  // addNode of a loopback address does nothing on the public DHT.
  const before = net.sent.length;
  node.addNode(at('127.0.0.1', 6881));
  assert.equal(net.sent.length, before);
  net.closeAll();
});

test('private-range values in a get_peers answer are kept only from a private source (public DHT)', async () => {
  const net = new DhtMemoryNet();
  const node = net.add(at('198.51.100.1', 6881), { privateNetwork: false, bootstrap: ['203.0.113.1:6881'] });
  const ih = Buffer.alloc(20, 4);
  net.taps.set('203.0.113.1:6881', (buf, from) => {
    const m = decodeKrpc(buf);
    if (m.y !== 'q') return;
    const values = m.q === 'get_peers' ? [at('10.1.2.3', 5000), at('127.0.0.1', 5000), at('203.0.113.50', 5000)] : undefined;
    net.deliver(at('203.0.113.1', 6881), from, encodeKrpc({ y: 'r', t: m.t, id: id(10), nodes: [], token: Buffer.from('tk'), ...(values ? { values } : {}) }));
  });
  node.start();
  await net.advance(1_000);
  const seen: string[] = [];
  const s = await net.run(node.getPeers(ih, { onPeers: (p) => seen.push(...p.map(key)) }));
  assert.deepEqual(seen, ['203.0.113.50:5000']);
  assert.equal(s.peers, 1);
  net.closeAll();
});

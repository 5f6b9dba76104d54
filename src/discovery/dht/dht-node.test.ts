// DhtNode on an in-memory network with a virtual clock: bootstrap, announce and get_peers among 2, 3 and 5 nodes,
// bootstrap from a node cache, implied_port, lookup summaries, retry backoff, BEP 42 re-keying, close().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhtMemoryNet } from '../../../test/support/dht-memory-net.js';
import { DhtNode, RETRY_FIRST_MS } from './dht-node.js';
import { decodeKrpc } from './krpc.js';
import { isBep42Valid } from './node-id.js';
import { NODE_BAD_FAILURES, type DhtPhase, type NodeAddress } from './types.js';

const hash = (n: number): Buffer => Buffer.alloc(20, n);
const at = (host: string, port: number): NodeAddress => ({ host, port });
const str = (a: NodeAddress): string => `${a.host}:${a.port}`;

/** `count` nodes on 127.0.0.1 (private network), each bootstrapping from the first; all started and ready. */
async function privateNet(count: number): Promise<{ net: DhtMemoryNet; nodes: DhtNode[]; addrs: NodeAddress[] }> {
  const net = new DhtMemoryNet();
  const addrs = Array.from({ length: count }, (_, i) => at('127.0.0.1', 7000 + i));
  const nodes = addrs.map((a, i) => net.add(a, { privateNetwork: true, bootstrap: i === 0 ? [] : [str(addrs[0]!)] }));
  for (const n of nodes) {
    n.start();
    await net.advance(200);
  }
  await net.advance(2_000);
  return { net, nodes, addrs };
}

test('2 nodes: B bootstraps from A, A announces, B finds A (own store read first)', async () => {
  const { net, nodes: [a, b], addrs } = await privateNet(2);
  assert.ok(a && b);
  assert.equal(a.stats().phase, 'ready');
  assert.equal(b.stats().phase, 'ready');
  assert.equal(a.stats().nodes, 1, 'A verified B by pinging it');
  assert.equal(b.stats().nodes, 1);

  const ann = await net.run(a.announce(hash(1), 6881));
  assert.equal(ann.announcedTo, 1);
  assert.equal(b.stats().storedTorrents, 1);

  const seen: NodeAddress[] = [];
  const found = await net.run(b.getPeers(hash(1), { onPeers: (p) => seen.push(...p) }));
  assert.deepEqual(seen, [at(addrs[0]!.host, 6881)]);
  assert.equal(found.peers, 1);
  assert.equal(found.firstPeerMs, 0, 'B read its own store first');

  // And A finds itself through B's store.
  const back = await net.run(a.getPeers(hash(1)));
  assert.equal(back.peers, 1);
  assert.ok(back.firstPeerMs !== undefined && back.firstPeerMs > 0);
  net.closeAll();
  assert.equal(net.clock.pending, 0, 'no timer left after close');
});

for (const count of [3, 5]) {
  test(`${count} nodes: every node's announce is found by every other node`, async () => {
    const { net, nodes, addrs } = await privateNet(count);
    for (const n of nodes) assert.equal(n.stats().phase, 'ready');
    for (let i = 0; i < count; i++) {
      const s = await net.run(nodes[i]!.announce(hash(10 + i), 9000 + i));
      assert.equal(s.announcedTo, count - 1, `node ${i} announced to all others`);
    }
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < count; j++) {
        if (i === j) continue;
        const seen: string[] = [];
        const s = await net.run(nodes[j]!.getPeers(hash(10 + i), { onPeers: (p) => seen.push(...p.map(str)) }));
        assert.ok(seen.includes(`${addrs[i]!.host}:${9000 + i}`), `node ${j} finds node ${i}`);
        assert.equal(s.peers, 1);
      }
    }
    net.closeAll();
    assert.equal(net.clock.pending, 0);
  });
}

test('a node lists itself for what it announced: found through it when its announces went to a node that left', async () => {
  const { net, nodes: [a, b, c], addrs } = await privateNet(3);
  assert.ok(a && b && c);
  // B announces; its announce goes to A and C, which then leave: only B itself can tell a newcomer about B.
  const ann = await net.run(b.announce(hash(7), 6999));
  assert.ok((ann.announcedTo ?? 0) >= 1);
  // The nodes that stored B's announce leave.
  net.down.add(str(addrs[0]!));
  net.down.add(str(addrs[2]!));
  // A fresh node D that knows only B (as a magnet downloader bootstrapped from B would).
  const d = net.add(at('127.0.0.1', 7010), { privateNetwork: true, bootstrap: [str(addrs[1]!)] });
  d.start();
  await net.advance(2_000);
  const seen: string[] = [];
  await net.run(d.getPeers(hash(7), { onPeers: (p) => seen.push(...p.map(str)) }));
  assert.ok(seen.includes('127.0.0.1:6999'), `D found B's peer through B itself: ${seen.join(', ')}`);
  // Not for what it did not announce.
  const other: string[] = [];
  await net.run(d.getPeers(hash(8), { onPeers: (p) => other.push(...p.map(str)) }));
  assert.deepEqual(other, []);
  net.closeAll();
});

test('a node bootstraps from its cached node list with no bootstrap node given', async () => {
  const { net, nodes: [a, b], addrs } = await privateNet(2);
  assert.ok(a && b);
  const cache = b.snapshot();
  assert.equal(cache.nodes.length, 1);
  assert.equal(str(cache.nodes[0]!), str(addrs[0]!));
  b.close();
  net.nodes.delete(str(addrs[1]!));

  const c = net.add(at('127.0.0.1', 7100), { privateNetwork: true, restored: cache });
  assert.ok(c.id.equals(cache.id), 'the restored id is kept');
  const phases: DhtPhase[] = [];
  c.onPhase = (p) => phases.push(p);
  c.start();
  await net.advance(1_000);
  assert.deepEqual(phases, ['bootstrapping', 'ready']);
  assert.equal(c.stats().nodes, 1);
  net.closeAll();
});

test('implied_port: port 0 announces the source port', async () => {
  const { net, nodes: [a, b], addrs } = await privateNet(2);
  assert.ok(a && b);
  net.record = true;
  const s = await net.run(a.announce(hash(2), 0));
  assert.equal(s.announcedTo, 1);
  const announces = net.sent.map((d) => decodeKrpc(d.buf)).filter((m) => m.y === 'q' && m.q === 'announce_peer');
  assert.equal(announces.length, 1);
  assert.ok(announces[0]!.y === 'q' && announces[0]!.impliedPort === true);
  const found = await net.run(b.getPeers(hash(2)));
  assert.equal(found.peers, 1);
  const seen: NodeAddress[] = [];
  await net.run(b.getPeers(hash(2), { onPeers: (p) => seen.push(...p) }));
  assert.deepEqual(seen, [addrs[0]!], 'stored with A\'s UDP source port');
  net.closeAll();
});

test('lookup summary: queried, responded, hops, durationMs and firstPeerMs', async () => {
  const { net, nodes } = await privateNet(5);
  const s0 = await net.run(nodes[4]!.announce(hash(3), 7777));
  assert.ok(s0.queried >= 1 && s0.responded >= 1 && s0.responded <= s0.queried);
  assert.equal(s0.failed, 0);
  assert.ok(s0.durationMs >= 2 * net.latencyMs, 'at least one round trip');
  assert.equal(s0.firstPeerMs, undefined, 'nobody had announced it');
  assert.ok(s0.hops >= 0 && s0.hops <= 4);
  const s1 = await net.run(nodes[1]!.getPeers(hash(3)));
  assert.equal(s1.peers, 1);
  assert.ok(s1.firstPeerMs !== undefined && s1.firstPeerMs <= s1.durationMs);
  const st = nodes[1]!.stats();
  assert.ok(st.lookups >= 1);
  assert.equal(st.activeLookups, 0);
  assert.ok(st.queriesOut > 0 && st.responsesIn > 0 && st.queriesIn > 0 && st.bytesIn > 0 && st.bytesOut > 0);
  net.closeAll();
});

test('no seed at all: no-nodes and no retry timer; addNode starts it', async () => {
  const net = new DhtMemoryNet();
  const a = net.add(at('127.0.0.1', 7000), { privateNetwork: true });
  const b = net.add(at('127.0.0.1', 7001), { privateNetwork: true });
  a.start();
  b.start();
  assert.equal(a.stats().phase, 'no-nodes');
  assert.equal(net.clock.pending, 2, 'only the two refresh ticks');
  b.addNode(at('127.0.0.1', 7000));
  await net.advance(1_000);
  assert.equal(b.stats().phase, 'ready');
  assert.equal(a.stats().phase, 'ready', 'A verified B by pinging it back');
  net.closeAll();
});

test('an unreachable bootstrap node: retried with backoff (5 s, 10 s, ...), ready once it answers', async () => {
  const net = new DhtMemoryNet();
  const a = net.add(at('127.0.0.1', 7000), { privateNetwork: true });
  a.start();
  net.down.add('127.0.0.1:7000');
  net.record = true;
  const b = net.add(at('127.0.0.1', 7001), { privateNetwork: true, bootstrap: ['127.0.0.1:7000'] });
  b.start();
  await net.advance(5_000 + 100);
  assert.equal(b.stats().phase, 'no-nodes');
  const findNodes = (): number[] => net.sent.filter((d) => d.from.port === 7001).map((d) => d.buf.length);
  assert.equal(findNodes().length, 1);
  await net.advance(RETRY_FIRST_MS);
  assert.equal(findNodes().length, 2, 'retried after 5 s');
  await net.advance(5_000 + RETRY_FIRST_MS);
  assert.equal(findNodes().length, 2, 'the next one waits 10 s');
  await net.advance(5_000);
  assert.equal(findNodes().length, 3);
  net.down.clear();
  await net.advance(60_000);
  assert.equal(b.stats().phase, 'ready');
  assert.equal(b.stats().timeouts, 3);
  net.closeAll();
  assert.equal(net.clock.pending, 0);
});

test('bootstrap names are resolved with the injected resolver', async () => {
  const net = new DhtMemoryNet();
  const a = net.add(at('127.0.0.1', 7000), { privateNetwork: true });
  a.start();
  const asked: string[] = [];
  const b = net.add(at('127.0.0.1', 7001), {
    privateNetwork: true, bootstrap: ['router.example:7000', 'bad-entry'],
    resolve: (host) => { asked.push(host); return Promise.resolve(['127.0.0.1']); },
  });
  b.start();
  await net.advance(1_000);
  assert.deepEqual(asked, ['router.example']);
  assert.equal(b.stats().phase, 'ready');
  net.closeAll();
});

test('BEP 42: three votes for a public address switch the id, persist, and show the address', async () => {
  const net = new DhtMemoryNet();
  let persisted = 0;
  const a = net.add(at('127.0.0.1', 7000), { privateNetwork: true, onPersist: () => { persisted++; } });
  const before = Buffer.from(a.id);
  a.noteExternalAddress('203.0.113.9', '198.51.100.1');
  a.noteExternalAddress('203.0.113.9', '198.51.100.2');
  assert.equal(a.stats().externalAddress, undefined);
  a.noteExternalAddress('203.0.113.9', '198.51.100.2'); // the same source again: still two votes
  assert.ok(a.id.equals(before));
  a.noteExternalAddress('203.0.113.9', '198.51.100.3');
  assert.equal(a.stats().externalAddress, '203.0.113.9');
  assert.ok(!a.id.equals(before));
  assert.ok(isBep42Valid(a.id, '203.0.113.9'));
  assert.equal(persisted, 1);
  assert.ok(a.snapshot().id.equals(a.id));
  // A private winner never changes the id.
  const b = net.add(at('127.0.0.1', 7001), { privateNetwork: true });
  const bId = Buffer.from(b.id);
  for (let i = 0; i < 5; i++) b.noteExternalAddress('192.168.1.5', `198.51.100.${i}`);
  assert.equal(b.stats().externalAddress, '192.168.1.5');
  assert.ok(b.id.equals(bId));
  net.closeAll();
});

test('close(): running lookups resolve, timers are cleared, datagrams are no longer taken', async () => {
  const { net, nodes: [a, b] } = await privateNet(2);
  assert.ok(a && b);
  net.down.add('127.0.0.1:7000'); // A stops answering: B's lookup would wait for timeouts
  const p = b.getPeers(hash(4));
  await net.advance(20);
  assert.equal(b.stats().activeLookups, 1);
  b.close();
  const s = await p;
  assert.equal(s.peers, 0);
  assert.equal(b.stats().activeLookups, 0);
  assert.equal(b.stats().phase, 'off');
  assert.equal(b.handleDatagram(Buffer.from('d1:y1:qe'), { address: '127.0.0.1', port: 7000 }), false);
  const after = await b.getPeers(hash(4));
  assert.equal(after.queried, 0);
  net.closeAll();
  assert.equal(net.clock.pending, 0);
});

test('abort: a lookup ends early with what it found', async () => {
  const { net, nodes: [a, b] } = await privateNet(2);
  assert.ok(a && b);
  net.down.add('127.0.0.1:7000');
  const ac = new AbortController();
  const p = b.getPeers(hash(5), { signal: ac.signal });
  await net.advance(20);
  ac.abort();
  const s = await p;
  assert.ok(s.durationMs < 1_000);
  net.closeAll();
});

test('refresh: questionable nodes are pinged, a silent one is replaced or dropped in time; snapshot holds the table', async () => {
  const { net, nodes } = await privateNet(3);
  const c = nodes[2]!;
  assert.equal(c.stats().nodes, 2);
  assert.equal(c.snapshot().nodes.length, 2);
  net.down.add('127.0.0.1:7001');
  await net.advance(18 * 60_000, 1_000);
  const st = c.stats();
  assert.equal(st.phase, 'ready');
  assert.ok(st.timeouts >= NODE_BAD_FAILURES, 'the silent node was queried (refresh) and pinged');
  assert.equal(st.good, 1, 'the live node is good again (it answered the refresh)');
  // A thin table bootstraps again each minute, asking the silent node too: bad, then dropped (REMOVE_AFTER_FAILURES).
  assert.equal(st.questionable, 0, 'the silent node is not questionable');
  assert.ok(st.nodes - st.good === 1 || st.nodes === 1, `the silent node is bad or dropped (${st.nodes} nodes, ${st.good} good)`);
  assert.ok(c.snapshot().nodes.every((n) => n.port !== 7001) || st.nodes === 2, 'a dropped node leaves the cache');
  net.closeAll();
});

test('public DHT of 40 nodes (one per IP): multi-hop lookups find announces despite trimmed first answers', async () => {
  const net = new DhtMemoryNet();
  const addrs = Array.from({ length: 40 }, (_, i) => at(`198.51.100.${i + 1}`, 6881));
  const nodes = addrs.map((a, i) => net.add(a, { bootstrap: i === 0 ? [] : [str(addrs[0]!)] }));
  for (const n of nodes) {
    n.start();
    await net.advance(100);
  }
  await net.advance(5_000);
  for (const n of nodes) assert.equal(n.stats().phase, 'ready');
  const ann = await net.run(nodes[7]!.announce(hash(42), 5555));
  assert.ok(ann.announcedTo !== undefined && ann.announcedTo >= 6, `announced to ${ann.announcedTo}`);
  let hopsSeen = 0;
  for (const j of [13, 21, 29, 38]) {
    const seen: string[] = [];
    const s = await net.run(nodes[j]!.getPeers(hash(42), { onPeers: (p) => seen.push(...p.map(str)) }));
    assert.deepEqual(seen, ['198.51.100.8:5555'], `node ${j}`);
    hopsSeen = Math.max(hopsSeen, s.hops);
  }
  assert.ok(hopsSeen >= 1, 'some lookup went past its seeds');
  assert.ok(nodes.some((n) => n.trimmedRetries > 0), 'first contacts answered trimmed and were asked again');
  for (const n of nodes) assert.ok(n.stats().nodes >= 8, 'tables filled');
  net.closeAll();
  assert.equal(net.clock.pending, 0);
});

test('BEP 42 re-key of a running node: a lookup of the new id follows, the others learn the new id', async () => {
  const { net, nodes, addrs } = await privateNet(3);
  const a = nodes[0]!;
  const lookupsBefore = a.stats().lookups;
  for (let i = 1; i <= 3; i++) a.noteExternalAddress('203.0.113.9', `198.51.100.${i}`);
  assert.ok(isBep42Valid(a.id, '203.0.113.9'));
  assert.equal(a.stats().lookups, lookupsBefore + 1, 'a lookup of the new id');
  await net.advance(1_000);
  for (const other of nodes.slice(1)) {
    const known = other.snapshot().nodes.find((n) => str(n) === str(addrs[0]!));
    assert.ok(known?.id.equals(a.id), 'the other nodes hold the new id');
  }
  net.closeAll();
});

test('every node of the table gone bad: no-nodes, then bootstrap again (with the table\'s own nodes) when they answer', async () => {
  const { net, nodes: [a, b] } = await privateNet(2);
  assert.ok(a && b);
  const phases: DhtPhase[] = [];
  b.onPhase = (p) => phases.push(p);
  net.down.add('127.0.0.1:7000');
  await net.advance(5 * 60_000, 1_000);
  assert.equal(b.stats().phase, 'no-nodes', 'its only node failed: nothing to look up from');
  assert.equal(b.stats().good + b.stats().questionable, 0);
  net.down.clear();
  await net.advance(6 * 60_000, 1_000);
  assert.equal(b.stats().phase, 'ready', 'the table\'s node was asked again and answered');
  assert.equal(b.stats().good, 1);
  assert.deepEqual(phases.slice(0, 1), ['no-nodes']);
  assert.equal(phases[phases.length - 1], 'ready');
  net.closeAll();
  assert.equal(net.clock.pending, 0);
});

test('onPersist: at most every 10 minutes while the table changes, and not when it does not', async () => {
  const net = new DhtMemoryNet();
  let persisted = 0;
  const hub = net.add(at('127.0.0.1', 7000), { privateNetwork: true });
  hub.start();
  const a = net.add(at('127.0.0.1', 7001), { privateNetwork: true, bootstrap: ['127.0.0.1:7000'], onPersist: () => { persisted++; } });
  a.start();
  await net.advance(1_000);
  assert.equal(persisted, 0, 'not at once');
  // New nodes keep joining: the table changes.
  for (let i = 0; i < 4; i++) {
    const n = net.add(at('127.0.0.1', 7100 + i), { privateNetwork: true, bootstrap: ['127.0.0.1:7001'] });
    n.start();
    await net.advance(60_000, 1_000);
  }
  assert.equal(persisted, 0, 'within the first 10 minutes');
  await net.advance(7 * 60_000, 1_000);
  assert.equal(persisted, 1, 'once after 10 minutes');
  await net.advance(30 * 60_000, 10_000);
  assert.equal(persisted, 1, 'the table did not change since');
  net.closeAll();
});

test('getPeers / announce refuse a bad info-hash or port (rejected promise, nothing sent)', async () => {
  const { net, nodes: [a] } = await privateNet(2);
  assert.ok(a);
  const out = a.stats().queriesOut;
  await assert.rejects(a.getPeers(Buffer.alloc(19)), { name: 'BtError', code: 'INTERNAL' });
  await assert.rejects(a.announce(Buffer.alloc(20), 70000), { name: 'BtError', code: 'INTERNAL' });
  await assert.rejects(a.announce(Buffer.alloc(21), 1), { name: 'BtError', code: 'INTERNAL' });
  assert.equal(a.stats().queriesOut, out);
  net.closeAll();
});

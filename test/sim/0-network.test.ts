/**
 * The simulated network's model (test/support/sim-network.ts), on a ManualClock: connect latency, one-way latency,
 * upload and download caps, refusal, no answer from a host that is not there, a host leaving, loss as TCP shows it
 * (a late segment holds back the bytes behind it), and replay from a seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/util/clock.js';
import { seededRng } from '../../src/util/seeded-rng.js';
import { isBtError } from '../../src/util/errors.js';
import type { PeerStream } from '../../src/net/transport.js';
import { SimNetwork } from '../support/sim-network.js';
import { runUntil } from '../support/sim-swarm.js';

const KiB = 1024;

interface Pair { a: PeerStream; b: PeerStream; connectedAt: number }

async function pair(net: SimNetwork, clock: ManualClock, from: string, to: string): Promise<Pair> {
  let accepted: PeerStream | undefined;
  await net.addHost(to, {}).listen('0.0.0.0', 6881, (s) => { accepted = s; });
  let a: PeerStream | undefined;
  const t0 = clock.now();
  void net.addHost(from, {}).connect(to, 6881, { timeoutMs: 5000 }).then((s) => { a = s; });
  assert.ok(await runUntil(clock, () => a !== undefined, t0 + 10_000), 'connected');
  return { a: a!, b: accepted!, connectedAt: clock.now() - t0 };
}

/** Collect what `s` reads, with the virtual time of each chunk. */
function reader(s: PeerStream, clock: ManualClock): Array<{ at: number; bytes: number }> {
  const got: Array<{ at: number; bytes: number }> = [];
  s.on('data', (c) => got.push({ at: clock.now(), bytes: c.length }));
  s.resume();
  return got;
}

test('connect takes one round trip; bytes arrive one latency later; caps pace them; FIN closes both ends', async () => {
  const clock = new ManualClock(0);
  const net = new SimNetwork({ clock, rng: seededRng(1), latencyMs: () => 30 });
  const up = net.addHost('10.0.0.1', { upload: 100 * KiB });
  const down = net.addHost('10.0.0.2', { download: 50 * KiB });
  let accepted: PeerStream | undefined;
  await down.listen('0.0.0.0', 7000, (s) => { accepted = s; });
  let a: PeerStream | undefined;
  void up.connect('10.0.0.2', 7000, { timeoutMs: 5000 }).then((s) => { a = s; });
  await runUntil(clock, () => a !== undefined, 1000);
  assert.equal(clock.now(), 60, 'the dialer is connected after one round trip');
  assert.ok(accepted, 'the listener accepted at the SYN');
  assert.equal(accepted.remoteAddress, '10.0.0.1');
  const got = reader(accepted, clock);
  const t0 = clock.now();
  // Ten 10 KiB segments, store and forward: 100 ms each on the 100 KiB/s uplink, 30 ms on the wire, 200 ms each on
  // the receiver's 50 KiB/s downlink (the bottleneck): the first is read at 330 ms, the last at 130 + 10 × 200.
  for (let i = 0; i < 10; i++) a!.write(Buffer.alloc(10 * KiB, i));
  assert.ok(a!.writableLength >= 64 * KiB, 'written bytes wait in the uplink (backpressure)');
  let drained = false;
  a!.once('drain', () => { drained = true; });
  await runUntil(clock, () => got.reduce((n, c) => n + c.bytes, 0) === 100 * KiB, t0 + 10_000);
  assert.ok(drained, "'drain' once the uplink took the bytes");
  assert.equal(a!.writableLength, 0);
  assert.equal(got[0]!.at - t0, 100 + 30 + 200, 'first segment: uplink, latency, downlink');
  assert.equal(got.at(-1)!.at - t0, 130 + 10 * 200, 'the downlink paces the rest');
  let closedA = false;
  let closedB = false;
  a!.on('close', () => { closedA = true; });
  accepted.on('close', () => { closedB = true; });
  a!.destroy();
  await runUntil(clock, () => closedA && closedB && clock.pending === 0, clock.now() + 1000);
  assert.ok(closedA && closedB, 'both ends closed');
  assert.equal(net.openStreams, 0);
  assert.equal(clock.pending, 0, 'no timer left once the last FIN landed');
});

test('refused when nobody listens, no answer from a host that is not there, abort settles the dial', async () => {
  const clock = new ManualClock(0);
  const net = new SimNetwork({ clock, rng: seededRng(1), latencyMs: () => 10 });
  const t = net.addHost('10.0.0.1');
  net.addHost('10.0.0.2');
  let refused: unknown;
  void t.connect('10.0.0.2', 1234, { timeoutMs: 5000 }).catch((e: unknown) => { refused = e; });
  await runUntil(clock, () => refused !== undefined, 10_000);
  assert.equal((refused as { code?: string }).code, 'ECONNREFUSED');
  assert.equal(clock.now(), 20, 'the refusal comes back after a round trip');
  let timedOut: unknown;
  void t.connect('10.9.9.9', 1234, { timeoutMs: 3000 }).catch((e: unknown) => { timedOut = e; });
  await runUntil(clock, () => timedOut !== undefined, 10_000);
  assert.ok(isBtError(timedOut, 'TIMEOUT'), 'an absent host never answers: the dial times out');
  assert.equal(clock.now(), 3020);
  const ac = new AbortController();
  let aborted: unknown;
  void t.connect('10.9.9.9', 1234, { timeoutMs: 3000, signal: ac.signal }).catch((e: unknown) => { aborted = e; });
  ac.abort();
  await runUntil(clock, () => aborted !== undefined, clock.now() + 10);
  assert.ok(isBtError(aborted, 'ABORTED'));
  assert.equal(clock.pending, 0, 'a settled dial leaves no timer');
});

test('a host that leaves resets its connections and stops answering', async () => {
  const clock = new ManualClock(0);
  const net = new SimNetwork({ clock, rng: seededRng(1), latencyMs: () => 15 });
  const { a, b } = await pair(net, clock, '10.0.0.1', '10.0.0.2');
  let err: (Error & { code?: string }) | undefined;
  let closed = false;
  a.on('error', (e) => { err = e; });
  a.on('close', () => { closed = true; });
  a.resume();
  const t0 = clock.now();
  net.leave('10.0.0.2');
  assert.ok(b.destroyed, "the leaving host's end is gone at once");
  await runUntil(clock, () => closed, t0 + 1000);
  assert.equal(err?.code, 'ECONNRESET', 'the other end reads a reset');
  assert.equal(clock.now() - t0, 15, 'one latency later');
  let late: unknown;
  void net.addHost('10.0.0.3').connect('10.0.0.2', 6881, { timeoutMs: 2000 }).catch((e: unknown) => { late = e; });
  await runUntil(clock, () => late !== undefined, clock.now() + 5000);
  assert.ok(isBtError(late, 'TIMEOUT'), 'a host that left does not answer');
  assert.equal(net.openStreams, 0);
});

test('loss: a lost segment arrives a retransmission timeout late and holds back what follows; replayable', async () => {
  const run = async (seed: number): Promise<number[]> => {
    const clock = new ManualClock(0);
    const net = new SimNetwork({ clock, rng: seededRng(seed), latencyMs: () => 20, loss: 0.05, rtoMs: 200 });
    const { a, b } = await pair(net, clock, '10.0.0.1', '10.0.0.2');
    const got = reader(b, clock);
    const t0 = clock.now();
    for (let i = 0; i < 40; i++) a.write(Buffer.alloc(2 * MSS_BYTES, i)); // unlimited links: all leave at t0
    await runUntil(clock, () => got.length === 40, t0 + 10_000);
    a.destroy();
    await runUntil(clock, () => clock.pending === 0, clock.now() + 1000);
    return got.map((g) => g.at - t0);
  };
  const times = await run(3);
  assert.equal(times.length, 40);
  assert.ok(times.some((t) => t === 20), 'most segments arrive after the latency');
  const late = times.findIndex((t) => t > 20);
  assert.ok(late >= 0, 'with 5 % packet loss some segment of 40 was lost (seeded)');
  assert.equal(times[late], 220, 'a lost segment comes one RTO late');
  assert.ok(times.slice(late).every((t) => t >= 220), 'in-order delivery: everything behind it waits');
  assert.deepEqual(await run(3), times, 'the same seed replays the same losses');
});

const MSS_BYTES = 1460;

/**
 * The uTP connection state machine over a simulated link on a virtual clock: two connections, a seeded lossy and
 * reordering link between them, no sockets. Covers the handshake and close, intact in-order delivery under 1–5% loss,
 * sequence-number and timestamp wrap, flow control while paused, time-outs, and hostile packets (impossible ACKs,
 * huge windows, resets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ManualClock } from '../../util/clock.js';
import { seededRng as rng } from '../../util/seeded-rng.js';
import type { BtError } from '../../util/errors.js';
import { MAX_CWND, RECV_BUFFER, UtpConnection, type UtpHooks } from './connection.js';
import { decodePacket, encodePacket, seqDiff, ST_DATA, ST_RESET, ST_STATE, ST_SYN, type UtpPacket } from './packet.js';

interface Side {
  conn?: UtpConnection;
  data: Buffer[];
  events: string[];
  closeErr?: BtError | undefined;
  sent: UtpPacket[];
}

interface LinkOptions {
  loss?: number;
  delayMs?: number;
  jitterMs?: number;
  seed?: number;
  clockStart?: number;
  initiatorSeq?: number;
  acceptorSeq?: number;
  /** Drop every packet from this time on (virtual ms). */
  cutAt?: number;
}

/** Two connections wired through a lossy, delaying, reordering link. */
function makeLink(o: LinkOptions = {}) {
  const clock = new ManualClock(o.clockStart ?? 1_000_000);
  const random = rng(o.seed ?? 1);
  const nowUs = (): number => Math.floor(clock.now() * 1000) >>> 0;
  const a: Side = { data: [], events: [], sent: [] };
  const b: Side = { data: [], events: [], sent: [] };
  let delivered = 0;
  let cutAt = o.cutAt;
  const hooks = (s: Side, name: string): UtpHooks => ({
    send: (dg) => {
      const r = decodePacket(dg);
      assert.ok(r.ok);
      s.sent.push(r.packet);
      wire(s === a ? b : a, dg);
    },
    onConnect: () => s.events.push(`${name}:connect`),
    onData: (c) => s.data.push(c),
    onEnd: () => s.events.push(`${name}:end`),
    onDrain: () => s.events.push(`${name}:drain`),
    onClose: (err) => { s.events.push(`${name}:close`); s.closeErr = err; },
  });
  const deliver = (to: Side, dg: Buffer): void => {
    const r = decodePacket(dg);
    if (!r.ok) return;
    delivered++;
    if (to === b && !b.conn) {
      if (r.packet.type !== ST_SYN) return;
      b.conn = UtpConnection.accept({ now: clock.now, seqNr: o.acceptorSeq ?? 0x4000, hooks: hooks(b, 'b') }, r.packet, nowUs());
      b.conn.resume();
      return;
    }
    to.conn?.receive(r.packet, nowUs());
    to.conn?.sendPendingAck();
  };
  const wire = (to: Side, dg: Buffer): void => {
    if (cutAt !== undefined && clock.now() >= cutAt) return;
    if (random() < (o.loss ?? 0)) return;
    const delay = (o.delayMs ?? 10) + random() * (o.jitterMs ?? 0);
    const copy = Buffer.from(dg);
    clock.setTimeout(() => deliver(to, copy), delay);
  };
  clock.setInterval(() => { a.conn?.tick(); b.conn?.tick(); }, 10);
  a.conn = UtpConnection.connect({ now: clock.now, recvId: 1000, sendId: 1001, seqNr: o.initiatorSeq ?? 1, hooks: hooks(a, 'a') });
  /** Run the virtual clock until `done()` or `limitMs` of virtual time passed. */
  const runUntil = (done: () => boolean, limitMs: number): void => {
    const end = clock.now() + limitMs;
    while (!done() && clock.now() < end) {
      const next = clock.nextDue();
      if (next === undefined) break;
      clock.advanceTo(Math.min(next, end));
    }
  };
  return { clock, a, b, runUntil, nowUs, delivered: () => delivered, cut: () => { cutAt = clock.now(); } };
}

const total = (bufs: Buffer[]): number => bufs.reduce((n, x) => n + x.length, 0);

function transfer(o: LinkOptions, size: number, limitMs: number) {
  const l = makeLink(o);
  l.runUntil(() => l.a.events.includes('a:connect'), 20_000);
  assert.ok(l.a.events.includes('a:connect'), 'connected');
  const content = randomBytes(size);
  const t0 = l.clock.now();
  // Write in 16 KiB blocks, honouring backpressure like the wire layer does.
  let off = 0;
  let ended = false;
  const pump = (): void => {
    while (off < content.length) {
      const ok = l.a.conn!.write(content.subarray(off, off + 16384));
      off += 16384;
      if (!ok) return;
    }
    if (!ended) { ended = true; l.a.conn!.end(); }
  };
  const drainLen = l.a.events.length;
  pump();
  l.runUntil(() => {
    if (l.a.events.length > drainLen && l.a.events.at(-1) === 'a:drain') pump();
    if (l.a.conn!.writableLength === 0) pump();
    l.a.conn!.flush();
    return l.a.conn!.isClosed && l.b.conn!.isClosed;
  }, limitMs);
  const got = Buffer.concat(l.b.data);
  return { l, content, got, elapsedMs: l.clock.now() - t0 };
}

test('handshake: SYN, STATE, connect on both sides; FIN both ways closes both cleanly', () => {
  const l = makeLink();
  l.runUntil(() => l.a.events.includes('a:connect'), 5000);
  assert.deepEqual(l.a.sent.map((p) => p.type), [ST_SYN]);
  assert.equal(l.b.sent[0]!.type, ST_STATE);
  assert.equal(l.b.sent[0]!.ackNr, 1);                      // acks the SYN
  assert.equal(l.b.sent[0]!.connectionId, 1000);           // the initiator's recv id
  assert.equal(l.b.conn!.state, 'syn-recv');               // not verified yet: nothing more sent
  l.a.conn!.write(Buffer.from('hello'));
  l.a.conn!.flush();
  l.runUntil(() => l.b.data.length > 0, 5000);
  assert.equal(Buffer.concat(l.b.data).toString(), 'hello');
  assert.ok(l.b.events.includes('b:connect'));
  l.b.conn!.write(Buffer.from('world'));
  l.b.conn!.flush();
  l.runUntil(() => l.a.data.length > 0, 5000);
  assert.equal(Buffer.concat(l.a.data).toString(), 'world');
  l.a.conn!.end();
  l.runUntil(() => l.a.conn!.isClosed && l.b.conn!.isClosed, 5000);
  assert.deepEqual(l.b.events, ['b:connect', 'b:end', 'b:close']);
  assert.deepEqual(l.a.events, ['a:connect', 'a:end', 'a:close']);
  assert.equal(l.a.closeErr, undefined);
  assert.equal(l.b.closeErr, undefined);
});

test('1 MiB arrives intact and in order with no loss, and at a sane rate over a 10 ms link', () => {
  const { l, content, got, elapsedMs } = transfer({ delayMs: 10 }, 1 << 20, 60_000);
  assert.equal(got.length, content.length);
  assert.ok(got.equals(content));
  assert.ok(l.b.events.includes('b:end'));
  // 1 MiB over a 20 ms RTT: slow start gets it done in well under 2 s of virtual time.
  assert.ok(elapsedMs < 2000, `took ${elapsedMs} ms`);
  assert.equal(l.a.conn!.stats.resent, 0);
});

for (const [loss, seed] of [[0.01, 3], [0.03, 4], [0.05, 5]] as const) {
  test(`${loss * 100}% loss with reordering: 2 MiB intact and in order; losses repaired by fast retransmit`, () => {
    const { l, content, got, elapsedMs } = transfer({ loss, delayMs: 15, jitterMs: 10, seed }, 2 << 20, 300_000);
    assert.equal(got.length, content.length, `got ${got.length} in ${elapsedMs} ms`);
    assert.ok(got.equals(content));
    assert.ok(l.a.conn!.stats.fastResends > 0, 'fast retransmit used');
    assert.ok(elapsedMs < 30_000, `took ${elapsedMs} ms`);
    console.log(`${loss * 100}% loss: 2 MiB in ${(elapsedMs / 1000).toFixed(1)} s virtual, ${l.a.conn!.stats.fastResends} fast resends, ${l.a.conn!.stats.timeouts} time-outs`);
  });
}

test('sequence numbers and microsecond timestamps wrap mid-transfer', () => {
  // µs timestamps wrap at 2^32 µs ≈ 4294967.296 ms: start 500 ms before; both sequence spaces cross 0xffff.
  const { content, got, l } = transfer({ clockStart: 4294967.296 - 500, initiatorSeq: 0xffd0, acceptorSeq: 0xfffe, loss: 0.01, seed: 9,
    delayMs: 10, jitterMs: 5 }, 512 * 1024, 120_000);
  assert.ok(got.equals(content));
  assert.ok(l.a.sent.some((p) => p.seqNr < 0x100) && l.a.sent.some((p) => p.seqNr > 0xff00));
  assert.ok(l.a.sent.some((p) => p.timestampUs < 1_000_000) && l.a.sent.some((p) => p.timestampUs > 0xffff0000));
});

test('a paused receiver closes its window; the sender stops near it and goes on after resume', () => {
  const l = makeLink({ delayMs: 5 });
  l.runUntil(() => l.a.events.includes('a:connect'), 5000);
  l.a.conn!.write(Buffer.alloc(10));
  l.a.conn!.flush();
  l.runUntil(() => l.b.data.length > 0, 5000);
  l.b.conn!.pause();
  const content = randomBytes(3 * RECV_BUFFER);
  l.a.conn!.write(content);
  l.runUntil(() => false, 20_000);
  const buffered = 3 * RECV_BUFFER - l.a.conn!.writableLength - l.a.conn!.bytesInFlight;
  assert.ok(buffered <= RECV_BUFFER + 2 * 1400, `sent past the window: ${buffered}`);
  assert.equal(total(l.b.data), 10);
  l.b.conn!.resume();
  l.runUntil(() => total(l.b.data) === 10 + content.length, 30_000);
  assert.ok(Buffer.concat(l.b.data).subarray(10).equals(content));
});

test('backpressure: an owner that stops at writableLength plus its own unwritten batch is always woken by drain', () => {
  // The wire layer's upload side (src/session/uploads.ts, src/wire/connection.ts) stops queueing blocks once the
  // stream's writableLength plus its own batch (written on the next tick) reaches 1 MiB, and waits for 'drain'. The
  // connection may send part of its queue between that stop and the batch's write; a 'drain' must still follow, or
  // the owner waits for ever (the 11 s stall of issue 11: a 1 MiB high-water mark let every write return true).
  const l = makeLink({ delayMs: 2 });
  l.runUntil(() => l.a.events.includes('a:connect'), 5000);
  const LIMIT = 1024 * 1024;
  const BLOCK = 16 * 1024;
  const content = randomBytes(8 * 1024 * 1024);
  let off = 0;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  let writeAt = -1;
  let woken = true;
  let seenEvents = l.a.events.length;
  const owner = (): void => {
    for (; seenEvents < l.a.events.length; seenEvents++) if (l.a.events[seenEvents] === 'a:drain') woken = true;
    if (writeAt >= 0) {
      if (l.clock.now() < writeAt) return;
      for (const b of batch) l.a.conn!.write(b); // the batch reaches the stream a little later
      batch = [];
      batchBytes = 0;
      writeAt = -1;
      if (off >= content.length) l.a.conn!.end();
      return;
    }
    if (!woken || off >= content.length) return;
    woken = false;
    while (off < content.length && l.a.conn!.writableLength + batchBytes < LIMIT) {
      batch.push(content.subarray(off, off + BLOCK));
      batchBytes += BLOCK;
      off += BLOCK;
    }
    writeAt = l.clock.now() + 3;
  };
  l.runUntil(() => { owner(); return total(l.b.data) === content.length; }, 60_000);
  assert.equal(total(l.b.data), content.length, `stalled after ${total(l.b.data)} bytes: no drain woke the owner`);
  assert.ok(Buffer.concat(l.b.data).equals(content));
});

test('a peer that goes silent: time-outs with growing RTO, then the connection closes with TIMEOUT', () => {
  const l = makeLink({ delayMs: 5 });
  l.runUntil(() => l.a.events.includes('a:connect'), 5000);
  l.a.conn!.write(Buffer.alloc(10));
  l.a.conn!.flush();
  l.runUntil(() => l.b.data.length > 0, 5000);
  l.cut(); // from now on, every packet is lost
  const t0 = l.clock.now();
  l.a.conn!.write(Buffer.alloc(5000));
  l.a.sent.length = 0;
  l.a.conn!.flush();
  l.runUntil(() => l.a.conn!.isClosed, 600_000);
  assert.equal(l.a.closeErr?.code, 'TIMEOUT');
  const resends = l.a.sent.filter((p) => p.type === ST_DATA).map((p) => p.seqNr);
  assert.ok(resends.length >= 8, `resent ${resends.length}`);
  // The RTO doubles: 7 time-outs from 500 ms take at least 500·(2^7 − 1) ms.
  const took = l.clock.now() - t0;
  assert.ok(took >= 60_000 && took < 600_000, `closed after ${took} ms`);
});

test('an unanswered SYN is retried, then the dial fails with TIMEOUT', () => {
  const l = makeLink({ cutAt: 0 });
  l.runUntil(() => l.a.conn!.isClosed, 60_000);
  assert.equal(l.a.closeErr?.code, 'TIMEOUT');
  assert.equal(l.a.sent.length, 4);
  assert.ok(l.a.sent.every((p) => p.type === ST_SYN && p.seqNr === 1));
});

test('hostile: an ACK of a packet never sent is dropped whole; a huge window is capped; RESET closes', () => {
  const l = makeLink({ delayMs: 5 });
  l.runUntil(() => l.a.events.includes('a:connect'), 5000);
  const a = l.a.conn!;
  const forged = (over: Partial<UtpPacket>): UtpPacket => ({ type: ST_DATA, connectionId: 1000, timestampUs: l.nowUs(),
    timestampDiffUs: 0, wndSize: 0xffffffff, seqNr: 0x4000, ackNr: 1, payload: Buffer.from('evil'), ...over });
  a.receive(forged({ ackNr: 500 }), l.nowUs()); // we sent only seq 1 (the SYN)
  assert.equal(l.a.data.length, 0);
  assert.equal(a.state, 'connected');
  // Huge advertised window: the sender still keeps at most MAX_CWND in flight.
  a.receive(forged({ type: ST_STATE, seqNr: 0x4000, ackNr: 1, payload: Buffer.alloc(0) }), l.nowUs());
  a.write(Buffer.alloc(16 << 20));
  a.flush();
  assert.ok(a.bytesInFlight <= MAX_CWND);
  // A truncated or garbled datagram never reaches the connection; a RESET closes it with an error.
  a.receive(forged({ type: ST_RESET, payload: Buffer.alloc(0) }), l.nowUs());
  assert.ok(a.isClosed);
  assert.equal(l.a.closeErr?.code, 'NET');
  const sentBefore = l.a.sent.length;
  a.write(Buffer.alloc(10));
  a.flush();
  a.tick();
  assert.equal(l.a.sent.length, sentBefore, 'nothing sent after close');
  assert.ok(encodePacket(forged({})).length > 20);
});

test('the acceptor sends nothing but one STATE per SYN until the initiator proves it hears us', () => {
  const l = makeLink({ delayMs: 5 });
  l.runUntil(() => l.b.conn !== undefined, 1000);
  const b = l.b.conn!;
  b.write(Buffer.alloc(100_000));
  b.flush();
  b.tick();
  assert.deepEqual(l.b.sent.map((p) => p.type), [ST_STATE]);
  // A resent SYN (our STATE lost) is answered again, once.
  b.receive(l.a.sent[0]!, l.nowUs());
  assert.deepEqual(l.b.sent.map((p) => p.type), [ST_STATE, ST_STATE]);
});

/**
 * A receiver that behaves as libtorrent 2.0's utp_stream.cpp does: a 1 MiB receive buffer that holds both the
 * out-of-order packets and the in-order bytes not yet read; the advertised window is what is left of it; a packet that
 * does not fit (in order or not) is dropped but still acked; a packet more than max(16, buffer / 1100) sequence
 * numbers past the ACK is dropped without a word. Its application reads at once. `lose(seq, until)` drops every
 * transmission of a sequence number until that time. Every `staleEvery`-th reply carries the window of the connection's start (the
 * whole buffer): libtorrent resends its own packets (here: its requests) with the header's window as first sent.
 */
function libtorrentLikeReceiver(send: (pkt: UtpPacket) => void, staleEvery: number, now: () => number) {
  const capacity = 1024 * 1024;
  const maxReorder = Math.max(16, Math.floor(capacity / 1100));
  const reorder = new Map<number, number>();
  let reorderBytes = 0;
  let ackNr = 0;
  let received = 0;
  const losses = new Map<number, number>();
  let replies = 0;
  const state = (): void => {
    replies++;
    const wndSize = replies % staleEvery === 0 ? capacity : capacity - reorderBytes;
    let span = 0;
    for (const seq of reorder.keys()) span = Math.max(span, seqDiff(seq, ackNr) - 1);
    let sack: Buffer | undefined;
    if (span > 0) {
      sack = Buffer.alloc(Math.ceil(span / 8));
      for (const seq of reorder.keys()) { const i = seqDiff(seq, ackNr) - 2; sack[i >> 3]! |= 1 << (i & 7); }
    }
    send({ type: ST_STATE, connectionId: 1000, timestampUs: 0, timestampDiffUs: 0, wndSize,
      seqNr: 0x7000, ackNr, sack, payload: Buffer.alloc(0) });
  };
  return {
    get received() { return received; },
    get reorderBytes() { return reorderBytes; },
    lose(seq: number, until: number): void { losses.set(seq, until); },
    onPacket(p: UtpPacket): void {
      if (p.type === ST_SYN) { ackNr = p.seqNr; state(); return; }
      if (p.type !== ST_DATA) return;
      if (now() < (losses.get(p.seqNr) ?? 0)) return;
      if (seqDiff(p.seqNr, (ackNr + maxReorder) & 0xffff) > 0) return;
      const len = p.payload.length;
      if (p.seqNr === ((ackNr + 1) & 0xffff)) {
        if (reorderBytes + len <= capacity) {
          received += len;
          ackNr = p.seqNr;
          for (let next = (ackNr + 1) & 0xffff; reorder.has(next); next = (ackNr + 1) & 0xffff) {
            const n = reorder.get(next)!;
            reorder.delete(next);
            reorderBytes -= n;
            received += n;
            ackNr = next;
          }
        }
      } else if (seqDiff(p.seqNr, ackNr) > 0 && !reorder.has(p.seqNr) && reorderBytes + len <= capacity) {
        reorder.set(p.seqNr, len);
        reorderBytes += len;
      }
      state();
    },
  };
}

test('a lost packet whose resend is lost too is still delivered to a receiver whose buffer holds its reorder queue (the libtorrent stall)', () => {
  const clock = new ManualClock(1_000_000);
  const toPeer: Buffer[] = [];
  const toUs: UtpPacket[] = [];
  const hooks: UtpHooks = {
    send: (dg) => { toPeer.push(dg); }, onConnect: () => {}, onData: () => {}, onEnd: () => {}, onDrain: () => {}, onClose: () => {},
  };
  const conn = UtpConnection.connect({ now: clock.now, recvId: 1000, sendId: 1001, seqNr: 1, hooks });
  const peer = libtorrentLikeReceiver((p) => toUs.push(p), 20, clock.now);
  const size = 4 * 1024 * 1024;
  // The 1000th data packet (sent when slow start has grown cwnd far past the peer's buffer) and every resend of it for
  // 300 ms are lost (a burst of drops on a full loopback socket buffer): meanwhile the rest is sent and buffered out
  // of order, and the hole's later resends must still fit in the peer's buffer.
  peer.lose(1 + 1000, clock.now() + 300);
  let written = 0;
  const nowUs = (): number => Math.floor(clock.now() * 1000) >>> 0;
  const end = clock.now() + 10_000;
  while (peer.received < size && clock.now() < end) {
    while (written < size && conn.writableLength < 256 * 1024) { conn.write(Buffer.alloc(16384)); written += 16384; }
    conn.flush();
    // Bounded: a stalled sender and this zero-delay peer can ping-pong resends and ACKs for ever within one step.
    for (let rounds = 0; rounds < 50 && (toPeer.length > 0 || toUs.length > 0); rounds++) {
      for (const dg of toPeer.splice(0)) { const r = decodePacket(dg); assert.ok(r.ok); peer.onPacket(r.packet); }
      for (const p of toUs.splice(0)) conn.receive(p, nowUs());
    }
    clock.advance(1);
    if (clock.now() % 10 === 0) conn.tick();
  }
  assert.equal(peer.received, size, `stalled: the peer holds ${peer.received} of ${size} bytes in order, ` +
    `${peer.reorderBytes} out of order; ${conn.debugState()}`);
  assert.ok(clock.now() < end - 5_000, `took ${clock.now() - (end - 10_000)} ms of virtual time`);
});

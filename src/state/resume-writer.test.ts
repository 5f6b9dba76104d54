import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResumeWriter, type WriterTimers } from './resume-writer.js';
import type { ResumeData } from './resume-codec.js';
import { Bitfield } from '../util/bitfield.js';
import { isBtError } from '../util/errors.js';

/** A manual clock: timers fire only inside `advance`. */
class FakeTimers implements WriterTimers {
  t = 0;
  private seq = 0;
  private queue: Array<{ at: number; id: number; fn: () => void }> = [];
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.queue.push({ at: this.t + ms, id, fn });
    return id;
  }
  clearTimeout(handle: unknown): void { this.queue = this.queue.filter((x) => x.id !== handle); }
  now(): number { return this.t; }
  get pendingTimers(): number { return this.queue.length; }
  /** Move time forward by `ms`, firing due timers in order and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.queue[0];
      if (!next || next.at > end) break;
      this.queue.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

function data(n: number): ResumeData {
  return {
    version: 1, infoHash: Buffer.alloc(20), savePath: '/x', paused: false, queuePosition: 0, addedAt: 0,
    uploaded: n, downloaded: 0, pieces: new Bitfield(1), files: [], wanted: [], priorities: [], peers: [],
    uploadLimit: 0, downloadLimit: 0,
  };
}

/** A writer over fake timers that records every write (time, torrent, `uploaded` of the snapshot). */
function harness(opts: { slow?: boolean; intervalMs?: number; maxConcurrent?: number } = {}) {
  const timers = new FakeTimers();
  const state = new Map<string, number>();
  const writes: Array<{ t: number; hex: string; value: number }> = [];
  const errors: Array<[string, unknown]> = [];
  const gates: Array<ReturnType<typeof deferred>> = [];
  let running = 0;
  let maxRunning = 0;
  let failNext: unknown = null;
  const writer = new ResumeWriter({
    intervalMs: opts.intervalMs ?? 5000,
    timers,
    snapshot: (hex) => (state.has(hex) ? data(state.get(hex)!) : null),
    save: async (hex, d) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (opts.slow) {
          const g = deferred();
          gates.push(g);
          await g.promise;
        }
        if (failNext !== null) {
          const e = failNext;
          failNext = null;
          throw e;
        }
        writes.push({ t: timers.now(), hex, value: d.uploaded });
      } finally {
        running--;
      }
    },
    onError: (hex, e) => errors.push([hex, e]),
    ...(opts.maxConcurrent !== undefined ? { maxConcurrent: opts.maxConcurrent } : {}),
  });
  return {
    timers, state, writes, errors, gates, writer,
    get maxRunning() { return maxRunning; },
    failNextWith(e: unknown) { failNext = e; },
  };
}

test('many markDirty calls coalesce into one write carrying the state at write time', async () => {
  const h = harness();
  h.state.set('a', 1);
  h.writer.markDirty('a');
  h.state.set('a', 2);
  h.writer.markDirty('a');
  h.writer.markDirty('a');
  h.state.set('a', 3);
  await h.timers.advance(0);
  assert.deepEqual(h.writes, [{ t: 0, hex: 'a', value: 3 }]);
  await h.timers.advance(60_000);
  assert.equal(h.writes.length, 1, 'nothing more to write');
  assert.equal(h.writer.pending, 0);
  assert.equal(h.timers.pendingTimers, 0);
});

test('throttle: at most one write per interval per torrent, measured from the previous write start', async () => {
  const h = harness();
  h.state.set('a', 1);
  h.state.set('b', 1);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  await h.timers.advance(1000);
  h.state.set('a', 2);
  h.writer.markDirty('a');
  h.writer.markDirty('b'); // another torrent is not held back by a's throttle
  await h.timers.advance(0);
  assert.deepEqual(h.writes.map((w) => [w.t, w.hex, w.value]), [[0, 'a', 1], [1000, 'b', 1]]);
  await h.timers.advance(3999);
  assert.equal(h.writes.length, 2, 'a not written before 5000');
  await h.timers.advance(1);
  assert.deepEqual(h.writes.at(-1), { t: 5000, hex: 'a', value: 2 });
  // Steady stream of changes: one write every 5 s.
  for (let t = 0; t < 20_000; t += 100) {
    h.writer.markDirty('a');
    await h.timers.advance(100);
  }
  const times = h.writes.filter((w) => w.hex === 'a').map((w) => w.t);
  for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 5000, `writes at ${times.join(',')}`);
  assert.deepEqual(times, [0, 5000, 10_000, 15_000, 20_000, 25_000]);
});

test('flush writes at once, ignoring the throttle, and waits for the write', async () => {
  const h = harness({ slow: true });
  h.state.set('a', 1);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  h.gates.shift()!.resolve();
  await h.timers.advance(10);
  assert.equal(h.writes.length, 1);
  h.state.set('a', 2);
  let flushed = false;
  const f = h.writer.flush('a').then(() => { flushed = true; });
  await settle();
  assert.equal(flushed, false, 'flush waits for the write to finish');
  assert.equal(h.gates.length, 1, 'the write started at once (t=10 < 5000)');
  h.gates.shift()!.resolve();
  await f;
  assert.deepEqual(h.writes.at(-1), { t: 10, hex: 'a', value: 2 });
});

test('never two writes of one torrent at once; a flush during a write gets a new write after it', async () => {
  const h = harness({ slow: true });
  h.state.set('a', 1);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  assert.equal(h.gates.length, 1);
  h.state.set('a', 2);
  const f = h.writer.flush('a');
  h.writer.markDirty('a');
  await settle();
  assert.equal(h.gates.length, 1, 'no second write while the first runs');
  h.gates.shift()!.resolve();
  await settle();
  assert.equal(h.gates.length, 1, 'the flush write starts right after');
  h.state.set('a', 3);
  h.gates.shift()!.resolve();
  await f;
  assert.deepEqual(h.writes.map((w) => w.value), [1, 2]); // the flush's snapshot was taken when it started
  assert.equal(h.maxRunning, 1);
  await h.timers.advance(60_000);
  assert.equal(h.gates.length, 0, 'the markDirty made during the first write was covered by the flush write');
});

test('flush() with no argument writes every torrent with anything pending, concurrently across torrents', async () => {
  const h = harness();
  for (const k of ['a', 'b', 'c']) { h.state.set(k, 7); h.writer.markDirty(k); }
  await h.timers.advance(0);
  h.writer.markDirty('b');
  h.writer.markDirty('c');
  await h.writer.flush();
  assert.deepEqual(h.writes.map((w) => w.hex).sort(), ['a', 'b', 'b', 'c', 'c']);
  await h.timers.advance(60_000);
  assert.equal(h.writes.length, 5);
});

test('a failed background write is reported and retried after the interval; a failed flush rejects', async () => {
  const h = harness();
  h.state.set('a', 1);
  h.failNextWith(new Error('disk full'));
  h.writer.markDirty('a');
  await h.timers.advance(0);
  assert.equal(h.writes.length, 0);
  assert.equal(h.errors.length, 1);
  assert.equal((h.errors[0]![1] as Error).message, 'disk full');
  await h.timers.advance(4999);
  assert.equal(h.writes.length, 0);
  await h.timers.advance(1);
  assert.deepEqual(h.writes, [{ t: 5000, hex: 'a', value: 1 }]);

  h.failNextWith(new Error('EIO'));
  await assert.rejects(h.writer.flush('a'), /EIO/);
  assert.equal(h.errors.length, 1, 'a flush failure goes to the caller, not onError');
});

test('snapshot returning null (torrent gone) writes nothing; forget cancels a pending write', async () => {
  const h = harness();
  h.writer.markDirty('gone');
  await h.timers.advance(0);
  assert.equal(h.writes.length, 0);
  h.state.set('a', 1);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  h.writer.markDirty('a'); // throttled: pending until 5000
  assert.equal(h.timers.pendingTimers, 1);
  await h.writer.forget('a');
  assert.equal(h.timers.pendingTimers, 0);
  await h.timers.advance(60_000);
  assert.equal(h.writes.length, 1);
});

test('forget waits for a running write, so nothing is written after it returns', async () => {
  const h = harness({ slow: true });
  h.state.set('a', 1);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  let forgotten = false;
  const f = h.writer.forget('a').then(() => { forgotten = true; });
  await settle();
  assert.equal(forgotten, false);
  h.gates.shift()!.resolve();
  await f;
  const n = h.writes.length;
  await h.timers.advance(60_000);
  assert.equal(h.writes.length, n);
});

test('close flushes everything pending, then ignores markDirty and rejects flush', async () => {
  const h = harness();
  h.state.set('a', 1);
  h.state.set('b', 2);
  h.writer.markDirty('a');
  await h.timers.advance(0);
  h.state.set('a', 5);
  h.writer.markDirty('a'); // throttled
  h.writer.markDirty('b');
  await Promise.all([h.writer.close(), h.writer.close()]);
  assert.deepEqual(h.writes.map((w) => [w.hex, w.value]).sort(), [['a', 1], ['a', 5], ['b', 2]]);
  assert.equal(h.timers.pendingTimers, 0);
  h.writer.markDirty('a');
  await h.timers.advance(60_000);
  assert.equal(h.writes.length, 3);
  await assert.rejects(h.writer.flush('a'), (e: unknown) => isBtError(e, 'ABORTED'));
});

test('real timers: a short interval throttles and the pending timer does not hold the process', async () => {
  const writes: number[] = [];
  const start = Date.now();
  const w = new ResumeWriter({
    intervalMs: 60,
    snapshot: () => data(0),
    save: async () => { writes.push(Date.now() - start); },
  });
  w.markDirty('a');
  await new Promise((r) => setTimeout(r, 10));
  w.markDirty('a');
  w.markDirty('a');
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(writes.length, 2);
  assert.ok(writes[1]! - writes[0]! >= 55, `writes at ${writes.join(',')}`);
  w.markDirty('a'); // left pending on purpose: an unref'd timer
  await w.close();
  assert.equal(writes.length, 3);
});

test('maxConcurrent: writes of many torrents run a few at a time, first come first served, and all complete', async () => {
  const h = harness({ slow: true, maxConcurrent: 2 });
  const hexes = ['a', 'b', 'c', 'd', 'e'];
  for (const [i, hex] of hexes.entries()) { h.state.set(hex, i); h.writer.markDirty(hex); }
  await h.timers.advance(0);
  assert.equal(h.gates.length, 2, 'only two writes started');
  const flushed = h.writer.flush('a'); // a is being written: its flush needs a second write, queued behind the others
  for (let guard = 0; h.writes.length < hexes.length + 1 && guard < 100; guard++) {
    const g = h.gates.shift();
    if (g) g.resolve();
    await h.timers.advance(0);
    assert.ok(h.maxRunning <= 2);
  }
  await flushed;
  assert.deepEqual(h.writes.map((w) => w.hex), [...hexes, 'a'], 'FIFO order, then the flush of a');
  assert.equal(h.maxRunning, 2);
  assert.throws(() => new ResumeWriter({ save: async () => {}, snapshot: () => null, maxConcurrent: 0 }), RangeError);
});

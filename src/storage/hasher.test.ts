import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as os from 'node:os';
import { HashPool, allocShared, isShared } from './hasher.js';
import { isBtError } from '../util/errors.js';

const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

for (const inlineMaxBytes of [0, 64 * 1024]) test(`HashPool matches node:crypto for plain, shared, sliced and empty buffers (inline up to ${inlineMaxBytes} bytes)`, async () => {
  const pool = new HashPool({ workers: 2, inlineMaxBytes });
  try {
    const inputs: Buffer[] = [Buffer.alloc(0), Buffer.from('abc')];
    for (const n of [1, 63, 64, 65, 16384, 1 << 20, 3_000_001]) inputs.push(randomBytes(n));
    for (const n of [0, 7, 1 << 20]) {
      const s = allocShared(n);
      randomBytes(n).copy(s);
      assert.ok(isShared(s));
      inputs.push(s);
    }
    const big = allocShared(100_000);
    randomBytes(100_000).copy(big);
    inputs.push(big.subarray(123, 45_678)); // a shared view with an offset
    inputs.push(randomBytes(5000).subarray(17, 4000)); // a plain view with an offset
    const got = await Promise.all(inputs.map((b) => pool.sha1(b)));
    inputs.forEach((b, i) => assert.deepEqual(got[i], sha1(b), `input ${i}`));
    assert.equal(sha1(Buffer.from('abc')).toString('hex'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
    // The caller's buffers are intact (not detached, not modified).
    const plain = inputs[4]!;
    assert.equal(plain.length, 64);
    assert.equal(plain.buffer.byteLength > 0, true, 'not detached');
    assert.ok(await pool.verify(plain, sha1(plain)));
    assert.ok(!(await pool.verify(plain, Buffer.alloc(20))));
    // Chunked hashing, last chunk short.
    const data = randomBytes(10 * 1000 + 333);
    const chunks = await pool.sha1Chunks(data, 1000);
    assert.equal(chunks.length, 11 * 20);
    for (let k = 0; k < 11; k++) assert.deepEqual(chunks.subarray(20 * k, 20 * k + 20), sha1(data.subarray(k * 1000, (k + 1) * 1000)));
  } finally {
    await pool.close();
  }
});

test('HashPool: worker count is capped and defaults to min(4, cores)', async () => {
  assert.equal(new HashPool().size, Math.max(1, Math.min(4, os.availableParallelism())));
  assert.throws(() => new HashPool({ workers: -1 }), RangeError);
  assert.throws(() => new HashPool({ workers: 1.5 }), RangeError);
  const pool = new HashPool({ workers: 3 });
  assert.equal(pool.liveWorkers, 0, 'workers start on demand');
  const bufs = Array.from({ length: 20 }, () => randomBytes(200_000));
  const p = Promise.all(bufs.map((b) => pool.sha1(b)));
  assert.equal(pool.liveWorkers, 3);
  assert.equal(pool.pending, 20);
  const got = await p;
  bufs.forEach((b, i) => assert.deepEqual(got[i], sha1(b)));
  assert.equal(pool.liveWorkers, 3);
  assert.equal(pool.pending, 0);
  await pool.close();
  assert.equal(pool.liveWorkers, 0);
});

test('HashPool.close rejects pending jobs with ABORTED and later calls too', async () => {
  const pool = new HashPool({ workers: 1 });
  const jobs = Array.from({ length: 6 }, () => pool.sha1(randomBytes(4 << 20)));
  const settled = Promise.allSettled(jobs);
  await pool.close();
  const results = await settled;
  assert.ok(results.some((r) => r.status === 'rejected'));
  for (const r of results) if (r.status === 'rejected') assert.ok(isBtError(r.reason, 'ABORTED'));
  await assert.rejects(pool.sha1(Buffer.from('x')), (e) => isBtError(e, 'ABORTED'));
  await pool.close(); // idempotent
});

test('HashPool: a dying worker rejects its jobs and is replaced', async () => {
  const pool = new HashPool({ workers: 1 });
  try {
    const job = pool.sha1(randomBytes(8 << 20));
    const internals = pool as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> };
    assert.equal(internals.slots.length, 1);
    await internals.slots[0]!.worker.terminate();
    await assert.rejects(job, (e) => isBtError(e, 'IO') && /hash worker failed/.test(e.message));
    const b = randomBytes(100_000); // over the inline limit: a worker hashes it
    assert.deepEqual(await pool.sha1(b), sha1(b));
    assert.equal(pool.liveWorkers, 1);
  } finally {
    await pool.close();
  }
});

test('an idle, unclosed HashPool does not keep the process alive', () => {
  const url = new URL('./hasher.js', import.meta.url).href;
  const script = `import { HashPool } from ${JSON.stringify(url)};
    const pool = new HashPool({ workers: 2, inlineMaxBytes: 0 });
    const d = await pool.sha1(Buffer.from('abc'));
    console.log(d.toString('hex'));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8',
    cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.equal(r.error, undefined, 'the child must exit by itself');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'a9993e364706816aba3e25717850c26c9cd0d89d');
});

test('HashPool with 0 workers hashes on the calling thread: same digests, no thread, settled in a microtask', async () => {
  const pool = new HashPool({ workers: 0 });
  const data = randomBytes(10 * 1000 + 333);
  let settled = false;
  const whole = pool.sha1(data).then((d) => { settled = true; return d; });
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.ok(settled, 'settled without waiting for any I/O or thread');
  assert.deepEqual(await whole, sha1(data));
  const chunks = await pool.sha1Chunks(data, 1000);
  for (let k = 0; k < 11; k++) assert.deepEqual(chunks.subarray(20 * k, 20 * k + 20), sha1(data.subarray(k * 1000, (k + 1) * 1000)));
  assert.ok(await pool.verify(data, sha1(data)));
  assert.equal(pool.liveWorkers, 0, 'no worker was started');
  await pool.close();
  await assert.rejects(pool.sha1(data), (e: unknown) => isBtError(e, 'ABORTED'));
});

test('HashPool hashes jobs up to inlineMaxBytes on the calling thread (no worker started), bigger ones on a worker', async () => {
  const pool = new HashPool({ workers: 2 });
  try {
    const small = randomBytes(64 * 1024);
    let settled = false;
    const p = pool.sha1Chunks(small, 16 * 1024).then((d) => { settled = true; return d; });
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.ok(settled, 'a 64 KiB job settles without a thread');
    const d = await p;
    for (let k = 0; k < 4; k++) assert.deepEqual(d.subarray(20 * k, 20 * k + 20), sha1(small.subarray(k * 16384, (k + 1) * 16384)));
    assert.equal(pool.liveWorkers, 0, 'no worker for small jobs');
    const big = randomBytes(64 * 1024 + 1);
    assert.deepEqual(await pool.sha1(big), sha1(big));
    assert.equal(pool.liveWorkers, 1, 'a bigger job starts a worker');
  } finally {
    await pool.close();
  }
  const tiny = new HashPool({ workers: 1, inlineMaxBytes: 10 });
  try {
    const b = randomBytes(11);
    assert.deepEqual(await tiny.sha1(b), sha1(b));
    assert.equal(tiny.liveWorkers, 1, 'inlineMaxBytes is honoured');
  } finally {
    await tiny.close();
  }
});

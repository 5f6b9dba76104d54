import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileHandle } from 'node:fs/promises';
import { FdPool } from './fd-pool.js';
import { isBtError } from '../util/errors.js';

/** A fake opener that records every handle and how many are open at once. */
function fakeFs(opts: { readOnlyFirst?: boolean; failIndex?: number } = {}) {
  const state = { open: 0, peak: 0, opens: [] as Array<{ index: number; write: boolean }>, closedWhileBusy: 0 };
  const busy = new Set<object>();
  const opener = async (index: number, write: boolean) => {
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    if (index === opts.failIndex) throw Object.assign(new Error('ENOENT: nope'), { code: 'ENOENT' });
    state.open++;
    state.peak = Math.max(state.peak, state.open);
    state.opens.push({ index, write });
    const handle = {
      async close() {
        if (busy.has(handle)) state.closedWhileBusy++;
        await new Promise((r) => setTimeout(r, Math.random() * 3));
        state.open--;
      },
    };
    return { handle: handle as unknown as FileHandle, writable: opts.readOnlyFirst ? write : true };
  };
  const work = (h: FileHandle) => async () => {
    busy.add(h);
    await new Promise((r) => setTimeout(r, Math.random() * 4));
    busy.delete(h);
  };
  return { state, opener, work };
}

test('FdPool: the cap holds under concurrency and busy handles are never closed', async () => {
  const fake = fakeFs();
  const pool = new FdPool(3, fake.opener);
  const ops = Array.from({ length: 200 }, (_, k) => pool.use(k % 11, k % 3 === 0, (h) => fake.work(h)()));
  await Promise.all(ops);
  assert.ok(fake.state.peak <= 3, `peak ${fake.state.peak}`);
  assert.ok(pool.peakOpen <= 3);
  assert.equal(fake.state.closedWhileBusy, 0);
  await pool.close();
  assert.equal(fake.state.open, 0);
  await assert.rejects(pool.use(0, false, async () => 1), (e) => isBtError(e, 'ABORTED'));
});

test('FdPool: a read-only handle is reopened for writing once idle; the handle is reused by LRU', async () => {
  const fake = fakeFs({ readOnlyFirst: true });
  const pool = new FdPool(2, fake.opener);
  const reads = [pool.use(0, false, (h) => fake.work(h)()), pool.use(0, false, (h) => fake.work(h)())];
  const write = pool.use(0, true, (h) => fake.work(h)());
  await Promise.all([...reads, write]);
  assert.deepEqual(fake.state.opens, [{ index: 0, write: false }, { index: 0, write: true }]);
  assert.equal(fake.state.closedWhileBusy, 0);
  await pool.use(0, false, async () => undefined); // the writable handle serves reads too
  assert.equal(fake.state.opens.length, 2);
  await pool.use(1, false, async () => undefined);
  await pool.use(0, false, async () => undefined); // 0 most recent now
  await pool.use(2, false, async () => undefined); // evicts 1, the least recently used
  await pool.use(0, false, async () => undefined);
  assert.equal(fake.state.opens.filter((o) => o.index === 0).length, 2, 'file 0 stayed open');
  await pool.close();
  assert.equal(fake.state.open, 0);
});

test('FdPool: a failed open frees its slot; close waits for operations in flight', async () => {
  const fake = fakeFs({ failIndex: 5 });
  const pool = new FdPool(1, fake.opener);
  await assert.rejects(pool.use(5, false, async () => 1), /ENOENT/);
  assert.equal(pool.openCount, 0);
  let finished = false;
  let started!: () => void;
  const began = new Promise<void>((r) => { started = r; });
  const op = pool.use(1, true, async () => { started(); await new Promise((r) => setTimeout(r, 20)); finished = true; });
  await began;
  await pool.close();
  assert.ok(finished);
  await op;
  assert.equal(fake.state.open, 0);
  assert.throws(() => new FdPool(0, fake.opener), RangeError);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteBackPlan } from './write-back.js';
import { FsStorage } from './fs-storage.js';
import { RawFile } from './raw-file.js';
import { makeMeta, pieceOf } from '../../test/support/test-meta.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('write-back');

test('WriteBackPlan: a sweep is due after `bytes` written, one at a time, and covers what was noted before it began', () => {
  const now = 0;
  const plan = new WriteBackPlan({ bytes: 100, ageMs: 1000, now: () => now });
  assert.equal(plan.note(40), false);
  assert.equal(plan.note(0), false, 'an empty write changes nothing');
  assert.equal(plan.note(59), false);
  assert.equal(plan.note(1), true, '100 bytes pending');
  plan.begin();
  assert.equal(plan.pendingBytes, 0, 'the sweep covers everything noted so far');
  assert.equal(plan.note(500), false, 'never two sweeps at once');
  assert.equal(plan.sweeping, true);
  assert.equal(plan.end(), true, 'enough was written during the sweep: the next one is due at once');
  plan.begin();
  assert.equal(plan.end(), false, 'nothing written meanwhile');
  assert.throws(() => new WriteBackPlan({ bytes: 0 }), RangeError);
});

test('WriteBackPlan: an old uncovered write makes a sweep due at the next write', () => {
  let now = 0;
  const plan = new WriteBackPlan({ bytes: 1e9, ageMs: 500, now: () => now });
  assert.equal(plan.note(10), false);
  now = 499;
  assert.equal(plan.note(10), false);
  now = 500;
  assert.equal(plan.note(10), true, 'the first uncovered write is 500 ms old');
  plan.begin();
  now = 2000;
  assert.equal(plan.note(10), false, 'the age counts from the first write after the sweep began, not the last sweep');
  now = 2400;
  plan.end();
  now = 2500;
  assert.equal(plan.note(1), true);
});

/** Record every datasync (file descriptor, start and end order) and let the test hold them open. */
function instrumentDatasync() {
  const original = RawFile.prototype.datasync;
  const log: string[] = [];
  let hold: Promise<void> | null = null;
  let release: () => void = () => undefined;
  RawFile.prototype.datasync = async function (this: RawFile) {
    log.push('sync-start');
    if (hold) await hold;
    await original.call(this);
    log.push('sync-end');
  };
  return {
    log,
    holdSyncs() { hold = new Promise<void>((r) => { release = () => { hold = null; r(); }; }); },
    release: () => release(),
    restore() { RawFile.prototype.datasync = original; },
  };
}

test('flush waits for a background sync in flight and syncs again what was written after it began', async (t) => {
  const spy = instrumentDatasync();
  t.after(() => spy.restore());
  const { meta, data } = makeMeta({ name: 'wb.bin', pieceLength: 1024, length: 4096 });
  // Every write makes a sweep due.
  const s = await FsStorage.open(meta, tmpDir(), { writeBack: { bytes: 1, ageMs: 0 } });
  spy.holdSyncs();
  await s.writePiece(0, pieceOf(meta, data, 0));
  assert.deepEqual(spy.log, ['sync-start'], 'the write started a background sync');
  spy.log.push('write-1');
  await s.writePiece(1, pieceOf(meta, data, 1)); // lands while that sync is in flight: not covered by it
  let flushed = false;
  const flushing = s.flush().then(() => { flushed = true; spy.log.push('flushed'); });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(flushed, false, 'flush waits for the sync in flight');
  spy.release();
  await flushing;
  // After piece 1 was written, a sync began and ended before flush resolved.
  const w = spy.log.indexOf('write-1');
  const later = spy.log.slice(w);
  assert.ok(later.includes('sync-start') && later.lastIndexOf('sync-end') < later.indexOf('flushed'), spy.log.join(' '));
  assert.equal(spy.log.filter((e) => e === 'sync-start').length, spy.log.filter((e) => e === 'sync-end').length);
  await s.close();
});

test('flush does not resolve while the sync that covers an earlier write is still in flight', async (t) => {
  const spy = instrumentDatasync();
  t.after(() => spy.restore());
  const { meta, data } = makeMeta({ name: 'wb2.bin', pieceLength: 1024, length: 2048 });
  const s = await FsStorage.open(meta, tmpDir(), { writeBack: { bytes: 1, ageMs: 0 } });
  spy.holdSyncs();
  await s.writePiece(0, pieceOf(meta, data, 0)); // its file is no longer dirty: the background sync took it
  let flushed = false;
  const flushing = s.flush().then(() => { flushed = true; });
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(flushed, false, 'the write is not durable yet');
  spy.release();
  await flushing;
  assert.deepEqual(spy.log, ['sync-start', 'sync-end']);
  await s.close();
});

test('close makes every write durable (no write-back: one datasync per written file), then closes', async (t) => {
  const spy = instrumentDatasync();
  t.after(() => spy.restore());
  const { meta, data } = makeMeta({ name: 'multi', pieceLength: 64, files: [
    { path: ['a'], length: 100 }, { path: ['b'], length: 28 }, { path: ['c'], length: 64 },
  ] });
  const s = await FsStorage.open(meta, tmpDir(), { writeBack: false });
  await s.writePiece(0, pieceOf(meta, data, 0));
  await s.writePiece(1, pieceOf(meta, data, 1)); // bytes 64..127: files a and b
  assert.deepEqual(spy.log, [], 'nothing synced in the background');
  await s.close();
  assert.equal(spy.log.filter((e) => e === 'sync-end').length, 2, 'files a and b, not c (never written)');
  await s.close(); // idempotent
  assert.equal(spy.log.filter((e) => e === 'sync-end').length, 2);
});

test('a read-only storage never syncs', async (t) => {
  const spy = instrumentDatasync();
  t.after(() => spy.restore());
  const { meta, data } = makeMeta({ name: 'ro.bin', pieceLength: 1024, length: 2048 });
  const dir = tmpDir();
  const w = await FsStorage.open(meta, dir, { writeBack: false });
  await w.writePiece(0, pieceOf(meta, data, 0));
  await w.close();
  spy.log.length = 0;
  const r = await FsStorage.open(meta, dir, { readOnly: true });
  assert.deepEqual(await r.readPiece(0), pieceOf(meta, data, 0));
  await r.close();
  assert.deepEqual(spy.log, []);
});

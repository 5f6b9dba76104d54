// readFile's reader (file-reader.ts) on a stub torrent: exact bytes across piece boundaries, the window aimed at each
// piece before its wait, no byte before its piece is verified, and the stream closed on every way out (end, break,
// abort); bad ranges fail at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Torrent } from '../session/torrent.js';
import { isBtError } from '../util/errors.js';
import { readTorrentFile } from './file-reader.js';

const PL = 100;
const DATA = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 13) & 0xff));

function stub() {
  const log: string[] = [];
  const verified = new Set<number>();
  const waiting = new Map<number, Array<() => void>>();
  let open = 0;
  const t = {
    meta: { pieceLength: PL, files: [{ offset: 0, length: 250 }, { offset: 250, length: 750 }] },
    streaming: {
      open: (first: number, last: number) => { open++; log.push(`open ${first}-${last}`); return 7; },
      aim: (_id: number, piece: number) => { log.push(`aim ${piece}`); },
      close: () => { open--; log.push('close'); },
      waitPiece: (piece: number, signal?: AbortSignal) => {
        if (verified.has(piece)) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const list = waiting.get(piece) ?? [];
          list.push(resolve);
          waiting.set(piece, list);
          signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { code: 'ABORTED' })), { once: true });
        });
      },
    },
    readData: (piece: number, begin: number, length: number) => {
      assert.ok(verified.has(piece), `read of unverified piece ${piece}`);
      return Promise.resolve(DATA.subarray(piece * PL + begin, piece * PL + begin + length));
    },
  } as unknown as Torrent;
  const verify = (i: number): void => { verified.add(i); for (const r of waiting.get(i) ?? []) r(); waiting.delete(i); };
  return { t, log, verify, open: () => open };
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return Buffer.concat(out);
}

test('the bytes of the range, piece by piece, each after its piece is verified; the stream is closed at the end', async () => {
  const s = stub();
  for (let i = 0; i < 10; i++) s.verify(i);
  const got = await collect(readTorrentFile(s.t, 1, { start: 40, end: 460 })); // torrent bytes 290..710: pieces 2..7
  assert.ok(got.equals(DATA.subarray(290, 710)));
  assert.deepEqual(s.log, ['open 2-7', 'aim 2', 'aim 3', 'aim 4', 'aim 5', 'aim 6', 'aim 7', 'close']);
  assert.ok((await collect(readTorrentFile(s.t, 0))).equals(DATA.subarray(0, 250)));
  assert.equal((await collect(readTorrentFile(s.t, 0, { start: 250 }))).length, 0);
  assert.equal(s.open(), 0);
});

test('a read waits for its piece; breaking out and aborting both close the stream', async () => {
  const s = stub();
  const it = readTorrentFile(s.t, 1, {})[Symbol.asyncIterator]();
  const first = it.next();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.log, ['open 2-9', 'aim 2']);
  s.verify(2);
  const r = await first;
  assert.ok(r.value!.equals(DATA.subarray(250, 300)));
  await it.return!(undefined);
  assert.equal(s.open(), 0, 'break closes');

  const ac = new AbortController();
  const reading = collect(readTorrentFile(s.t, 1, { signal: ac.signal }));
  await new Promise((r) => setImmediate(r));
  ac.abort();
  await assert.rejects(reading, /aborted/);
  assert.equal(s.open(), 0, 'abort closes');
});

test('bad file indices and ranges fail at once, before any stream opens', () => {
  const s = stub();
  assert.throws(() => readTorrentFile(s.t, 2), (e) => isBtError(e, 'NOT_FOUND'));
  assert.throws(() => readTorrentFile(s.t, -1), (e) => isBtError(e, 'NOT_FOUND'));
  assert.throws(() => readTorrentFile(s.t, 0, { start: 10, end: 5 }), (e) => isBtError(e, 'USAGE'));
  assert.throws(() => readTorrentFile(s.t, 0, { end: 251 }), (e) => isBtError(e, 'USAGE'));
  assert.throws(() => readTorrentFile(s.t, 0, { start: 1.5 }), (e) => isBtError(e, 'USAGE'));
  assert.deepEqual(s.log, []);
});

/**
 * UploadServer: whole-piece reads for sequential requests served from the cache, single-block reads for random
 * ones, and piece buffers reused only after every socket released its blocks; backpressure over a real PeerConnection
 * whose stream never refuses a write (a uTP stream whose queue emptied before the batch landed) does not stall.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../storage/memory-storage.js';
import { makeMeta, pieceOf } from '../../test/support/test-meta.js';
import { TokenBucket } from '../util/token-bucket.js';
import { EventEmitter } from 'node:events';
import { PeerConnection } from '../wire/connection.js';
import type { PeerStream } from '../net/transport.js';
import { UploadServer, DEFAULT_UPLOAD_LIMITS } from './uploads.js';
import type { Peer } from './peer.js';

const PL = 65536; // 4 blocks per piece

interface Sent { piece: number; begin: number; block: Buffer; release: () => void }

/** Splits a run of framed piece messages into its blocks, checking each header; all share the run's `release`. */
function unframe(bytes: Buffer, release: () => void): Sent[] {
  const out: Sent[] = [];
  for (let at = 0; at < bytes.length;) {
    assert.ok(at + 13 <= bytes.length, 'a whole header');
    const len = bytes.readUInt32BE(at);
    assert.equal(bytes[at + 4], 7, 'a piece message');
    assert.ok(at + 4 + len <= bytes.length, 'a whole message');
    out.push({ piece: bytes.readUInt32BE(at + 5), begin: bytes.readUInt32BE(at + 9), block: bytes.subarray(at + 13, at + 4 + len), release });
    at += 4 + len;
  }
  return out;
}

function setup(cacheBytes: number, length = 8 * PL) {
  const { meta, data } = makeMeta({ pieceLength: PL, length });
  const storage = new MemoryStorage(meta);
  const calls = { readPiece: 0, read: 0 };
  const counting = {
    readPiece: async (i: number, into?: Buffer) => { calls.readPiece++; return storage.readPiece(i, into); },
    read: async (i: number, b: number, n: number) => { calls.read++; return storage.read(i, b, n); },
    writePiece: (i: number, d: Buffer) => storage.writePiece(i, d),
    close: () => storage.close(),
  };
  const sent: Sent[] = [];
  const runs: Buffer[] = [];
  const conn = {
    closed: false, writableLength: 0,
    send: () => undefined,
    sendPiece: (piece: number, begin: number, block: Buffer, release?: () => void) => {
      sent.push({ piece, begin, block, release: release ?? (() => undefined) });
    },
    sendFramed: (bytes: Buffer, release?: () => void) => {
      runs.push(bytes);
      sent.push(...unframe(bytes, release ?? (() => undefined)));
    },
  };
  const peer = { amChoking: false, fast: true, incoming: [], readsInFlight: 0, uploadWaitPiece: -1, uploadRetryScheduled: false, conn } as unknown as Peer;
  const server = new UploadServer({
    storage: counting, pieceLength: PL, havePiece: () => true, onUploadBytes: () => undefined,
    onStorageError: (e) => { throw e; }, uploadBucket: new TokenBucket({ rate: 0, now: Date.now }),
    schedule: (fn, ms) => { setTimeout(fn, ms); },
  }, { ...DEFAULT_UPLOAD_LIMITS, cacheBytes });
  return { meta, data, storage, calls, sent, runs, peer, server };
}

const settle = () => new Promise((r) => setTimeout(r, 5));

test('sequential requests: one whole-piece read, blocks served from the cache', async () => {
  const { meta, data, storage, calls, sent, runs, peer, server } = setup(4 * PL);
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  for (let b = 0; b < PL; b += 16384) server.onRequest(peer, 2, b, 16384);
  await settle();
  assert.equal(sent.length, 4);
  assert.equal(calls.readPiece, 1);
  assert.equal(calls.read, 0);
  for (const s of sent) assert.ok(s.block.equals(data.subarray(2 * PL + s.begin, 2 * PL + s.begin + 16384)));
  // All four were queued when the piece landed: they went out as one contiguous run of framed messages.
  assert.deepEqual(runs.map((r) => r.length), [4 * (16384 + 13)]);
});

test('queued runs are byte-exact: aligned runs, requests off the block grid, out of order, and a short last piece', async () => {
  const total = 5 * PL + 20000; // the last piece is 20000 bytes: one full block and one of 3616
  const { meta, data, storage, sent, peer, server } = setup(16 * PL, total);
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  const reqs: Array<[number, number, number]> = [
    [1, 0, 16384], [1, 16384, 16384], [1, 32768, 16384], [1, 49152, 16384], // one piece in order
    [2, 16384, 16384], [2, 0, 16384], [2, 49152, 16384], // out of order: no run across them
    [3, 0, 16384], [3, 1000, 5000], [3, 10000, 20000], [3, 65535, 1], // off the grid, across blocks
    [5, 0, 16384], [5, 16384, 3616], // the short last piece's blocks
    [5, 0, 20000], // one request spanning both blocks of it
    [4, 0, 8192], [4, 8192, 8192], // half blocks
  ];
  server.onRequest(peer, 0, 0, 16384); // piece 0 first: the others queue behind it while it loads
  for (const [p, b, n] of reqs) server.onRequest(peer, p, b, n);
  for (let k = 0; k < 20 && sent.length < reqs.length + 1; k++) await settle();
  assert.equal(sent.length, reqs.length + 1);
  assert.deepEqual(sent.map((s) => [s.piece, s.begin, s.block.length]), [[0, 0, 16384], ...reqs]);
  for (const s of sent) {
    const at = s.piece * PL + s.begin;
    assert.ok(s.block.equals(data.subarray(at, at + s.block.length)), `piece ${s.piece} at ${s.begin}`);
  }
});

test('a request past the end of a cached piece is rejected', async () => {
  const { meta, data, storage, sent, peer, server } = setup(4 * PL, 2 * PL + 1000);
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  const rejects: unknown[] = [];
  (peer.conn as unknown as { send: (m: unknown) => void }).send = (m) => { rejects.push(m); };
  server.onRequest(peer, 2, 0, 1000);
  server.onRequest(peer, 2, 0, 16384);
  for (let k = 0; k < 10 && sent.length + rejects.length < 2; k++) await settle();
  assert.equal(sent.length, 1);
  assert.ok(sent[0]!.block.equals(data.subarray(2 * PL, 2 * PL + 1000)));
  assert.deepEqual(rejects, [{ type: 'reject', index: 2, begin: 0, length: 16384 }]);
});

test('a random request for an uncached piece reads just that block', async () => {
  const { meta, data, storage, calls, sent, peer, server } = setup(4 * PL);
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  server.onRequest(peer, 5, 32768, 16384);
  await settle();
  assert.deepEqual([calls.readPiece, calls.read, sent.length], [0, 1, 1]);
  assert.ok(sent[0]!.block.equals(data.subarray(5 * PL + 32768, 5 * PL + 49152)));
});

test('an evicted piece buffer is not reused while a socket still holds one of its blocks', async () => {
  const { meta, data, storage, sent, peer, server } = setup(PL); // room for one piece
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  server.onRequest(peer, 0, 0, 16384);
  await settle();
  const held = sent[0]!; // not released yet
  for (let i = 1; i < 6; i++) {
    server.onRequest(peer, i, 0, 16384); // each load evicts the previous piece
    await settle();
    sent[i]!.release();
  }
  assert.ok(held.block.equals(data.subarray(0, 16384)), 'the unreleased block was never overwritten');
  held.release();
  for (let i = 6; i < 8; i++) {
    server.onRequest(peer, i, 0, 16384); // may reuse piece 0's buffer now
    await settle();
    const s = sent[i]!;
    assert.ok(s.block.equals(data.subarray(i * PL, i * PL + 16384)), `piece ${i} served intact`);
    s.release();
  }
});

/** A PeerStream that takes every write at once (returns true, holds nothing): no 'drain' ever comes. */
class SwallowingStream extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  readonly localAddress = '127.0.0.1';
  destroyed = false;
  writableLength = 0;
  bytes = 0;
  write(data: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.bytes += data.length;
    if (cb) process.nextTick(cb, null);
    return true;
  }
  end(): this { return this; }
  cork(): void { /* nothing to batch */ }
  uncork(): void { /* nothing to batch */ }
  pause(): this { return this; }
  resume(): this { return this; }
  setNoDelay(): this { return this; }
  destroy(): this { this.destroyed = true; return this; }
}

test('the upload side resumes after a batch that hit the write limit when the socket refused no write (issue 11 uTP+RC4 stall)', async () => {
  const { meta, data } = makeMeta({ pieceLength: PL, length: 8 * PL });
  const storage = new MemoryStorage(meta);
  for (let i = 0; i < meta.pieceCount; i++) await storage.writePiece(i, pieceOf(meta, data, i));
  const stream = new SwallowingStream();
  const holder: { peer?: Peer } = {};
  // The write limit is two blocks: each pump stops after two blocks, with the rest of the queue waiting for room.
  const server = new UploadServer({
    storage, pieceLength: PL, havePiece: () => true, onUploadBytes: () => undefined,
    onStorageError: (e) => { throw e; }, uploadBucket: new TokenBucket({ rate: 0, now: Date.now }),
    schedule: (fn, ms) => { setTimeout(fn, ms); },
  }, { ...DEFAULT_UPLOAD_LIMITS, writeHighWater: 2 * 16384 });
  const conn = new PeerConnection(stream as unknown as PeerStream, { pieceCount: meta.pieceCount, pieceLength: PL, totalLength: 8 * PL }, {
    onMessage: () => undefined,
    onClose: () => undefined,
    onDrain: () => { if (holder.peer) server.pump(holder.peer); },
  }, Date.now, undefined, { sharedReadBuffer: false });
  const peer = { amChoking: false, fast: true, incoming: [], readsInFlight: 0, uploadWaitPiece: -1, uploadRetryScheduled: false, conn } as unknown as Peer;
  holder.peer = peer;
  for (let piece = 0; piece < 4; piece++) for (let b = 0; b < PL; b += 16384) server.onRequest(peer, piece, b, 16384);
  const deadline = Date.now() + 2000;
  while (peer.incoming.length > 0 && Date.now() < deadline) await settle();
  await settle();
  assert.equal(peer.incoming.length, 0, `${peer.incoming.length} requests never served`);
  assert.equal(stream.bytes, 16 * (16384 + 13), 'every block and its 13-byte header written');
  conn.close({ op: 'read', code: 'EOF', message: 'test over' } as never);
});

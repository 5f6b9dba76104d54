/**
 * PeerConnection over real loopback sockets: reads into the shared reused buffer (both for a dialled and for an
 * accepted socket), batched writes, the release callbacks of sendPiece, and the cause a connection ends with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { PeerConnection } from './connection.js';
import { socketPair } from '../../test/support/socket-pair.js';
import { encodeMessage, encodePieceHeader, framePieceBlocks, type Message, type WireGeometry } from './codec/index.js';
import { EventEmitter } from 'node:events';
import type { PeerStream } from '../net/transport.js';
import { cause, type Cause } from '../util/errors.js';

const G: WireGeometry = { pieceCount: 64, pieceLength: 262144, totalLength: 64 * 262144 };

test('every block arrives intact through the shared read buffer, both directions', { timeout: 30_000 }, async () => {
  const { a, b, close } = await socketPair();
  try {
    const got: { a: Message[]; b: Message[] } = { a: [], b: [] };
    const checks: string[] = [];
    const handler = (side: 'a' | 'b') => ({
      onMessage: (m: Message) => {
        // Blocks are views into the reused buffer: check them now, as a real handler copies them now.
        if (m.type === 'piece') {
          const want = (m.index * 31 + m.begin / 16384) & 0xff;
          if (!m.block.every((x) => x === want)) checks.push(`${side}: block ${m.index}/${m.begin} corrupted`);
        }
        got[side].push(m.type === 'piece' ? { ...m, block: Buffer.alloc(0) } : m);
      },
      onClose: () => undefined,
    });
    const ca = new PeerConnection(a, G, handler('a'), Date.now);
    const cb = new PeerConnection(b, G, handler('b'), Date.now);
    assert.equal(typeof ca.userBuffer, 'boolean');
    if (process.env['BITPEER_NO_USER_BUFFER'] !== '1') {
      assert.ok(ca.userBuffer, 'a dialled socket reads into the shared buffer');
      assert.ok(cb.userBuffer, 'an accepted socket reads into the shared buffer');
    }
    let released = 0;
    const n = 64 * 16;
    for (const [conn] of [[ca], [cb]] as const) {
      for (let k = 0; k < n; k++) {
        const index = k >> 4;
        const begin = (k & 15) * 16384;
        const block = Buffer.alloc(16384, (index * 31 + (k & 15)) & 0xff);
        // Odd blocks go out pre-framed (sendFramed), even ones as header + block (sendPiece): same bytes on the wire.
        if (k & 1) conn.sendFramed(Buffer.concat([encodePieceHeader(index, begin, 16384), block]), () => { released++; });
        else conn.sendPiece(index, begin, block, () => { released++; });
        if (k % 7 === 0) conn.send({ type: 'have', index });
        if (k % 100 === 0) await new Promise((r) => setImmediate(r)); // spread over several ticks and reads
      }
    }
    const deadline = Date.now() + 20_000;
    while ((got.a.filter((m) => m.type === 'piece').length < n || got.b.filter((m) => m.type === 'piece').length < n) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(checks, []);
    for (const side of ['a', 'b'] as const) {
      const pieces = got[side].filter((m) => m.type === 'piece');
      assert.equal(pieces.length, n, `${side} got every block`);
      assert.equal(got[side].filter((m) => m.type === 'have').length, Math.ceil(n / 7));
    }
    assert.equal(released, 2 * n, 'every block was released once written');
  } finally {
    close();
  }
});

test('sendPiece releases blocks that were never written when the connection closes', async () => {
  const { a, close } = await socketPair();
  try {
    const conn = new PeerConnection(a, G, { onMessage: () => undefined, onClose: () => undefined }, Date.now);
    let released = 0;
    for (let k = 0; k < 10; k++) conn.sendPiece(0, k * 16384, Buffer.alloc(16384), () => { released++; });
    conn.close(cause('local', 'ABORTED', 'test')); // before the end-of-tick flush
    assert.equal(released, 10);
    conn.sendPiece(0, 0, Buffer.alloc(16384), () => { released++; });
    assert.equal(released, 11, 'a send after close releases at once');
  } finally {
    close();
  }
});

/** A connection on `a` whose onClose cause is awaited (bounded); `act` gets the other end. */
async function closedBy(act: (b: net.Socket, conn: PeerConnection) => void, onMessage: (m: Message) => void = () => undefined): Promise<Cause> {
  const { a, b, close } = await socketPair();
  try {
    let resolve!: (c: Cause) => void;
    const closed = new Promise<Cause>((r) => { resolve = r; });
    const conn = new PeerConnection(a, G, { onMessage, onClose: (c) => resolve(c) }, Date.now);
    act(b, conn);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no close within 5 s')), 5000); });
    try {
      const why = await Promise.race([closed, timeout]);
      assert.equal(conn.closeReason, why.message);
      assert.deepEqual(conn.closeCause, why);
      return why;
    } finally {
      clearTimeout(timer);
    }
  } finally {
    close();
  }
}

/** A PeerStream that records each write it is given (the chunks a corked socket would hand to one writev). */
class RecordingStream extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 1;
  readonly localAddress = '127.0.0.1';
  destroyed = false;
  writableLength = 0;
  writes: Buffer[] = [];
  write(data: Buffer, cb?: (err?: Error | null) => void): boolean {
    this.writes.push(Buffer.from(data)); // a copy: the test checks the bytes as they were at write time
    if (cb) process.nextTick(cb, null);
    return true;
  }
  end(): this { return this; }
  cork(): void { /* recorded per write */ }
  uncork(): void { /* recorded per write */ }
  pause(): this { return this; }
  resume(): this { return this; }
  setNoDelay(): this { return this; }
  destroy(): this { this.destroyed = true; return this; }
}

test('framed blocks that continue one another in memory are joined into one write, byte-exact, every release called', async () => {
  const data = Buffer.alloc(4 * 16384);
  for (let i = 0; i < data.length; i++) data[i] = (i * 11 + 1) & 0xff;
  const framed = framePieceBlocks(6, data, 16384);
  const step = 13 + 16384;
  const stream = new RecordingStream();
  const conn = new PeerConnection(stream as unknown as PeerStream, null, { onMessage: () => undefined, onClose: () => undefined },
    Date.now, undefined, { sharedReadBuffer: false });
  let released = 0;
  const release = (): void => { released++; };
  // Blocks 0 and 1 one by one (one run), a have, blocks 2 and 3 (a run again), then block 0 again (not contiguous).
  conn.sendFramed(framed.subarray(0, step), release);
  conn.sendFramed(framed.subarray(step, 2 * step), release);
  conn.send({ type: 'have', index: 6 });
  conn.sendFramed(framed.subarray(2 * step, 3 * step), release);
  conn.sendFramed(framed.subarray(3 * step, 4 * step), release);
  conn.sendFramed(framed.subarray(0, step), release);
  conn.sendPiece(6, 16384, data.subarray(16384, 32768), release);
  await new Promise((r) => setImmediate(r));
  const expected = Buffer.concat([framed.subarray(0, 2 * step), encodeMessage({ type: 'have', index: 6 }),
    framed.subarray(2 * step), framed.subarray(0, step), encodePieceHeader(6, 16384, 16384), data.subarray(16384, 32768)]);
  assert.deepEqual(Buffer.concat(stream.writes), expected, 'the same bytes, in order');
  assert.deepEqual(stream.writes.map((w) => w.length), [2 * step, 9, 2 * step, step, 13, 16384]);
  assert.equal(released, 6, 'each release called once');
  conn.close(cause('read', 'EOF', 'test over'));
});

test('a peer that closes its socket ends the connection with read/EOF', { timeout: 10_000 }, async () => {
  const why = await closedBy((b) => b.end());
  assert.deepEqual(why, { op: 'read', code: 'EOF', message: 'connection closed by peer' });
});

test('a message that breaks the protocol ends the connection with protocol/PROTOCOL', { timeout: 10_000 }, async () => {
  // `have` for piece 1000 of a 64-piece torrent: the decoder refuses it.
  const bad = Buffer.alloc(9);
  bad.writeUInt32BE(5, 0);
  bad[4] = 4;
  bad.writeUInt32BE(1000, 5);
  const why = await closedBy((b) => b.write(bad));
  assert.equal(why.op, 'protocol');
  assert.equal(why.code, 'PROTOCOL');
  assert.match(why.message, /^protocol error: /);
});

test('a handler bug ends the connection with protocol/INTERNAL, not a crash', { timeout: 10_000 }, async () => {
  const keepAlive = Buffer.alloc(4);
  const why = await closedBy((b) => b.write(keepAlive), () => { throw new TypeError('boom'); });
  assert.deepEqual(why, { op: 'protocol', code: 'INTERNAL', message: 'internal error: boom' });
});

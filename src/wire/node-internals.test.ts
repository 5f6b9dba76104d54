/**
 * The quarantined Node internal (src/wire/node-internals.ts) on the running Node, over real loopback sockets:
 * it works here and every byte arrives intact; when the feature probe fails, when a socket has no handle, or when
 * Node misbehaves (hands back another buffer), it falls back to the public 'data' path; and `sharedReadBuffer: false`
 * keeps a PeerConnection on the public path with its bytes intact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { SharedReadBuffer, sharedReadBuffer } from './node-internals.js';
import { PeerConnection } from './connection.js';
import { socketPair } from '../../test/support/socket-pair.js';
import type { Message } from './codec/index.js';

/** 1 MiB with a position-dependent pattern, so a lost, repeated or reordered byte shows. */
const PAYLOAD = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >> 11)) & 0xff));

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, rej) => { t = setTimeout(() => rej(new Error(`timed out: ${what}`)), ms); })]);
  } finally { clearTimeout(t); }
}

/** Collect `n` bytes from `onChunk`-style delivery (chunks copied at once, as a handler must). */
function collector(n: number): { push: (c: Buffer) => void; done: Promise<Buffer> } {
  const parts: Buffer[] = [];
  let got = 0;
  let resolve!: (b: Buffer) => void;
  const done = new Promise<Buffer>((r) => { resolve = r; });
  return { push: (c) => { parts.push(Buffer.from(c)); got += c.length; if (got >= n) resolve(Buffer.concat(parts)); }, done };
}

test('on this Node the shared buffer works for an accepted socket and every byte arrives intact', { timeout: 15_000 }, async () => {
  const { a, b, close } = await socketPair();
  try {
    const r = new SharedReadBuffer(64 * 1024);
    assert.deepEqual(r.status(), { available: true, reason: '' }, `Node ${process.version}`);
    const c = collector(PAYLOAD.length);
    b.on('data', c.push); // what was buffered before the switch
    assert.equal(r.attach(b, c.push), true);
    b.resume();
    a.write(PAYLOAD);
    assert.ok((await within(c.done, 10_000, 'payload')).equals(PAYLOAD));
    assert.ok(sharedReadBuffer.status().available, 'the process-wide instance agrees');
  } finally { close(); }
});

test('a failed feature probe keeps every socket on the public path', { timeout: 15_000 }, async () => {
  const { a, b, close } = await socketPair();
  try {
    const r = new SharedReadBuffer(64 * 1024, () => ({})); // a Node without the onread fields
    assert.equal(r.status().available, false);
    assert.match(r.status().reason, /lacks the socket fields/);
    const symbolsBefore = Object.getOwnPropertySymbols(b).map((s) => (b as unknown as Record<symbol, unknown>)[s]);
    assert.equal(r.attach(b, () => assert.fail('never called')), false);
    assert.deepEqual(Object.getOwnPropertySymbols(b).map((s) => (b as unknown as Record<symbol, unknown>)[s]), symbolsBefore,
      'the socket is left untouched');
    const c = collector(PAYLOAD.length);
    b.on('data', c.push);
    a.write(PAYLOAD);
    assert.ok((await within(c.done, 10_000, 'payload')).equals(PAYLOAD));
    // A throwing probe counts as a failed one.
    assert.equal(new SharedReadBuffer(1024, () => { throw new Error('no'); }).status().available, false);
  } finally { close(); }
});

test('a socket without a handle (or without useUserBuffer) is left on the public path', () => {
  const r = new SharedReadBuffer(1024);
  assert.equal(r.attach(new net.Socket(), () => undefined), false, 'no _handle');
  const fake = Object.assign(new net.Socket(), { _handle: {} });
  assert.equal(r.attach(fake as net.Socket, () => undefined), false, 'a handle without useUserBuffer');
  assert.ok(r.status().available, 'one odd socket does not switch the path off');
});

test('when Node misbehaves the socket is dropped, never fed, and later sockets use the public path', { timeout: 15_000 }, async () => {
  const first = await socketPair();
  const second = await socketPair();
  try {
    const r = new SharedReadBuffer(64 * 1024);
    let fed = 0;
    assert.equal(r.attach(first.b, () => { fed++; }), true);
    // Make Node hand the callback a buffer that is not ours, as a changed internal might.
    const kBuffer = Object.getOwnPropertySymbols(first.b).find((s) => s.description === 'kBuffer')!;
    (first.b as unknown as Record<symbol, unknown>)[kBuffer] = Buffer.alloc(64 * 1024);
    first.b.resume();
    const closed = new Promise((r) => first.b.once('close', r));
    const err = once(first.b, 'error');
    first.a.write(Buffer.alloc(1000, 1));
    const [e] = (await within(err, 10_000, 'error')) as [Error];
    assert.match(e.message, /internal read error: Node's onread mode misbehaved/);
    await within(closed, 10_000, 'close');
    assert.equal(fed, 0, 'bytes from a misbehaving read are never handed on');
    assert.equal(r.status().available, false);
    assert.match(r.status().reason, /misbehaved/);
    assert.equal(r.attach(second.b, () => assert.fail('never called')), false);
    const c = collector(PAYLOAD.length);
    second.b.on('data', c.push);
    second.a.write(PAYLOAD);
    assert.ok((await within(c.done, 10_000, 'payload')).equals(PAYLOAD));
  } finally { first.close(); second.close(); }
});

test('PeerConnection with sharedReadBuffer: false reads through data events, bytes intact', { timeout: 15_000 }, async () => {
  const { a, b, close } = await socketPair();
  try {
    const G = { pieceCount: 8, pieceLength: 262144, totalLength: 8 * 262144 };
    const blocks: Buffer[] = [];
    const conn = new PeerConnection(b, G, {
      onMessage: (m: Message) => { if (m.type === 'piece') blocks.push(Buffer.from(m.block)); },
      onClose: () => undefined,
    }, Date.now, undefined, { sharedReadBuffer: false });
    assert.equal(conn.userBuffer, false);
    const sender = new PeerConnection(a, G, { onMessage: () => undefined, onClose: () => undefined }, Date.now);
    const n = 64;
    for (let k = 0; k < n; k++) sender.sendPiece(k >> 4, (k & 15) * 16384, PAYLOAD.subarray(k * 16384, (k + 1) * 16384));
    const deadline = Date.now() + 10_000;
    while (blocks.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(blocks.length, n);
    assert.ok(Buffer.concat(blocks).equals(PAYLOAD));
  } finally { close(); }
});

/**
 * The TCP transport (src/net/tcp-transport.ts, issue 10 item 6) against its contract in src/net/transport.ts:
 * accepted streams arrive paused, a taken port is PORT_IN_USE, a dial settles once (open stream, the socket's error,
 * or ABORTED) and leaves nothing open on failure. Everything on 127.0.0.1; every stream and listener is closed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBtError } from '../../src/util/errors.js';
import { TcpTransport } from '../../src/net/tcp-transport.js';
import type { PeerStream } from '../../src/net/transport.js';

const HOST = '127.0.0.1';

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

test('listen and connect: the accepted stream is paused until resumed; both ends carry bytes', async () => {
  const t = new TcpTransport();
  const accepted: PeerStream[] = [];
  let onAccept: () => void = () => undefined;
  const listener = await t.listen(HOST, 0, (s) => { accepted.push(s); onAccept(); });
  try {
    assert.ok(listener.port > 0);
    const gotOne = new Promise<void>((resolve) => { onAccept = resolve; });
    const out = await withTimeout(t.connect(HOST, listener.port, { timeoutMs: 5000 }), 5000, 'connect');
    await withTimeout(gotOne, 5000, 'accept');
    const inc = accepted[0]!;
    assert.equal(inc.remoteAddress, HOST);
    out.write(Buffer.from('hello'));
    let early = 0;
    inc.on('data', (c: Buffer) => { early += c.length; });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(early, 0, 'nothing is read before resume()');
    const chunks: Buffer[] = [];
    const got = new Promise<void>((resolve) => inc.on('data', (c: Buffer) => { chunks.push(c); if (Buffer.concat(chunks).length >= 5) resolve(); }));
    inc.resume();
    await withTimeout(got, 5000, 'data');
    assert.equal(Buffer.concat(chunks).toString(), 'hello');
    const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
    inc.destroy();
    await withTimeout(closed, 5000, 'close seen by the other end');
    out.destroy();
  } finally {
    for (const s of accepted) s.destroy();
    await listener.close();
  }
});

test('a taken port is PORT_IN_USE; a refused dial rejects with the socket error; an aborted dial with ABORTED', async () => {
  const t = new TcpTransport();
  const listener = await t.listen(HOST, 0, (s) => s.destroy());
  const port = listener.port;
  try {
    await assert.rejects(t.listen(HOST, port, () => undefined), (e: unknown) => isBtError(e, 'PORT_IN_USE'));
  } finally {
    await listener.close();
  }
  // Nobody listens there any more.
  await assert.rejects(withTimeout(t.connect(HOST, port, { timeoutMs: 5000 }), 6000, 'refused dial'),
    (e: unknown) => e instanceof Error && !isBtError(e) && /ECONNREFUSED/.test(e.message));
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(t.connect(HOST, port, { timeoutMs: 5000, signal: ac.signal }), (e: unknown) => isBtError(e, 'ABORTED'));
  const ac2 = new AbortController();
  const dial = t.connect(HOST, port, { timeoutMs: 5000, signal: ac2.signal });
  ac2.abort();
  await assert.rejects(withTimeout(dial, 6000, 'aborted dial'), (e: unknown) => isBtError(e, 'ABORTED'));
});

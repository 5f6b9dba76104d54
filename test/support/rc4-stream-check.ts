/**
 * An `Rc4Stream` over a real loopback TCP connection, for one RC4 engine (`native`: OpenSSL's, else the TypeScript
 * one): both ends send seeded data in writes of every size while the other keeps every chunk it is handed, untouched,
 * until the end. With OpenSSL's engine the sockets read into the shared reused buffer (src/wire/node-internals.ts), so
 * a chunk handed on as a view of that buffer would be overwritten by the next read and the kept chunks would not add
 * up. Run by src/wire/mse/stream.test.ts, in a child Node with OpenSSL's legacy provider for the native engine.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import type { PeerStream } from '../../src/net/transport.js';
import { seededRng } from '../../src/util/seeded-rng.js';
import { Rc4 } from '../../src/wire/mse/rc4.js';
import { Rc4Stream } from '../../src/wire/mse/stream.js';
import { sharedReadBuffer } from '../../src/wire/node-internals.js';

const BYTES = 6 * 1024 * 1024;

function seededData(seed: number, n: number): Buffer {
  const rng = seededRng(seed);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

/** Sends `data` in writes of 1 byte to 300 KiB, waiting for 'drain' when asked to. */
async function send(stream: Rc4Stream, data: Buffer, seed: number): Promise<void> {
  const rng = seededRng(seed);
  for (let pos = 0; pos < data.length;) {
    const n = Math.min(data.length - pos, rng() < 0.2 ? 1 + Math.floor(rng() * 100) : Math.floor(rng() * 300 * 1024) + 1);
    const ok = stream.write(data.subarray(pos, pos + n));
    pos += n;
    if (!ok) await once(stream, 'drain');
  }
}

/** Resolves with every chunk `stream` emitted, kept as handed over, once `bytes` have come. */
function receive(stream: Rc4Stream, bytes: number): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= bytes) resolve(chunks);
    });
    stream.resume();
  });
}

/** Returns how many of the two sockets read into the shared buffer. */
export async function checkRc4StreamOverTcp(native: boolean): Promise<number> {
  let attached = 0;
  const attach = sharedReadBuffer.attach.bind(sharedReadBuffer);
  sharedReadBuffer.attach = (socket, onChunk) => {
    const ok = attach(socket, onChunk);
    if (ok) attached++;
    return ok;
  };
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const dialled = connect(port, '127.0.0.1');
  await once(dialled, 'connect');
  const [incoming] = await accepted;
  try {
    const keyA = Buffer.from('key of the dialling side');
    const keyB = Buffer.from('key of the accepting side');
    const rc4 = (k: Buffer): Rc4 => new Rc4(k, 1024, { native });
    for (const s of [dialled, incoming]) s.pause();
    const a = new Rc4Stream(dialled as unknown as PeerStream, rc4(keyA), rc4(keyB));
    const b = new Rc4Stream(incoming as unknown as PeerStream, rc4(keyB), rc4(keyA));
    const fromA = seededData(1, BYTES);
    const fromB = seededData(2, BYTES);
    const [atB, atA] = await Promise.all([receive(b, BYTES), receive(a, BYTES), send(a, fromA, 3), send(b, fromB, 4)]);
    assert.ok(Buffer.concat(atB).equals(fromA), 'what B kept is what A sent');
    assert.ok(Buffer.concat(atA).equals(fromB), 'what A kept is what B sent');
    return attached;
  } finally {
    dialled.destroy();
    incoming.destroy();
    server.close();
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { checkRc4StreamOverTcp } from '../../../test/support/rc4-stream-check.js';
import { runWithLegacyProvider } from '../../../test/support/legacy-provider.js';
import { isBtError } from '../../util/errors.js';
import { ManualClock } from '../../util/clock.js';
import type { PeerStream } from '../../net/transport.js';
import { dhKeyPair } from './dh.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, MseInitiator, mseTorrentKey } from './handshake.js';
import { mseAccept, Rc4Stream } from './stream.js';

/** An in-memory PeerStream: records what is written, emits what the test pushes. */
class FakeStream extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;
  writableLength = 0;
  paused = true;
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  write(data: Buffer): boolean { this.written.push(Buffer.from(data)); return true; }
  end(data: Buffer): this { this.written.push(Buffer.from(data)); return this; }
  cork(): void { /* nothing to batch */ }
  uncork(): void { /* nothing to batch */ }
  pause(): this { this.paused = true; return this; }
  resume(): this { this.paused = false; return this; }
  setNoDelay(): this { return this; }
  destroy(): this { this.destroyed = true; this.emit('close'); return this; }
}

const IH = Buffer.alloc(20, 0x42);
const seeded = (): ((n: number) => Buffer) => { let x = 1; return (n) => Buffer.from(Array.from({ length: n }, () => (x = (x * 1103515245 + 12345) & 0x7fffffff) & 0xff)); };

test('a handshake trickled a byte a second ends at the deadline, holding at most the bounded window', async () => {
  const clock = new ManualClock(0);
  const s = new FakeStream();
  const accepting = mseAccept(s as unknown as PeerStream, Buffer.alloc(0), {
    findTorrent: (k) => (k.equals(mseTorrentKey(IH)) ? IH : undefined), allowed: 3, prefer: CRYPTO_PLAINTEXT, random: seeded(),
  }, 10_000, clock);
  const ya = dhKeyPair(seeded()(20)).publicKey;
  const trickle = Buffer.concat([ya, Buffer.alloc(400, 7)]);
  for (let i = 0; i < 9; i++) { s.emit('data', trickle.subarray(i, i + 1)); clock.advance(1000); }
  clock.advance(1000);
  await assert.rejects(accepting, (e: unknown) => isBtError(e, 'TIMEOUT'));
  assert.equal(s.paused, true, 'left paused');
  assert.equal(s.listenerCount('data'), 0, 'no listener left behind');
});

test('mseAccept over a stream: RC4 chosen under forced, Rc4Stream encrypts a copy and decrypts what arrives', async () => {
  const s = new FakeStream();
  const a = new MseInitiator({ infoHash: IH, provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT, initialPayload: Buffer.from('hello'), random: seeded() });
  const accepting = mseAccept(s as unknown as PeerStream, a.start(), {
    findTorrent: (k) => (k.equals(mseTorrentKey(IH)) ? IH : undefined), allowed: CRYPTO_RC4, prefer: CRYPTO_RC4, random: seeded(),
  }, 10_000, new ManualClock(0));
  s.emit('data', a.push(s.written.shift()!).send!);
  const m = await accepting;
  assert.ok(m.stream instanceof Rc4Stream);
  assert.equal(m.payload.toString(), 'hello');
  const done = a.push(Buffer.concat(s.written.splice(0))).done!;
  assert.equal(done.method, CRYPTO_RC4);
  const msg = Buffer.from('a piece block');
  m.stream.write(msg);
  assert.equal(msg.toString(), 'a piece block', 'the caller\'s buffer is not modified');
  assert.equal(done.decrypt!.process(s.written.shift()!).toString(), 'a piece block');
  const got: Buffer[] = [];
  m.stream.on('data', (c: Buffer) => got.push(c));
  s.emit('data', done.encrypt!.process(Buffer.from('reply')));
  assert.equal(Buffer.concat(got).toString(), 'reply');
});

test('Rc4Stream over loopback TCP, the TypeScript engine: chunks decrypted in place, none of them the shared buffer', async () => {
  assert.equal(await checkRc4StreamOverTcp(false), 0, 'the sockets keep their own fresh chunks');
});

test('Rc4Stream over loopback TCP, OpenSSL\'s engine: the sockets read into the shared buffer; every chunk kept stays right', () => {
  // The test runner's Node has no legacy provider; a child Node with it runs the check.
  const child = runWithLegacyProvider('rc4-stream-check.js', 'm.checkRc4StreamOverTcp(true)');
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /result 2\n/, 'both sockets read into the shared buffer');
});

/**
 * The RC4 checks of src/wire/mse/mse.test.ts, for one engine (`native`: OpenSSL's, else the TypeScript one), in a
 * module without tests of its own: a child Node started with OpenSSL's legacy provider imports it and runs them on
 * OpenSSL's engine.
 */
import assert from 'node:assert/strict';
import { Rc4 } from '../../src/wire/mse/rc4.js';
import { seededRng } from '../../src/util/seeded-rng.js';

function seededBytes(seed: number, n: number): Buffer {
  const rng = seededRng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

export function checkRc4Engine(native: boolean): void {
  const opts = { native };
  const enc = (key: string, text: string): string => new Rc4(Buffer.from(key), 0, opts).process(Buffer.from(text)).toString('hex');
  assert.equal(new Rc4(Buffer.from('Key'), 0, opts).engine, native ? 'openssl' : 'typescript');
  assert.equal(enc('Key', 'Plaintext'), 'bbf316e8d940af0ad3');
  assert.equal(enc('Wiki', 'pedia'), '1021bf0420');
  assert.equal(enc('Secret', 'Attack at dawn'), '45a01f645fc35b383552544b9bf5');
  // RFC 6229, 40-bit key 0x0102030405: key stream at offsets 0 and 1024 (the 1024 dropped bytes of MSE).
  const key = Buffer.from('0102030405', 'hex');
  assert.equal(new Rc4(key, 0, opts).keyStream(16).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
  assert.equal(new Rc4(key, 1024, opts).keyStream(16).toString('hex'), '30abbcc7c20b01609f23ee2d5f6bb7df');
  assert.equal(new Rc4(key, 1024, opts).keyStream(16).toString('hex'), new Rc4(key, 0, opts).keyStream(1040).subarray(1024).toString('hex'));
  // In place, on sub-ranges of one buffer: the same stream.
  const whole = new Rc4(key, 0, opts).keyStream(1000);
  const r0 = new Rc4(key, 0, opts);
  const parts = Buffer.alloc(1000);
  r0.process(parts, 0, 7); r0.process(parts, 7, 7); r0.process(parts, 7, 500); r0.process(parts, 500);
  assert.deepEqual(parts, whole);
  // In place, by transform and by copyOf, in pieces of every size: one stream, the same as the other engine's.
  const rng = seededRng(7);
  for (let round = 0; round < 50; round++) {
    const k = seededBytes(round, 1 + Math.floor(rng() * 40));
    const data = seededBytes(round + 1000, Math.floor(rng() * 70_000));
    const expected = new Rc4(k, 1024, { native: false }).process(Buffer.from(data));
    const r = new Rc4(k, 1024, opts);
    const out: Buffer[] = [];
    for (let pos = 0; pos < data.length;) {
      const n = Math.min(data.length - pos, Math.floor(rng() * 20_000));
      const part = Buffer.from(data.subarray(pos, pos + n));
      const how = Math.floor(rng() * 3);
      if (how === 0) out.push(r.process(part));
      else if (how === 1) out.push(r.transform(part));
      else {
        const before = Buffer.from(part);
        out.push(r.copyOf(part));
        assert.deepEqual(part, before, 'copyOf leaves its input alone');
      }
      pos += n;
    }
    assert.deepEqual(Buffer.concat(out), expected, `round ${round}`);
  }
}


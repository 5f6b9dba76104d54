import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDiffieHellman } from 'node:crypto';
import fc from 'fast-check';
import { isBtError } from '../../util/errors.js';
import { seededRng } from '../../util/seeded-rng.js';
import { bigIntToKey, checkPublicKey, dhKeyPair, dhSecret, MSE_PRIME } from './dh.js';
import { fileURLToPath } from 'node:url';
import { nativeRc4Available, Rc4 } from './rc4.js';
import { checkRc4Engine } from '../../../test/support/rc4-engine-check.js';
import { runWithLegacyProvider } from '../../../test/support/legacy-provider.js';
import { shebangOf } from '../../../test/helpers/shebang.js';
import {
  CRYPTO_PLAINTEXT, CRYPTO_RC4, MseInitiator, MseReceiver, mseTorrentKey, type MseResult, type RandomBytes,
} from './handshake.js';
import { classifyIncoming } from './stream.js';

function seededBytes(seed: number): RandomBytes {
  const rng = seededRng(seed);
  return (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256); return b; };
}

test('RC4 known-answer vectors, the TypeScript engine (the default without the legacy provider)', () => {
  checkRc4Engine(false);
  if (!nativeRc4Available()) assert.equal(new Rc4(Buffer.from('k')).engine, 'typescript');
});

test('RC4: OpenSSL\'s engine (the legacy provider, as bin/bitpeer.js loads it) gives the same streams', () => {
  // The test runner's Node has no legacy provider; a child Node with it runs the same checks.
  assert.equal(nativeRc4Available(), new Rc4(Buffer.from('k')).engine === 'openssl');
  const child = runWithLegacyProvider('rc4-engine-check.js', "(m.checkRc4Engine(true), 'openssl ok')");
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /openssl ok/);
  // The shebang asks for the provider (so `bitpeer` and the bench get OpenSSL's RC4).
  const bin = fileURLToPath(new URL('../../../../bin/bitpeer.js', import.meta.url));
  assert.ok(shebangOf(bin).flags.includes('--openssl-legacy-provider'), 'bin/bitpeer.js loads the legacy provider');
});

test('DH: keys agree, and match node:crypto on the MSE prime', () => {
  const a = dhKeyPair(seededBytes(1)(20));
  const b = dhKeyPair(seededBytes(2)(20));
  assert.equal(a.publicKey.length, 96);
  assert.deepEqual(dhSecret(a, b.publicKey), dhSecret(b, a.publicKey));
  const ref = createDiffieHellman(bigIntToKey(MSE_PRIME), Buffer.from([2]));
  ref.setPrivateKey(bigIntToKey(a.privateKey));
  ref.generateKeys(); // recomputes the public key from the private key we set
  assert.equal(Buffer.from(ref.getPublicKey()).toString('hex').padStart(192, '0'), a.publicKey.toString('hex'));
  assert.equal(Buffer.from(ref.computeSecret(b.publicKey)).toString('hex').padStart(192, '0'), dhSecret(a, b.publicKey).toString('hex'));
});

test('DH: degenerate public keys are refused', () => {
  const own = dhKeyPair(seededBytes(3)(20));
  for (const y of [0n, 1n, MSE_PRIME - 1n, MSE_PRIME, MSE_PRIME + 5n]) {
    const key = y < 1n << 768n ? bigIntToKey(y) : Buffer.alloc(96, 0xff);
    assert.throws(() => dhSecret(own, key), (e: unknown) => isBtError(e, 'HANDSHAKE'), `Y = ${y}`);
  }
  assert.throws(() => checkPublicKey(Buffer.alloc(95, 7)), (e: unknown) => isBtError(e, 'HANDSHAKE'));
  assert.equal(checkPublicKey(bigIntToKey(2n)), 2n);
});

const IH = Buffer.alloc(20, 0xab);
const OTHER = Buffer.alloc(20, 0xcd);

interface Setup { provide: number; allowed: number; prefer: number; ia: Buffer }

function machines(s: Setup): { a: MseInitiator; b: MseReceiver } {
  const a = new MseInitiator({ infoHash: IH, provide: s.provide, initialPayload: s.ia, random: seededBytes(10) });
  const keys = new Map([OTHER, IH].map((h) => [mseTorrentKey(h).toString('hex'), h]));
  const b = new MseReceiver({ findTorrent: (k) => keys.get(k.toString('hex')), allowed: s.allowed, prefer: s.prefer, random: seededBytes(20) });
  return { a, b };
}

/** Runs a whole exchange; `splitA` / `splitB` cut each side's input into chunks. */
function exchange(s: Setup, cut: (bytes: Buffer, side: 'a' | 'b') => Buffer[], after = Buffer.from('after the handshake')): {
  ra: MseResult; rb: MseResult; toB: Buffer; toA: Buffer; gotByB: Buffer;
} {
  const { a, b } = machines(s);
  const feed = (m: MseInitiator | MseReceiver, bytes: Buffer, side: 'a' | 'b'): { out: Buffer; done: MseResult | null } => {
    const out: Buffer[] = [];
    let done: MseResult | null = null;
    for (const c of cut(bytes, side)) {
      if (done) { // the handshake ended mid-input: the rest is payload
        const more = done.decrypt ? done.decrypt.process(Buffer.from(c)) : c;
        done.payload = Buffer.concat([done.payload, more]);
        continue;
      }
      const step = m.push(c);
      if (step.send) out.push(step.send);
      if (step.done) { assert.equal(done, null); done = step.done; }
    }
    return { out: Buffer.concat(out), done };
  };
  const a1 = a.start();
  const b1 = feed(b, a1, 'b');                    // Yb + PadB
  const a2 = feed(a, b1.out, 'a');                // step 3
  assert.equal(a2.done, null);
  const b2 = feed(b, a2.out, 'b');                // step 4, B done
  assert.ok(b2.done);
  const rb = b2.done;
  const payloadB = rb.encrypt ? rb.encrypt.process(Buffer.from(after)) : after;
  const a3 = feed(a, Buffer.concat([b2.out, payloadB]), 'a');
  assert.ok(a3.done);
  return { ra: a3.done, rb, toB: Buffer.concat([a1, a2.out]), toA: Buffer.concat([b1.out, b2.out]), gotByB: rb.payload };
}

const whole = (b: Buffer): Buffer[] => [b];

test('MSE handshake: RC4 round trip, IA delivered, keys paired', () => {
  const ia = Buffer.from('\x13BitTorrent protocol-and-the-rest', 'latin1');
  const { ra, rb } = exchange({ provide: CRYPTO_RC4, allowed: CRYPTO_RC4 | CRYPTO_PLAINTEXT, prefer: CRYPTO_PLAINTEXT, ia }, whole);
  assert.equal(ra.method, CRYPTO_RC4);
  assert.equal(rb.method, CRYPTO_RC4);
  assert.deepEqual(rb.infoHash, IH);
  assert.deepEqual(rb.payload, ia);
  assert.equal(ra.payload.toString(), 'after the handshake');
  const msg = Buffer.from('piece data');
  assert.deepEqual(rb.decrypt!.process(ra.encrypt!.process(Buffer.from(msg))), msg);
});

test('MSE handshake: plaintext chosen when both are offered and plaintext preferred', () => {
  const ia = Buffer.from('hello');
  const { ra, rb } = exchange({ provide: CRYPTO_RC4 | CRYPTO_PLAINTEXT, allowed: 3, prefer: CRYPTO_PLAINTEXT, ia }, whole);
  assert.equal(ra.method, CRYPTO_PLAINTEXT);
  assert.equal(ra.encrypt, null);
  assert.deepEqual(rb.payload, ia);
  assert.equal(ra.payload.toString(), 'after the handshake');
});

test('MSE handshake: every split point, and any chunking, give the same result', () => {
  const s: Setup = { provide: 3, allowed: 3, prefer: CRYPTO_RC4, ia: Buffer.from('initial payload') };
  const ref = exchange(s, whole);
  const total = Math.max(ref.toA.length, ref.toB.length) + 40;
  for (let i = 0; i <= total; i++) {
    const r = exchange(s, (bytes) => [bytes.subarray(0, i), bytes.subarray(i)]);
    assert.deepEqual(r.toB, ref.toB);
    assert.deepEqual(r.toA, ref.toA);
    assert.deepEqual(r.gotByB, ref.gotByB);
    assert.equal(r.ra.payload.toString(), 'after the handshake');
  }
  const bytewise = exchange(s, (bytes) => [...bytes].map((x) => Buffer.from([x])));
  assert.deepEqual(bytewise.toB, ref.toB);
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }), (sizes) => {
    const cut = (bytes: Buffer): Buffer[] => {
      const out: Buffer[] = [];
      let o = 0;
      for (let k = 0; o < bytes.length; k++) { const n = sizes[k % sizes.length]!; out.push(bytes.subarray(o, o + n)); o += n; }
      return out;
    };
    const r = exchange(s, cut);
    assert.deepEqual(r.toB, ref.toB);
    assert.deepEqual(r.gotByB, ref.gotByB);
    assert.equal(r.ra.payload.toString(), 'after the handshake');
  }), { numRuns: 100 });
});

function receiverError(bytes: Buffer, opts: Partial<Setup> = {}): string {
  const { b } = machines({ provide: 2, allowed: opts.allowed ?? 3, prefer: 1, ia: Buffer.alloc(0) });
  try { b.push(bytes); } catch (e) { assert.ok(isBtError(e, 'HANDSHAKE'), String(e)); return (e as Error).message; }
  return '';
}

test('MSE hostile input: garbage, no sync within the limit, unknown torrent, bad lengths', () => {
  const ya = dhKeyPair(seededBytes(5)(20)).publicKey;
  // No sync: the window is 96 + 512 + 20 bytes; one byte short is still waiting, the limit fails.
  assert.equal(receiverError(Buffer.concat([ya, Buffer.alloc(531, 1)])), '');
  assert.match(receiverError(Buffer.concat([ya, Buffer.alloc(532, 1)])), /no sync/);
  assert.match(receiverError(Buffer.concat([ya, Buffer.alloc(100000, 1)])), /no sync/);
  // Garbage that is a degenerate key.
  assert.match(receiverError(Buffer.alloc(200, 0)), /degenerate/);
  // An initiator asking for a torrent we do not have.
  const a = new MseInitiator({ infoHash: Buffer.alloc(20, 0x99), provide: 2, random: seededBytes(7) });
  const { b } = machines({ provide: 2, allowed: 3, prefer: 1, ia: Buffer.alloc(0) });
  const yb = b.push(a.start()).send!;
  assert.throws(() => b.push(a.push(yb).send!), /torrent we do not have/);
  // Forced RC4 receiver refuses an initiator that offers only plaintext.
  const a2 = new MseInitiator({ infoHash: IH, provide: CRYPTO_PLAINTEXT, random: seededBytes(8) });
  const { b: b2 } = machines({ provide: 2, allowed: CRYPTO_RC4, prefer: CRYPTO_RC4, ia: Buffer.alloc(0) });
  assert.throws(() => b2.push(a2.push(b2.push(a2.start()).send!).send!), /no common crypto method/);
  // After a failure the machine takes nothing more.
  assert.throws(() => b2.push(Buffer.alloc(1)), /ended/);
});

test('MSE hostile input: an initiator refuses a receiver that never syncs or selects what was not offered', () => {
  const a = new MseInitiator({ infoHash: IH, provide: CRYPTO_RC4, random: seededBytes(9) });
  a.start();
  const yb = dhKeyPair(seededBytes(11)(20)).publicKey;
  const step = a.push(yb);
  assert.ok(step.send);
  assert.doesNotThrow(() => a.push(Buffer.alloc(519, 3)));
  assert.throws(() => a.push(Buffer.alloc(1, 3)), /no sync/);
});

test('classifyIncoming tells plaintext, HTTP and MSE apart by the first bytes', () => {
  assert.equal(classifyIncoming(Buffer.alloc(0)), 'more');
  assert.equal(classifyIncoming(Buffer.from([19])), 'more');
  assert.equal(classifyIncoming(Buffer.from('\x13BitTorrent protocol\0\0', 'latin1')), 'plain');
  assert.equal(classifyIncoming(Buffer.from('\x13BitTorrent prot', 'latin1')), 'more');
  assert.equal(classifyIncoming(Buffer.from('\x13BitTorrent Protocol', 'latin1')), 'mse');
  assert.equal(classifyIncoming(Buffer.from('GET /announce', 'latin1')), 'http');
  assert.equal(classifyIncoming(Buffer.from('GE', 'latin1')), 'more');
  assert.equal(classifyIncoming(Buffer.from('GX', 'latin1')), 'mse');
  assert.equal(classifyIncoming(Buffer.from([0x80, 1, 2])), 'mse');
});

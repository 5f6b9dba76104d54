/**
 * The MSE/PE handshake (Message Stream Encryption, "Protocol Encryption") as two pure, byte-fed state machines:
 * `MseInitiator` (we dialled) and `MseReceiver` (we accepted). No sockets, no timers: the shell (stream.ts) feeds
 * bytes in and writes out what a step returns; the deadline is the caller's.
 *
 *   1 A→B  Ya, PadA
 *   2 B→A  Yb, PadB
 *   3 A→B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   4 B→A  ENCRYPT(VC, crypto_select, len(PadD), PadD), ENCRYPT2(payload)
 *   5 A→B  ENCRYPT2(payload)
 *
 * Y = 96-byte DH public keys (dh.ts), S the shared secret, SKEY the torrent's info-hash, VC eight zero bytes,
 * HASH = SHA-1, ENCRYPT = RC4 (1024 bytes dropped) keyed with HASH('keyA', S, SKEY) from A and HASH('keyB', S, SKEY)
 * from B; ENCRYPT2 is the selected method: RC4 continuing the same streams, or plaintext.
 *
 * Invariants:
 * - Any split of the input (down to single bytes) gives the same outcome as one chunk.
 * - Bytes held before the handshake ends are bounded: Y (96) + PadX (≤ 512) + the sync pattern, then the lengths
 *   the peer declared, each capped (pads ≤ 512, IA ≤ `MSE_MAX_IA`); the sync pattern must appear within 512 bytes of
 *   padding (+ its own 20 or 8 bytes), else the handshake fails.
 * - A failure is a BtError('HANDSHAKE') thrown from `push`; after it, or after `done`, the machine takes no more input.
 */
import { createHash } from 'node:crypto';
import { BtError } from '../../util/errors.js';
import { dhKeyPair, dhSecret, MSE_KEY_BYTES, MSE_PRIVATE_BYTES, type DhKeyPair } from './dh.js';
import { MSE_RC4_DISCARD, Rc4 } from './rc4.js';

/** crypto_provide / crypto_select bits. */
export const CRYPTO_PLAINTEXT = 0x01;
export const CRYPTO_RC4 = 0x02;
/** Longest padding the spec allows (PadA..PadD). */
export const MSE_MAX_PAD = 512;
/** Longest initial payload we accept (a BitTorrent handshake is 68 bytes; some clients add a message or two). */
export const MSE_MAX_IA = 8192;
const VC_LENGTH = 8;

export type RandomBytes = (n: number) => Buffer;

/** What a finished handshake hands on. */
export interface MseResult {
  /** CRYPTO_PLAINTEXT or CRYPTO_RC4. */
  method: number;
  /** The torrent the initiator asked for (SKEY). */
  infoHash: Buffer;
  /** RC4 for what we send from now on; null when the method is plaintext. */
  encrypt: Rc4 | null;
  /** RC4 for what we receive from now on; null when the method is plaintext. */
  decrypt: Rc4 | null;
  /** Payload that arrived with the handshake, decrypted (for the receiver: the initiator's IA first). */
  payload: Buffer;
}

/** One step: bytes to send now (or null), and the result once the handshake is done. */
export interface MseStep {
  send: Buffer | null;
  done: MseResult | null;
}

export function sha1(...parts: Array<string | Uint8Array>): Buffer {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HASH('req2', SKEY): what a receiver looks its torrents up by. */
export function mseTorrentKey(infoHash: Uint8Array): Buffer { return sha1('req2', infoHash); }

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function fail(message: string): never { throw new BtError('HANDSHAKE', `MSE: ${message}`); }

function randomPad(random: RandomBytes, max: number): Buffer {
  const n = random(2).readUInt16BE(0) % (max + 1);
  return n === 0 ? Buffer.alloc(0) : random(n);
}

function ciphers(secret: Buffer, skey: Uint8Array): { keyA: Rc4; keyB: Rc4 } {
  return {
    keyA: new Rc4(sha1('keyA', secret, skey), MSE_RC4_DISCARD),
    keyB: new Rc4(sha1('keyB', secret, skey), MSE_RC4_DISCARD),
  };
}

/** The single bit of `bits` to use, preferring `prefer`; 0 when `bits` shares nothing with `allowed`. */
export function chooseMethod(offered: number, allowed: number, prefer: number): number {
  const common = offered & allowed & (CRYPTO_PLAINTEXT | CRYPTO_RC4);
  if (common & prefer) return prefer;
  if (common & CRYPTO_RC4) return CRYPTO_RC4;
  if (common & CRYPTO_PLAINTEXT) return CRYPTO_PLAINTEXT;
  return 0;
}

/** Input buffering shared by both roles: one owned, growing buffer (bounded by the states' limits). */
abstract class ByteMachine {
  protected buf: Buffer = Buffer.alloc(0);
  private finished = false;

  push(chunk: Uint8Array): MseStep {
    if (this.finished) throw new BtError('HANDSHAKE', 'MSE: handshake already ended');
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    try {
      const step = this.advance();
      if (step.done) this.finished = true;
      return step;
    } catch (err) {
      this.finished = true;
      throw err;
    }
  }

  protected abstract advance(): MseStep;
}

export interface MseInitiatorOptions {
  infoHash: Uint8Array;
  /** crypto_provide: CRYPTO_RC4, or CRYPTO_PLAINTEXT | CRYPTO_RC4. */
  provide: number;
  /** Initial payload sent encrypted in step 3 (our BitTorrent handshake); empty by default. */
  initialPayload?: Uint8Array;
  random: RandomBytes;
}

export class MseInitiator extends ByteMachine {
  private readonly keys: DhKeyPair;
  private state: 'yb' | 'sync' | 'select' | 'padd' = 'yb';
  private decrypt: Rc4 | undefined;
  private encrypt: Rc4 | undefined;
  private syncPattern: Buffer = Buffer.alloc(0);
  private pos = 0;
  private method = 0;
  private padD = 0;

  constructor(private readonly opts: MseInitiatorOptions) {
    super();
    if ((opts.provide & (CRYPTO_PLAINTEXT | CRYPTO_RC4)) === 0) throw new RangeError('MSE: nothing to provide');
    if ((opts.initialPayload?.length ?? 0) > 0xffff) throw new RangeError('MSE: initial payload too long');
    this.keys = dhKeyPair(opts.random(MSE_PRIVATE_BYTES));
  }

  /** Step 1: Ya and PadA. */
  start(): Buffer { return Buffer.concat([this.keys.publicKey, randomPad(this.opts.random, MSE_MAX_PAD)]); }

  protected advance(): MseStep {
    let send: Buffer | null = null;
    for (;;) {
      const buf = this.buf;
      switch (this.state) {
        case 'yb': {
          if (buf.length < MSE_KEY_BYTES) return { send, done: null };
          const secret = dhSecret(this.keys, buf.subarray(0, MSE_KEY_BYTES));
          const { keyA, keyB } = ciphers(secret, this.opts.infoHash);
          this.encrypt = keyA;
          this.decrypt = keyB;
          this.syncPattern = keyB.keyStream(VC_LENGTH); // ENCRYPT(VC) from B; keyB is now past the VC
          const ia = this.opts.initialPayload ?? Buffer.alloc(0);
          const padC = randomPad(this.opts.random, MSE_MAX_PAD);
          const plain = Buffer.alloc(VC_LENGTH + 4 + 2 + padC.length + 2 + ia.length);
          let o = VC_LENGTH;
          o = plain.writeUInt32BE(this.opts.provide, o);
          o = plain.writeUInt16BE(padC.length, o);
          o += padC.copy(plain, o);
          o = plain.writeUInt16BE(ia.length, o);
          Buffer.from(ia).copy(plain, o);
          keyA.process(plain);
          send = Buffer.concat([sha1('req1', secret), xor(mseTorrentKey(this.opts.infoHash), sha1('req3', secret)), plain]);
          this.state = 'sync';
          break;
        }
        case 'sync': {
          const limit = MSE_KEY_BYTES + MSE_MAX_PAD + VC_LENGTH;
          const at = buf.subarray(0, limit).indexOf(this.syncPattern, MSE_KEY_BYTES);
          if (at < 0) {
            if (buf.length >= limit) fail(`no sync within ${MSE_MAX_PAD} bytes of padding`);
            return { send, done: null };
          }
          this.pos = at + VC_LENGTH;
          this.state = 'select';
          break;
        }
        case 'select': {
          if (buf.length < this.pos + 6) return { send, done: null };
          this.decrypt!.process(buf, this.pos, this.pos + 6);
          const select = buf.readUInt32BE(this.pos);
          this.padD = buf.readUInt16BE(this.pos + 4);
          if (select !== CRYPTO_PLAINTEXT && select !== CRYPTO_RC4) fail(`crypto_select ${select} is not one method`);
          if ((select & this.opts.provide) === 0) fail(`crypto_select ${select} was not offered`);
          if (this.padD > MSE_MAX_PAD) fail(`PadD of ${this.padD} bytes`);
          this.method = select;
          this.pos += 6;
          this.state = 'padd';
          break;
        }
        case 'padd': {
          if (buf.length < this.pos + this.padD) return { send, done: null };
          this.decrypt!.process(buf, this.pos, this.pos + this.padD);
          this.pos += this.padD;
          const rc4 = this.method === CRYPTO_RC4;
          const payload = Buffer.from(buf.subarray(this.pos));
          if (rc4) this.decrypt!.process(payload);
          this.buf = Buffer.alloc(0);
          return {
            send,
            done: {
              method: this.method, infoHash: Buffer.from(this.opts.infoHash),
              encrypt: rc4 ? this.encrypt! : null, decrypt: rc4 ? this.decrypt! : null, payload,
            },
          };
        }
      }
    }
  }
}

export interface MseReceiverOptions {
  /** The info-hash whose HASH('req2', info-hash) this is, if it is one of ours. */
  findTorrent(req2: Buffer): Buffer | undefined;
  /** crypto methods we accept (bits). */
  allowed: number;
  /** The method we pick when the initiator offers both. */
  prefer: number;
  random: RandomBytes;
}

export class MseReceiver extends ByteMachine {
  private readonly keys: DhKeyPair;
  private state: 'ya' | 'sync' | 'skey' | 'provide' | 'padc' | 'ia' = 'ya';
  private secret: Buffer = Buffer.alloc(0);
  private req1: Buffer = Buffer.alloc(0);
  private pos = 0;
  private infoHash: Buffer = Buffer.alloc(0);
  private fromA: Rc4 | undefined;
  private toA: Rc4 | undefined;
  private provide = 0;
  private padC = 0;
  private iaLength = 0;

  constructor(private readonly opts: MseReceiverOptions) {
    super();
    this.keys = dhKeyPair(opts.random(MSE_PRIVATE_BYTES));
  }

  protected advance(): MseStep {
    let send: Buffer | null = null;
    for (;;) {
      const buf = this.buf;
      switch (this.state) {
        case 'ya': {
          if (buf.length < MSE_KEY_BYTES) return { send, done: null };
          this.secret = dhSecret(this.keys, buf.subarray(0, MSE_KEY_BYTES));
          this.req1 = sha1('req1', this.secret);
          send = Buffer.concat([this.keys.publicKey, randomPad(this.opts.random, MSE_MAX_PAD)]);
          this.state = 'sync';
          break;
        }
        case 'sync': {
          const limit = MSE_KEY_BYTES + MSE_MAX_PAD + 20;
          const at = buf.subarray(0, limit).indexOf(this.req1, MSE_KEY_BYTES);
          if (at < 0) {
            if (buf.length >= limit) fail(`no sync within ${MSE_MAX_PAD} bytes of padding`);
            return { send, done: null };
          }
          this.pos = at + 20;
          this.state = 'skey';
          break;
        }
        case 'skey': {
          if (buf.length < this.pos + 20) return { send, done: null };
          const req2 = xor(buf.subarray(this.pos, this.pos + 20), sha1('req3', this.secret));
          const infoHash = this.opts.findTorrent(req2);
          if (!infoHash) fail('the peer asked for a torrent we do not have');
          this.infoHash = Buffer.from(infoHash);
          const { keyA, keyB } = ciphers(this.secret, this.infoHash);
          this.fromA = keyA;
          this.toA = keyB;
          this.pos += 20;
          this.state = 'provide';
          break;
        }
        case 'provide': {
          if (buf.length < this.pos + VC_LENGTH + 6) return { send, done: null };
          this.fromA!.process(buf, this.pos, this.pos + VC_LENGTH + 6);
          for (let i = 0; i < VC_LENGTH; i++) if (buf[this.pos + i] !== 0) fail('bad verification constant');
          this.provide = buf.readUInt32BE(this.pos + VC_LENGTH);
          this.padC = buf.readUInt16BE(this.pos + VC_LENGTH + 4);
          if (this.padC > MSE_MAX_PAD) fail(`PadC of ${this.padC} bytes`);
          this.pos += VC_LENGTH + 6;
          this.state = 'padc';
          break;
        }
        case 'padc': {
          if (buf.length < this.pos + this.padC + 2) return { send, done: null };
          this.fromA!.process(buf, this.pos, this.pos + this.padC + 2);
          this.iaLength = buf.readUInt16BE(this.pos + this.padC);
          if (this.iaLength > MSE_MAX_IA) fail(`initial payload of ${this.iaLength} bytes`);
          this.pos += this.padC + 2;
          this.state = 'ia';
          break;
        }
        case 'ia': {
          if (buf.length < this.pos + this.iaLength) return { send, done: null };
          const select = chooseMethod(this.provide, this.opts.allowed, this.opts.prefer);
          if (select === 0) fail(`no common crypto method (offered ${this.provide})`);
          const ia = this.fromA!.process(Buffer.from(buf.subarray(this.pos, this.pos + this.iaLength)));
          const rest = Buffer.from(buf.subarray(this.pos + this.iaLength));
          const rc4 = select === CRYPTO_RC4;
          if (rc4) this.fromA!.process(rest);
          const padD = randomPad(this.opts.random, MSE_MAX_PAD);
          const answer = Buffer.alloc(VC_LENGTH + 6 + padD.length);
          answer.writeUInt32BE(select, VC_LENGTH);
          answer.writeUInt16BE(padD.length, VC_LENGTH + 4);
          padD.copy(answer, VC_LENGTH + 6);
          this.toA!.process(answer);
          this.buf = Buffer.alloc(0);
          return {
            send: send ? Buffer.concat([send, answer]) : answer,
            done: {
              method: select, infoHash: this.infoHash, encrypt: rc4 ? this.toA! : null, decrypt: rc4 ? this.fromA! : null,
              payload: ia.length === 0 ? rest : Buffer.concat([ia, rest]),
            },
          };
        }
      }
    }
  }
}

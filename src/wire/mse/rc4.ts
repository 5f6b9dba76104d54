/**
 * RC4 as MSE/PE uses it: a 20-byte key, the first 1024 bytes of key stream dropped.
 *
 * Two engines behind one class. OpenSSL's RC4 (node:crypto) when this Node has it: Node 17+ has RC4 only with
 * OpenSSL's legacy provider, which `bin/bitpeer.js` loads (`--openssl-legacy-provider` on its shebang line). It costs
 * ~2.4 CPU-s per GiB against ~5.9 for the TypeScript loop below (1 GiB in 64 KiB chunks, the 2-core bench machine,
 * docs/design/encryption.md). Elsewhere (a program that imports bitpeer, `node bin/bitpeer.js`, the tests) the
 * TypeScript engine: pure and allocation-free, one Uint8Array of state, XOR in place.
 *
 * Invariant: one `Rc4` is one key stream; every byte processed advances it by exactly one byte, whichever engine runs
 * it (src/wire/mse/mse.test.ts checks both against the same vectors and against each other).
 */
import { createCipheriv, getCiphers, type Cipher } from 'node:crypto';

/** Bytes of key stream MSE drops before use (the spec's "discard the first 1024 bytes"). */
export const MSE_RC4_DISCARD = 1024;

let nativeAvailable: boolean | undefined;

/** Whether this process's OpenSSL offers RC4 (asked once). */
export function nativeRc4Available(): boolean {
  if (nativeAvailable === undefined) {
    try {
      nativeAvailable = getCiphers().includes('rc4');
    } catch {
      nativeAvailable = false;
    }
  }
  return nativeAvailable;
}

export interface Rc4Options {
  /** Use OpenSSL's RC4: true (must be available), false (never), or undefined (when available). */
  native?: boolean;
}

export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;
  /** OpenSSL's cipher, when that engine runs this key stream. */
  private readonly cipher: Cipher | undefined;

  constructor(key: Uint8Array, discard = 0, opts: Rc4Options = {}) {
    if (key.length === 0 || key.length > 256) throw new RangeError(`RC4 key must be 1..256 bytes, got ${key.length}`);
    if (opts.native ?? nativeRc4Available()) {
      if (!nativeRc4Available()) throw new Error('RC4 is not available in this Node\'s OpenSSL (run Node with --openssl-legacy-provider)');
      this.cipher = createCipheriv('rc4', key, null);
      if (discard > 0) this.cipher.update(Buffer.alloc(discard));
      return;
    }
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    let j = 0;
    for (let k = 0; k < 256; k++) {
      const t = s[k]!;
      j = (j + t + key[k % key.length]!) & 0xff;
      s[k] = s[j]!;
      s[j] = t;
    }
    if (discard > 0) this.process(new Uint8Array(discard));
  }

  /** Which engine runs this key stream. */
  get engine(): 'openssl' | 'typescript' { return this.cipher ? 'openssl' : 'typescript'; }

  /** XOR `data[start..end)` with the key stream, in place; returns `data`. */
  process<T extends Uint8Array>(data: T, start = 0, end = data.length): T {
    if (this.cipher) {
      if (end > start) data.set(this.cipher.update(data.subarray(start, end)), start);
      return data;
    }
    const s = this.s;
    let i = this.i;
    let j = this.j;
    for (let k = start; k < end; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      data[k] = data[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return data;
  }

  /**
   * `data` XORed with the key stream, in a buffer of its own when that costs nothing extra (OpenSSL writes a new one),
   * else in place. For callers that may give their buffer away (a socket's chunk) but must not see `data` changed
   * unless it is theirs: use {@link copyOf} when `data` is someone else's.
   */
  transform(data: Buffer): Buffer {
    return this.cipher ? (data.length > 0 ? this.cipher.update(data) : data) : this.process(data);
  }

  /** `data` XORed with the key stream, never changing `data` (one copy at most). */
  copyOf(data: Buffer): Buffer {
    return this.cipher ? (data.length > 0 ? this.cipher.update(data) : Buffer.alloc(0)) : this.process(Buffer.from(data));
  }

  /** The next `n` bytes of key stream (advances it). */
  keyStream(n: number): Buffer { return this.process(Buffer.alloc(n)); }
}

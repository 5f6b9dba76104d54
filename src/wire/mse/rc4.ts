/**
 * RC4 as MSE/PE uses it: a 20-byte key, the first 1024 bytes of key stream dropped.
 *
 * Pure and allocation-free on the hot path: the state is one Uint8Array, `process` XORs a buffer in place.
 * Node 17+ has no RC4 without OpenSSL's legacy provider, so bitpeer carries its own.
 *
 * Invariant: one `Rc4` is one key stream; every byte processed advances it by exactly one byte.
 */

/** Bytes of key stream MSE drops before use (the spec's "discard the first 1024 bytes"). */
export const MSE_RC4_DISCARD = 1024;

export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array, discard = 0) {
    if (key.length === 0 || key.length > 256) throw new RangeError(`RC4 key must be 1..256 bytes, got ${key.length}`);
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

  /** XOR `data[start..end)` with the key stream, in place; returns `data`. */
  process<T extends Uint8Array>(data: T, start = 0, end = data.length): T {
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

  /** The next `n` bytes of key stream (advances it). */
  keyStream(n: number): Buffer { return this.process(Buffer.alloc(n)); }
}

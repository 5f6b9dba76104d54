/**
 * A fixed-size bitfield, most significant bit first, as the BitTorrent wire format lays it out (BEP 3).
 *
 * Invariant: `count` equals the number of set bits below `length`; spare bits in the last byte are always zero.
 */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(length: number, bytes?: Uint8Array) {
    this.length = length;
    const byteLength = Math.ceil(length / 8);
    if (bytes) {
      if (bytes.length !== byteLength) throw new RangeError(`bitfield needs ${byteLength} bytes, got ${bytes.length}`);
      this.bytes = Uint8Array.from(bytes);
      const spare = byteLength * 8 - length;
      if (spare > 0) this.bytes[byteLength - 1]! &= (0xff << spare) & 0xff;
      for (const b of this.bytes) this.setCount += popcount8(b);
    } else {
      this.bytes = new Uint8Array(byteLength);
    }
  }

  static full(length: number): Bitfield {
    const bf = new Bitfield(length);
    for (let i = 0; i < length; i++) bf.set(i);
    return bf;
  }

  get count(): number { return this.setCount; }
  get complete(): boolean { return this.setCount === this.length; }
  get empty(): boolean { return this.setCount === 0; }

  has(i: number): boolean {
    if (i < 0 || i >= this.length) return false;
    return (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  set(i: number): boolean {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} out of range 0..${this.length - 1}`);
    const mask = 0x80 >> (i & 7);
    const byte = this.bytes[i >> 3]!;
    if (byte & mask) return false;
    this.bytes[i >> 3] = byte | mask;
    this.setCount++;
    return true;
  }

  clear(i: number): boolean {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} out of range 0..${this.length - 1}`);
    const mask = 0x80 >> (i & 7);
    const byte = this.bytes[i >> 3]!;
    if (!(byte & mask)) return false;
    this.bytes[i >> 3] = byte & ~mask;
    this.setCount--;
    return true;
  }

  /** Indexes of set bits, ascending. */
  *indexes(): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) if (this.has(i)) yield i;
  }

  clone(): Bitfield { return new Bitfield(this.length, this.bytes); }

  toBuffer(): Buffer { return Buffer.from(this.bytes); }
}

function popcount8(b: number): number {
  let n = 0;
  while (b) { n += b & 1; b >>= 1; }
  return n;
}

/** Calls `fn` for every set bit of `bf`, ascending, skipping zero bytes (faster than `indexes()` on sparse fields). */
export function forEachSetBit(bf: Bitfield, fn: (i: number) => void): void {
  const bytes = bf.bytes;
  for (let k = 0; k < bytes.length; k++) {
    const byte = bytes[k]!;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if (byte & (0x80 >> bit)) fn(k * 8 + bit);
    }
  }
}

/**
 * Canonical bencode encoder (BEP 3).
 *
 * Invariant: the output is canonical: dictionary keys are sorted by their raw bytes, integers have no leading zeros,
 * so `encode(decode(b))` equals `b` for any canonical `b`.
 *
 * Input conventions (see `Encodable`): strings are UTF-8; `Map` keys are raw bytes as 'latin1' strings (what `decode`
 * produces); plain-object keys are UTF-8. Numbers must be safe integers; `undefined` values in dictionaries are skipped.
 * Anything else (booleans, null, floats, class instances, cycles) is a `BtError('BENCODE')`.
 */
import { BtError } from '../util/errors.js';
import type { Encodable } from './types.js';

/** Deeper nesting than this is taken for a cycle. */
const MAX_ENCODE_DEPTH = 1000;

class Writer {
  buf = Buffer.allocUnsafe(256);
  len = 0;

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  ascii(s: string): void {
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  bytes(b: Uint8Array): void {
    this.ascii(`${b.length}:`);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  utf8(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.ascii(`${n}:`);
    this.reserve(n);
    this.len += this.buf.write(s, this.len, 'utf8');
  }
}

function fail(msg: string): never {
  throw new BtError('BENCODE', `bencode: cannot encode ${msg}`);
}

// Keys that are not pure latin1 cannot be raw bytes.
// eslint-disable-next-line no-control-regex
const NOT_LATIN1 = /[^\u0000-\u00ff]/;

function isPlainObject(v: object): v is { readonly [key: string]: Encodable | undefined } {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function write(w: Writer, v: Encodable, depth: number): void {
  if (depth > MAX_ENCODE_DEPTH) fail(`nesting deeper than ${MAX_ENCODE_DEPTH} (a cycle?)`);
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) fail(`number ${v}: only safe integers are allowed`);
      w.ascii(`i${v === 0 ? 0 : v}e`); // -0 becomes 0
      return;
    case 'bigint':
      w.ascii(`i${v.toString()}e`);
      return;
    case 'string':
      w.utf8(v);
      return;
    case 'object': {
      if (v === null) fail('null');
      if (v instanceof Uint8Array) { w.bytes(v); return; }
      if (Array.isArray(v)) {
        w.byte(0x6c);
        for (const item of v as readonly Encodable[]) {
          if (item === undefined) fail('undefined inside a list');
          write(w, item, depth + 1);
        }
        w.byte(0x65);
        return;
      }
      if (v instanceof Map) {
        const entries: [string, Encodable][] = [];
        for (const [k, val] of v as ReadonlyMap<unknown, Encodable | undefined>) {
          if (typeof k !== 'string') fail('a Map key that is not a string');
          if (NOT_LATIN1.test(k)) fail(`Map key ${JSON.stringify(k)}: Map keys are raw bytes as latin1 strings`);
          if (val !== undefined) entries.push([k, val]);
        }
        // latin1 strings: comparing UTF-16 code units (all < 256) compares the raw bytes.
        entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        w.byte(0x64);
        for (const [k, val] of entries) {
          w.bytes(Buffer.from(k, 'latin1'));
          write(w, val, depth + 1);
        }
        w.byte(0x65);
        return;
      }
      if (isPlainObject(v)) {
        const entries: [Buffer, Encodable][] = [];
        for (const k of Object.keys(v)) {
          const val = v[k];
          if (val !== undefined) entries.push([Buffer.from(k, 'utf8'), val]);
        }
        entries.sort((a, b) => Buffer.compare(a[0], b[0]));
        w.byte(0x64);
        for (const [k, val] of entries) {
          w.bytes(k);
          write(w, val, depth + 1);
        }
        w.byte(0x65);
        return;
      }
      fail(`an instance of ${(v as object).constructor?.name ?? 'an unknown class'}`);
    }
    // falls through
    default:
      fail(`a value of type ${typeof v}`);
  }
}

/**
 * Encode a value as canonical bencode.
 * @throws BtError('BENCODE') for values bencode cannot represent.
 */
export function encode(v: Encodable): Buffer {
  const w = new Writer();
  write(w, v, 0);
  return Buffer.from(w.buf.subarray(0, w.len));
}

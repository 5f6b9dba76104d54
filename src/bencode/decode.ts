/**
 * Strict, bounded bencode decoder (BEP 3).
 *
 * Why our own: common JS decoders hang on `l-3:abce`, let the key `__proto__` set an object's prototype, and re-encode
 * instead of keeping raw bytes. See reliability rule 2 in docs/design/reliability.md.
 *
 * Invariants:
 * - Iterative (an explicit stack), so no input or `maxDepth` can overflow the JS call stack.
 * - Every declared string length is checked against the remaining bytes while its digits are read, before anything
 *   is allocated; a huge length fails at once.
 * - Byte strings decode to `Buffer` views of the input (no copy). Keep that in mind: a tiny decoded string keeps the
 *   whole input alive; copy it (`Buffer.from(x)`) if you store it for long.
 * - Dictionaries decode to `Map<string, BValue>` with keys as 'latin1' strings (1 char = 1 byte).
 * - Integers are JS numbers and must be exact: |n| <= 2^53 - 1, otherwise it is an error.
 * - The raw byte span `[start, end)` of every list and dictionary (and, with `spans: true`, every byte string) is
 *   available through `spanOf`, so callers can hash raw bytes (the info-hash is SHA-1 of the raw `info` dict).
 *
 * Strictness (each error is a `BtError('BENCODE')` whose message ends with "at offset N"):
 * - always hard errors: negative string lengths, `i-0e`, `ie`/`i-e`, non-digits in numbers, unterminated values,
 *   a non-string dictionary key, a key without a value, integers beyond 2^53 - 1, depth/token/string-length limits,
 *   trailing data (unless `allowTrailing`).
 * - leading zeros (`i03e`, `03:abc`): `leadingZeros: 'error'` (default; wire, KRPC) or `'soft'` (.torrent files, as
 *   libtorrent does): the value is accepted and a soft error is recorded.
 * - unsorted or duplicate dictionary keys: `keyOrder: 'soft'` (default) accepts them and records a soft error; for a
 *   duplicate key the FIRST value wins (libtorrent's lookup returns the first match). `keyOrder: 'error'` rejects
 *   them (use it where canonical bencode is required). Soft by default because real peers and .torrent creators
 *   emit unsorted dictionaries, and reading them is harmless when hashes are taken over raw bytes.
 */
import { BtError } from '../util/errors.js';
import type { BDict, BValue } from './types.js';

/** Options for {@link decode}. */
export interface DecodeOptions {
  /** Maximum nesting of lists/dictionaries (default 100; use 10 for KRPC). */
  maxDepth?: number;
  /** Maximum number of values, keys included (default 3,000,000; use 500 for KRPC). */
  maxTokens?: number;
  /** Leading zeros in integers and string lengths: 'error' (default) or 'soft'. */
  leadingZeros?: 'error' | 'soft';
  /** Unsorted or duplicate dictionary keys: 'soft' (default; first duplicate wins) or 'error'. */
  keyOrder?: 'error' | 'soft';
  /** Accept bytes after the first complete value; `end` tells where it ended (default false). */
  allowTrailing?: boolean;
  /** Per-context cap on a single byte string's length (default: only the remaining input bounds it). */
  maxStringLength?: number;
  /** Also record the spans of byte strings, not only of lists and dictionaries (default false). */
  spans?: boolean;
}

/** What {@link decode} returns. */
export interface DecodeResult {
  /** The decoded value. */
  value: BValue;
  /** Offset just after the decoded value (equals the input length unless `allowTrailing`). */
  end: number;
  /** Tolerated irregularities (at most {@link MAX_SOFT_ERRORS} entries are kept). */
  softErrors: string[];
  /**
   * Raw byte span `[start, end)` in the input of a decoded list or dictionary (or byte string, when `spans: true`),
   * or undefined for anything else.
   */
  spanOf(obj: object): [number, number] | undefined;
}

/** Default limits (reliability rule 2 in docs/design/reliability.md). */
export const DEFAULT_MAX_DEPTH = 100;
export const DEFAULT_MAX_TOKENS = 3_000_000;
/** Only this many soft errors are kept; one more entry says how many were dropped. */
export const MAX_SOFT_ERRORS = 100;

const C_0 = 0x30;
const C_9 = 0x39;
const C_COLON = 0x3a;
const C_MINUS = 0x2d;
const C_D = 0x64;
const C_E = 0x65;
const C_I = 0x69;
const C_L = 0x6c;

interface Frame {
  start: number;
  list: BValue[] | undefined;
  dict: BDict | undefined;
  /** Pending key whose value comes next (dicts only). */
  key: string | undefined;
  /** Previous key, for the order check (dicts only). */
  lastKey: string | undefined;
  /** The pending key is a duplicate: drop its value. */
  skip: boolean;
}

function fail(msg: string, offset: number): never {
  throw new BtError('BENCODE', `bencode: ${msg} at offset ${offset}`);
}

function describeByte(c: number): string {
  const hex = c.toString(16).padStart(2, '0');
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}' (0x${hex})` : `0x${hex}`;
}

function asBuffer(input: Uint8Array): Buffer {
  if (Buffer.isBuffer(input)) return input;
  return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/**
 * Decode one bencoded value from `input`.
 * @throws BtError('BENCODE') with the byte offset in the message.
 */
export function decode(input: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const buf = asBuffer(input);
  const len = buf.length;
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxTokens = opts.maxTokens ?? DEFAULT_MAX_TOKENS;
  const softZeros = opts.leadingZeros === 'soft';
  const softKeys = (opts.keyOrder ?? 'soft') === 'soft';
  const maxString = opts.maxStringLength ?? Number.MAX_SAFE_INTEGER;
  const stringSpans = opts.spans === true;
  const softErrors: string[] = [];
  let softDropped = 0;
  const spans = new WeakMap<object, [number, number]>();
  const stack: Frame[] = [];
  let tokens = 0;
  let pos = 0;

  const soft = (msg: string): void => {
    if (softErrors.length < MAX_SOFT_ERRORS) softErrors.push(`bencode: ${msg}`);
    else softDropped++;
  };

  const eof = (): never => {
    const top = stack[stack.length - 1];
    const what = top === undefined ? '' : ` (unterminated ${top.list ? 'list' : 'dictionary'} starting at offset ${top.start})`;
    throw new BtError('BENCODE', `bencode: unexpected end of data at offset ${pos}${what}`);
  };

  /** Reads `<len>:` at `pos`; returns the content start, leaves `pos` after the content. */
  const readString = (): number => {
    const first = pos;
    let n = 0;
    let p = pos;
    for (;;) {
      if (p >= len) { pos = p; eof(); }
      const c = buf[p]!;
      if (c === C_COLON) break;
      if (c < C_0 || c > C_9) fail(`invalid character ${describeByte(c)} in string length`, p);
      n = n * 10 + (c - C_0);
      p++;
      // The content starts after a ':' that is at p or later, so at most len - p - 1 bytes can follow it.
      if (n > 0 && n > len - p - 1) fail(`string length ${n} exceeds the ${Math.max(0, len - p - 1)} remaining bytes`, first);
    }
    if (p - first > 1 && buf[first] === C_0) {
      if (softZeros) soft(`leading zero in string length at offset ${first}`);
      else fail('leading zero in string length', first);
    }
    if (n > maxString) fail(`string length ${n} exceeds the limit of ${maxString}`, first);
    const start = p + 1;
    pos = start + n;
    return start;
  };

  const readInt = (): number => {
    const first = pos;
    let p = pos + 1;
    let neg = false;
    if (p < len && buf[p] === C_MINUS) { neg = true; p++; }
    const digits = p;
    let v = 0;
    while (p < len) {
      const c = buf[p]!;
      if (c < C_0 || c > C_9) break;
      v = v * 10 + (c - C_0);
      if (v > Number.MAX_SAFE_INTEGER) fail('integer out of range (beyond 2^53 - 1)', first);
      p++;
    }
    if (p >= len) { pos = p; eof(); }
    if (buf[p] !== C_E) fail(`invalid character ${describeByte(buf[p]!)} in integer`, p);
    if (p === digits) fail('empty integer', first);
    if (neg && v === 0) fail('negative zero integer', first);
    if (p - digits > 1 && buf[digits] === C_0) {
      if (softZeros) soft(`leading zero in integer at offset ${first}`);
      else fail('leading zero in integer', first);
    }
    pos = p + 1;
    return neg ? -v : v;
  };

  let value: BValue | undefined;
  for (;;) {
    if (pos >= len) eof();
    const top = stack[stack.length - 1];
    const c = buf[pos]!;

    if (top !== undefined && c === C_E) {
      if (top.key !== undefined) fail(`missing value for dictionary key ${JSON.stringify(top.key)}`, pos);
      stack.pop();
      pos++;
      const done = (top.list ?? top.dict)!;
      spans.set(done, [top.start, pos]);
      value = done;
    } else if (top?.dict !== undefined && top.key === undefined) {
      // A dictionary key.
      if (c < C_0 || c > C_9) fail(`dictionary key must be a byte string, found ${describeByte(c)}`, pos);
      if (++tokens > maxTokens) fail(`too many tokens (limit ${maxTokens})`, pos);
      const keyAt = pos;
      const s = readString();
      const key = buf.toString('latin1', s, pos);
      const last = top.lastKey;
      top.skip = top.dict.has(key);
      if (top.skip || (last !== undefined && key < last)) {
        const what = top.skip ? 'duplicate' : 'unsorted';
        if (!softKeys) fail(`${what} dictionary key ${JSON.stringify(key)}`, keyAt);
        soft(`${what} dictionary key ${JSON.stringify(key)} at offset ${keyAt}`);
      }
      if (last === undefined || key > last) top.lastKey = key;
      top.key = key;
      continue;
    } else {
      // A value.
      if (++tokens > maxTokens) fail(`too many tokens (limit ${maxTokens})`, pos);
      if (c === C_I) {
        value = readInt();
      } else if (c >= C_0 && c <= C_9) {
        const at = pos;
        const s = readString();
        const str = buf.subarray(s, pos);
        if (stringSpans) spans.set(str, [at, pos]);
        value = str;
      } else if (c === C_L || c === C_D) {
        if (stack.length >= maxDepth) fail(`nesting deeper than ${maxDepth}`, pos);
        stack.push(c === C_L
          ? { start: pos, list: [], dict: undefined, key: undefined, lastKey: undefined, skip: false }
          : { start: pos, list: undefined, dict: new Map(), key: undefined, lastKey: undefined, skip: false });
        pos++;
        continue;
      } else if (c === C_MINUS && pos + 1 < len && buf[pos + 1]! >= C_0 && buf[pos + 1]! <= C_9) {
        fail('negative string length', pos);
      } else {
        fail(`unexpected ${describeByte(c)}`, pos);
      }
    }

    // Deliver `value` to its parent, or finish.
    const parent = stack[stack.length - 1];
    if (parent === undefined) break;
    if (parent.list !== undefined) {
      parent.list.push(value);
    } else {
      if (!parent.skip) parent.dict!.set(parent.key!, value);
      parent.key = undefined;
      parent.skip = false;
    }
  }

  if (pos < len && opts.allowTrailing !== true) fail(`trailing data (${len - pos} bytes)`, pos);
  if (softDropped > 0) softErrors.push(`bencode: ${softDropped} more soft errors not listed`);
  return {
    value,
    end: pos,
    softErrors,
    spanOf: (obj: object) => {
      const s = spans.get(obj);
      return s === undefined ? undefined : [s[0], s[1]];
    },
  };
}

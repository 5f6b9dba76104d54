/**
 * Small typed accessors for decoded bencode (BEP 3) values, so callers never cast.
 *
 * Invariant: every getter returns `undefined` when the key is missing OR has the wrong type; callers decide whether
 * that is an error. Keys are given as ordinary strings and looked up as latin1 (raw bytes), which is what the
 * decoder produces; ASCII keys therefore just work.
 */
import type { BDict, BValue } from './types.js';

/** True for a decoded dictionary. */
export function isDict(v: BValue | undefined): v is BDict {
  return v instanceof Map;
}

/** True for a decoded list. */
export function isList(v: BValue | undefined): v is BValue[] {
  return Array.isArray(v);
}

/** True for a decoded byte string. */
export function isBytes(v: BValue | undefined): v is Buffer {
  return Buffer.isBuffer(v);
}

/** True for a decoded integer. */
export function isInt(v: BValue | undefined): v is number {
  return typeof v === 'number';
}

/** The integer under `key`, if it is one. */
export function getInt(d: BDict, key: string): number | undefined {
  const v = d.get(key);
  return typeof v === 'number' ? v : undefined;
}

/** The byte string under `key`, if it is one. */
export function getBytes(d: BDict, key: string): Buffer | undefined {
  const v = d.get(key);
  return Buffer.isBuffer(v) ? v : undefined;
}

/** The byte string under `key` decoded as UTF-8 (invalid sequences become U+FFFD), if it is a byte string. */
export function getString(d: BDict, key: string): string | undefined {
  const v = d.get(key);
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

/** The dictionary under `key`, if it is one. */
export function getDict(d: BDict, key: string): BDict | undefined {
  const v = d.get(key);
  return v instanceof Map ? v : undefined;
}

/** The list under `key`, if it is one. */
export function getList(d: BDict, key: string): BValue[] | undefined {
  const v = d.get(key);
  return Array.isArray(v) ? v : undefined;
}

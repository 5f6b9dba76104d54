/**
 * Bencode value types (BEP 3).
 *
 * Invariant: a decoded dictionary is a `Map` whose keys are the raw key bytes read as 'latin1' (one char per byte),
 * so comparing two keys as strings compares their raw bytes, and a key such as `__proto__` is just data.
 */

/** A decoded bencode value: integer, byte string, list or dictionary. */
export type BValue = number | Buffer | BValue[] | BDict;

/** A decoded dictionary. Keys are the raw key bytes as 'latin1' strings (`Buffer.from(key, 'latin1')` gives the bytes). */
export type BDict = Map<string, BValue>;

/**
 * What `encode` accepts.
 * - `string` is written as its UTF-8 bytes; `Uint8Array`/`Buffer` as-is.
 * - `number` must be a safe integer; `bigint` is written exactly.
 * - `Map` keys are raw bytes as 'latin1' strings (the same convention as `BDict`); plain-object keys are written as UTF-8.
 * - `undefined` values inside a Map or object are skipped (the key is omitted).
 */
export type Encodable =
  | number
  | bigint
  | string
  | Uint8Array
  | readonly Encodable[]
  | ReadonlyMap<string, Encodable | undefined>
  | { readonly [key: string]: Encodable | undefined };

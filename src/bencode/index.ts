/**
 * Bencode (BEP 3): a strict, bounded decoder that keeps raw byte spans, and a canonical encoder.
 * See decode.ts for the strictness rules and limits, encode.ts for the input conventions.
 */
export type { BValue, BDict, Encodable } from './types.js';
export { encode } from './encode.js';
export { decode, DEFAULT_MAX_DEPTH, DEFAULT_MAX_TOKENS, MAX_SOFT_ERRORS } from './decode.js';
export type { DecodeOptions, DecodeResult } from './decode.js';
export { isDict, isList, isBytes, isInt, getInt, getBytes, getString, getDict, getList } from './access.js';

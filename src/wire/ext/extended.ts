/**
 * The BEP 10 extension protocol: the extended handshake (extended message id 0) and compact-address helpers.
 *
 * Framing (`<len><20><ext id><payload>`) lives in wire/codec/messages.ts; this module only reads and writes the
 * bencoded payload of the handshake.
 *
 * Invariants:
 * - Decoding is bounded: payload ≤ 64 KiB, bencode depth ≤ 4, ≤ 1000 tokens. Anything that is not a bencoded
 *   dictionary within those bounds is a `BtError('PROTOCOL')`; nothing else is ever thrown.
 * - Unknown keys are ignored. A known key with a wrong type or an out-of-range value is ignored too (as if absent),
 *   the way libtorrent reads handshakes: a peer is not dropped for a bad optional field.
 * - The decoded value holds no views into the payload (buffers are copied), and `m` has a null prototype, so a name
 *   like `__proto__` is plain data.
 * - `encodeExtendedHandshake` output decodes back to the same value (round trip), and is canonical bencode.
 */
import { decode, encode, getBytes, getDict, getInt, isDict } from '../../bencode/index.js';
import type { BValue } from '../../bencode/index.js';
import { BtError } from '../../util/errors.js';
import { unpackCompact, type HostPort } from './ip.js';

export { compactAddr } from './ip.js';

/** The extended message id of the handshake itself (BEP 10). */
export const EXTENDED_HANDSHAKE_ID = 0;

/**
 * The ids under which we receive each extension (our `m` dictionary). They match libtorrent's, which helps when
 * reading captures; any 1..255 would do.
 */
export const LOCAL_EXTENSION_IDS = { ut_pex: 1, ut_metadata: 2 } as const;

/** Largest extended handshake payload we decode. */
export const MAX_EXTENDED_HANDSHAKE_SIZE = 64 * 1024;
/** Bencode limits for a handshake payload. */
export const EXTENDED_HANDSHAKE_MAX_DEPTH = 4;
export const EXTENDED_HANDSHAKE_MAX_TOKENS = 1000;
/** Longest extension name we keep from a peer's `m` (longer ones are ignored). */
export const MAX_EXTENSION_NAME_LENGTH = 64;
/** Longest client name (`v`) we keep, in characters; longer ones are cut. */
export const MAX_CLIENT_NAME_LENGTH = 100;
/** Range of `reqq` we accept. */
export const MAX_REQQ = 100_000;
/** Largest `metadata_size` we pass on (the caller applies its own, lower metadata limit). */
export const MAX_METADATA_SIZE_FIELD = 0x7fff_ffff;

/** The fields of a BEP 10 extended handshake that bitpeer reads and writes. */
export interface ExtendedHandshake {
  /** Extension name → extended message id (1..255); 0 means "disabled" (a re-sent handshake turns one off). */
  m: Record<string, number>;
  /** The sender's TCP listen port (`p`), 1..65535. */
  p?: number;
  /** Client name and version (`v`), UTF-8, at most {@link MAX_CLIENT_NAME_LENGTH} characters, no control characters. */
  v?: string;
  /** The address the sender sees us at (`yourip`): 4 or 16 bytes. */
  yourip?: Buffer;
  /** The sender's own IPv4 address (`ipv4`), 4 bytes. */
  ipv4?: Buffer;
  /** The sender's own IPv6 address (`ipv6`), 16 bytes. */
  ipv6?: Buffer;
  /** How many outstanding requests the sender accepts (`reqq`), 1..{@link MAX_REQQ}. */
  reqq?: number;
  /** Size of the info dictionary in bytes (`metadata_size`, BEP 9), 1..2^31-1. */
  metadataSize?: number;
  /** The sender only uploads (`upload_only`, BEP 21): a seed or a partial seed. */
  uploadOnly?: boolean;
  /** The sender prefers (or requires) MSE/PE encryption (`e`). */
  e?: boolean;
}

function protocol(msg: string, cause?: unknown): BtError {
  return new BtError('PROTOCOL', `extended handshake: ${msg}`, cause === undefined ? undefined : { cause });
}

function isIntIn(v: number | undefined, lo: number, hi: number): v is number {
  return v !== undefined && Number.isInteger(v) && v >= lo && v <= hi;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Encodes an extended handshake payload (without the `<20><0>` framing).
 * @throws RangeError for an id outside 0..255, an empty or over-long name, a port outside 1..65535, a `reqq`
 *   outside 1..100000, or address fields of the wrong length (our own input: a bug, not a peer's fault).
 */
export function encodeExtendedHandshake(h: ExtendedHandshake): Buffer {
  const m = new Map<string, number>();
  for (const name of Object.keys(h.m)) {
    const id = h.m[name]!;
    if (!isIntIn(id, 0, 255)) throw new RangeError(`extension id for ${JSON.stringify(name)} must be 0..255, got ${id}`);
    const raw = Buffer.from(name, 'utf8');
    if (raw.length === 0 || raw.length > MAX_EXTENSION_NAME_LENGTH) throw new RangeError(`bad extension name ${JSON.stringify(name)}`);
    m.set(raw.toString('latin1'), id);
  }
  if (h.p !== undefined && !isIntIn(h.p, 1, 65535)) throw new RangeError(`p must be 1..65535, got ${h.p}`);
  if (h.reqq !== undefined && !isIntIn(h.reqq, 1, MAX_REQQ)) throw new RangeError(`reqq must be 1..${MAX_REQQ}, got ${h.reqq}`);
  if (h.metadataSize !== undefined && !isIntIn(h.metadataSize, 1, MAX_METADATA_SIZE_FIELD)) {
    throw new RangeError(`metadataSize out of range: ${h.metadataSize}`);
  }
  if (h.yourip !== undefined && h.yourip.length !== 4 && h.yourip.length !== 16) throw new RangeError('yourip must be 4 or 16 bytes');
  if (h.ipv4 !== undefined && h.ipv4.length !== 4) throw new RangeError('ipv4 must be 4 bytes');
  if (h.ipv6 !== undefined && h.ipv6.length !== 16) throw new RangeError('ipv6 must be 16 bytes');
  return encode({
    m,
    p: h.p,
    v: h.v,
    yourip: h.yourip,
    ipv4: h.ipv4,
    ipv6: h.ipv6,
    reqq: h.reqq,
    metadata_size: h.metadataSize,
    upload_only: h.uploadOnly === undefined ? undefined : h.uploadOnly ? 1 : 0,
    e: h.e === undefined ? undefined : h.e ? 1 : 0,
  });
}

function copyBytes(v: BValue | undefined, ...lengths: number[]): Buffer | undefined {
  return Buffer.isBuffer(v) && lengths.includes(v.length) ? Buffer.from(v) : undefined;
}

/**
 * Decodes an extended handshake payload (the bytes after `<20><0>`).
 * @throws BtError('PROTOCOL') when the payload is too large, not bencode within the limits, or not a dictionary.
 */
export function decodeExtendedHandshake(payload: Buffer): ExtendedHandshake {
  if (payload.length > MAX_EXTENDED_HANDSHAKE_SIZE) {
    throw protocol(`payload of ${payload.length} bytes exceeds ${MAX_EXTENDED_HANDSHAKE_SIZE}`);
  }
  let value: BValue;
  try {
    value = decode(payload, { maxDepth: EXTENDED_HANDSHAKE_MAX_DEPTH, maxTokens: EXTENDED_HANDSHAKE_MAX_TOKENS }).value;
  } catch (e) {
    throw protocol(e instanceof Error ? e.message : String(e), e);
  }
  if (!isDict(value)) throw protocol('payload is not a dictionary');

  const m: Record<string, number> = Object.create(null) as Record<string, number>;
  const md = getDict(value, 'm');
  if (md !== undefined) {
    for (const [key, id] of md) {
      if (typeof id !== 'number' || !isIntIn(id, 0, 255)) continue;
      if (key.length === 0 || key.length > MAX_EXTENSION_NAME_LENGTH) continue;
      m[Buffer.from(key, 'latin1').toString('utf8')] = id;
    }
  }
  const h: ExtendedHandshake = { m };

  const p = getInt(value, 'p');
  if (isIntIn(p, 1, 65535)) h.p = p;
  const v = getBytes(value, 'v');
  if (v !== undefined) h.v = [...v.toString('utf8').replace(CONTROL, '')].slice(0, MAX_CLIENT_NAME_LENGTH).join('');
  const yourip = copyBytes(value.get('yourip'), 4, 16);
  if (yourip !== undefined) h.yourip = yourip;
  const ipv4 = copyBytes(value.get('ipv4'), 4);
  if (ipv4 !== undefined) h.ipv4 = ipv4;
  const ipv6 = copyBytes(value.get('ipv6'), 16);
  if (ipv6 !== undefined) h.ipv6 = ipv6;
  const reqq = getInt(value, 'reqq');
  if (isIntIn(reqq, 1, MAX_REQQ)) h.reqq = reqq;
  const size = getInt(value, 'metadata_size');
  if (isIntIn(size, 1, MAX_METADATA_SIZE_FIELD)) h.metadataSize = size;
  const uo = getInt(value, 'upload_only');
  if (uo !== undefined) h.uploadOnly = uo !== 0;
  const e = getInt(value, 'e');
  if (e !== undefined) h.e = e !== 0;
  return h;
}

/**
 * Unpacks concatenated compact peers (6 bytes each for `family` 4, 18 for 6). Entries are returned as they are,
 * port 0 included.
 * @throws BtError('PROTOCOL') when the length is not a multiple of the entry size.
 */
export function parseCompactPeers(buf: Buffer, family: 4 | 6): HostPort[] {
  const peers = unpackCompact(buf, family);
  if (peers === null) {
    throw new BtError('PROTOCOL', `compact peers: ${buf.length} bytes is not a multiple of ${family === 4 ? 6 : 18}`);
  }
  return peers;
}

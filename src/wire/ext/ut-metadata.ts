/**
 * BEP 9 (ut_metadata) message codec: the payload of an extended message sent under the peer's ut_metadata id.
 *
 * A message is a bencoded dictionary `{msg_type, piece[, total_size]}` (0 request, 1 data, 2 reject); a data
 * message is followed by the raw bytes of that 16 KiB metadata piece (the last piece may be shorter).
 *
 * Invariants:
 * - Decoding is strict and bounded: the dictionary is read with a small depth/token budget, integers must be exact,
 *   `piece` < ceil(size / 16 KiB) where size is `total_size` for data and {@link MAX_METADATA_SIZE} otherwise,
 *   `total_size` is 1..{@link MAX_METADATA_SIZE}, a data message carries exactly the piece's length, and a request
 *   or reject has no trailing bytes. Anything else is a `BtError('PROTOCOL')`; nothing else is thrown.
 * - A decoded data block is a copy, not a view into the payload.
 * - `encodeUtMetadata` output decodes back to the same message (round trip), and its dictionary is canonical.
 * Pure: no I/O.
 */
import { decode, encode, isDict } from '../../bencode/index.js';
import type { BValue } from '../../bencode/index.js';
import { BtError } from '../../util/errors.js';
import { BLOCK_SIZE } from '../../util/geometry.js';

/** Size of one metadata piece (BEP 9): every piece but the last is exactly this long. */
export const METADATA_PIECE_SIZE = BLOCK_SIZE;
/**
 * Largest metadata (info dictionary) we fetch or accept: 16 MiB, anacrolix's limit (reliability rule 6 in
 * docs/design/reliability.md).
 */
export const MAX_METADATA_SIZE = 16 * 1024 * 1024;
/** Largest message dictionary we decode (a real one is under 60 bytes). */
const MAX_DICT_BYTES = 1024;

/** One ut_metadata message. */
export type UtMetadataMessage =
  | { type: 'request'; piece: number }
  | { type: 'data'; piece: number; totalSize: number; data: Buffer }
  | { type: 'reject'; piece: number };

const MSG_TYPE = { request: 0, data: 1, reject: 2 } as const;

function protocol(msg: string, cause?: unknown): BtError {
  return new BtError('PROTOCOL', `ut_metadata: ${msg}`, cause === undefined ? undefined : { cause });
}

/** Number of 16 KiB pieces in metadata of `size` bytes. */
export function metadataPieceCount(size: number): number {
  return Math.ceil(size / METADATA_PIECE_SIZE);
}

/** Length of piece `piece` of metadata of `size` bytes (0 when out of range). */
export function metadataPieceLength(size: number, piece: number): number {
  const count = metadataPieceCount(size);
  if (!Number.isInteger(piece) || piece < 0 || piece >= count) return 0;
  return piece === count - 1 ? size - piece * METADATA_PIECE_SIZE : METADATA_PIECE_SIZE;
}

/** True for an integer `size` in 1..{@link MAX_METADATA_SIZE}. */
export function isValidMetadataSize(size: number | undefined): size is number {
  return size !== undefined && Number.isInteger(size) && size >= 1 && size <= MAX_METADATA_SIZE;
}

/**
 * Encodes a ut_metadata payload (without the `<20><id>` framing).
 * @throws RangeError for a bad piece index, total size, or data length (our own input: a bug, not a peer's fault).
 */
export function encodeUtMetadata(msg: UtMetadataMessage): Buffer {
  const maxPieces = metadataPieceCount(msg.type === 'data' ? msg.totalSize : MAX_METADATA_SIZE);
  if (msg.type === 'data' && !isValidMetadataSize(msg.totalSize)) throw new RangeError(`bad total_size ${msg.totalSize}`);
  if (!Number.isInteger(msg.piece) || msg.piece < 0 || msg.piece >= maxPieces) throw new RangeError(`bad piece ${msg.piece}`);
  if (msg.type !== 'data') return encode({ msg_type: MSG_TYPE[msg.type], piece: msg.piece });
  const expected = metadataPieceLength(msg.totalSize, msg.piece);
  if (msg.data.length !== expected) throw new RangeError(`piece ${msg.piece} must be ${expected} bytes, got ${msg.data.length}`);
  const dict = encode({ msg_type: MSG_TYPE.data, piece: msg.piece, total_size: msg.totalSize });
  return Buffer.concat([dict, msg.data], dict.length + msg.data.length);
}

function intField(d: Map<string, BValue>, key: string): number | undefined {
  const v = d.get(key);
  return typeof v === 'number' ? v : undefined;
}

/**
 * Decodes a ut_metadata payload (the bytes after `<20><id>`).
 * @throws BtError('PROTOCOL') for anything but a well-formed, in-range message (see the module invariants).
 */
export function decodeUtMetadata(payload: Buffer): UtMetadataMessage {
  let value: BValue;
  let end: number;
  try {
    // Only the dictionary is bencode; a data block follows it. Bound the part the decoder may look at.
    const head = payload.subarray(0, Math.min(payload.length, MAX_DICT_BYTES));
    ({ value, end } = decode(head, { maxDepth: 2, maxTokens: 32, allowTrailing: true }));
  } catch (e) {
    throw protocol(e instanceof Error ? e.message : String(e), e);
  }
  if (!isDict(value)) throw protocol('payload is not a dictionary');
  const msgType = intField(value, 'msg_type');
  const piece = intField(value, 'piece');
  if (piece === undefined) throw protocol('missing or non-integer piece');
  const rest = payload.length - end;
  if (msgType === MSG_TYPE.request || msgType === MSG_TYPE.reject) {
    if (piece < 0 || piece >= metadataPieceCount(MAX_METADATA_SIZE)) throw protocol(`piece ${piece} out of range`);
    if (rest !== 0) throw protocol(`${rest} trailing bytes after a ${msgType === 0 ? 'request' : 'reject'}`);
    return { type: msgType === MSG_TYPE.request ? 'request' : 'reject', piece };
  }
  if (msgType !== MSG_TYPE.data) throw protocol(`unknown msg_type ${String(value.get('msg_type'))}`);
  const totalSize = intField(value, 'total_size');
  if (!isValidMetadataSize(totalSize)) throw protocol(`bad total_size ${String(value.get('total_size'))}`);
  const expected = metadataPieceLength(totalSize, piece);
  if (expected === 0) throw protocol(`piece ${piece} out of range for total_size ${totalSize}`);
  if (rest !== expected) throw protocol(`piece ${piece} carries ${rest} bytes, expected ${expected}`);
  return { type: 'data', piece, totalSize, data: Buffer.from(payload.subarray(end)) };
}

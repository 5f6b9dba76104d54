/**
 * Incremental, validating decoder for the peer wire message stream (BEP 3, BEP 5 `port`, BEP 6, BEP 10 framing,
 * BEP 52 hash request / hashes / hash reject).
 *
 * The shell pushes socket chunks and pulls messages: `push(chunk)` only appends a reference; `next()` returns one
 * message or `null` when more bytes are needed, and `needed` says how many.
 *
 * Invariants:
 * - Every length is validated as soon as it can be: the general cap as soon as the 4-byte prefix is in, the
 *   per-type length as soon as the id byte is in, and a piece's index/begin as soon as its 8-byte header is in;
 *   all before any of the body is waited for. A hostile prefix (e.g. 0xFFFFFFFF) fails after 4 bytes and allocates
 *   nothing. Memory held is therefore bounded by the chunks pushed and not yet consumed, and a single message never
 *   makes us wait for more than `maxMessageLength` bytes.
 * - No per-byte work on payloads, and no concatenation per chunk. A piece block that lies in one pushed chunk is
 *   returned as a zero-copy `subarray` of that chunk; one that straddles chunks is copied once.
 * - After `next()` throws, the decoder is dead: every later call rethrows the same error.
 * - Unknown message ids are not fatal (libtorrent closes the connection for them; bitpeer is more lenient, see the
 *   table in docs/design/wire.md): their bodies are discarded as they arrive, never buffered, and an `unknown`
 *   message is returned once the body has been skipped. Spare bits set in a bitfield are cleared, not fatal (as in
 *   libtorrent).
 * - BEP 52 messages: a hash request or reject has exactly its 49-byte length; a `hashes` message must hold a whole
 *   number of 32-byte hashes, at most MAX_HASHES_PER_MESSAGE base hashes plus MAX_PROOF_LAYERS + 1 proof hashes (its
 *   length is checked at the id byte, before the body is waited for), and exactly as many as its header announces
 *   (libtorrent's on_hashes count). Whether the fields fit the torrent's files is the session's check (v2-hashes.ts).
 */

import { BtError } from '../../util/errors.js';
import { BLOCK_SIZE, isValidGeometry, lastPieceSize } from '../../util/geometry.js';
import { HASH_HEADER_LENGTH, MessageId, hashesProofCount, type HashRequestFields, type Message } from './messages.js';

/** The torrent's shape, needed to validate indexes, block ranges and the bitfield length. */
export interface WireGeometry {
  /** Number of pieces. */
  pieceCount: number;
  /** Nominal piece length in bytes. */
  pieceLength: number;
  /** Total content length in bytes; the last piece holds the remainder and may be short. */
  totalLength: number;
}

/** Decoder limits. Every field is optional; the defaults are the exported `DEFAULT_*` constants. */
export interface DecoderLimits {
  /** Largest accepted length prefix for any message (id byte included). */
  maxMessageLength?: number;
  /** Largest block in `piece`, and largest `length` in `request`/`cancel`/`reject`. */
  maxBlockLength?: number;
  /** Largest payload of an `extended` message (after the extended-message id byte). */
  maxExtendedLength?: number;
}

/** 16 KiB: the block size every current client uses, and the largest libtorrent accepts. */
export const DEFAULT_MAX_BLOCK_LENGTH = BLOCK_SIZE;
/** 1 MiB: BEP 10 payload cap (libtorrent and rqbit drop a peer for more). */
export const DEFAULT_MAX_EXTENDED_LENGTH = 1024 * 1024;
/** 1 MiB plus headroom, so a maximal extended message (2 header bytes + 1 MiB) fits. */
export const DEFAULT_MAX_MESSAGE_LENGTH = 1024 * 1024 + 1024;

/** libtorrent's cap on the hashes of one request (validate_hash_request: 8192 leaf hashes = a 128 MiB piece). */
export const MAX_HASHES_PER_MESSAGE = 8192;
/**
 * Cap on `proof layers` in a `hashes` message. A file's tree over 16 KiB leaves has at most 49 layers above them
 * (2^63 bytes), so 64 is never a limit for a real tree; it bounds the proof before the body is read.
 */
export const MAX_PROOF_LAYERS = 64;
const HASH_MESSAGE_LENGTH = 1 + HASH_HEADER_LENGTH;

const EMPTY = Buffer.alloc(0);
/** Compact the chunk list once this many consumed slots have piled up at its head. */
const COMPACT_AFTER = 64;

/** Exact length prefixes of the fixed-size messages, by id; `undefined` for variable-size or unknown ids. */
const FIXED_LENGTH: ReadonlyArray<number | undefined> = (() => {
  const t: Array<number | undefined> = [];
  t[MessageId.CHOKE] = 1;
  t[MessageId.UNCHOKE] = 1;
  t[MessageId.INTERESTED] = 1;
  t[MessageId.NOT_INTERESTED] = 1;
  t[MessageId.HAVE] = 5;
  t[MessageId.REQUEST] = 13;
  t[MessageId.CANCEL] = 13;
  t[MessageId.PORT] = 3;
  t[MessageId.SUGGEST] = 5;
  t[MessageId.HAVE_ALL] = 1;
  t[MessageId.HAVE_NONE] = 1;
  t[MessageId.REJECT] = 13;
  t[MessageId.ALLOWED_FAST] = 5;
  t[MessageId.HASH_REQUEST] = HASH_MESSAGE_LENGTH;
  t[MessageId.HASH_REJECT] = HASH_MESSAGE_LENGTH;
  return t;
})();

const NAME: ReadonlyArray<string | undefined> = (() => {
  const t: Array<string | undefined> = [];
  t[MessageId.CHOKE] = 'choke';
  t[MessageId.UNCHOKE] = 'unchoke';
  t[MessageId.INTERESTED] = 'interested';
  t[MessageId.NOT_INTERESTED] = 'not interested';
  t[MessageId.HAVE] = 'have';
  t[MessageId.BITFIELD] = 'bitfield';
  t[MessageId.REQUEST] = 'request';
  t[MessageId.PIECE] = 'piece';
  t[MessageId.CANCEL] = 'cancel';
  t[MessageId.PORT] = 'port';
  t[MessageId.SUGGEST] = 'suggest';
  t[MessageId.HAVE_ALL] = 'have all';
  t[MessageId.HAVE_NONE] = 'have none';
  t[MessageId.REJECT] = 'reject';
  t[MessageId.ALLOWED_FAST] = 'allowed fast';
  t[MessageId.EXTENDED] = 'extended';
  t[MessageId.HASH_REQUEST] = 'hash request';
  t[MessageId.HASHES] = 'hashes';
  t[MessageId.HASH_REJECT] = 'hash reject';
  return t;
})();

function checkGeometry(g: WireGeometry): void {
  const { pieceCount, pieceLength, totalLength } = g;
  if (!isValidGeometry(g)) {
    throw new RangeError(`invalid wire geometry: ${pieceCount} pieces of ${pieceLength} bytes, total ${totalLength}`);
  }
}

function checkLimit(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`decoder limit ${name} must be a positive integer: ${v}`);
  return v;
}

/**
 * Why a bitfield is not valid for `pieceCount` pieces (a wrong length), or `null` if it is. Spare bits set in the last
 * byte are not a problem: libtorrent ignores them, and so do we ({@link clearSpareBits}).
 * For bitfields received before the geometry was known (see {@link MessageDecoder.setGeometry}).
 */
export function bitfieldProblem(bitfield: Buffer, pieceCount: number): string | null {
  const expected = Math.ceil(pieceCount / 8);
  if (bitfield.length !== expected) {
    return `bitfield has wrong length: ${bitfield.length} != ${expected} bytes for ${pieceCount} pieces`;
  }
  return null;
}

/** Clears, in place, the bits of the last byte beyond `pieceCount` (a bitfield of the right length). */
export function clearSpareBits(bitfield: Buffer, pieceCount: number): void {
  const spare = bitfield.length * 8 - pieceCount;
  if (spare > 0 && bitfield.length > 0) bitfield[bitfield.length - 1]! &= (0xff << spare) & 0xff;
}

/**
 * Pull decoder for the message stream that follows the handshake. See the module comment for its invariants.
 *
 * Pushed chunks are referenced, not copied: a pushed buffer must not be modified afterwards (Node's socket
 * `'data'` chunks are fresh buffers, so this holds unless the shell reuses a read buffer).
 */
export class MessageDecoder {
  private geometry: WireGeometry | null;
  private lastPieceLength = 0;
  private readonly maxMessageLength: number;
  private readonly maxBlockLength: number;
  private readonly maxExtendedLength: number;

  // Chunk list: live data starts at chunks[head][offset]; `total` bytes are buffered in all.
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private total = 0;

  // The message in progress. len < 0: prefix not yet read. id < 0: id not yet read.
  private len = -1;
  private id = -1;
  private pieceHeaderRead = false;
  private pieceIndex = 0;
  private pieceBegin = 0;
  private skipLeft = 0; // body bytes of an unknown message still to discard

  private error: BtError | null = null;

  /**
   * @param geometry the torrent's shape; `null` while it is unknown (a magnet link before the metadata arrives):
   *   then index, block-range and bitfield checks are skipped until {@link setGeometry} is called, and the caller
   *   must check what it kept meanwhile (e.g. with {@link bitfieldProblem}).
   * @throws RangeError on an inconsistent geometry or a non-positive limit.
   */
  constructor(geometry: WireGeometry | null, limits: DecoderLimits = {}) {
    this.maxMessageLength = checkLimit('maxMessageLength', limits.maxMessageLength, DEFAULT_MAX_MESSAGE_LENGTH);
    this.maxBlockLength = checkLimit('maxBlockLength', limits.maxBlockLength, DEFAULT_MAX_BLOCK_LENGTH);
    this.maxExtendedLength = checkLimit('maxExtendedLength', limits.maxExtendedLength, DEFAULT_MAX_EXTENDED_LENGTH);
    this.geometry = null;
    if (geometry) this.setGeometry(geometry);
  }

  /**
   * Sets the geometry once the metadata is known. Messages decoded from then on are fully validated.
   * @throws RangeError on an inconsistent geometry.
   */
  setGeometry(geometry: WireGeometry): void {
    checkGeometry(geometry);
    this.geometry = { pieceCount: geometry.pieceCount, pieceLength: geometry.pieceLength, totalLength: geometry.totalLength };
    this.lastPieceLength = lastPieceSize(geometry);
  }

  /** Appends a chunk received from the peer. O(1): the chunk is referenced, not copied. */
  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.error) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /**
   * Copies the bytes pushed and not yet consumed into one buffer the decoder owns, and drops its references to the
   * pushed chunks. A shell that reads into a reused buffer calls this before the buffer is overwritten; only a
   * partial message is ever left (at most one message's bytes), so the copy is small.
   */
  retainBuffered(): void {
    if (this.total === 0) {
      this.chunks.length = 0;
      this.head = 0;
      this.offset = 0;
      return;
    }
    const n = this.total;
    const out = this.take(n, true);
    this.chunks = [out];
    this.head = 0;
    this.offset = 0;
    this.total = n;
  }

  /** Bytes pushed and not yet consumed by a decoded message. */
  get buffered(): number {
    return this.total;
  }

  /**
   * How many more bytes must be pushed before `next()` can make progress (decode, skip, or reject something).
   * At least 1 right after `next()` returned `null`; 0 when `next()` should be called now (or after an error).
   */
  get needed(): number {
    if (this.error) return 0;
    let target: number;
    if (this.len < 0) target = 4;
    else if (this.id < 0) target = 1;
    else if (this.id === MessageId.PIECE) target = this.pieceHeaderRead ? this.len - 9 : 8;
    else if (this.isSkipping()) target = this.skipLeft;
    else target = this.len - 1;
    return Math.max(0, target - this.total);
  }

  /**
   * Decodes the next message, or returns `null` if more bytes are needed (see {@link needed}).
   * Payload buffers (`piece.block`, `extended.payload`) may be views into pushed chunks: copy them to keep them
   * long-term. `bitfield.bitfield` is always a fresh copy.
   * @throws BtError('PROTOCOL') with a specific reason when the peer broke the protocol; the decoder is dead then.
   */
  next(): Message | null {
    if (this.error) throw this.error;
    try {
      return this.step();
    } catch (e) {
      if (e instanceof BtError) {
        this.error = e;
        this.chunks = [];
        this.head = 0;
        this.offset = 0;
        this.total = 0;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private step(): Message | null {
    if (this.len < 0) {
      if (this.total < 4) return null;
      const len = this.readU32();
      if (len === 0) return { type: 'keepAlive' };
      if (len > this.maxMessageLength) this.fail(`message too long: ${len} > ${this.maxMessageLength}`);
      this.len = len;
    }
    if (this.id < 0) {
      if (this.total < 1) return null;
      this.id = this.readU8();
      this.checkLength();
    }
    const id = this.id;
    const len = this.len;

    if (id === MessageId.PIECE) return this.stepPiece();
    if (this.isSkipping()) {
      const n = Math.min(this.skipLeft, this.total);
      this.consume(n);
      this.skipLeft -= n;
      if (this.skipLeft > 0) return null;
      this.reset();
      return { type: 'unknown', id, length: len };
    }

    const body = len - 1;
    if (this.total < body) return null;
    let m: Message;
    switch (id) {
      case MessageId.CHOKE: m = { type: 'choke' }; break;
      case MessageId.UNCHOKE: m = { type: 'unchoke' }; break;
      case MessageId.INTERESTED: m = { type: 'interested' }; break;
      case MessageId.NOT_INTERESTED: m = { type: 'notInterested' }; break;
      case MessageId.HAVE_ALL: m = { type: 'haveAll' }; break;
      case MessageId.HAVE_NONE: m = { type: 'haveNone' }; break;
      case MessageId.HAVE: m = { type: 'have', index: this.readIndex('have') }; break;
      case MessageId.SUGGEST: m = { type: 'suggest', index: this.readIndex('suggest') }; break;
      case MessageId.ALLOWED_FAST: m = { type: 'allowedFast', index: this.readIndex('allowed fast') }; break;
      case MessageId.REQUEST: m = this.readBlockRef('request'); break;
      case MessageId.CANCEL: m = this.readBlockRef('cancel'); break;
      case MessageId.REJECT: m = this.readBlockRef('reject'); break;
      case MessageId.PORT: m = { type: 'port', port: this.readU8() * 256 + this.readU8() }; break;
      case MessageId.BITFIELD: {
        const bitfield = this.take(body, true);
        if (this.geometry) {
          const problem = bitfieldProblem(bitfield, this.geometry.pieceCount);
          if (problem) this.fail(problem);
          clearSpareBits(bitfield, this.geometry.pieceCount);
        }
        m = { type: 'bitfield', bitfield };
        break;
      }
      case MessageId.EXTENDED: {
        const extId = this.readU8();
        m = { type: 'extended', id: extId, payload: this.take(body - 1, false) };
        break;
      }
      case MessageId.HASH_REQUEST: m = { type: 'hashRequest', ...this.readHashHeader() }; break;
      case MessageId.HASH_REJECT: m = { type: 'hashReject', ...this.readHashHeader() }; break;
      case MessageId.HASHES: {
        const h = this.readHashHeader();
        if (h.length < 1 || h.length > MAX_HASHES_PER_MESSAGE) this.fail(`hashes: length ${h.length} not in 1..${MAX_HASHES_PER_MESSAGE}`);
        if (h.proofLayers > MAX_PROOF_LAYERS) this.fail(`hashes: proof layers ${h.proofLayers} > ${MAX_PROOF_LAYERS}`);
        const have = (body - HASH_HEADER_LENGTH) / 32;
        const expected = h.length + hashesProofCount(h.length, h.proofLayers);
        if (have !== expected) this.fail(`hashes: ${have} hashes, the header announces ${expected}`);
        m = { type: 'hashes', ...h, hashes: this.take(body - HASH_HEADER_LENGTH, true) };
        break;
      }
      default:
        // Unreachable: ids without a case are skipped above.
        this.fail(`internal: unhandled message id ${id}`);
    }
    this.reset();
    return m;
  }

  private stepPiece(): Message | null {
    const blockLength = this.len - 9;
    if (!this.pieceHeaderRead) {
      if (this.total < 8) return null;
      const index = this.readU32();
      const begin = this.readU32();
      this.checkIndex('piece', index);
      this.checkRange('piece', index, begin, blockLength);
      this.pieceIndex = index;
      this.pieceBegin = begin;
      this.pieceHeaderRead = true;
    }
    if (this.total < blockLength) return null;
    const m: Message = { type: 'piece', index: this.pieceIndex, begin: this.pieceBegin, block: this.take(blockLength, false) };
    this.reset();
    return m;
  }

  private isSkipping(): boolean {
    return this.id >= 0 && this.id !== MessageId.BITFIELD && this.id !== MessageId.PIECE
      && this.id !== MessageId.EXTENDED && this.id !== MessageId.HASHES && FIXED_LENGTH[this.id] === undefined;
  }

  /** Per-type length check, done as soon as the id byte is in, before any of the body is waited for. */
  private checkLength(): void {
    const id = this.id;
    const len = this.len;
    const fixed = FIXED_LENGTH[id];
    if (fixed !== undefined) {
      if (len !== fixed) this.fail(`${NAME[id]} message has wrong length: ${len} != ${fixed}`);
      return;
    }
    switch (id) {
      case MessageId.PIECE: {
        const max = 9 + this.maxBlockLength;
        if (len > max) this.fail(`piece message too long: ${len} > ${max}`);
        if (len < 10) this.fail(`piece message too short: ${len} < 10 (empty block)`);
        return;
      }
      case MessageId.BITFIELD: {
        if (this.geometry) {
          const expected = 1 + Math.ceil(this.geometry.pieceCount / 8);
          if (len !== expected) {
            this.fail(`bitfield message has wrong length: ${len} != ${expected} (${this.geometry.pieceCount} pieces)`);
          }
        }
        return;
      }
      case MessageId.EXTENDED: {
        if (len < 2) this.fail(`extended message too short: ${len} < 2`);
        const payload = len - 2;
        if (payload > this.maxExtendedLength) {
          this.fail(`extended message too long: payload ${payload} > ${this.maxExtendedLength}`);
        }
        return;
      }
      case MessageId.HASHES: {
        const max = HASH_MESSAGE_LENGTH + 32 * (MAX_HASHES_PER_MESSAGE + MAX_PROOF_LAYERS + 1);
        if (len < HASH_MESSAGE_LENGTH) this.fail(`hashes message too short: ${len} < ${HASH_MESSAGE_LENGTH}`);
        if (len > max) this.fail(`hashes message too long: ${len} > ${max}`);
        if ((len - HASH_MESSAGE_LENGTH) % 32 !== 0) this.fail(`hashes message length ${len} is not the header plus whole 32-byte hashes`);
        return;
      }
      default:
        // Unknown id: only the general cap applies; the body is skipped as it arrives.
        this.skipLeft = len - 1;
    }
  }

  private readHashHeader(): HashRequestFields {
    const piecesRoot = this.take(32, true);
    const baseLayer = this.readU32();
    const index = this.readU32();
    const length = this.readU32();
    const proofLayers = this.readU32();
    return { piecesRoot, baseLayer, index, length, proofLayers };
  }

  private readIndex(what: string): number {
    const index = this.readU32();
    this.checkIndex(what, index);
    return index;
  }

  private readBlockRef(type: 'request' | 'cancel' | 'reject'): Message {
    const what = type;
    const index = this.readU32();
    const begin = this.readU32();
    const length = this.readU32();
    this.checkIndex(what, index);
    if (length === 0) this.fail(`${what} length is zero`);
    if (length > this.maxBlockLength) this.fail(`${what} length too long: ${length} > ${this.maxBlockLength}`);
    this.checkRange(what, index, begin, length);
    return { type, index, begin, length };
  }

  private checkIndex(what: string, index: number): void {
    const g = this.geometry;
    if (g && index >= g.pieceCount) this.fail(`${what} index out of range: ${index} >= ${g.pieceCount}`);
  }

  private checkRange(what: string, index: number, begin: number, length: number): void {
    const g = this.geometry;
    if (!g) return;
    const size = index === g.pieceCount - 1 ? this.lastPieceLength : g.pieceLength;
    if (begin + length > size) {
      this.fail(`${what} outside piece ${index}: begin ${begin} + length ${length} > piece size ${size}`);
    }
  }

  private fail(reason: string): never {
    throw new BtError('PROTOCOL', reason);
  }

  private reset(): void {
    this.len = -1;
    this.id = -1;
    this.pieceHeaderRead = false;
    this.skipLeft = 0;
  }

  // --- chunk list primitives (callers check `total` first) -------------------------------------------------------

  private dropHead(): void {
    this.chunks[this.head] = EMPTY; // release the reference now
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    } else if (this.head >= COMPACT_AFTER) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  private consume(n: number): void {
    this.total -= n;
    while (n > 0) {
      const avail = this.chunks[this.head]!.length - this.offset;
      if (n < avail) {
        this.offset += n;
        return;
      }
      n -= avail;
      this.dropHead();
    }
  }

  private readU8(): number {
    const c = this.chunks[this.head]!;
    const v = c[this.offset]!;
    this.total--;
    if (++this.offset === c.length) this.dropHead();
    return v;
  }

  private readU32(): number {
    const c = this.chunks[this.head]!;
    const o = this.offset;
    if (o + 4 <= c.length) {
      const v = c.readUInt32BE(o);
      this.total -= 4;
      this.offset = o + 4;
      if (this.offset === c.length) this.dropHead();
      return v;
    }
    return this.readU8() * 0x1000000 + (this.readU8() << 16) + (this.readU8() << 8) + this.readU8();
  }

  /** Takes `n` bytes: a view if they lie in one chunk and `copy` is false, else one fresh buffer. */
  private take(n: number, copy: boolean): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const c = this.chunks[this.head]!;
    const o = this.offset;
    if (o + n <= c.length) {
      const view = c.subarray(o, o + n);
      this.consume(n);
      return copy ? Buffer.from(view) : view;
    }
    const out = Buffer.allocUnsafe(n);
    let w = 0;
    while (w < n) {
      const chunk = this.chunks[this.head]!;
      const m = Math.min(n - w, chunk.length - this.offset);
      chunk.copy(out, w, this.offset, this.offset + m);
      w += m;
      this.offset += m;
      if (this.offset === chunk.length) this.dropHead();
    }
    this.total -= n;
    return out;
  }
}

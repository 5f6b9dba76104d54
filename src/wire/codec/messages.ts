/**
 * Peer wire messages: the typed union and the encoder (BEP 3, BEP 5 `port`, BEP 6 Fast extension, BEP 10 framing,
 * BEP 52 hash request / hashes / hash reject).
 *
 * Every message after the handshake is `<length:uint32 BE><id:uint8><payload>`; a zero length is a keep-alive.
 * The BEP 10 `extended` message (id 20) is framed here only: `<20><ext id:uint8><payload>`, the payload is opaque.
 *
 * Invariant: `encodeMessage` returns exactly the bytes `MessageDecoder` accepts for the same value (decode∘encode is
 * the identity for valid messages). The five no-payload messages and keep-alive are shared constant buffers:
 * treat every buffer returned by this module as read-only.
 *
 * BEP 52 messages share one header: `<pieces root:32><base layer:u32><index:u32><length:u32><proof layers:u32>`.
 * `hashes` is that header followed by `length` base-layer hashes and then the uncle (proof) hashes, 32 bytes each,
 * from the layer just above the requested subtree up towards the root ({@link hashesProofCount} says how many).
 */

/** Message ids on the wire. */
export const MessageId = {
  CHOKE: 0,
  UNCHOKE: 1,
  INTERESTED: 2,
  NOT_INTERESTED: 3,
  HAVE: 4,
  BITFIELD: 5,
  REQUEST: 6,
  PIECE: 7,
  CANCEL: 8,
  PORT: 9,
  SUGGEST: 13,
  HAVE_ALL: 14,
  HAVE_NONE: 15,
  REJECT: 16,
  ALLOWED_FAST: 17,
  EXTENDED: 20,
  HASH_REQUEST: 21,
  HASHES: 22,
  HASH_REJECT: 23,
} as const;

/** The fields of a BEP 52 hash request (shared by `hashRequest`, `hashes` and `hashReject`). */
export interface HashRequestFields {
  /** The file's 32-byte `pieces root`. */
  piecesRoot: Buffer;
  /** Tree layer of the requested hashes, counted from the 16 KiB leaves (0 = leaf hashes). */
  baseLayer: number;
  /** Index of the first requested hash inside the base layer. */
  index: number;
  /** Number of base-layer hashes requested. */
  length: number;
  /** Layers above the base whose uncle hashes are asked for (libtorrent's counting: {@link hashesProofCount}). */
  proofLayers: number;
}

/** Bytes of the BEP 52 header after the id: root (32) + base layer + index + length + proof layers (4 each). */
export const HASH_HEADER_LENGTH = 48;

/** ceil(log2(n)) for n >= 1: the layers of a subtree over n hashes padded to a power of two. */
function ceilLog2(n: number): number {
  let layers = 0;
  while (2 ** layers < n) layers++;
  return layers;
}

/**
 * How many proof (uncle) hashes follow the `length` base hashes in a `hashes` message, as libtorrent counts them
 * (bt_peer_connection::on_hashes): `max(0, proofLayers - ceil(log2(length)) + 1)`. The requested hashes span
 * `ceil(log2(length))` layers above the base; each proof layer beyond those adds one sibling hash, starting with the
 * sibling of the subtree's root. `length` must be >= 1.
 */
export function hashesProofCount(length: number, proofLayers: number): number {
  return Math.max(0, proofLayers - ceilLog2(length) + 1);
}

/** One decoded (or to-be-encoded) peer wire message. */
export type Message =
  | { type: 'keepAlive' }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'interested' }
  | { type: 'notInterested' }
  | { type: 'have'; index: number }
  | { type: 'bitfield'; bitfield: Buffer }
  | { type: 'request'; index: number; begin: number; length: number }
  | { type: 'piece'; index: number; begin: number; block: Buffer }
  | { type: 'cancel'; index: number; begin: number; length: number }
  | { type: 'port'; port: number }
  | { type: 'suggest'; index: number }
  | { type: 'haveAll' }
  | { type: 'haveNone' }
  | { type: 'reject'; index: number; begin: number; length: number }
  | { type: 'allowedFast'; index: number }
  | { type: 'extended'; id: number; payload: Buffer }
  /** BEP 52: ask for `length` hashes of a file's merkle tree (and the proof up to `proofLayers`). */
  | ({ type: 'hashRequest' } & HashRequestFields)
  /** BEP 52: the answer: `hashes` = `length` base hashes, then {@link hashesProofCount} proof hashes (32 bytes each). */
  | ({ type: 'hashes'; hashes: Buffer } & HashRequestFields)
  /** BEP 52: the request cannot be answered. */
  | ({ type: 'hashReject' } & HashRequestFields)
  /** A message id we do not know. The decoder skips its body; `length` is the length prefix (id byte included). */
  | { type: 'unknown'; id: number; length: number };

/** The `type` tags of {@link Message}. */
export type MessageType = Message['type'];

/** Length of a piece message header: 4 (length) + 1 (id) + 4 (index) + 4 (begin). */
export const PIECE_HEADER_LENGTH = 13;

function constant(bytes: number[]): Buffer {
  return Buffer.from(bytes);
}

/** `<0000>`: keep-alive. Shared; do not mutate. */
export const KEEP_ALIVE: Buffer = constant([0, 0, 0, 0]);
/** `<0001><0>`: choke. Shared; do not mutate. */
export const CHOKE: Buffer = constant([0, 0, 0, 1, MessageId.CHOKE]);
/** `<0001><1>`: unchoke. Shared; do not mutate. */
export const UNCHOKE: Buffer = constant([0, 0, 0, 1, MessageId.UNCHOKE]);
/** `<0001><2>`: interested. Shared; do not mutate. */
export const INTERESTED: Buffer = constant([0, 0, 0, 1, MessageId.INTERESTED]);
/** `<0001><3>`: not interested. Shared; do not mutate. */
export const NOT_INTERESTED: Buffer = constant([0, 0, 0, 1, MessageId.NOT_INTERESTED]);
/** `<0001><14>`: have all (BEP 6). Shared; do not mutate. */
export const HAVE_ALL: Buffer = constant([0, 0, 0, 1, MessageId.HAVE_ALL]);
/** `<0001><15>`: have none (BEP 6). Shared; do not mutate. */
export const HAVE_NONE: Buffer = constant([0, 0, 0, 1, MessageId.HAVE_NONE]);

function withIndex(id: number, index: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUInt32BE(5, 0);
  b[4] = id;
  b.writeUInt32BE(index, 5);
  return b;
}

function withTriple(id: number, index: number, begin: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(17);
  b.writeUInt32BE(13, 0);
  b[4] = id;
  b.writeUInt32BE(index, 5);
  b.writeUInt32BE(begin, 9);
  b.writeUInt32BE(length, 13);
  return b;
}

function withPayload(id: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b.writeUInt32BE(1 + payload.length, 0);
  b[4] = id;
  payload.copy(b, 5);
  return b;
}

function withHashHeader(id: number, m: HashRequestFields, tail: Buffer | null): Buffer {
  if (m.piecesRoot.length !== 32) throw new RangeError(`pieces root must be 32 bytes, got ${m.piecesRoot.length}`);
  const tailLength = tail ? tail.length : 0;
  const b = Buffer.allocUnsafe(5 + HASH_HEADER_LENGTH + tailLength);
  b.writeUInt32BE(1 + HASH_HEADER_LENGTH + tailLength, 0);
  b[4] = id;
  m.piecesRoot.copy(b, 5);
  b.writeUInt32BE(m.baseLayer, 37);
  b.writeUInt32BE(m.index, 41);
  b.writeUInt32BE(m.length, 45);
  b.writeUInt32BE(m.proofLayers, 49);
  if (tail) tail.copy(b, 53);
  return b;
}

/**
 * The 13-byte header of a piece message whose block is `blockLength` bytes. Send it followed by the block
 * (e.g. with `socket.cork()` or writev) to avoid copying the block into a message buffer.
 * @throws RangeError if a field is not a uint32 or the message length would overflow one.
 */
export function encodePieceHeader(index: number, begin: number, blockLength: number): Buffer {
  const b = Buffer.allocUnsafe(PIECE_HEADER_LENGTH);
  b.writeUInt32BE(9 + blockLength, 0);
  b[4] = MessageId.PIECE;
  b.writeUInt32BE(index, 5);
  b.writeUInt32BE(begin, 9);
  return b;
}

/** Bytes a piece of `pieceLength` takes once framed by {@link framePieceBlocks} with blocks of `blockSize`. */
export function framedPieceLength(pieceLength: number, blockSize: number): number {
  return pieceLength + PIECE_HEADER_LENGTH * Math.ceil(pieceLength / blockSize);
}

/**
 * Lays a whole piece out as the piece messages that carry it, block after block: [header|block|header|block…], each
 * block `blockSize` bytes (the last one shorter when the piece is). Block `j`'s message starts at
 * `j * (PIECE_HEADER_LENGTH + blockSize)`, so a run of consecutive blocks is one contiguous span of the result: the
 * upload side writes it to the socket as one buffer, with no header allocated and no iovec per block.
 * `into`, if given and large enough, receives the layout (its first {@link framedPieceLength} bytes are returned).
 * @throws RangeError if `index` is not a uint32 or `blockSize` is not positive.
 */
export function framePieceBlocks(index: number, data: Buffer, blockSize: number, into?: Buffer): Buffer {
  if (!(blockSize > 0)) throw new RangeError(`bad block size ${blockSize}`);
  const size = framedPieceLength(data.length, blockSize);
  const out = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
  let at = 0;
  for (let begin = 0; begin < data.length; begin += blockSize) {
    const len = Math.min(blockSize, data.length - begin);
    out.writeUInt32BE(9 + len, at);
    out[at + 4] = MessageId.PIECE;
    out.writeUInt32BE(index, at + 5);
    out.writeUInt32BE(begin, at + 9);
    data.copy(out, at + PIECE_HEADER_LENGTH, begin, begin + len);
    at += PIECE_HEADER_LENGTH + len;
  }
  return out;
}

/**
 * Frames a piece in place, as {@link framePieceBlocks} does: `buf` holds the piece's `length` bytes at `dataAt`, and
 * the layout is built from `buf`'s start, each block moved forward by the headers in front of it (the moves overlap
 * only within cache-hot bytes: no second buffer). Needs `dataAt >= PIECE_HEADER_LENGTH * ceil(length / blockSize)`.
 * Returns the layout, a view of `buf`'s first {@link framedPieceLength} bytes.
 * @throws RangeError if `dataAt` leaves too little room for the headers or the data runs past `buf`.
 */
export function framePieceInPlace(index: number, buf: Buffer, dataAt: number, length: number, blockSize: number): Buffer {
  if (!(blockSize > 0)) throw new RangeError(`bad block size ${blockSize}`);
  const headers = PIECE_HEADER_LENGTH * Math.ceil(length / blockSize);
  if (dataAt < headers || dataAt + length > buf.length) throw new RangeError(`no room to frame ${length} bytes at ${dataAt}`);
  let at = 0;
  for (let begin = 0; begin < length; begin += blockSize) {
    const len = Math.min(blockSize, length - begin);
    // Block j moves from dataAt + j * blockSize down to j * (blockSize + 13) + 13, past everything already framed.
    buf.copyWithin(at + PIECE_HEADER_LENGTH, dataAt + begin, dataAt + begin + len);
    buf.writeUInt32BE(9 + len, at);
    buf[at + 4] = MessageId.PIECE;
    buf.writeUInt32BE(index, at + 5);
    buf.writeUInt32BE(begin, at + 9);
    at += PIECE_HEADER_LENGTH + len;
  }
  return buf.subarray(0, at);
}

/**
 * Encodes one message, length prefix included.
 *
 * Fields are written with `writeUInt32BE`/`writeUInt16BE`, which throw a RangeError on values that do not fit;
 * the encoder does not check the torrent's geometry (that is the receiver's job, and a sender bug is caught by our
 * own decoder in tests). An `unknown` message is encoded with `length - 1` zero bytes of body (for tests).
 */
export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'keepAlive': return KEEP_ALIVE;
    case 'choke': return CHOKE;
    case 'unchoke': return UNCHOKE;
    case 'interested': return INTERESTED;
    case 'notInterested': return NOT_INTERESTED;
    case 'haveAll': return HAVE_ALL;
    case 'haveNone': return HAVE_NONE;
    case 'have': return withIndex(MessageId.HAVE, m.index);
    case 'suggest': return withIndex(MessageId.SUGGEST, m.index);
    case 'allowedFast': return withIndex(MessageId.ALLOWED_FAST, m.index);
    case 'request': return withTriple(MessageId.REQUEST, m.index, m.begin, m.length);
    case 'cancel': return withTriple(MessageId.CANCEL, m.index, m.begin, m.length);
    case 'reject': return withTriple(MessageId.REJECT, m.index, m.begin, m.length);
    case 'bitfield': return withPayload(MessageId.BITFIELD, m.bitfield);
    case 'piece': {
      const b = Buffer.allocUnsafe(PIECE_HEADER_LENGTH + m.block.length);
      b.writeUInt32BE(9 + m.block.length, 0);
      b[4] = MessageId.PIECE;
      b.writeUInt32BE(m.index, 5);
      b.writeUInt32BE(m.begin, 9);
      m.block.copy(b, PIECE_HEADER_LENGTH);
      return b;
    }
    case 'port': {
      const b = Buffer.allocUnsafe(7);
      b.writeUInt32BE(3, 0);
      b[4] = MessageId.PORT;
      b.writeUInt16BE(m.port, 5);
      return b;
    }
    case 'extended': {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 255) throw new RangeError(`extended message id out of range: ${m.id}`);
      const b = Buffer.allocUnsafe(6 + m.payload.length);
      b.writeUInt32BE(2 + m.payload.length, 0);
      b[4] = MessageId.EXTENDED;
      b[5] = m.id;
      m.payload.copy(b, 6);
      return b;
    }
    case 'hashRequest': return withHashHeader(MessageId.HASH_REQUEST, m, null);
    case 'hashReject': return withHashHeader(MessageId.HASH_REJECT, m, null);
    case 'hashes': {
      if (m.hashes.length % 32 !== 0) throw new RangeError(`hashes must be a multiple of 32 bytes, got ${m.hashes.length}`);
      return withHashHeader(MessageId.HASHES, m, m.hashes);
    }
    case 'unknown': {
      if (!Number.isInteger(m.id) || m.id < 0 || m.id > 255) throw new RangeError(`message id out of range: ${m.id}`);
      if (!Number.isInteger(m.length) || m.length < 1) throw new RangeError(`unknown message length must be >= 1: ${m.length}`);
      const b = Buffer.alloc(4 + m.length);
      b.writeUInt32BE(m.length, 0);
      b[4] = m.id;
      return b;
    }
  }
}

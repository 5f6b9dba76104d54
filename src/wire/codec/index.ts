/**
 * Public surface of the peer wire codec (BEP 3, BEP 5 `port`, BEP 6 Fast extension, BEP 10 framing).
 *
 * Pure: no sockets, no timers. The connection shell (src/wire/connection.ts) feeds bytes in and writes bytes out.
 * See docs/design/wire.md.
 */

export {
  PROTOCOL_NAME, HANDSHAKE_LENGTH, ReservedBit, encodeHandshake, parseHandshake, makeReserved, hasReserved,
  reservedFor, answerIncoming, acceptAnswer, type Handshake, type ReservedBitPosition, type WireNames, type AgreedName,
} from './handshake.js';
export {
  MessageId, PIECE_HEADER_LENGTH, KEEP_ALIVE, CHOKE, UNCHOKE, INTERESTED, NOT_INTERESTED, HAVE_ALL, HAVE_NONE,
  encodeMessage, encodePieceHeader, framePieceBlocks, framePieceInPlace, framedPieceLength, hashesProofCount, HASH_HEADER_LENGTH, type HashRequestFields, type Message, type MessageType,
} from './messages.js';
export {
  MessageDecoder, bitfieldProblem, clearSpareBits, MAX_HASHES_PER_MESSAGE, MAX_PROOF_LAYERS, DEFAULT_MAX_BLOCK_LENGTH, DEFAULT_MAX_EXTENDED_LENGTH, DEFAULT_MAX_MESSAGE_LENGTH,
  type WireGeometry, type DecoderLimits,
} from './decoder.js';
export { allowedFastSet, type Sha1 } from './allowed-fast.js';

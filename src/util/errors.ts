/**
 * Typed errors with stable codes.
 *
 * Every error bitpeer raises on purpose is a `BtError` carrying a `code` from `ErrorCode`. Callers switch on the
 * code, never on the message. The CLI turns a BtError into one line on stderr and a non-zero exit; anything else is
 * a bug and is reported as such.
 */

export type ErrorCode =
  | 'BENCODE'            // malformed bencoded data (message includes the byte offset)
  | 'BAD_TORRENT'        // metainfo that fails validation
  | 'BAD_RESUME'         // resume data that fails validation (wrong info-hash, lengths, types…)
  | 'BAD_MAGNET'         // unparseable magnet URI
  | 'BAD_PATH'           // a path in a torrent that could escape the save folder
  | 'PATH_CONFLICT'      // a torrent's files would be another torrent's files (same path, or a file vs a folder)
  | 'PROTOCOL'           // a peer broke the wire protocol
  | 'HANDSHAKE'          // handshake mismatch (wrong protocol string or info-hash)
  | 'TIMEOUT'            // an operation timed out (message names which)
  | 'IO'                 // a file-system operation failed
  | 'NOT_FOUND'          // a file or folder given by the user does not exist
  | 'USAGE'              // wrong command-line arguments
  | 'PORT_IN_USE'        // the listening port is taken
  | 'ABORTED'            // cancelled through an AbortSignal
  | 'HASH_FAILED'        // a piece did not match its SHA-1
  | 'TRACKER'           // a tracker refused or failed an announce or scrape (message: its reason)
  | 'RPC'               // the daemon's RPC could not be reached, or answered with an error (message: why)
  | 'BANNED';            // a peer was banned

export class BtError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BtError';
    this.code = code;
  }
}

export function isBtError(e: unknown, code?: ErrorCode): e is BtError {
  return e instanceof BtError && (code === undefined || e.code === code);
}

/** Message of any thrown value, for logs and reasons. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

type ErrnoError = Error & { code?: string };

/** The errno code (`ENOENT`…) of an fs error or of one of its causes, if it has one. */
export function errnoOf(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 3 && cur instanceof Error; i++) {
    const code = (cur as ErrnoError).code;
    if (typeof code === 'string' && code.startsWith('E')) return code;
    cur = cur.cause;
  }
  return undefined;
}

/** True for "the file is not there" (ENOENT, or ENOTDIR: a path component is a file). */
export function isMissing(e: unknown): boolean {
  const code = errnoOf(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Wrap an fs error as BtError('IO', "<op> <path>: <CODE>: <message>"); BtErrors pass through unchanged. */
export function ioError(op: string, p: string, e: unknown): BtError {
  if (isBtError(e)) return e;
  const code = errnoOf(e);
  const msg = e instanceof Error ? e.message : String(e);
  const text = code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
  return new BtError('IO', `${op} ${p}: ${text}`, { cause: e });
}

/**
 * Typed errors with stable codes, and the operation they arose in.
 *
 * Every error bitpeer raises on purpose is a `BtError` carrying a `code` from `ErrorCode`, and, where one is known,
 * the `op` (an `ErrorOp`) that failed. Callers switch on the code and op, never on the message. The CLI turns a
 * BtError into one line on stderr and a non-zero exit; anything else is a bug and is reported as such.
 *
 * A peer connection ends with a `Cause` (`{ op, code, message }`): the same two closed sets, so disconnects can be
 * counted by cause (`causeKey`), and a message for humans.
 *
 * Invariant: `op` and `code` are closed unions; the values are part of the `--json` contract (add, never rename).
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
  | 'ABORTED'            // cancelled: through an AbortSignal, or a torrent stopped, paused, queued or removed
  | 'HASH_FAILED'        // a piece did not match its SHA-1
  | 'TRACKER'           // a tracker refused or failed an announce or scrape (message: its reason)
  | 'RPC'               // the daemon's RPC could not be reached, or answered with an error (message: why)
  | 'BANNED'            // a peer was banned
  | 'EOF'               // the peer closed the connection
  | 'NET'               // a socket operation failed (message: the errno, e.g. "read ECONNRESET")
  | 'NOT_NEEDED'        // we ended a connection that is of no more use (both seeds, metadata fetched…)
  | 'LIMIT'             // a limit of ours was reached (message names which)
  | 'INTERNAL';         // a bug of ours while handling a peer's message (never thrown on purpose)

/**
 * The operation an error arose in. Peer connections: `connect` (dialing), `handshake`, `read` / `write` (the socket),
 * `protocol` (a message broke the rules), `timeout` (the peer was silent too long), `hash` (its data failed the
 * check), `local` (we ended it: stop, pause, no more use). Elsewhere: `disk-read` / `disk-write` (file system),
 * `tracker`, `rpc`.
 */
export type ErrorOp =
  | 'connect' | 'handshake' | 'read' | 'write' | 'protocol' | 'timeout' | 'hash' | 'local'
  | 'disk-read' | 'disk-write' | 'tracker' | 'rpc';

/** The op a code implies when the thrower names none (codes that can arise in several ops imply none). */
const OP_OF_CODE: Partial<Record<ErrorCode, ErrorOp>> = {
  PROTOCOL: 'protocol', HANDSHAKE: 'handshake', HASH_FAILED: 'hash', TRACKER: 'tracker', RPC: 'rpc', TIMEOUT: 'timeout',
  EOF: 'read',
};

export class BtError extends Error {
  readonly code: ErrorCode;
  /** The operation that failed: given by the thrower, else implied by the code (see `OP_OF_CODE`), else none. */
  readonly op: ErrorOp | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; op?: ErrorOp }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BtError';
    this.code = code;
    this.op = options?.op ?? OP_OF_CODE[code];
  }
}

/** Why a peer connection ended: a stable op and code, and a message for humans (the event's `reason`). */
export interface Cause {
  readonly op: ErrorOp;
  readonly code: ErrorCode;
  readonly message: string;
}

export function cause(op: ErrorOp, code: ErrorCode, message: string): Cause {
  return { op, code, message };
}

/**
 * The cause of any thrown value: a BtError keeps its code and its op (or `op` when it has none); anything else is
 * `INTERNAL`. `prefix` is put before the message ("protocol error: ").
 */
export function causeOf(e: unknown, op: ErrorOp, prefix = ''): Cause {
  if (e instanceof BtError) return { op: e.op ?? op, code: e.code, message: prefix + e.message };
  return { op, code: 'INTERNAL', message: prefix + errorMessage(e) };
}

/** The cause of a socket 'error': the op from the failed syscall (connect, write, else read), code NET. */
export function socketErrorCause(e: unknown, prefix = ''): Cause {
  const syscall = e instanceof Error ? (e as Error & { syscall?: unknown }).syscall : undefined;
  const op: ErrorOp = typeof syscall !== 'string' ? 'read'
    : syscall === 'connect' ? 'connect'
    : syscall.startsWith('write') || syscall === 'shutdown' ? 'write' : 'read';
  return { op, code: 'NET', message: prefix + errorMessage(e) };
}

/** "op/code", the key disconnects are counted by. */
export function causeKey(c: { op: ErrorOp; code: ErrorCode }): string {
  return `${c.op}/${c.code}`;
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

/** File-system operations (as `ioError` names them) that only read; every other one writes. */
const FS_READS = new Set(['read', 'open', 'stat', 'lstat', 'realpath', 'list', 'access']);

/** The ErrorOp of a file-system operation named as `ioError` takes it (`read`, `mkdir`, `rename`…). */
export function diskOp(fsOp: string): 'disk-read' | 'disk-write' {
  return FS_READS.has(fsOp) ? 'disk-read' : 'disk-write';
}

/**
 * Wrap an fs error as BtError('IO', "<op> <path>: <CODE>: <message>") whose `op` is `diskOp(op)` (or `errOp` when
 * given); BtErrors pass through unchanged.
 */
export function ioError(op: string, p: string, e: unknown, errOp: ErrorOp = diskOp(op)): BtError {
  if (isBtError(e)) return e;
  const code = errnoOf(e);
  const msg = e instanceof Error ? e.message : String(e);
  const text = code && !msg.startsWith(code) ? `${code}: ${msg}` : msg;
  return new BtError('IO', `${op} ${p}: ${text}`, { cause: e, op: errOp });
}

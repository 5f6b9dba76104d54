/**
 * The stream shell around the pure wire codec (BEP 3): one peer stream (a `PeerStream` from the session's transport,
 * src/net/transport.ts; a TCP socket today), one decoder, one write path.
 *
 * - Reading: every chunk goes into the incremental `MessageDecoder`; each decoded message is handed to the handler.
 *   A codec error (a length over its limit, a bad index...) or a throw from the handler closes the connection with
 *   that cause (op `protocol`, or the BtError's own op; `INTERNAL` for a non-BtError): no exception from one peer's
 *   input can escape (reliability rule 11 in docs/design/reliability.md). The connection ends with a `Cause`
 *   (`{ op, code, message }`, src/util/errors.ts): the peer's EOF is read/EOF, a socket error read|write|connect/NET.
 *   Where Node allows it (and the `sharedReadBuffer` option is not false), the socket reads into one reused 256 KiB
 *   buffer shared by every connection (Node's `onread` mode, set up by src/wire/node-internals.ts) instead of a fresh
 *   64 KiB allocation per read: on a busy download that removes most page faults and young-generation GC work, and
 *   makes reads larger. Handlers therefore must copy any payload they keep
 *   (piece blocks are copied into piece buffers; bitfields and extension payloads are decoded into copies), and the
 *   decoder copies the partial message left at the end of each read.
 * - Writing: straight to the socket; `writableLength` tells the upload side when to stop queueing (backpressure).
 *   A writer that stops because `writableLength` is high calls `wantRoom()`: `onDrain` then follows either the
 *   socket's 'drain' or, when no socket write of the batch was refused (no 'drain' will come, e.g. a uTP stream
 *   whose queue shrank before the batch was written: its high-water mark is as large as the upload side's), the
 *   flush of that batch. Without it such a writer waits for a 'drain' that never comes (issue 11: libtorrent over
 *   uTP with RC4 stalled with 100 requests queued).
 *   Piece messages are written as header + block without concatenation, or (`sendFramed`) as runs the upload side
 *   keeps pre-framed: a run of consecutive blocks is one buffer, one iovec. Large queued buffers that continue one
 *   another in memory (such blocks sent one request at a time) are joined into one write when flushed.
 * - Timeouts and keep-alives are driven by the owner's once-a-second tick, not by per-connection timers: the owner
 *   reads `lastReceivedAt` / `lastSentAt`.
 *
 * Invariant: after `close()` the handler receives nothing more, and `onClose` is called exactly once.
 */
import type { PeerStream } from '../net/transport.js';
import { systemClock } from '../platform/clock.js';
import type { Clock } from '../util/clock.js';
import { BtError, cause, causeOf, socketErrorCause, type Cause } from '../util/errors.js';
import { encodeMessage, encodePieceHeader, MessageDecoder, type Message, type WireGeometry } from './codec/index.js';
import { HANDSHAKE_LENGTH, parseHandshake, PROTOCOL_NAME, type Handshake } from './codec/index.js';
import { sharedReadBuffer } from './node-internals.js';

const PEER_CLOSED = cause('read', 'EOF', 'connection closed by peer');

/** Messages up to this size are coalesced into one buffer when flushed together. */
const SMALL_WRITE = 1024;

export interface ConnectionHandler {
  onMessage(msg: Message): void;
  /** Called once, when the connection ends for any reason; `cause.message` is the reason for humans. */
  onClose(cause: Cause): void;
  /** The socket's write buffer has drained, or (after `wantRoom`) a batch was written and no 'drain' is due. */
  onDrain?(): void;
}

/** Options of a {@link PeerConnection}. */
export interface PeerConnectionOptions {
  /** Read into the shared reused buffer where this Node allows it (default true); false: always 'data' events. */
  sharedReadBuffer?: boolean;
}

export class PeerConnection {
  lastReceivedAt: number;
  lastSentAt: number;
  closed = false;
  /** Why the connection ended (set once, by `close`). */
  closeCause: Cause | undefined;
  /** `closeCause.message`, '' while open. */
  get closeReason(): string { return this.closeCause?.message ?? ''; }
  private readonly decoder: MessageDecoder;
  private readingPaused = false;
  private pending: Buffer[] = [];
  /** Write callbacks by index into `pending` (sparse: only piece blocks that asked for one). */
  private pendingCallbacks: Array<(() => void) | undefined> = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  /** A socket write returned false and its 'drain' has not come yet. */
  private drainDue = false;
  /** The writer stopped on a high `writableLength` (see `wantRoom`). */
  private roomWanted = false;
  /** Reads land in the shared reused buffer: whatever the decoder keeps must be copied before returning. */
  readonly userBuffer: boolean;

  constructor(
    readonly socket: PeerStream,
    /** null while the torrent's geometry is unknown (metadata fetch): framing and caps are still checked. */
    geometry: WireGeometry | null,
    private readonly handler: ConnectionHandler,
    private readonly now: () => number,
    leftover?: Buffer,
    opts: PeerConnectionOptions = {},
  ) {
    this.decoder = new MessageDecoder(geometry);
    this.lastReceivedAt = now();
    this.lastSentAt = now();
    socket.setNoDelay(true);
    // 'data' still delivers what the socket had buffered before the switch (fresh buffers, safe to keep).
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.userBuffer = (opts.sharedReadBuffer ?? true) && sharedReadBuffer.attach(socket, (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.close(socketErrorCause(err, 'socket error: ')));
    socket.on('close', () => this.close(PEER_CLOSED));
    socket.on('end', () => this.close(PEER_CLOSED));
    socket.on('drain', () => {
      this.drainDue = false;
      this.roomWanted = false;
      if (!this.closed) this.handler.onDrain?.();
    });
    if (leftover && leftover.length > 0) this.onData(leftover);
    socket.resume();
  }

  /** Bytes that arrived before this connection existed (e.g. right after the handshake). */
  feed(bytes: Buffer): void { this.onData(bytes); }

  get remoteAddress(): string { return this.socket.remoteAddress ?? '?'; }
  get remotePort(): number { return this.socket.remotePort ?? 0; }
  /** Bytes queued for the socket (our batch plus the socket's own buffer). */
  get writableLength(): number { return this.socket.writableLength + this.pendingBytes; }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceivedAt = this.now();
    try {
      this.decoder.push(chunk);
      for (;;) {
        const msg = this.decoder.next();
        if (msg === null) break;
        this.handler.onMessage(msg);
        if (this.closed) return;
      }
      if (this.userBuffer) this.decoder.retainBuffered();
    } catch (err) {
      this.close(causeOf(err, 'protocol', err instanceof BtError ? 'protocol error: ' : 'internal error: '));
    }
  }

  /**
   * The writer stopped because `writableLength` is high: make sure `onDrain` follows (the socket's 'drain', or the
   * end of the next flush when every write of it was accepted and so no 'drain' is due).
   */
  wantRoom(): void {
    if (this.closed) return;
    this.roomWanted = true;
    if (!this.flushScheduled && !this.drainDue) this.roomAvailable();
  }

  private roomAvailable(): void {
    this.roomWanted = false;
    setImmediate(() => { if (!this.closed) this.handler.onDrain?.(); });
  }

  send(msg: Message): void {
    if (this.closed) return;
    this.enqueue(encodeMessage(msg));
  }

  /**
   * A piece message as header + block: the block is never copied or concatenated. `onReleased`, if given, is called
   * once the socket no longer references `block` (written to the kernel, or dropped because the connection closed),
   * so the caller may reuse its memory.
   */
  sendPiece(index: number, begin: number, block: Buffer, onReleased?: () => void): void {
    if (this.closed) { onReleased?.(); return; }
    this.enqueue(encodePieceHeader(index, begin, block.length));
    if (onReleased) this.pendingCallbacks[this.pending.length] = onReleased;
    this.enqueue(block);
  }

  /**
   * Whole messages already framed by the caller (e.g. a run of piece messages laid out by `framePieceBlocks`), sent
   * as they are: one buffer, however many messages it holds. `onReleased` as for `sendPiece`.
   */
  sendFramed(bytes: Buffer, onReleased?: () => void): void {
    if (this.closed) { onReleased?.(); return; }
    if (onReleased) this.pendingCallbacks[this.pending.length] = onReleased;
    this.enqueue(bytes);
  }

  /**
   * Outgoing bytes are batched until the end of the current tick and written with one writev: a burst of requests,
   * haves or rejects costs one syscall instead of one each (a loopback write syscall runs the whole TCP path, so
   * per-message writes cost more than the bytes). Consecutive small messages are coalesced into one buffer.
   */
  private enqueue(buf: Buffer): void {
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const bufs = this.pending;
    const callbacks = this.pendingCallbacks;
    this.pending = [];
    this.pendingCallbacks = [];
    this.pendingBytes = 0;
    if (this.closed || bufs.length === 0) { for (const cb of callbacks) cb?.(); return; }
    this.lastSentAt = this.now();
    const write = (b: Buffer, cb?: () => void): void => { if (!this.socket.write(b, cb)) this.drainDue = true; };
    if (bufs.length === 1) {
      write(bufs[0]!, callbacks[0]);
    } else {
      this.socket.cork();
      let small: Buffer[] = [];
      let smallBytes = 0;
      const flushSmall = (): void => {
        if (small.length === 1) write(small[0]!);
        else if (small.length > 1) write(Buffer.concat(small, smallBytes));
        small = [];
        smallBytes = 0;
      };
      // Large buffers that continue one another in memory (framed blocks of one piece sent one by one) are joined
      // into one view: one socket write instead of one per block, their callbacks called together.
      let run: Buffer | undefined;
      let runCallbacks: Array<() => void> = [];
      const flushRun = (): void => {
        if (run === undefined) return;
        const cbs = runCallbacks;
        write(run, cbs.length === 0 ? undefined : cbs.length === 1 ? cbs[0] : () => { for (const cb of cbs) cb(); });
        run = undefined;
        runCallbacks = [];
      };
      for (let i = 0; i < bufs.length; i++) {
        const b = bufs[i]!;
        const cb = callbacks[i];
        if (b.length <= SMALL_WRITE && cb === undefined) { flushRun(); small.push(b); smallBytes += b.length; continue; }
        flushSmall();
        if (run !== undefined && run.buffer === b.buffer && run.byteOffset + run.length === b.byteOffset) {
          run = Buffer.from(run.buffer, run.byteOffset, run.length + b.length);
        } else {
          flushRun();
          run = b;
        }
        if (cb) runCallbacks.push(cb);
      }
      flushSmall();
      flushRun();
      this.socket.uncork();
    }
    if (this.roomWanted && !this.drainDue) this.roomAvailable();
  };

  pauseReading(): void {
    if (!this.readingPaused && !this.closed) { this.readingPaused = true; this.socket.pause(); }
  }

  resumeReading(): void {
    if (this.readingPaused && !this.closed) { this.readingPaused = false; this.socket.resume(); }
  }

  close(why: Cause): void {
    if (this.closed) return;
    this.closed = true;
    this.closeCause = why;
    // Blocks never handed to the socket are released now; the socket calls back (with an error) for the rest.
    const callbacks = this.pendingCallbacks;
    this.pending = [];
    this.pendingCallbacks = [];
    this.pendingBytes = 0;
    for (const cb of callbacks) { try { cb?.(); } catch { /* the owner's bug must not escape */ } }
    this.socket.destroy();
    try { this.handler.onClose(why); } catch { /* the owner's bug must not escape a socket callback */ }
  }
}

/**
 * Read the 68-byte handshake from a socket that has not been handed to a PeerConnection yet.
 * Resolves with the handshake and any bytes that followed it; rejects with BtError('HANDSHAKE'|'TIMEOUT').
 * `initial` holds bytes already read (for example by the port sniffer). The deadline runs on `clock` (the session's).
 */
export function readHandshake(socket: PeerStream, timeoutMs: number, initial?: Buffer,
  clock: Clock = systemClock): Promise<{ handshake: Handshake; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = initial ?? Buffer.alloc(0);
    let done = false;
    const finish = (err: Error | null, value?: { handshake: Handshake; rest: Buffer }): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      if (err) reject(err); else resolve(value!);
    };
    const check = (): void => {
      if (buf.length >= 1 && buf[0] !== PROTOCOL_NAME.length) {
        finish(new BtError('HANDSHAKE', `not a BitTorrent handshake (first byte ${buf[0]})`));
        return;
      }
      if (buf.length >= 20 && buf.subarray(1, 20).toString('latin1') !== PROTOCOL_NAME) {
        finish(new BtError('HANDSHAKE', 'wrong protocol string in handshake'));
        return;
      }
      if (buf.length >= HANDSHAKE_LENGTH) {
        try {
          const handshake = parseHandshake(buf.subarray(0, HANDSHAKE_LENGTH));
          finish(null, { handshake, rest: Buffer.from(buf.subarray(HANDSHAKE_LENGTH)) });
        } catch (err) {
          finish(err as Error);
        }
      }
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]); // at most 68 bytes: not a hot path
      check();
    };
    const onError = (err: Error): void => finish(new BtError('HANDSHAKE', `socket error during handshake: ${err.message}`));
    const onClose = (): void => finish(new BtError('HANDSHAKE', 'connection closed during handshake'));
    const timer = clock.setTimeout(() => finish(new BtError('TIMEOUT', 'handshake timed out')), timeoutMs);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.resume();
    check();
  });
}

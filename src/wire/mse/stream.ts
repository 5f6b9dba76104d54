/**
 * The I/O shell of MSE/PE: runs a handshake machine (handshake.ts) over any `PeerStream` (TCP today, uTP the same
 * way), and wraps the stream in RC4 when that is the method chosen.
 *
 * - `mseConnect` (we dialled) and `mseAccept` (we accepted) resolve with the stream to speak BitTorrent over and the
 *   payload that already arrived (decrypted): the plain stream itself when the method is plaintext, an
 *   `Rc4Stream` when it is RC4.
 * - `classifyIncoming` tells, from the first bytes on our one port, a plaintext BitTorrent handshake (19 +
 *   "BitTorrent protocol"), an HTTP request (the embedded tracker) and anything else (an MSE handshake).
 *
 * Invariants: the handshake is bounded in time (the caller's deadline, on the injected clock) and in memory
 * (handshake.ts); on failure nothing stays open (the stream is destroyed by the caller, who owns it); the stream is
 * left paused when a handshake settles. An `Rc4Stream` never modifies a buffer handed to `write` (it encrypts a
 * copy), and every chunk it emits is a buffer of its own: with OpenSSL's RC4 the inner TCP socket reads into the
 * shared reused buffer (src/wire/node-internals.ts) and each read is decrypted into a new buffer; with the TypeScript
 * engine the inner stream's fresh chunks are decrypted in place.
 */
import { EventEmitter } from 'node:events';
import type { PeerStream } from '../../net/transport.js';
import { systemClock } from '../../platform/clock.js';
import type { Clock } from '../../util/clock.js';
import { BtError } from '../../util/errors.js';
import { MseInitiator, MseReceiver, type MseInitiatorOptions, type MseReceiverOptions, type MseResult, type MseStep } from './handshake.js';
import type { Rc4 } from './rc4.js';
import { sharedReadBuffer } from '../node-internals.js';

const PROTOCOL_PREFIX = Buffer.from('\x13BitTorrent protocol', 'latin1');
const HTTP_PREFIX = Buffer.from('GET ', 'latin1');

/** What the first bytes of an incoming connection are: 'more' = not enough bytes to tell yet. */
export function classifyIncoming(first: Buffer): 'plain' | 'http' | 'mse' | 'more' {
  if (first.length === 0) return 'more';
  for (const [prefix, kind] of [[PROTOCOL_PREFIX, 'plain'], [HTTP_PREFIX, 'http']] as const) {
    if (first[0] !== prefix[0]) continue;
    const n = Math.min(first.length, prefix.length);
    if (!first.subarray(0, n).equals(prefix.subarray(0, n))) return 'mse';
    return n === prefix.length ? kind : 'more';
  }
  return 'mse';
}

/** A `PeerStream` whose bytes are RC4-encrypted on the inner stream. */
export class Rc4Stream extends EventEmitter implements PeerStream {
  constructor(private readonly inner: PeerStream, private readonly encrypt: Rc4, private readonly decrypt: Rc4) {
    super();
    this.on('error', () => { /* an error never crashes the process, even with no owner listening */ });
    inner.on('data', (chunk: Buffer) => { this.emit('data', this.decrypt.transform(chunk)); });
    // OpenSSL writes each decrypted chunk into a new buffer, so the socket can read into the shared one: no fresh
    // 64 KiB allocation per read, and reads of up to 256 KiB ('data' above still delivers what was buffered before).
    if (decrypt.engine === 'openssl') sharedReadBuffer.attach(inner, (chunk) => this.emit('data', decrypt.copyOf(chunk)));
    inner.on('error', (err: Error) => this.emit('error', err));
    inner.on('close', () => this.emit('close'));
    inner.on('end', () => this.emit('end'));
    inner.on('drain', () => this.emit('drain'));
  }

  get remoteAddress(): string | undefined { return this.inner.remoteAddress; }
  get transport(): 'tcp' | 'utp' | undefined { return this.inner.transport; }
  get remotePort(): number | undefined { return this.inner.remotePort; }
  get localAddress(): string | undefined { return this.inner.localAddress; }
  get destroyed(): boolean { return this.inner.destroyed; }
  get writableLength(): number { return this.inner.writableLength; }

  write(data: Buffer, cb?: (err?: Error | null) => void): boolean {
    return this.inner.write(this.encrypt.copyOf(data), cb);
  }
  end(data: Buffer): this { this.inner.end(this.encrypt.copyOf(data)); return this; }
  cork(): void { this.inner.cork(); }
  uncork(): void { this.inner.uncork(); }
  pause(): this { this.inner.pause(); return this; }
  resume(): this { this.inner.resume(); return this; }
  setNoDelay(noDelay?: boolean): this { this.inner.setNoDelay(noDelay); return this; }
  destroy(): this { this.inner.destroy(); return this; }
}

/** A settled handshake: the stream to speak BitTorrent over, and what already arrived on it (decrypted). */
export interface MseStream {
  stream: PeerStream;
  payload: Buffer;
  result: MseResult;
}

function wrap(stream: PeerStream, result: MseResult): MseStream {
  const wrapped = result.encrypt && result.decrypt ? new Rc4Stream(stream, result.encrypt, result.decrypt) : stream;
  return { stream: wrapped, payload: result.payload, result };
}

function run(stream: PeerStream, machine: { push(chunk: Buffer): MseStep }, initial: Buffer | undefined,
  timeoutMs: number, clock: Clock): Promise<MseResult> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | null, result?: MseResult): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('close', onClose);
      stream.off('end', onClose);
      stream.pause();
      if (err) reject(err); else resolve(result!);
    };
    const onData = (chunk: Buffer): void => {
      if (done) return;
      try {
        const step = machine.push(chunk);
        if (step.send) stream.write(step.send);
        if (step.done) finish(null, step.done);
      } catch (err) {
        finish(err instanceof Error ? err : new BtError('HANDSHAKE', String(err)));
      }
    };
    const onError = (err: Error): void => finish(new BtError('HANDSHAKE', `socket error during MSE handshake: ${err.message}`));
    const onClose = (): void => finish(new BtError('HANDSHAKE', 'connection closed during MSE handshake'));
    const timer = clock.setTimeout(() => finish(new BtError('TIMEOUT', 'MSE handshake timed out')), timeoutMs);
    stream.on('data', onData);
    stream.on('error', onError);
    stream.on('close', onClose);
    stream.on('end', onClose);
    if (initial && initial.length > 0) onData(initial);
    if (!done) stream.resume();
  });
}

/** Run the initiator's side over `stream` (just connected). */
export async function mseConnect(stream: PeerStream, opts: MseInitiatorOptions, timeoutMs: number,
  clock: Clock = systemClock): Promise<MseStream> {
  const machine = new MseInitiator(opts);
  stream.write(machine.start());
  return wrap(stream, await run(stream, machine, undefined, timeoutMs, clock));
}

/** Run the receiver's side over `stream`; `initial` holds the bytes already read from it. */
export async function mseAccept(stream: PeerStream, initial: Buffer, opts: MseReceiverOptions, timeoutMs: number,
  clock: Clock = systemClock): Promise<MseStream> {
  return wrap(stream, await run(stream, new MseReceiver(opts), initial, timeoutMs, clock));
}

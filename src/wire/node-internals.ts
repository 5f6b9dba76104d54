/**
 * The one module that touches private Node internals (nothing else in src/ may): reading a socket into one reused
 * buffer. Node offers this publicly only as the `onread` option of `net.connect`; an accepted socket, or one dialled
 * elsewhere, can only be switched by setting the same fields Node sets for `onread` (the private handle's
 * `useUserBuffer` and three symbol-keyed fields of the socket). On a busy download that removes most page faults and
 * young-generation GC work (docs/design/performance.md).
 *
 * Safety, since these internals may change in any Node release:
 * - A feature probe at first use checks that a fresh `net.Socket` has the three fields (by symbol description); if
 *   not, every socket keeps the public path (`socket.on('data')`), and `status()` says why.
 * - Each socket is checked again (a handle with `useUserBuffer`); a socket without it keeps the public path.
 * - Every read is checked: Node must hand back our buffer and a byte count within it. If it ever does not, the
 *   internal is switched off for every later socket (public path) and that one socket is destroyed with an error,
 *   since its bytes can no longer be trusted: the peer is dropped, never fed garbage.
 * - src/wire/node-internals.test.ts and src/wire/connection.test.ts run it on the running Node over real loopback
 *   sockets and check every byte; node-internals.test.ts also checks each fallback.
 *
 * Invariant: `attach` either returns false and leaves the socket untouched, or returns true and from then on every
 * chunk read is handed to `onChunk` as a view into the shared buffer, valid only until `onChunk` returns.
 */
import { Socket } from 'node:net';

/** The read buffer every connection in user-buffer mode reads into (one thread, so one buffer serves all). */
export const READ_BUFFER_SIZE = 256 * 1024;

/** Symbol descriptions of the socket fields Node's `onread` mode uses (lib/net.js). */
const FIELDS = ['kBuffer', 'kBufferCb', 'kBufferGen'] as const;

interface UserBufferHandle { useUserBuffer?: (b: Uint8Array) => void }

/** Where the shared-buffer read path stands: usable, or why not. */
export interface SharedReadStatus {
  available: boolean;
  /** Why it is not used (empty while available). */
  reason: string;
}

/** The symbol-keyed fields of `sample` Node's onread mode needs, or null when one is missing. */
function fieldSymbols(sample: object): Map<string, symbol> | null {
  const syms = new Map<string, symbol>();
  for (const s of Object.getOwnPropertySymbols(sample)) if (s.description !== undefined) syms.set(s.description, s);
  return FIELDS.every((f) => syms.has(f)) ? syms : null;
}

/**
 * Reads sockets into one shared buffer where this Node allows it. `probe` builds the sample object the feature probe
 * inspects (default: a fresh, unconnected `net.Socket`); tests pass others.
 */
export class SharedReadBuffer {
  private probed: SharedReadStatus | undefined;
  private disabled = '';
  private buffer: Buffer | undefined;

  constructor(
    private readonly size = READ_BUFFER_SIZE,
    private readonly probe: () => object = () => new Socket(),
  ) {}

  status(): SharedReadStatus {
    if (this.disabled) return { available: false, reason: this.disabled };
    if (this.probed === undefined) {
      let ok = false;
      try { ok = fieldSymbols(this.probe()) !== null; } catch { ok = false; }
      this.probed = ok ? { available: true, reason: '' }
        : { available: false, reason: `this Node (${process.version}) lacks the socket fields of the onread mode` };
    }
    return this.probed;
  }

  /**
   * Switch an open socket to reading into the shared buffer. Returns false, leaving the socket as it was, when this
   * Node (or this socket: a stream of another transport has no TCP handle) does not support it; the caller then keeps
   * reading through 'data' events.
   */
  attach(socket: { destroy(err?: Error): unknown }, onChunk: (chunk: Buffer) => void): boolean {
    if (!this.status().available) return false;
    const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
    if (!handle || typeof handle.useUserBuffer !== 'function') return false;
    const syms = fieldSymbols(socket);
    if (syms === null) return false;
    const buf = (this.buffer ??= Buffer.allocUnsafeSlow(this.size));
    const fields = socket as unknown as Record<symbol, unknown>;
    fields[syms.get('kBuffer')!] = buf;
    fields[syms.get('kBufferGen')!] = null;
    fields[syms.get('kBufferCb')!] = (nread: unknown, b: unknown): void => {
      if (b !== buf || typeof nread !== 'number' || !Number.isInteger(nread) || nread <= 0 || nread > buf.length) {
        this.disabled = `Node's onread mode misbehaved (read ${String(nread)} bytes into ${b === buf ? 'our' : 'another'} buffer)`;
        socket.destroy(new Error(`internal read error: ${this.disabled}`));
        return;
      }
      onChunk(buf.subarray(0, nread));
    };
    handle.useUserBuffer(buf);
    return true;
  }
}

/** The process-wide instance every connection uses. */
export const sharedReadBuffer = new SharedReadBuffer();

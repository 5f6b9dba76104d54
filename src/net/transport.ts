/**
 * The transport seam: how the session opens and accepts peer connections, whatever carries the bytes.
 *
 * `Transport` is what the session, its peer manager (src/session/peers.ts) and the metadata fetch
 * (src/session/metadata-fetch.ts) dial and listen through: TCP (tcp-transport.ts), uTP (BEP 29, src/net/utp/), both
 * at once (`UtpTcpTransport`, the session's default), or the simulation's in-memory transport. Encryption (MSE/PE,
 * src/wire/mse/) wraps a `PeerStream` after it is opened or accepted, so it works over any transport.
 *
 * `PeerStream` is the minimal byte-stream surface the code above a transport really uses: the wire connection
 * (src/wire/connection.ts: PeerConnection and readHandshake), the session's port sniffer and the embedded HTTP
 * tracker (src/tracker/http-server.ts). A `net.Socket` satisfies it as it is.
 *
 * Invariants every implementation keeps:
 * - An accepted stream is handed over paused (no 'data' until its owner calls `resume()`).
 * - A stream that errs also ends with 'close'; `destroy()` is idempotent and releases everything.
 * - `connect` settles exactly once: with an open stream, or with an error (BtError('TIMEOUT') after `timeoutMs`,
 *   BtError('ABORTED') when `signal` aborts, otherwise the transport's error); on an error nothing stays open.
 * - An error event on a stream never crashes the process, even while no owner listens.
 */

/** The byte-stream surface a peer connection needs (a subset of `net.Socket`). */
export interface PeerStream {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  readonly localAddress?: string | undefined;
  /** The transport under the stream, for users and logs: 'utp' for uTP; absent means TCP (a net.Socket). */
  readonly transport?: 'tcp' | 'utp' | undefined;
  readonly destroyed: boolean;
  /** Bytes accepted by `write` and not yet handed to the network (backpressure). */
  readonly writableLength: number;
  write(data: Buffer, cb?: (err?: Error | null) => void): boolean;
  /** Write `data`, then end the stream gracefully. */
  end(data: Buffer): this;
  /** Batch the writes until `uncork` (one system call for many messages, where the transport can). */
  cork(): void;
  uncork(): void;
  pause(): this;
  resume(): this;
  /** Send small writes at once (TCP: disable Nagle); a transport without such a delay ignores it. */
  setNoDelay(noDelay?: boolean): this;
  destroy(): this;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close' | 'end' | 'drain', listener: () => void): this;
  once(event: 'data', listener: (chunk: Buffer) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'close' | 'end' | 'drain', listener: () => void): this;
  off(event: 'data', listener: (chunk: Buffer) => void): this;
  off(event: 'error', listener: (err: Error) => void): this;
  off(event: 'close' | 'end' | 'drain', listener: () => void): this;
}

/** Options of {@link Transport.connect}. */
export interface DialOptions {
  /** Aborting destroys the attempt and rejects with BtError('ABORTED'); after it settled it does nothing. */
  signal?: AbortSignal;
  /** Bound for opening the connection (not for the handshake that follows). */
  timeoutMs: number;
}

/** A listening endpoint. */
export interface TransportListener {
  /** The bound port (the one asked for, or the one chosen when 0 was asked). */
  readonly port: number;
  /** Stop accepting; resolves once the listener is closed (open streams are their owners' to close). */
  close(): Promise<void>;
}

export interface Transport {
  /**
   * Accept connections on host:port; each is handed to `onConnection` paused. Rejects with BtError('PORT_IN_USE')
   * when the port is taken or not allowed, BtError('IO') otherwise. `onError` hears errors after listening started.
   */
  listen(host: string, port: number, onConnection: (stream: PeerStream) => void,
    onError?: (err: Error) => void): Promise<TransportListener>;
  /** Open a connection to host:port (see the invariants above). */
  connect(host: string, port: number, opts: DialOptions): Promise<PeerStream>;
}

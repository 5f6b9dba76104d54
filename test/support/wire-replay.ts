/**
 * Feeds a peer's raw bytes (its handshake first) to a real Session over the in-memory transport and reports what the
 * session made of them: the disconnect reasons, and the peer as `status().peers` shows it. For the wire-order tests
 * (src/session/message-order.test.ts) and the captured-fixture replay (src/session/wire-fixtures.test.ts).
 * Invariant: no socket, no port; the session is closed before it returns. BEP: 3, 6, 10.
 */
import type { Metainfo } from '../../src/metainfo/index.js';
import type { PeerStream } from '../../src/net/transport.js';
import { Session } from '../../src/session/session.js';
import type { PeerStatus } from '../../src/session/torrent-status.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { encodeHandshake, makeReserved, ReservedBit } from '../../src/wire/codec/handshake.js';
import { MemoryNetwork } from './memory-transport.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ReplayResult {
  /** Reasons of the session's `peer-disconnect` events. */
  readonly disconnects: readonly string[];
  /** The peer as the session saw it at the end, if still connected. */
  readonly peer: PeerStatus | undefined;
}

export interface ReplayOptions {
  /** The session holds every piece (else none). */
  readonly weSeed: boolean;
  /** Bytes per write (0: all in one write). */
  readonly chunk?: number;
  /** Stop waiting early once this holds. */
  readonly until?: (p: PeerStatus | undefined, disconnects: readonly string[]) => boolean;
}

/** A handshake for `meta` with the extension and fast bits (and a fixed peer id). */
export function peerHandshake(meta: Metainfo, bits = [ReservedBit.EXTENSION_PROTOCOL, ReservedBit.FAST]): Buffer {
  return encodeHandshake({ reserved: makeReserved(bits), infoHash: meta.infoHash, peerId: Buffer.from('-XX0000-replaypeer01', 'latin1') });
}

/** Replays `bytes` into a fresh Session that has `meta` (with `data` when it seeds). */
export async function replay(meta: Metainfo, data: Buffer, bytes: Buffer, opts: ReplayOptions): Promise<ReplayResult> {
  const network = new MemoryNetwork();
  const session = new Session({ lsd: false, pex: false, trackers: false, hashWorkers: 1, host: '192.0.2.1', transport: network.transport('192.0.2.1') });
  const disconnects: string[] = [];
  const off = session.events.subscribe((e) => { if (e.event === 'peer-disconnect') disconnects.push(e.reason); });
  let stream: PeerStream | undefined;
  try {
    const port = await session.listen();
    const t = await session.addTorrent(meta, { savePath: '/memory/s', storage: new MemoryStorage(meta, opts.weSeed ? { data } : {}) });
    for (let i = 0; i < 500 && t.state === 'checking'; i++) await turn();
    stream = await network.transport('192.0.2.50').connect('192.0.2.1', port, { timeoutMs: 5000 });
    stream.on('data', () => undefined);
    stream.on('error', () => undefined);
    const chunk = opts.chunk ?? 0;
    if (chunk === 0) stream.write(bytes);
    else for (let o = 0; o < bytes.length; o += chunk) { stream.write(bytes.subarray(o, o + chunk)); await turn(); }
    const peer = (): PeerStatus | undefined => t.status().peers[0];
    for (let i = 0; i < 300; i++) {
      if (disconnects.length > 0 || opts.until?.(peer(), disconnects)) break;
      await turn();
    }
    return { disconnects: [...disconnects], peer: peer() };
  } finally {
    off();
    stream?.destroy();
    await session.close();
  }
}

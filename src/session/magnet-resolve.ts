/**
 * From a magnet link to a .torrent: find peers (the link's `x.pe` peers, peers given by the caller, and the link's
 * trackers), fetch the info dictionary from them with ut_metadata (BEP 9, src/session/metadata-fetch.ts), verify it
 * against the info-hash, and build the metainfo (BEP 3 + the link's trackers).
 *
 * Bounded: each tracker announce has its own timeout, and the whole fetch gives up after `timeoutMs`.
 */
import { announceHttp } from '../tracker/http-client.js';
import { parseMagnet, torrentFromInfo } from '../metainfo/index.js';
import { BtError, errorMessage } from '../util/errors.js';
import { fetchMetadata } from './metadata-fetch.js';
import type { Session } from './session.js';

export interface ResolvedMagnet {
  torrent: Buffer;
  name: string | undefined;
  /** Every peer found for the link (x.pe, given, trackers): the new torrent should start with them. */
  peers: Array<{ host: string; port: number }>;
}

export async function resolveMagnet(session: Session, uri: string, opts: {
  peers?: Array<{ host: string; port: number }>; timeoutMs?: number; signal?: AbortSignal; log?: (m: string) => void;
} = {}): Promise<ResolvedMagnet> {
  const m = parseMagnet(uri);
  const log = opts.log ?? (() => {});
  const peers: Array<{ host: string; port: number }> = [...(opts.peers ?? [])];
  for (const p of m.peers) {
    const mm = /^\[?([^\]]+)\]?:(\d+)$/.exec(p);
    if (mm) peers.push({ host: mm[1]!, port: Number(mm[2]) });
  }
  // Ask the link's trackers for peers (in parallel, each bounded).
  const params = {
    infoHash: m.infoHash, peerId: session.peerId, port: session.port, uploaded: 0, downloaded: 0, left: 1,
    event: 'started' as const, numwant: 50, key: 0, compact: true as const,
  };
  await Promise.all(m.trackers.slice(0, 10).map(async (url) => {
    try {
      const signal = AbortSignal.timeout(15_000);
      const r = url.startsWith('udp:')
        ? await (session.services?.udpClient.announce(url, params, signal) ?? Promise.reject(new Error('no UDP socket')))
        : await announceHttp(url, params, { signal, timeoutMs: 15_000 });
      for (const p of r.peers) peers.push(p);
    } catch (err) {
      log(`magnet: tracker ${url}: ${errorMessage(err)}`);
    }
  }));
  const seen = new Set<string>();
  const unique = peers.filter((p) => {
    const k = `${p.host}:${p.port}`;
    if (seen.has(k) || (p.port === session.port && (p.host === '127.0.0.1' || p.host === '::1'))) return false;
    seen.add(k);
    return true;
  });
  if (unique.length === 0) throw new BtError('NOT_FOUND', 'no peers for this magnet link (it has no x.pe peers and its trackers gave none): pass --peer HOST:PORT');
  const info = await fetchMetadata({
    infoHash: m.infoHash, peers: unique, peerId: session.peerId, reserved: session.reserved, listenPort: session.port,
    timeoutMs: opts.timeoutMs ?? 60_000, log,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { torrent: torrentFromInfo(info, m.trackers), name: m.name, peers: unique };
}

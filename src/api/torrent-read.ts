/**
 * The facade's cheap reads of one torrent (summary, progress, peer totals, identity), built from the torrent's read
 * model (`status()`, src/session/torrent-status.ts) and its progress event; the id is the API's (src/api/torrent-ids.ts).
 *
 * Invariant: plain data out; nothing here changes a torrent.
 */
import type { Torrent } from '../session/torrent.js';
import type { PeerTotalsReport, ProgressEvent, TorrentIdentity, TorrentSummary } from './types.js';

export function summarize(t: Torrent, id: number): TorrentSummary {
  const st = t.status();
  return {
    id, infoHash: st.infoHash, name: st.name, savePath: st.savePath, state: st.state,
    error: st.state === 'error' ? (st.error ?? 'error') : null,
    have: st.pieces.have, pieces: st.pieces.count, done: st.done, complete: st.complete,
    downloaded: st.totals.downloaded, uploaded: st.totals.uploaded,
  };
}

export function progressOf(t: Torrent): ProgressEvent { return t.progress(); }

export function peerTotalsOf(t: Torrent): PeerTotalsReport {
  const st = t.status();
  return { peers: st.peerTotals.map((p) => ({ ...p })), disconnects: st.disconnects.map((d) => ({ ...d })) };
}

export function identityOf(t: Torrent, id: number): TorrentIdentity {
  return { id, infoHash: t.infoHashHex, name: t.meta.name, metadataPending: false };
}

/**
 * The facade's cheap reads of one torrent (summary, progress, peer totals, identity), built from the torrent's
 * getters and progress event (O(1)), or its read model (`status()`, src/session/torrent-status.ts) where a list is
 * needed; the id is the API's (src/api/torrent-ids.ts).
 *
 * Invariant: plain data out; nothing here changes a torrent.
 */
import type { Torrent } from '../session/torrent.js';
import type { PeerTotalsReport, ProgressEvent, TorrentIdentity, TorrentSummary } from './types.js';

/** From the torrent's getters and its O(1) progress, not status(): `get` asks for it at every turn of its wait. */
export function summarize(t: Torrent, id: number): TorrentSummary {
  const p = t.progress();
  return {
    id, infoHash: t.infoHashHex, name: t.meta.name, savePath: t.savePath, state: t.state,
    error: t.state === 'error' ? (t.errorReason ?? 'error') : null,
    have: p.have, pieces: p.pieces, done: t.done, complete: t.complete,
    downloaded: t.downloaded, uploaded: t.uploaded,
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

/** `#3 name` for log lines, the way `bitpeer ls` and `bitpeer pause 3` name a torrent. */
export function torrentLabel(t: { id: number; name: string }): string {
  return `#${t.id} ${t.name}`;
}

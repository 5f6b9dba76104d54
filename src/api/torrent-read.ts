/**
 * The facade's cheap reads of one torrent (summary, progress, peer totals, identity), kept in one place: they read
 * today's Torrent, and are the one spot to re-point when the torrent gains its own read model (issue 10, item 1).
 *
 * Invariant: plain data out; nothing here changes a torrent.
 */
import type { Torrent } from '../session/torrent.js';
import type { PeerTotalsReport, ProgressEvent, TorrentIdentity, TorrentSummary } from './types.js';

export function summarize(t: Torrent): TorrentSummary {
  return {
    id: t.id, infoHash: t.infoHashHex, name: t.meta.name, savePath: t.savePath, state: t.state,
    error: t.state === 'error' ? (t.errorReason ?? 'error') : null,
    have: t.picker.haveCount, pieces: t.meta.pieceCount, done: t.done, complete: t.complete,
    downloaded: t.downloaded, uploaded: t.uploaded,
  };
}

export function progressOf(t: Torrent): ProgressEvent { return t.progress(); }

export function peerTotalsOf(t: Torrent): PeerTotalsReport {
  return { peers: t.peerTotalsList(), disconnects: t.disconnectCounts() };
}

export function identityOf(t: Torrent): TorrentIdentity {
  return { id: t.id, infoHash: t.infoHashHex, name: t.meta.name, metadataPending: false };
}

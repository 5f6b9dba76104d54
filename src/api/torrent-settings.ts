/**
 * What a torrent carries over when it is put back into a session (a restart, from its resume data; a set-location,
 * from its own read model): file selection and priorities, rate limits, sequential download, and the peers worth
 * trying again. One
 * helper for both, so the two paths cannot drift.
 *
 * Invariant: only the torrent's commands are used (setFiles, setLimits, addPeer); a peer address that does not parse
 * as `ip:port` is skipped.
 */
import type { Torrent } from '../session/torrent.js';
import { tryParsePeerAddress } from '../util/peer-address.js';
import type { FilePriority } from './types.js';

export interface CarriedSettings {
  wanted: readonly boolean[];
  priorities: readonly FilePriority[];
  limits: { upload: number; download: number };
  /** `ip:port` addresses (IPv6 in brackets). */
  peers: readonly string[];
  /** Sequential download (absent: off). */
  sequential?: boolean;
}

/** Applies `s` to `t` (call before it starts: AddTorrentOptions.beforeStart). */
export function applyCarried(t: Torrent, s: CarriedSettings): void {
  t.setFiles(s.wanted, s.priorities);
  t.setLimits(s.limits);
  if (s.sequential !== undefined) t.setSequential(s.sequential);
  for (const p of s.peers) {
    const a = tryParsePeerAddress(p, { ipOnly: true });
    if (a) t.addPeer(a.host, a.port, 'resume');
  }
}

/**
 * From a magnet link to a .torrent (BEP 9/53): a {@link PendingMagnet} (src/session/pending-magnet.ts) finds peers
 * from every source the session has and fetches the info dictionary from them (src/session/metadata-fetch.ts),
 * verified against the info-hash; the result is the metainfo (BEP 3 + the link's trackers).
 *
 * It waits for peers as long as it takes: it ends only with the metadata, when `signal` fires (BtError 'ABORTED'),
 * or after `timeoutMs` when one is given (BtError 'TIMEOUT').
 */
import { PendingMagnet, type ResolvedMagnet } from './pending-magnet.js';
import type { Session } from './session.js';

export type { ResolvedMagnet } from './pending-magnet.js';

export function resolveMagnet(session: Session, uri: string, opts: {
  peers?: Array<{ host: string; port: number }>; timeoutMs?: number; signal?: AbortSignal; log?: (m: string) => void;
} = {}): Promise<ResolvedMagnet> {
  return new PendingMagnet(session, uri, opts).promise;
}

/**
 * The web UI's pure core for the torrent list: the RPC fields each view asks for, Transmission's status numbers as
 * the UI's states, merging full and incremental ("recently-active") torrent-get replies, and sorting, filtering and
 * searching. No DOM, no fetch, no timers: unit-tested alone (model.test.ts).
 *
 * Invariants: a merge never invents a torrent (only ids the daemon sent, minus those it said were removed); sorting
 * is total and stable (ties broken by id), so rows do not jump between two polls that changed nothing.
 * Spec: Transmission's rpc-spec.txt (torrent-get fields; `status` 0..6; `error` 0..3; `ids: "recently-active"`).
 */

/** Fields of one row of the list (kept small: at 1,000 torrents this is polled every second). */
export const LIST_FIELDS = [
  'id', 'hashString', 'name', 'status', 'error', 'errorString', 'percentDone', 'rateDownload', 'rateUpload',
  'peersConnected', 'eta', 'uploadRatio', 'addedDate', 'sizeWhenDone', 'recheckProgress',
] as const;

/** A torrent as the list knows it (the subset of torrent-get's answer in {@link LIST_FIELDS}). */
export interface ListTorrent {
  id: number;
  hashString: string;
  name: string;
  status: number;
  error: number;
  errorString: string;
  percentDone: number;
  rateDownload: number;
  rateUpload: number;
  peersConnected: number;
  eta: number;
  uploadRatio: number;
  addedDate: number;
  sizeWhenDone: number;
  recheckProgress: number;
}

export type TorrentState = 'downloading' | 'seeding' | 'paused' | 'checking' | 'queued' | 'error';
export const FILTERS = ['all', 'downloading', 'seeding', 'paused', 'error'] as const;
export type Filter = (typeof FILTERS)[number];
export const SORT_KEYS = ['name', 'progress', 'state', 'down', 'up', 'eta', 'ratio', 'added'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** The UI's state of a torrent: a local error wins, then Transmission's `status` (rpc-spec tr_torrent_activity). */
export function stateOf(t: Pick<ListTorrent, 'status' | 'error'>): TorrentState {
  if (t.error === 3) return 'error';
  switch (t.status) {
    case 1: case 2: return 'checking';
    case 3: case 5: return 'queued';
    case 4: return 'downloading';
    case 6: return 'seeding';
    default: return 'paused';
  }
}

/** Progress in percent with one decimal, as `data-percent` shows it (0..100; a check shows its own progress). */
export function percentOf(t: Pick<ListTorrent, 'percentDone' | 'status' | 'recheckProgress'>): number {
  const f = t.status === 2 ? t.recheckProgress : t.percentDone;
  const p = Number.isFinite(f) ? Math.min(1, Math.max(0, f)) : 0;
  return Math.floor(p * 1000) / 10;
}

function num(v: unknown, dflt = 0): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** One torrent object of a reply, checked field by field (a missing or mistyped field gets a neutral value). */
export function toListTorrent(o: Record<string, unknown>, prev?: ListTorrent): ListTorrent | undefined {
  const id = o['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id)) return undefined;
  const pick = <K extends keyof ListTorrent>(k: K, read: (v: unknown) => ListTorrent[K], dflt: ListTorrent[K]): ListTorrent[K] =>
    (k in o ? read(o[k]) : prev ? prev[k] : dflt);
  return {
    id,
    hashString: pick('hashString', str, ''),
    name: pick('name', str, ''),
    status: pick('status', (v) => num(v), 0),
    error: pick('error', (v) => num(v), 0),
    errorString: pick('errorString', str, ''),
    percentDone: pick('percentDone', (v) => num(v), 0),
    rateDownload: pick('rateDownload', (v) => num(v), 0),
    rateUpload: pick('rateUpload', (v) => num(v), 0),
    peersConnected: pick('peersConnected', (v) => num(v), 0),
    eta: pick('eta', (v) => num(v, -1), -1),
    uploadRatio: pick('uploadRatio', (v) => num(v, -1), -1),
    addedDate: pick('addedDate', (v) => num(v), 0),
    sizeWhenDone: pick('sizeWhenDone', (v) => num(v), 0),
    recheckProgress: pick('recheckProgress', (v) => num(v), 0),
  };
}

/**
 * The list after a torrent-get reply. `full`: the reply lists every torrent (ids absent), so the ones not in it are
 * gone; otherwise (recently-active or a few ids) it updates those it names and drops the `removed` ids.
 */
export function mergeTorrents(current: ReadonlyMap<number, ListTorrent>, reply: { torrents?: unknown; removed?: unknown },
  full: boolean): Map<number, ListTorrent> {
  const out = full ? new Map<number, ListTorrent>() : new Map(current);
  const list = Array.isArray(reply.torrents) ? reply.torrents : [];
  for (const o of list) {
    if (typeof o !== 'object' || o === null) continue;
    const id = (o as Record<string, unknown>)['id'];
    const t = toListTorrent(o as Record<string, unknown>, typeof id === 'number' ? current.get(id) : undefined);
    if (t) out.set(t.id, t);
  }
  if (!full && Array.isArray(reply.removed)) for (const id of reply.removed) if (typeof id === 'number') out.delete(id);
  return out;
}

const STATE_ORDER: Record<TorrentState, number> = { downloading: 0, seeding: 1, checking: 2, queued: 3, paused: 4, error: 5 };

/** ETA for sorting: unknown (-1, -2) after every known one. */
function etaKey(t: ListTorrent): number {
  return t.eta >= 0 ? t.eta : Number.MAX_SAFE_INTEGER;
}

/**
 * The comparator of a sort key, in its natural direction: name A→Z; progress, rates, ratio and added date highest
 * (newest) first; ETA soonest first (unknown last); state in the order downloading, seeding, checking, queued,
 * paused, error. Ties go by id, so the order is total.
 */
export function comparator(key: SortKey): (a: ListTorrent, b: ListTorrent) => number {
  const primary = ((): ((a: ListTorrent, b: ListTorrent) => number) => {
    switch (key) {
      case 'name': return (a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' });
      case 'progress': return (a, b) => b.percentDone - a.percentDone;
      case 'state': return (a, b) => STATE_ORDER[stateOf(a)] - STATE_ORDER[stateOf(b)];
      case 'down': return (a, b) => b.rateDownload - a.rateDownload;
      case 'up': return (a, b) => b.rateUpload - a.rateUpload;
      case 'eta': return (a, b) => etaKey(a) - etaKey(b);
      case 'ratio': return (a, b) => b.uploadRatio - a.uploadRatio;
      case 'added': return (a, b) => b.addedDate - a.addedDate;
    }
  })();
  return (a, b) => primary(a, b) || a.id - b.id;
}

/** Whether a torrent passes the filter. */
export function matchesFilter(t: ListTorrent, filter: Filter): boolean {
  if (filter === 'all') return true;
  const s = stateOf(t);
  if (filter === 'downloading') return s === 'downloading' || (s === 'queued' && t.percentDone < 1) || (s === 'checking' && t.percentDone < 1);
  if (filter === 'seeding') return s === 'seeding' || (s === 'queued' && t.percentDone >= 1);
  return s === filter;
}

/** The rows to show: filtered, searched by name (case-insensitive substring), sorted (reversed on request). */
export function visibleTorrents(all: Iterable<ListTorrent>, opts: { filter: Filter; search: string; sort: SortKey; reverse: boolean }): ListTorrent[] {
  const needle = opts.search.trim().toLowerCase();
  const out: ListTorrent[] = [];
  for (const t of all) {
    if (!matchesFilter(t, opts.filter)) continue;
    if (needle !== '' && !t.name.toLowerCase().includes(needle)) continue;
    out.push(t);
  }
  const cmp = comparator(opts.sort);
  out.sort(opts.reverse ? (a, b) => cmp(b, a) : cmp);
  return out;
}

/**
 * The window of rows a virtualised list renders: rows [first, last) cover the viewport plus `overscan` rows each
 * side. Pure arithmetic on a fixed row height.
 */
export function visibleRange(scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan = 6): { first: number; last: number } {
  if (count <= 0 || rowHeight <= 0) return { first: 0, last: 0 };
  const first = Math.max(0, Math.floor(Math.max(0, scrollTop) / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewportHeight)) / rowHeight) + overscan);
  return { first: Math.min(first, last), last };
}

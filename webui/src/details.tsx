/**
 * The details panel of the selected torrent: overview (piece bar, info-hashes, magnet link, sequential download,
 * per-torrent limits), files (a folder tree with wanted and priority switches and play links for media), peers and
 * trackers. Each tab polls torrent-get for that one torrent, every second, with only the fields it shows.
 * Errors from the daemon (an unknown `sequentialDownload` included) go to the error banner as they are.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Actions } from './actions.js';
import { formatBytes, formatDate, formatRate, formatUntil, parseKBps } from './format.js';
import { percentOf, stateOf, type ListTorrent } from './model.js';
import { rpc, type Json } from './rpc.js';
import { buildTree, filesUnder, isMedia, treeRows, type FileItem } from './tree.js';
import { PieceBar } from './widgets.js';

type Tab = 'overview' | 'files' | 'peers' | 'trackers';
const TABS: Tab[] = ['overview', 'files', 'peers', 'trackers'];

const TAB_FIELDS: Record<Tab, string[]> = {
  overview: ['id', 'hashString', 'bitpeer-hashStringV2', 'bitpeer-metaVersion', 'magnetLink', 'pieces', 'pieceCount', 'pieceSize',
    'totalSize', 'sizeWhenDone', 'leftUntilDone', 'downloadDir', 'downloadLimit', 'downloadLimited', 'uploadLimit', 'uploadLimited',
    'sequentialDownload', 'errorString', 'uploadedEver', 'downloadedEver', 'addedDate', 'comment', 'isPrivate'],
  files: ['id', 'files', 'fileStats'],
  peers: ['id', 'peers'],
  trackers: ['id', 'trackerStats'],
};

export interface DetailsProps {
  torrent: ListTorrent;
  act(method: string, args: Record<string, unknown>): Promise<boolean>;
  report(err: unknown): void;
  onClose(): void;
  onRemove(): void;
  onMove(): void;
}

const s = (v: unknown): string => (typeof v === 'string' ? v : '');
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export function Details({ torrent, act, report, onClose, onRemove, onMove }: DetailsProps): preact.JSX.Element {
  const [tab, setTab] = useState<Tab>('overview');
  const [data, setData] = useState<Json | undefined>(undefined);
  const id = torrent.id;
  const generation = useRef(0);
  // Loads overlap (the poll, and the reload after a change): an answer older than one already shown is dropped, so
  // a poll sent before a torrent-set and answered after the reload cannot bring back the state before the change.
  const issued = useRef(0);
  const shown = useRef(0);

  const load = useCallback(async (): Promise<void> => {
    const mine = generation.current;
    const seq = ++issued.current;
    const r = await rpc.call<{ torrents?: unknown }>('torrent-get', { ids: [id], fields: TAB_FIELDS[tab] });
    const t = Array.isArray(r.torrents) ? (r.torrents[0] as Json | undefined) : undefined;
    if (mine !== generation.current || seq < shown.current) return;
    shown.current = seq;
    setData(t);
  }, [id, tab]);

  useEffect(() => {
    generation.current++;
    setData(undefined);
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loop = async (): Promise<void> => {
      try { await load(); } catch (err) { if (!stopped) report(err); }
      if (!stopped) timer = setTimeout(() => void loop(), 1000);
    };
    void loop();
    return () => { stopped = true; clearTimeout(timer); };
  }, [load, report]);

  /** Runs an action on this torrent and reloads the tab; resolves whether the daemon said "success". */
  const change = async (method: string, args: Json): Promise<boolean> => {
    const ok = await act(method, { ids: [id], ...args });
    try { await load(); } catch (err) { report(err); }
    return ok;
  };

  const onTabKey = (e: KeyboardEvent): void => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') return;
    e.preventDefault();
    const next = TABS[(TABS.indexOf(tab) + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length]!;
    setTab(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  return (
    <aside class="details" data-testid="details-panel" aria-label={`Details of ${torrent.name}`}>
      <div class="details-head">
        <h2 class="details-title">{torrent.name || torrent.hashString}</h2>
        <button type="button" data-testid="details-close" aria-label="Close the details" onClick={onClose}>✕</button>
      </div>
      <p class="muted">{stateOf(torrent)} · {percentOf(torrent).toFixed(1)}% · {formatBytes(torrent.sizeWhenDone)}
        {torrent.errorString !== '' ? <span class="form-error"> · {torrent.errorString}</span> : null}</p>
      <Actions ids={[id]} act={act} onRemove={onRemove} onMove={onMove} withTestIds={false} />
      <div class="tabs" role="tablist" aria-label="Details" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button type="button" role="tab" key={t} id={`tab-${t}`} data-testid={`tab-${t}`} aria-selected={tab === t ? 'true' : 'false'}
            aria-controls="details-tabpanel" tabIndex={tab === t ? 0 : -1} onClick={() => setTab(t)}>{t[0]!.toUpperCase() + t.slice(1)}</button>
        ))}
      </div>
      <div class="tabpanel" id="details-tabpanel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {data === undefined ? <p class="muted">Loading…</p>
          : tab === 'overview' ? <Overview key={id} t={data} change={change} report={report} />
          : tab === 'files' ? <Files t={data} hash={torrent.hashString} change={change} />
          : tab === 'peers' ? <Peers t={data} />
          : <Trackers t={data} />}
      </div>
    </aside>
  );
}

interface TabProps { t: Json; change(method: string, args: Json): Promise<boolean> }

function Overview({ t, change, report }: TabProps & { report(err: unknown): void }): preact.JSX.Element {
  const limitText = (limited: unknown, v: unknown): string => (limited === true ? String(n(v)) : '');
  const [down, setDown] = useState(() => limitText(t['downloadLimited'], t['downloadLimit']));
  const [up, setUp] = useState(() => limitText(t['uploadLimited'], t['uploadLimit']));
  const seqKnown = typeof t['sequentialDownload'] === 'boolean';
  // The switch shows what the user asked until a poll reports the daemon's value: a poll answered before the
  // torrent-set would otherwise flip the box back, and the next click would ask for what is already there.
  const [seqWanted, setSeqWanted] = useState<boolean | undefined>(undefined);
  const seqShown = seqWanted ?? t['sequentialDownload'] === true;
  useEffect(() => { if (seqWanted !== undefined && t['sequentialDownload'] === seqWanted) setSeqWanted(undefined); }, [t['sequentialDownload'], seqWanted]);
  const v2 = s(t['bitpeer-hashStringV2']);
  const saveLimits = async (e: Event): Promise<void> => {
    e.preventDefault();
    const d = parseKBps(down);
    const u = parseKBps(up);
    if (d === undefined || u === undefined) { report(new Error('A limit is a whole number of kB/s (empty = unlimited).')); return; }
    await change('torrent-set', {
      ...(d === 'unlimited' ? { downloadLimited: false } : { downloadLimit: d, downloadLimited: true }),
      ...(u === 'unlimited' ? { uploadLimited: false } : { uploadLimit: u, uploadLimited: true }),
    });
  };
  const setSequential = async (on: boolean): Promise<void> => {
    setSeqWanted(on);
    // An error from the daemon is in the banner already (act reports it): leave it there.
    if (!await change('torrent-set', { sequentialDownload: on })) { setSeqWanted(undefined); return; }
    // A daemon without the field accepts and ignores it (Transmission's rule for unknown keys): say so.
    try {
      const r = await rpc.call<{ torrents?: Json[] }>('torrent-get', { ids: [n(t['id'])], fields: ['id', 'sequentialDownload'] });
      const got = r.torrents?.[0]?.['sequentialDownload'];
      if (typeof got !== 'boolean' || got !== on) setSeqWanted(undefined);
      if (typeof got !== 'boolean') report(new Error('torrent-set sequentialDownload: this daemon does not report sequentialDownload (not supported)'));
      else if (got !== on) report(new Error(`torrent-set sequentialDownload: the daemon kept it ${got ? 'on' : 'off'}`));
    } catch (err) { setSeqWanted(undefined); report(err); }
  };
  return (
    <div class="overview">
      <PieceBar pieces={s(t['pieces'])} count={n(t['pieceCount'])} />
      <dl class="facts">
        <dt>Size</dt><dd>{formatBytes(n(t['totalSize']))} ({n(t['pieceCount'])} pieces of {formatBytes(n(t['pieceSize']))})</dd>
        <dt>Left</dt><dd>{formatBytes(n(t['leftUntilDone']))} of {formatBytes(n(t['sizeWhenDone']))} wanted</dd>
        <dt>Transferred</dt><dd>↓ {formatBytes(n(t['downloadedEver']))} · ↑ {formatBytes(n(t['uploadedEver']))}</dd>
        <dt>Folder</dt><dd class="wrap">{s(t['downloadDir'])}</dd>
        <dt>Added</dt><dd>{formatDate(n(t['addedDate']))}</dd>
        <dt>Info-hash</dt>
        <dd class="mono wrap" data-testid="info-hash">{s(t['hashString'])}{v2 !== '' ? <><br />v2: {v2}</> : null}</dd>
        <dt>Magnet</dt>
        <dd class="mono wrap"><a data-testid="magnet-link" href={s(t['magnetLink'])}>{s(t['magnetLink'])}</a></dd>
        {s(t['comment']) !== '' ? <><dt>Comment</dt><dd class="wrap">{s(t['comment'])}</dd></> : null}
      </dl>
      <label class="check">
        <input type="checkbox" data-testid="toggle-sequential" checked={seqShown}
          onChange={(e) => void setSequential((e.currentTarget as HTMLInputElement).checked)} />
        <span>Download in order (sequential){seqKnown ? '' : ' — not reported by this daemon'}</span>
      </label>
      <form class="limits" onSubmit={(e) => void saveLimits(e)}>
        <label><span>Download limit (kB/s)</span>
          <input type="number" min={0} placeholder="unlimited" data-testid="limit-down" value={down} onInput={(e) => setDown((e.currentTarget as HTMLInputElement).value)} /></label>
        <label><span>Upload limit (kB/s)</span>
          <input type="number" min={0} placeholder="unlimited" data-testid="limit-up" value={up} onInput={(e) => setUp((e.currentTarget as HTMLInputElement).value)} /></label>
        <button type="submit" data-testid="limits-save">Save limits</button>
      </form>
    </div>
  );
}

const PRIORITY_NAMES = ['low', 'normal', 'high'] as const;

/** A wanted or priority switch the user set, shown until the torrent-set that carries it has been answered. */
type FileWish = { token: number } & Partial<Pick<FileItem, 'wanted' | 'priority'>>;

function Files({ t, hash, change }: TabProps & { hash: string }): preact.JSX.Element {
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  // The switches show what the user asked until the change is answered and the tab reloaded: a poll answered in
  // between would otherwise flip a box back under the click (and a second click would ask for what is there).
  const [wishes, setWishes] = useState<ReadonlyMap<number, FileWish>>(new Map());
  const nextToken = useRef(0);
  const files = useMemo((): FileItem[] => {
    const list = Array.isArray(t['files']) ? (t['files'] as Json[]) : [];
    const stats = Array.isArray(t['fileStats']) ? (t['fileStats'] as Json[]) : [];
    return list.map((f, index) => {
      const wish = wishes.get(index);
      return {
        index, path: s(f['name']), length: n(f['length']), bytesCompleted: n(f['bytesCompleted']),
        wanted: wish?.wanted ?? stats[index]?.['wanted'] !== false, priority: wish?.priority ?? n(stats[index]?.['priority']),
      };
    });
  }, [t, wishes]);
  const root = useMemo(() => buildTree(files), [files]);
  const rows = treeRows(root, collapsed);
  /** Shows `wish` on `indices` at once, sends `args`, and hands the switches back to the daemon's state when answered. */
  const ask = (indices: number[], wish: Omit<FileWish, 'token'>, args: Json): void => {
    const token = ++nextToken.current;
    setWishes((m) => {
      const next = new Map(m);
      for (const i of indices) next.set(i, { ...next.get(i), ...wish, token });
      return next;
    });
    void change('torrent-set', args).finally(() => setWishes((m) => {
      // A later click on the same file keeps its own wish until its own answer.
      const next = new Map([...m].filter(([i, w]) => !(indices.includes(i) && w.token === token)));
      return next.size === m.size ? m : next;
    }));
  };
  const setWanted = (indices: number[], on: boolean): void => ask(indices, { wanted: on }, { [on ? 'files-wanted' : 'files-unwanted']: indices });
  const setPriority = (index: number, name: (typeof PRIORITY_NAMES)[number]): void =>
    ask([index], { priority: PRIORITY_NAMES.indexOf(name) - 1 }, { [`priority-${name}`]: [index] });
  const toggle = (path: string): void => setCollapsed((c) => { const next = new Set(c); if (next.has(path)) next.delete(path); else next.add(path); return next; });
  if (files.length === 0) return <p class="muted">No file list yet (a magnet link waits for its metadata).</p>;
  return (
    <div class="files-tree" data-testid="files-tree" role="tree" aria-label="Files">
      {rows.map((r) => {
        const pad = { paddingLeft: `${r.depth * 1.1 + 0.3}rem` };
        if (r.kind === 'folder') {
          const under = filesUnder(r.folder);
          const all = under.every((i) => files[i]?.wanted);
          const some = under.some((i) => files[i]?.wanted);
          return (
            // A click anywhere on the folder's row but its checkbox collapses or expands it (the button is the keyboard's way).
            <div class="file-folder" data-testid="file-folder" data-path={r.folder.path} role="treeitem" aria-expanded={r.open ? 'true' : 'false'} key={`d:${r.folder.path}`} style={pad}
              onClick={(e) => { if ((e.target as HTMLElement).tagName !== 'INPUT') toggle(r.folder.path); }}>
              <input type="checkbox" aria-label={`Download everything in ${r.folder.name}`} checked={all}
                ref={(el) => { if (el) el.indeterminate = some && !all; }} onChange={() => setWanted(under, !all)} />
              <button type="button" class="link folder-toggle" data-testid="folder-toggle" aria-label={`${r.open ? 'Collapse' : 'Expand'} ${r.folder.name}`}>
                {r.open ? '▾' : '▸'} {r.folder.name}</button>
            </div>
          );
        }
        const f = r.file;
        const pct = f.length > 0 ? Math.floor((f.bytesCompleted / f.length) * 1000) / 10 : 100;
        return (
          <div class="file-row" data-testid="file-row" data-index={String(f.index)} role="treeitem" key={`f:${f.index}`} style={pad}>
            <input type="checkbox" data-testid="file-wanted" aria-label={`Download ${r.name}`} checked={f.wanted}
              onChange={(e) => setWanted([f.index], (e.currentTarget as HTMLInputElement).checked)} />
            <span class="file-name" title={f.path}>{r.name}</span>
            <span class="file-progress muted" data-testid="file-progress" data-percent={pct.toFixed(1)}>{pct.toFixed(1)}% of {formatBytes(f.length)}</span>
            <select data-testid="file-priority" aria-label={`Priority of ${r.name}`} value={PRIORITY_NAMES[Math.max(-1, Math.min(1, f.priority)) + 1]}
              onChange={(e) => setPriority(f.index, (e.currentTarget as HTMLSelectElement).value as (typeof PRIORITY_NAMES)[number])}>
              <option value="low">Low</option><option value="normal">Normal</option><option value="high">High</option>
            </select>
            {isMedia(f.path) ? <a class="play" data-testid="play-link" href={`/stream/${hash}/${f.index}`} target="_blank" rel="noopener">Play</a> : null}
          </div>
        );
      })}
    </div>
  );
}

function Peers({ t }: { t: Json }): preact.JSX.Element {
  const peers = Array.isArray(t['peers']) ? (t['peers'] as Json[]) : [];
  return (
    <table class="grid" data-testid="peers-table">
      <thead><tr><th scope="col">Address</th><th scope="col">Client</th><th scope="col">Flags</th><th scope="col">Down</th><th scope="col">Up</th><th scope="col">Has</th></tr></thead>
      <tbody>
        {peers.length === 0 ? <tr><td colSpan={6} class="muted">No peers connected.</td></tr> : null}
        {peers.map((p) => (
          <tr data-testid="peer-row" key={`${s(p['address'])}:${n(p['port'])}`}>
            <td class="mono">{s(p['address']).includes(':') ? `[${s(p['address'])}]` : s(p['address'])}:{n(p['port'])}</td>
            <td>{s(p['clientName'])}</td>
            <td class="mono" title="D/d downloading/interested, U/u uploading/interested, K unchoked us, ? we unchoked, E encrypted, H DHT, X PEX, I incoming, T uTP">{s(p['flagStr'])}</td>
            <td>{formatRate(n(p['rateToClient']))}</td>
            <td>{formatRate(n(p['rateToPeer']))}</td>
            <td>{(n(p['progress']) * 100).toFixed(1)}%</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Trackers({ t }: { t: Json }): preact.JSX.Element {
  const trackers = Array.isArray(t['trackerStats']) ? (t['trackerStats'] as Json[]) : [];
  const now = Math.floor(Date.now() / 1000);
  return (
    <table class="grid" data-testid="trackers-table">
      <thead><tr><th scope="col">Tracker</th><th scope="col">Tier</th><th scope="col">Last announce</th><th scope="col">Seeds / peers</th><th scope="col">Next</th></tr></thead>
      <tbody>
        {trackers.length === 0 ? <tr><td colSpan={5} class="muted">No trackers (the DHT and peer exchange only).</td></tr> : null}
        {trackers.map((tr) => (
          <tr data-testid="tracker-row" key={`${n(tr['id'])}`}>
            <td class="mono wrap">{s(tr['announce'])}</td>
            <td>{n(tr['tier'])}</td>
            <td>{tr['hasAnnounced'] === true ? `${tr['lastAnnounceSucceeded'] === true ? '✓' : '✗'} ${s(tr['lastAnnounceResult'])} (${formatDate(n(tr['lastAnnounceTime']))})` : 'not yet'}</td>
            <td>{n(tr['seederCount']) < 0 ? '?' : n(tr['seederCount'])} / {n(tr['leecherCount']) < 0 ? '?' : n(tr['leecherCount'])}</td>
            <td>{formatUntil(n(tr['nextAnnounceTime']), now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

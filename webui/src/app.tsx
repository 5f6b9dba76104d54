/**
 * The web UI's root: header (add, settings, theme, global rates and their graph), the toolbar (search, filter,
 * sort, actions on the selected torrents), the virtualised list, the details panel, the dialogs, the error banner
 * and the drop zone. It owns the polling loop.
 *
 * Polling (at most one request of each kind in flight; every second): session-stats for the global rates, and the
 * list: a full torrent-get of the list fields every 5th tick (and at once after an action), `ids:
 * "recently-active"` in between (it also reports removed ids). The data-testid contract is docs/design/webui.md.
 *
 * Selection: `selection` is the set the toolbar acts on; `selectedId` is the last clicked (or arrowed) row, the one
 * the details panel shows. Invariant: a plain click or an arrow key makes both that one row; Ctrl/Cmd-click toggles
 * a row, Shift-click selects the visible rows from the anchor (the last plain or Ctrl-clicked row), Ctrl+A selects
 * every visible row. Ids of removed torrents stay harmlessly in the set (actions use only the ids still listed).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Actions } from './actions.js';
import { AddDialog, MoveDialog, RemoveDialog } from './dialogs.js';
import { Details } from './details.js';
import { formatRate } from './format.js';
import { FILTERS, LIST_FIELDS, mergeTorrents, SORT_KEYS, visibleTorrents, type Filter, type ListTorrent, type SortKey } from './model.js';
import { rpc } from './rpc.js';
import { SettingsDialog } from './settings.js';
import { TorrentList } from './list.js';
import { RateGraph, type RateSample } from './widgets.js';
import { useMediaQuery, useTheme } from './theme.js';

const POLL_MS = 1000;
const FULL_EVERY = 5;
const HISTORY = 60;

type DialogState = { kind: 'add'; file?: File | undefined; magnet?: string | undefined } | { kind: 'remove'; ids: number[] }
  | { kind: 'move'; ids: number[] } | { kind: 'settings' } | undefined;

/** How a row was clicked: `toggle` = Ctrl or Cmd held, `range` = Shift held. */
export interface ClickMods { toggle: boolean; range: boolean }

export interface ErrorState { message: string; fromPoll: boolean }

export function App(): preact.JSX.Element {
  const [torrents, setTorrents] = useState<Map<number, ListTorrent>>(new Map());
  const [loaded, setLoaded] = useState(false);
  const [filter, setFilter] = useState<Filter>('all');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<SortKey>('name');
  const [reverse, setReverse] = useState(false);
  const [selectedId, setSelectedId] = useState<number | undefined>(undefined);
  const [selection, setSelection] = useState<ReadonlySet<number>>(new Set());
  const anchorRef = useRef<number | undefined>(undefined);
  const [detailsOpen, setDetailsOpen] = useState(false);
  const [dialog, setDialog] = useState<DialogState>(undefined);
  const [error, setError] = useState<ErrorState | undefined>(undefined);
  const [history, setHistory] = useState<RateSample[]>([]);
  const [dragging, setDragging] = useState(false);
  const [theme, toggleTheme] = useTheme();
  const compact = useMediaQuery('(max-width: 600px)');
  const rowHeight = compact ? 64 : 44;
  const searchRef = useRef<HTMLInputElement>(null);
  const scrollRef = useRef<((index: number) => void) | null>(null);
  const torrentsRef = useRef(torrents);
  torrentsRef.current = torrents;
  const fullNow = useRef(true);
  // List answers are applied in the order their requests were sent: a poll sent before an action and answered after
  // the action's reload would otherwise show the state before the action again, until the next poll.
  const listSent = useRef(0);
  const listShown = useRef(0);
  const applyList = useCallback((sent: number, list: Record<string, unknown>, full: boolean): void => {
    if (sent < listShown.current) {
      if (full) fullNow.current = true; // what a dropped full answer would have removed is asked for again
      return;
    }
    listShown.current = sent;
    setTorrents((current) => mergeTorrents(current, list, full));
  }, []);

  const report = useCallback((err: unknown, fromPoll = false): void => {
    setError({ message: err instanceof Error ? err.message : String(err), fromPoll });
  }, []);

  // The polling loop: one tick at a time, each a second after the previous one ended.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let tick = 0;
    const poll = async (): Promise<void> => {
      const full = fullNow.current || tick % FULL_EVERY === 0;
      fullNow.current = false;
      tick++;
      try {
        const sent = ++listSent.current;
        const [list, stats] = await Promise.all([
          rpc.call('torrent-get', full ? { fields: LIST_FIELDS } : { fields: LIST_FIELDS, ids: 'recently-active' }),
          rpc.call('session-stats'),
        ]);
        if (stopped) return;
        applyList(sent, list, full);
        setLoaded(true);
        const down = typeof stats['downloadSpeed'] === 'number' ? stats['downloadSpeed'] : 0;
        const up = typeof stats['uploadSpeed'] === 'number' ? stats['uploadSpeed'] : 0;
        setHistory((h) => [...h.slice(-(HISTORY - 1)), { down, up }]);
        setError((e) => (e?.fromPoll ? undefined : e));
      } catch (err) {
        if (!stopped) { report(err, true); fullNow.current = true; }
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    const onVisible = (): void => { if (!document.hidden) fullNow.current = true; };
    document.addEventListener('visibilitychange', onVisible);
    return () => { stopped = true; clearTimeout(timer); document.removeEventListener('visibilitychange', onVisible); };
  }, [report, applyList]);

  const rows = useMemo(() => visibleTorrents(torrents.values(), { filter, search, sort, reverse }), [torrents, filter, search, sort, reverse]);
  const selected = selectedId !== undefined ? torrents.get(selectedId) : undefined;

  /** Runs an RPC action, then refreshes the whole list at once. */
  const act = useCallback(async (method: string, args: Record<string, unknown>): Promise<boolean> => {
    try {
      await rpc.call(method, args);
      return true;
    } catch (err) {
      report(err);
      return false;
    } finally {
      fullNow.current = true;
      try {
        const sent = ++listSent.current;
        applyList(sent, await rpc.call('torrent-get', { fields: LIST_FIELDS }), true);
      } catch { /* the next poll reports it */ }
    }
  }, [report, applyList]);

  /** Makes `id` the only selected row (and the anchor of a later Shift-click). */
  const selectOnly = useCallback((id: number): void => {
    const next = new Set([id]);
    keyState.current = { ...keyState.current, selectedId: id, selection: next };
    setSelectedId(id);
    setSelection(next);
    anchorRef.current = id;
  }, []);

  const select = useCallback((id: number, open: boolean, mods: ClickMods = { toggle: false, range: false }): void => {
    const { rows } = keyState.current;
    const anchor = anchorRef.current;
    const from = anchor === undefined ? -1 : rows.findIndex((r) => r.id === anchor);
    const to = rows.findIndex((r) => r.id === id);
    if (mods.range && from >= 0 && to >= 0) {
      const range = rows.slice(Math.min(from, to), Math.max(from, to) + 1).map((r) => r.id);
      const next = new Set(mods.toggle ? [...keyState.current.selection, ...range] : range);
      keyState.current = { ...keyState.current, selection: next };
      setSelection(next);
      setSelectedId(id);
      return;
    }
    if (mods.toggle) {
      const next = new Set(keyState.current.selection);
      if (next.has(id)) {
        next.delete(id);
        setSelectedId((s) => (s === id ? [...next].pop() : s));
      } else {
        next.add(id);
        setSelectedId(id);
      }
      keyState.current = { ...keyState.current, selection: next };
      setSelection(next);
      anchorRef.current = id;
      return;
    }
    selectOnly(id);
    if (open) setDetailsOpen(true);
  }, [selectOnly]);

  // Keyboard: "/" focuses the search; arrows move the selection; Enter opens details; Delete asks to remove; Ctrl+A
  // (Cmd+A) selects every visible row. The handler reads the latest state from a ref (keys can come faster than
  // renders) and moves the selection there too.
  const keyState = useRef({ dialog, rows, selectedId, detailsOpen, selection });
  keyState.current = { dialog, rows, selectedId, detailsOpen, selection };
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const { dialog, rows, selectedId, detailsOpen, selection } = keyState.current;
      const target = e.target as HTMLElement | null;
      const typing = target !== null && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'SELECT' || target.isContentEditable);
      if (dialog === undefined && (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'a' && !typing
        && (target === null || target.closest('[data-testid="details-panel"]') === null)) {
        e.preventDefault();
        const all = new Set(rows.map((r) => r.id));
        keyState.current = { ...keyState.current, selection: all };
        setSelection(all);
        if ((selectedId === undefined || !all.has(selectedId)) && rows.length > 0) setSelectedId(rows[0]!.id);
        return;
      }
      const selected = [...selection].some((id) => torrentsRef.current.has(id));
      if (dialog !== undefined || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === '/' && !typing) {
        e.preventDefault();
        searchRef.current?.focus();
        return;
      }
      if (e.key === 'Escape' && detailsOpen && !typing) { keyState.current = { ...keyState.current, detailsOpen: false }; setDetailsOpen(false); return; }
      if (typing || (target !== null && target.closest('[data-testid="details-panel"]') !== null)) return;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        if (rows.length === 0) return;
        e.preventDefault();
        const at = rows.findIndex((r) => r.id === selectedId);
        const next = at < 0 ? (e.key === 'ArrowDown' ? 0 : rows.length - 1)
          : Math.max(0, Math.min(rows.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)));
        const id = rows[next]!.id;
        keyState.current = { ...keyState.current, selectedId: id, selection: new Set([id]) };
        selectOnly(id);
        scrollRef.current?.(next);
      } else if (e.key === 'Enter' && selectedId !== undefined && (target === null || target.tagName !== 'BUTTON')) {
        e.preventDefault();
        keyState.current = { ...keyState.current, detailsOpen: true };
        setDetailsOpen(true);
      } else if (e.key === 'Delete' && selected) {
        e.preventDefault();
        const next: DialogState = { kind: 'remove', ids: [...selection].filter((id) => torrentsRef.current.has(id)) };
        keyState.current = { ...keyState.current, dialog: next };
        setDialog(next);
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [selectOnly]);

  // Drag and drop of .torrent files (or a magnet link as text) anywhere on the page.
  useEffect(() => {
    let depth = 0;
    // Files, or a link (a magnet dragged from another page); not text dragged around within the page.
    const hasFiles = (e: DragEvent): boolean => Array.from(e.dataTransfer?.types ?? []).some((t) => t === 'Files' || t === 'text/uri-list');
    const onEnter = (e: DragEvent): void => { if (!hasFiles(e)) return; e.preventDefault(); depth++; setDragging(true); };
    const onOver = (e: DragEvent): void => { if (!hasFiles(e)) return; e.preventDefault(); if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy'; };
    const onLeave = (): void => { depth = Math.max(0, depth - 1); if (depth === 0) setDragging(false); };
    const onDrop = (e: DragEvent): void => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      setDragging(false);
      const files = Array.from(e.dataTransfer?.files ?? []);
      const file = files.find((f) => f.name.toLowerCase().endsWith('.torrent')) ?? files[0];
      if (file) { setDialog({ kind: 'add', file }); return; }
      const text = (e.dataTransfer?.getData('text/uri-list') || e.dataTransfer?.getData('text/plain') || '').trim();
      if (/^magnet:/i.test(text)) setDialog({ kind: 'add', magnet: text.split(/\s+/)[0] });
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, []);

  const last = history[history.length - 1] ?? { down: 0, up: 0 };
  const ids = [...selection].filter((id) => torrents.has(id));
  const listed = (list: number[]): ListTorrent[] => list.flatMap((id) => { const t = torrents.get(id); return t ? [t] : []; });
  const removeIds = dialog?.kind === 'remove' ? listed(dialog.ids) : [];
  const moveIds = dialog?.kind === 'move' ? listed(dialog.ids) : [];
  return (
    <div class={`app${detailsOpen && selected ? ' with-details' : ''}`}>
      <header class="top">
        <h1 class="brand">bitpeer</h1>
        <div class="global-rates" data-testid="global-rates" aria-live="off" aria-label="Global rates">
          <span class="rate-down">↓ {formatRate(last.down)}</span>
          <span class="rate-up">↑ {formatRate(last.up)}</span>
          <RateGraph samples={history} capacity={HISTORY} />
        </div>
        <div class="top-buttons">
          <button type="button" class="primary" data-testid="add-button" onClick={() => setDialog({ kind: 'add' })}>Add</button>
          <button type="button" data-testid="settings-button" onClick={() => setDialog({ kind: 'settings' })}>Settings</button>
          <button type="button" data-testid="theme-toggle" aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
            aria-pressed={theme === 'dark' ? 'true' : 'false'} onClick={toggleTheme}>{theme === 'dark' ? '☀' : '☾'}</button>
        </div>
      </header>
      {error ? (
        <div class="error-banner" data-testid="error-banner" role="alert">
          <span>{error.message}</span>
          <button type="button" class="link" data-testid="error-dismiss" aria-label="Dismiss the error" onClick={() => setError(undefined)}>✕</button>
        </div>
      ) : null}
      <div class="toolbar" role="toolbar" aria-label="List and actions">
        <input ref={searchRef} type="search" class="search" data-testid="search-input" placeholder="Search (/)" aria-label="Search by name"
          value={search} onInput={(e) => setSearch((e.currentTarget as HTMLInputElement).value)} />
        <select data-testid="filter-select" aria-label="Filter" value={filter}
          onChange={(e) => setFilter((e.currentTarget as HTMLSelectElement).value as Filter)}>
          {FILTERS.map((f) => <option key={f} value={f}>{f === 'all' ? 'All' : f[0]!.toUpperCase() + f.slice(1)}</option>)}
        </select>
        <select data-testid="sort-select" aria-label="Sort by" value={sort}
          onChange={(e) => setSort((e.currentTarget as HTMLSelectElement).value as SortKey)}>
          {SORT_KEYS.map((k) => <option key={k} value={k}>{SORT_LABELS[k]}</option>)}
        </select>
        <button type="button" data-testid="sort-reverse" aria-label="Reverse the order" aria-pressed={reverse ? 'true' : 'false'}
          onClick={() => setReverse((r) => !r)}>{reverse ? '↑' : '↓'}</button>
        <span class="spacer" />
        <Actions ids={ids} act={act} onRemove={() => setDialog({ kind: 'remove', ids })} onMove={() => setDialog({ kind: 'move', ids })} />
        <span class="count" aria-live="polite">{loaded ? `${rows.length} of ${torrents.size}` : 'loading…'}</span>
      </div>
      <main class="main">
        <TorrentList rows={rows} rowHeight={rowHeight} selectedId={selectedId} selection={selection} onSelect={select} scrollRef={scrollRef} />
        {detailsOpen && selected ? (
          <Details torrent={selected} act={act} report={report} onClose={() => setDetailsOpen(false)}
            onRemove={() => setDialog({ kind: 'remove', ids: [selected.id] })} onMove={() => setDialog({ kind: 'move', ids: [selected.id] })} />
        ) : null}
      </main>
      {dragging ? <div class="drop-zone" data-testid="drop-zone" aria-hidden="true"><p>Drop a .torrent file to add it</p></div> : null}
      {dialog?.kind === 'add' ? (
        <AddDialog initialFile={dialog.file} initialMagnet={dialog.magnet} report={report} onClose={() => setDialog(undefined)}
          onAdded={(id) => { setDialog(undefined); fullNow.current = true; if (id !== undefined) selectOnly(id); }} />
      ) : null}
      {dialog?.kind === 'remove' && removeIds.length > 0 ? (
        <RemoveDialog torrents={removeIds} onClose={() => setDialog(undefined)}
          onConfirm={async (deleteData) => {
            setDialog(undefined);
            const gone = removeIds.map((t) => t.id);
            if (await act('torrent-remove', { ids: gone, 'delete-local-data': deleteData })) {
              setSelection((cur) => new Set([...cur].filter((id) => !gone.includes(id))));
              if (selectedId !== undefined && gone.includes(selectedId)) { setSelectedId(undefined); setDetailsOpen(false); }
            }
          }} />
      ) : null}
      {dialog?.kind === 'move' && moveIds.length > 0 ? (
        <MoveDialog torrents={moveIds} report={report} onClose={() => setDialog(undefined)}
          onConfirm={(location, move) => {
            setDialog(undefined);
            void act('torrent-set-location', { ids: moveIds.map((t) => t.id), location, move });
          }} />
      ) : null}
      {dialog?.kind === 'settings' ? <SettingsDialog report={report} onClose={() => setDialog(undefined)} /> : null}
    </div>
  );
}

const SORT_LABELS: Record<SortKey, string> = {
  name: 'Name', progress: 'Progress', state: 'State', down: 'Download rate', up: 'Upload rate', eta: 'Time left', ratio: 'Ratio', added: 'Date added',
};

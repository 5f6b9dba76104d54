/**
 * The torrent list: a virtualised listbox. Rows have a fixed height, so the rows in view follow from scrollTop
 * alone (model.ts visibleRange); only those (plus a few each side) are in the DOM, placed by a transform inside a
 * spacer as tall as the whole list. 1,000 or 100,000 torrents cost the same DOM.
 * Invariant: every rendered row carries data-id / data-hash of its torrent and aria-selected (true for every row in
 * the selection); the last clicked row is the listbox's aria-activedescendant. Ctrl/Cmd and Shift clicks are passed
 * on as {@link ClickMods}; the listbox is aria-multiselectable.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { formatEta, formatRatio, formatRate } from './format.js';
import { percentOf, stateOf, visibleRange, type ListTorrent } from './model.js';
import type { ClickMods } from './app.js';

export interface TorrentListProps {
  rows: ListTorrent[];
  rowHeight: number;
  /** The last clicked row. */
  selectedId: number | undefined;
  /** Every selected row. */
  selection: ReadonlySet<number>;
  onSelect(id: number, open: boolean, mods: ClickMods): void;
  /** Set by the list: scrolls a row index into view. */
  scrollRef: { current: ((index: number) => void) | null };
}

export function TorrentList(props: TorrentListProps): preact.JSX.Element {
  const { rows, rowHeight, selectedId, selection } = props;
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 600 });

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const measure = (): void => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    props.scrollRef.current = (index: number): void => {
      const el = box.current;
      if (!el) return;
      const top = index * rowHeight;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
    };
  });

  const { first, last } = visibleRange(view.top, view.height, rowHeight, rows.length);
  const shown = rows.slice(first, last);
  return (
    <div class="list-wrap">
    <div class="list-head" aria-hidden="true">
      <span>Name</span><span>State</span><span class="row-num">Down</span><span class="row-num">Up</span>
      <span class="row-num">Peers</span><span class="row-num">ETA</span><span class="row-num">Ratio</span>
    </div>
    <div class="list" ref={box} data-testid="torrent-list" role="listbox" aria-multiselectable="true" tabIndex={0} aria-label="Torrents"
      aria-activedescendant={shown.some((r) => r.id === selectedId) ? `torrent-${selectedId ?? ''}` : undefined}
      onScroll={(e) => setView({ top: (e.currentTarget as HTMLDivElement).scrollTop, height: (e.currentTarget as HTMLDivElement).clientHeight })}>
      {rows.length === 0 ? <p class="empty">No torrents here. Add one with “Add” or drop a .torrent file on the page.</p> : null}
      <div class="list-spacer" style={{ height: `${rows.length * rowHeight}px` }}>
        {shown.map((t, i) => (
          <Row key={t.id} t={t} top={(first + i) * rowHeight} height={rowHeight} selected={selection.has(t.id)}
            onClick={(e) => props.onSelect(t.id, true, { toggle: e.ctrlKey || e.metaKey, range: e.shiftKey })} />
        ))}
      </div>
    </div>
    </div>
  );
}

interface RowProps { t: ListTorrent; top: number; height: number; selected: boolean; onClick(e: MouseEvent): void }

function Row({ t, top, height, selected, onClick }: RowProps): preact.JSX.Element {
  const state = stateOf(t);
  const pct = percentOf(t);
  return (
    <div class={`row state-${state}${selected ? ' selected' : ''}`} id={`torrent-${t.id}`} role="option" aria-selected={selected ? 'true' : 'false'}
      data-testid="torrent-row" data-id={String(t.id)} data-hash={t.hashString} onClick={onClick}
      onMouseDown={(e) => { if (e.shiftKey) e.preventDefault(); /* no text selection on a range click */ }}
      style={{ transform: `translateY(${top}px)`, height: `${height}px` }} title={t.errorString !== '' ? t.errorString : undefined}>
      <div class="row-main">
        <span class="row-name" data-testid="row-name">{t.name || t.hashString}</span>
        <div class="progress" data-testid="row-progress" data-percent={pct.toFixed(1)} role="progressbar"
          aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label={`${pct.toFixed(1)}%`}>
          <div class="progress-fill" style={{ width: `${pct}%` }} />
        </div>
      </div>
      <span class="row-state" data-testid="row-state">{state}</span>
      <span class="row-num row-down" data-testid="row-down" aria-label="download rate">{formatRate(t.rateDownload)}</span>
      <span class="row-num row-up" data-testid="row-up" aria-label="upload rate">{formatRate(t.rateUpload)}</span>
      <span class="row-num row-peers" data-testid="row-peers" aria-label="peers">{t.peersConnected}</span>
      <span class="row-num row-eta" data-testid="row-eta" aria-label="time left">{formatEta(t.eta)}</span>
      <span class="row-num row-ratio" data-testid="row-ratio" aria-label="ratio">{formatRatio(t.uploadRatio)}</span>
    </div>
  );
}

/**
 * A structural layout check for the web UI, computed from the page's own geometry (getBoundingClientRect,
 * getComputedStyle, elementFromPoint), not from pixels: no two visible tracked elements overlap, and nothing visible
 * is cut off horizontally by its clipping/scroll container or by the viewport, and the page itself does not scroll
 * sideways.
 *
 * Two halves: {@link collectLayout} runs in the page (it is serialised by Playwright, so it uses nothing from this
 * module's scope) and returns a plain {@link LayoutSnapshot}; {@link analyseLayout} is a pure function of that
 * snapshot (unit-tested in test/unit/browser-layout.test.ts) that lists the violations.
 *
 * Tracked elements: everything with a `data-testid`, and every interactive element (button, link, input, select,
 * textarea, summary, ARIA widget roles, focusable `tabindex`). An element counts as visible when
 * `checkVisibility` (display, visibility, opacity, content-visibility) says so, it is at least 2×2 px, and some of
 * it lies inside all its clipping ancestors and the viewport (a row scrolled out of the list is not visible).
 *
 * Invariants of the analysis:
 * - an element is compared only with elements that are neither its ancestors nor its descendants;
 * - an element entirely under something else (hit-testing at five points inside its visible part never reaches it,
 *   its descendants or its ancestors) is "covered" and left out of the overlap check. That is a fault when what is
 *   on top is a tracked control or row on the same layer (a control hiding a control); it is not when the element
 *   on top belongs to another layer: an open dialog, a position: fixed box (a sheet, an overlay) or a panel, none
 *   of which contains the covered element;
 * - overlap = the visible parts (clipped by the scroll containers) intersect by more than `tolerancePx` on both axes;
 * - horizontal clipping = the element's full box extends past the inner box of its nearest ancestor with
 *   overflow-x other than `visible` (or past the viewport) by more than `tolerancePx`.
 * BEP: none (test tooling).
 */

/** A box in CSS pixels of the viewport. */
export interface Box { l: number; t: number; r: number; b: number }

/** What kind of tracked element: panels and rows by test id, everything else by being interactive or tested. */
export type ItemKind = 'interactive' | 'row' | 'panel' | 'content';

/** One tracked, visible element. */
export interface LayoutItem {
  /** data-testid (with data-id / data-index when present), else tag and text. */
  label: string;
  kind: ItemKind;
  /** The full border box. */
  rect: Box;
  /** The part inside every clipping ancestor and the viewport. */
  visible: Box;
  /** The inner box of the nearest ancestor that clips horizontally (overflow-x not visible), or the viewport. */
  hclip: Box;
  /** Label of that container ("viewport" for the viewport). */
  hclipLabel: string;
  /** Indexes (into `items`) of tracked ancestors. */
  ancestors: number[];
  /** True when hit-testing at five points inside `visible` never reaches this element or its descendants. */
  covered: boolean;
  /** When covered: the index of the tracked element on top at the centre (-1 if none is tracked). */
  coveredBy: number;
  /**
   * When covered: the layer the element on top belongs to (an open dialog, a position: fixed box or a panel that
   * does not contain this element), by label; null if it is on the same layer (a real overlap).
   */
  coveredByLayer: string | null;
}

/** The page's layout as seen by {@link collectLayout}. */
export interface LayoutSnapshot {
  viewport: { width: number; height: number };
  /** document.documentElement.scrollWidth. */
  scrollWidth: number;
  items: LayoutItem[];
}

/** One broken rule. */
export interface LayoutViolation { rule: 'overlap' | 'covered' | 'clipped-x' | 'page-scrolls-x'; message: string }

export interface AnalyseOptions {
  /** Slack for rounding, px (default 1). */
  tolerancePx?: number;
  /** Test ids that must be visible and not covered (e.g. the list and the details panel side by side on a desktop). */
  mustBeUncovered?: string[];
}

const area = (b: Box): number => Math.max(0, b.r - b.l) * Math.max(0, b.b - b.t);

/** The intersection of two boxes (possibly empty: r ≤ l or b ≤ t). */
export function intersect(a: Box, b: Box): Box {
  return { l: Math.max(a.l, b.l), t: Math.max(a.t, b.t), r: Math.min(a.r, b.r), b: Math.min(a.b, b.b) };
}

function fmtBox(b: Box): string {
  const n = (x: number): string => String(Math.round(x * 10) / 10);
  return `[${n(b.l)},${n(b.t)} → ${n(b.r)},${n(b.b)}]`;
}

/** Every violation in `snap` (empty when the layout is sound). Pure. */
export function analyseLayout(snap: LayoutSnapshot, opts: AnalyseOptions = {}): LayoutViolation[] {
  const tol = opts.tolerancePx ?? 1;
  const out: LayoutViolation[] = [];
  const items = snap.items;
  if (snap.scrollWidth > snap.viewport.width + tol) {
    out.push({ rule: 'page-scrolls-x', message: `the page is ${snap.scrollWidth} px wide in a ${snap.viewport.width} px viewport (it scrolls sideways)` });
  }
  const related = (i: number, j: number): boolean => items[i]!.ancestors.includes(j) || items[j]!.ancestors.includes(i);
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (it.rect.l < it.hclip.l - tol || it.rect.r > it.hclip.r + tol) {
      out.push({ rule: 'clipped-x', message: `${it.label} ${fmtBox(it.rect)} is cut off horizontally by ${it.hclipLabel} ${fmtBox(it.hclip)}` });
    }
    if (it.covered && it.coveredBy >= 0 && it.coveredByLayer === null && !related(i, it.coveredBy)) {
      const top = items[it.coveredBy]!;
      if (top.kind === 'interactive' || top.kind === 'row') {
        out.push({ rule: 'covered', message: `${it.label} ${fmtBox(it.visible)} is hidden under ${top.label} ${fmtBox(top.visible)}` });
      }
    }
  }
  for (let i = 0; i < items.length; i++) {
    const a = items[i]!;
    if (a.covered) continue;
    for (let j = i + 1; j < items.length; j++) {
      const b = items[j]!;
      if (b.covered || related(i, j)) continue;
      const x = intersect(a.visible, b.visible);
      if (x.r - x.l > tol && x.b - x.t > tol) {
        out.push({ rule: 'overlap', message: `${a.label} ${fmtBox(a.visible)} overlaps ${b.label} ${fmtBox(b.visible)} (${Math.round(area(x))} px²)` });
      }
    }
  }
  for (const id of opts.mustBeUncovered ?? []) {
    const hits = items.filter((it) => it.label === id || it.label.startsWith(`${id}[`));
    if (hits.length === 0) out.push({ rule: 'covered', message: `${id} is not visible` });
    for (const it of hits) {
      if (it.covered) {
        const by = it.coveredBy >= 0 ? items[it.coveredBy]!.label : 'an untracked element';
        out.push({ rule: 'covered', message: `${it.label} is entirely covered (by ${by})` });
      }
    }
  }
  return out;
}

/** The test ids that are panels and rows; other tracked elements are interactive or plain content. */
export const PANEL_IDS = ['torrent-list', 'details-panel', 'add-dialog', 'settings-dialog', 'remove-dialog', 'move-dialog', 'files-tree',
  'peers-table', 'trackers-table', 'error-banner', 'drop-zone'];
export const ROW_IDS = ['torrent-row', 'file-row', 'file-folder', 'peer-row', 'tracker-row'];

/**
 * Runs in the page (passed to page.evaluate): the tracked visible elements and their geometry. Self-contained: it
 * must not refer to anything outside its own body (Playwright sends its source text).
 */
export function collectLayout(ids: { panels: string[]; rows: string[] }): LayoutSnapshot {
  // Minimal DOM shapes: the project compiles without lib.dom (these functions run in the browser only).
  interface R { left: number; top: number; right: number; bottom: number; width: number; height: number }
  interface El {
    tagName: string; parentElement: El | null; textContent: string | null; clientLeft: number; clientWidth: number;
    getBoundingClientRect(): R; getAttribute(n: string): string | null; contains(o: El): boolean;
    checkVisibility?(o: Record<string, boolean>): boolean; matches(s: string): boolean;
  }
  interface Doc {
    querySelectorAll(s: string): ArrayLike<El>; elementFromPoint(x: number, y: number): El | null;
    documentElement: El & { scrollWidth: number }; body: El;
  }
  const g = globalThis as unknown as { document: Doc; innerWidth: number; innerHeight: number;
    getComputedStyle(e: El): { overflowX: string; overflowY: string; position: string; display: string } };
  const doc = g.document;
  const vw = doc.documentElement.clientWidth || g.innerWidth;
  const vh = g.innerHeight;
  const viewport: Box = { l: 0, t: 0, r: vw, b: vh };
  const INTERACTIVE = 'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button], [role=checkbox], '
    + '[role=tab], [role=switch], [role=menuitem], [role=option], [tabindex]:not([tabindex="-1"]), [contenteditable=""], [contenteditable=true]';
  const all = Array.from(doc.querySelectorAll(`[data-testid], ${INTERACTIVE}`));
  const box = (r: R): Box => ({ l: r.left, t: r.top, r: r.right, b: r.bottom });
  const cut = (a: Box, b: Box): Box => ({ l: Math.max(a.l, b.l), t: Math.max(a.t, b.t), r: Math.min(a.r, b.r), b: Math.min(a.b, b.b) });
  const labelOf = (e: El): string => {
    const id = e.getAttribute('data-testid');
    const extra = ['data-id', 'data-index', 'data-value'].map((a) => e.getAttribute(a)).filter((v) => v !== null);
    if (id) return extra.length ? `${id}[${extra.join(',')}]` : id;
    const text = (e.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 24);
    const name = e.getAttribute('aria-label') ?? e.getAttribute('title') ?? e.getAttribute('name') ?? text;
    return `<${e.tagName.toLowerCase()}${name ? ` "${name}"` : ''}>`;
  };
  const kindOf = (e: El): ItemKind => {
    const id = e.getAttribute('data-testid') ?? '';
    if (ids.panels.includes(id)) return 'panel';
    if (ids.rows.includes(id)) return 'row';
    return e.matches(INTERACTIVE) ? 'interactive' : 'content';
  };
  const tracked: El[] = [];
  const geo: Array<{ rect: Box; visible: Box; hclip: Box; hclipLabel: string }> = [];
  for (const e of all) {
    if (e.checkVisibility && !e.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true })) continue;
    const rect = box(e.getBoundingClientRect());
    if (rect.r - rect.l < 2 || rect.b - rect.t < 2) continue;
    let visible = cut(rect, viewport);
    let hclip: Box | undefined;
    let hclipLabel = 'viewport';
    const fixed = g.getComputedStyle(e).position === 'fixed';
    for (let p = e.parentElement; p && !fixed; p = p.parentElement) {
      const st = g.getComputedStyle(p);
      const clipsX = st.overflowX !== 'visible';
      const clipsY = st.overflowY !== 'visible';
      if (!clipsX && !clipsY) continue;
      const pr = p.getBoundingClientRect();
      const inner: Box = { l: pr.left + p.clientLeft, t: pr.top, r: pr.left + p.clientLeft + p.clientWidth, b: pr.bottom };
      visible = cut(visible, { l: clipsX ? inner.l : -Infinity, t: clipsY ? inner.t : -Infinity, r: clipsX ? inner.r : Infinity, b: clipsY ? inner.b : Infinity });
      if (clipsX && !hclip) { hclip = inner; hclipLabel = labelOf(p); }
      if (st.position === 'fixed') break;
    }
    if (visible.r - visible.l < 1 || visible.b - visible.t < 1) continue;
    tracked.push(e);
    geo.push({ rect, visible, hclip: hclip ? cut(hclip, { l: 0, t: -Infinity, r: vw, b: Infinity }) : viewport, hclipLabel });
  }
  const items: LayoutItem[] = tracked.map((e, i) => {
    const gi = geo[i]!;
    const ancestors: number[] = [];
    tracked.forEach((o, j) => { if (j !== i && o.contains(e)) ancestors.push(j); });
    const v = gi.visible;
    const fx = [0.5, 0.2, 0.8, 0.2, 0.8];
    const fy = [0.5, 0.2, 0.2, 0.8, 0.8];
    let reached = false;
    let centreTop: El | null = null;
    for (let k = 0; k < fx.length && !reached; k++) {
      const x = v.l + (v.r - v.l) * fx[k]!;
      const y = v.t + (v.b - v.t) * fy[k]!;
      const top = doc.elementFromPoint(x, y);
      if (k === 0) centreTop = top;
      // On it or inside it; or on an ancestor (the element itself is not hit-testable: pointer-events none).
      if (top && (e.contains(top) || top.contains(e))) reached = true;
    }
    let coveredBy = -1;
    let coveredByLayer: string | null = null;
    if (!reached) {
      for (let p = centreTop; p && coveredBy < 0; p = p.parentElement) coveredBy = tracked.indexOf(p);
      for (let p = centreTop; p && coveredByLayer === null; p = p.parentElement) {
        if (p.contains(e)) break;
        const layer = (p.tagName === 'DIALOG' && p.getAttribute('open') !== null) || g.getComputedStyle(p).position === 'fixed'
          || ids.panels.includes(p.getAttribute('data-testid') ?? '');
        if (layer) coveredByLayer = labelOf(p);
      }
    }
    return { label: labelOf(e), kind: kindOf(e), rect: gi.rect, visible: v, hclip: gi.hclip, hclipLabel: gi.hclipLabel, ancestors,
      covered: !reached, coveredBy, coveredByLayer };
  });
  return { viewport: { width: vw, height: vh }, scrollWidth: doc.documentElement.scrollWidth, items };
}

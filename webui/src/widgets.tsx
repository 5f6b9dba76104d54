/**
 * Small shared components: a modal dialog (the native <dialog>, so focus is trapped and Escape closes it), the
 * global rate history graph (SVG) and the piece bar (canvas). No inline styles in markup: sizes come from CSS,
 * colours from CSS custom properties read at draw time (so the themes apply).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { decodePieces } from './tree.js';

export interface ModalProps {
  testid: string;
  title: string;
  onClose(): void;
  children: ComponentChildren;
}

/** A modal <dialog>, open while mounted. */
export function Modal({ testid, title, onClose, children }: ModalProps): preact.JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return undefined;
    if (!d.open) d.showModal();
    const onCancel = (e: Event): void => { e.preventDefault(); closeRef.current(); };
    d.addEventListener('cancel', onCancel);
    return () => { d.removeEventListener('cancel', onCancel); if (d.open) d.close(); };
  }, []);
  const titleId = `${testid}-title`;
  return (
    <dialog ref={ref} class="modal" data-testid={testid} aria-labelledby={titleId}>
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export interface RateSample { down: number; up: number }

/** The last samples of the global rates as two lines (download, upload), scaled to the largest value shown. */
export function RateGraph({ samples, capacity }: { samples: readonly RateSample[]; capacity: number }): preact.JSX.Element {
  const w = 120;
  const h = 32;
  const max = Math.max(1, ...samples.map((s) => Math.max(s.down, s.up)));
  const line = (pick: (s: RateSample) => number): string => samples
    .map((s, i) => `${((capacity - samples.length + i) / Math.max(1, capacity - 1)) * w},${h - (pick(s) / max) * (h - 2) - 1}`)
    .join(' ');
  return (
    <svg class="rate-graph" data-testid="rate-graph" viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img"
      aria-label={`Rate history, last ${samples.length} seconds`}>
      <polyline class="graph-down" points={line((s) => s.down)} fill="none" />
      <polyline class="graph-up" points={line((s) => s.up)} fill="none" />
    </svg>
  );
}

/** The pieces we have: one cell per piece, or per group of pieces when there are more pieces than pixels. */
export function PieceBar({ pieces, count }: { pieces: string; count: number }): preact.JSX.Element {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const width = Math.max(1, Math.floor(c.clientWidth * (window.devicePixelRatio || 1)));
    const height = Math.max(1, Math.floor(c.clientHeight * (window.devicePixelRatio || 1)));
    if (c.width !== width) c.width = width;
    if (c.height !== height) c.height = height;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const css = getComputedStyle(c);
    const have = css.getPropertyValue('--piece-have').trim() || '#2a7';
    const missing = css.getPropertyValue('--piece-missing').trim() || '#ddd';
    ctx.fillStyle = missing;
    ctx.fillRect(0, 0, width, height);
    if (count <= 0) return;
    const bits = decodePieces(pieces, count);
    ctx.fillStyle = have;
    const cells = Math.min(count, width);
    for (let cell = 0; cell < cells; cell++) {
      const from = Math.floor((cell * count) / cells);
      const to = Math.max(from + 1, Math.floor(((cell + 1) * count) / cells));
      let n = 0;
      for (let i = from; i < to; i++) n += bits[i]!;
      if (n === 0) continue;
      ctx.globalAlpha = n / (to - from);
      const x0 = Math.floor((cell * width) / cells);
      const x1 = Math.floor(((cell + 1) * width) / cells);
      ctx.fillRect(x0, 0, Math.max(1, x1 - x0), height);
    }
    ctx.globalAlpha = 1;
  });
  const have = count > 0 ? decodePieces(pieces, count).reduce((s, b) => s + b, 0) : 0;
  return <canvas ref={ref} class="piece-bar" data-testid="piece-bar" role="img" aria-label={`${have} of ${count} pieces`} />;
}

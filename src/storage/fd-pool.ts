/**
 * A capped LRU pool of open file handles, keyed by file index (the fd pool of fs-storage).
 *
 * Invariants: at most `max` handles are open or being opened/closed at any time (closing ones count until their
 * close() finishes); a handle with an operation in flight (`busy > 0`) is never closed or evicted; a read-only handle
 * is reopened read-write only once it is idle. Waiters re-examine the state after every change, so no wake-up is lost.
 * No BEP: this is plain resource management (cf. libtorrent's `file_pool_size`).
 */
import { BtError } from '../util/errors.js';

/** What the pool holds: anything it can close; a close may finish at once (a synchronous close) or later. */
export interface PoolHandle { close(): Promise<void> | void }

/** Opens file `index`; `write` asks for a writable (and, if needed, created) file. */
export type Opener<H extends PoolHandle> = (index: number, write: boolean) => Promise<{ handle: H; writable: boolean }>;

interface Slot<H> {
  readonly index: number;
  handle: H | null; // null while opening
  writable: boolean;
  busy: number;
  ready: Promise<void>; // settles (never rejects) when opening ends either way
}

/** LRU pool of file handles with a hard cap. */
export class FdPool<H extends PoolHandle> {
  private readonly slots = new Map<number, Slot<H>>(); // iteration order = least recently used first
  private closing = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  private peak = 0;

  /** @param max hard cap on simultaneously open handles (≥ 1). */
  constructor(private readonly max: number, private readonly opener: Opener<H>) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxOpenFiles must be a positive integer, got ${max}`);
  }

  /** Handles open now (including ones being opened or closed). */
  get openCount(): number { return this.slots.size + this.closing; }
  /** Highest `openCount` seen (for tests and stats). */
  get peakOpen(): number { return this.peak; }

  /** Run `fn` with the handle of file `index`; the handle cannot be evicted until `fn` settles. */
  async use<T>(index: number, write: boolean, fn: (h: H) => Promise<T>): Promise<T> {
    const slot = await this.acquire(index, write);
    try {
      return await fn(slot.handle!);
    } finally {
      slot.busy--;
      this.notify();
    }
  }

  /** Wait for operations in flight, then close every handle. Later `use` calls throw BtError('ABORTED'). */
  async close(): Promise<void> {
    this.closed = true;
    this.notify();
    for (;;) {
      let active = this.closing > 0;
      for (const s of this.slots.values()) if (s.busy > 0 || s.handle === null) active = true;
      if (!active) break;
      await this.waitChange();
    }
    const handles = [...this.slots.values()].map((s) => s.handle!);
    this.slots.clear();
    await Promise.allSettled(handles.map(async (h) => h.close()));
  }

  private async acquire(index: number, write: boolean): Promise<Slot<H>> {
    for (;;) {
      if (this.closed) throw new BtError('ABORTED', 'storage closed');
      const slot = this.slots.get(index);
      if (slot) {
        if (slot.handle === null) { await slot.ready; continue; }
        if (!write || slot.writable) {
          slot.busy++;
          this.slots.delete(index); // move to the most-recently-used end
          this.slots.set(index, slot);
          return slot;
        }
        // Needs a writable handle: reopen once idle.
        if (slot.busy === 0) this.retire(slot);
        else await this.waitChange();
        continue;
      }
      if (this.openCount >= this.max) {
        const victim = this.idleVictim();
        if (victim) this.retire(victim);
        if (this.openCount >= this.max) await this.waitChange();
        continue;
      }
      return this.openSlot(index, write);
    }
  }

  private async openSlot(index: number, write: boolean): Promise<Slot<H>> {
    let settle!: () => void;
    const s: Slot<H> = { index, handle: null, writable: false, busy: 0, ready: new Promise((r) => { settle = r; }) };
    this.slots.set(index, s);
    this.peak = Math.max(this.peak, this.openCount);
    try {
      const { handle, writable } = await this.opener(index, write);
      if (this.closed) {
        await Promise.resolve().then(() => handle.close()).catch(() => undefined);
        throw new BtError('ABORTED', 'storage closed');
      }
      s.handle = handle;
      s.writable = writable;
      s.busy = 1;
      return s;
    } catch (e) {
      this.slots.delete(index);
      throw e;
    } finally {
      settle();
      this.notify();
    }
  }

  private idleVictim(): Slot<H> | undefined {
    for (const s of this.slots.values()) if (s.handle !== null && s.busy === 0) return s;
    return undefined;
  }

  /** Remove an idle slot and close its handle; it still counts against the cap until the close is done. */
  private retire(slot: Slot<H>): void {
    this.slots.delete(slot.index);
    let closing: Promise<void> | void;
    try { closing = slot.handle!.close(); } catch { closing = undefined; }
    if (!closing) { this.notify(); return; } // closed synchronously: the slot is free now
    this.closing++;
    closing.catch(() => undefined).finally(() => {
      this.closing--;
      this.notify();
    });
  }

  private waitChange(): Promise<void> {
    return new Promise((resolve) => { this.waiters.push(resolve); });
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

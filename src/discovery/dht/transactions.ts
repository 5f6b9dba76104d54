/**
 * The DHT node's outstanding queries (BEP 5 transactions): random 2-byte transaction ids, a timeout per query through
 * the injected Clock, and a bound on how many are outstanding at once, with a FIFO of waiters (lookups, announces)
 * that run when a slot frees.
 *
 * Invariants:
 * - A transaction id is never reused while a query with that id is pending; at most `max` queries are pending.
 * - A query is settled exactly once: by its answer (only from the address it was sent to), by its timeout, or by
 *   `closeAll`. A settled query's timer is cleared.
 * - A callback that throws (`done`, a waiter) is reported to `onError`, never out of a timer or `settle`.
 * - The waiter queue holds each waiter once (callers enqueue at most one waiter per lookup / announce step), so it is
 *   bounded by the work in progress, never by the network.
 */
import type { Clock, ClockTimer } from '../../util/clock.js';
import type { KrpcError, KrpcResponse, NodeAddress } from './types.js';

/** How a query ended. */
export type QueryOutcome =
  | { kind: 'response'; msg: KrpcResponse }
  | { kind: 'error'; msg: KrpcError }
  | { kind: 'timeout' }
  | { kind: 'closed' };

interface PendingQuery {
  readonly key: number;
  readonly host: string;
  readonly port: number;
  readonly method: string;
  readonly sentAt: number;
  readonly timer: ClockTimer;
  readonly done: (outcome: QueryOutcome) => void;
}

/** What `settle` made of an answer. */
export type SettleResult = 'settled' | 'unknown-transaction' | 'wrong-source';

export interface TransactionsOptions {
  clock: Clock;
  randomBytes: (n: number) => Buffer;
  timeoutMs: number;
  max: number;
  /**
   * A `done` callback or a waiter threw. The error is handed here and the rest carry on: a timeout runs them from a
   * timer, where nothing may escape (default: ignored).
   */
  onError?: (err: unknown) => void;
}

export class Transactions {
  private readonly pending = new Map<number, PendingQuery>();
  /** Pending queries per destination "host:port". */
  private readonly perAddress = new Map<string, number>();
  private readonly waiters: Array<{ fn: () => void; need: number }> = [];
  private draining = false;
  private closed = false;

  constructor(private readonly opts: TransactionsOptions) {}

  /** Queries pending now. */
  get size(): number { return this.pending.size; }

  /** Free slots. */
  get free(): number { return Math.max(0, this.opts.max - this.pending.size); }

  /**
   * Opens a transaction for a query to `to`; `done` is called once with its outcome. Returns the transaction id, or
   * undefined when `max` queries are already pending (nothing is opened then).
   */
  open(to: NodeAddress, method: string, done: (outcome: QueryOutcome) => void): Buffer | undefined {
    if (this.closed || this.pending.size >= this.opts.max) return undefined;
    const key = this.freshKey();
    const timer = this.opts.clock.setTimeout(() => this.expire(key), this.opts.timeoutMs);
    timer.unref();
    this.pending.set(key, { key, host: to.host, port: to.port, method, sentAt: this.opts.clock.now(), timer, done });
    const a = `${to.host}:${to.port}`;
    this.perAddress.set(a, (this.perAddress.get(a) ?? 0) + 1);
    const t = Buffer.alloc(2);
    t.writeUInt16BE(key, 0);
    return t;
  }

  /** Whether a query to this address is pending. */
  pendingTo(to: NodeAddress): boolean {
    return this.perAddress.has(`${to.host}:${to.port}`);
  }

  /** The method of the pending query with id `t` when `from` is the address it went to. */
  methodOf(t: Buffer, from: NodeAddress): string | undefined {
    const p = this.find(t);
    return p && p.host === from.host && p.port === from.port ? p.method : undefined;
  }

  /**
   * An answer (response or error) with transaction id `t` arrived from `from`. It settles the pending query only when
   * `from` is the address the query went to; otherwise the query keeps waiting and the answer is to be dropped.
   */
  settle(t: Buffer, from: NodeAddress, outcome: QueryOutcome): SettleResult {
    const p = this.find(t);
    if (!p) return 'unknown-transaction';
    if (p.host !== from.host || p.port !== from.port) return 'wrong-source';
    this.finish(p, outcome);
    return 'settled';
  }

  /**
   * Runs `fn` as soon as `need` slots are free (now, when they are), waiters in FIFO order. After `closeAll`, `fn`
   * runs at once (and `open` then refuses, so the waiter sees that it cannot send).
   */
  whenFree(fn: () => void, need = 1): void {
    if (this.closed) { fn(); return; }
    this.waiters.push({ fn, need: Math.min(Math.max(1, need), this.opts.max) });
    this.drain();
  }

  /** Settles every pending query as 'closed', runs every waiter once, and refuses new queries from now on. */
  closeAll(): void {
    this.closed = true;
    for (const p of [...this.pending.values()]) this.finish(p, { kind: 'closed' });
    const waiting = this.waiters.splice(0);
    for (const w of waiting) this.run(w.fn);
  }

  private run(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  private find(t: Buffer): PendingQuery | undefined {
    if (t.length !== 2) return undefined;
    return this.pending.get(t.readUInt16BE(0));
  }

  private expire(key: number): void {
    const p = this.pending.get(key);
    if (p) this.finish(p, { kind: 'timeout' });
  }

  private finish(p: PendingQuery, outcome: QueryOutcome): void {
    if (this.pending.get(p.key) !== p) return;
    this.pending.delete(p.key);
    const a = `${p.host}:${p.port}`;
    const n = (this.perAddress.get(a) ?? 1) - 1;
    if (n > 0) this.perAddress.set(a, n);
    else this.perAddress.delete(a);
    this.opts.clock.clearTimeout(p.timer);
    this.run(() => p.done(outcome));
    this.drain();
  }

  /**
   * Runs waiters while the first one's slots are free (not re-entrant: a waiter that opens queries is accounted
   * before the next runs). A waiter that re-enqueues itself only does so when its slots are not free, which ends the
   * loop, so the loop always ends.
   */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.closed && this.waiters.length > 0 && this.opts.max - this.pending.size >= this.waiters[0]!.need) {
        this.run(this.waiters.shift()!.fn);
      }
    } finally {
      this.draining = false;
    }
  }

  /** A random 16-bit id not pending now (the map holds at most `max` < 65536 ids, so a free one exists). */
  private freshKey(): number {
    for (let i = 0; i < 32; i++) {
      const k = this.opts.randomBytes(2).readUInt16BE(0);
      if (!this.pending.has(k)) return k;
    }
    let k = this.opts.randomBytes(2).readUInt16BE(0);
    while (this.pending.has(k)) k = (k + 1) & 0xffff;
    return k;
  }
}

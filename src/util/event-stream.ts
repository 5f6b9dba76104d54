/**
 * A minimal typed event stream: one listener signature, one discriminated-union event type.
 *
 * Unlike EventEmitter there are no string names and no positional arguments: every event is one object whose `type`
 * (or `event`) field tells what it is, so TypeScript narrows it. A listener that throws is isolated: the error is
 * reported to `onListenerError` and the other listeners still run.
 */
export type Listener<T> = (event: T) => void;

export class EventStream<T> {
  private listeners = new Set<Listener<T>>();
  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  /** Subscribe; returns the unsubscribe function. */
  subscribe(listener: Listener<T>): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  emit(event: T): void {
    for (const l of this.listeners) {
      try { l(event); } catch (err) { this.onListenerError(err); }
    }
  }

  get size(): number { return this.listeners.size; }
}

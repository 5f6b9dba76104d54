/**
 * Waiting for a session's events in in-process tests: the first event (already recorded in `events`, or still to
 * come from `session`) that matches, within `ms`.
 */
import type { Session } from '../../src/session/session.js';
import type { SessionEvent } from '../../src/session/events.js';

export function waitFor(events: SessionEvent[], session: Session, pred: (e: SessionEvent) => boolean, ms: number, what: string): Promise<SessionEvent> {
  const found = events.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { unsub(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    const unsub = session.events.subscribe((e) => {
      if (pred(e)) { clearTimeout(timer); unsub(); resolve(e); }
    });
  });
}

/**
 * The DHT's node id and node cache in the state directory: `<state>/dht.dat` (the bytes of
 * src/discovery/dht/dht-state.ts), read once at start, written atomically (src/state/atomic.ts) when the node says
 * its state is worth saving, every 10 minutes, and at close.
 *
 * Invariants: a missing, unreadable or corrupt file is a warning and a fresh node id, never a failure; writes go one
 * at a time and a write asked for while one runs is merged into the next (the latest state wins); a failed write is
 * a warning.
 */
import { join } from 'node:path';
import { decodeDhtState, encodeDhtState, MAX_DHT_STATE_BYTES } from '../discovery/dht/dht-state.js';
import type { DhtPersistedState } from '../discovery/dht/types.js';
import { readFileCappedSync, writeFileAtomic } from '../state/atomic.js';
import { errorMessage } from '../util/errors.js';

export const DHT_STATE_FILE = 'dht.dat';
/** The state is saved at least this often while the node runs. */
export const DHT_SAVE_INTERVAL_MS = 10 * 60_000;

/** The saved node state of state directory `dir`, or undefined (none yet, or unusable: `warn` says why). */
export function loadDhtState(dir: string, warn: (msg: string) => void): DhtPersistedState | undefined {
  const file = join(dir, DHT_STATE_FILE);
  try {
    const bytes = readFileCappedSync(file, MAX_DHT_STATE_BYTES);
    return bytes === null ? undefined : decodeDhtState(bytes);
  } catch (err) {
    warn(`${DHT_STATE_FILE} is unusable (${errorMessage(err)}); the DHT starts with a fresh node id`);
    return undefined;
  }
}

/** Writes `<dir>/dht.dat`, one write at a time, the latest state winning. */
export class DhtStateWriter {
  private pending: DhtPersistedState | undefined;
  private writing: Promise<void> | undefined;
  private lastBytes: Buffer | undefined;

  constructor(private readonly dir: string, private readonly warn: (msg: string) => void) {}

  /** Save `state` soon (after the write in progress, if any). */
  save(state: DhtPersistedState): void {
    this.pending = state;
    this.writing ??= this.drain().finally(() => { this.writing = undefined; });
  }

  /** Resolves when every state asked for is written (or failed, with a warning). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const state = this.pending;
      this.pending = undefined;
      try {
        const bytes = encodeDhtState(state);
        if (this.lastBytes?.equals(bytes)) continue; // nothing changed since the last write
        await writeFileAtomic(join(this.dir, DHT_STATE_FILE), bytes);
        this.lastBytes = bytes;
      } catch (err) {
        this.warn(`saving ${DHT_STATE_FILE} failed: ${errorMessage(err)}`);
      }
    }
  }
}

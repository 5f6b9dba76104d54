/**
 * Torrent ids: the small integers by which the facade (and so Transmission's RPC and `bitpeer pause 3`) names a
 * torrent. The session itself knows torrents only by info-hash; ids are the API's bookkeeping.
 *
 * Invariant: an id is never given twice for the life of a state directory. `reserve()` hands out the next id (or a
 * wanted one, e.g. a restored magnet's, when no torrent holds it); `note()` records an id that exists elsewhere (a
 * restored torrent, the saved counter), so later ids are above it; `onNextChanged` lets the daemon save the counter
 * each time it moves, before the id is shown to anyone. `assign()` binds an id to an info-hash while the torrent is
 * in the session, `release()` unbinds it (its number is not given again).
 */
export class TorrentIds {
  private next = 1;
  private readonly byHash = new Map<string, number>();
  private readonly byId = new Map<number, string>();
  /** Called when the next id moves on (the daemon persists it). */
  private listener: ((nextId: number) => void) | undefined;

  /** Call `fn` with the next id each time it moves on (undefined: stop). */
  onNextChanged(fn: ((nextId: number) => void) | undefined): void { this.listener = fn; }

  /** The id reserve() gives next. */
  get nextId(): number { return this.next; }

  /** A fresh id: `wanted` when given, valid and not held by a torrent, otherwise the next one. */
  reserve(wanted?: number): number {
    const id = wanted !== undefined && Number.isSafeInteger(wanted) && wanted > 0 && !this.byId.has(wanted) ? wanted : this.next;
    this.note(id);
    return id;
  }

  /** Records that `id` is taken: later ids are above it. */
  note(id: number): void {
    if (!Number.isSafeInteger(id) || id < this.next) return;
    this.next = id + 1;
    this.listener?.(this.next);
  }

  /** Binds `id` to the torrent `infoHashHex` (noting the id). */
  assign(infoHashHex: string, id: number): void {
    this.release(infoHashHex);
    this.note(id);
    this.byHash.set(infoHashHex, id);
    this.byId.set(id, infoHashHex);
  }

  /** The torrent left the session (its id is not given again). */
  release(infoHashHex: string): void {
    const id = this.byHash.get(infoHashHex);
    if (id === undefined) return;
    this.byHash.delete(infoHashHex);
    if (this.byId.get(id) === infoHashHex) this.byId.delete(id);
  }

  idOf(infoHashHex: string): number | undefined { return this.byHash.get(infoHashHex); }
  hashOf(id: number): string | undefined { return this.byId.get(id); }
}

/**
 * One iterative Kademlia lookup [pure] (BEP 5 find_node / get_peers): which nodes to query next, what their answers
 * taught us, when to stop, and the closest nodes that answered (with their tokens, for announce_peer). The node shell
 * sends the queries, times them out and feeds the answers back; nothing here sends, waits or reads a clock.
 *
 * Rules:
 * - Candidates are kept sorted by XOR distance to the target. The "window" is the k closest candidates that have not
 *   failed; `next()` hands out unqueried candidates of the window, closest first, so that at most alpha queries are in
 *   flight, and never more than `maxQueries` queries in all (default 100).
 * - Done: nothing in flight and every candidate of the window answered (a failed node leaves the window, so the next
 *   closest enters it), or `maxQueries` reached.
 * - Learned nodes are ignored when they carry our own id, fail `accept` (the address filter), have port 0, or repeat
 *   an address or an id already known (the first one seen wins). Seeds pass through the same filter.
 * - Only answers from a node in flight count; a late or unsolicited answer is ignored (the shell has already
 *   reported its failure).
 * - Depth: a seed is at depth 0; a node first learned from an answer of a node at depth d is at d + 1 (the smallest such
 *   depth while it is not yet queried). `hops` is the depth of the deepest node that answered.
 * - Memory is bounded: at most max(8k, 64) candidates are kept; the farthest unqueried ones are dropped beyond that
 *   (the window and every queried node are kept).
 *
 * Invariant: inFlight <= alpha, queried <= maxQueries, queried = responded + failed + inFlight.
 */
import { compareDistance as compareXor } from './node-id.js';
import { ALPHA, ID_LENGTH, K } from './types.js';
import type { NodeAddress, NodeContact } from './types.js';

/** Default bound on the queries of one lookup. */
export const LOOKUP_MAX_QUERIES = 100;

export interface LookupOptions {
  k?: number;
  alpha?: number;
  /** Our own id: a node carrying it is never a candidate. */
  ownId?: Buffer;
  /** Address filter (e.g. no private addresses on the public DHT): a node it refuses is never a candidate. */
  accept?: (n: NodeContact) => boolean;
  maxQueries?: number;
}

type CandidateState = 'new' | 'in-flight' | 'responded' | 'failed';

interface Candidate {
  readonly node: NodeContact;
  state: CandidateState;
  depth: number;
  token?: Buffer;
}

const keyOf = (a: NodeAddress): string => `${a.host}:${a.port}`;

export class Lookup {
  readonly target: Buffer;
  private readonly k: number;
  private readonly alpha: number;
  private readonly ownId: Buffer | undefined;
  private readonly accept: ((n: NodeContact) => boolean) | undefined;
  private readonly maxQueries: number;
  private readonly maxCandidates: number;
  /** Closest first. */
  private readonly sorted: Candidate[] = [];
  private readonly byAddr = new Map<string, Candidate>();
  private readonly ids = new Set<string>();
  private inFlight = 0;
  private queriedCount = 0;
  private respondedCount = 0;
  private failedCount = 0;
  private deepest = 0;

  constructor(target: Buffer, seeds: readonly NodeContact[], opts: LookupOptions = {}) {
    this.target = Buffer.from(target);
    this.k = Math.max(1, opts.k ?? K);
    this.alpha = Math.max(1, opts.alpha ?? ALPHA);
    this.ownId = opts.ownId;
    this.accept = opts.accept;
    this.maxQueries = Math.max(0, opts.maxQueries ?? LOOKUP_MAX_QUERIES);
    this.maxCandidates = Math.max(8 * this.k, 64);
    for (const s of seeds) this.learn(s, 0);
  }

  get queried(): number { return this.queriedCount; }
  get responded(): number { return this.respondedCount; }
  get failed(): number { return this.failedCount; }
  get hops(): number { return this.deepest; }
  /** Queries sent and not yet answered or failed. */
  get inFlightCount(): number { return this.inFlight; }

  /** Nodes to query now so that at most alpha are in flight (marks them in flight). Empty when none should be sent. */
  next(): NodeContact[] {
    const out: NodeContact[] = [];
    let seen = 0;
    for (const c of this.sorted) {
      if (this.inFlight >= this.alpha || this.queriedCount >= this.maxQueries || seen >= this.k) break;
      if (c.state === 'failed') continue;
      seen++;
      if (c.state !== 'new') continue;
      c.state = 'in-flight';
      this.inFlight++;
      this.queriedCount++;
      out.push(c.node);
    }
    return out;
  }

  /** `from` answered with `nodes` (and, for get_peers, a token). */
  onResponse(from: NodeAddress, nodes: readonly NodeContact[], token?: Buffer): void {
    const c = this.byAddr.get(keyOf(from));
    if (!c || c.state !== 'in-flight') return;
    c.state = 'responded';
    if (token) c.token = token;
    this.inFlight--;
    this.respondedCount++;
    this.deepest = Math.max(this.deepest, c.depth);
    for (const n of nodes) this.learn(n, c.depth + 1);
    this.trim();
  }

  onFailure(from: NodeAddress): void {
    const c = this.byAddr.get(keyOf(from));
    if (!c || c.state !== 'in-flight') return;
    c.state = 'failed';
    this.inFlight--;
    this.failedCount++;
  }

  /** True when nothing is in flight and the k closest known nodes have all answered or failed (or maxQueries hit). */
  get done(): boolean {
    if (this.inFlight > 0) return false;
    if (this.queriedCount >= this.maxQueries) return true;
    let seen = 0;
    for (const c of this.sorted) {
      if (seen >= this.k) break;
      if (c.state === 'failed') continue;
      if (c.state === 'new') return false;
      seen++;
    }
    return true;
  }

  /** The k closest nodes that answered, closest first, with the token each gave (announce_peer goes to these). */
  closestResponded(): Array<{ node: NodeContact; token?: Buffer }> {
    const out: Array<{ node: NodeContact; token?: Buffer }> = [];
    for (const c of this.sorted) {
      if (out.length >= this.k) break;
      if (c.state !== 'responded') continue;
      out.push(c.token ? { node: c.node, token: c.token } : { node: c.node });
    }
    return out;
  }

  depthOf(addr: NodeAddress): number | undefined {
    return this.byAddr.get(keyOf(addr))?.depth;
  }

  // -------------------------------------------------------------------------------------------------------------

  private learn(n: NodeContact, depth: number): void {
    if (n.id.length !== ID_LENGTH || n.port <= 0 || n.port > 65535) return;
    if (this.ownId && this.ownId.equals(n.id)) return;
    const key = keyOf(n);
    const known = this.byAddr.get(key);
    if (known) {
      if (known.state === 'new' && known.node.id.equals(n.id)) known.depth = Math.min(known.depth, depth);
      return;
    }
    const idHex = n.id.toString('hex');
    if (this.ids.has(idHex)) return;
    if (this.accept && !this.accept(n)) return;
    const c: Candidate = { node: { id: Buffer.from(n.id), host: n.host, port: n.port }, state: 'new', depth };
    // Binary search for the first candidate farther than n.
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.sorted[mid];
      if (m && compareXor(this.target, m.node.id, n.id) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, c);
    this.byAddr.set(key, c);
    this.ids.add(idHex);
  }

  /** Drop the farthest unqueried candidates beyond maxCandidates. */
  private trim(): void {
    if (this.sorted.length <= this.maxCandidates) return;
    let windowEnd = 0; // index just past the k-th candidate that has not failed
    for (let seen = 0; windowEnd < this.sorted.length && seen < this.k; windowEnd++) {
      if (this.sorted[windowEnd]?.state !== 'failed') seen++;
    }
    for (let i = this.sorted.length - 1; i >= windowEnd && this.sorted.length > this.maxCandidates; i--) {
      const c = this.sorted[i];
      if (!c || c.state !== 'new') continue;
      this.sorted.splice(i, 1);
      this.byAddr.delete(keyOf(c.node));
      this.ids.delete(c.node.id.toString('hex'));
    }
  }
}

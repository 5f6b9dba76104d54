/**
 * The DHT routing table [pure] (BEP 5 "Routing Table"): k-buckets over the 160-bit id space, node states, a replacement
 * cache per bucket, and the buckets that need a refresh. Time comes in as `now`; nothing here sends or schedules.
 *
 * Layout: buckets[i] for i < last holds the nodes that share exactly i leading bits with our own id; the last bucket
 * holds every node sharing at least `last` bits (its range contains our own id). So bucket ranges never overlap and
 * together cover the whole space minus our own id.
 *
 * Choices (libtorrent differs in places, said where):
 * - Splitting (BEP 5): only the last bucket, the one whose range holds our own id, splits when a node arrives while it
 *   holds k nodes, and only while there are fewer than 160 buckets. Every other bucket stays at k nodes: a newcomer
 *   for a full far bucket goes to that bucket's replacement cache (libtorrent may also split far buckets; we do not).
 * - Who gets in: only nodes that answered one of our queries (`heard`). Our own id never; with `allowSameIp` false a
 *   second node on an IP already in the table (buckets or caches) is refused, as is a known id at another address.
 *   A known address that comes back with a new id (a restart, a BEP 42 re-key) replaces its old entry.
 * - Full bucket: a bad node in it (NODE_BAD_FAILURES failures in a row) is replaced by the newcomer at once;
 *   otherwise the newcomer waits in the replacement cache (at most `maxReplacements`, default k; the least recently
 *   heard is dropped first) and `heard` names the questionable node that has been silent longest for the shell to ping.
 * - Failures (`failed`): a node in a bucket with a waiting replacement is replaced by the freshest replacement once it
 *   is bad, or at its first failure if it is already questionable (that is what the shell's ping of a questionable
 *   node tests). Without a replacement a bad node stays (never returned by `closest`, and the next newcomer takes its
 *   slot) until REMOVE_AFTER_FAILURES failures in a row, then it is removed: a host that lost its network does not
 *   empty its table at the first timeouts, and a dead node does not hold a slot for ever.
 * - States: bad = failures >= NODE_BAD_FAILURES; good = answered within NODE_GOOD_MS with no failure since;
 *   questionable otherwise. (BEP 5 also counts "queried us recently" as good; the table does not see incoming
 *   queries, so a node must answer ours.)
 * - Refresh: a bucket is stale when nothing was added, refreshed or replaced in it for BUCKET_REFRESH_MS;
 *   `staleBuckets` returns a random id in each stale bucket's range and counts the bucket as refreshed from then on
 *   (the lookup's answers refresh it anyway; an empty far bucket is not asked for again at every tick).
 *
 * Invariant: at most 160 buckets; every bucket holds at most k nodes and `maxReplacements` replacements; a node is in
 * exactly one place (a bucket or a replacement cache), in the bucket whose range holds its id; our own id is never in.
 */
import { bucketIndexOf as commonPrefixBits } from './node-id.js';
import { BUCKET_REFRESH_MS, ID_LENGTH, K, NODE_BAD_FAILURES, NODE_GOOD_MS } from './types.js';
import type { NodeAddress, NodeContact, NodeState } from './types.js';

/** A node failing this many queries in a row is removed even when no replacement waits for its slot. */
export const REMOVE_AFTER_FAILURES = NODE_BAD_FAILURES + 3;
/** Bits in an id: the most buckets a table can have. */
const MAX_BUCKETS = ID_LENGTH * 8;

export interface RoutingNode extends NodeContact {
  /** When it last answered one of our queries. */
  lastResponse: number;
  /** When we last queried it (a failure's time; the shell may set it when it sends). */
  lastQuery: number;
  /** Queries in a row that timed out (0 after any answer). */
  failures: number;
  addedAt: number;
}

export type HeardResult =
  | { status: 'added' | 'updated' | 'refused' }
  /** A questionable node the shell should ping; if it fails, the newcomer (kept in the replacement cache) takes its place. */
  | { status: 'full'; ping?: RoutingNode };

export interface RoutingTableOptions {
  /** Bucket size (default K = 8). */
  k?: number;
  /** Several nodes per IP (private networks, loopback tests). Default false. */
  allowSameIp?: boolean;
  /** Replacement cache size per bucket (default k). */
  maxReplacements?: number;
}

interface Bucket {
  nodes: RoutingNode[];
  /** Freshest last. */
  replacements: RoutingNode[];
  /** Last time a node was added, refreshed or replaced in it (-Infinity: never). */
  lastChanged: number;
}

const keyOf = (a: NodeAddress): string => `${a.host}:${a.port}`;

/** < 0 when `a` is closer to `target` than `b` (node-id.ts's compareDistance without its length checks). */
function compareXorUnchecked(target: Buffer, a: Buffer, b: Buffer): number {
  for (let i = 0; i < ID_LENGTH; i++) {
    const t = target[i] as number;
    const d = ((a[i] as number) ^ t) - ((b[i] as number) ^ t);
    if (d !== 0) return d;
  }
  return 0;
}

export class RoutingTable {
  private own: Buffer;
  private readonly k: number;
  private readonly allowSameIp: boolean;
  private readonly maxReplacements: number;
  private buckets: Bucket[] = [RoutingTable.emptyBucket(-Infinity)];
  /** Every node (buckets and caches) by host:port. */
  private readonly byAddr = new Map<string, RoutingNode>();
  /** Every node (buckets and caches) by hex id. */
  private readonly byId = new Map<string, RoutingNode>();
  /** Nodes (buckets and caches) per host. */
  private readonly perHost = new Map<string, number>();
  private mainCount = 0;

  constructor(ownId: Buffer, opts: RoutingTableOptions = {}) {
    this.own = Buffer.from(ownId);
    this.k = Math.max(1, opts.k ?? K);
    this.allowSameIp = opts.allowSameIp ?? false;
    this.maxReplacements = Math.max(0, opts.maxReplacements ?? this.k);
  }

  get ownId(): Buffer { return this.own; }
  get size(): number { return this.mainCount; }
  get bucketCount(): number { return this.buckets.length; }

  /** Re-key on a new own id (BEP 42): keeps every node (one equal to the new id is dropped), re-bucketed. */
  setOwnId(id: Buffer): void {
    const old = this.buckets;
    this.own = Buffer.from(id);
    this.buckets = [RoutingTable.emptyBucket(-Infinity)];
    this.byAddr.clear();
    this.byId.clear();
    this.perHost.clear();
    this.mainCount = 0;
    const mains = old.flatMap((b) => b.nodes);
    const spares = old.flatMap((b) => b.replacements).sort((a, b) => a.lastResponse - b.lastResponse);
    for (const n of mains) this.place(n, n.lastResponse);
    for (const n of spares) this.place(n, n.lastResponse);
  }

  /** A node answered one of our queries (verified): insert, refresh, or return 'full'. Never inserts our own id. */
  heard(node: NodeContact, now: number): HeardResult {
    if (node.id.length !== ID_LENGTH || this.own.equals(node.id)) return { status: 'refused' };
    const key = keyOf(node);
    const known = this.byAddr.get(key);
    if (known) {
      if (known.id.equals(node.id)) return this.refresh(known, now);
      this.removeNode(known); // the address came back with a new id
    }
    const sameId = this.byId.get(node.id.toString('hex'));
    if (sameId) return { status: 'refused' }; // a known id at another address: keep the one we know
    if (!this.allowSameIp && (this.perHost.get(node.host) ?? 0) > 0) return { status: 'refused' };
    const fresh: RoutingNode = { id: Buffer.from(node.id), host: node.host, port: node.port, lastResponse: now, lastQuery: 0, failures: 0, addedAt: now };
    return this.place(fresh, now);
  }

  /** A query to this address timed out (see the header for when the node is replaced or removed). */
  failed(addr: NodeAddress, now: number): void {
    const n = this.byAddr.get(keyOf(addr));
    if (!n) return;
    n.failures++;
    n.lastQuery = Math.max(n.lastQuery, now);
    const b = this.bucketFor(n.id);
    const ri = b.replacements.indexOf(n);
    if (ri >= 0) {
      if (n.failures >= NODE_BAD_FAILURES) this.removeNode(n);
      return;
    }
    const questionable = now - n.lastResponse >= NODE_GOOD_MS;
    if (b.replacements.length > 0 && (n.failures >= NODE_BAD_FAILURES || questionable)) {
      this.removeNode(n); // promotes the freshest replacement
      b.lastChanged = now;
    } else if (n.failures >= REMOVE_AFTER_FAILURES) {
      this.removeNode(n);
    }
  }

  /** The node of the table (not of a replacement cache) at this address. */
  get(addr: NodeAddress): RoutingNode | undefined {
    const n = this.byAddr.get(keyOf(addr));
    return n && this.bucketFor(n.id).nodes.includes(n) ? n : undefined;
  }

  /** Forget the node at this address (table or replacement cache); a replacement takes a freed table slot. */
  remove(addr: NodeAddress): void {
    const n = this.byAddr.get(keyOf(addr));
    if (n) this.removeNode(n);
  }

  /**
   * The `n` nodes closest to `target` by XOR, bad ones excluded, closest first. Exact: buckets are visited in order of
   * distance class. With c = the bits `target` shares with our own id, bucket c's nodes agree with `target` on bit c
   * (closest class); the nodes of buckets c+1..last all differ from `target` first at bit c (one class, sorted
   * together); then bucket c-1, c-2, .., 0 (each farther than the last). When c >= last, the last bucket comes first.
   */
  closest(target: Buffer, n: number = this.k): RoutingNode[] {
    const out: RoutingNode[] = [];
    if (n <= 0 || target.length !== ID_LENGTH) return out;
    // This runs for every find_node / get_peers we answer: ids are checked on the way in, so compare bytes unchecked.
    const take = (nodes: RoutingNode[]): void => {
      const usable = nodes.filter((x) => x.failures < NODE_BAD_FAILURES);
      usable.sort((a, b) => compareXorUnchecked(target, a.id, b.id));
      for (const x of usable) {
        if (out.length >= n) return;
        out.push(x);
      }
    };
    const last = this.buckets.length - 1;
    const c = commonPrefixBits(this.own, target);
    if (c < last) {
      take(this.buckets[c]?.nodes ?? []);
      if (out.length < n) take(this.buckets.slice(c + 1).flatMap((b) => b.nodes));
    } else {
      take(this.buckets[last]?.nodes ?? []);
    }
    for (let i = Math.min(c, last) - 1; i >= 0 && out.length < n; i--) take(this.buckets[i]?.nodes ?? []);
    return out;
  }

  stateOf(node: RoutingNode, now: number): NodeState {
    if (node.failures >= NODE_BAD_FAILURES) return 'bad';
    if (node.failures === 0 && now - node.lastResponse < NODE_GOOD_MS) return 'good';
    return 'questionable';
  }

  /**
   * Buckets with no change for BUCKET_REFRESH_MS: a random id in each one's range, to look up. Each bucket returned
   * counts as refreshed at `now`.
   */
  staleBuckets(now: number, randomBytes: (n: number) => Buffer): Buffer[] {
    const ids: Buffer[] = [];
    const last = this.buckets.length - 1;
    this.buckets.forEach((b, i) => {
      if (now - b.lastChanged < BUCKET_REFRESH_MS) return;
      b.lastChanged = now;
      ids.push(this.randomIdInBucket(i, i === last, randomBytes));
    });
    return ids;
  }

  /** Every node of the table (not the caches): good ones first, then by last response, most recent first. */
  all(): RoutingNode[] {
    const nodes = this.buckets.flatMap((b) => b.nodes);
    const rank = (n: RoutingNode): number => (n.failures === 0 ? 0 : n.failures < NODE_BAD_FAILURES ? 1 : 2);
    return nodes.sort((a, b) => rank(a) - rank(b) || b.lastResponse - a.lastResponse);
  }

  counts(now: number): { good: number; questionable: number; bad: number } {
    const c = { good: 0, questionable: 0, bad: 0 };
    for (const b of this.buckets) for (const n of b.nodes) c[this.stateOf(n, now)]++;
    return c;
  }

  /** Nodes waiting in the replacement caches (for stats and tests). */
  get replacementCount(): number {
    return this.buckets.reduce((s, b) => s + b.replacements.length, 0);
  }

  /** The range of bucket `i`: ids sharing `prefixBits` leading bits with our own id, and (unless it is the last) not one more. */
  bucketRange(i: number): { prefixBits: number; isLast: boolean; size: number } | undefined {
    const b = this.buckets[i];
    return b ? { prefixBits: i, isLast: i === this.buckets.length - 1, size: b.nodes.length } : undefined;
  }

  // -------------------------------------------------------------------------------------------------------------

  private static emptyBucket(lastChanged: number): Bucket {
    return { nodes: [], replacements: [], lastChanged };
  }

  private indexFor(id: Buffer): number {
    return Math.min(commonPrefixBits(this.own, id), this.buckets.length - 1);
  }

  private bucketFor(id: Buffer): Bucket {
    const b = this.buckets[this.indexFor(id)];
    if (!b) throw new Error('routing table: no bucket'); // unreachable: indexFor is in range
    return b;
  }

  private refresh(n: RoutingNode, now: number): HeardResult {
    n.lastResponse = now;
    n.failures = 0;
    const b = this.bucketFor(n.id);
    const ri = b.replacements.indexOf(n);
    if (ri >= 0) {
      b.replacements.splice(ri, 1);
      b.replacements.push(n); // freshest last
      return { status: 'updated' };
    }
    b.lastChanged = now;
    return { status: 'updated' };
  }

  /** Insert a node that is in no bucket or cache: into its bucket (splitting the last one as needed), or the cache. */
  private place(n: RoutingNode, now: number): HeardResult {
    if (this.own.equals(n.id)) return { status: 'refused' };
    for (;;) {
      const i = this.indexFor(n.id);
      const b = this.buckets[i];
      if (!b) return { status: 'refused' };
      if (b.nodes.length < this.k) {
        this.addTo(b, n, now);
        return { status: 'added' };
      }
      if (i === this.buckets.length - 1 && this.buckets.length < MAX_BUCKETS) {
        this.split(now);
        continue;
      }
      const bad = b.nodes.find((x) => x.failures >= NODE_BAD_FAILURES);
      if (bad) {
        this.removeNode(bad, false);
        this.addTo(b, n, now);
        return { status: 'added' };
      }
      this.cache(b, n);
      let ping: RoutingNode | undefined;
      for (const x of b.nodes) {
        if (this.stateOf(x, now) !== 'questionable') continue;
        if (!ping || x.lastResponse < ping.lastResponse) ping = x;
      }
      return ping ? { status: 'full', ping } : { status: 'full' };
    }
  }

  private addTo(b: Bucket, n: RoutingNode, now: number): void {
    b.nodes.push(n);
    b.lastChanged = Math.max(b.lastChanged, now);
    this.mainCount++;
    this.index(n);
  }

  private cache(b: Bucket, n: RoutingNode): void {
    if (this.maxReplacements === 0) return;
    if (b.replacements.length >= this.maxReplacements) {
      const dropped = b.replacements.shift();
      if (dropped) this.unindex(dropped);
    }
    b.replacements.push(n);
    this.index(n);
  }

  private index(n: RoutingNode): void {
    this.byAddr.set(keyOf(n), n);
    this.byId.set(n.id.toString('hex'), n);
    this.perHost.set(n.host, (this.perHost.get(n.host) ?? 0) + 1);
  }

  private unindex(n: RoutingNode): void {
    this.byAddr.delete(keyOf(n));
    this.byId.delete(n.id.toString('hex'));
    const c = (this.perHost.get(n.host) ?? 1) - 1;
    if (c > 0) this.perHost.set(n.host, c);
    else this.perHost.delete(n.host);
  }

  /** Take `n` out of its bucket or cache; a freed bucket slot goes to the freshest replacement unless `promote` is false. */
  private removeNode(n: RoutingNode, promote = true): void {
    const b = this.bucketFor(n.id);
    const ri = b.replacements.indexOf(n);
    if (ri >= 0) {
      b.replacements.splice(ri, 1);
      this.unindex(n);
      return;
    }
    const i = b.nodes.indexOf(n);
    if (i < 0) return;
    b.nodes.splice(i, 1);
    this.mainCount--;
    this.unindex(n);
    const promoted = promote ? b.replacements.pop() : undefined;
    if (promoted) {
      b.nodes.push(promoted);
      this.mainCount++;
    }
  }

  /** Split the last bucket: the nodes (and replacements) sharing one more bit with our own id move to a new last bucket. */
  private split(now: number): void {
    const lastIndex = this.buckets.length - 1;
    const old = this.buckets[lastIndex];
    if (!old) return;
    const near = RoutingTable.emptyBucket(now);
    this.buckets.push(near);
    const moves = (n: RoutingNode): boolean => commonPrefixBits(this.own, n.id) > lastIndex;
    near.nodes = old.nodes.filter(moves);
    old.nodes = old.nodes.filter((n) => !moves(n));
    near.replacements = old.replacements.filter(moves);
    old.replacements = old.replacements.filter((n) => !moves(n));
    for (const b of [old, near]) {
      while (b.nodes.length < this.k && b.replacements.length > 0) {
        const r = b.replacements.pop();
        if (r) {
          b.nodes.push(r);
          this.mainCount++;
        }
      }
    }
    near.lastChanged = Math.max(near.lastChanged, old.lastChanged === -Infinity ? now : old.lastChanged);
  }

  private randomIdInBucket(i: number, isLast: boolean, randomBytes: (n: number) => Buffer): Buffer {
    const id = Buffer.alloc(ID_LENGTH);
    randomBytes(ID_LENGTH).copy(id);
    // Keep our own first i bits; for a bucket other than the last, bit i differs from ours.
    const fixed = isLast ? i : i + 1;
    for (let bit = 0; bit < fixed; bit++) {
      const byte = bit >> 3;
      const mask = 0x80 >> (bit & 7);
      let ownBit = (this.own[byte] ?? 0) & mask;
      if (!isLast && bit === i) ownBit ^= mask;
      id[byte] = ((id[byte] ?? 0) & ~mask) | ownBit;
    }
    return id;
  }
}

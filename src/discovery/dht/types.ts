/**
 * The DHT's shared contract (BEP 5 Mainline DHT; BEP 42 node ids; BEP 43 read-only flag read, never set): the types
 * that the pure core (KRPC codec, node ids, routing table, tokens, peer store, rate limit, lookups), the node shell
 * (dht-node.ts) and the session's DHT service exchange, and the limits they enforce.
 *
 * Layout of src/discovery/dht/ (each module's header gives its own invariant):
 * - krpc.ts          [pure] KRPC messages <-> bytes, bounded (depth 10, 500 tokens, MAX_KRPC_BYTES)
 * - node-id.ts       [pure] XOR distance, bucket index, BEP 42 ids (CRC32-C)
 * - routing-table.ts [pure] k-buckets that split, node states, replacement cache, stale buckets
 * - tokens.ts        [pure] announce tokens bound to the requester's IP, secret rotated every 5 min
 * - peer-store.ts    [pure] announced peers per info-hash, bounded, with expiry
 * - rate-limit.ts    [pure] per-source query rate limit with a block period
 * - lookup.ts        [pure] one iterative lookup (alpha = 3, the k = 8 closest)
 * - dht-node.ts      the node: transactions, answers, lookups driven on an injected send + clock (no socket)
 * - dht-state.ts     [pure] the persisted node id and node cache <-> bytes
 * "Pure" modules take time as arguments (`now`), never call timers, sockets or files.
 *
 * Addresses are IPv4 only (BEP 32's `nodes6`/IPv6 is not implemented; `nodes6` is ignored when read).
 */

/** Bytes in a node id and an info-hash. */
export const ID_LENGTH = 20;
/** Bucket size (BEP 5). */
export const K = 8;
/** Lookups keep this many queries in flight (Kademlia's alpha). */
export const ALPHA = 3;
/** A KRPC datagram larger than this is dropped unread (libtorrent reads at most 1500 bytes). */
export const MAX_KRPC_BYTES = 1500;
/** bencode limits for KRPC (docs/design/reliability.md). */
export const KRPC_MAX_DEPTH = 10;
export const KRPC_MAX_TOKENS = 500;
/** Longest transaction id / token we accept from others (echoed as they are, whatever their length up to this). */
export const MAX_TRANSACTION_ID_BYTES = 32;
export const MAX_TOKEN_BYTES = 64;

/** Timing (ms), as BEP 5 and libtorrent. */
export const TOKEN_ROTATE_MS = 5 * 60_000;
/** A node is good while it answered us within this long; a bucket untouched this long is refreshed. */
export const NODE_GOOD_MS = 15 * 60_000;
export const BUCKET_REFRESH_MS = 15 * 60_000;
/** Failed queries in a row that make a node bad. */
export const NODE_BAD_FAILURES = 2;
/** An outstanding query times out after this long. */
export const QUERY_TIMEOUT_MS = 5_000;
/** Announce interval per torrent. */
export const ANNOUNCE_INTERVAL_MS = 15 * 60_000;
/** An announced peer is forgotten after this long without a new announce. */
export const PEER_TTL_MS = 30 * 60_000;

/** Limits of stored state (libtorrent's values, docs/design/reliability.md). */
export const MAX_STORED_TORRENTS = 2000;
export const MAX_PEERS_PER_TORRENT = 500;
/** Peers in one get_peers answer. */
export const MAX_VALUES_PER_REPLY = 100;
/** Queries per second per source, averaged over RATE_WINDOW_MS; above it the source is blocked RATE_BLOCK_MS. */
export const RATE_PER_SECOND = 5;
export const RATE_WINDOW_MS = 10_000;
export const RATE_BLOCK_MS = 5 * 60_000;
/** Nodes kept in the persisted node cache. */
export const MAX_CACHED_NODES = 200;

/** Where a node (or a peer) listens. `host` is a dotted IPv4 string. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A node with its id (compact node info: 26 bytes on the wire). */
export interface NodeContact extends NodeAddress {
  readonly id: Buffer;
}

// ---------------------------------------------------------------------------------------------------------------
// KRPC (krpc.ts): `decodeKrpc(buf: Buffer): KrpcMessage` throws BtError('PROTOCOL', why) on anything malformed or
// over a limit; `encodeKrpc(msg: KrpcMessage): Buffer` writes a message (keys sorted, canonical bencode).

/** A query. Argument fields are present when the query carried them (validated: ids and hashes are 20 bytes). */
export interface KrpcQuery {
  readonly y: 'q';
  /** Transaction id, echoed as it is (1..MAX_TRANSACTION_ID_BYTES bytes). */
  readonly t: Buffer;
  /** The method name as sent: 'ping' | 'find_node' | 'get_peers' | 'announce_peer', or any other name. */
  readonly q: string;
  /** The querying node's id. */
  readonly id: Buffer;
  /** find_node (and unknown queries that carry it). */
  readonly target?: Buffer;
  /** get_peers, announce_peer (and unknown queries that carry it). */
  readonly infoHash?: Buffer;
  /** announce_peer: the peer port (1..65535) ... */
  readonly port?: number;
  /** ... unless `implied_port` is 1: then the query's source port is the peer port. */
  readonly impliedPort?: boolean;
  /** announce_peer: the token from our get_peers answer. */
  readonly token?: Buffer;
  /** BEP 43 `ro`: the querier does not answer queries; it is never added to a routing table. */
  readonly readOnly?: boolean;
  /** The client's `v` (version), for stats and logs. */
  readonly version?: Buffer;
}

/** A response ('r'). Which query it answers is known only from its transaction id. */
export interface KrpcResponse {
  readonly y: 'r';
  readonly t: Buffer;
  /** The responding node's id. */
  readonly id: Buffer;
  /** Compact node info (26 bytes each; a trailing partial entry is ignored). */
  readonly nodes?: readonly NodeContact[];
  /** Compact peers (6-byte entries; other lengths ignored). */
  readonly values?: readonly NodeAddress[];
  /** get_peers: the token for a later announce_peer (any length up to MAX_TOKEN_BYTES). */
  readonly token?: Buffer;
  /** BEP 42 top-level `ip`: our address as the responder saw it. */
  readonly ip?: NodeAddress;
  readonly version?: Buffer;
}

/** An error ('e'): [code, message]. 201 generic, 202 server, 203 protocol, 204 method unknown. */
export interface KrpcError {
  readonly y: 'e';
  readonly t: Buffer;
  readonly code: number;
  readonly message: string;
  /** BEP 42 top-level `ip` may be on errors too. */
  readonly ip?: NodeAddress;
}

export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcError;

// ---------------------------------------------------------------------------------------------------------------
// The node (dht-node.ts) and what the session sees of it.

/** Node states (BEP 5): good = answered us within NODE_GOOD_MS; questionable = silent longer; bad = failed twice. */
export type NodeState = 'good' | 'questionable' | 'bad';

/** What the node is doing, for people (`bitpeer stats`, the TTY line, session-stats). */
export type DhtPhase = 'off' | 'bootstrapping' | 'ready' | 'no-nodes';

export interface DhtStats {
  phase: DhtPhase;
  /** Our node id, hex. */
  id: string;
  /** Nodes in the routing table, and by state. */
  nodes: number;
  good: number;
  questionable: number;
  buckets: number;
  /** Peers and info-hashes others announced to us (our peer store). */
  storedTorrents: number;
  storedPeers: number;
  /** Our external address as a majority of responders report it (BEP 42 `ip`), if known. */
  externalAddress?: string;
  /** Lookups run, and running now. */
  lookups: number;
  activeLookups: number;
  /** Counters since start. */
  queriesIn: number;
  queriesOut: number;
  responsesIn: number;
  timeouts: number;
  /** Datagrams dropped, by reason (malformed, rate-limited, bad-token, oversized, ...). */
  dropped: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
}

/** What one lookup did (for logs, the simulation's report and tests). */
export interface LookupSummary {
  /** Distinct peers found (values). */
  peers: number;
  /** Nodes queried, and how many answered / timed out. */
  queried: number;
  responded: number;
  failed: number;
  /** Hops: the depth (0 = a node we knew at the start) of the deepest node queried that answered. */
  hops: number;
  /** Time from the start to the first peer found (undefined: none found). */
  firstPeerMs?: number;
  durationMs: number;
  /** announce(): nodes that accepted our announce_peer. */
  announcedTo?: number;
}

/** Options of DhtNode.getPeers / DhtNode.announce. */
export interface DhtLookupOptions {
  /** Called (possibly several times) with peers as they are found; the node's own store is read first. */
  onPeers?: (peers: readonly NodeAddress[]) => void;
  /** Aborting ends the lookup early (it resolves with what it found). */
  signal?: AbortSignal;
}

/** The persisted part of a node (dht-state.ts encodes it; the session keeps it in the state directory). */
export interface DhtPersistedState {
  id: Buffer;
  /** The best nodes of the routing table (at most MAX_CACHED_NODES), good first. */
  nodes: NodeContact[];
}

/** How the session configures its DHT (SessionOptions.dht). */
export interface DhtConfig {
  /** HOST:PORT bootstrap nodes (names are resolved when the node starts). */
  bootstrap: readonly string[];
  /**
   * Accept loopback and private addresses as nodes and peers, and several nodes per IP (libtorrent's
   * `dht_restrict_routing_ips` / `dht_restrict_search_ips` off). Default: true when every bootstrap node is on a
   * loopback or private address (or there are none), false otherwise (the public DHT).
   */
  privateNetwork?: boolean;
  /** Node id and node cache from the state directory. */
  restored?: DhtPersistedState;
}

/**
 * What the session's DHT service uses of a node (dht-node.ts's `DhtNode` implements it), so that the service and its
 * tests can drive any implementation.
 */
export interface DhtNodeApi {
  /** Bootstrap (cached nodes first, then the bootstrap nodes), then keep the table fresh. */
  start(): void;
  /** The UdpEndpoint owner for datagrams classified 'dht': true when taken. Never throws. */
  handleDatagram(msg: Buffer, from: { address: string; port: number }): boolean;
  /** get_peers lookup; reads our own store first; resolves when done or aborted. */
  getPeers(infoHash: Buffer, opts?: DhtLookupOptions): Promise<LookupSummary>;
  /** get_peers, then announce_peer to the k closest that answered (port 0: implied_port). */
  announce(infoHash: Buffer, port: number, opts?: DhtLookupOptions): Promise<LookupSummary>;
  /** A node named by a peer's wire `port` message (BEP 5) or by the user: pinged, added if it answers. */
  addNode(addr: NodeAddress): void;
  /** A hint of our external IP (BEP 10 `yourip`), counted with the BEP 42 `ip` votes. */
  noteExternalAddress(ip: string, from: string): void;
  readonly id: Buffer;
  stats(): DhtStats;
  snapshot(): DhtPersistedState;
  /** Called on every phase change. */
  onPhase: ((phase: DhtPhase) => void) | undefined;
  /** Stop timers; running lookups resolve with what they found. */
  close(): void;
}

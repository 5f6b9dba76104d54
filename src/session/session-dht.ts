/**
 * The DHT as a part of the session (BEP 5): the node on the session's one UDP endpoint, turned on and off while the
 * session runs (`setEnabled`: the RPC's `dht-enabled`), the DHT bit of our handshakes' reserved bytes, the node id
 * and node cache kept across a stop and start (and handed to the state directory through `onPersist`), and the
 * service (dht-service.ts) that announces the torrents.
 *
 * Invariants: the node exists only while the session listens with a bound UDP endpoint and the DHT is wanted; the
 * reserved DHT bit is set exactly while it exists; a node that cannot be made (or no UDP) leaves the DHT off and
 * says why in the log, never fails the session.
 */
import type { DhtConfig, DhtNodeApi, DhtPersistedState, DhtPhase, DhtStats, NodeAddress } from '../discovery/dht/types.js';
import { ReservedBit } from '../wire/codec/index.js';
import { errorMessage } from '../util/errors.js';
import { DhtNode, type DhtNodeOptions } from '../discovery/dht/dht-node.js';
import { VERSION } from '../util/version.js';
import type { Clock } from '../util/clock.js';
import { DhtService, type DhtSubject } from './dht-service.js';
import type { MagnetRoute } from './session.js';
import type { Torrent } from './torrent.js';

/** What the node is given. */
export type DhtNodeParams = DhtNodeOptions;

export type DhtNodeFactory = (params: DhtNodeParams) => DhtNodeApi;

/** The one place a real node is made. */
export const createDhtNode: DhtNodeFactory = (params) => new DhtNode(params);

/** Our KRPC `v`: "BP" and the version's major and minor numbers. */
export function dhtClientVersion(version = VERSION): Buffer {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number(n) & 0xff);
  return Buffer.from([0x42, 0x50, major, minor]);
}

/** The session's UDP endpoint as the DHT uses it. */
export interface DhtUdp {
  bound(): boolean;
  send(buf: Buffer, port: number, host: string): void;
  /** Route datagrams classified `dht` to `handler` (undefined: none are taken). */
  setDhtHandler(handler: ((msg: Buffer, from: { address: string; port: number }) => boolean) | undefined): void;
}

export interface SessionDhtHost {
  clock: Clock;
  rng: () => number;
  randomBytes: (n: number) => Buffer;
  /** Our reserved bytes (the session's): the DHT bit is set while the node runs. */
  reserved: Buffer;
  /** The session's port (peers and the DHT). */
  port(): number;
  /** The UDP endpoint, once listening (undefined before). */
  udp(): DhtUdp | undefined;
  log(msg: string): void;
  /** The node's phase changed (the session's `dht` event). */
  onPhase(phase: DhtPhase, stats: DhtStats): void;
  /** The node's id or table changed enough to be saved (the state directory writes it). */
  onPersist?: (state: DhtPersistedState) => void;
  factory?: DhtNodeFactory;
}

export class SessionDht {
  private service: DhtService | undefined;
  private wanted: boolean;
  private config: DhtConfig;
  /** The last snapshot of a node that was closed (its id and cache come back when it is turned on again). */
  private saved: DhtPersistedState | undefined;
  private closed = false;

  constructor(private readonly host: SessionDhtHost, config: DhtConfig | false | undefined) {
    this.wanted = config !== undefined && config !== false;
    this.config = config || { bootstrap: [] };
    this.saved = this.config.restored;
  }

  /** The DHT is wanted (it runs once the session listens with UDP). */
  get enabled(): boolean { return this.wanted; }

  /** The node runs now. */
  get running(): boolean { return this.service !== undefined; }

  /** The bootstrap nodes (HOST:PORT) a node starts from. */
  get bootstrap(): readonly string[] { return this.config.bootstrap; }

  /** The session listens now: start the node if the DHT is wanted. */
  start(): void {
    if (this.wanted) this.open();
  }

  /** Turn the DHT on or off while the session runs (settings: `dht-enabled`). */
  setEnabled(on: boolean): void {
    if (this.closed) return;
    this.wanted = on;
    if (!on) this.shut();
    else if (!this.service && this.host.udp()) this.open();
  }

  /** New bootstrap nodes: used by the next start of the node (and now, if the table is empty, by a restart). */
  setBootstrap(bootstrap: readonly string[], privateNetwork?: boolean): void {
    this.config = { ...this.config, bootstrap: [...bootstrap], ...(privateNetwork !== undefined ? { privateNetwork } : {}) };
    if (this.service && this.service.node.stats().nodes === 0) { this.shut(); if (this.wanted) this.open(); }
  }

  private open(): void {
    const udp = this.host.udp();
    if (!udp?.bound()) {
      this.host.log('DHT off: no UDP socket (the UDP port could not be bound)');
      return;
    }
    const log = (m: string): void => this.host.log(m.startsWith('dht') ? m : `dht: ${m}`);
    let node: DhtNodeApi;
    try {
      node = (this.host.factory ?? createDhtNode)({
        send: (buf, host, port) => {
          try { udp.send(buf, port, host); } catch (err) { log(`send to ${host}:${port} failed: ${errorMessage(err)}`); }
        },
        clock: this.host.clock, rng: this.host.rng, randomBytes: this.host.randomBytes,
        bootstrap: this.config.bootstrap,
        ...(this.config.privateNetwork !== undefined ? { privateNetwork: this.config.privateNetwork } : {}),
        ...(this.saved ? { restored: this.saved } : {}),
        onPersist: () => this.persist(),
        log, version: dhtClientVersion(),
      });
    } catch (err) {
      this.host.log(`DHT off: ${errorMessage(err)}`);
      return;
    }
    this.service = new DhtService({
      node, port: () => this.host.port(), now: this.host.clock.now, log,
      onPhase: (phase, stats) => this.host.onPhase(phase, stats),
    });
    udp.setDhtHandler((msg, from) => node.handleDatagram(msg, from));
    setReservedDht(this.host.reserved, true);
    this.service.start();
  }

  private persist(): void {
    const state = this.snapshot();
    if (!state) return;
    this.saved = state;
    try { this.host.onPersist?.(state); } catch (err) { this.host.log(`dht: saving its state failed: ${errorMessage(err)}`); }
  }

  private shut(): void {
    const service = this.service;
    if (!service) return;
    this.service = undefined;
    try { this.saved = service.node.snapshot(); } catch { /* keep the previous one */ }
    this.host.udp()?.setDhtHandler(undefined);
    setReservedDht(this.host.reserved, false);
    service.close();
    this.host.onPhase('off', offStats(service.node.id));
    if (this.saved) this.host.onPersist?.(this.saved);
  }

  /** Once a second, with the torrents and magnets that run now. */
  tick(now: number, subjects: () => Iterable<DhtSubject>): void {
    this.service?.tick(now, subjects());
  }

  /** A peer's wire `port` message (BEP 5): its DHT node is pinged and added if it answers. */
  addNode(addr: NodeAddress): void {
    try { this.service?.node.addNode(addr); } catch (err) { this.host.log(`dht: addNode threw: ${errorMessage(err)}`); }
  }

  /** BEP 10 `yourip` from peer `from`: a vote for our external address. */
  noteExternalAddress(ip: string, from: string): void {
    try { this.service?.node.noteExternalAddress(ip, from); } catch (err) { this.host.log(`dht: noteExternalAddress threw: ${errorMessage(err)}`); }
  }

  /** The node's figures, or undefined when it does not run. */
  stats(): DhtStats | undefined { return this.service?.node.stats(); }

  /** The node's id and best nodes now (or those of the last node that ran), for the state directory. */
  snapshot(): DhtPersistedState | undefined {
    if (this.service) {
      try { return this.service.node.snapshot(); } catch (err) { this.host.log(`dht: snapshot threw: ${errorMessage(err)}`); }
    }
    return this.saved;
  }

  close(): void {
    if (this.closed) return;
    this.shut();
    this.closed = true;
  }
}

/**
 * What the DHT announces now: the running torrents (downloading or seeding; the service skips private ones) and the
 * pending magnets (`magnetV2`: a hybrid magnet's truncated v2 name), each under every name it has.
 */
export function* dhtSubjects(torrents: ReadonlyMap<string, Torrent>, magnets: ReadonlyMap<string, MagnetRoute>,
  magnetV2: ReadonlyMap<string, Buffer>): Iterable<DhtSubject> {
  for (const t of torrents.values()) {
    if (t.state !== 'downloading' && t.state !== 'seeding') continue;
    const v2 = t.meta.version === 'hybrid' && t.meta.infoHashV2 ? [t.meta.infoHashV2.subarray(0, 20)] : [];
    yield { key: t.infoHashHex, names: [t.infoHash, ...v2], private: t.meta.private, needsPeers: t.state === 'downloading',
      connectedPeers: () => t.connectedPeerCount, addPeer: (h, p) => t.addPeer(h, p, 'dht') };
  }
  for (const [hex, m] of magnets) {
    if (torrents.has(hex)) continue;
    const v2 = magnetV2.get(hex);
    yield { key: hex, names: [Buffer.from(hex, 'hex'), ...(v2 ? [v2] : [])], private: false, needsPeers: true,
      connectedPeers: () => m.connectedPeers?.() ?? 0, addPeer: (h, p) => m.addPeer(h, p, 'dht') };
  }
}

/** Set or clear the DHT bit (BEP 5) in reserved bytes, in place. */
export function setReservedDht(reserved: Buffer, on: boolean): void {
  const { byte, mask } = ReservedBit.DHT;
  reserved[byte] = on ? reserved[byte]! | mask : reserved[byte]! & ~mask;
}

/** The stats of a node that is off. */
function offStats(id: Buffer): DhtStats {
  return {
    phase: 'off', id: id.toString('hex'), nodes: 0, good: 0, questionable: 0, buckets: 0, storedTorrents: 0, storedPeers: 0,
    lookups: 0, activeLookups: 0, queriesIn: 0, queriesOut: 0, responsesIn: 0, timeouts: 0, dropped: {}, bytesIn: 0, bytesOut: 0,
  };
}

/**
 * Peer exchange state for one torrent (BEP 11): which listen addresses we are connected to, what we last told each
 * remote peer, and how often each remote peer may talk to us. Pure: no I/O, time is passed in.
 *
 * Outbound, per remote peer: the first message may go as soon as the remote's extended handshake says it speaks
 * ut_pex (`peerReady`); after that at most one message per `minIntervalMs` (60 s). A message is the diff between
 * the connected set now and what that remote was told: `added` for new addresses, `dropped` for addresses it was told
 * about that are gone. At most `maxPerMessage` (50) of each; the rest waits for the next message.
 *
 * Inbound: `acceptInbound` lets at most `inboundMaxPerWindow` (6) messages per `inboundWindowMs` (60 s) through
 * per remote peer and counts the rest (reliability rule 6 in docs/design/reliability.md).
 *
 * Invariants:
 * - A remote peer is never told its own address: entries whose address equals the remote's own listen address (when
 *   it is in the connected set) are never added to its message, and one told earlier is dropped.
 * - For each remote, `dropped` only names addresses that remote was told in an `added` (BEP 11: added, then dropped).
 * - Only peers with a known listen address are in the connected set: for outgoing connections the dialled address,
 *   for incoming ones the remote IP with the `p` port of its extended handshake (no `p`, no entry).
 * - Addresses are canonical (`formatPeerAddress` of the canonical host), so two spellings of one address are one entry.
 */
import { canonicalHost } from '../util/ip.js';
import { compactAddr } from '../wire/ext/ip.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { encodeUtPex, PexFlag, PEX_MAX_PEERS, type PexPeer } from '../wire/ext/ut-pex.js';
import type { HostPort } from '../wire/ext/ip.js';

/** A connected peer as PEX advertises it. */
export interface PexPeerInfo {
  /** IP literal of the peer. */
  host: string;
  /** Its listen port (1..65535). */
  port: number;
  /** It is a seed or upload-only (flag 0x02). */
  seed?: boolean;
  /** We reached it with an outgoing connection (flag 0x10). */
  connectable?: boolean;
  /** Any other {@link PexFlag} bits to advertise. */
  flags?: number;
}

/** Tunables of {@link PexState}; the defaults follow libtorrent and BEP 11. */
export interface PexStateOptions {
  /** Most added and most dropped entries per message (default 50). */
  maxPerMessage?: number;
  /** Least time between two messages to one remote peer (default 60 000 ms). */
  minIntervalMs?: number;
  /** Inbound messages accepted per window from one remote peer (default 6). */
  inboundMaxPerWindow?: number;
  /** The inbound window (default 60 000 ms). */
  inboundWindowMs?: number;
}

interface Entry {
  addr: string;
  host: string;
  port: number;
  flags: number;
}

interface Remote {
  /** Addresses this remote was told about (added and not since dropped). */
  told: Map<string, HostPort>;
  /** When the last message went out, or undefined before the first. */
  lastSent: number | undefined;
}

interface Inbound {
  /** Times of accepted messages inside the window, oldest first. */
  times: number[];
  ignored: number;
}

/** PEX bookkeeping for one torrent. See the module comment for the rules. */
export class PexState {
  private readonly maxPerMessage: number;
  private readonly minIntervalMs: number;
  private readonly inboundMax: number;
  private readonly inboundWindowMs: number;
  /** Connected peers by the caller's key. */
  private readonly byKey = new Map<string, Entry>();
  /** Connected listen addresses → entry and how many keys share it. */
  private readonly byAddr = new Map<string, { entry: Entry; refs: number }>();
  private readonly remotes = new Map<string, Remote>();
  private readonly inbound = new Map<string, Inbound>();
  private ignoredTotal = 0;

  constructor(opts: PexStateOptions = {}) {
    this.maxPerMessage = opts.maxPerMessage ?? PEX_MAX_PEERS;
    this.minIntervalMs = opts.minIntervalMs ?? 60_000;
    this.inboundMax = opts.inboundMaxPerWindow ?? 6;
    this.inboundWindowMs = opts.inboundWindowMs ?? 60_000;
  }

  /** Number of distinct connected listen addresses. */
  get connectedCount(): number {
    return this.byAddr.size;
  }

  /** Inbound messages ignored by the rate limit: for one remote peer (while it is known), or in total. */
  inboundIgnored(remoteKey?: string): number {
    return remoteKey === undefined ? this.ignoredTotal : this.inbound.get(remoteKey)?.ignored ?? 0;
  }

  /**
   * Records a connected peer under `key` (the same key the session uses as `remoteKey` for that connection, e.g.
   * its `ip:port`). Calling it again for a key replaces the entry (new flags or a newly learned listen port).
   * @returns false (and records nothing) when `host` is not an IP literal or `port` is not 1..65535.
   */
  addConnected(key: string, info: PexPeerInfo): boolean {
    const host = canonicalHost(info.host);
    if (host === null || compactAddr(host, info.port) === null) return false;
    this.removeConnected(key);
    const flags = ((info.flags ?? 0) | (info.seed === true ? PexFlag.SEED : 0) | (info.connectable === true ? PexFlag.REACHABLE : 0)) & 0xff;
    const entry: Entry = { addr: formatPeerAddress(host, info.port), host, port: info.port, flags };
    this.byKey.set(key, entry);
    const shared = this.byAddr.get(entry.addr);
    if (shared === undefined) this.byAddr.set(entry.addr, { entry, refs: 1 });
    else shared.refs++;
    return true;
  }

  /** Forgets the connected peer recorded under `key` (it disconnected). Unknown keys are ignored. */
  removeConnected(key: string): void {
    const entry = this.byKey.get(key);
    if (entry === undefined) return;
    this.byKey.delete(key);
    const shared = this.byAddr.get(entry.addr);
    if (shared !== undefined && --shared.refs <= 0) this.byAddr.delete(entry.addr);
  }

  /** The remote peer `remoteKey` speaks ut_pex (its extended handshake named it): it may now be sent messages. */
  peerReady(remoteKey: string): void {
    if (!this.remotes.has(remoteKey)) this.remotes.set(remoteKey, { told: new Map(), lastSent: undefined });
  }

  /** The remote peer's connection is gone: forget what it was told and its inbound rate state. */
  peerGone(remoteKey: string): void {
    this.remotes.delete(remoteKey);
    this.inbound.delete(remoteKey);
  }

  /**
   * The ut_pex payload to send to `remoteKey` now, or null: when it is not ready, when its last message is less
   * than `minIntervalMs` old, or when there is nothing new to tell it. Sending is assumed: the state is updated.
   */
  buildMessage(remoteKey: string, now: number): Buffer | null {
    const r = this.remotes.get(remoteKey);
    if (r === undefined) return null;
    if (r.lastSent !== undefined && now - r.lastSent < this.minIntervalMs) return null;
    const self = this.byKey.get(remoteKey)?.addr;
    const added: PexPeer[] = [];
    for (const [addr, { entry }] of this.byAddr) {
      if (added.length >= this.maxPerMessage) break;
      if (addr === self || r.told.has(addr)) continue;
      added.push({ host: entry.host, port: entry.port, flags: entry.flags });
    }
    const dropped: HostPort[] = [];
    const droppedAddrs: string[] = [];
    for (const [addr, hp] of r.told) {
      if (dropped.length >= this.maxPerMessage) break;
      if (addr !== self && this.byAddr.has(addr)) continue;
      droppedAddrs.push(addr);
      dropped.push(hp);
    }
    if (added.length === 0 && droppedAddrs.length === 0) return null;
    for (const a of droppedAddrs) r.told.delete(a);
    for (const p of added) r.told.set(formatPeerAddress(p.host, p.port), { host: p.host, port: p.port });
    r.lastSent = now;
    return encodeUtPex({ added, dropped });
  }

  /**
   * Rate limit for messages from `remoteKey`: true to process this one, false to ignore it (counted). At most
   * `inboundMaxPerWindow` are accepted in any `inboundWindowMs`.
   */
  acceptInbound(remoteKey: string, now: number): boolean {
    let s = this.inbound.get(remoteKey);
    if (s === undefined) {
      s = { times: [], ignored: 0 };
      this.inbound.set(remoteKey, s);
    }
    while (s.times.length > 0 && now - s.times[0]! >= this.inboundWindowMs) s.times.shift();
    if (s.times.length >= this.inboundMax) {
      s.ignored++;
      this.ignoredTotal++;
      return false;
    }
    s.times.push(now);
    return true;
  }
}

/**
 * Answers to incoming KRPC queries (BEP 5): ping, find_node, get_peers (token bound to the requester's IP, stored
 * peers and ourselves when we announced the info-hash, the k closest nodes), announce_peer (token checked, stored whatever our distance to the info-hash), unknown
 * methods that carry `target` or `info_hash` answered as find_node, other unknown methods with error 204. Every answer
 * carries our id and the BEP 42 top-level `ip` (the requester's address as we see it).
 *
 * Invariants:
 * - An answer to an unverified source is never larger than the request: `nodes`, then `values` are left out whole
 *   until it fits (an answer with only the id and a token always fits a request that named an id).
 * - A bad token stores nothing. Nothing here throws on a well-formed query; it keeps no timers (time comes in as `now`).
 */
import { encodeKrpc } from './krpc.js';
import type { PeerStore } from './peer-store.js';
import type { RoutingTable } from './routing-table.js';
import type { TokenKeeper } from './tokens.js';
import { K, MAX_VALUES_PER_REPLY, type KrpcError, type KrpcMessage, type KrpcQuery, type KrpcResponse, type NodeAddress, type NodeContact } from './types.js';

export interface ResponderContext {
  readonly ownId: Buffer;
  readonly table: RoutingTable;
  readonly tokens: TokenKeeper;
  readonly store: PeerStore;
  readonly rng: () => number;
  readonly version: Buffer | undefined;
  readonly now: number;
  /**
   * Where we ourselves are a peer of `infoHash` (we announced it, and know our address): listed first in a get_peers
   * answer. libtorrent leaves itself out, so a node that is the only one left of a swarm's announcers (its own
   * announces went to nodes that have gone) cannot be found through itself; bitpeer lists itself.
   */
  readonly self?: (infoHash: Buffer) => NodeAddress | undefined;
}

/** What answering a query did, beyond the answer (for counters). */
export type AnswerNote = 'ok' | 'bad-token' | 'bad-query' | 'unknown-method' | 'stored';

export interface Answer {
  readonly reply: KrpcMessage;
  readonly note: AnswerNote;
}

/** The answer to `q` from `from` (not yet fitted to the request size). */
export function answerQuery(ctx: ResponderContext, q: KrpcQuery, from: NodeAddress): Answer {
  const ip: NodeAddress = { host: from.host, port: from.port };
  const ok = (fields: Partial<Pick<KrpcResponse, 'nodes' | 'values' | 'token'>>, note: AnswerNote = 'ok'): Answer => ({
    reply: { y: 'r', t: q.t, id: ctx.ownId, ...fields, ip, ...(ctx.version ? { version: ctx.version } : {}) },
    note,
  });
  const error = (code: number, message: string, note: AnswerNote): Answer => {
    const e: KrpcError = { y: 'e', t: q.t, code, message, ip };
    return { reply: e, note };
  };
  const closest = (target: Buffer): NodeContact[] =>
    ctx.table.closest(target, K).map((n) => ({ id: n.id, host: n.host, port: n.port }));

  switch (q.q) {
    case 'ping':
      return ok({});
    case 'find_node':
      if (!q.target) return error(203, 'find_node without target', 'bad-query');
      return ok({ nodes: closest(q.target) });
    case 'get_peers': {
      if (!q.infoHash) return error(203, 'get_peers without info_hash', 'bad-query');
      const values = ctx.store.get(q.infoHash, ctx.now, MAX_VALUES_PER_REPLY, ctx.rng);
      const me = ctx.self?.(q.infoHash);
      if (me && !values.some((v) => v.host === me.host && v.port === me.port)) {
        values.unshift(me);
        if (values.length > MAX_VALUES_PER_REPLY) values.pop();
      }
      return ok({ token: ctx.tokens.issue(from.host), nodes: closest(q.infoHash), ...(values.length > 0 ? { values } : {}) });
    }
    case 'announce_peer': {
      if (!q.infoHash || !q.token) return error(203, 'announce_peer without info_hash or token', 'bad-query');
      const port = q.impliedPort ? from.port : q.port;
      if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
        return error(203, 'announce_peer without a valid port', 'bad-query');
      }
      if (!ctx.tokens.check(from.host, q.token)) return error(203, 'bad token', 'bad-token');
      ctx.store.add(q.infoHash, { host: from.host, port }, ctx.now);
      return ok({}, 'stored');
    }
    default: {
      const target = q.target ?? q.infoHash;
      if (target) return ok({ nodes: closest(target) });
      return error(204, 'method unknown', 'unknown-method');
    }
  }
}

/**
 * `reply` encoded so that it is at most `limit` bytes: `nodes`, then `values` are left out until it fits, then the
 * optional `v` and top-level `ip`. An answer with our id (and a token) always fits a request that carried
 * a 20-byte id (the smallest ping is 56 bytes; such an answer is at most 50 + the token).
 */
export function encodeFitted(reply: KrpcMessage, limit: number): Buffer {
  let buf = encodeKrpc(reply);
  if (buf.length <= limit) return buf;
  if (reply.y === 'e') {
    const { ip: _ip, ...bare } = reply;
    return encodeKrpc(bare);
  }
  if (reply.y !== 'r') return buf;
  let nodes = reply.nodes ? [...reply.nodes] : undefined;
  let values = reply.values ? [...reply.values] : undefined;
  const { nodes: _n, values: _v, ...rest } = reply;
  let base: KrpcResponse = rest;
  // `nodes` go whole, then `values` whole: a cut answer has neither, which tells the asker (dht-node.ts queryNodes) to
  // ask once more after our verification ping, and get everything. A list cut to what fits would look complete: a
  // get_peers answer with one value of many (the same first peer from every storer, perhaps one that has left) ends
  // the asker's search for peers there (the 2,000-node simulation lost 12 of 500 lookups so).
  for (let guard = 0; guard < 8 && buf.length > limit; guard++) {
    if (nodes && nodes.length > 0) {
      nodes = [];
    } else if (values && values.length > 0) {
      values = [];
    } else if (base.version !== undefined) {
      const { version: _ver, ...noVersion } = base;
      base = noVersion;
    } else if (base.ip !== undefined) {
      const { ip: _ip, ...noIp } = base;
      base = noIp;
    } else {
      break;
    }
    buf = encodeKrpc({
      ...base,
      ...(nodes && nodes.length > 0 ? { nodes } : {}),
      ...(values && values.length > 0 ? { values } : {}),
    });
  }
  return buf;
}

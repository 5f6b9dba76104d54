/**
 * The persisted DHT state [pure]: our node id and a cache of good nodes, so a restart rejoins the DHT without the
 * bootstrap nodes (BEP 5 advises keeping the routing table across restarts).
 *
 * Format (bencode): `{ id: <20 bytes>, nodes: [<26-byte compact node info>, ...], v: 1 }`.
 *
 * Invariants:
 * - `decodeDhtState` reads at most MAX_DHT_STATE_BYTES with bounded bencode and throws BtError('BAD_RESUME') for junk:
 *   not bencode, not a dictionary, v other than 1, an id that is not 20 bytes, `nodes` not a list. Node entries that
 *   are not 26-byte strings or have port 0 are skipped; at most MAX_CACHED_NODES are kept (the first ones: good first).
 * - `encodeDhtState` writes at most MAX_CACHED_NODES nodes, skipping any whose host is not IPv4 or whose id is not 20 bytes.
 * - Every Buffer in a decoded state is a copy; `decodeDhtState(encodeDhtState(s))` equals `s` for a valid `s`.
 */
import { decode, encode } from '../../bencode/index.js';
import type { BValue } from '../../bencode/index.js';
import { BtError } from '../../util/errors.js';
import { parseIPv4 } from '../../util/ip.js';
import { COMPACT_NODE_BYTES, decodeCompactNodes, encodeCompactNodes } from './krpc.js';
import { ID_LENGTH, MAX_CACHED_NODES } from './types.js';
import type { DhtPersistedState, NodeContact } from './types.js';

/** The format version written in `v`. */
export const DHT_STATE_VERSION = 1;
/** A state file larger than this is refused unread (200 nodes take about 6 KB). */
export const MAX_DHT_STATE_BYTES = 64 * 1024;

function junk(why: string): never {
  throw new BtError('BAD_RESUME', `dht state: ${why}`);
}

function storable(n: NodeContact): boolean {
  return n.id.length === ID_LENGTH && parseIPv4(n.host) !== null && Number.isInteger(n.port) && n.port >= 1 && n.port <= 65535;
}

export function encodeDhtState(s: DhtPersistedState): Buffer {
  if (s.id.length !== ID_LENGTH) throw new BtError('INTERNAL', `dht state: own id of ${s.id.length} bytes`);
  const nodes = s.nodes.filter(storable).slice(0, MAX_CACHED_NODES).map((n) => encodeCompactNodes([n]));
  return encode({ id: s.id, nodes, v: DHT_STATE_VERSION });
}

export function decodeDhtState(buf: Buffer): DhtPersistedState {
  if (buf.length > MAX_DHT_STATE_BYTES) junk(`${buf.length} bytes (> ${MAX_DHT_STATE_BYTES})`);
  let top: BValue;
  try {
    top = decode(buf, { maxDepth: 4, maxTokens: MAX_DHT_STATE_BYTES / 2 /* every value takes 2 bytes or more */, leadingZeros: 'error', allowTrailing: false }).value;
  } catch (err) {
    if (err instanceof BtError) junk(`bad bencode: ${err.message}`);
    throw err;
  }
  if (!(top instanceof Map)) junk('not a dictionary');
  if (top.get('v') !== DHT_STATE_VERSION) junk('unknown version');
  const id = top.get('id');
  if (!Buffer.isBuffer(id) || id.length !== ID_LENGTH) junk(`id is not ${ID_LENGTH} bytes`);
  const list = top.get('nodes');
  if (list !== undefined && !Array.isArray(list)) junk('nodes is not a list');
  const nodes: NodeContact[] = [];
  for (const entry of list ?? []) {
    if (nodes.length >= MAX_CACHED_NODES) break;
    if (!Buffer.isBuffer(entry) || entry.length !== COMPACT_NODE_BYTES) continue;
    nodes.push(...decodeCompactNodes(entry)); // copies; skips port 0
  }
  return { id: Buffer.from(id), nodes };
}

/**
 * KRPC messages (BEP 5) <-> bytes [pure]: queries, responses and errors of the Mainline DHT, with the BEP 42 top-level
 * `ip` and the BEP 43 `ro` flag.
 *
 * Invariants:
 * - `decodeKrpc` reads at most MAX_KRPC_BYTES (larger datagrams are refused unread), with bencode limited to depth
 *   KRPC_MAX_DEPTH and KRPC_MAX_TOKENS values, no leading zeros and no trailing bytes. Anything malformed throws
 *   BtError('PROTOCOL', why) and nothing else; unknown keys are ignored.
 * - Every Buffer in a decoded message is a copy (decoded byte strings are views on the datagram).
 * - Validated: `t` 1..MAX_TRANSACTION_ID_BYTES bytes; `id` exactly 20 bytes; `target` / `info_hash` 20 bytes when
 *   present; `port` 1..65535; `implied_port` an integer (non-zero = true); `token` at most MAX_TOKEN_BYTES. `nodes` is
 *   read 26 bytes at a time (a trailing partial entry and entries with port 0 are skipped); `values` keeps its 6-byte
 *   entries (others, e.g. IPv6, are skipped); `nodes6` is ignored; the top-level `ip` is kept when it is 6 bytes.
 * - `encodeKrpc` writes canonical bencode (sorted keys); `decodeKrpc(encodeKrpc(m))` equals `m` for any valid `m`.
 */
import { decode, encode } from '../../bencode/index.js';
import type { BDict, BValue, Encodable } from '../../bencode/index.js';
import { BtError } from '../../util/errors.js';
import { formatIPv4, parseIPv4 } from '../../util/ip.js';
import {
  ID_LENGTH, KRPC_MAX_DEPTH, KRPC_MAX_TOKENS, MAX_KRPC_BYTES, MAX_TOKEN_BYTES, MAX_TRANSACTION_ID_BYTES,
} from './types.js';
import type { KrpcError, KrpcMessage, KrpcQuery, KrpcResponse, NodeAddress, NodeContact } from './types.js';

/** Bytes of one compact node info entry (id + IPv4 + port). */
export const COMPACT_NODE_BYTES = 26;
/** Bytes of one compact peer / address entry (IPv4 + port). */
export const COMPACT_PEER_BYTES = 6;

function bad(why: string): never {
  throw new BtError('PROTOCOL', `KRPC: ${why}`);
}

/** Optional byte string under `key`: undefined when missing, an error when of another type. */
function optBytes(d: BDict, key: string, where: string): Buffer | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (!Buffer.isBuffer(v)) bad(`${where}.${key} is not a byte string`);
  return v;
}

function optInt(d: BDict, key: string, where: string): number | undefined {
  const v = d.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number') bad(`${where}.${key} is not an integer`);
  return v;
}

/** A byte string of exactly ID_LENGTH bytes (copied), or undefined when missing. */
function optId(d: BDict, key: string, where: string): Buffer | undefined {
  const v = optBytes(d, key, where);
  if (v === undefined) return undefined;
  if (v.length !== ID_LENGTH) bad(`${where}.${key} is ${v.length} bytes, not ${ID_LENGTH}`);
  return Buffer.from(v);
}

function reqId(d: BDict, key: string, where: string): Buffer {
  const v = optId(d, key, where);
  if (v === undefined) bad(`${where}.${key} is missing`);
  return v;
}

function optToken(d: BDict, where: string): Buffer | undefined {
  const v = optBytes(d, 'token', where);
  if (v === undefined) return undefined;
  if (v.length > MAX_TOKEN_BYTES) bad(`${where}.token is ${v.length} bytes (> ${MAX_TOKEN_BYTES})`);
  return Buffer.from(v);
}

/** Compact node info entries (26 bytes each): a trailing partial entry and entries with port 0 are skipped. */
export function decodeCompactNodes(b: Buffer): NodeContact[] {
  const out: NodeContact[] = [];
  for (let off = 0; off + COMPACT_NODE_BYTES <= b.length; off += COMPACT_NODE_BYTES) {
    const port = b.readUInt16BE(off + 24);
    if (port === 0) continue;
    out.push({ id: Buffer.from(b.subarray(off, off + ID_LENGTH)), host: formatIPv4(b, off + 20), port });
  }
  return out;
}

/** A 6-byte compact address (IPv4 + port). */
export function decodeCompactAddress(b: Buffer, off = 0): NodeAddress {
  return { host: formatIPv4(b, off), port: b.readUInt16BE(off + 4) };
}

/** 6 bytes for an IPv4 address and port; BtError('INTERNAL') for anything else (our own data, not wire input). */
export function encodeCompactAddress(a: NodeAddress): Buffer {
  const ip = parseIPv4(a.host);
  if (ip === null) throw new BtError('INTERNAL', `KRPC: ${a.host} is not an IPv4 address`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new BtError('INTERNAL', `KRPC: port ${a.port}`);
  const out = Buffer.alloc(COMPACT_PEER_BYTES);
  ip.copy(out, 0);
  out.writeUInt16BE(a.port, 4);
  return out;
}

/** Compact node info for a list of nodes (26 bytes each). */
export function encodeCompactNodes(nodes: readonly NodeContact[]): Buffer {
  const out = Buffer.alloc(nodes.length * COMPACT_NODE_BYTES);
  nodes.forEach((n, i) => {
    if (n.id.length !== ID_LENGTH) throw new BtError('INTERNAL', `KRPC: node id of ${n.id.length} bytes`);
    n.id.copy(out, i * COMPACT_NODE_BYTES);
    encodeCompactAddress(n).copy(out, i * COMPACT_NODE_BYTES + ID_LENGTH);
  });
  return out;
}

function decodeValues(list: BValue[]): NodeAddress[] {
  const out: NodeAddress[] = [];
  for (const v of list) {
    if (!Buffer.isBuffer(v) || v.length !== COMPACT_PEER_BYTES) continue;
    const a = decodeCompactAddress(v);
    if (a.port !== 0) out.push(a);
  }
  return out;
}

function topIp(top: BDict): NodeAddress | undefined {
  const ip = top.get('ip');
  return Buffer.isBuffer(ip) && ip.length === COMPACT_PEER_BYTES ? decodeCompactAddress(ip) : undefined;
}

function topVersion(top: BDict): Buffer | undefined {
  const v = top.get('v');
  return Buffer.isBuffer(v) ? Buffer.from(v) : undefined;
}

function decodeQuery(top: BDict, t: Buffer): KrpcQuery {
  const q = optBytes(top, 'q', 'message');
  if (q === undefined) bad('query without q');
  const a = top.get('a');
  if (!(a instanceof Map)) bad('query without an a dictionary');
  const msg: { -readonly [K in keyof KrpcQuery]: KrpcQuery[K] } = { y: 'q', t, q: q.toString('latin1'), id: reqId(a, 'id', 'a') };
  const target = optId(a, 'target', 'a');
  if (target !== undefined) msg.target = target;
  const infoHash = optId(a, 'info_hash', 'a');
  if (infoHash !== undefined) msg.infoHash = infoHash;
  const implied = optInt(a, 'implied_port', 'a');
  if (implied !== undefined) msg.impliedPort = implied !== 0;
  const port = optInt(a, 'port', 'a');
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) bad(`a.port ${port} out of range`);
    if (port !== 0) msg.port = port;
    else if (msg.impliedPort !== true) bad('a.port 0 without implied_port');
  }
  const token = optToken(a, 'a');
  if (token !== undefined) msg.token = token;
  if (top.get('ro') === 1) msg.readOnly = true;
  const v = topVersion(top);
  if (v !== undefined) msg.version = v;
  return msg;
}

function decodeResponse(top: BDict, t: Buffer): KrpcResponse {
  const r = top.get('r');
  if (!(r instanceof Map)) bad('response without an r dictionary');
  const msg: { -readonly [K in keyof KrpcResponse]: KrpcResponse[K] } = { y: 'r', t, id: reqId(r, 'id', 'r') };
  const nodes = optBytes(r, 'nodes', 'r');
  if (nodes !== undefined) msg.nodes = decodeCompactNodes(nodes);
  const values = r.get('values');
  if (values !== undefined) {
    if (!Array.isArray(values)) bad('r.values is not a list');
    msg.values = decodeValues(values);
  }
  const token = optToken(r, 'r');
  if (token !== undefined) msg.token = token;
  const ip = topIp(top);
  if (ip !== undefined) msg.ip = ip;
  const v = topVersion(top);
  if (v !== undefined) msg.version = v;
  return msg;
}

function decodeError(top: BDict, t: Buffer): KrpcError {
  const e = top.get('e');
  if (!Array.isArray(e)) bad('error without an e list');
  const code = e[0];
  if (typeof code !== 'number') bad('error without an integer code');
  const text = e[1];
  const message = Buffer.isBuffer(text) ? text.toString('utf8') : '';
  const ip = topIp(top);
  return ip === undefined ? { y: 'e', t, code, message } : { y: 'e', t, code, message, ip };
}

/**
 * Reads one KRPC datagram.
 * @throws BtError('PROTOCOL') when it is too large, not bencode, or not a valid KRPC message.
 */
export function decodeKrpc(buf: Buffer): KrpcMessage {
  if (buf.length > MAX_KRPC_BYTES) bad(`datagram of ${buf.length} bytes (> ${MAX_KRPC_BYTES})`);
  let top: BValue;
  try {
    top = decode(buf, {
      maxDepth: KRPC_MAX_DEPTH, maxTokens: KRPC_MAX_TOKENS, leadingZeros: 'error', allowTrailing: false,
    }).value;
  } catch (err) {
    if (err instanceof BtError) bad(`bad bencode: ${err.message}`);
    throw err;
  }
  if (!(top instanceof Map)) bad('not a dictionary');
  const tRaw = optBytes(top, 't', 'message');
  if (tRaw === undefined) bad('no transaction id');
  if (tRaw.length < 1 || tRaw.length > MAX_TRANSACTION_ID_BYTES) bad(`transaction id of ${tRaw.length} bytes`);
  const t = Buffer.from(tRaw);
  const y = optBytes(top, 'y', 'message');
  if (y === undefined || y.length !== 1) bad('y is not q, r or e');
  switch (y[0]) {
    case 0x71: return decodeQuery(top, t);
    case 0x72: return decodeResponse(top, t);
    case 0x65: return decodeError(top, t);
    default: return bad('y is not q, r or e');
  }
}

type Dict = { [key: string]: Encodable | undefined };

/**
 * Writes a KRPC message as canonical bencode. Throws BtError('INTERNAL') for a message we should never build
 * (an id that is not 20 bytes, a host that is not IPv4).
 */
export function encodeKrpc(msg: KrpcMessage): Buffer {
  const top: Dict = { t: msg.t, y: msg.y };
  switch (msg.y) {
    case 'q': {
      if (msg.id.length !== ID_LENGTH) throw new BtError('INTERNAL', `KRPC: own id of ${msg.id.length} bytes`);
      const a: Dict = {
        id: msg.id,
        target: msg.target,
        info_hash: msg.infoHash,
        implied_port: msg.impliedPort === undefined ? undefined : msg.impliedPort ? 1 : 0,
        port: msg.port,
        token: msg.token,
      };
      top.a = a;
      top.q = Buffer.from(msg.q, 'latin1');
      if (msg.readOnly === true) top.ro = 1;
      top.v = msg.version;
      break;
    }
    case 'r': {
      if (msg.id.length !== ID_LENGTH) throw new BtError('INTERNAL', `KRPC: own id of ${msg.id.length} bytes`);
      top.r = {
        id: msg.id,
        nodes: msg.nodes === undefined ? undefined : encodeCompactNodes(msg.nodes),
        values: msg.values?.map(encodeCompactAddress),
        token: msg.token,
      };
      if (msg.ip !== undefined) top.ip = encodeCompactAddress(msg.ip);
      top.v = msg.version;
      break;
    }
    case 'e':
      top.e = [msg.code, msg.message];
      if (msg.ip !== undefined) top.ip = encodeCompactAddress(msg.ip);
      break;
  }
  return encode(top);
}

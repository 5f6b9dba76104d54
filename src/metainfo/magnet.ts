/**
 * Magnet URIs (BEP 9 "magnet URI format"; BEP 52 `urn:btmh:` v2 info-hashes; `x.pe` peer addresses as in libtorrent).
 *
 * Invariant: a `MagnetInfo` always has a 20-byte `infoHash`, the torrent's wire name: the btih (v1 SHA-1) when the
 * link has one, else the btmh SHA-256 truncated to 20 bytes (a v2-only torrent, BEP 52). `infoHashV1` / `infoHashV2`
 * hold what the link gave, to verify the metadata (SHA-1 / SHA-256 of the info dict). Trackers and peers are
 * de-duplicated, non-empty, and capped at {@link MAX_MAGNET_ITEMS} each (the rest are ignored).
 * `parseMagnet(buildMagnet(x))` gives back `x`.
 *
 * Accepted: `xt=urn:btih:` with 40 hex digits or 32 base32 characters (either case); `xt=urn:btmh:1220` + 64 hex
 * digits (a multihash: 0x12 sha2-256, 0x20 = 32 bytes), alone (v2) or with a btih (hybrid); numbered keys (`tr.1`,
 * `xt.2`); `dn` with `+` for spaces. The first btih and the first btmh win. Tracker URLs are kept as given (the
 * tracker layer filters schemes and addresses, reliability rule 12 in docs/design/reliability.md); `x.pe` entries
 * that are not `host:port` / `[v6]:port` are dropped. Rejected with BtError 'BAD_MAGNET': not `magnet:?`, longer than
 * {@link MAX_MAGNET_LENGTH}, neither btih nor btmh, a malformed hash, a btmh of another hash function than sha2-256,
 * or malformed percent-encoding.
 */
import { BtError } from '../util/errors.js';
import { tryParsePeerAddress } from '../util/peer-address.js';

/** What a magnet link tells us. */
export interface MagnetInfo {
  /** The 20-byte wire info-hash: `infoHashV1` if present, else the first 20 bytes of `infoHashV2`. */
  infoHash: Buffer;
  infoHashHex: string;
  /** `urn:btih:` (v1 SHA-1 of the info dict), if the link has one. */
  infoHashV1?: Buffer;
  /** `urn:btmh:1220…` (v2 SHA-256 of the info dict, 32 bytes), if the link has one (BEP 52). */
  infoHashV2?: Buffer;
  /** `dn`, the display name, if present. */
  name?: string;
  /** `tr` tracker URLs, in order. */
  trackers: string[];
  /** `x.pe` peer addresses as `host:port` (IPv6 as `[addr]:port`). */
  peers: string[];
}

/** Longest magnet URI accepted. */
export const MAX_MAGNET_LENGTH = 64 * 1024;
/** Most trackers (and, separately, peers) kept from one magnet URI. */
export const MAX_MAGNET_ITEMS = 200;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function bad(msg: string): never {
  throw new BtError('BAD_MAGNET', `invalid magnet URI: ${msg}`);
}

function base32Decode(s: string): Buffer | undefined {
  const out = Buffer.alloc(20);
  let bits = 0;
  let acc = 0;
  let n = 0;
  for (const ch of s.toUpperCase()) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return n === 20 ? out : undefined;
}

function base32Encode(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of b) {
    acc = ((acc << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Parse an info-hash given as 40 hex digits or 32 base32 characters.
 * @returns the 20 bytes, or undefined if `s` is neither.
 */
export function parseInfoHash(s: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{40}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z2-7]{32}$/.test(s)) return base32Decode(s);
  return undefined;
}

/**
 * Parse a BEP 52 `btmh` value: a multihash in hex, `1220` (sha2-256, 32 bytes) + 64 hex digits.
 * @returns the 32-byte SHA-256, or undefined if `s` is not that.
 */
export function parseBtmh(s: string): Buffer | undefined {
  const m = /^1220([0-9a-fA-F]{64})$/.exec(s);
  return m === null ? undefined : Buffer.from(m[1]!, 'hex');
}

/** The 32-character base32 form of a 20-byte info-hash. */
export function infoHashToBase32(hash: Uint8Array): string {
  return base32Encode(hash);
}

function decodeComponent(s: string, key: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return bad(`malformed percent-encoding in ${key}`);
  }
}

/**
 * Parse a magnet URI.
 * @throws BtError('BAD_MAGNET')
 */
export function parseMagnet(uri: string): MagnetInfo {
  if (typeof uri !== 'string') bad('not a string');
  if (uri.length > MAX_MAGNET_LENGTH) bad(`longer than ${MAX_MAGNET_LENGTH} characters`);
  const trimmed = uri.trim();
  if (!/^magnet:\?/i.test(trimmed)) bad('must start with "magnet:?"');
  const query = trimmed.slice(8).split('#')[0]!;

  let infoHash: Buffer | undefined;
  let infoHashV2: Buffer | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const peers: string[] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    const m = /^(xt|tr|dn|x\.pe)(?:\.\d+)?$/i.exec(rawKey);
    if (m === null) continue; // unknown keys (xl, ws, so, kt…) are ignored
    const key = m[1]!.toLowerCase();
    if (key === 'xt') {
      const xt = decodeComponent(rawValue, 'xt');
      const btih = /^urn:btih:(.*)$/i.exec(xt);
      if (btih !== null) {
        const h = parseInfoHash(btih[1]!);
        if (h === undefined) bad(`xt info-hash ${JSON.stringify(btih[1]!.slice(0, 64))} is not 40 hex or 32 base32 characters`);
        infoHash ??= h;
      } else {
        const btmh = /^urn:btmh:(.*)$/i.exec(xt);
        if (btmh !== null) {
          const h = parseBtmh(btmh[1]!);
          if (h === undefined) bad(`xt btmh ${JSON.stringify(btmh[1]!.slice(0, 80))} is not a sha2-256 multihash (1220 + 64 hex digits)`);
          infoHashV2 ??= h;
        }
      }
    } else if (key === 'dn') {
      name ??= decodeComponent(rawValue.replace(/\+/g, ' '), 'dn');
    } else if (key === 'tr') {
      const url = decodeComponent(rawValue, 'tr').trim();
      if (url !== '' && !trackers.includes(url) && trackers.length < MAX_MAGNET_ITEMS) trackers.push(url);
    } else {
      const peer = decodeComponent(rawValue, 'x.pe').trim();
      if (tryParsePeerAddress(peer) !== null && !peers.includes(peer) && peers.length < MAX_MAGNET_ITEMS) peers.push(peer);
    }
  }
  const wire = infoHash ?? infoHashV2?.subarray(0, 20);
  if (wire === undefined) bad('no xt=urn:btih: or xt=urn:btmh: info-hash');
  const out: MagnetInfo = { infoHash: Buffer.from(wire), infoHashHex: wire.toString('hex'), trackers, peers };
  if (infoHash !== undefined) out.infoHashV1 = infoHash;
  if (infoHashV2 !== undefined) out.infoHashV2 = infoHashV2;
  if (name !== undefined) out.name = name;
  return out;
}

/** What {@link buildMagnet} takes. */
export interface MagnetInput {
  /**
   * The v1 info-hash (btih): 20 bytes, or 40 hex / 32 base32 characters. Optional only when `infoHashV2` is given
   * (a v2-only torrent); for a v2-only torrent a 20-byte value equal to the truncated v2 hash is not a btih and is
   * left out (so `buildMagnet({ infoHash: meta.infoHash, infoHashV2: … })` is right for every version).
   */
  infoHash?: Uint8Array | string;
  /** The v2 info-hash (32 bytes, or 64 hex digits): emitted as `xt=urn:btmh:1220…` (BEP 52). */
  infoHashV2?: Uint8Array | string;
  name?: string;
  trackers?: readonly string[];
  peers?: readonly string[];
}

/**
 * Build a magnet URI: `magnet:?xt=urn:btih:<hex>&xt=urn:btmh:1220<hex>&dn=…&tr=…&x.pe=…` (btih for v1 and hybrid,
 * btmh for v2 and hybrid).
 * @throws BtError('BAD_MAGNET') when an info-hash is malformed or both are missing.
 */
export function buildMagnet(m: MagnetInput): string {
  let v2: Buffer | undefined;
  if (m.infoHashV2 !== undefined) {
    v2 = typeof m.infoHashV2 === 'string'
      ? (/^[0-9a-fA-F]{64}$/.test(m.infoHashV2) ? Buffer.from(m.infoHashV2, 'hex') : undefined)
      : Buffer.from(m.infoHashV2);
    if (v2 === undefined || v2.length !== 32) bad('v2 info-hash must be 32 bytes or 64 hex characters');
  }
  let hash: Buffer | undefined;
  if (m.infoHash !== undefined) {
    hash = typeof m.infoHash === 'string' ? parseInfoHash(m.infoHash) : Buffer.from(m.infoHash);
    if (hash === undefined || hash.length !== 20) bad('info-hash must be 20 bytes, 40 hex or 32 base32 characters');
    if (v2 !== undefined && hash.equals(v2.subarray(0, 20))) hash = undefined; // a v2-only torrent's wire name
  }
  if (hash === undefined && v2 === undefined) bad('no info-hash');
  const xts: string[] = [];
  if (hash !== undefined) xts.push(`xt=urn:btih:${hash.toString('hex')}`);
  if (v2 !== undefined) xts.push(`xt=urn:btmh:1220${v2.toString('hex')}`);
  let uri = `magnet:?${xts.join('&')}`;
  if (m.name !== undefined) uri += `&dn=${encodeURIComponent(m.name)}`;
  for (const t of m.trackers ?? []) uri += `&tr=${encodeURIComponent(t)}`;
  for (const p of m.peers ?? []) uri += `&x.pe=${encodeURIComponent(p).replace(/%3A/g, ':').replace(/%5B/g, '[').replace(/%5D/g, ']')}`;
  return uri;
}

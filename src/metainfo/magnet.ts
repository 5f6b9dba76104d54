/**
 * Magnet URIs (BEP 9 "magnet URI format"; `x.pe` peer addresses as in libtorrent).
 *
 * Invariant: a `MagnetInfo` always has a 20-byte `infoHash`; trackers and peers are de-duplicated, non-empty, and
 * capped at {@link MAX_MAGNET_ITEMS} each (the rest are ignored). `parseMagnet(buildMagnet(x))` gives back `x`.
 *
 * Accepted: `xt=urn:btih:` with 40 hex digits or 32 base32 characters (either case); numbered keys (`tr.1`, `xt.2`);
 * `dn` with `+` for spaces. The first btih wins. Tracker URLs are kept as given (the tracker layer filters schemes and
 * addresses, reliability rule 12 in docs/design/reliability.md); `x.pe` entries that are not `host:port` / `[v6]:port`
 * are dropped. Rejected with BtError 'BAD_MAGNET': not `magnet:?`, longer than {@link MAX_MAGNET_LENGTH}, no btih
 * (including v2-only `urn:btmh:` links), a malformed hash, or malformed percent-encoding.
 */
import { BtError } from '../util/errors.js';
import { tryParsePeerAddress } from '../util/peer-address.js';

/** What a magnet link tells us. */
export interface MagnetInfo {
  infoHash: Buffer;
  infoHashHex: string;
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
  let sawV2 = false;
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
      } else if (/^urn:btmh:/i.test(xt)) {
        sawV2 = true;
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
  if (infoHash === undefined) {
    bad(sawV2 ? 'v2-only magnet links (urn:btmh) are not supported' : 'no xt=urn:btih: info-hash');
  }
  const out: MagnetInfo = { infoHash, infoHashHex: infoHash.toString('hex'), trackers, peers };
  if (name !== undefined) out.name = name;
  return out;
}

/** What {@link buildMagnet} takes. */
export interface MagnetInput {
  /** 20 bytes, or 40 hex / 32 base32 characters. */
  infoHash: Uint8Array | string;
  name?: string;
  trackers?: readonly string[];
  peers?: readonly string[];
}

/**
 * Build a magnet URI: `magnet:?xt=urn:btih:<hex>&dn=…&tr=…&x.pe=…`.
 * @throws BtError('BAD_MAGNET') when the info-hash is malformed.
 */
export function buildMagnet(m: MagnetInput): string {
  const hash = typeof m.infoHash === 'string' ? parseInfoHash(m.infoHash) : Buffer.from(m.infoHash);
  if (hash === undefined || hash.length !== 20) bad('info-hash must be 20 bytes, 40 hex or 32 base32 characters');
  let uri = `magnet:?xt=urn:btih:${hash.toString('hex')}`;
  if (m.name !== undefined) uri += `&dn=${encodeURIComponent(m.name)}`;
  for (const t of m.trackers ?? []) uri += `&tr=${encodeURIComponent(t)}`;
  for (const p of m.peers ?? []) uri += `&x.pe=${encodeURIComponent(p).replace(/%3A/g, ':').replace(/%5B/g, '[').replace(/%5D/g, ']')}`;
  return uri;
}

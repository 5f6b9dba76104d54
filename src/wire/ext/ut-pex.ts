/**
 * ut_pex payloads (BEP 11, peer exchange): a bencoded dictionary of compact peer lists.
 *
 *   added / added.f / dropped      IPv4, 6 bytes per peer, one flag byte per added peer
 *   added6 / added6.f / dropped6   IPv6, 18 bytes per peer
 *
 * Invariants:
 * - `decodeUtPex` never throws: every problem is a typed {@link PexDecodeError} in the result, so the caller decides
 *   whether to ignore the message or drop the peer.
 * - Decoding is bounded: payload ≤ {@link PEX_MAX_PAYLOAD} bytes, bencode depth ≤ 4 and ≤ 1000 tokens, and at most
 *   {@link PEX_MAX_PEERS} entries are taken from each of the four lists; the rest are counted in `ignored`.
 * - A compact list whose length is not a multiple of 6 (IPv4) or 18 (IPv6), or a known key that is not a byte
 *   string, rejects the whole message.
 * - Entries nobody can listen on (port 0, unspecified, multicast, broadcast) and duplicates are skipped and counted in
 *   `invalid`. Private and loopback addresses are kept: filtering them is the caller's policy (reliability rule 12 in
 *   docs/design/reliability.md).
 * - Decoded values hold no views into the payload.
 */
import { decode, encode, isDict } from '../../bencode/index.js';
import type { BDict, BValue } from '../../bencode/index.js';
import { COMPACT_V4_LENGTH, COMPACT_V6_LENGTH, compactAddr, isUnusableAddress, type HostPort } from './ip.js';
import { formatIPv4, formatIPv6, isV4Mapped } from '../../util/ip.js';
import { formatPeerAddress } from '../../util/peer-address.js';

/** Peer flags in `added.f` / `added6.f` (BEP 11). */
export const PexFlag = {
  /** Prefers encryption (the `e` field of its extended handshake). */
  ENCRYPTION: 0x01,
  /** Seed or upload-only. */
  SEED: 0x02,
  /** Supports uTP. */
  UTP: 0x04,
  /** Supports ut_holepunch. */
  HOLEPUNCH: 0x08,
  /** Reachable: we reached it with an outgoing connection. */
  REACHABLE: 0x10,
} as const;

/**
 * Largest ut_pex payload we decode. A conforming message (≤ 50 added and 50 dropped, both families) is under 3 KiB;
 * libtorrent accepts up to 500 KiB, but nothing legitimate comes near 64 KiB, and our cap bounds the work per message.
 */
export const PEX_MAX_PAYLOAD = 64 * 1024;
/** Most entries taken from each list of one message (BEP 11 / the Azureus–µTorrent convention: 50). */
export const PEX_MAX_PEERS = 50;

/** A peer in an `added` list. */
export interface PexPeer extends HostPort {
  /** {@link PexFlag} bits (0 when the sender gave none). */
  flags: number;
}

/** What a ut_pex message says: peers the sender connected to, and peers it dropped. */
export interface PexMessage {
  added: PexPeer[];
  dropped: HostPort[];
}

/** A decoded ut_pex message. */
export interface DecodedPex extends PexMessage {
  /** Entries beyond {@link PEX_MAX_PEERS} per list that were not taken. */
  ignored: number;
  /** Entries skipped as unusable (port 0, unspecified, multicast, broadcast) or duplicated. */
  invalid: number;
}

/** Why a ut_pex payload was rejected. */
export type PexDecodeError =
  | 'TOO_LARGE'   // payload over PEX_MAX_PAYLOAD
  | 'BENCODE'     // not bencode, or over the depth/token limits
  | 'NOT_DICT'    // bencode, but not a dictionary
  | 'BAD_TYPE'    // a known key whose value is not a byte string
  | 'BAD_LENGTH'; // a compact list whose length is not a multiple of 6 / 18

/** Result of {@link decodeUtPex}. */
export type PexDecodeResult =
  | { ok: true; value: DecodedPex }
  | { ok: false; error: PexDecodeError; message: string };

const KEYS = ['added', 'added.f', 'dropped', 'added6', 'added6.f', 'dropped6'] as const;

/**
 * Encodes a ut_pex payload. Peers are split by address family; IPv4-mapped IPv6 addresses go in the IPv4 lists.
 * Empty lists are left out (BEP 11 lists hold "one or more contacts"); `added.f` is sent with every `added`.
 * Entries whose host is not an IP literal or whose port is not 1..65535 are skipped. The caller enforces the
 * 50-per-list limit (PexState does).
 */
export function encodeUtPex(msg: Partial<PexMessage>): Buffer {
  const added4: Buffer[] = [];
  const flags4: number[] = [];
  const added6: Buffer[] = [];
  const flags6: number[] = [];
  const dropped4: Buffer[] = [];
  const dropped6: Buffer[] = [];
  for (const p of msg.added ?? []) {
    const c = compactAddr(p.host, p.port);
    if (c === null) continue;
    if (c.length === COMPACT_V4_LENGTH) { added4.push(c); flags4.push(p.flags & 0xff); } else { added6.push(c); flags6.push(p.flags & 0xff); }
  }
  for (const p of msg.dropped ?? []) {
    const c = compactAddr(p.host, p.port);
    if (c === null) continue;
    (c.length === COMPACT_V4_LENGTH ? dropped4 : dropped6).push(c);
  }
  const some = (bufs: Buffer[]): Buffer | undefined => (bufs.length > 0 ? Buffer.concat(bufs) : undefined);
  return encode({
    added: some(added4),
    'added.f': added4.length > 0 ? Buffer.from(flags4) : undefined,
    dropped: some(dropped4),
    added6: some(added6),
    'added6.f': added6.length > 0 ? Buffer.from(flags6) : undefined,
    dropped6: some(dropped6),
  });
}

function fail(error: PexDecodeError, message: string): PexDecodeResult {
  return { ok: false, error, message: `ut_pex: ${message}` };
}

/**
 * Decodes a ut_pex payload. Never throws.
 * @param opts.maxPeers entries taken per list (default {@link PEX_MAX_PEERS}).
 */
export function decodeUtPex(payload: Buffer, opts: { maxPeers?: number } = {}): PexDecodeResult {
  const maxPeers = opts.maxPeers ?? PEX_MAX_PEERS;
  if (payload.length > PEX_MAX_PAYLOAD) return fail('TOO_LARGE', `payload of ${payload.length} bytes exceeds ${PEX_MAX_PAYLOAD}`);
  let value: BValue;
  try {
    value = decode(payload, { maxDepth: 4, maxTokens: 1000 }).value;
  } catch (e) {
    return fail('BENCODE', e instanceof Error ? e.message : String(e));
  }
  if (!isDict(value)) return fail('NOT_DICT', 'payload is not a dictionary');
  const d: BDict = value;
  const field: Partial<Record<(typeof KEYS)[number], Buffer>> = {};
  for (const k of KEYS) {
    const v = d.get(k);
    if (v === undefined) continue;
    if (!Buffer.isBuffer(v)) return fail('BAD_TYPE', `${k} is not a byte string`);
    field[k] = v;
  }
  for (const [k, size] of [['added', 6], ['dropped', 6], ['added6', 18], ['dropped6', 18]] as const) {
    const v = field[k];
    if (v !== undefined && v.length % size !== 0) return fail('BAD_LENGTH', `${k} is ${v.length} bytes, not a multiple of ${size}`);
  }

  const out: DecodedPex = { added: [], dropped: [], ignored: 0, invalid: 0 };
  const seenAdded = new Set<string>();
  const seenDropped = new Set<string>();
  const take = (buf: Buffer | undefined, family: 4 | 6, flags: Buffer | undefined, into: HostPort[] | PexPeer[], seen: Set<string>): void => {
    if (buf === undefined) return;
    const size = family === 4 ? COMPACT_V4_LENGTH : COMPACT_V6_LENGTH;
    const count = buf.length / size;
    let taken = 0;
    let i = 0;
    for (; i < count && taken < maxPeers; i++) {
      const off = i * size;
      const port = buf.readUInt16BE(off + size - 2);
      if (port === 0 || isUnusableAddress(buf.subarray(off, off + size - 2))) { out.invalid++; continue; }
      // An IPv4-mapped entry in added6 is the IPv4 peer it maps to (so it de-duplicates against `added`).
      const host = family === 4 ? formatIPv4(buf, off)
        : isV4Mapped(buf.subarray(off, off + 16)) ? formatIPv4(buf, off + 12) : formatIPv6(buf, off);
      const key = formatPeerAddress(host, port);
      if (seen.has(key)) { out.invalid++; continue; }
      seen.add(key);
      taken++;
      if (flags === undefined) (into as HostPort[]).push({ host, port });
      else (into as PexPeer[]).push({ host, port, flags: flags[i] ?? 0 });
    }
    out.ignored += count - i;
  };
  const noFlags = Buffer.alloc(0);
  take(field.added, 4, field['added.f'] ?? noFlags, out.added, seenAdded);
  take(field.added6, 6, field['added6.f'] ?? noFlags, out.added, seenAdded);
  take(field.dropped, 4, undefined, out.dropped, seenDropped);
  take(field.dropped6, 6, undefined, out.dropped, seenDropped);
  return { ok: true, value: out };
}

/**
 * The canonical allowed-fast set (BEP 6, "Allowed Fast Set Generation").
 *
 * x = (ip & 0xFFFFFF00) ++ infohash; repeat x = SHA1(x) and cut it into five big-endian uint32s, each taken modulo
 * the piece count, adding indexes not yet in the set until it holds k of them.
 *
 * Invariants: the result is deterministic, holds distinct indexes < pieceCount in generation order, and the set for
 * k is a prefix of the set for k+1 (the BEP's "same k plus one more" property). SHA-1 is injected so the module
 * stays pure. k is capped at pieceCount (the BEP's loop would never end otherwise).
 */

/** SHA-1 digest function: 20 bytes out. */
export type Sha1 = (data: Buffer) => Buffer;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted-quad IPv4 address (or an IPv4-mapped IPv6 one, `::ffff:a.b.c.d`) to a uint32, or `null`. */
function parseIpv4(ip: string): number | null {
  const s = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip;
  const m = IPV4.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return null; // no octal-looking octets
    const o = Number(part);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

/**
 * The first `k` pieces of the allowed-fast set that a peer at `ipv4` gets for this torrent, in BEP 6 order.
 *
 * @param infoHash 20-byte info-hash.
 * @param ipv4 the peer's address as seen by us: dotted quad, or IPv4-mapped IPv6 (`::ffff:1.2.3.4`).
 *   BEP 6 has no provision for IPv6, so for any other IPv6 address the set is empty.
 * @param pieceCount number of pieces in the torrent; 0 gives an empty set.
 * @param k wanted set size (BEP 6 suggests 10); capped at `pieceCount`.
 * @param sha1 SHA-1 implementation, e.g. `(b) => createHash('sha1').update(b).digest()`.
 * @throws RangeError on a malformed address, an info-hash that is not 20 bytes, or a negative/non-integer k.
 */
export function allowedFastSet(infoHash: Buffer, ipv4: string, pieceCount: number, k: number, sha1: Sha1): number[] {
  if (infoHash.length !== 20) throw new RangeError(`info-hash must be 20 bytes, got ${infoHash.length}`);
  if (!Number.isSafeInteger(k) || k < 0) throw new RangeError(`allowed-fast k must be a non-negative integer: ${k}`);
  if (!Number.isSafeInteger(pieceCount) || pieceCount < 0 || pieceCount > 0xffffffff) {
    throw new RangeError(`piece count out of range: ${pieceCount}`);
  }
  const ip = parseIpv4(ipv4);
  if (ip === null) {
    if (ipv4.includes(':')) return [];
    throw new RangeError(`not an IPv4 address: ${JSON.stringify(ipv4)}`);
  }
  const want = Math.min(k, pieceCount);
  const out: number[] = [];
  if (want === 0) return out;
  const seen = new Set<number>();
  let x: Buffer = Buffer.allocUnsafe(24);
  x.writeUInt32BE((ip & 0xffffff00) >>> 0, 0);
  infoHash.copy(x, 4);
  while (out.length < want) {
    x = sha1(x);
    for (let j = 0; j + 4 <= 20 && out.length < want; j += 4) {
      const index = x.readUInt32BE(j) % pieceCount;
      if (!seen.has(index)) {
        seen.add(index);
        out.push(index);
      }
    }
  }
  return out;
}

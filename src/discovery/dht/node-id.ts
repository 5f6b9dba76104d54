/**
 * Node ids [pure]: XOR distance (BEP 5 / Kademlia), the bucket index of an id, random ids inside a bucket's range,
 * and BEP 42 ("DHT security extension") ids derived from our external IP with CRC32-C.
 *
 * Invariants:
 * - Every id and every distance is ID_LENGTH (20) bytes; functions given other lengths throw BtError('INTERNAL')
 *   (callers validate wire input before it gets here: krpc.ts refuses ids that are not 20 bytes).
 * - BEP 42: for an IPv4 address, crc = crc32c((ip & 0x030f3fff) | (r << 29)) with r = id[19] & 7; the first 21 bits of
 *   the id are the first 21 bits of crc. IPv6 uses the mask 0x0103070f1f3f7fff on the first 8 bytes, r << 5 in the
 *   first byte. Loopback, private and link-local addresses are exempt (every id is valid for them).
 */
import { BtError } from '../../util/errors.js';
import { parseIp, isV4Mapped } from '../../util/ip.js';
import { ID_LENGTH } from './types.js';

function checkId(b: Buffer, what: string): void {
  if (b.length !== ID_LENGTH) throw new BtError('INTERNAL', `${what} is ${b.length} bytes, not ${ID_LENGTH}`);
}

/** a XOR b (20 bytes). */
export function xorDistance(a: Buffer, b: Buffer): Buffer {
  checkId(a, 'id a');
  checkId(b, 'id b');
  const out = Buffer.alloc(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Compares the distances of `a` and `b` to `target`: < 0 when a is closer, > 0 when b is closer, 0 when a equals b. */
export function compareDistance(target: Buffer, a: Buffer, b: Buffer): number {
  checkId(target, 'target');
  checkId(a, 'id a');
  checkId(b, 'id b');
  for (let i = 0; i < ID_LENGTH; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/** Number of leading bits `ownId` and `id` have in common: 0..160 (160 when they are equal). */
export function bucketIndexOf(ownId: Buffer, id: Buffer): number {
  checkId(ownId, 'own id');
  checkId(id, 'id');
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = ownId[i]! ^ id[i]!;
    if (x !== 0) return i * 8 + (Math.clz32(x) - 24);
  }
  return ID_LENGTH * 8;
}

/**
 * A random id whose first `bits` bits (0..160) are those of `prefixOf`, the rest from `randomBytes`.
 * (A bucket that holds ids sharing `bits` leading bits with our id is refreshed by looking one of these up.)
 */
export function randomIdWithPrefix(prefixOf: Buffer, bits: number, randomBytes: (n: number) => Buffer): Buffer {
  checkId(prefixOf, 'prefix id');
  if (!Number.isInteger(bits) || bits < 0 || bits > ID_LENGTH * 8) throw new BtError('INTERNAL', `prefix of ${bits} bits`);
  const rnd = randomBytes(ID_LENGTH);
  if (rnd.length < ID_LENGTH) throw new BtError('INTERNAL', `randomBytes gave ${rnd.length} bytes`);
  const out = Buffer.alloc(ID_LENGTH);
  for (let i = 0; i < ID_LENGTH; i++) {
    const keep = bits >= (i + 1) * 8 ? 0xff : bits <= i * 8 ? 0 : (0xff << (8 - (bits - i * 8))) & 0xff;
    out[i] = (prefixOf[i]! & keep) | (rnd[i]! & ~keep & 0xff);
  }
  return out;
}

const CRC32C_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC32-C (Castagnoli, as BEP 42 uses), unsigned 32-bit. crc32c("123456789") = 0xe3069283. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The address bytes of an IP literal (IPv4-mapped IPv6 as its 4 IPv4 bytes), or null. */
function ipBytes(ip: string): Buffer | null {
  const b = parseIp(ip);
  if (b === null) return null;
  return isV4Mapped(b) ? b.subarray(12, 16) : b;
}

/**
 * Loopback, private and link-local addresses (BEP 42 exempts them): 127/8, 10/8, 172.16/12, 192.168/16,
 * 169.254/16, and for IPv6 ::1, fc00::/7, fe80::/10. False for anything that is not an IP literal.
 */
export function isPrivateOrLoopback(ip: string): boolean {
  const b = ipBytes(ip);
  if (b === null) return false;
  if (b.length === 4) {
    const [a, c] = [b[0]!, b[1]!];
    return a === 127 || a === 10 || (a === 172 && (c & 0xf0) === 16) || (a === 192 && c === 168) || (a === 169 && c === 254);
  }
  let loopback = b[15] === 1;
  for (let i = 0; i < 15 && loopback; i++) if (b[i] !== 0) loopback = false;
  return loopback || (b[0]! & 0xfe) === 0xfc || (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80);
}

/** The CRC of BEP 42 for address bytes `addr` (4 or 16) and r (0..7). */
function bep42Crc(addr: Buffer, r: number): number {
  if (addr.length === 4) {
    const masked = Buffer.from([addr[0]! & 0x03, addr[1]! & 0x0f, addr[2]! & 0x3f, addr[3]! & 0xff]);
    masked[0] = masked[0]! | ((r & 7) << 5);
    return crc32c(masked);
  }
  const mask = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];
  const masked = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) masked[i] = addr[i]! & mask[i]!;
  masked[0] = masked[0]! | ((r & 7) << 5);
  return crc32c(masked);
}

/**
 * A BEP 42 id for our external address `ip`: the first 21 bits from the CRC, the rest random, the last byte the random
 * value whose low 3 bits are r. `ip` that is not an IP literal: a fully random id (we do not know our address yet).
 */
export function bep42Id(ip: string, randomBytes: (n: number) => Buffer): Buffer {
  const rnd = randomBytes(ID_LENGTH);
  if (rnd.length < ID_LENGTH) throw new BtError('INTERNAL', `randomBytes gave ${rnd.length} bytes`);
  const id = Buffer.from(rnd.subarray(0, ID_LENGTH));
  const addr = ipBytes(ip);
  if (addr === null) return id;
  const crc = bep42Crc(addr, id[19]! & 7);
  id[0] = (crc >>> 24) & 0xff;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07);
  return id;
}

/**
 * True when `id` is a valid BEP 42 id for `ip` (its first 21 bits match the CRC), or when `ip` is exempt
 * (loopback, private, link-local). False for an id that is not 20 bytes or an `ip` that is not an IP literal.
 */
export function isBep42Valid(id: Buffer, ip: string): boolean {
  if (id.length !== ID_LENGTH) return false;
  const addr = ipBytes(ip);
  if (addr === null) return false;
  if (isPrivateOrLoopback(ip)) return true;
  const crc = bep42Crc(addr, id[19]! & 7);
  return id[0] === ((crc >>> 24) & 0xff) && id[1] === ((crc >>> 16) & 0xff) && (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8);
}

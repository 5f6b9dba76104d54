/**
 * The Diffie-Hellman exchange of MSE/PE: the 768-bit prime P of the spec, generator G = 2, keys as 96-byte
 * big-endian numbers.
 *
 * Pure: the private key comes from the caller (random bytes). BigInt modular exponentiation by squaring; a
 * 160-bit private exponent (the spec asks for at least 128 bits) keeps one key agreement around a millisecond.
 *
 * Invariant: a public key we accept is in [2, P-2]; 0, 1, P-1 and anything ≥ P are refused (they would make the
 * shared secret predictable).
 */
import { BtError } from '../../util/errors.js';

/** The MSE prime (768 bits, the Oakley group 1 prime). */
export const MSE_PRIME = BigInt('0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563');
export const MSE_GENERATOR = 2n;
/** Bytes of a public key or shared secret on the wire. */
export const MSE_KEY_BYTES = 96;
/** Bytes of private key we draw. */
export const MSE_PRIVATE_BYTES = 20;

export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    e >>= 1n;
    b = (b * b) % mod;
  }
  return result;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex'));
}

/** `n` as `MSE_KEY_BYTES` big-endian bytes (left-padded with zeros). */
export function bigIntToKey(n: bigint): Buffer {
  const hex = n.toString(16).padStart(MSE_KEY_BYTES * 2, '0');
  if (hex.length > MSE_KEY_BYTES * 2) throw new RangeError('number too large for a 96-byte key');
  return Buffer.from(hex, 'hex');
}

export interface DhKeyPair { readonly privateKey: bigint; readonly publicKey: Buffer }

/** A key pair from `MSE_PRIVATE_BYTES` random bytes. */
export function dhKeyPair(random: Uint8Array): DhKeyPair {
  let x = bytesToBigInt(random);
  if (x < 2n) x += 2n; // an all-zero draw must not give the public key 1
  return { privateKey: x, publicKey: bigIntToKey(modPow(MSE_GENERATOR, x, MSE_PRIME)) };
}

/** Refuse degenerate public keys (BtError HANDSHAKE); the key as a number otherwise. */
export function checkPublicKey(key: Uint8Array): bigint {
  if (key.length !== MSE_KEY_BYTES) throw new BtError('HANDSHAKE', `MSE public key must be ${MSE_KEY_BYTES} bytes`);
  const y = bytesToBigInt(key);
  if (y <= 1n || y >= MSE_PRIME - 1n) throw new BtError('HANDSHAKE', 'degenerate MSE public key');
  return y;
}

/** The shared secret S = Y^x mod P as 96 bytes; throws on a degenerate `theirPublic`. */
export function dhSecret(own: DhKeyPair, theirPublic: Uint8Array): Buffer {
  return bigIntToKey(modPow(checkPublicKey(theirPublic), own.privateKey, MSE_PRIME));
}

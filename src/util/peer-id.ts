/**
 * Peer ids in Azureus style (BEP 20): {@link CLIENT_PREFIX} (`-bp0100-` for 0.1.0, see version.ts) followed by 12
 * random printable bytes.
 * The randomness is injected, so this module stays pure.
 */
import { CLIENT_PREFIX } from './version.js';

export { CLIENT_PREFIX };
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function makePeerId(randomBytes: (n: number) => Uint8Array, prefix = CLIENT_PREFIX): Buffer {
  const id = Buffer.alloc(20);
  id.write(prefix.slice(0, 20), 'latin1');
  const rnd = randomBytes(20 - prefix.length);
  for (let i = prefix.length; i < 20; i++) id[i] = ALPHABET.charCodeAt(rnd[i - prefix.length]! % ALPHABET.length);
  return id;
}

/** A printable client name from a peer id, e.g. "-lt2080-" → "lt2080", for logs. */
export function describePeerId(id: Uint8Array): string {
  const s = Buffer.from(id).toString('latin1');
  const m = /^-([A-Za-z0-9.]{2,6})-/.exec(s);
  if (m) return m[1]!;
  return Buffer.from(id.subarray(0, 8)).toString('hex');
}

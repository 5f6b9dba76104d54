/**
 * Announce tokens (BEP 5) [pure]: a get_peers answer carries a token bound to the requester's IP; an announce_peer is
 * accepted only with a token we gave that IP recently.
 *
 * Invariants:
 * - token = the first TOKEN_BYTES bytes of SHA-1(secret ‖ IP bytes) (an IP that is not a literal: its UTF-8 text).
 * - The secret is replaced when `now()` reaches the rotation time (checked lazily on every call, no timer); the
 *   previous secret is still accepted, so a token stays valid for at least `rotateMs` and at most 2 × `rotateMs`.
 *   After a silence of 2 × `rotateMs` or more both secrets are new: no old token is accepted.
 * - A token is valid only when it is byte-for-byte equal to one of ours (a token of another length is invalid).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BtError } from '../../util/errors.js';
import { parseIp } from '../../util/ip.js';
import { TOKEN_ROTATE_MS } from './types.js';

/** Bytes of the tokens we issue. */
export const TOKEN_BYTES = 8;
/** Bytes of a secret. */
const SECRET_BYTES = 16;

export interface TokenKeeperOptions {
  randomBytes: (n: number) => Buffer;
  now: () => number;
  /** How often the secret changes (default TOKEN_ROTATE_MS, 5 minutes). */
  rotateMs?: number;
}

export class TokenKeeper {
  private readonly randomBytes: (n: number) => Buffer;
  private readonly now: () => number;
  private readonly rotateMs: number;
  private current: Buffer;
  private previous: Buffer;
  private rotateAt: number;

  constructor(opts: TokenKeeperOptions) {
    this.randomBytes = opts.randomBytes;
    this.now = opts.now;
    this.rotateMs = opts.rotateMs ?? TOKEN_ROTATE_MS;
    if (!(this.rotateMs > 0)) throw new BtError('INTERNAL', `token rotation of ${this.rotateMs} ms`);
    this.current = this.freshSecret();
    this.previous = this.freshSecret();
    this.rotateAt = this.now() + this.rotateMs;
  }

  /** The token for `ip` (TOKEN_BYTES bytes). */
  issue(ip: string): Buffer {
    this.rotateIfDue();
    return tokenOf(this.current, ip);
  }

  /** True when `token` is what we issue, or issued under the previous secret, for `ip`. */
  check(ip: string, token: Buffer): boolean {
    this.rotateIfDue();
    if (token.length !== TOKEN_BYTES) return false;
    return timingSafeEqual(token, tokenOf(this.current, ip)) || timingSafeEqual(token, tokenOf(this.previous, ip));
  }

  private rotateIfDue(): void {
    const now = this.now();
    if (now < this.rotateAt) return;
    // Two periods or more without a rotation: the current secret is too old to be the accepted previous one.
    this.previous = now >= this.rotateAt + this.rotateMs ? this.freshSecret() : this.current;
    this.current = this.freshSecret();
    this.rotateAt = now + this.rotateMs;
  }

  private freshSecret(): Buffer {
    const b = this.randomBytes(SECRET_BYTES);
    if (b.length < SECRET_BYTES) throw new BtError('INTERNAL', `randomBytes gave ${b.length} bytes`);
    return Buffer.from(b.subarray(0, SECRET_BYTES));
  }
}

function tokenOf(secret: Buffer, ip: string): Buffer {
  const ipBytes = parseIp(ip) ?? Buffer.from(ip, 'utf8');
  return createHash('sha1').update(secret).update(ipBytes).digest().subarray(0, TOKEN_BYTES);
}

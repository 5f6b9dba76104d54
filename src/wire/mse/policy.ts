/**
 * The `encryption` setting (MSE/PE) and what it means for each side of a connection, plus the one outgoing
 * handshake path every dialler shares (torrents' peer managers and the metadata fetch).
 *
 * - `disabled`: plaintext BitTorrent only; an incoming MSE handshake is refused.
 * - `enabled` (the default, as libtorrent's `pe_enabled`): incoming plaintext and MSE both accepted; outgoing
 *   connections try MSE first (offering RC4 and plaintext) and, when that attempt fails, the next one to that peer
 *   is plaintext (and the next after another failure MSE again). As a receiver we pick plaintext when the initiator
 *   offers both (libtorrent's `prefer_rc4 = false`): the header is hidden, the bulk costs no RC4.
 * - `forced`: MSE with RC4 only, both ways; plaintext handshakes are refused.
 *
 * Invariant: under `forced` no byte of a BitTorrent message is ever sent or accepted in the clear.
 */
import { randomBytes } from 'node:crypto';
import type { PeerStream } from '../../net/transport.js';
import type { Clock } from '../../util/clock.js';
import { encodeHandshake, type Handshake } from '../codec/index.js';
import { readHandshake } from '../connection.js';
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, type MseReceiverOptions } from './handshake.js';
import { mseConnect } from './stream.js';

export type EncryptionPolicy = 'disabled' | 'enabled' | 'forced';
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = ['disabled', 'enabled', 'forced'];
export const DEFAULT_ENCRYPTION: EncryptionPolicy = 'enabled';

export function isEncryptionPolicy(v: unknown): v is EncryptionPolicy {
  return typeof v === 'string' && (ENCRYPTION_POLICIES as readonly string[]).includes(v);
}

/** What we accept as an MSE receiver under `policy` (never called for `disabled`). */
export function receiverMethods(policy: EncryptionPolicy): Pick<MseReceiverOptions, 'allowed' | 'prefer'> {
  return policy === 'forced'
    ? { allowed: CRYPTO_RC4, prefer: CRYPTO_RC4 }
    : { allowed: CRYPTO_PLAINTEXT | CRYPTO_RC4, prefer: CRYPTO_PLAINTEXT };
}

/** crypto_provide of our outgoing MSE handshakes. */
export function initiatorProvide(policy: EncryptionPolicy): number {
  return policy === 'forced' ? CRYPTO_RC4 : CRYPTO_PLAINTEXT | CRYPTO_RC4;
}

/** Whether an incoming connection of this kind may proceed under `policy`; the refusal reason otherwise. */
export function incomingRefusal(policy: EncryptionPolicy, kind: 'plain' | 'mse'): string | null {
  if (kind === 'mse' && policy === 'disabled') return 'encrypted handshake refused (encryption disabled)';
  if (kind === 'plain' && policy === 'forced') return 'plaintext handshake refused (encryption forced)';
  return null;
}

export interface OutgoingHandshake {
  /** The stream to speak BitTorrent over (RC4-wrapped when that was chosen). */
  stream: PeerStream;
  handshake: Handshake;
  rest: Buffer;
  /** The connection went through MSE (RC4 or plaintext after an MSE header). */
  encrypted: boolean;
}

/**
 * Send our BitTorrent handshake on a freshly opened stream and read theirs: through MSE when `encrypted` (our
 * handshake rides in the initial payload, so no round trip is added), in the clear otherwise. Rejects with a
 * BtError (HANDSHAKE, TIMEOUT); the caller destroys `stream` then.
 */
export async function handshakeOut(stream: PeerStream, o: {
  encrypted: boolean; policy: EncryptionPolicy; reserved: Buffer; infoHash: Buffer; peerId: Buffer; timeoutMs: number; clock: Clock;
  /** Random bytes for the DH key and padding (default node:crypto's). */
  random?: (n: number) => Buffer;
}): Promise<OutgoingHandshake> {
  const ours = encodeHandshake({ reserved: o.reserved, infoHash: o.infoHash, peerId: o.peerId });
  if (!o.encrypted) {
    stream.write(ours);
    return { ...(await readHandshake(stream, o.timeoutMs, undefined, o.clock)), stream, encrypted: false };
  }
  const started = o.clock.now();
  const mse = await mseConnect(stream, {
    infoHash: o.infoHash, provide: initiatorProvide(o.policy), initialPayload: ours, random: o.random ?? ((n) => randomBytes(n)),
  }, o.timeoutMs, o.clock);
  const left = Math.max(1, o.timeoutMs - (o.clock.now() - started));
  return { ...(await readHandshake(mse.stream, left, mse.payload, o.clock)), stream: mse.stream, encrypted: true };
}

/**
 * Message-order rules of the session (issue 11, item 1: the leniency audit; the table in docs/design/wire.md): a
 * bitfield, have-all or have-none is accepted after other messages and a second time, the latest replacing what the
 * peer had announced, as libtorrent does; a `have` before the bitfield and a repeated `have` are fine; spare bits set in
 * a bitfield are ignored. What libtorrent closes for still closes (have-all without the fast extension).
 * BEP: 3, 6, 10.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildTorrent } from '../metainfo/build.js';
import { encodeMessage, type Message } from '../wire/codec/messages.js';
import { encodeExtendedHandshake } from '../wire/ext/extended.js';
import { ReservedBit } from '../wire/codec/handshake.js';
import { peerHandshake, replay } from '../../test/support/wire-replay.js';

const PIECE = 16 * 1024;
/** 5 pieces: 3 spare bits in the bitfield's one byte. */
function torrent(): { meta: ReturnType<typeof buildTorrent>['meta']; data: Buffer } {
  const data = Buffer.alloc(4 * PIECE + 321);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 9)) & 0xff;
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += PIECE) hashes.push(createHash('sha1').update(data.subarray(off, off + PIECE)).digest());
  return { meta: buildTorrent('order.bin', PIECE, undefined, data.length, Buffer.concat(hashes), {}).meta, data };
}

const ext = (): Message => ({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: { ut_pex: 1 }, v: 'test' }) });
const bits = (hex: string): Message => ({ type: 'bitfield', bitfield: Buffer.from(hex, 'hex') });

async function run(msgs: Message[], opts: { weSeed?: boolean; pieces: number; interested?: boolean; handshakeBits?: Parameters<typeof peerHandshake>[1] }): Promise<Awaited<ReturnType<typeof replay>>> {
  const { meta, data } = torrent();
  const bytes = Buffer.concat([peerHandshake(meta, opts.handshakeBits), ...msgs.map((m) => encodeMessage(m))]);
  return replay(meta, data, bytes, {
    weSeed: opts.weSeed ?? true,
    until: (p) => p !== undefined && Math.round(p.progress * 5) === opts.pieces && p.peerInterested === (opts.interested ?? p.peerInterested),
  });
}

function assertKept(r: Awaited<ReturnType<typeof replay>>, pieces: number): void {
  assert.deepEqual(r.disconnects, [], 'the connection is kept');
  assert.ok(r.peer, 'the peer is connected');
  assert.equal(Math.round(r.peer.progress * 5), pieces, 'the peer\'s pieces');
}

test('a bitfield after the extension handshake, interested and allowed-fast is accepted (aria2, libtorrent order)', { timeout: 10_000 }, async () => {
  const r = await run([ext(), { type: 'interested' }, { type: 'allowedFast', index: 1 }, bits('c0')], { pieces: 2, interested: true });
  assertKept(r, 2);
  assert.equal(r.peer!.peerInterested, true);
});

test('a have before the bitfield, then the bitfield: kept, the bitfield gives the pieces', { timeout: 10_000 }, async () => {
  assertKept(await run([{ type: 'have', index: 4 }, bits('e0')], { pieces: 3 }), 3);
});

test('a second bitfield replaces the first', { timeout: 10_000 }, async () => {
  assertKept(await run([bits('f0'), { type: 'keepAlive' }, bits('80')], { pieces: 1 }), 1);
});

test('have-none after have-all: the peer has nothing; a repeated have is harmless', { timeout: 10_000 }, async () => {
  assertKept(await run([{ type: 'haveAll' }, { type: 'haveNone' }, { type: 'have', index: 2 }, { type: 'have', index: 2 }], { pieces: 1, weSeed: false }), 1);
});

test('a bitfield with spare bits set is accepted, the spare bits ignored', { timeout: 10_000 }, async () => {
  assertKept(await run([bits('ff')], { pieces: 5, weSeed: false }), 5);
});

test('have-all without the fast extension still closes the connection (as libtorrent)', { timeout: 10_000 }, async () => {
  const r = await run([{ type: 'haveAll' }], { pieces: -1, handshakeBits: [ReservedBit.EXTENSION_PROTOCOL] });
  assert.equal(r.disconnects.length, 1);
  assert.match(r.disconnects[0]!, /haveAll without the fast extension/);
});

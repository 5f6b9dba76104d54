import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Metainfo, TorrentFile } from '../metainfo/index.js';
import { fileRootFromLayer, pieceLayerHash, fileRootFromData } from '../metainfo/merkle.js';
import type { Storage } from '../storage/storage.js';
import { Bitfield } from '../util/bitfield.js';
import { isBtError } from '../util/errors.js';
import type { Message } from '../wire/codec/index.js';
import { HashExchange, type HashExchangeHost } from './hash-exchange.js';
import type { Peer } from './peer.js';
import { MerkleState } from './v2-hashes.js';

const PIECE = 32 * 1024; // 2 blocks per piece

/** Two files: 700 pieces (two layer chunks) and one small file, pads between (v2 layout). */
function torrent(): { meta: Metainfo; data: Buffer } {
  const sizes = [700 * PIECE - 5, 1000];
  const files: TorrentFile[] = [];
  const parts: Buffer[] = [];
  const pieceLayers = new Map<string, Buffer>();
  let offset = 0;
  sizes.forEach((size, i) => {
    const bytes = randomBytes(size);
    let root: Buffer;
    if (size > PIECE) {
      const layer = Buffer.concat(Array.from({ length: Math.ceil(size / PIECE) }, (_, p) => pieceLayerHash(bytes.subarray(p * PIECE, (p + 1) * PIECE), PIECE)));
      root = fileRootFromLayer(layer, PIECE, size);
      pieceLayers.set(root.toString('hex'), layer);
    } else {
      root = fileRootFromData(bytes);
    }
    files.push({ path: ['t', `f${i}`], relPath: `t/f${i}`, length: size, offset, piecesRoot: root });
    parts.push(bytes);
    offset += size;
    const pad = (PIECE - (size % PIECE)) % PIECE;
    if (pad && i < sizes.length - 1) {
      files.push({ path: ['t', '.pad'], relPath: 't/.pad', length: pad, offset, padding: true });
      parts.push(Buffer.alloc(pad));
      offset += pad;
    }
  });
  const meta = { files, pieceLength: PIECE, pieceCount: Math.ceil(offset / PIECE), totalLength: offset, pieceLayers, version: 'v2' } as unknown as Metainfo;
  return { meta, data: Buffer.concat(parts) };
}

interface FakePeer { peer: Peer; sent: Message[] }
function fakePeer(key: string, pieceCount: number, seed = true): FakePeer {
  const sent: Message[] = [];
  const has = seed ? Bitfield.full(pieceCount) : new Bitfield(pieceCount);
  const peer = { key, has, supportsV2: true, get isSeed() { return has.complete; }, conn: { closed: false, writableLength: 0, send: (m: Message) => { sent.push(m); } } };
  return { peer: peer as unknown as Peer, sent };
}

function host(state: MerkleState, peers: FakePeer[], extra: Partial<HashExchangeHost> = {}): HashExchangeHost & { failed: Array<[number, string[], number[] | undefined]>; learned: number; clock: { now: number } } {
  const clock = { now: 0 };
  const h = {
    state, storage: {} as Storage, now: () => clock.now, peers: () => peers.map((p) => p.peer), have: () => true,
    failed: [] as Array<[number, string[], number[] | undefined]>, learned: 0, clock,
    onPieceFailed(piece: number, who: string[], bad?: number[]) { h.failed.push([piece, who, bad]); },
    onLayersLearned() { h.learned++; },
    ...extra,
  };
  return h;
}

const requests = (p: FakePeer): Array<Extract<Message, { type: 'hashRequest' }>> =>
  p.sent.filter((m): m is Extract<Message, { type: 'hashRequest' }> => m.type === 'hashRequest');

test('missing piece layers: at most two requests per peer, one peer per chunk; answers proven, rejects and timeouts retried elsewhere', () => {
  const { meta } = torrent();
  const seedState = new MerkleState(meta);
  const state = new MerkleState({ ...meta, pieceLayers: new Map() });
  const a = fakePeer('a', meta.pieceCount);
  const b = fakePeer('b', meta.pieceCount);
  const h = host(state, [a, b]);
  const x = new HashExchange(h);
  assert.equal(x.ready, false);
  x.pumpAll();
  assert.deepEqual(requests(a).map((r) => [r.index, r.length]), [[0, 512], [512, 256]], 'both chunks to the first peer');
  assert.equal(requests(b).length, 0, 'a chunk is asked of one peer at a time');
  // A reject frees the chunk for the other peer; the refusing peer is not asked again for it.
  const r0 = requests(a)[0]!;
  const r1 = requests(a)[1]!;
  x.onMessage(a.peer, { ...r1, type: 'hashReject' });
  assert.deepEqual(requests(b).map((r) => r.index), [512]);
  // Unsolicited or mismatching answers are ignored.
  const good0 = seedState.answer(seedState.fileByRoot(r0.piecesRoot)!, r0)!;
  x.onMessage(b.peer, { ...r0, type: 'hashes', hashes: good0 });
  assert.equal(h.learned, 0);
  // A bad proof drops the peer (PROTOCOL); the chunk goes back to the pool.
  const bad = Buffer.from(good0);
  bad[bad.length - 1]! ^= 1;
  assert.throws(() => x.onMessage(a.peer, { ...r0, type: 'hashes', hashes: bad }), (e: unknown) => isBtError(e, 'PROTOCOL') && /failed their proof/.test(e.message));
  (a.peer.conn as { closed: boolean }).closed = true; // the connection closes for the protocol error
  x.onPeerGone(a.peer);
  assert.deepEqual(requests(b).map((r) => r.index), [512, 0], 'the chunk moves to the remaining peer');
  x.onMessage(b.peer, { ...r0, type: 'hashes', hashes: good0 });
  assert.equal(h.learned, 1);
  // The last chunk times out at b; after the refusal period b is asked again and answers.
  h.clock.now = 16_000;
  x.tick(h.clock.now);
  assert.equal(requests(b).length, 2, 'not asked again right away');
  h.clock.now = 47_000;
  x.tick(h.clock.now);
  const again = requests(b)[2]!;
  assert.equal(again.index, 512);
  x.onMessage(b.peer, { ...again, type: 'hashes', hashes: seedState.answer(seedState.fileByRoot(again.piecesRoot)!, again)! });
  assert.equal(x.ready, true);
  assert.deepEqual(state.completeLayers(), seedState.completeLayers());
});

test('serving: out-of-bounds requests are rejected; piece-layer requests answered at once; leaf requests read the piece (bounded per peer)', async () => {
  const { meta, data } = torrent();
  const state = new MerkleState(meta);
  const reads: Array<() => void> = [];
  const storage = {
    readPiece: (i: number) => new Promise<Buffer>((resolve) => { reads.push(() => resolve(data.subarray(i * PIECE, (i + 1) * PIECE))); }),
  } as unknown as Storage;
  const p = fakePeer('p', meta.pieceCount);
  let have = true;
  const x = new HashExchange(host(state, [p], { storage, have: () => have }));
  const root = state.files[0]!.root;
  x.onMessage(p.peer, { type: 'hashRequest', piecesRoot: root, baseLayer: 1, index: 0, length: 8193, proofLayers: 0 });
  x.onMessage(p.peer, { type: 'hashRequest', piecesRoot: Buffer.alloc(32), baseLayer: 1, index: 0, length: 2, proofLayers: 0 });
  assert.deepEqual(p.sent.map((m) => m.type), ['hashReject', 'hashReject']);
  const layerReq = { piecesRoot: root, baseLayer: 1, index: 0, length: 512, proofLayers: 9 };
  x.onMessage(p.peer, { type: 'hashRequest', ...layerReq });
  const answer = p.sent[2]!;
  assert.ok(answer.type === 'hashes' && answer.hashes.length === 32 * (512 + 1));
  // Leaf requests: 4 reads in flight at most, the 5th is rejected; a piece we lack is rejected.
  for (let k = 0; k < 5; k++) x.onMessage(p.peer, { type: 'hashRequest', piecesRoot: root, baseLayer: 0, index: 2 * k, length: 2, proofLayers: 10 });
  assert.equal(reads.length, 4);
  assert.equal(p.sent.at(-1)!.type, 'hashReject');
  for (const r of reads.splice(0)) r();
  await new Promise((r) => setImmediate(r));
  const leafAnswers = p.sent.filter((m) => m.type === 'hashes' && m.baseLayer === 0);
  assert.equal(leafAnswers.length, 4);
  have = false;
  x.onMessage(p.peer, { type: 'hashRequest', piecesRoot: root, baseLayer: 0, index: 0, length: 2, proofLayers: 10 });
  assert.equal(p.sent.at(-1)!.type, 'hashReject');
});

test('a failed piece: leaf hashes asked of a peer that sent none of it; only the bad block\'s sender is struck', () => {
  const { meta, data } = torrent();
  const state = new MerkleState(meta);
  const liar = fakePeer('liar', meta.pieceCount);
  const honest = fakePeer('honest', meta.pieceCount);
  const other = fakePeer('other', meta.pieceCount);
  const h = host(state, [liar, honest, other]);
  const x = new HashExchange(h);
  const piece = 7;
  const good = data.subarray(piece * PIECE, (piece + 1) * PIECE);
  const got = Buffer.from(good);
  got[PIECE - 10]! ^= 1; // block 1 (sent by the liar) is bad
  x.onPieceFailed(piece, state.receivedLeaves(piece, got)!, ['honest', 'liar'], ['honest', 'liar']);
  assert.equal(requests(liar).length + requests(honest).length, 0, 'senders are not asked first');
  const [req] = requests(other);
  assert.ok(req && req.baseLayer === 0 && req.index === 14 && req.length === 2 && req.proofLayers === 0);
  x.onMessage(other.peer, { ...req, type: 'hashes', hashes: state.answer(state.files[0]!, req, good)! });
  assert.deepEqual(h.failed, [[piece, ['liar'], [1]]]);
  // Nobody answers: after the timeout every contributor is struck (the v1 rule).
  x.onPieceFailed(8, state.receivedLeaves(8, got)!, ['honest', 'liar'], ['honest', 'liar']);
  h.clock.now = 31_000;
  x.tick(h.clock.now);
  assert.deepEqual(h.failed[1], [8, ['honest', 'liar'], undefined]);
});

test('serving: a peer that asks and never reads cannot make us queue answers without bound', () => {
  const { meta } = torrent();
  const state = new MerkleState(meta);
  const sent: Message[] = [];
  let queued = 0; // the socket never drains: every answer stays queued
  const conn = { closed: false, get writableLength() { return queued; }, send: (m: Message) => { sent.push(m); queued += m.type === 'hashes' ? 53 + m.hashes.length : 53; } };
  const peer = { key: 'p', has: Bitfield.full(meta.pieceCount), isSeed: true, conn } as unknown as Peer;
  const x = new HashExchange(host(state, []));
  const root = state.files[0]!.root;
  // 49 bytes in, 16 KiB out each: 10,000 requests (490 KB from the peer) would queue 164 MB.
  for (let k = 0; k < 10_000; k++) x.onMessage(peer, { type: 'hashRequest', piecesRoot: root, baseLayer: 1, index: 0, length: 512, proofLayers: 9 });
  assert.ok(sent.some((m) => m.type === 'hashes'), 'requests are answered while the queue is short');
  assert.ok(queued < 5 * 1024 * 1024, `${queued} bytes queued`);
});

/**
 * BEP 9 (ut_metadata) on loopback: `fetchMetadata` gets the info dictionary from an in-process bitpeer seed (the
 * serving side in session/extensions.ts) and returns exactly the torrent's info bytes, even when a junk peer and a
 * peer that serves wrong metadata of the right size are in the list; a dead peer list fails in bounded time; and,
 * when python3-libtorrent is present, a libtorrent seed serves metadata to fetchMetadata.
 *
 * Invariant: everything binds and dials 127.0.0.1 only; every session, server, child and temp folder is closed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { Metainfo } from '../../src/metainfo/metainfo.js';
import { fetchMetadata } from '../../src/session/metadata-fetch.js';
import { Session } from '../../src/session/session.js';
import { isBtError } from '../../src/util/errors.js';
import {
  encodeHandshake, encodeMessage, HANDSHAKE_LENGTH, makeReserved, MessageDecoder, parseHandshake, ReservedBit,
} from '../../src/wire/codec/index.js';
import { decodeExtendedHandshake, encodeExtendedHandshake } from '../../src/wire/ext/extended.js';
import { decodeUtMetadata, encodeUtMetadata, metadataPieceLength } from '../../src/wire/ext/ut-metadata.js';
import { writeRandomFile } from '../helpers/content.js';
import { findLibtorrentPython } from '../helpers/python.js';
import { Scope } from '../helpers/proc.js';

const LOCAL = '127.0.0.1';
const reserved = makeReserved([ReservedBit.EXTENSION_PROTOCOL, ReservedBit.FAST]);
const cleanups: Array<() => Promise<void>> = [];
after(async () => { for (const c of cleanups.reverse()) await c().catch(() => undefined); });

let root = '';
let meta: Metainfo;
let torrentBytes: Buffer;
let seedPort = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'bitpeer-magnet-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  // 16 KiB pieces over 36 MiB: about 44 KB of piece hashes, so the metadata spans 3 ut_metadata pieces.
  await writeRandomFile(join(root, 'data.bin'), 36 * 1024 * 1024 + 123, 'magnet');
  ({ meta, torrent: torrentBytes } = await createTorrent(join(root, 'data.bin'), { pieceLength: 16384, creationDate: null }));
  assert.ok(meta.infoBytes.length > 2 * 16384, `metadata is ${meta.infoBytes.length} bytes`);
  const s = new Session({ port: 0, host: LOCAL, pex: false, lsd: false, trackers: false, hashWorkers: 1 });
  cleanups.push(() => s.close());
  seedPort = await s.listen();
  const checked = new Promise<void>((resolve) => s.events.subscribe((e) => { if (e.event === 'checked') resolve(); }));
  await s.addTorrent(meta, { savePath: root, peers: [] });
  await checked;
});

const base = (): { infoHash: Buffer; peerId: Buffer; reserved: Buffer; listenPort: number } =>
  ({ infoHash: meta.infoHash, peerId: randomBytes(20), reserved, listenPort: 0 });

/**
 * A fake peer: answers the BitTorrent handshake for any info-hash, then either sends junk ('junk'), or plays a
 * ut_metadata peer that advertises the real size and answers every request with wrong bytes ('liar'), or answers
 * piece 0 with wrong bytes and rejects every other piece ('partial').
 */
async function fakePeer(mode: 'junk' | 'liar' | 'partial'): Promise<{ port: number; open: () => number; requests: () => number }> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let decoder: MessageDecoder | null = null;
    sock.on('data', (chunk: Buffer) => {
      if (!decoder) {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < HANDSHAKE_LENGTH) return;
        let hs;
        // A plaintext-only peer: an MSE handshake (the fetch tries one first) is not BitTorrent to it, so it hangs
        // up, and the fetch retries in plaintext.
        try { hs = parseHandshake(buf.subarray(0, HANDSHAKE_LENGTH)); } catch { sock.destroy(); return; }
        sock.write(encodeHandshake({ reserved: makeReserved([ReservedBit.EXTENSION_PROTOCOL]), infoHash: hs.infoHash, peerId: randomBytes(20) }));
        if (mode === 'junk') { sock.write(Buffer.from('\x00\x00\x00\x05\x14\x00junk-junk-junk\xff\xff\xff\xff', 'latin1')); return; }
        sock.write(encodeMessage({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: { ut_metadata: 3 }, metadataSize: meta.infoBytes.length }) }));
        decoder = new MessageDecoder(null);
        chunk = buf.subarray(HANDSHAKE_LENGTH);
      }
      decoder.push(chunk);
      for (let m = decoder.next(); m !== null; m = decoder.next()) {
        if (m.type !== 'extended' || m.id !== 3) continue;
        const req = decodeUtMetadata(m.payload);
        if (req.type !== 'request') continue;
        requests++;
        if (mode === 'partial' && req.piece !== 0) {
          sock.write(encodeMessage({ type: 'extended', id: 2, payload: encodeUtMetadata({ type: 'reject', piece: req.piece }) }));
          continue;
        }
        const data = Buffer.alloc(metadataPieceLength(meta.infoBytes.length, req.piece), 0x41);
        const payload = encodeUtMetadata({ type: 'data', piece: req.piece, totalSize: meta.infoBytes.length, data });
        sock.write(encodeMessage({ type: 'extended', id: 2, payload }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, LOCAL, r));
  cleanups.push(async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); });
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return { port: addr.port, open: () => sockets.size, requests: () => requests };
}

/** A TCP proxy to `port` that waits `delayMs` before it connects upstream (so that peer is ready last). */
async function delayedProxy(port: number, delayMs: number): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    sockets.add(down);
    down.on('error', () => undefined);
    down.pause();
    setTimeout(() => {
      if (down.destroyed) return;
      const up = connect({ host: LOCAL, port });
      sockets.add(up);
      up.on('error', () => down.destroy());
      down.on('close', () => up.destroy());
      up.on('close', () => down.destroy());
      down.pipe(up);
      up.pipe(down);
      down.resume();
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, LOCAL, r));
  cleanups.push(async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); });
  return (server.address() as { port: number }).port;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

test('fetchMetadata from a bitpeer seed returns exactly the info bytes', { timeout: 30_000 }, async () => {
  const got = await fetchMetadata({ ...base(), peers: [{ host: LOCAL, port: seedPort }], timeoutMs: 20_000 });
  assert.ok(got.equals(meta.infoBytes));
});

test('a junk peer does not break the fetch, and every socket is closed at the end', { timeout: 30_000 }, async () => {
  const junk = await fakePeer('junk');
  const got = await fetchMetadata({
    ...base(), timeoutMs: 20_000, peers: [{ host: LOCAL, port: junk.port }, { host: LOCAL, port: seedPort }],
  });
  assert.ok(got.equals(meta.infoBytes));
  assert.ok(await waitFor(() => junk.open() === 0, 5000), `junk still has ${junk.open()} open sockets`);
});

test('a peer that sends a whole wrong assembly is banned, and the next peer delivers', { timeout: 30_000 }, async () => {
  const liar = await fakePeer('liar');
  const logs: string[] = [];
  const got = await fetchMetadata({
    ...base(), timeoutMs: 20_000, maxPeers: 1, log: (m) => logs.push(m),
    peers: [{ host: LOCAL, port: liar.port }, { host: LOCAL, port: seedPort }],
  });
  assert.ok(got.equals(meta.infoBytes));
  assert.equal(liar.requests(), 3, 'the liar was asked for every piece once');
  assert.ok(logs.some((l) => l.includes(`${liar.port}: sent metadata that fails the info-hash check`)), logs.join('\n'));
  assert.ok(await waitFor(() => liar.open() === 0, 5000));
});

test('a mixed assembly that fails the check is refetched from a single peer', { timeout: 30_000 }, async () => {
  const liar = await fakePeer('partial');
  const slowSeed = await delayedProxy(seedPort, 300);
  const logs: string[] = [];
  const got = await fetchMetadata({
    ...base(), timeoutMs: 20_000, log: (m) => logs.push(m),
    peers: [{ host: LOCAL, port: liar.port }, { host: LOCAL, port: slowSeed }],
  });
  assert.ok(got.equals(meta.infoBytes));
  assert.ok(logs.some((l) => l.includes('failed the info-hash check (2 peer(s))')), logs.join('\n'));
});

test('the liar alone: the fetch fails with TIMEOUT, never resolves with wrong bytes', { timeout: 30_000 }, async () => {
  const liar = await fakePeer('liar');
  const started = Date.now();
  await assert.rejects(fetchMetadata({ ...base(), timeoutMs: 10_000, peers: [{ host: LOCAL, port: liar.port }] }),
    (e) => isBtError(e, 'TIMEOUT'));
  assert.ok(Date.now() - started < 12_000);
});

test('only a dead port: TIMEOUT within the bound; abort gives ABORTED', { timeout: 30_000 }, async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, LOCAL, r));
  const deadPort = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  const started = Date.now();
  await assert.rejects(fetchMetadata({ ...base(), timeoutMs: 3000, peers: [{ host: LOCAL, port: deadPort }] }),
    (e) => isBtError(e, 'TIMEOUT'));
  assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(fetchMetadata({ ...base(), signal: ac.signal, peers: [{ host: LOCAL, port: deadPort }] }),
    (e) => isBtError(e, 'ABORTED'));
  await assert.rejects(fetchMetadata({ ...base(), peers: [] }), (e) => isBtError(e, 'TIMEOUT'));
});

test('the seed answers an out-of-range request with a reject and serves pieces as they are', { timeout: 20_000 }, async () => {
  const sock = connect({ host: LOCAL, port: seedPort });
  cleanups.push(async () => { sock.destroy(); });
  await new Promise<void>((r, j) => { sock.once('connect', r); sock.once('error', j); });
  const got: Array<ReturnType<typeof decodeUtMetadata>> = [];
  let theirMetadataSize = 0;
  const decoder = new MessageDecoder(null);
  let buf = Buffer.alloc(0);
  let shaken = false;
  const done = new Promise<void>((resolve) => sock.on('data', (chunk: Buffer) => {
    if (!shaken) {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < HANDSHAKE_LENGTH) return;
      shaken = true;
      chunk = buf.subarray(HANDSHAKE_LENGTH);
      sock.write(encodeMessage({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: { ut_metadata: 5 } }) }));
      sock.write(Buffer.concat([99, 1].map((piece) =>
        encodeMessage({ type: 'extended', id: 2, payload: encodeUtMetadata({ type: 'request', piece }) }))));
    }
    decoder.push(chunk);
    for (let m = decoder.next(); m !== null; m = decoder.next()) {
      if (m.type !== 'extended') continue;
      if (m.id === 0) theirMetadataSize = decodeExtendedHandshake(m.payload).metadataSize ?? -1;
      if (m.id === 5) got.push(decodeUtMetadata(m.payload));
      if (got.length === 2) resolve();
    }
  }));
  sock.write(encodeHandshake({ reserved, infoHash: meta.infoHash, peerId: randomBytes(20) }));
  await done;
  sock.destroy();
  assert.equal(theirMetadataSize, meta.infoBytes.length);
  assert.deepEqual(got[0], { type: 'reject', piece: 99 });
  assert.deepEqual(got[1], { type: 'data', piece: 1, totalSize: meta.infoBytes.length, data: meta.infoBytes.subarray(16384, 32768) });
});

const python = findLibtorrentPython();
test('interop: a libtorrent seed serves metadata to fetchMetadata', { timeout: 60_000, skip: python === null ? 'no python3-libtorrent' : false }, async () => {
  const scope = new Scope();
  cleanups.push(() => scope.cleanup());
  const torrentPath = join(root, 'data.torrent');
  await writeFile(torrentPath, torrentBytes);
  const seed = scope.ltPeer(python!, ['--mode', 'seed', '--torrent', torrentPath, '--save', root, '--port', '0']);
  const e = await seed.waitForEvent('listening', 30_000);
  const port = Number(e.port);
  const got = await fetchMetadata({ ...base(), peers: [{ host: LOCAL, port }], timeoutMs: 30_000 });
  assert.ok(got.equals(meta.infoBytes));
});

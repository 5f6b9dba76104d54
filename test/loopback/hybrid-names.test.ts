/**
 * The two names of a hybrid torrent (BEP 52) on 127.0.0.1: a session finds a hybrid by its v1 info-hash and by its
 * SHA-256 truncated to 20 bytes, over plaintext and over MSE (SKEY = either name), answers with the name the peer
 * used, and upgrades a plaintext v1 connection that offers it (reserved[7] & 0x10) to the v2 name, as libtorrent 2
 * does; a v1 torrent never sets that bit. Two sessions then download a hybrid through the upgrade, and the embedded
 * tracker hands out the peers announced under either name as one swarm. A hybrid magnet (btih and btmh) announces
 * both names to its tracker and gets its metadata checked by SHA-1 and SHA-256.
 *
 * The hybrid here is a bitpeer-made v1 torrent given a v2 identity (`version` 'hybrid', `infoHashV2` = the SHA-256 of
 * its info dict): the v1 pieces carry the data, so the test needs no v2 verification, only the names.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { Metainfo } from '../../src/metainfo/index.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session, type SessionOptions } from '../../src/session/session.js';
import { encodeHandshake, hasReserved, makeReserved, parseHandshake, ReservedBit, type Handshake } from '../../src/wire/codec/index.js';
import { CRYPTO_PLAINTEXT } from '../../src/wire/mse/handshake.js';
import { mseConnect } from '../../src/wire/mse/stream.js';
import { announceHttp } from '../../src/tracker/http-client.js';
import { writeTree } from '../helpers/content.js';
import { createServer, type Server } from 'node:http';
import { encode } from '../../src/bencode/index.js';
import { PendingMagnet } from '../../src/session/pending-magnet.js';

const dirs: string[] = [];
const sessions: Session[] = [];
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Node { session: Session; events: SessionEvent[]; logs: string[]; port: number }

async function node(opts: SessionOptions = {}): Promise<Node> {
  const logs: string[] = [];
  const session = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, lsd: false, log: (m) => logs.push(m), ...opts });
  sessions.push(session);
  const events: SessionEvent[] = [];
  session.events.subscribe((e) => events.push(e));
  const port = await session.listen();
  return { session, events, logs, port };
}

function waitFor(what: string, ms: number, pred: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (pred()) { clearInterval(poll); resolve(); } else if (Date.now() - started > ms) { clearInterval(poll); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }
    }, 20);
  });
}

interface Fixture { root: string; v1: Metainfo; hybrid: Metainfo; v2Name: Buffer; data: Buffer }

let fixture: Promise<Fixture> | undefined;
function content(): Promise<Fixture> {
  return fixture ??= (async () => {
    const root = await mkdtemp(join(tmpdir(), 'bitpeer-hybrid-names-'));
    dirs.push(root);
    await writeTree(join(root, 'src', 'h'), [{ path: 'a.bin', size: 700_000 + 5 }], 'hybrid-names');
    const { meta } = await createTorrent(join(root, 'src', 'h'), { pieceLength: 64 * 1024, creationDate: null });
    const v2 = createHash('sha256').update(meta.infoBytes).digest();
    const hybrid: Metainfo = { ...meta, version: 'hybrid', infoHashV1: meta.infoHash, infoHashV2: v2 };
    return { root, v1: meta, hybrid, v2Name: v2.subarray(0, 20), data: await readFile(join(root, 'src', 'h', 'a.bin')) };
  })();
}

/** A seed session with `meta` complete on disk. */
async function seed(meta: Metainfo): Promise<Node> {
  const { root } = await content();
  const n = await node();
  const t = await n.session.addTorrent(meta, { savePath: join(root, 'src') });
  assert.equal(t.complete, true);
  return n;
}

/** Reads one 68-byte handshake from `stream`, starting with the bytes already in `first`. */
function readHandshake(stream: NodeJS.ReadableStream & { destroy(): void }, first: Buffer = Buffer.alloc(0)): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    let got = first;
    const timer = setTimeout(() => reject(new Error('no handshake within 5 s')), 5000);
    const check = (): boolean => {
      if (got.length < 68) return false;
      clearTimeout(timer);
      resolve(parseHandshake(got.subarray(0, 68)));
      return true;
    };
    if (check()) return;
    stream.on('data', (c: Buffer) => { got = Buffer.concat([got, c]); check(); });
    stream.on('close', () => { clearTimeout(timer); reject(new Error('closed before a handshake')); });
    stream.resume();
  });
}

/** Dials `port` in plaintext with `infoHash` and `reserved`; the answer's handshake. */
async function plainDial(port: number, infoHash: Buffer, reserved: Buffer): Promise<Handshake> {
  const sock = net.connect({ host: '127.0.0.1', port });
  sockets.push(sock);
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  sock.write(encodeHandshake({ reserved, infoHash, peerId: randomBytes(20) }));
  try { return await readHandshake(sock); } finally { sock.destroy(); }
}

const BASE = makeReserved([ReservedBit.FAST, ReservedBit.EXTENSION_PROTOCOL]);
const OFFER = makeReserved([ReservedBit.FAST, ReservedBit.EXTENSION_PROTOCOL, ReservedBit.V2]);

test('a hybrid is found by either name; the answer names what the peer used, or the v2 name after an upgrade offer', { timeout: 30_000 }, async () => {
  const { hybrid, v2Name } = await content();
  const s = await seed(hybrid);
  const byV2 = await plainDial(s.port, v2Name, BASE);
  assert.deepEqual(byV2.infoHash, v2Name, 'named by the truncated v2 hash: answered by it');
  assert.ok(!hasReserved(byV2.reserved, ReservedBit.V2), 'a v2 connection offers no upgrade');
  const byV1 = await plainDial(s.port, hybrid.infoHash, BASE);
  assert.deepEqual(byV1.infoHash, hybrid.infoHash, 'named by the v1 hash without the offer: answered by it');
  assert.ok(hasReserved(byV1.reserved, ReservedBit.V2), 'a hybrid\'s v1 connection offers the upgrade');
  const upgraded = await plainDial(s.port, hybrid.infoHash, OFFER);
  assert.deepEqual(upgraded.infoHash, v2Name, 'the upgrade offer is taken: answered by the v2 name');
  // Over MSE the key exchange fixes the name: SKEY = the truncated v2 hash finds the hybrid, the answer keeps it.
  const sock = net.connect({ host: '127.0.0.1', port: s.port });
  sockets.push(sock);
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const ours = encodeHandshake({ reserved: OFFER, infoHash: v2Name, peerId: randomBytes(20) });
  const mse = await mseConnect(sock, { infoHash: v2Name, provide: CRYPTO_PLAINTEXT, initialPayload: ours, random: (n) => randomBytes(n) }, 5000);
  const viaMse = await readHandshake(mse.stream as unknown as NodeJS.ReadableStream & { destroy(): void }, mse.payload);
  assert.deepEqual(viaMse.infoHash, v2Name);
  sock.destroy();
});

test('a v1 torrent never sets the v2 bit and is not found by a v2 name', { timeout: 30_000 }, async () => {
  const { v1, v2Name } = await content();
  const s = await seed(v1);
  const hs = await plainDial(s.port, v1.infoHash, OFFER);
  assert.deepEqual(hs.infoHash, v1.infoHash, 'the offer changes nothing for a v1 torrent');
  assert.ok(!hasReserved(hs.reserved, ReservedBit.V2));
  await assert.rejects(plainDial(s.port, v2Name, BASE), /closed before a handshake/);
  assert.ok(s.logs.some((l) => l.includes(`unknown info-hash ${v2Name.toString('hex')}`)), s.logs.join('\n'));
});

test('two sessions download a hybrid through the upgrade; the embedded tracker serves both names as one swarm', { timeout: 30_000 }, async () => {
  const { root, hybrid, v2Name, data } = await content();
  const s = await seed(hybrid);
  // A peer announcing under the v2 name to the seed's embedded tracker is handed out under the v1 name too.
  const params = { peerId: randomBytes(20), port: 40001, uploaded: 0, downloaded: 0, left: 1, event: 'started' as const, numwant: 50, key: 1, compact: true as const };
  const url = `http://127.0.0.1:${s.port}/announce`;
  const v2Answer = await announceHttp(url, { ...params, infoHash: v2Name }, { timeoutMs: 5000 });
  assert.ok(v2Answer.peers.some((p) => p.port === s.port), 'the seed itself is in the swarm of the v2 name');
  const v1Answer = await announceHttp(url, { ...params, peerId: randomBytes(20), port: 40002, infoHash: hybrid.infoHash }, { timeoutMs: 5000 });
  assert.ok(v1Answer.peers.some((p) => p.port === 40001), `the v2-name announcer is in the v1 swarm: ${JSON.stringify(v1Answer.peers)}`);

  // Plaintext: over MSE the key exchange fixes the name and there is no upgrade (libtorrent's rule too).
  const get = await node({ encryption: 'disabled' });
  const dir = await mkdtemp(join(root, 'dl-'));
  // At each peer-connect (emitted as the peer is attached), whether the connection is a v2 one (torrent internals).
  const v2Flags: boolean[] = [];
  get.session.events.subscribe((e) => {
    if (e.event !== 'peer-connect') return;
    const t = get.session.torrents.get(hybrid.infoHashHex) as unknown as { peers: { connected: Map<string, { supportsV2: boolean }> } };
    const p = t.peers.connected.get(e.peer);
    if (p) v2Flags.push(p.supportsV2);
  });
  await get.session.addTorrent(hybrid, { savePath: dir, peers: [{ host: '127.0.0.1', port: s.port }] });
  await waitFor('the download to complete', 20_000, () => get.events.some((e) => e.event === 'complete'));
  assert.deepEqual(await readFile(join(dir, 'h', 'a.bin')), data);
  // We dialled with the v1 name and the upgrade offer; the seed took it: the connection is a v2 one.
  assert.ok(v2Flags.length > 0 && v2Flags.every((f) => f), `v2 connections: ${JSON.stringify(v2Flags)}`);
  const added = get.events.find((e) => e.event === 'added');
  assert.ok(added && added.event === 'added' && added.version === 'hybrid' && added.infoHashV2 === hybrid.infoHashV2!.toString('hex'));
});

/** The raw bytes of `key` in a URL's query (percent-decoded, byte for byte). */
function queryBytes(url: string, key: string): Buffer | undefined {
  for (const part of (url.split('?')[1] ?? '').split('&')) {
    const eq = part.indexOf('=');
    if (part.slice(0, eq) !== key) continue;
    const v = part.slice(eq + 1);
    const out: number[] = [];
    for (let i = 0; i < v.length; i++) {
      if (v[i] === '%') { out.push(parseInt(v.slice(i + 1, i + 3), 16)); i += 2; } else out.push(v.charCodeAt(i));
    }
    return Buffer.from(out);
  }
  return undefined;
}

test('a hybrid magnet announces both names to its tracker and fetches the metadata from the peer it learns', { timeout: 30_000 }, async (t) => {
  const { hybrid, v2Name } = await content();
  const s = await seed(hybrid);
  // A recording HTTP tracker that answers every announce with the seed.
  const asked: string[] = [];
  const peer = Buffer.from([127, 0, 0, 1, s.port >> 8, s.port & 0xff]);
  const server: Server = createServer((req, res) => {
    const ih = queryBytes(req.url ?? '', 'info_hash');
    if (ih !== undefined) asked.push(ih.toString('hex'));
    res.end(encode({ interval: 60, peers: peer }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => { server.closeAllConnections(); server.close(); });
  const trackerPort = (server.address() as net.AddressInfo).port;
  const get = await node();
  const uri = `magnet:?xt=urn:btih:${hybrid.infoHashHex}&xt=urn:btmh:1220${hybrid.infoHashV2!.toString('hex')}` +
    `&tr=${encodeURIComponent(`http://127.0.0.1:${trackerPort}/announce`)}`;
  const pm = new PendingMagnet(get.session, uri, { timeoutMs: 20_000 });
  const r = await pm.promise.finally(() => pm.stop());
  assert.ok(r.torrent.includes(hybrid.infoBytes), 'the fetched torrent embeds the very info dict');
  assert.ok(asked.includes(hybrid.infoHashHex), `announced the v1 name: ${JSON.stringify(asked)}`);
  assert.ok(asked.includes(v2Name.toString('hex')), `announced the truncated v2 name: ${JSON.stringify(asked)}`);
});

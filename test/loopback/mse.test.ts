/**
 * MSE/PE between two bitpeer sessions on 127.0.0.1 (issue 11, item 2): with encryption forced on both sides the
 * data arrives intact over RC4; `enabled` dialling a `disabled` seed falls back to plaintext; `forced` against
 * `disabled` never connects, and both sides say why in one line. A raw MSE initiator checks that the seed really
 * speaks RC4 (and that garbage on the port is refused within the handshake deadline, without a crash).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
import { encodeHandshake, makeReserved, parseHandshake } from '../../src/wire/codec/index.js';
import { CRYPTO_RC4 } from '../../src/wire/mse/handshake.js';
import { mseConnect } from '../../src/wire/mse/stream.js';
import { writeTree } from '../helpers/content.js';

const dirs: string[] = [];
const sessions: Session[] = [];
const sockets: net.Socket[] = [];
after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

interface Node { session: Session; events: SessionEvent[]; logs: string[]; port: number }

async function node(opts: SessionOptions): Promise<Node> {
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

let fixture: Promise<{ root: string; meta: Metainfo; data: Buffer }> | undefined;
function content(): Promise<{ root: string; meta: Metainfo; data: Buffer }> {
  return fixture ??= (async () => {
    const root = await mkdtemp(join(tmpdir(), 'bitpeer-mse-'));
    dirs.push(root);
    await writeTree(join(root, 'src', 'c'), [{ path: 'a.bin', size: 1_500_000 + 17 }], 'mse');
    const { meta } = await createTorrent(join(root, 'src', 'c'), { pieceLength: 64 * 1024, creationDate: null });
    return { root, meta, data: await readFile(join(root, 'src', 'c', 'a.bin')) };
  })();
}

async function seedAndGet(seedEnc: SessionOptions['encryption'], getEnc: SessionOptions['encryption']): Promise<{ seed: Node; get: Node; dir: string }> {
  const { root, meta } = await content();
  const seed = await node({ encryption: seedEnc });
  const t = await seed.session.addTorrent(meta, { savePath: join(root, 'src') });
  assert.equal(t.complete, true);
  const get = await node({ encryption: getEnc });
  const dir = await mkdtemp(join(root, 'dl-'));
  await get.session.addTorrent(meta, { savePath: dir, peers: [{ host: '127.0.0.1', port: seed.port }] });
  return { seed, get, dir };
}

test('forced on both sides: the download completes over RC4 with the right bytes', { timeout: 30_000 }, async () => {
  const { data } = await content();
  const { get, dir } = await seedAndGet('forced', 'forced');
  await waitFor('the download to complete', 20_000, () => get.events.some((e) => e.event === 'complete'));
  assert.deepEqual(await readFile(join(dir, 'c', 'a.bin')), data);
  const connects = get.events.filter((e) => e.event === 'peer-connect');
  assert.ok(connects.length > 0 && connects.every((e) => e.event === 'peer-connect' && e.encryption === 'rc4'),
    `peer-connect says RC4: ${JSON.stringify(connects)}`);
});

test('enabled dialling a disabled seed: the MSE attempt is refused, the plaintext retry completes', { timeout: 30_000 }, async () => {
  const { data } = await content();
  const { seed, get, dir } = await seedAndGet('disabled', 'enabled');
  await waitFor('the download to complete', 20_000, () => get.events.some((e) => e.event === 'complete'));
  assert.deepEqual(await readFile(join(dir, 'c', 'a.bin')), data);
  assert.ok(seed.logs.some((l) => l.includes('encrypted handshake refused (encryption disabled)')), seed.logs.join('\n'));
  assert.ok(get.logs.some((l) => l.includes('encrypted handshake failed') && l.includes('trying plaintext')), get.logs.join('\n'));
});

test('forced against disabled never connects, and each side says why', { timeout: 30_000 }, async () => {
  const a = await seedAndGet('disabled', 'forced');
  await waitFor('the refusal', 10_000, () => a.seed.logs.some((l) => l.includes('encrypted handshake refused (encryption disabled)'))
    // Over TCP the getter sees the MSE handshake fail; over uTP (the default transport) the seed's refusal resets the
    // connection, and the getter reports the reset.
    && a.get.logs.some((l) => /dial 127\.0\.0\.1:\d+ failed: .*(MSE handshake|uTP connection reset by peer)/.test(l)));
  const b = await seedAndGet('forced', 'disabled');
  await waitFor('the refusal', 10_000, () => b.seed.logs.some((l) => l.includes('plaintext handshake refused (encryption forced)')));
  for (const n of [a.seed, a.get, b.seed, b.get]) assert.equal(n.events.filter((e) => e.event === 'peer-connect').length, 0);
});

test('a forced seed answers a raw MSE initiator over RC4, and drops garbage without a crash', { timeout: 30_000 }, async () => {
  const { root, meta } = await content();
  const seed = await node({ encryption: 'forced' });
  await seed.session.addTorrent(meta, { savePath: join(root, 'src') });
  const sock = net.connect({ host: '127.0.0.1', port: seed.port });
  sockets.push(sock);
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const ours = encodeHandshake({ reserved: makeReserved([]), infoHash: meta.infoHash, peerId: randomBytes(20) });
  const mse = await mseConnect(sock, { infoHash: meta.infoHash, provide: CRYPTO_RC4, initialPayload: ours, random: (n) => randomBytes(n) }, 5000);
  assert.equal(mse.result.method, CRYPTO_RC4);
  let got = mse.payload;
  if (got.length < 68) {
    mse.stream.resume();
    await new Promise<void>((resolve) => mse.stream.on('data', (c: Buffer) => { got = Buffer.concat([got, c]); if (got.length >= 68) resolve(); }));
  }
  assert.deepEqual(parseHandshake(got.subarray(0, 68)).infoHash, meta.infoHash);
  // Garbage: no sync within 512 bytes of padding; the seed closes the connection at once.
  const junk = net.connect({ host: '127.0.0.1', port: seed.port });
  sockets.push(junk);
  junk.on('error', () => undefined);
  await once(junk, 'connect');
  junk.on('data', () => undefined);
  junk.write(Buffer.alloc(96 + 600, 0x5a));
  await Promise.race([once(junk, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('garbage not closed in 5 s')), 5000))]);
  assert.ok(seed.logs.some((l) => l.includes('no sync within 512 bytes')), seed.logs.join('\n'));
});

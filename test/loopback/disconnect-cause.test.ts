/**
 * Disconnect causes (issue 10, item 4): a session seeding on 127.0.0.1 and three raw peers. One closes its socket,
 * one sends a message that breaks the protocol, one is still connected when the session closes. Each ends with a
 * `peer-disconnect` event carrying the op and code of its cause, and the torrent counts disconnects by cause.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import { encodeHandshake, makeReserved } from '../../src/wire/codec/index.js';
import { writeTree } from '../helpers/content.js';

type Disconnect = Extract<SessionEvent, { event: 'peer-disconnect' }>;

const dirs: string[] = [];
const sockets: net.Socket[] = [];
let session: Session | undefined;
after(async () => {
  for (const s of sockets) s.destroy();
  await session?.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function waitForEvent<T extends SessionEvent>(events: SessionEvent[], s: Session, pred: (e: SessionEvent) => e is T, ms: number, what: string): Promise<T> {
  const found = events.find(pred);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { unsub(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)); }, ms);
    const unsub = s.events.subscribe((e) => { if (pred(e)) { clearTimeout(timer); unsub(); resolve(e); } });
  });
}

test('peer-disconnect events carry the op and code of real disconnects, counted by cause', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-disconnect-'));
  dirs.push(root);
  await writeTree(join(root, 'content'), [{ path: 'a.bin', size: 200_000 }], 'disconnect');
  const { meta } = await createTorrent(join(root, 'content'), { pieceLength: 32 * 1024, creationDate: null });

  const s = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1 });
  session = s;
  const events: SessionEvent[] = [];
  s.events.subscribe((e) => events.push(e));
  const port = await s.listen();
  const torrent = await s.addTorrent(meta, { savePath: root });
  assert.equal(torrent.complete, true);

  /** A raw peer that has shaken hands and is connected (the session emitted its peer-connect). */
  const rawPeer = async (): Promise<{ sock: net.Socket; key: string }> => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sockets.push(sock);
    sock.on('error', () => undefined);
    sock.on('data', () => undefined); // their handshake and bitfield: not needed
    await once(sock, 'connect');
    sock.write(encodeHandshake({ reserved: makeReserved([]), infoHash: meta.infoHash, peerId: randomBytes(20) }));
    const key = `127.0.0.1:${sock.localPort}`;
    await waitForEvent(events, s, (e): e is SessionEvent => e.event === 'peer-connect' && e.peer === key, 5000, `peer-connect of ${key}`);
    return { sock, key };
  };
  const disconnectOf = (key: string): Promise<Disconnect> =>
    waitForEvent(events, s, (e): e is Disconnect => e.event === 'peer-disconnect' && e.peer === key, 5000, `peer-disconnect of ${key}`);

  // 1. The peer closes its socket: the read side sees EOF.
  const quitter = await rawPeer();
  quitter.sock.end();
  const eof = await disconnectOf(quitter.key);
  assert.equal(eof.op, 'read');
  assert.equal(eof.code, 'EOF');
  assert.equal(eof.reason, 'connection closed by peer', 'the human reason is unchanged');

  // 2. The peer sends `have` for a piece the torrent does not have (index 1000 of 7): a protocol violation.
  const breaker = await rawPeer();
  const have = Buffer.alloc(9);
  have.writeUInt32BE(5, 0);
  have[4] = 4;
  have.writeUInt32BE(1000, 5);
  breaker.sock.write(have);
  const bad = await disconnectOf(breaker.key);
  assert.equal(bad.op, 'protocol');
  assert.equal(bad.code, 'PROTOCOL');
  assert.match(bad.reason, /^protocol error: /);

  // 3. A peer still connected when the session closes: we ended it.
  const stayer = await rawPeer();
  const closing = disconnectOf(stayer.key);
  await s.close();
  session = undefined;
  const stopped = await closing;
  assert.equal(stopped.op, 'local');
  assert.equal(stopped.code, 'ABORTED');
  assert.equal(stopped.reason, 'session closed');

  // 4. The torrent counted them by cause.
  const counts = torrent.status().disconnects;
  const count = (op: string, code: string): number => counts.find((d) => d.op === op && d.code === code)?.count ?? 0;
  assert.equal(count('read', 'EOF'), 1, JSON.stringify(counts));
  assert.equal(count('protocol', 'PROTOCOL'), 1, JSON.stringify(counts));
  assert.equal(count('local', 'ABORTED'), 1, JSON.stringify(counts));
  assert.equal(counts.reduce((n, d) => n + d.count, 0), 3, JSON.stringify(counts));
});

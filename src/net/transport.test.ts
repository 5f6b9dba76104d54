/**
 * The transport seam (issue 10, item 6): a Session opens and accepts every peer connection through the `Transport`
 * in its options. Proved without any socket: two sessions exchange a small torrent over the in-memory transport of
 * test/support/memory-transport.ts, with MemoryStorage. Their addresses are TEST-NET-1 (RFC 5737), which no host
 * has: were a connection to bypass the transport, it could not reach the other session and the test would fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildTorrent } from '../metainfo/build.js';
import { Session } from '../session/session.js';
import type { SessionEvent } from '../session/events.js';
import { MemoryStorage } from '../storage/memory-storage.js';
import { MemoryNetwork } from '../../test/support/memory-transport.js';

const PIECE = 32 * 1024;

function smallTorrent(): { meta: ReturnType<typeof buildTorrent>['meta']; data: Buffer } {
  const data = Buffer.alloc(5 * PIECE + 1234);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += PIECE) hashes.push(createHash('sha1').update(data.subarray(off, off + PIECE)).digest());
  return { meta: buildTorrent('memory.bin', PIECE, undefined, data.length, Buffer.concat(hashes), {}).meta, data };
}

function waitFor(session: Session, pred: (e: SessionEvent) => boolean, what: string, ms: number): Promise<SessionEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`timed out waiting for ${what}`)); }, ms);
    const off = session.events.subscribe((e) => { if (pred(e)) { clearTimeout(timer); off(); resolve(e); } });
  });
}

test('two sessions exchange a torrent over an in-memory transport (no socket)', async () => {
  const { meta, data } = smallTorrent();
  const network = new MemoryNetwork();
  const common = { lsd: false, pex: false, trackers: false, hashWorkers: 1 } as const;
  const seed = new Session({ ...common, host: '192.0.2.1', transport: network.transport('192.0.2.1') });
  const leech = new Session({ ...common, host: '192.0.2.2', transport: network.transport('192.0.2.2') });
  try {
    const seedPort = await seed.listen();
    await leech.listen();
    assert.ok(seedPort > 0);
    await seed.addTorrent(meta, { savePath: '/memory/seed', storage: new MemoryStorage(meta, { data }) });
    const storage = new MemoryStorage(meta);
    const connected = waitFor(leech, (e) => e.event === 'peer-connect', 'the connection', 10_000);
    const complete = waitFor(leech, (e) => e.event === 'complete', 'the download', 20_000);
    await leech.addTorrent(meta, { savePath: '/memory/leech', storage, peers: [{ host: '192.0.2.1', port: seedPort }] });
    const c = await connected;
    assert.ok(c.event === 'peer-connect' && c.direction === 'out' && c.peer === `192.0.2.1:${seedPort}`);
    await complete;
    const got: Buffer[] = [];
    for (let i = 0; i < meta.pieceCount; i++) got.push((await storage.readPiece(i))!);
    assert.ok(Buffer.concat(got).equals(data), 'the leecher holds exactly the seed\'s bytes');
  } finally {
    await Promise.all([seed.close(), leech.close()]);
  }
});

/**
 * A bitpeer swarm over uTP only (issue 11, item 3): a seed and two leechers on 127.0.0.1 with TCP turned off for
 * peers (no TCP dials, incoming TCP peer connections refused), so every byte crosses uTP on the session's UDP port.
 * Then mixed: a leecher with uTP on reaches a seed with uTP off, whose UDP port answers the SYN with a RESET, over
 * TCP at once (no time-out); and `setUtp(false)` turns uTP off at run time.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session, type SessionOptions } from '../../src/session/session.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import { waitFor } from '../helpers/session-events.js';

const FILES = [{ path: 'a.bin', size: 3_000_001 }, { path: 'b.bin', size: 1_234_567 }];
const dirs: string[] = [];
const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function newSession(opts: SessionOptions): { session: Session; events: SessionEvent[] } {
  const session = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, ...opts });
  const events: SessionEvent[] = [];
  session.events.subscribe((e) => events.push(e));
  sessions.push(session);
  return { session, events };
}

async function content(tag: string) {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-utp-swarm-'));
  dirs.push(root);
  const src = join(root, 'src');
  await writeTree(join(src, 'content'), FILES, tag);
  const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
  return { root, src, meta };
}

test('a seed and two leechers over uTP only (TCP off for peers): both complete with the right content', { timeout: 30_000 }, async () => {
  const { root, src, meta } = await content('utp-only');
  const uTpOnly = { utp: true, tcp: false };
  const seed = newSession(uTpOnly);
  const seedPort = await seed.session.listen();
  assert.equal((await seed.session.addTorrent(meta, { savePath: src })).complete, true);
  const a = newSession(uTpOnly);
  const aPort = await a.session.listen();
  await a.session.addTorrent(meta, { savePath: join(root, 'a'), peers: [{ host: '127.0.0.1', port: seedPort }] });
  const b = newSession(uTpOnly);
  await b.session.listen();
  await b.session.addTorrent(meta, { savePath: join(root, 'b'), peers: [{ host: '127.0.0.1', port: seedPort }, { host: '127.0.0.1', port: aPort }] });
  await Promise.all([a, b].map((l, i) => waitFor(l.events, l.session, (e) => e.event === 'complete', 25_000, `leecher ${i} to complete`)));
  for (const dir of ['a', 'b']) {
    assert.deepEqual(await compareTrees(join(src, 'content'), join(root, dir, 'content')), []);
  }
  const connects = a.events.filter((e) => e.event === 'peer-connect');
  assert.ok(connects.length > 0, 'peers connected');
  for (const e of connects) assert.equal(e.transport, 'utp', `peer-connect names the transport: ${JSON.stringify(e)}`);
});

test('uTP on reaches a peer with uTP off over TCP at once (its UDP port resets the SYN); setUtp(false) at run time', { timeout: 30_000 }, async () => {
  const { root, src, meta } = await content('mixed');
  const seed = newSession({ utp: false });
  const seedPort = await seed.session.listen();
  assert.equal(seed.session.utpEnabled, false);
  await seed.session.addTorrent(meta, { savePath: src });
  const l = newSession({});
  assert.equal(l.session.utpEnabled, true, 'on by default');
  await l.session.listen();
  const t0 = Date.now();
  await l.session.addTorrent(meta, { savePath: join(root, 'l'), peers: [{ host: '127.0.0.1', port: seedPort }] });
  const connected = await waitFor(l.events, l.session, (e) => e.event === 'peer-connect', 5000, 'a connection');
  assert.equal(connected.event === 'peer-connect' && connected.transport, 'tcp', 'the uTP-less seed is reached over TCP');
  assert.ok(Date.now() - t0 < 2500, `connected after ${Date.now() - t0} ms: no uTP time-out before TCP`);
  await waitFor(l.events, l.session, (e) => e.event === 'complete', 20_000, 'completion');
  assert.deepEqual(await compareTrees(join(src, 'content'), join(root, 'l', 'content')), []);
  // Turned off at run time: a uTP-only peer can no longer reach it.
  l.session.setUtp(false);
  assert.equal(l.session.utpEnabled, false);
  const probe = newSession({ tcp: false });
  await probe.session.listen();
  await probe.session.addTorrent(meta, { savePath: join(root, 'probe'), peers: [{ host: '127.0.0.1', port: l.session.port }] });
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(!probe.events.some((e) => e.event === 'peer-connect'), 'no uTP connection to a session with uTP off');
});

/**
 * uTP back-to-back downloads (issue 11, the ~11 s stall): one seed, then several leechers one after another, each
 * over uTP only (TCP off for peers), each of 3.8 MiB in 64 KiB pieces. The seed's upload side stops queueing at 1 MiB
 * of writableLength plus its unwritten batch and waits for 'drain'; when the uTP stream never emitted one, about half
 * of the downloads sat idle until the leecher's 10 s end-game request time-out. Each must now finish well under 3 s.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import { compareTrees, writeTree } from '../helpers/content.js';

const RUNS = 6;
const PER_RUN_MS = 3000;
const dirs: string[] = [];
const sessions: Session[] = [];
after(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function uTpOnlySession(): Session {
  const s = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: true, tcp: false });
  sessions.push(s);
  return s;
}

test(`${RUNS} consecutive uTP downloads of 3.8 MiB from one seed each finish in under ${PER_RUN_MS} ms`, { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-utp-stall-'));
  dirs.push(root);
  const src = join(root, 'src');
  await writeTree(join(src, 'content'), [{ path: 'data.bin', size: 4_000_000 }], 'utp-stall');
  const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
  const seed = uTpOnlySession();
  const seedPort = await seed.listen();
  assert.equal((await seed.addTorrent(meta, { savePath: src })).complete, true);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const l = uTpOnlySession();
    await l.listen();
    const t0 = performance.now();
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { unsub(); reject(new Error(`download ${i} took over ${PER_RUN_MS} ms (times so far: ${times.join(', ')})`)); }, PER_RUN_MS);
      const unsub = l.events.subscribe((e: SessionEvent) => {
        if (e.event === 'complete') { clearTimeout(timer); unsub(); resolve(); }
      });
    });
    await l.addTorrent(meta, { savePath: join(root, `dl${i}`), peers: [{ host: '127.0.0.1', port: seedPort }] });
    await done;
    times.push(Math.round(performance.now() - t0));
    assert.deepEqual(await compareTrees(join(src, 'content'), join(root, `dl${i}`, 'content')), []);
    await l.close();
  }
  console.log(`# download times (ms): ${times.join(', ')}`);
});

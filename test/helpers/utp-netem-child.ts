/**
 * Child of test/loopback/utp-netem.test.ts, run inside its own network namespace whose loopback has `tc netem` loss
 * and delay: a bitpeer seed and a leecher, both uTP only (TCP off for peers), move a torrent over 127.0.0.1. Prints
 * one JSON line: {"event":"result","ok":true,"ms":...,"bytes":...} or {"event":"result","ok":false,"error":...}.
 * Cleans its temp folder and exits; the parent bounds its time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTorrent } from '../../src/create/create-torrent.js';
import { Session } from '../../src/session/session.js';
import { compareTrees, writeTree } from './content.js';

const SIZE = Number(process.argv[2] ?? 2 * 1024 * 1024);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-utp-netem-'));
  const sessions: Session[] = [];
  try {
    const src = join(root, 'src');
    await writeTree(join(src, 'content'), [{ path: 'x.bin', size: SIZE }], 'netem');
    const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
    const opts = { port: 0, host: '127.0.0.1', hashWorkers: 1, utp: true, tcp: false, lsd: false };
    const seed = new Session(opts);
    const leech = new Session(opts);
    sessions.push(seed, leech);
    const seedPort = await seed.listen();
    await leech.listen();
    await seed.addTorrent(meta, { savePath: src });
    const t0 = Date.now();
    const done = new Promise<void>((resolve) => leech.events.subscribe((e) => { if (e.event === 'complete') resolve(); }));
    await leech.addTorrent(meta, { savePath: join(root, 'dst'), peers: [{ host: '127.0.0.1', port: seedPort }] });
    await done;
    const ms = Date.now() - t0;
    const diffs = await compareTrees(join(src, 'content'), join(root, 'dst', 'content'));
    console.log(JSON.stringify({ event: 'result', ok: diffs.length === 0, ms, bytes: SIZE, diffs }));
  } catch (err) {
    console.log(JSON.stringify({ event: 'result', ok: false, error: String(err) }));
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await rm(root, { recursive: true, force: true });
  }
}

void main().then(() => process.exit(0));

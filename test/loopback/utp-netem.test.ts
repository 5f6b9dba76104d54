/**
 * uTP through a lossy, slow link (issue 11): a bitpeer seed and leecher, uTP only (TCP off for peers), must complete
 * with the right content through 1% loss and 20 ms delay each way.
 * - With `tc netem`: test/helpers/utp-netem-child.ts runs under `unshare -n` in a namespace of its own whose loopback
 *   has the netem qdisc (root, `ip`, `tc` and the kernel's sch_netem needed; skipped with the reason otherwise). The
 *   namespace holds only its own loopback and disappears with the child.
 * - Everywhere: the same link made in user space, a UDP relay on 127.0.0.1 between the leecher and the seed that
 *   drops 1% of the datagrams each way (seeded) and delays the rest by 20 ms (±5 ms jitter, so some are reordered).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import { Session } from '../../src/session/session.js';
import { compareTrees, writeTree } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';

const child = fileURLToPath(new URL('../helpers/utp-netem-child.js', import.meta.url));
const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up && tc qdisc add dev lo root netem delay 1ms'], { encoding: 'utf8', timeout: 5000 });
const skip = probe.status === 0 ? false : `needs unshare -n, ip and tc netem (root): ${(probe.stderr || String(probe.error)).trim()}`;

test('uTP only, 1% loss and 20 ms delay on the link: the download completes with the right content', { skip, timeout: 60_000 }, async (t) => {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  const script = `ip link set lo up && tc qdisc add dev lo root netem delay 20ms loss 1% && exec "${process.execPath}" "${child}" ${2 * 1024 * 1024}`;
  const c = scope.spawn('unshare', ['-n', 'sh', '-c', script]);
  const e = await c.waitForEvent('result', 50_000);
  assert.equal(e.ok, true, `transfer failed: ${JSON.stringify(e)}\n${c.describe()}`);
  console.log(`# 2 MiB over uTP with 1% loss and 20 ms delay each way: ${String(e.ms)} ms`);
});

/** A UDP relay: datagrams to `port` go to the target from a socket of their own per client, and back; lossy, late. */
async function lossyRelay(targetPort: number, loss: number, delayMs: number, jitterMs: number) {
  let seed = 12345;
  const random = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
  const stats = { forwarded: 0, dropped: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void): void => {
    if (random() < loss) { stats.dropped++; return; }
    stats.forwarded++;
    const t = setTimeout(() => { timers.delete(t); fn(); }, delayMs + random() * jitterMs);
    timers.add(t);
  };
  const front = dgram.createSocket('udp4');
  const backs = new Map<string, dgram.Socket>();
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      const b = dgram.createSocket('udp4');
      b.on('message', (reply) => later(() => front.send(reply, from.port, from.address)));
      b.bind(0, '127.0.0.1');
      backs.set(key, b);
      back = b;
    }
    const out = back;
    later(() => out.send(msg, targetPort, '127.0.0.1'));
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port, stats,
    close: (): void => {
      for (const t of timers) clearTimeout(t);
      front.close();
      for (const b of backs.values()) b.close();
    },
  };
}

test('uTP only through a user-space link with 1% loss and 20 ms delay each way: the right content', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-utp-lossy-'));
  const opts = { port: 0, host: '127.0.0.1', hashWorkers: 1, utp: true, tcp: false, lsd: false };
  const seed = new Session(opts);
  const leech = new Session(opts);
  let relay: Awaited<ReturnType<typeof lossyRelay>> | undefined;
  try {
    const src = join(root, 'src');
    const size = 2 * 1024 * 1024 + 333;
    await writeTree(join(src, 'content'), [{ path: 'x.bin', size }], 'lossy');
    const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
    const seedPort = await seed.listen();
    await leech.listen();
    await seed.addTorrent(meta, { savePath: src });
    relay = await lossyRelay(seedPort, 0.01, 20, 5);
    const t0 = Date.now();
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no completion in 45 s')), 45_000);
      leech.events.subscribe((e) => { if (e.event === 'complete') { clearTimeout(timer); resolve(); } });
    });
    await leech.addTorrent(meta, { savePath: join(root, 'dst'), peers: [{ host: '127.0.0.1', port: relay.port }] });
    await done;
    assert.deepEqual(await compareTrees(join(src, 'content'), join(root, 'dst', 'content')), []);
    assert.ok(relay.stats.dropped > 0, 'the link did lose packets');
    console.log(`# 2 MiB over uTP through the lossy relay in ${Date.now() - t0} ms (${JSON.stringify(relay.stats)})`);
  } finally {
    relay?.close();
    await Promise.all([seed.close(), leech.close()]);
    await rm(root, { recursive: true, force: true });
  }
});

/**
 * Issue 13, item 2: a daemon restarted with its state directory rejoins the DHT from its node cache, with no
 * bootstrap node reachable.
 *
 * A private DHT on 127.0.0.1: B (the bootstrap node, a daemon), N (a daemon) and S (`bitpeer seed`, which announces
 * its torrent), all bootstrapped from B. The daemon under test, D, joins through B with a state directory, learns the
 * others, and stops cleanly (dht.dat written). B stops for good. D restarts with the same state directory (its
 * bootstrap setting still names B, which is gone): it keeps its node id, its table fills again from the cached nodes,
 * and it finds S's torrent by magnet link alone (N holds S's announce) and downloads it.
 * BEP 5.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compareTrees, writeTree } from '../helpers/content.js';
import { Scope } from '../helpers/proc.js';
import { buildMagnet } from '../../src/metainfo/index.js';
import { createTorrent, distinctPorts, logLines, startDaemon, stopDaemonCleanly, waitComplete, waitUntil, type DaemonHandle, type DaemonSpec } from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

/** No default bootstrap node in any process here (the public routers are never contacted). */
const env = { BITPEER_DHT_BOOTSTRAP: 'none' };

interface DhtFigures { id: string; phase: string; nodes: number; storedTorrents: number }

async function dhtOf(d: DaemonHandle): Promise<DhtFigures | undefined> {
  const s = await d.rpc.call('session-stats');
  const v = s['bitpeer-dht'];
  return typeof v === 'object' && v !== null ? v as DhtFigures : undefined;
}

test('a restarted daemon rejoins the DHT from its node cache (same id, no bootstrap node) and finds a torrent by magnet', { timeout: 180_000 }, async () => {
  const base = await scope.tempDir('bitpeer-dht-restart-');
  const [pB, rB, pN, rN, pS, pD, rD] = await distinctPorts(7);
  const B = await startDaemon(scope, { stateDir: join(base, 'b'), port: pB!, rpcPort: rB!, downloadDir: join(base, 'b-dl'), env, name: 'B' });
  const boot = ['--dht-bootstrap', `127.0.0.1:${pB}`];
  const N = await startDaemon(scope, { stateDir: join(base, 'n'), port: pN!, rpcPort: rN!, downloadDir: join(base, 'n-dl'), extraArgs: boot, env, name: 'N' });
  await waitUntil(async () => ((await dhtOf(B))?.nodes ?? 0) >= 1, 20_000, 'B to know N');

  // S seeds a torrent and announces it on the DHT (to B and N).
  const data = join(base, 'data');
  await writeTree(data, [{ path: 'a.bin', size: 300_000 }, { path: 'sub/b.bin', size: 70_000 }], 'dht-restart');
  const meta = await createTorrent(data, join(base, 'data.torrent'), pS!, '32K');
  const S = scope.bitpeer(['seed', join(base, 'data.torrent'), data, '--port', String(pS), '--bind', '127.0.0.1', '--no-tracker', '--no-lsd',
    '--no-pex', '--json', ...boot], { name: 'S', env });
  await S.waitFor((e) => e.event === 'state' && e.state === 'seeding', 60_000, 'S seeding');
  await waitUntil(async () => ((await dhtOf(N))?.storedTorrents ?? 0) >= 1, 30_000, 'N to hold S\'s announce');

  // D joins through B with a state directory, then stops cleanly.
  const spec: DaemonSpec = { stateDir: join(base, 'd'), port: pD!, rpcPort: rD!, downloadDir: join(base, 'd-dl'), extraArgs: boot, env, name: 'D' };
  let D = await startDaemon(scope, spec);
  const before = await waitUntil(async () => { const f = await dhtOf(D); return f && f.nodes >= 3 ? f : undefined; }, 30_000, 'D to know B, N and S');
  await stopDaemonCleanly(D);
  assert.ok(existsSync(join(spec.stateDir, 'dht.dat')), 'dht.dat is written at close');

  // The bootstrap node goes away for good.
  await stopDaemonCleanly(B);

  // D again, same state directory: same id, a table from its cache, and S's torrent by magnet alone.
  D = await startDaemon(scope, spec);
  const after = await waitUntil(async () => { const f = await dhtOf(D); return f && f.nodes >= 1 && f.phase === 'ready' ? f : undefined; }, 30_000,
    'D\'s DHT to be ready again without its bootstrap node', () => D.child.describe(12));
  assert.equal(after.id, before.id, 'the node id is kept');
  assert.ok(!logLines(D.child).some((l) => /dht\.dat/.test(l)), `no warning about dht.dat: ${logLines(D.child).join('\n')}`);
  const magnet = buildMagnet({ infoHash: meta.infoHash, name: meta.name, trackers: [] });
  const added = await D.rpc.call('torrent-add', { filename: magnet, 'download-dir': spec.downloadDir });
  assert.ok(added['torrent-added'], `torrent-add answered ${JSON.stringify(added)}`);
  await waitComplete(D, meta.infoHashHex, 60_000, 'the magnet, found through the DHT, to download');
  assert.deepEqual(await compareTrees(data, join(spec.downloadDir!, meta.name)), [], 'the same bytes');
  await stopDaemonCleanly(D);
  await stopDaemonCleanly(N);
  await S.stop();
});

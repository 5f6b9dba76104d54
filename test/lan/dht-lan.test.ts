/**
 * The LAN tier's DHT scenario (issue 13): five bitpeer hosts, one per network namespace on a private bridged subnet
 * (10.99.0.1..5/24, see ./netns.ts), where the DHT (BEP 5) is the only way to find a peer: trackers, LSD and PEX are
 * off on every host, and hosts join from a magnet link (no .torrent, no --peer).
 *
 * - Phase 1: host 1 `share`s a folder; it has no bootstrap node (it is the first node of this DHT). Hosts 2 and 3
 *   `get --seed` the magnet with host 1's address as their only bootstrap node. Both complete with identical content.
 * - Phase 2: host 1 quits. Hosts 4 and 5 `get` the magnet with host 2's address as their only bootstrap node: they
 *   find hosts 2 and 3 through the DHT, without the first host, and complete.
 * Every outgoing connection and every discovered peer must come from the DHT (source "dht"), and nothing may announce
 * to a tracker. The timings (magnet → first DHT peer → metadata → complete) are printed as `# dht-lan:` lines.
 *
 * Needs root (ip netns); skips with a printed reason otherwise. Every process is ended by its PID, every namespace is
 * deleted and every temp folder removed, also on failure and on SIGINT/SIGTERM.
 * Invariant: all traffic stays on the bridge this file builds (no namespace has a route anywhere else), and no bitpeer
 * contacts a public DHT router (BITPEER_DHT_BOOTSTRAP=none, and only 10.99.0.x bootstrap nodes).
 * BEP: 5 (DHT), 9 (metadata from a magnet), 3 (end to end).
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { compareTrees, writeTree, type FileSpec } from '../helpers/content.js';
import { bitpeerCommand, Scope, type Child, type JsonEvent } from '../helpers/proc.js';
import { Lan, lanUnavailableReason, onInterrupt } from './netns.js';
import { bytesBy, dumpLogs, ipOf, summarize } from './swarm-report.js';

const PORT = 6881;
const MiB = 1024 * 1024;
/** Bound on each phase's downloads. */
const PHASE_MS = 45_000;
const HOSTS = 5;
const FILES: FileSpec[] = [
  { path: 'a.bin', size: 5 * MiB + 4_321 },
  { path: 'sub/b.bin', size: 3 * MiB - 7 },
  { path: 'sub/c.txt', size: 1_234 },
];
/** No public router, ever (the test runner sets it too). */
const PRIVATE_ENV = { BITPEER_DHT_BOOTSTRAP: 'none' } as const;
/** The DHT is the only discovery left on. */
const DHT_ONLY = ['--no-tracker', '--no-lsd', '--no-pex', '--json', '--port', String(PORT)] as const;

const skipReason = lanUnavailableReason();
let lan: Lan | undefined;
let lanError: string | undefined;
const scopes: Scope[] = [];
const roots: string[] = [];
let removeInterruptHandler: (() => void) | undefined;

before(() => {
  if (skipReason !== null) {
    console.log(`# dht-lan: skipped: ${skipReason}`);
    return;
  }
  try {
    lan = Lan.create({ hosts: HOSTS });
  } catch (err) {
    lanError = err instanceof Error ? err.message : String(err);
    console.log(`# dht-lan: skipped: cannot build the network namespaces: ${lanError}`);
    return;
  }
  removeInterruptHandler = onInterrupt(() => {
    for (const s of scopes) for (const c of s.started) c.signal('SIGKILL');
    lan?.destroy();
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
});

after(async () => {
  await Promise.all(scopes.map((s) => s.cleanup()));
  lan?.destroy();
  removeInterruptHandler?.();
  const stillThere = lan?.leftovers() ?? [];
  assert.deepEqual(stillThere, [], `namespaces left behind: ${stillThere.join(', ')}`);
});

function needLan(t: TestContext): Lan | undefined {
  if (lan === undefined) t.skip(skipReason ?? `cannot build the network namespaces: ${lanError ?? 'unknown'}`);
  return lan;
}

/** `bitpeer ...args` (with the shebang's Node flags) inside host `i`'s namespace. */
function bitpeerOn(scope: Scope, net: Lan, i: number, args: readonly string[]): Child {
  const { argv, env } = bitpeerCommand(args);
  const w = net.wrap(i, argv[0]!, argv.slice(1));
  return scope.spawn(w.command, w.args, { name: `h${i} ${args[0] ?? ''}`, env: { ...env, ...PRIVATE_ENV } });
}

/** Milliseconds from `child`'s spawn to its first event matching `pred`, measured as it arrives (null: never). */
function stopwatch(child: Child, pred: (e: JsonEvent) => boolean, limitMs: number): Promise<number | null> {
  return child.waitFor(pred, limitMs).then(() => performance.now() - child.startedAt, () => null);
}

const seconds = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(2)} s`);

/** A magnet getter and its stopwatches. */
interface Getter {
  readonly host: number;
  readonly child: Child;
  readonly firstDhtPeer: Promise<number | null>;
  readonly metadata: Promise<number | null>;
  readonly complete: Promise<number | null>;
}

function startGetter(scope: Scope, net: Lan, i: number, magnet: string, out: string, bootstrap: number, seed: boolean): Getter {
  const child = bitpeerOn(scope, net, i, ['get', magnet, '-o', out, ...(seed ? ['--seed'] : []), ...DHT_ONLY,
    '--dht-bootstrap', `${net.host(bootstrap).addr}:${PORT}`]);
  return {
    host: i,
    child,
    firstDhtPeer: stopwatch(child, (e) => e.event === 'peer-discovered' && e.source === 'dht', PHASE_MS),
    metadata: stopwatch(child, (e) => e.event === 'metadata-received', PHASE_MS),
    complete: stopwatch(child, (e) => e.event === 'complete', PHASE_MS),
  };
}

/** Waits for `complete` from every getter; else throws with the recent output of those that did not complete. */
async function waitAllComplete(getters: readonly Getter[], what: string): Promise<void> {
  const results = await Promise.allSettled(getters.map((g) => g.child.waitForEvent('complete', PHASE_MS)));
  const failed = getters.filter((_, k) => results[k]!.status === 'rejected');
  if (failed.length === 0) return;
  throw new Error(`${what}: ${failed.map((g) => `h${g.host}`).join(', ')} did not complete within ${PHASE_MS / 1000} s ` +
    `(or exited first)\n${failed.map((g) => g.child.describe(12)).join('\n')}`);
}

/** What the DHT-only rule forbids in one host's log: a peer from any other source, a tracker announce. */
function otherDiscovery(c: Child): string[] {
  const bad: string[] = [];
  // A seed dials the peers its own DHT announce finds (as libtorrent's seeds do), so a getter may be dialled before its
  // lookup finds the seed; its metadata then comes over that incoming connection (no peer-connect event: the metadata
  // fetch's), and the torrent that follows dials the address learned from it, labelled `manual` (the getters are
  // given no --peer, so nothing else is `manual` here). Allowed: in this swarm only the DHT can have made that contact.
  for (const e of c.events) {
    if (e.event === 'peer-discovered' && e.source !== 'dht') bad.push(`peer-discovered ${String(e.peer)} source ${String(e.source)}`);
    if (e.event === 'peer-connect' && e.direction === 'out' && e.source !== 'dht' && e.source !== 'manual') {
      bad.push(`outgoing peer-connect ${String(e.peer)} source ${String(e.source)}`);
    }
    if (e.event === 'tracker-announce') bad.push(`tracker-announce ${String(e.url)}`);
  }
  return bad;
}

test('DHT only: hosts join from a magnet link, bootstrapped from the first host, then without it', { timeout: 150_000 }, async (t) => {
  const net = needLan(t);
  if (!net) return;
  const scope = new Scope();
  scopes.push(scope);
  t.after(() => scope.cleanup());
  const root = await scope.tempDir('bitpeer-lan-dht-');
  roots.push(root);
  const dirs = net.hosts.map((h) => join(root, `h${h.index}`));
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
  const data = join(dirs[0]!, 'dht-share');
  await writeTree(data, FILES, 'lan-dht');
  const failures: string[] = [];
  const all: Child[] = [];
  const getters: Getter[] = [];

  try {
    // 1. Host 1 shares; the torrent's only tracker is an address nobody runs, and nobody may use it anyway.
    const h1 = bitpeerOn(scope, net, 1, ['share', data, '-o', join(dirs[0]!, 'dht-share.torrent'),
      '--announce', 'http://10.99.0.254:9/announce', ...DHT_ONLY]);
    all.push(h1);
    const added = await h1.waitForEvent('added', 30_000);
    assert.ok(typeof added.infoHash === 'string' && /^[0-9a-f]{40}$/i.test(added.infoHash), JSON.stringify(added));
    const magnet = `magnet:?xt=urn:btih:${added.infoHash}&dn=dht-share`;
    await h1.waitFor((e) => e.event === 'state' && e.state === 'seeding', 30_000, 'host 1 seeding');

    // 2. Phase 1: hosts 2 and 3 join from the magnet, bootstrapped from host 1.
    const phase1 = [2, 3].map((i) => startGetter(scope, net, i, magnet, join(dirs[i - 1]!, 'dl'), 1, true));
    getters.push(...phase1);
    all.push(...phase1.map((g) => g.child));
    await waitAllComplete(phase1, 'phase 1 (bootstrap: host 1)');

    // 3. Host 1 quits; hosts 4 and 5 join, bootstrapped from host 2.
    const h1Exit = await h1.stop(10_000);
    if (h1Exit.code !== 0) failures.push(`h1 did not exit 0 on SIGTERM: ${JSON.stringify(h1Exit)}`);
    const phase2 = [4, 5].map((i) => startGetter(scope, net, i, magnet, join(dirs[i - 1]!, 'dl'), 2, false));
    getters.push(...phase2);
    all.push(...phase2.map((g) => g.child));
    await waitAllComplete(phase2, 'phase 2 (host 1 gone, bootstrap: host 2)');
    for (const g of phase2) {
      const exit = await g.child.exited(15_000);
      if (exit.code !== 0) failures.push(`h${g.host} (get without --seed) did not exit 0 after completing: ${JSON.stringify(exit)}`);
    }
    await Promise.all(phase1.map((g) => g.child.stop(10_000)));

    // 4. The checks.
    for (const g of getters) {
      const diffs = await compareTrees(data, join(dirs[g.host - 1]!, 'dl', 'dht-share'));
      if (diffs.length > 0) failures.push(`h${g.host} content differs: ${diffs.slice(0, 3).join('; ')}`);
      // Found a peer on the DHT, or was found through it (an incoming connection: nothing else can name us here).
      if (!g.child.events.some((e) => e.event === 'peer-connect' && (e.source === 'dht' || e.direction === 'in'))) {
        failures.push(`h${g.host} has no connection to a peer found on the DHT`);
      }
    }
    for (const c of all) for (const bad of otherDiscovery(c)) failures.push(`${c.name}: ${bad}`);
    for (const g of phase2) {
      const label = (peer: string): string => net.hostOf(ipOf(peer)) ? `h${net.hostOf(ipOf(peer))!.index}` : 'other';
      const { down } = bytesBy(g.child.events, label);
      if ((down.get('h1') ?? 0) > 0) failures.push(`h${g.host} received bytes from h1, which had quit`);
      const fromSwarm = (down.get('h2') ?? 0) + (down.get('h3') ?? 0);
      if (!(fromSwarm > 0)) failures.push(`h${g.host} received nothing from hosts 2-3`);
    }
    for (const g of getters) {
      console.log(`# dht-lan: h${g.host} (bootstrap h${g.host <= 3 ? 1 : 2}): magnet -> first DHT peer ${seconds(await g.firstDhtPeer)}, ` +
        `-> metadata ${seconds(await g.metadata)}, -> complete ${seconds(await g.complete)} (from the process start, ` +
        `${(FILES.reduce((n, f) => n + f.size, 0) / MiB).toFixed(1)} MiB)`);
    }
  } catch (err) {
    failures.push(err instanceof Error ? err.message : String(err));
  } finally {
    await Promise.all(all.map((c) => c.stop(10_000)));
    if (failures.length > 0 || process.env['BITPEER_LAN_KEEP'] === '1') {
      const logs = await dumpLogs(join(tmpdir(), `bitpeer-lan-dht-${process.pid}-logs`), all);
      console.log(`# dht-lan event logs: ${logs}`);
    }
  }
  assert.deepEqual(failures, [], `DHT LAN scenario failed:\n${failures.join('\n')}\n${all.map((c) => '  ' + summarize(c)).join('\n')}`);
});

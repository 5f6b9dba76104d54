/**
 * Interop of bitpeer's DHT (BEP 5) with libtorrent 2.0.8's (python3-libtorrent, driven by test/helpers/lt_dht.py), on
 * a private DHT on 127.0.0.1, with trackers, LSD and PEX off everywhere, so the DHT is the only way to find a peer:
 *
 * - control: three libtorrent nodes (a meeting point, a seed, a magnet downloader): checks the harness, so a failure
 *   of the other case points at bitpeer. (A libtorrent node never gives itself out as a peer, see INTEROP-NOTES.md: with
 *   two nodes, the downloader finds the seed only once the seed re-announces after the downloader joined.)
 * - bitpeer is the bootstrap node of the network and seeds a torrent; libtorrent, bootstrapped from bitpeer's port
 *   only, downloads the torrent by magnet from bitpeer. On this two-node DHT the connection comes from either side:
 *   libtorrent dials an address from a get_peers answer, or bitpeer's own lookup reads libtorrent's announce from its
 *   store and bitpeer dials (what bitpeer does today: it does not list itself in its answers); the test prints which.
 *   Then libtorrent seeds another torrent and announces it (force_dht_announce); a bitpeer `get` of its magnet,
 *   bootstrapped from the bitpeer node, finds libtorrent and downloads it; a second `get`, bootstrapped from a
 *   libtorrent node only, does too (bitpeer's lookup through libtorrent's answers). Every peer of those `get`s must be
 *   found on the DHT and say so (source "dht" in peer-discovered and peer-connect).
 *
 * Each download's content must equal its source. The timings (magnet → metadata → complete) are printed as
 * `# dht-interop:` lines. libtorrent keeps its stock connection settings (uTP first, encryption pe_enabled) except
 * what a DHT on loopback needs (lt_dht.py's header).
 *
 * Invariant: every process binds and sends to 127.0.0.1 only: bitpeer gets BITPEER_DHT_BOOTSTRAP=none (no public
 * router) and --dht-bootstrap 127.0.0.1:P; libtorrent's bootstrap list is replaced before its session starts. Every
 * wait is bounded; every process and temp folder is gone when its test ends. Skipped, with the reason printed, only
 * when no Python with the libtorrent bindings is found.
 * BEP: 5 (DHT), 9 (metadata from a magnet), 3/10/29 (wire, extension protocol, uTP) as negotiated.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { findLibtorrentPython, libtorrentVersion, projectRoot } from '../helpers/python.js';
import { type Child, type JsonEvent, type Scope } from '../helpers/proc.js';
import { assertSameTree, prepareSingleFile, scopeFor } from '../helpers/interop.js';

const MiB = 1024 * 1024;
/** A seed checks its data, opens its port and joins the DHT within this. */
const READY_MS = 20_000;
/** One magnet download, from the start of the downloader to its `complete`. */
const DOWNLOAD_MS = 30_000;
/**
 * bitpeer's magnet download: it usually finds its first DHT peer in ~1.4 s, but a lookup that finds none is retried
 * only after 10 s, then 20 s (dht-service.ts); this bound leaves room for two such misses (seen once in ~20 runs).
 */
const BITPEER_GET_MS = 45_000;
const CASE_MS = 150_000;
/** bitpeer never contacts a public DHT router in a test. */
const PRIVATE_ENV = { BITPEER_DHT_BOOTSTRAP: 'none' } as const;
/** Only the DHT finds peers. */
const DHT_ONLY = ['--no-tracker', '--no-lsd', '--no-pex', '--json'] as const;

const python = findLibtorrentPython();
const skipReason = python === null
  ? 'no Python interpreter can `import libtorrent` (tried /usr/bin/python3, python3, python); install python3-libtorrent'
  : false;
if (python === null) console.log(`# SKIP libtorrent DHT interop: ${String(skipReason)}`);
else console.log(`# libtorrent DHT interop: ${python}, libtorrent ${libtorrentVersion(python) ?? '?'}`);

const LT_DHT = join(projectRoot(), 'test', 'helpers', 'lt_dht.py');

/** Runs test/helpers/lt_dht.py (it lives in the source tree; tsc does not copy it to dist/). */
function ltDht(scope: Scope, py: string, name: string, args: readonly string[]): Child {
  return scope.spawn(py, ['-u', LT_DHT, ...args], { name });
}

function magnetOf(infoHash: string): string {
  return `magnet:?xt=urn:btih:${infoHash}`;
}

/** The info-hash from a child's `added` event. */
async function infoHashOf(child: Child): Promise<string> {
  const e = await child.waitForEvent('added', READY_MS);
  assert.ok(typeof e.infoHash === 'string' && /^[0-9a-f]{40}$/i.test(e.infoHash), `bad added event ${JSON.stringify(e)}`);
  return e.infoHash.toLowerCase();
}

async function portOf(child: Child): Promise<number> {
  const e = await child.waitForEvent('listening', READY_MS);
  assert.ok(typeof e.port === 'number' && e.port > 0 && e.port < 65536, `bad listening event ${JSON.stringify(e)}`);
  return e.port;
}

/** Milliseconds from `child`'s spawn to its first event matching `pred`, measured as it arrives (null: never). */
function stopwatch(child: Child, pred: (e: JsonEvent) => boolean, limitMs: number): Promise<number | null> {
  return child.waitFor(pred, limitMs).then(() => performance.now() - child.startedAt, () => null);
}

const seconds = (ms: number | null | undefined): string => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);

/** Awaits `p`; on failure, adds the recent output of every process of the test. */
async function within<T>(scope: Scope, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n=== all processes of this test:\n${scope.describe()}`, { cause: err });
  }
}

/** libtorrent sent a KRPC query `q` for `infoHash` to the node at `port` (its dht-query events). */
function ltQueried(q: string, infoHash: string, port: number): (e: JsonEvent) => boolean {
  return (e) => e.event === 'dht-query' && e.dir === 'out' && e.q === q && e.infoHash === infoHash &&
    e.node === `127.0.0.1:${port}`;
}

describe('libtorrent DHT interop (private DHT on 127.0.0.1)', { skip: skipReason }, () => {
  const py = python ?? 'python3';

  test('control: three libtorrent nodes, a magnet found through the DHT (checks the harness)', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);
    const { dir, src, torrent } = await prepareSingleFile(scope, 'bitpeer-ltdht-control-', 2 * MiB + 3);
    const meeting = ltDht(scope, py, 'libtorrent node', ['--mode', 'node', '--port', '0']);
    const meetingPort = await within(scope, portOf(meeting));
    const seed = ltDht(scope, py, 'libtorrent seed', ['--mode', 'seed', '--torrent', torrent, '--save', join(dir, 'src'),
      '--port', '0', '--bootstrap', `127.0.0.1:${meetingPort}`]);
    const seedPort = await within(scope, portOf(seed));
    const infoHash = await within(scope, infoHashOf(seed));
    await within(scope, seed.waitFor(ltQueried('announce_peer', infoHash, meetingPort), READY_MS,
      'an announce_peer to the meeting node'));

    const dl = ltDht(scope, py, 'libtorrent magnet', ['--mode', 'download', '--magnet', magnetOf(infoHash),
      '--save', join(dir, 'dl'), '--port', '0', '--bootstrap', `127.0.0.1:${meetingPort}`,
      '--timeout', String(DOWNLOAD_MS / 1000)]);
    const exit = await within(scope, dl.exited(DOWNLOAD_MS + 10_000));
    assert.equal(exit.code, 0, `libtorrent did not download the magnet\n${scope.describe()}`);
    const complete = dl.find((e) => e.event === 'complete');
    assert.ok(complete, `no complete event\n${dl.describe()}`);
    const fromSeed = dl.find((e) => e.event === 'peer-info' && e.peer === `127.0.0.1:${seedPort}`);
    // lt_peer.py lists peers every 0.1 s, so a download done in ~20 ms can end before the first listing (seen in CI:
    // metadata and data in 23 ms, no peer-info). Then the downloader's own get_peers for the info-hash shows that
    // the DHT was how it met the seed: the magnet names no peer and there is no tracker.
    if (fromSeed !== undefined) {
      assert.ok(Array.isArray(fromSeed.source) && fromSeed.source.includes('dht'),
        `the downloader did not get the seed from the DHT: ${JSON.stringify(fromSeed)}\n${dl.describe()}`);
    } else {
      assert.ok(dl.find((e) => e.event === 'dht-query' && e.dir === 'out' && e.q === 'get_peers' && e.infoHash === infoHash),
        `no peer-info for the seed and no get_peers lookup of the info-hash\n${dl.describe()}`);
    }
    await assertSameTree(scope, src, join(dir, 'dl', 'data.bin'));
    const link = fromSeed !== undefined
      ? `${String(fromSeed.transport)}, encryption ${String(fromSeed.encryption)}`
      : 'done before the first peer listing';
    console.log(`# dht-interop: control, libtorrent -> libtorrent (3 nodes): magnet -> metadata ` +
      `${seconds(Number(complete.metadataElapsed) * 1000)}, -> complete ${seconds(Number(complete.elapsed) * 1000)} (${link})`);
  });

  test('bitpeer bootstraps libtorrent: each finds and downloads the other\'s torrent by magnet', { timeout: CASE_MS }, async (t) => {
    const scope = scopeFor(t);

    // 1. bitpeer seeds torrent A; no bootstrap node: it is the first node of the network.
    // 2. libtorrent joins with bitpeer as its only bootstrap node and downloads A from its magnet; it stays on (its
    // DHT node is used below).
    // Known defect (issue 12's note, test/interop/stock.test.ts): about one run in ten, a uTP stream from bitpeer to
    // libtorrent stalls for good part-way (bitpeer has sent every piece, libtorrent holds about half). When libtorrent
    // got the metadata (so the DHT did its part) but the data stalls, the pair is reported and started once more, fresh;
    // a second failure, or any failure before the metadata, fails the test.
    const a = await prepareSingleFile(scope, 'bitpeer-ltdht-a-', 3 * MiB + 11);
    const startPair = async (attempt: number): Promise<{ attempt: number; node: Child; nodePort: number; hashA: string;
      ltGet: Child; ltGetPort: number; completeA: JsonEvent | null }> => {
      const node = scope.bitpeer(['seed', a.torrent, a.src, '--port', '0', '--bind', '127.0.0.1', ...DHT_ONLY],
        { env: PRIVATE_ENV });
      const nodePort = await within(scope, portOf(node));
      const hashA = await within(scope, infoHashOf(node));
      await within(scope, node.waitFor((e) => e.event === 'state' && e.state === 'seeding', READY_MS, 'bitpeer seeding'));
      const ltGet = ltDht(scope, py, 'libtorrent magnet A', ['--mode', 'download', '--magnet', magnetOf(hashA),
        '--save', join(a.dir, `lt${attempt}`), '--port', '0', '--bootstrap', `127.0.0.1:${nodePort}`, '--keep-seeding',
        '--timeout', String(CASE_MS / 1000)]);
      const ltGetPort = await within(scope, portOf(ltGet));
      try {
        return { attempt, node, nodePort, hashA, ltGet, ltGetPort, completeA: await ltGet.waitForEvent('complete', DOWNLOAD_MS) };
      } catch (err) {
        const gotData = ltGet.events.some((e) => e.event === 'progress' && Number(e.have) > 0);
        if (attempt >= 2 || !ltGet.find((e) => e.event === 'metadata') || !gotData) {
          const message = err instanceof Error ? err.message : String(err);
          throw new Error(`${message}\n=== all processes of this test:\n${scope.describe()}`, { cause: err });
        }
        console.log(`# uTP STALL (the known cause is fixed in src/net/utp/connection.ts spanAllows, so this is news): libtorrent's download of A from bitpeer stalled after the DHT found the peer; ` +
          `starting bitpeer and libtorrent once more\n${scope.describe().split('\n').map((l) => `#   ${l}`).join('\n')}`);
        await Promise.all([node.stop(5000), ltGet.stop(5000)]);
        return { attempt, node, nodePort, hashA, ltGet, ltGetPort, completeA: null };
      }
    };
    let pair = await startPair(1);
    if (pair.completeA === null) pair = await startPair(2);
    const { node, nodePort, hashA, ltGet, ltGetPort, completeA } = pair;
    assert.ok(completeA !== null, 'startPair returns a completed pair on its last attempt (else it throws)');
    await assertSameTree(scope, a.src, join(a.dir, `lt${pair.attempt}`, 'data.bin'));
    assert.ok(ltGet.find(ltQueried('get_peers', hashA, nodePort)),
      `libtorrent never asked bitpeer's node for A\n${ltGet.describe()}`);
    // The connection that carried A was made through the DHT at one end or the other: libtorrent dialled bitpeer's
    // address from a get_peers answer, or bitpeer dialled libtorrent after libtorrent announced itself (the magnet
    // download announces too). Which one wins is a race; both are the DHT at work, and the line below says which.
    const bitpeerAddr = `127.0.0.1:${nodePort}`;
    const ltAddr = `127.0.0.1:${ltGetPort}`;
    const ltDialled = ltGet.find((e) => e.event === 'peer-info' && e.peer === bitpeerAddr && Array.isArray(e.source) &&
      e.source.includes('dht'));
    const bpDialled = node.find((e) => e.event === 'peer-connect' && e.peer === ltAddr && e.direction === 'out' &&
      e.source === 'dht');
    assert.ok(ltDialled ?? bpDialled, `neither side connected to a peer found on the DHT\n${scope.describe()}`);
    const link = ltDialled ?? ltGet.find((e) => e.event === 'peer-info' && e.peer === bitpeerAddr);
    // Who gave libtorrent bitpeer's address in a get_peers answer (bitpeer's node; or libtorrent's own store after
    // bitpeer announced to it, when libtorrent's lookup reaches its own address).
    const gave = ltGet.events.filter((e) => e.event === 'dht-values' && Array.isArray(e.peers) && e.peers.includes(bitpeerAddr))
      .map((e) => (e.node === bitpeerAddr ? 'bitpeer' : e.node === ltAddr ? 'libtorrent itself' : String(e.node)));
    const bpFound = node.find((e) => e.event === 'peer-discovered' && e.peer === ltAddr && e.source === 'dht');
    console.log(`# dht-interop: libtorrent gets bitpeer's torrent (2-node DHT, bitpeer the bootstrap): magnet -> ` +
      `metadata ${seconds(Number(completeA.metadataElapsed) * 1000)}, -> complete ${seconds(Number(completeA.elapsed) * 1000)}; ` +
      `${ltDialled ? 'libtorrent dialled bitpeer' : 'bitpeer dialled libtorrent'} ` +
      `(${String(link?.transport)}, encryption ${String(link?.encryption)}); bitpeer's address in answers from: ` +
      `${[...new Set(gave)].join(', ') || 'none'}; bitpeer found libtorrent on the DHT: ${bpFound ? 'yes' : 'no'}`);

    // 3. libtorrent seeds torrent B and announces it on the DHT bitpeer bootstrapped.
    const b = await prepareSingleFile(scope, 'bitpeer-ltdht-b-', 3 * MiB + 17);
    const ltSeed = ltDht(scope, py, 'libtorrent seed B', ['--mode', 'seed', '--torrent', b.torrent, '--save',
      join(b.dir, 'src'), '--port', '0', '--bootstrap', `127.0.0.1:${nodePort}`]);
    const ltSeedPort = await within(scope, portOf(ltSeed));
    const hashB = await within(scope, infoHashOf(ltSeed));
    await within(scope, ltSeed.waitFor(ltQueried('announce_peer', hashB, nodePort), READY_MS,
      'libtorrent\'s announce_peer of B to bitpeer\'s node'));

    // 4. bitpeer gets B's magnet, bootstrapped from the bitpeer node; then again, bootstrapped from libtorrent only.
    const bootstraps = [
      { label: 'the bitpeer node', port: nodePort },
      { label: 'a libtorrent node', port: ltGetPort },
    ];
    for (const [i, boot] of bootstraps.entries()) {
      const out = join(b.dir, `bp${i}`);
      const get = scope.bitpeer(['get', magnetOf(hashB), '-o', out, '--port', '0', '--bind', '127.0.0.1', ...DHT_ONLY,
        '--dht-bootstrap', `127.0.0.1:${boot.port}`], { env: PRIVATE_ENV });
      const ltSeedAddr = `127.0.0.1:${ltSeedPort}`;
      const foundLt = (e: JsonEvent): boolean => e.event === 'peer-discovered' && e.peer === ltSeedAddr && e.source === 'dht';
      const found = stopwatch(get, foundLt, BITPEER_GET_MS);
      const connected = stopwatch(get, (e) => e.event === 'peer-connect' && e.peer === ltSeedAddr, BITPEER_GET_MS);
      const metadata = stopwatch(get, (e) => e.event === 'metadata-received', BITPEER_GET_MS);
      const completed = stopwatch(get, (e) => e.event === 'complete', BITPEER_GET_MS);
      const exit = await within(scope, get.exited(BITPEER_GET_MS));
      assert.equal(exit.code, 0, `bitpeer get (bootstrap: ${boot.label}) failed\n${scope.describe()}`);
      const complete = get.find((e) => e.event === 'complete');
      assert.ok(complete, `bitpeer get printed no complete event\n${get.describe()}`);
      await assertSameTree(scope, b.src, join(out, 'data.bin'));
      const connect = get.find((e) => e.event === 'peer-connect' && e.peer === ltSeedAddr);
      assert.ok(connect, `bitpeer did not connect to libtorrent\n${get.describe(20)}`);
      // Either bitpeer found libtorrent on the DHT, or libtorrent's announce found bitpeer (it announced the magnet)
      // and libtorrent dialled first: the metadata then came over that connection, and the torrent dials the address
      // learned from it, labelled `manual` (this get has no --peer, so nothing else is). The DHT may still name other
      // peers: the first get announced B too, and its address stays in the DHT after it exits.
      const dialledFirst = !get.find(foundLt) && connect.source === 'manual';
      assert.ok(get.find(foundLt) || dialledFirst, `bitpeer did not find libtorrent on the DHT\n${get.describe(20)}`);
      if (dialledFirst) console.log('# dht-interop: libtorrent dialled bitpeer first (its announce found bitpeer)');
      // Every peer came from the DHT, and says so (the --json contract: peers found on the DHT have source "dht").
      for (const e of get.events.filter((x) => x.event === 'peer-connect' || x.event === 'peer-discovered')) {
        assert.ok(e.source === 'dht' || e.direction === 'in' || (dialledFirst && e.peer === ltSeedAddr),
          `a peer not labelled as found on the DHT: ${JSON.stringify(e)}\n${get.describe(20)}`);
      }
      console.log(`# dht-interop: bitpeer gets libtorrent's torrent (bootstrap: ${boot.label}): magnet -> first DHT peer ` +
        `${dialledFirst ? '- (libtorrent dialled first)' : seconds(await found)}, -> connected ${seconds(await connected)}, -> metadata ${seconds(await metadata)}, ` +
        `-> complete ${seconds(await completed)} (from the process start; bitpeer's elapsedMs ` +
        `${seconds(Number(complete.elapsedMs))}; ` +
        `${String(connect.transport)}, encryption ${String(connect.encryption)})`);
    }
    await Promise.all([node, ltGet, ltSeed].map((c) => c.stop(5000)));
  });
});

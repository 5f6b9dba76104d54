/**
 * The DHT (BEP 5) in whole sessions on 127.0.0.1, with trackers, LSD and PEX off, so the DHT is the only way peers
 * find each other:
 *
 * - private DHTs of 2, 3 and 5 sessions (openBitpeer, the facade): the first has no bootstrap node, the others
 *   bootstrap from it; each seeds its own torrent and announces it, then every other one finds it by magnet link
 *   alone and downloads it. The timings (magnet → first peer, → complete) are printed as `# dht: ...` diagnostics
 *   for the closing note. A magnet added at the very moment its seed announces may miss it and find it at the
 *   first retry, 10 s later; here the seeds have announced first, as a torrent being shared has.
 * - the wire `port` message: two sessions with a DHT but no bootstrap node at all meet as peers (one is given the
 *   other with --peer); each learns the other's DHT node from the `port` message, so both tables get a node.
 * - `--no-dht` (the CLI): a seed pointed at a bootstrap node sends it nothing and answers no KRPC ping; the same seed
 *   without --no-dht does both (so the check can fail).
 * - the `port` message's conditions, seen by a raw TCP peer: one message with the session's port when both
 *   handshakes have the DHT bit, none to a peer without it, and neither the bit nor the message while the DHT is off.
 *
 * Every wait is bounded; every socket is on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBitpeer, type OpenedBitpeer, type OpenOptions } from '../../src/api/open.js';
import type { SessionEvent } from '../../src/api/types.js';
import { createTorrent } from '../../src/create/create-torrent.js';
import { buildMagnet } from '../../src/metainfo/index.js';
import { decode, encode, isDict } from '../../src/bencode/index.js';
import { encodeHandshake, makeReserved, ReservedBit, type ReservedBitPosition } from '../../src/wire/codec/handshake.js';
import { put, tmpDirs } from '../support/tmp-dir.js';
import { Scope } from '../helpers/proc.js';

const tmpDir = tmpDirs('dht');
/** Trackers, LSD and PEX off: only the DHT finds peers. */
const local: OpenOptions = { port: 0, bind: '127.0.0.1', lsd: false, pex: false, trackers: false, utp: false };

interface Seeded { torrent: Buffer; hex: string; name: string; body: Buffer; magnet: string }

async function makeTorrent(label: string, size = 200_000): Promise<Seeded & { src: string }> {
  const src = tmpDir();
  const body = Buffer.alloc(size);
  for (let i = 0; i < body.length; i++) body[i] = ((i * 31 + label.charCodeAt(0) * 7) >>> 2) & 0xff;
  const name = `${label}.bin`;
  put(src, name, body);
  const made = await createTorrent(path.join(src, name), { pieceLength: 32 * 1024, creationDate: null, announce: [] });
  const magnet = buildMagnet({ infoHash: made.meta.infoHash, name, trackers: [] });
  return { torrent: made.torrent, hex: made.meta.infoHashHex, name, body, src, magnet };
}

/** Polls until `probe` holds, at most `ms`. */
async function until(probe: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN; };

/** A private DHT of `n` sessions; each one's torrent is fetched by magnet by every other one. */
async function privateDht(n: number): Promise<{ firstPeer: number[]; complete: number[] }> {
  const nodes: OpenedBitpeer[] = [];
  const events: Array<Array<{ at: number; e: SessionEvent }>> = [];
  const debug: string[][] = [];
  const open = async (bootstrap: string[]): Promise<OpenedBitpeer> => {
    const log: Array<{ at: number; e: SessionEvent }> = [];
    const lines: string[] = [];
    events.push(log);
    debug.push(lines);
    const node = await openBitpeer({ ...local, dhtBootstrap: bootstrap, onEvent: (e) => log.push({ at: Date.now(), e }),
      debug: (m) => { if (m.startsWith('dht: announced')) lines.push(m); } });
    nodes.push(node);
    return node;
  };
  try {
    const first = await open([]);
    for (let i = 1; i < n; i++) await open([`127.0.0.1:${first.port}`]);
    const seeded = await Promise.all(nodes.map(async (node, i) => {
      const t = await makeTorrent(`n${n}-${i}`);
      await node.api.add({ torrentFile: t.torrent }, { downloadDir: t.src, followLinks: true, failOnError: true });
      return t;
    }));
    // Each seed's announce reached a node (the service logs "dht: announced <hash>: … announced to N").
    await until(() => seeded.every((t, j) => debug[j]!.some((l) => l.includes(t.hex) && /announced to [1-9]/.test(l))), 20_000,
      'every seed to announce its torrent to a node');
    const firstPeer: number[] = [];
    const complete: number[] = [];
    await Promise.all(nodes.map(async (node, i) => {
      await Promise.all(seeded.map(async (t, j) => {
        if (i === j) return;
        const dir = tmpDir();
        const t0 = Date.now();
        const added = await node.api.add({ magnet: t.magnet }, { downloadDir: dir });
        const done = await node.api.whenDone(added.id, { signal: AbortSignal.timeout(60_000) }).catch((err: unknown) => {
          const mine = events[i]!.filter((x) => 'infoHash' in x.e && x.e.infoHash === t.hex).map((x) => x.e.event);
          throw new Error(`node ${i} of ${n} did not get node ${j}'s torrent by magnet: ${String(err)}; its events: ${mine.join(',')}; ` +
            `its DHT: ${JSON.stringify(node.api.stats().dht)}`);
        });
        assert.equal(done.complete, true);
        assert.ok(fs.readFileSync(path.join(dir, t.name)).equals(t.body), `node ${i} has node ${j}'s bytes`);
        // The first peer: found on the DHT, or (with several nodes) one that found this node on the DHT and called.
        const found = events[i]!.find((x) => x.at >= t0 && (x.e.event === 'peer-discovered' || x.e.event === 'peer-connect') && x.e.infoHash === t.hex);
        assert.ok(found, `node ${i} had a peer for node ${j}'s torrent`);
        firstPeer.push(found.at - t0);
        complete.push(Date.now() - t0);
      }));
    }));
    for (const [i, node] of nodes.entries()) {
      const dht = node.api.stats().dht;
      assert.ok(dht && dht.nodes >= 1, `node ${i} has DHT nodes: ${JSON.stringify(dht)}`);
      assert.ok(events[i]!.some((x) => x.e.event === 'peer-discovered' && x.e.source === 'dht'), `node ${i} found peers through the DHT (source dht)`);
    }
    return { firstPeer, complete };
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
  }
}

for (const n of [2, 3, 5]) {
  test(`a private DHT of ${n} sessions: every torrent is found and downloaded by magnet alone`, { timeout: 120_000 }, async (t) => {
    const { firstPeer, complete } = await privateDht(n);
    assert.equal(firstPeer.length, n * (n - 1));
    t.diagnostic(`dht: ${n} nodes, ${firstPeer.length} magnets: magnet → first peer ${median(firstPeer)} ms (max ${Math.max(...firstPeer)}), ` +
      `→ complete ${median(complete)} ms (max ${Math.max(...complete)})`);
  });
}

test('the wire port message (BEP 5): two sessions with no bootstrap node meet as peers and each adds the other\'s DHT node', { timeout: 30_000 }, async () => {
  const a = await openBitpeer({ ...local, dhtBootstrap: [] });
  const b = await openBitpeer({ ...local, dhtBootstrap: [] });
  try {
    assert.equal(a.api.stats().dht?.nodes, 0);
    assert.equal(b.api.stats().dht?.nodes, 0);
    const t = await makeTorrent('port');
    await a.api.add({ torrentFile: t.torrent }, { downloadDir: t.src, followLinks: true, failOnError: true });
    const added = await b.api.add({ torrentFile: t.torrent }, { downloadDir: tmpDir(), peers: [{ host: '127.0.0.1', port: a.port }] });
    await b.api.whenDone(added.id, { signal: AbortSignal.timeout(20_000) });
    await until(() => (a.api.stats().dht?.nodes ?? 0) >= 1 && (b.api.stats().dht?.nodes ?? 0) >= 1, 15_000,
      'both DHT tables to hold the other node');
  } finally {
    await b.close();
    await a.close();
  }
});

/** A UDP socket on 127.0.0.1 that records what it receives. */
async function listener(): Promise<{ port: number; got: Buffer[]; socket: dgram.Socket }> {
  const socket = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  socket.on('message', (m) => got.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, got, socket };
}

/** Sends a KRPC ping to 127.0.0.1:port from `socket`; resolves with the answers seen within `ms`. */
async function ping(socket: dgram.Socket, got: Buffer[], port: number, ms: number): Promise<Buffer[]> {
  const before = got.length;
  socket.send(encode({ t: Buffer.from('pg'), y: 'q', q: 'ping', a: { id: Buffer.alloc(20, 9) } }), port, '127.0.0.1');
  await new Promise((r) => setTimeout(r, ms));
  return got.slice(before).filter((m) => {
    try {
      const d = decode(m).value;
      return isDict(d) && Buffer.isBuffer(d.get('t')) && String(d.get('t')) === 'pg' && String(d.get('y')) === 'r';
    } catch { return false; }
  });
}

test('--no-dht: a seed sends nothing to its bootstrap node and answers no KRPC; without it, it does both', { timeout: 60_000 }, async () => {
  const scope = new Scope();
  const boot = await listener();
  const probe = await listener();
  try {
    const t = await makeTorrent('nodht', 64 * 1024);
    const file = path.join(t.src, 'nodht.torrent');
    fs.writeFileSync(file, t.torrent);
    const run = async (extra: string[]): Promise<{ krpc: number; answers: number }> => {
      const before = boot.got.length;
      const seed = scope.bitpeer(['seed', file, t.src, '--port', '0', '--bind', '127.0.0.1', '--no-tracker', '--no-lsd', '--no-pex', '--json',
        '--dht-bootstrap', `127.0.0.1:${boot.port}`, ...extra]);
      const listening = await seed.waitForEvent('listening', 20_000);
      await seed.waitFor((e) => e.event === 'state' && e.state === 'seeding', 20_000, 'seeding');
      const answers = await ping(probe.socket, probe.got, Number(listening['port']), 2500);
      await seed.stop();
      return { krpc: boot.got.slice(before).filter((m) => m[0] === 0x64).length, answers: answers.length };
    };
    const off = await run(['--no-dht']);
    assert.deepEqual(off, { krpc: 0, answers: 0 }, 'with --no-dht: no KRPC sent, none answered');
    const on = await run([]);
    assert.ok(on.krpc >= 1, `with the DHT on, the bootstrap node is queried (${on.krpc} KRPC datagrams)`);
    assert.equal(on.answers, 1, 'with the DHT on, a ping is answered');
  } finally {
    boot.socket.close();
    probe.socket.close();
    await scope.cleanup();
  }
});

test('dht-enabled applies live: the node stops (stats null, a `dht` off event) and starts again with the same id', { timeout: 20_000 }, async () => {
  const phases: string[] = [];
  const a = await openBitpeer({ ...local, dhtBootstrap: [], onEvent: (e) => { if (e.event === 'dht') phases.push(e.phase); } });
  try {
    const id = a.api.stats().dht?.id;
    assert.ok(id && /^[0-9a-f]{40}$/.test(id));
    assert.equal(a.api.getSettings().dht, true);
    await a.api.setSettings({ dht: false });
    assert.equal(a.api.stats().dht, null);
    assert.equal(a.api.getSettings().dht, false);
    assert.equal(phases.at(-1), 'off');
    await a.api.setSettings({ dht: true });
    assert.equal(a.api.stats().dht?.id, id, 'the same node id');
    assert.equal(a.api.getSettings().dht, true);
  } finally {
    await a.close();
  }
});

/**
 * Connects to 127.0.0.1:port as a raw peer of `infoHash` with `bits` set, for `ms`: the reserved bytes of the
 * session's handshake and the `port` messages (id 9) it sends.
 */
async function rawPeer(port: number, infoHash: Buffer, bits: readonly ReservedBitPosition[], ms: number): Promise<{ reserved: Buffer; ports: number[] }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(encodeHandshake({ reserved: makeReserved(bits), infoHash, peerId: Buffer.from('-XX0000-dhtportpeer1', 'latin1') }));
  await new Promise((r) => setTimeout(r, ms));
  socket.destroy();
  assert.ok(buf.length >= 68, 'the session answered the handshake');
  const reserved = Buffer.from(buf.subarray(20, 28));
  const ports: number[] = [];
  for (let off = 68; off + 4 <= buf.length;) {
    const len = buf.readUInt32BE(off);
    if (off + 4 + len > buf.length) break;
    if (len === 3 && buf[off + 4] === 9) ports.push(buf.readUInt16BE(off + 5));
    off += 4 + len;
  }
  return { reserved, ports };
}

test('the port message is sent once, with the DHT\'s UDP port, only to a peer that sets the DHT bit and only while the DHT runs', { timeout: 20_000 }, async () => {
  const a = await openBitpeer({ ...local, dhtBootstrap: [] });
  try {
    const t = await makeTorrent('portbit');
    await a.api.add({ torrentFile: t.torrent }, { downloadDir: t.src, followLinks: true, failOnError: true });
    const infoHash = Buffer.from(t.hex, 'hex');
    await until(() => a.api.get().some((x) => x.state === 'seeding'), 10_000, 'the torrent to seed');
    const dhtBit = (r: Buffer): boolean => (r[ReservedBit.DHT.byte]! & ReservedBit.DHT.mask) !== 0;
    const base = [ReservedBit.EXTENSION_PROTOCOL, ReservedBit.FAST];

    const withBit = await rawPeer(a.port, infoHash, [...base, ReservedBit.DHT], 500);
    assert.ok(dhtBit(withBit.reserved), 'our handshake has the DHT bit while the DHT runs');
    assert.deepEqual(withBit.ports, [a.port], 'one port message, with the UDP port the node listens on');

    const withoutBit = await rawPeer(a.port, infoHash, base, 500);
    assert.deepEqual(withoutBit.ports, [], 'no port message to a peer without the DHT bit');

    await a.api.setSettings({ dht: false });
    const off = await rawPeer(a.port, infoHash, [...base, ReservedBit.DHT], 500);
    assert.ok(!dhtBit(off.reserved), 'no DHT bit while the DHT is off');
    assert.deepEqual(off.ports, [], 'no port message while the DHT is off');
  } finally {
    await a.close();
  }
});

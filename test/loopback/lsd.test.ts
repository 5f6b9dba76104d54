/**
 * LSD (BEP 14) over real sockets: two LsdService instances on one machine find each other's torrents; own announces
 * are ignored by cookie; incoming announces are rate-limited and garbage is counted; outgoing announces follow the
 * schedule (right away on add, never twice a minute, up to 5 torrents one per datagram, more packed).
 *
 * Network rule: multicast must never reach the host's real network. These tests run only in a network namespace
 * whose only interface is `lo` (checked through /proc/net/dev, which is per namespace). The test runner's loopback
 * tier provides one; when this file runs anywhere else it re-executes itself under `unshare -n` (root only), and
 * otherwise skips with the reason. All multicast is also pinned to 127.0.0.1 (`interfaceAddress`), which works on
 * `lo` without any multicast route.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LSD_GROUP_V4, LSD_HOST_V4, LSD_PORT, encodeLsdAnnounce, parseLsdAnnounce } from '../../src/discovery/lsd-codec.js';
import { LsdService, type LsdServiceOptions } from '../../src/discovery/lsd.js';

const IFACE = '127.0.0.1';
const X = 'aa'.repeat(20);
const Y = 'bb'.repeat(20);
const Z = 'cc'.repeat(20);
const INNER = 'BITPEER_LSD_NETNS';

/** Interfaces of the current network namespace. */
function interfaces(): string[] {
  try {
    return readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2)
      .map((l) => l.split(':')[0]!.trim()).filter((n) => n.length > 0);
  } catch {
    return ['unknown'];
  }
}

const isolated = interfaces().every((n) => n === 'lo');

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

if (!isolated) {
  const me = fileURLToPath(import.meta.url);
  const root = process.getuid?.() === 0;
  const canUnshare = root && process.env[INNER] !== '1'
    && spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!canUnshare) {
    const why = process.env[INNER] === '1' ? 'unshare -n did not give an isolated namespace'
      : !root ? 'not root (cannot create a private network namespace)' : 'unshare -n is not available';
    test(`LSD socket tests (skipped: ${why}; they never run on the host network)`, { skip: why }, () => {});
  } else {
    test('LSD socket tests, re-run in a private network namespace (lo only)', { timeout: 60_000 }, () => {
      // The child is a test run of its own: drop the marker that makes node:test refuse nested runs.
      const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
      const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
      const r = spawnSync('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec ${q(process.execPath)} --test --test-reporter=spec ${q(me)}`], {
        env: { ...childEnv, [INNER]: '1' }, encoding: 'utf8', timeout: 55_000,
      });
      const out = `${r.stdout}\n${r.stderr}`;
      assert.equal(r.status, 0, `inner run failed:\n${out}`);
      assert.match(out, /ℹ pass [1-9]/, `no test ran:\n${out}`);
      assert.match(out, /ℹ fail 0/, out);
    });
  }
} else {
  const services: LsdService[] = [];
  const sockets: dgram.Socket[] = [];
  after(async () => {
    await Promise.all(services.map((s) => s.close()));
    for (const s of sockets) s.close();
  });

  const logs: string[] = [];
  function service(opts: Partial<LsdServiceOptions> & Pick<LsdServiceOptions, 'port' | 'onPeer'>): LsdService {
    const s = new LsdService({ interfaceAddress: IFACE, log: (m) => logs.push(m), ...opts });
    services.push(s);
    return s;
  }

  /** A plain socket in the LSD group that records every announce it hears. */
  async function listener(): Promise<{ heard: { cookie?: string; infoHashes: string[]; port: number }[] }> {
    const heard: { cookie?: string; infoHashes: string[]; port: number }[] = [];
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    sockets.push(s);
    s.on('message', (m) => { const a = parseLsdAnnounce(m); if (a) heard.push(a); });
    await new Promise<void>((r) => s.bind(LSD_PORT, '0.0.0.0', () => r()));
    s.addMembership(LSD_GROUP_V4, IFACE);
    return { heard };
  }

  /** A plain socket that sends datagrams to the LSD group on lo. */
  async function sender(): Promise<(b: Buffer) => Promise<void>> {
    const s = dgram.createSocket({ type: 'udp4' });
    sockets.push(s);
    await new Promise<void>((r) => s.bind(0, IFACE, () => r()));
    s.setMulticastInterface(IFACE);
    s.setMulticastLoopback(true);
    return (b) => new Promise((resolve, reject) => s.send(b, LSD_PORT, LSD_GROUP_V4, (e) => (e ? reject(e) : resolve())));
  }

  test('namespace check: only lo here', () => {
    assert.deepEqual(interfaces(), ['lo']);
  });

  test('two services find each other\'s torrents; their own announces are ignored by cookie', { timeout: 20_000 }, async () => {
    const gotA: string[] = [];
    const gotB: string[] = [];
    const a = service({ port: 10001, onPeer: (ih, h, p) => gotA.push(`${ih}@${h}:${p}`), minIntervalPerTorrentMs: 300 });
    const b = service({ port: 10002, onPeer: (ih, h, p) => gotB.push(`${ih}@${h}:${p}`), minIntervalPerTorrentMs: 300 });
    assert.notEqual(a.cookie, b.cookie);
    await a.start();
    await b.start();
    a.addTorrent(X);
    a.addTorrent(Y);
    b.addTorrent(X.toUpperCase());
    b.addTorrent(Z);
    await until(() => gotA.length > 0 && gotB.length > 0, 10_000, 'both to hear each other');
    await sleep(1500); // anything else that would arrive
    assert.deepEqual([...new Set(gotA)], [`${X}@127.0.0.1:10002`]);
    assert.deepEqual([...new Set(gotB)], [`${X}@127.0.0.1:10001`]);
    assert.ok(a.stats.own >= 1 && b.stats.own >= 1, 'each heard its own announce and ignored it');
    await a.close();
    await b.close();
    await a.close(); // idempotent
  });

  test('incoming: garbage counted, one report per peer and torrent per 10 s, unknown torrents ignored, onPeer errors contained', { timeout: 20_000 }, async () => {
    const got: string[] = [];
    const s = service({ port: 10003, onPeer: (ih, h, p) => { got.push(`${ih}@${h}:${p}`); throw new Error('boom'); } });
    s.addTorrent(X);
    await s.start();
    const send = await sender();
    await send(Buffer.from('hello, world'));
    await send(Buffer.alloc(2000, 0x41)); // oversize
    const ann = encodeLsdAnnounce({ host: LSD_HOST_V4, port: 20000, infoHashes: [X, Y], cookie: 'other' });
    for (let i = 0; i < 5; i++) await send(ann);
    await send(encodeLsdAnnounce({ host: LSD_HOST_V4, port: 20001, infoHashes: [X] })); // another peer, same machine
    await until(() => s.stats.invalid >= 2 && s.stats.rateLimited >= 4 && got.length >= 2, 5000, 'all datagrams');
    await sleep(300);
    assert.deepEqual(got, [`${X}@127.0.0.1:20000`, `${X}@127.0.0.1:20001`]);
    assert.equal(s.stats.invalid, 2);
    assert.equal(s.stats.rateLimited, 4);
    assert.ok(logs.some((l) => l.includes('onPeer threw: boom')));
    await s.close();
  });

  test('outgoing: right away on add, at most once a minute, few torrents one per datagram, many packed', { timeout: 20_000 }, async () => {
    const { heard } = await listener();
    let now = 1_000_000;
    const s = service({ port: 10004, onPeer: () => {}, now: () => now });
    await s.start();
    const mine = (): { infoHashes: string[] }[] => heard.filter((h) => h.cookie === s.cookie);
    s.addTorrent(X);
    await until(() => mine().length === 1, 5000, 'the first announce');
    assert.deepEqual(mine()[0]!.infoHashes, [X]);
    assert.equal(heard.find((h) => h.cookie === s.cookie)!.port, 10004);
    s.announceNow(X);
    await sleep(1500); // more than one tick
    assert.equal(mine().length, 1, 'not twice within a minute');
    now += 60_000;
    await until(() => mine().length === 2, 3000, 'the deferred announce');

    const many = Array.from({ length: 7 }, (_, i) => String(i).repeat(40));
    const few = Array.from({ length: 3 }, (_, i) => String(i + 7).repeat(40));
    const p = service({ port: 10005, onPeer: () => {} });
    const f = service({ port: 10006, onPeer: () => {} });
    await p.start();
    for (const ih of many) p.addTorrent(ih); // added together after start: one tick, one datagram
    for (const ih of few) f.addTorrent(ih); // added before start: announced by start
    await f.start();
    await until(() => heard.some((h) => h.cookie === f.cookie) && heard.some((h) => h.cookie === p.cookie), 5000, 'announces');
    await sleep(300);
    const packed = heard.filter((h) => h.cookie === p.cookie);
    assert.equal(packed.length, 1);
    assert.deepEqual(packed[0]!.infoHashes, many);
    const single = heard.filter((h) => h.cookie === f.cookie);
    assert.deepEqual(single.map((h) => h.infoHashes), few.map((ih) => [ih]));
  });

  test('ipv6: unavailable IPv6 multicast is logged, not fatal', { timeout: 10_000 }, async () => {
    const { heard } = await listener();
    const before = logs.length;
    const s = service({ port: 10007, onPeer: () => {}, ipv6: true });
    await s.start();
    s.addTorrent(Z);
    await until(() => heard.some((h) => h.cookie === s.cookie), 5000, 'the IPv4 announce');
    // This namespace has no IPv6 multicast on lo: joining fails, which is logged, and IPv4 works regardless.
    assert.ok(logs.slice(before).some((l) => /IPv6 (multicast|socket) unavailable/.test(l)), logs.slice(before).join('\n'));
  });

  test('bad options are refused up front; close leaves no UDP handle', async () => {
    assert.throws(() => new LsdService({ port: 0, onPeer: () => {} }), RangeError);
    assert.throws(() => new LsdService({ port: 1, cookie: 'has space', onPeer: () => {} }), RangeError);
    const s = new LsdService({ port: 1, onPeer: () => {} });
    assert.throws(() => s.addTorrent('xyz'), RangeError);
    await Promise.all(services.map((x) => x.close()));
    for (const x of sockets.splice(0)) x.close();
    await sleep(50);
    const udp = process.getActiveResourcesInfo().filter((r) => r === 'UDPWRAP');
    assert.deepEqual(udp, []);
  });
}

// UDP tracker client (BEP 15) against a fake UDP tracker on 127.0.0.1, written here from the BEP (not with the
// client's codec), with tiny retransmission timeouts and an injected clock.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { isBtError } from '../util/errors.js';
import { UdpTrackerClient } from './udp-client.js';
import type { UdpTrackerClientOptions } from './udp-client.js';
import type { AnnounceParams } from './client-common.js';

interface Seen {
  action: number;
  tid: number;
  connectionId: Buffer;
  body: Buffer;
}

/** A scriptable BEP 15 tracker. */
class FakeTracker {
  readonly sock = dgram.createSocket('udp4');
  seen: Seen[] = [];
  issued = new Set<string>();
  dropConnects = 0;
  dropAnnounces = 0;
  silent = false;
  errorMessage: string | undefined;
  nextId = 1n;
  interval = 1800;
  peers = Buffer.alloc(0);

  get port(): number {
    return this.sock.address().port;
  }

  reset(): void {
    this.seen = [];
    this.issued.clear();
    this.dropConnects = 0;
    this.dropAnnounces = 0;
    this.silent = false;
    this.errorMessage = undefined;
    this.interval = 1800;
    this.peers = Buffer.alloc(0);
  }

  count(action: number): number {
    return this.seen.filter((s) => s.action === action).length;
  }

  async start(): Promise<void> {
    this.sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
  }

  private reply(b: Buffer, rinfo: dgram.RemoteInfo): void {
    this.sock.send(b, rinfo.port, rinfo.address);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 16) return;
    const connectionId = Buffer.from(msg.subarray(0, 8));
    const action = msg.readUInt32BE(8);
    const tid = msg.readUInt32BE(12);
    this.seen.push({ action, tid, connectionId, body: Buffer.from(msg) });
    if (this.silent) return;
    if (action === 0) {
      assert.equal(msg.readBigUInt64BE(0), 0x41727101980n);
      if (this.dropConnects > 0) { this.dropConnects--; return; }
      const id = Buffer.alloc(8);
      id.writeBigUInt64BE(this.nextId++);
      this.issued.add(id.toString('hex'));
      const r = Buffer.alloc(16);
      r.writeUInt32BE(0, 0); r.writeUInt32BE(tid, 4); id.copy(r, 8);
      this.reply(r, rinfo);
      return;
    }
    if (this.errorMessage !== undefined || !this.issued.has(connectionId.toString('hex'))) {
      const m = Buffer.from(this.errorMessage ?? 'bad connection id');
      const r = Buffer.alloc(8 + m.length);
      r.writeUInt32BE(3, 0); r.writeUInt32BE(tid, 4); m.copy(r, 8);
      this.reply(r, rinfo);
      return;
    }
    if (action === 1) {
      if (this.dropAnnounces > 0) { this.dropAnnounces--; return; }
      const r = Buffer.alloc(20 + this.peers.length);
      r.writeUInt32BE(1, 0); r.writeUInt32BE(tid, 4); r.writeInt32BE(this.interval, 8);
      r.writeUInt32BE(4, 12); r.writeUInt32BE(9, 16); this.peers.copy(r, 20);
      this.reply(r, rinfo);
      return;
    }
    if (action === 2) {
      const n = (msg.length - 16) / 20;
      const r = Buffer.alloc(8 + 12 * n);
      r.writeUInt32BE(2, 0); r.writeUInt32BE(tid, 4);
      for (let i = 0; i < n; i++) { r.writeUInt32BE(10 + i, 8 + 12 * i); r.writeUInt32BE(20 + i, 12 + 12 * i); r.writeUInt32BE(30 + i, 16 + 12 * i); }
      this.reply(r, rinfo);
    }
  }
}

const tracker = new FakeTracker();
const clientSock = dgram.createSocket('udp4');
let client: UdpTrackerClient;
let clock = 1_000_000;
const strays: Buffer[] = [];

function makeClient(extra: Partial<UdpTrackerClientOptions> = {}): UdpTrackerClient {
  return new UdpTrackerClient({
    send: (buf, host, port) => clientSock.send(buf, port, host),
    now: () => clock,
    baseTimeoutMs: 1000, // long enough never to fire on a loopback answer; tests that retransmit set their own
    maxRetries: 4,
    ...extra,
  });
}

before(async () => {
  await tracker.start();
  await new Promise<void>((r) => clientSock.bind(0, '127.0.0.1', r));
  clientSock.on('message', (msg, rinfo) => {
    if (!client.handleResponse(msg, rinfo)) strays.push(msg);
  });
});

after(() => {
  tracker.sock.close();
  clientSock.close();
});

beforeEach(() => {
  tracker.reset();
  strays.length = 0;
  clock = 1_000_000;
  client = makeClient();
});

const params: AnnounceParams = {
  infoHash: Buffer.alloc(20, 0xab), peerId: Buffer.from('-bp0100-123456789012'), port: 51413, uploaded: 2 ** 40,
  downloaded: 5, left: 7, event: 'started', numwant: 30, key: 0xcafebabe, compact: true,
};

function url(): string {
  return `udp://127.0.0.1:${tracker.port}/announce`;
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isBtError(e), `expected BtError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

describe('udp tracker client', () => {
  it('connects, then announces with the BEP 15 layout, and reads the answer', async () => {
    tracker.peers = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 0, 10, 0, 0, 3, 0, 80]);
    tracker.interval = 900;
    const r = await client.announce(url(), params);
    assert.deepEqual(r, {
      interval: 900, incomplete: 4, complete: 9,
      peers: [{ host: '10.0.0.1', port: 6881 }, { host: '10.0.0.3', port: 80 }],
    });
    assert.equal(tracker.count(0), 1);
    const a = tracker.seen.find((s) => s.action === 1)!.body;
    assert.equal(a.length, 98);
    assert.ok(tracker.issued.has(a.subarray(0, 8).toString('hex')));
    assert.deepEqual(a.subarray(16, 36), params.infoHash);
    assert.deepEqual(a.subarray(36, 56), params.peerId);
    assert.equal(a.readBigUInt64BE(56), 5n);
    assert.equal(a.readBigUInt64BE(64), 7n);
    assert.equal(a.readBigUInt64BE(72), 2n ** 40n);
    assert.equal(a.readUInt32BE(80), 2); // started
    assert.equal(a.readUInt32BE(84), 0); // ip
    assert.equal(a.readUInt32BE(88), 0xcafebabe);
    assert.equal(a.readInt32BE(92), 30);
    assert.equal(a.readUInt16BE(96), 51413);
    assert.equal(client.pendingCount, 0);
    assert.equal(strays.length, 0);
  });

  it('retransmits with backoff, keeping the transaction id, until answered', async () => {
    tracker.dropConnects = 2;
    tracker.dropAnnounces = 1;
    client = makeClient({ baseTimeoutMs: 50 });
    const r = await client.announce(url(), { ...params, event: '' });
    assert.equal(r.interval, 1800);
    assert.equal(tracker.count(0), 3);
    assert.equal(tracker.count(1), 2);
    const connects = tracker.seen.filter((s) => s.action === 0);
    assert.equal(new Set(connects.map((s) => s.tid)).size, 1, 'one transaction id for the connect retransmissions');
    const announces = tracker.seen.filter((s) => s.action === 1);
    assert.equal(announces[0]!.tid, announces[1]!.tid);
    assert.equal(announces[0]!.body.readUInt32BE(80), 0); // event none
  });

  it('gives up with TIMEOUT after maxRetries retransmissions', async () => {
    tracker.silent = true;
    client = makeClient({ baseTimeoutMs: 5 });
    const t0 = Date.now();
    await rejectsWith(client.announce(url(), params), 'TIMEOUT');
    assert.equal(tracker.count(0), 5, 'the first send and 4 retransmissions');
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(client.pendingCount, 0);
  });

  it('turns an error action into BtError TRACKER and forgets the connection id', async () => {
    await client.announce(url(), params);
    tracker.errorMessage = 'torrent not allowed';
    await rejectsWith(client.announce(url(), params), 'TRACKER', /^torrent not allowed$/);
    tracker.errorMessage = undefined;
    await client.announce(url(), params);
    assert.equal(tracker.count(0), 2, 'a fresh connect after the error');
  });

  it('reuses a connection id for 60 s, then connects again', async () => {
    await client.announce(url(), params);
    clock += 59_000;
    await client.announce(url(), params);
    assert.equal(tracker.count(0), 1);
    clock += 1_000;
    await client.announce(url(), params);
    assert.equal(tracker.count(0), 2);
    assert.equal(tracker.count(1), 3);
  });

  it('shares one connect between concurrent requests to the same tracker', async () => {
    const rs = await Promise.all([client.announce(url(), params), client.announce(url(), params),
      client.announce(url(), { ...params, infoHash: Buffer.alloc(20, 1) })]);
    assert.equal(rs.length, 3);
    assert.equal(tracker.count(0), 1);
    assert.equal(tracker.count(1), 3);
  });

  it('scrapes', async () => {
    const h = [Buffer.alloc(20, 1), Buffer.alloc(20, 2)];
    const r = await client.scrape(url(), h);
    assert.deepEqual(r.get(h[0]!.toString('hex')), { complete: 10, downloaded: 20, incomplete: 30 });
    assert.deepEqual(r.get(h[1]!.toString('hex')), { complete: 11, downloaded: 21, incomplete: 31 });
    await rejectsWith(client.scrape(url(), Array.from({ length: 75 }, () => Buffer.alloc(20))), 'TRACKER', /1 to 74/);
  });

  it('claims only datagrams that answer a pending transaction from the right address', async () => {
    tracker.silent = true;
    const c = makeClient({ baseTimeoutMs: 5000, rng: () => 0.5 });
    client = c;
    const ac = new AbortController();
    const p = c.announce(url(), params, ac.signal);
    await new Promise((r) => setTimeout(r, 30));
    const tid = tracker.seen[0]!.tid;
    assert.equal(tid, 0x80000001, 'the announce holds 0x80000000; its connect probed to the next free id');
    const answer = Buffer.alloc(16);
    answer.writeUInt32BE(0, 0); answer.writeUInt32BE(tid, 4);
    assert.equal(c.handleResponse(answer.subarray(0, 7), { address: '127.0.0.1', port: tracker.port }), false);
    assert.equal(c.handleResponse(answer, { address: '127.0.0.1', port: tracker.port + 1 }), false);
    assert.equal(c.handleResponse(answer, { address: '127.0.0.2', port: tracker.port }), false);
    const other = Buffer.from(answer); other.writeUInt32BE(tid + 1, 4);
    assert.equal(c.handleResponse(other, { address: '127.0.0.1', port: tracker.port }), false);
    // An IPv4-mapped source is the same address.
    answer.writeBigUInt64BE(77n, 8);
    assert.equal(c.handleResponse(answer, { address: '::ffff:127.0.0.1', port: tracker.port }), true);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(tracker.count(1), 1, 'the announce went out with the new connection id');
    assert.equal(tracker.seen[1]!.connectionId.readBigUInt64BE(), 77n);
    ac.abort();
    await rejectsWith(p, 'ABORTED');
    assert.equal(c.pendingCount, 0);
  });

  it('treats a truncated or wrong-action answer as an error, not a crash', async () => {
    tracker.silent = true;
    const c = makeClient({ baseTimeoutMs: 5000 });
    client = c;
    const p = c.announce(url(), params);
    await new Promise((r) => setTimeout(r, 30));
    const tid = tracker.seen[0]!.tid;
    const bad = Buffer.alloc(12);
    bad.writeUInt32BE(0, 0); bad.writeUInt32BE(tid, 4); // connect answer without its id
    assert.equal(c.handleResponse(bad, { address: '127.0.0.1', port: tracker.port }), true);
    await rejectsWith(p, 'TRACKER', /too short/);
    const p2 = c.announce(url(), params);
    await new Promise((r) => setTimeout(r, 30));
    const tid2 = tracker.seen[1]!.tid;
    bad.writeUInt32BE(2, 0); bad.writeUInt32BE(tid2, 4);
    assert.equal(c.handleResponse(bad, { address: '127.0.0.1', port: tracker.port }), true);
    await rejectsWith(p2, 'TRACKER', /action 2/);
  });

  it('rejects an announce answer whose peer list is not whole 6-byte entries', async () => {
    tracker.peers = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1, 9]);
    await rejectsWith(client.announce(url(), params), 'TRACKER', /malformed UDP tracker answer/);
  });

  it('resolves names through the injected lookup, and aborts a pending lookup', async () => {
    const names: string[] = [];
    client = makeClient({ lookup: async (h) => { names.push(h); return { address: '127.0.0.1', family: 4 }; } });
    await client.announce(`udp://tracker.test:${tracker.port}`, params);
    assert.deepEqual(names, ['tracker.test']);
    client = makeClient({ lookup: () => new Promise(() => { /* never */ }) });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    await rejectsWith(client.announce(`udp://tracker.test:${tracker.port}`, params, ac.signal), 'ABORTED');
    client = makeClient({ lookup: () => Promise.reject(new Error('ENOTFOUND')) });
    await rejectsWith(client.announce(`udp://nowhere.test:1`, params), 'TRACKER', /cannot resolve/);
  });

  it('refuses non-udp and port-less URLs, and fails pending requests on close()', async () => {
    await rejectsWith(client.announce('http://127.0.0.1/announce', params), 'TRACKER', /not a udp tracker/);
    await rejectsWith(client.announce('udp://127.0.0.1/announce', params), 'TRACKER', /port/);
    tracker.silent = true;
    const p = client.announce(url(), params);
    await new Promise((r) => setTimeout(r, 10));
    client.close();
    await rejectsWith(p, 'ABORTED');
    assert.equal(client.pendingCount, 0);
  });

  it('fails when send throws', async () => {
    client = makeClient({ send: () => { throw new Error('EHOSTUNREACH'); } });
    await rejectsWith(client.announce(url(), params), 'TRACKER', /send .* failed/);
  });
});

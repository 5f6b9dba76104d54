// HTTP tracker client against a local node:http server on 127.0.0.1.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encode } from '../bencode/index.js';
import { isBtError } from '../util/errors.js';
import {
  announceHttp, buildAnnounceUrl, parseAnnounceBody, percentEncodeBytes, scrapeHttp, scrapeUrlFor,
} from './http-client.js';
import type { AnnounceParams } from './http-client.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let server: http.Server;
let base = '';
let handler: Handler = (_req, res) => res.end();
const seenUrls: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    seenUrls.push(req.url ?? '');
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const allBytes = Buffer.from(Array.from({ length: 20 }, (_, i) => (i * 13 + 250) % 256));
const params: AnnounceParams = {
  infoHash: allBytes, peerId: Buffer.from('-bp0100-abcdefghij~.'), port: 6881, uploaded: 1, downloaded: 2,
  left: 3, event: 'started', numwant: 50, key: 0xdeadbeef, compact: true,
};

function reply(body: Buffer | string, status = 200): Handler {
  return (_req, res) => {
    res.statusCode = status;
    res.end(body);
  };
}

function compact4(...peers: Array<[number, number, number, number, number]>): Buffer {
  return Buffer.concat(peers.map(([a, b, c, d, port]) => Buffer.from([a, b, c, d, port >> 8, port & 0xff])));
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isBtError(e), `expected BtError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Percent-decodes a query value to bytes (test-side reference). */
function pctDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') { out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

describe('http tracker client', () => {
  it('percent-encodes every byte value and keeps unreserved characters', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const enc = percentEncodeBytes(all);
    assert.match(enc, /^[A-Za-z0-9\-._~%]+$/);
    assert.deepEqual(pctDecode(enc), all);
    assert.equal(percentEncodeBytes(Buffer.from('aZ9-._~ /')), 'aZ9-._~%20%2F');
  });

  it('sends binary-safe info_hash/peer_id and the BEP 3 parameters, keeping an existing query', async () => {
    handler = reply(encode({ interval: 900, peers: Buffer.alloc(0) }));
    seenUrls.length = 0;
    await announceHttp(`${base}/announce?passkey=abc`, { ...params, trackerId: 'T\u00ff1' });
    const url = seenUrls[0]!;
    assert.ok(url.startsWith('/announce?passkey=abc&'), url);
    const q = new Map(url.split('?')[1]!.split('&').map((kv) => kv.split('=') as [string, string]));
    assert.deepEqual(pctDecode(q.get('info_hash')!), allBytes);
    assert.deepEqual(pctDecode(q.get('peer_id')!), params.peerId);
    assert.equal(q.get('port'), '6881');
    assert.equal(q.get('uploaded'), '1');
    assert.equal(q.get('downloaded'), '2');
    assert.equal(q.get('left'), '3');
    assert.equal(q.get('event'), 'started');
    assert.equal(q.get('compact'), '1');
    assert.equal(q.get('numwant'), '50');
    assert.equal(q.get('key'), 'deadbeef');
    assert.deepEqual(pctDecode(q.get('trackerid')!), Buffer.from([0x54, 0xff, 0x31]));
    const regular = buildAnnounceUrl(`${base}/announce`, { ...params, event: '' });
    assert.ok(!regular.includes('event='), regular);
  });

  it('reads compact IPv4 peers, drops port 0 and duplicates, and takes interval/min interval/counts/tracker id', async () => {
    handler = reply(encode({
      interval: 1200, 'min interval': 60, complete: 5, incomplete: 7, 'tracker id': 'xyz',
      peers: compact4([10, 0, 0, 1, 6881], [10, 0, 0, 2, 0], [10, 0, 0, 1, 6881], [192, 168, 1, 9, 51413]),
    }));
    const r = await announceHttp(`${base}/announce`, params);
    assert.deepEqual(r.peers, [{ host: '10.0.0.1', port: 6881 }, { host: '192.168.1.9', port: 51413 }]);
    assert.equal(r.interval, 1200);
    assert.equal(r.minInterval, 60);
    assert.equal(r.complete, 5);
    assert.equal(r.incomplete, 7);
    assert.equal(r.trackerId, 'xyz');
    assert.equal(r.warning, undefined);
  });

  it('reads peers6 (BEP 7) next to peers', async () => {
    const v6 = Buffer.alloc(18);
    v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8; v6[15] = 1; v6.writeUInt16BE(6969, 16);
    handler = reply(encode({ interval: 900, peers: compact4([1, 2, 3, 4, 80]), peers6: v6 }));
    const r = await announceHttp(`${base}/announce`, params);
    assert.deepEqual(r.peers, [{ host: '1.2.3.4', port: 80 }, { host: '2001:db8::1', port: 6969 }]);
  });

  it('reads the dictionary model, keeping IP literals only', async () => {
    handler = reply(encode({
      interval: 900,
      peers: [
        { ip: '10.1.1.1', port: 1000, 'peer id': Buffer.alloc(20) },
        { ip: 'example.com', port: 1001 },
        { ip: '::1', port: 1002 },
        { ip: '10.1.1.2', port: 0 },
        { ip: '10.1.1.3' },
        'junk',
      ],
    }));
    const r = await announceHttp(`${base}/announce`, params);
    assert.deepEqual(r.peers, [{ host: '10.1.1.1', port: 1000 }, { host: '::1', port: 1002 }]);
  });

  it('caps the number of peers taken', async () => {
    const many = Buffer.alloc(6 * 300);
    for (let i = 0; i < 300; i++) { many.writeUInt32BE(0x0a000000 + i + 1, i * 6); many.writeUInt16BE(1000, i * 6 + 4); }
    handler = reply(encode({ interval: 900, peers: many }));
    assert.equal((await announceHttp(`${base}/announce`, params)).peers.length, 200);
    assert.equal((await announceHttp(`${base}/announce`, params, { maxPeers: 10 })).peers.length, 10);
  });

  it('truncates a compact list whose length is not a multiple of 6, with a warning', async () => {
    handler = reply(encode({ interval: 900, peers: Buffer.concat([compact4([1, 2, 3, 4, 80]), Buffer.from([9, 9, 9])]) }));
    const r = await announceHttp(`${base}/announce`, params);
    assert.deepEqual(r.peers, [{ host: '1.2.3.4', port: 80 }]);
    assert.match(r.warning ?? '', /not a multiple of 6/);
  });

  it('turns a failure reason into BtError TRACKER (also with an HTTP error status)', async () => {
    handler = reply(encode({ 'failure reason': 'torrent not registered\x07' }));
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /^torrent not registered$/);
    handler = reply(encode({ 'failure reason': 'bad passkey' }), 403);
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /^bad passkey$/);
    handler = reply('Not here', 404);
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /HTTP 404/);
  });

  it('passes the warning message on', async () => {
    handler = reply(encode({ interval: 900, peers: Buffer.alloc(0), 'warning message': 'please upgrade' }));
    const r = await announceHttp(`${base}/announce`, params);
    assert.equal(r.warning, 'please upgrade');
  });

  it('rejects a negative interval; defaults a missing one; ignores a bad min interval', async () => {
    handler = reply(encode({ interval: -5, peers: Buffer.alloc(0) }));
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /interval/);
    const r = parseAnnounceBody(encode({ peers: Buffer.alloc(0), 'min interval': -1 }));
    assert.equal(r.interval, 1800);
    assert.equal(r.minInterval, undefined);
  });

  it('rejects garbage and deeply nested answers', async () => {
    handler = reply('<html>hello</html>');
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /malformed/);
    handler = reply(`d8:intervali900e5:peers${'l'.repeat(50)}${'e'.repeat(50)}e`);
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /malformed/);
    handler = reply(encode([1, 2, 3]));
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /not a dictionary/);
    handler = reply('');
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /malformed/);
  });

  it('aborts a response beyond the size cap while streaming, and a declared oversize at once', async () => {
    let wrote = 0;
    let closedEarly = false;
    handler = (_req, res) => {
      res.writeHead(200); // chunked: no content-length
      const chunk = Buffer.alloc(4096, 0x61);
      const pump = (): void => {
        while (wrote < 64 * 4096) {
          wrote++;
          if (!res.write(chunk)) { res.once('drain', pump); return; }
        }
        res.end();
      };
      res.on('close', () => { closedEarly = !res.writableFinished; });
      pump();
    };
    await rejectsWith(announceHttp(`${base}/announce`, params, { maxResponseBytes: 8192 }), 'TRACKER', /larger than 8192/);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(closedEarly, 'the server saw the connection closed before it finished');
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Length': String(10_000) });
      res.write(Buffer.alloc(100));
    };
    await rejectsWith(announceHttp(`${base}/announce`, params, { maxResponseBytes: 8192 }), 'TRACKER', /too large/);
  });

  it('follows redirects up to the cap, and refuses redirects to other schemes', async () => {
    handler = (req, res) => {
      if (!req.url!.includes('hop=1')) { res.writeHead(302, { Location: '/announce?hop=1' }); res.end(); return; }
      res.end(encode({ interval: 900, peers: compact4([5, 6, 7, 8, 9]) }));
    };
    assert.deepEqual((await announceHttp(`${base}/announce`, params)).peers, [{ host: '5.6.7.8', port: 9 }]);

    seenUrls.length = 0;
    handler = (req, res) => { res.writeHead(301, { Location: req.url! }); res.end(); };
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /too many redirects/);
    assert.equal(seenUrls.length, 4, 'the original request and 3 redirects');

    handler = (_req, res) => { res.writeHead(302, { Location: 'file:///etc/passwd' }); res.end(); };
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /unsupported scheme/);
    handler = (_req, res) => { res.writeHead(302, { Location: `${base}/admin` }); res.end(); };
    await rejectsWith(announceHttp(`${base}/announce`, params), 'TRACKER', /loopback/);
  });

  it('times out, and honours the caller\'s AbortSignal', async () => {
    handler = () => { /* never answers */ };
    const t0 = Date.now();
    await rejectsWith(announceHttp(`${base}/announce`, params, { timeoutMs: 100 }), 'TIMEOUT');
    assert.ok(Date.now() - t0 < 2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await rejectsWith(announceHttp(`${base}/announce`, params, { signal: ac.signal }), 'ABORTED');
    await rejectsWith(announceHttp(`${base}/announce`, params, { signal: AbortSignal.abort() }), 'ABORTED');
  });

  it('refuses unsupported schemes and loopback paths other than /announce', async () => {
    await rejectsWith(announceHttp('ftp://127.0.0.1/announce', params), 'TRACKER', /unsupported scheme/);
    await rejectsWith(announceHttp('wss://tracker.example/announce', params), 'TRACKER', /unsupported scheme/);
    await rejectsWith(announceHttp(`${base}/admin/reboot`, params), 'TRACKER', /loopback/);
    await rejectsWith(announceHttp('udp://127.0.0.1:1/announce', params), 'TRACKER', /not an http/);
  });

  it('reports a refused connection as TRACKER', async () => {
    const s = http.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    await rejectsWith(announceHttp(`http://127.0.0.1:${port}/announce`, params), 'TRACKER', /request failed/);
  });

  it('derives scrape URLs by the BEP 48 convention', () => {
    assert.equal(scrapeUrlFor('http://t.example/announce'), 'http://t.example/scrape');
    assert.equal(scrapeUrlFor('http://t.example/x/announce.php?k=1'), 'http://t.example/x/scrape.php?k=1');
    assert.equal(scrapeUrlFor('http://t.example/a/announce-b'), 'http://t.example/a/scrape-b');
    assert.equal(scrapeUrlFor('http://t.example/announce/x'), undefined);
    assert.equal(scrapeUrlFor('http://t.example/x/ann'), undefined);
    assert.equal(scrapeUrlFor('udp://t.example:80/announce'), undefined);
  });

  it('scrapes, keeping only the requested hashes', async () => {
    const h1 = Buffer.alloc(20, 1);
    const h2 = Buffer.alloc(20, 0xfe);
    seenUrls.length = 0;
    handler = reply(encode({
      files: new Map([
        [h1.toString('latin1'), { complete: 3, downloaded: 10, incomplete: 2 }],
        [h2.toString('latin1'), { complete: 1 }],
        [Buffer.alloc(20, 7).toString('latin1'), { complete: 9, downloaded: 9, incomplete: 9 }],
      ]),
    }));
    const r = await scrapeHttp(`${base}/announce`, [h1, h2]);
    assert.ok(seenUrls[0]!.startsWith('/scrape?info_hash='), seenUrls[0]);
    assert.equal(seenUrls[0]!.split('info_hash=').length, 3);
    assert.deepEqual(r.get(h1.toString('hex')), { complete: 3, downloaded: 10, incomplete: 2 });
    assert.deepEqual(r.get(h2.toString('hex')), { complete: 1, downloaded: 0, incomplete: 0 });
    assert.equal(r.size, 2);
    await rejectsWith(scrapeHttp(`${base}/tracker`, [h1]), 'TRACKER', /no scrape URL/);
    handler = reply(encode({ 'failure reason': 'no scrape here' }));
    await rejectsWith(scrapeHttp(`${base}/announce`, [h1]), 'TRACKER', /no scrape here/);
  });
});

/**
 * torrent-reannounce through the facade (`api.reannounce`, which the web UI's Reannounce button and
 * transmission-remote's `--reannounce` reach): a running torrent asks its tracker again as soon as the tracker's
 * `min interval` allows, instead of waiting for the regular `interval` (here 1800 s); a paused one does not.
 * The tracker is a tiny HTTP server on 127.0.0.1 that counts announces. BEP: 3 (HTTP tracker announce).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { openBitpeer } from '../../src/api/open.js';
import { createTorrent } from '../../src/create/create-torrent.js';
import { put, tmpDirs } from '../support/tmp-dir.js';

const tmpDir = tmpDirs('reannounce');

/** A tracker that answers every announce with no peers, `interval` 1800 s and `min interval` 1 s. */
async function countingTracker(): Promise<{ url: string; announces: Array<{ at: number; event: string }>; close(): Promise<void> }> {
  const announces: Array<{ at: number; event: string }> = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/announce') announces.push({ at: Date.now(), event: url.searchParams.get('event') ?? '' });
    const body = Buffer.from('d8:intervali1800e12:min intervali1e5:peers0:e');
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/announce`, announces,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function waitFor(what: string, ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('reannounce: the tracker hears from a running torrent again within its min interval, not its 1800 s interval; a paused one stays quiet', { timeout: 90_000 }, async () => {
  const tracker = await countingTracker();
  const src = tmpDir();
  put(src, 'data.bin', Buffer.alloc(100_000, 7));
  const made = await createTorrent(path.join(src, 'data.bin'), { pieceLength: 16 * 1024, creationDate: null, announce: [tracker.url] });
  const bp = await openBitpeer({ port: 0, bind: '127.0.0.1', lsd: false, pex: false, dht: false, trackers: true });
  try {
    const { id } = await bp.api.add({ torrentFile: made.torrent }, { downloadDir: src, followLinks: true, failOnError: true });
    await waitFor('the first announce', 10_000, () => tracker.announces.length >= 1);
    const first = tracker.announces[0]!;
    assert.equal(first.event, 'started');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(tracker.announces.length, 1, 'no second announce on its own (interval 1800 s)');
    assert.ok(bp.api.reannounce, 'the session facade implements reannounce');
    await bp.api.reannounce([id]);
    // The announcer clamps `min interval` to at least 30 s (src/tracker/announcer.ts), as transmission-daemon waits.
    await waitFor('the re-announce', 45_000, () => tracker.announces.length >= 2);
    const second = tracker.announces[1]!;
    assert.ok(second.at - first.at < 40_000, `re-announced ${second.at - first.at} ms after the first`);
    assert.notEqual(second.event, 'stopped');
    // Paused: `stopped` is sent, and a reannounce asks nothing more.
    await bp.api.stop([id]);
    await waitFor('the stopped announce', 10_000, () => tracker.announces.some((a) => a.event === 'stopped'));
    const count = tracker.announces.length;
    await bp.api.reannounce([id]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(tracker.announces.length, count, 'a paused torrent does not announce');
  } finally {
    await bp.close();
    await tracker.close();
  }
});

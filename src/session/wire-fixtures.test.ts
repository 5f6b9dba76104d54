/**
 * Replays the byte sequences captured from real clients (test/fixtures/wire/, made by test/support/wire-capture.ts)
 * through a real Session over the in-memory transport, and checks the outcome each sidecar names: the connection is
 * kept, the pieces the client announced are known, and its interest is seen. Each capture is replayed in one write
 * and trickled in 7-byte writes (every message split at some point).
 * BEP: 3, 6, 10.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { replay } from '../../test/support/wire-replay.js';
import { captureTorrent } from '../../test/support/wire-capture-torrent.js';

interface Sidecar {
  client: string;
  version: string;
  scenario: 'leecher' | 'partial' | 'seed';
  torrent: { infoHash: string };
  expect: { kept: boolean; peerPieces: number; peerInterested: boolean };
}

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(here, '../../../test/fixtures/wire');
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

test('the wire fixtures exist (aria2, Transmission, libtorrent, rtorrent)', () => {
  for (const client of ['aria2', 'transmission', 'libtorrent', 'rtorrent']) {
    assert.ok(fixtures.some((f) => f.startsWith(`${client}-`)), `a capture of ${client}`);
  }
});

for (const file of fixtures) {
  const side = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Sidecar;
  const bytes = readFileSync(path.join(dir, file.replace(/\.json$/, '.bin')));
  for (const chunk of [0, 7]) {
    const how = chunk === 0 ? 'in one write' : `in ${chunk}-byte writes`;
    test(`${side.client} ${side.version}, ${side.scenario}: replayed ${how}, the connection is kept`, { timeout: 10_000 }, async () => {
      const { meta, data } = captureTorrent();
      assert.equal(meta.infoHashHex, side.torrent.infoHash, 'the fixture was captured with this torrent');
      const pieces = (p: { progress: number }): number => Math.round(p.progress * meta.pieceCount);
      // The session plays the other side: a seed for a client that downloads, a downloader for a client that seeds.
      const weSeed = side.scenario !== 'seed';
      const r = await replay(meta, data, bytes, {
        weSeed, chunk,
        until: (p) => p !== undefined && pieces(p) === side.expect.peerPieces && p.peerInterested === side.expect.peerInterested,
      });
      assert.deepEqual(r.disconnects, [], 'the session kept the connection');
      assert.ok(r.peer, 'the peer is connected');
      assert.equal(pieces(r.peer), side.expect.peerPieces, 'the pieces the client announced are known');
      assert.equal(r.peer.peerInterested, side.expect.peerInterested, 'the client\'s interest is seen');
      if (!weSeed) assert.equal(r.peer.amInterested, true, 'we are interested in a seed');
    });
  }
}

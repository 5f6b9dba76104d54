/**
 * BEP 52 piece layers survive a restart (issue 12: "the merkle state kept in the resume data").
 *
 * A v2-only torrent is fetched from a `btmh` magnet: its metadata has no `piece layers`, so the downloader must get
 * them from the seed by hash request before it can verify a piece. The download is throttled and stopped part-way;
 * the resume file then holds the fetched layers, equal to the .torrent's. The downloader is opened again on the same
 * state directory with the seed gone, paused (so its resume data changes and is rewritten), and closed: the rewritten
 * resume file still holds the layers, which it can only have taken from the restored merkle state (no peer was
 * there to ask).
 * BEP: 52 (piece layers, hash request), 9 (metadata from a magnet).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openBitpeer, type OpenOptions } from '../../src/api/open.js';
import { createTorrent } from '../../src/create/create-torrent.js';
import { buildMagnet } from '../../src/metainfo/index.js';
import { decodeResume } from '../../src/state/resume-codec.js';
import { put, tmpDirs } from '../support/tmp-dir.js';

const tmpDir = tmpDirs('v2-resume');
const local: OpenOptions = { port: 0, bind: '127.0.0.1', lsd: false, pex: false, trackers: false, utp: false };
const PIECE = 32 * 1024;

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('piece layers fetched for a btmh magnet are saved, and restored on restart with no peer to ask', { timeout: 60_000 }, async () => {
  const src = tmpDir();
  const big = Buffer.alloc(40 * PIECE + 1234);
  for (let i = 0; i < big.length; i++) big[i] = (i * 131 + (i >>> 9)) & 0xff;
  put(src, 'content/big.bin', big);
  put(src, 'content/small.txt', Buffer.from('small file, one piece\n'));
  const made = await createTorrent(path.join(src, 'content'), { version: 'v2', pieceLength: PIECE, creationDate: null, announce: [] });
  const meta = made.meta;
  assert.equal(meta.version, 'v2');
  assert.equal(meta.pieceLayers.size, 1, 'big.bin has a piece layer; small.txt, one piece, has none');

  const stateDir = path.join(tmpDir(), 'state');
  const downloads = tmpDir();
  const state = { dir: stateDir, defaultDownloadDir: () => downloads };
  const seed = await openBitpeer(local);
  let leech = await openBitpeer({ ...local, downloadLimit: 64 * 1024, state });
  const resumeFile = path.join(stateDir, 'resume', `${meta.infoHashHex}.resume`);
  const readLayers = (): { paused: boolean; layers: Map<string, Buffer> | undefined } => {
    const r = decodeResume(fs.readFileSync(resumeFile), { infoHash: meta.infoHash, pieceCount: meta.pieceCount, fileCount: meta.files.length });
    return { paused: r.paused, layers: r.pieceLayers ? new Map(r.pieceLayers) : undefined };
  };
  try {
    await seed.api.add({ torrentFile: made.torrent }, { downloadDir: src, failOnError: true });
    const magnet = buildMagnet({ infoHashV2: meta.infoHashV2!, name: meta.name, trackers: [] });
    assert.match(magnet, /xt=urn:btmh:1220[0-9a-f]{64}/);
    assert.doesNotMatch(magnet, /btih/);
    const added = await leech.api.add({ magnet }, { downloadDir: downloads, peers: [{ host: '127.0.0.1', port: seed.port }] });
    // A v2-only piece is requested only once every piece layer is known, so a verified piece proves they arrived.
    await until(() => (leech.api.progress(added.id)?.have ?? 0) >= 3, 30_000, 'three verified pieces');
    assert.ok(!(leech.api.summary(added.id)?.complete), 'stopped part-way');
    await leech.close();

    const first = readLayers();
    assert.ok(first.layers, 'the resume data holds the fetched piece layers');
    assert.deepEqual([...first.layers], [...meta.pieceLayers], 'equal to the .torrent\'s layers');
    assert.equal(first.paused, false);

    // Restart with nobody to ask: the seed is gone.
    await seed.close();
    leech = await openBitpeer({ ...local, state });
    const [restored] = leech.api.get();
    assert.ok(restored, 'the torrent came back');
    await leech.api.stop([restored.id]);
    await leech.close();
    const second = readLayers();
    assert.equal(second.paused, true, 'the resume data was rewritten after the restart');
    assert.ok(second.layers, 'the layers were restored from the resume data and saved again');
    assert.deepEqual([...second.layers], [...meta.pieceLayers]);
  } finally {
    await leech.close();
    await seed.close();
  }
});

/**
 * Sequential download survives a restart (issue 15): set through the facade (`setSequential`), it shows as
 * `sequentialDownload`, is saved in the torrent's resume data (`sequential`), and is back after the session is
 * closed and opened again on the same state directory; turned off, it stays off across the next restart.
 * In-process sessions on 127.0.0.1 (no DHT, LSD or trackers); the temp folder is removed at the end.
 * BEP: none (persistence, docs/design/persistence.md).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBitpeer, type OpenedBitpeer } from '../../src/api/open.js';
import { createTorrent } from '../../src/create/create-torrent.js';
import { decode, type BDict } from '../../src/bencode/index.js';

async function openAt(stateDir: string, downloads: string): Promise<OpenedBitpeer> {
  return openBitpeer({
    port: 0, bind: '127.0.0.1', dht: false, lsd: false, pex: false, utp: false, trackers: false,
    state: { dir: stateDir, defaultDownloadDir: () => downloads },
  });
}

test('sequentialDownload is saved with the resume data and restored after a restart', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-seq-'));
  try {
    const data = join(root, 'src', 'f.bin');
    await mkdir(join(root, 'src'), { recursive: true });
    await writeFile(data, Buffer.alloc(300_000, 7));
    const made = await createTorrent(data, { pieceLength: 16384, announce: [] });
    const stateDir = join(root, 'state');
    const downloads = join(root, 'dl');

    let b = await openAt(stateDir, downloads);
    const added = await b.api.add({ torrentFile: made.torrent }, { paused: true });
    assert.equal(b.api.get([added.id])[0]!.sequentialDownload, false);
    await b.api.setSequential!([added.id], true);
    assert.equal(b.api.get([added.id])[0]!.sequentialDownload, true);
    await b.close();
    // The resume file says so.
    const resumeDir = join(stateDir, 'resume');
    const [file] = (await readdir(resumeDir)).filter((n) => n.endsWith('.resume'));
    const resume = decode(await readFile(join(resumeDir, file!))).value as BDict;
    assert.equal(resume.get('sequential'), 1);

    b = await openAt(stateDir, downloads);
    const back = b.api.get().find((t) => t.infoHash === added.infoHash);
    assert.ok(back, 'the torrent is back after the restart');
    assert.equal(back.sequentialDownload, true, 'sequential download restored');
    await b.api.setSequential!([back.id], false);
    await b.close();

    b = await openAt(stateDir, downloads);
    assert.equal(b.api.get().find((t) => t.infoHash === added.infoHash)?.sequentialDownload, false, 'off stays off');
    await b.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

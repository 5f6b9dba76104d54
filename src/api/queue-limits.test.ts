/**
 * The queue limits through the facade (Transmission's download-queue / seed-queue): the seed queue is off by
 * default, so every complete torrent seeds; a limit of N lets N seed and queues the rest; 0 turns the queue off
 * again. Over a Session that opens no port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { createTorrent } from '../create/create-torrent.js';
import { Session } from '../session/session.js';
import { SessionApi } from './session-api.js';
import { QUEUE_DEFAULTS } from './open.js';
import { put, tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('queue-limits');

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('seed queue: off by default (all seed); N lets N seed and queues the rest; 0 turns it off again', async () => {
  assert.equal(QUEUE_DEFAULTS.maxActiveSeeds, 0, 'Transmission\'s default: no seed queue');
  const session = new Session({ hashWorkers: 1, lsd: false, pex: false, trackers: false });
  const dir = tmpDir();
  const api = new SessionApi(session, { downloadDir: dir, port: 0, uploadLimit: 0, downloadLimit: 0, ...QUEUE_DEFAULTS, lsd: false, pex: false });
  try {
    const count = 24;
    for (let i = 0; i < count; i++) {
      const name = `f${i}.bin`;
      put(dir, name, Buffer.alloc(20_000, i));
      const made = await createTorrent(path.join(dir, name), { pieceLength: 16 * 1024, creationDate: null, announce: [] });
      await api.add({ torrentFile: made.torrent }, { downloadDir: dir });
    }
    const states = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const t of api.get()) out[t.state] = (out[t.state] ?? 0) + 1;
      return out;
    };
    await waitFor('all seeding', () => states()['seeding'] === count);
    await api.setSettings({ maxActiveSeeds: 3 });
    await waitFor('3 seeding, the rest queued', () => states()['seeding'] === 3 && states()['queued'] === count - 3);
    await api.setSettings({ maxActiveSeeds: 0 });
    await waitFor('all seeding again', () => states()['seeding'] === count);
    assert.deepEqual(states(), { seeding: count });
  } finally {
    api.close();
    await session.close();
  }
});

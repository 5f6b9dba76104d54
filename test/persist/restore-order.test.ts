/**
 * Restored torrents come back in their saved queue order whatever order their start-up plans end in (issue 10
 * review). In one process, through the composition root (`openBitpeer` with a state directory): three torrents are
 * added (queue 0 a, 1 b, 2 c), the state directory is closed, then the folders of `a` and `b` are made unreadable by
 * a symlink loop (ELOOP, not "missing"), so their plans take the slow, asynchronous way: `b` (one file) ends after
 * one stat, `a` (240 files, the loop last) after many; `c` plans at once. The plans end c, b, a. Before the fix each
 * add took its place on arrival (`a` first, then `c`, then `b`).
 * Bounded: every wait is the test's timeout; only 127.0.0.1; its temp folder is removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTorrent } from '../../src/metainfo/build.js';
import { openBitpeer } from '../../src/api/open.js';

const PIECE = 16 * 1024;

/** A multi-file torrent `name` of `count` one-byte files (`d<i>/f`, the last one `loop/x`). */
function torrentOf(name: string, count: number): Buffer {
  const files = Array.from({ length: count }, (_, i) => ({ path: i === count - 1 ? ['loop', 'x'] : [`d${i}`, 'f'], length: 1 }));
  const pieces = Math.ceil(count / PIECE);
  const hashes = Buffer.concat(Array.from({ length: pieces }, () => createHash('sha1').update('x').digest()));
  return buildTorrent(name, PIECE, files, count, hashes, {}).torrent;
}

test('restored torrents take their saved queue places whatever order their plans end in', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'bitpeer-restore-order-'));
  try {
    const state = { dir: join(root, 'state'), defaultDownloadDir: () => join(root, 'dl') };
    const options = { port: 0, bind: '127.0.0.1', lsd: false, pex: false, trackers: false, downloadDir: join(root, 'dl'), state };
    mkdirSync(join(root, 'dl'));
    const first = await openBitpeer(options);
    try {
      for (const [name, count] of [['a', 240], ['b', 1], ['c', 1]] as const) {
        await first.api.add({ torrentFile: torrentOf(name, count) }, { paused: true });
      }
      assert.deepEqual([...first.api.get()].sort((x, y) => x.queuePosition - y.queuePosition).map((t) => t.name), ['a', 'b', 'c']);
    } finally {
      await first.close();
    }
    // a/loop and b/loop point at themselves: stat of a/loop/x fails with ELOOP.
    for (const name of ['a', 'b']) {
      mkdirSync(join(root, 'dl', name), { recursive: true });
      symlinkSync('loop', join(root, 'dl', name, 'loop'));
    }
    const second = await openBitpeer(options);
    try {
      const order = [...second.api.get()].sort((x, y) => x.queuePosition - y.queuePosition).map((t) => t.name);
      assert.deepEqual(order, ['a', 'b', 'c'], 'the saved queue order');
    } finally {
      await second.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * The download side's offload path (src/session/requests.ts with a storage that offers `verifyAndWrite`, as FsStorage
 * does with `pieceWorker`): pieces arrive in SharedArrayBuffers, a piece the storage finds bad is failed (its
 * senders struck, the `piece-failed` event emitted) and downloaded again, and only verified pieces are stored.
 * The storage here is a MemoryStorage that checks the SHA-1 itself and corrupts the first copy of one piece it
 * receives, as a bad block in transit would.
 *
 * Invariant: the sessions bind 127.0.0.1 only; all are closed and the temp folder removed. BEP 3 (piece hashes).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTorrent } from '../../src/create/create-torrent.js';
import type { SessionEvent } from '../../src/session/events.js';
import { Session } from '../../src/session/session.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import type { StorageMeta } from '../../src/storage/storage.js';
import { writeTree } from '../helpers/content.js';

class CheckingStorage extends MemoryStorage {
  readonly seen: Array<{ piece: number; shared: boolean; ok: boolean }> = [];
  private corrupted = false;
  constructor(meta: StorageMeta, private readonly corruptPiece: number) { super(meta); }
  writerQueue(): number { return 0; }
  async verifyAndWrite(piece: number, data: Buffer, expected: Uint8Array): Promise<boolean> {
    if (piece === this.corruptPiece && !this.corrupted) {
      this.corrupted = true;
      data[100] = data[100]! ^ 0xff;
    }
    const ok = createHash('sha1').update(data).digest().equals(expected);
    this.seen.push({ piece, shared: data.buffer instanceof SharedArrayBuffer, ok });
    if (ok) await this.writePiece(piece, data);
    return ok;
  }
}

test('offload: pieces reach verifyAndWrite in shared buffers; a bad one is failed and fetched again', { timeout: 30_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'bitpeer-piece-offload-'));
  const seeds = [0, 1].map(() => new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false }));
  const leech = new Session({ port: 0, host: '127.0.0.1', hashWorkers: 1, utp: false });
  try {
    const src = join(root, 'src');
    await writeTree(join(src, 'content'), [{ path: 'a.bin', size: 1_000_000 }], 'piece-offload');
    const { meta } = await createTorrent(join(src, 'content'), { pieceLength: 64 * 1024, creationDate: null });
    const peers = [];
    for (const s of seeds) {
      peers.push({ host: '127.0.0.1', port: await s.listen() });
      await s.addTorrent(meta, { savePath: src });
    }
    await leech.listen();
    const events: SessionEvent[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no complete within 25 s')), 25_000);
      leech.events.subscribe((e) => {
        events.push(e);
        if (e.event === 'complete') { clearTimeout(timer); resolve(); }
      });
    });
    const storage = new CheckingStorage(meta, 3);
    await leech.addTorrent(meta, { savePath: join(root, 'dst'), storage, peers });
    await done;
    assert.ok(storage.seen.length >= meta.pieceCount + 1);
    assert.ok(storage.seen.every((s) => s.shared), 'every piece came in a SharedArrayBuffer');
    assert.deepEqual(storage.seen.filter((s) => !s.ok).map((s) => s.piece), [3], 'piece 3 failed once');
    assert.ok(events.some((e) => e.event === 'piece-failed' && e.piece === 3), 'the failure was reported');
    assert.deepEqual(storage.heldPieces, Array.from({ length: meta.pieceCount }, (_, i) => i));
    const pieces = await Promise.all(storage.heldPieces.map((i) => storage.readPiece(i)));
    assert.deepEqual(Buffer.concat(pieces.map((p) => p!)), await readFile(join(src, 'content', 'a.bin')), 'the stored bytes are the file');
  } finally {
    await Promise.all([...seeds.map((s) => s.close()), leech.close()]);
    await rm(root, { recursive: true, force: true });
  }
});

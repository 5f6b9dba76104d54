import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GroupHasher, READ_BYTES } from './group-hash.js';
import type { HashFile } from './hash-files.js';

const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

test('GroupHasher (v1): pieces across file boundaries and across 128 KiB reads, any group order, same as SHA-1 of the concatenation', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bitpeer-group-hash-'));
  try {
    // Sizes that put file boundaries inside pieces and inside reads; one file bigger than a read.
    const sizes = [1, 16383, 40000, READ_BYTES + 5, 7, 70001];
    const datas = sizes.map((n) => randomBytes(n));
    const files: HashFile[] = [];
    let offset = 0;
    for (let i = 0; i < sizes.length; i++) {
      const abs = join(dir, `f${i}`);
      await writeFile(abs, datas[i]!);
      files.push({ abs, size: sizes[i]!, offset });
      offset += sizes[i]!;
    }
    const all = Buffer.concat(datas);
    for (const pl of [16384, 65536, 262144]) {
      const pieceCount = Math.ceil(all.length / pl);
      const table = new Uint8Array(pieceCount * 20);
      const groupPieces = 3;
      const h = new GroupHasher({ mode: 'v1', files, total: all.length, pl }, table, undefined, groupPieces);
      let bytes = 0;
      try {
        for (let g = h.groups - 1; g >= 0; g--) bytes += h.hash(g); // backwards: the read window must refill
      } finally {
        h.close();
      }
      assert.equal(bytes, all.length);
      for (let i = 0; i < pieceCount; i++) {
        assert.deepEqual(Buffer.from(table.subarray(20 * i, 20 * i + 20)), sha1(all.subarray(i * pl, Math.min(all.length, (i + 1) * pl))), `pl ${pl} piece ${i}`);
      }
    }
    // A file shorter than when it was listed: an error naming it, not a wrong digest.
    await truncate(files[3]!.abs, 100);
    const h = new GroupHasher({ mode: 'v1', files, total: all.length, pl: 16384 }, new Uint8Array(Math.ceil(all.length / 16384) * 20), undefined, 1000);
    try {
      assert.throws(() => h.hash(0), /f3 shrank/);
    } finally {
      h.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

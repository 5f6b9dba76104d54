/**
 * Storage micro-benchmarks (not a test): HashPool throughput and checkPieces speed on a real file.
 *
 *   node dist/test/bench/storage-bench.js [totalMiB=256] [workers=2] [pieceKiB=256,1024]
 *
 * Invariant: only touches a fresh folder under os.tmpdir(), removed at the end. BEP 3 piece hashing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash, randomFillSync } from 'node:crypto';
import { HashPool, allocShared } from '../../src/storage/hasher.js';
import { FsStorage } from '../../src/storage/fs-storage.js';
import { checkPieces } from '../../src/storage/check.js';
import type { StorageMeta } from '../../src/storage/storage.js';

const MiB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 256);
const workers = Number(process.argv[3] ?? 2);
const pieceKiBs = (process.argv[4] ?? '256,1024').split(',').map(Number);

const rate = (bytes: number, ms: number): string => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

async function hashBench(): Promise<void> {
  const n = totalMiB;
  const plain = Array.from({ length: n }, () => randomFillSync(Buffer.allocUnsafe(MiB)));
  const shared = plain.map((b) => { const s = allocShared(MiB); b.copy(s); return s; });
  let t = performance.now();
  for (const b of plain) createHash('sha1').update(b).digest();
  console.log(`sha1 main thread, 1 thread:      ${rate(n * MiB, performance.now() - t)}`);
  const pool = new HashPool({ workers });
  await Promise.all(plain.slice(0, 8).map((b) => pool.sha1(b))); // warm up the workers
  for (const [label, bufs] of [['plain Buffers', plain], ['SharedArrayBuffers', shared]] as const) {
    t = performance.now();
    await Promise.all(bufs.map((b) => pool.sha1(b)));
    console.log(`HashPool(${workers}) ${label.padEnd(18)} ${rate(n * MiB, performance.now() - t)}  (${n} × 1 MiB)`);
  }
  await pool.close();
}

async function checkBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bitpeer-bench-'));
  try {
    const file = path.join(dir, 'data.bin');
    const total = totalMiB * MiB;
    const chunk = Buffer.allocUnsafe(16 * MiB);
    const fd = fs.openSync(file, 'w');
    for (let off = 0; off < total; off += chunk.length) fs.writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, total - off));
    fs.closeSync(fd);
    const data = fs.readFileSync(file);
    for (const kib of pieceKiBs) {
      const pieceLength = kib * 1024;
      const pieceCount = Math.ceil(total / pieceLength);
      const pieceHashes = Buffer.alloc(20 * pieceCount);
      for (let i = 0; i < pieceCount; i++) {
        createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest().copy(pieceHashes, 20 * i);
      }
      const meta: StorageMeta = { name: 'data.bin', pieceLength, pieceCount, pieceHashes, totalLength: total,
        files: [{ path: ['data.bin'], relPath: 'data.bin', length: total, offset: 0 }] };
      const pool = new HashPool({ workers });
      const storage = await FsStorage.open(meta, dir, { readOnly: true });
      const t = performance.now();
      const have = await checkPieces(meta, storage, pool);
      const ms = performance.now() - t;
      await storage.close();
      await pool.close();
      if (!have.complete) throw new Error('check failed');
      console.log(`checkPieces ${totalMiB} MiB file, ${kib} KiB pieces, ${workers} workers (page cache warm): ` +
        `${rate(total, ms)} (${ms.toFixed(0)} ms)`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await hashBench();
await checkBench();

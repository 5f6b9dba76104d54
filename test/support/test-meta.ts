/**
 * Test helper (not used by production code): builds a torrent geometry by hand, with real SHA-1 piece hashes
 * computed by node:crypto, so storage tests do not depend on the metainfo parser (BEP 3 layout, BEP 47 padding).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Metainfo, TorrentFile } from '../../src/metainfo/index.js';
import type { StorageMeta } from '../../src/storage/storage.js';

/** One file of a test torrent; `path` is relative to the torrent's folder. */
export interface TestFileSpec { path: string[]; length: number; padding?: boolean }

/** What `makeMeta` returns: the Metainfo fields storage uses, plus identity. */
export type TestMeta = StorageMeta & Pick<Metainfo, 'infoHash' | 'infoHashHex' | 'multiFile'>;

/**
 * Build a torrent. Give `files` for a multi-file torrent, or `length` for a single file. Data is random unless
 * given; padding files' bytes are forced to zero.
 */
export function makeMeta(opts: { name?: string; pieceLength: number; files?: TestFileSpec[]; length?: number; data?: Buffer }): { meta: TestMeta; data: Buffer } {
  const name = opts.name ?? 'test-torrent';
  const multiFile = opts.files !== undefined;
  const specs: TestFileSpec[] = opts.files ?? [{ path: [], length: opts.length ?? 0 }];
  const files: TorrentFile[] = [];
  let offset = 0;
  for (const s of specs) {
    const entry: TorrentFile = {
      path: [name, ...s.path], relPath: [name, ...s.path].join('/'), length: s.length, offset,
    };
    if (s.padding) entry.padding = true;
    files.push(entry);
    offset += s.length;
  }
  const totalLength = offset;
  const data = opts.data ?? randomBytes(totalLength);
  if (data.length !== totalLength) throw new RangeError('data length does not match the files');
  for (const f of files) if (f.padding) data.fill(0, f.offset, f.offset + f.length);
  const pieceCount = Math.ceil(totalLength / opts.pieceLength);
  const pieceHashes = Buffer.alloc(20 * pieceCount);
  for (let i = 0; i < pieceCount; i++) {
    createHash('sha1').update(data.subarray(i * opts.pieceLength, (i + 1) * opts.pieceLength)).digest().copy(pieceHashes, 20 * i);
  }
  const infoHash = createHash('sha1').update(pieceHashes).update(name).digest();
  return {
    meta: { name, pieceLength: opts.pieceLength, pieceCount, pieceHashes, files, totalLength, infoHash,
      infoHashHex: infoHash.toString('hex'), multiFile },
    data,
  };
}

/** Bytes of piece `i` of `data`. */
export function pieceOf(meta: StorageMeta, data: Buffer, i: number): Buffer {
  return data.subarray(i * meta.pieceLength, Math.min(meta.totalLength, (i + 1) * meta.pieceLength));
}

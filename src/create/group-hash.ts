/**
 * One group of whole pieces of torrent creation, read and digested synchronously (BEP 3 SHA-1 pieces; BEP 52 leaves
 * and piece roots through piece-digest.ts): the loop body of both the create workers (create-worker.ts) and the main
 * thread's share (create-torrent.ts), so both read the same way.
 *
 * Reads are synchronous pread()s of at most {@link READ_BYTES} into one reused buffer, each digested right after it
 * lands. Measured on the 2-core bench machine (1 GiB from the page cache; docs/design/scale.md): reads of ≤ 128 KiB
 * into one reused buffer cost the kernel ~0.13 s per GiB to copy, reads of ≥ 192 KiB (or small reads into a big
 * buffer) ~0.47 s: the destination must stay in the core's L2 cache. The same 128 KiB reads through the libuv thread
 * pool (fs/promises) cost ~0.45 s CPU per GiB for the hops.
 *
 * Invariant: it writes only the digest slots of the pieces of the groups it is given, reads each piece's bytes
 * exactly once, and throws (with the file's path) when a file is shorter than it was when the walk stat()ed it.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { fileIndexAt } from './hash-files.js';
import { PieceDigester, pieceCountOf, type PieceGeometry } from './piece-digest.js';

/** The read size (see the header for the measurement behind it). */
export const READ_BYTES = 128 * 1024;

export class GroupHasher {
  private readonly digester: PieceDigester;
  private readonly buf: Buffer;
  private readonly pieceCount: number;
  private fd = -1;
  private open = -1;
  /** The bytes at [winStart, winStart + winLen) of the offset space are in `buf`. */
  private winStart = 0;
  private winLen = 0;

  constructor(private readonly g: PieceGeometry, sha1Out: Uint8Array | undefined, rootOut: Uint8Array | undefined,
    private readonly groupPieces: number) {
    this.digester = new PieceDigester(g, sha1Out, rootOut);
    this.buf = Buffer.allocUnsafe(Math.min(READ_BYTES, g.total));
    this.pieceCount = pieceCountOf(g);
  }

  /** The number of groups of this geometry. */
  get groups(): number {
    return Math.ceil(this.pieceCount / this.groupPieces);
  }

  /** Reads and digests every piece of group `grp`; returns the data bytes hashed (pad zeros not counted). */
  hash(grp: number): number {
    const first = grp * this.groupPieces;
    const last = Math.min(first + this.groupPieces, this.pieceCount);
    const groupEnd = Math.min(last * this.g.pl, this.g.total);
    let bytes = 0;
    for (let i = first; i < last; i++) {
      const r = this.digester.begin(i);
      const end = r.start + r.len;
      for (let pos = r.start; pos < end;) {
        const data = this.view(pos, end - pos, groupEnd);
        this.digester.update(data);
        pos += data.length;
      }
      this.digester.end();
      bytes += r.len;
    }
    return bytes;
  }

  close(): void {
    const fd = this.fd;
    this.fd = -1;
    this.open = -1;
    if (fd >= 0) closeSync(fd);
  }

  /**
   * Up to `maxLen` bytes at `pos`, as a view into the buffer (valid until the next call). A refill reads as much as
   * fits, up to `limit` (the group's end) and, in v2/hybrid (gaps of pad between files), up to the end of the file:
   * small pieces (v1 16 KiB pieces) cost one read per 128 KiB, not one per piece.
   */
  private view(pos: number, maxLen: number, limit: number): Buffer {
    if (pos < this.winStart || pos >= this.winStart + this.winLen) {
      const f = this.g.files[fileIndexAt(this.g.files, pos)]!;
      let len = Math.min(this.buf.length, limit - pos);
      if (this.g.mode !== 'v1') len = Math.min(len, f.offset + f.size - pos);
      if (len <= 0) throw new RangeError(`no data at ${pos}`);
      this.winLen = 0;
      this.read(pos, len);
      this.winStart = pos;
      this.winLen = len;
    }
    const off = pos - this.winStart;
    return this.buf.subarray(off, off + Math.min(maxLen, this.winLen - off));
  }

  /** Fills buf[0, len) with the bytes at `pos` (v1: possibly across several files). */
  private read(pos: number, len: number): void {
    for (let got = 0; got < len;) {
      const p = pos + got;
      const i = fileIndexAt(this.g.files, p);
      const f = this.g.files[i]!;
      if (this.open !== i) {
        this.close();
        this.fd = openSync(f.abs, 'r');
        this.open = i;
      }
      const n = readSync(this.fd, this.buf, got, Math.min(len - got, f.offset + f.size - p), p - f.offset);
      if (n === 0) throw new Error(`${f.abs} shrank while it was being hashed (expected ${f.size} bytes)`);
      got += n;
    }
  }
}

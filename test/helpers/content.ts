/**
 * Deterministic test content: files and folder trees filled from a seeded PRNG, and tree comparison by SHA-1.
 *
 * The PRNG is the AES-128-CTR keystream under a key derived from the seed string, so the bytes are a pure function
 * of (seed, file path, offset), look random to any compressor or dedup layer, and are generated at several hundred
 * MB/s (buffers of 4 MiB at a time).
 * Invariant: `writeTree(root, specs, seed)` always writes the same bytes for the same arguments.
 * BEP: none (test tooling).
 */
import { createCipheriv, createHash, type Cipher } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

const CHUNK = 4 * 1024 * 1024;

/** A file to create: a '/'-separated path relative to the tree root, and its size in bytes. */
export interface FileSpec {
  readonly path: string;
  readonly size: number;
}

/** A seeded byte stream (AES-128-CTR keystream). `next(n)` returns the next n bytes. */
export class ByteStream {
  private readonly cipher: Cipher;
  private zeros = Buffer.alloc(0);

  constructor(seed: string) {
    const digest = createHash('sha256').update(seed).digest();
    this.cipher = createCipheriv('aes-128-ctr', digest.subarray(0, 16), digest.subarray(16, 32));
  }

  /** The next `n` bytes of the stream (a fresh buffer). */
  next(n: number): Buffer {
    if (this.zeros.length < n) this.zeros = Buffer.alloc(n);
    return this.cipher.update(this.zeros.subarray(0, n));
  }
}

/** Writes `size` deterministic bytes to `path` (parent folders are created). The stream is keyed by `seed`. */
export async function writeRandomFile(path: string, size: number, seed: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const stream = new ByteStream(seed);
  const fh = await open(path, 'w');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(CHUNK, left);
      const buf = stream.next(n);
      let off = 0;
      while (off < n) {
        const { bytesWritten } = await fh.write(buf, off, n - off);
        off += bytesWritten;
      }
      left -= n;
    }
  } finally {
    await fh.close();
  }
}

/** Creates every file of `specs` under `root`, each keyed by `${seed}/${path}`. */
export async function writeTree(root: string, specs: readonly FileSpec[], seed: string): Promise<void> {
  for (const spec of specs) {
    await writeRandomFile(join(root, ...spec.path.split('/')), spec.size, `${seed}/${spec.path}`);
  }
}

/** SHA-1 (hex) of a file's contents. */
export function sha1File(path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const hash = createHash('sha1');
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** One regular file of a tree: path relative to the root ('/'-separated), size, SHA-1 hex. */
export interface TreeEntry {
  readonly path: string;
  readonly size: number;
  readonly sha1: string;
}

/**
 * Every regular file under `root` (or `root` itself when it is a file, with path ''), sorted by path.
 * Symbolic links and other special files are reported with sha1 'not-a-regular-file'.
 */
export async function hashTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await stat(p);
    if (st.isDirectory()) {
      for (const name of (await readdir(p)).sort()) await walk(join(p, name));
      return;
    }
    const rel = relative(root, p).split(sep).join('/');
    out.push({ path: rel, size: st.size, sha1: st.isFile() ? await sha1File(p) : 'not-a-regular-file' });
  };
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Options for {@link compareTrees}. */
export interface CompareOptions {
  /** Treat a zero-length file that is missing from `actual` as present (some clients create no empty files). */
  readonly allowMissingEmpty?: boolean;
}

/**
 * Compares two files or trees by content. Returns a list of differences (missing, extra, size or hash mismatch);
 * an empty list means identical.
 */
export async function compareTrees(expected: string, actual: string, opts: CompareOptions = {}): Promise<string[]> {
  const [a, b] = await Promise.all([hashTree(expected), hashTreeOrEmpty(actual)]);
  const byPath = new Map(b.map((e) => [e.path, e]));
  const diffs: string[] = [];
  for (const e of a) {
    const other = byPath.get(e.path);
    byPath.delete(e.path);
    const name = e.path === '' ? '(the file)' : e.path;
    if (other === undefined) {
      if (!(e.size === 0 && opts.allowMissingEmpty === true)) diffs.push(`missing: ${name} (${e.size} bytes)`);
    } else if (other.size !== e.size) {
      diffs.push(`size differs: ${name}: expected ${e.size}, got ${other.size}`);
    } else if (other.sha1 !== e.sha1) {
      diffs.push(`content differs: ${name}: expected sha1 ${e.sha1}, got ${other.sha1}`);
    }
  }
  for (const extra of byPath.values()) diffs.push(`unexpected: ${extra.path === '' ? '(the file)' : extra.path}`);
  return diffs;
}

async function hashTreeOrEmpty(root: string): Promise<TreeEntry[]> {
  try {
    return await hashTree(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

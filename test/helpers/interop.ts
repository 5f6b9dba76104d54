/**
 * Small pieces every interop test file uses: a Scope per test (cleaned up after it), the port a child reports in its
 * "listening" event, a single random file with a bitpeer-made torrent of it, and a byte-for-byte tree comparison.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Scope, type Child } from './proc.js';
import { compareTrees, writeRandomFile } from './content.js';

/** A Scope that stops its processes and removes its folders when the test `t` ends. */
export function scopeFor(t: { after: (fn: () => Promise<void>) => void }): Scope {
  const scope = new Scope();
  t.after(() => scope.cleanup());
  return scope;
}

/** The port of `child`'s "listening" event (within `timeoutMs`). */
export async function listeningPort(child: Child, timeoutMs: number): Promise<number> {
  const e = await child.waitForEvent('listening', timeoutMs);
  const port = e.port;
  assert.ok(typeof port === 'number' && port > 0 && port < 65536, `bad listening event ${JSON.stringify(e)}`);
  return port;
}

/** A random file of `size` bytes (src/data.bin under a new temp folder) and a 256 KiB-piece torrent of it. */
export async function prepareSingleFile(scope: Scope, prefix: string, size: number): Promise<{ dir: string; src: string; torrent: string }> {
  const dir = await scope.tempDir(prefix);
  const src = join(dir, 'src', 'data.bin');
  await writeRandomFile(src, size, prefix);
  const torrent = join(dir, 'x.torrent');
  const made = await scope.bitpeer(['create', src, '-o', torrent, '--piece-length', '262144']).exited(30_000);
  assert.equal(made.code, 0, 'bitpeer create failed');
  return { dir, src, torrent };
}

/** `actual` holds exactly what `expected` holds (else fails with the differences and the scope's processes). */
export async function assertSameTree(scope: Scope, expected: string, actual: string): Promise<void> {
  const diffs = await compareTrees(expected, actual);
  assert.deepEqual(diffs, [], `downloaded content differs:\n${diffs.join('\n')}\n${scope.describe()}`);
}

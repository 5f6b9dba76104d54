/**
 * Finds a Python interpreter that can `import libtorrent` (the python3-libtorrent bindings), for the interop tests.
 *
 * Invariant: the answer is computed once per process and cached; a candidate counts only if `-c "import libtorrent"`
 * exits 0 within a short timeout. Debian's `/usr/bin/python3` is tried first because the bindings are installed for
 * it, while the `python3` on the PATH may be another build (pyenv, a venv) without them.
 * BEP: none (test tooling). The peer it drives speaks BEP 3 — see lt_peer.py.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Interpreters tried, in order. */
export const PYTHON_CANDIDATES: readonly string[] = ['/usr/bin/python3', 'python3', 'python'];

let cached: string | null | undefined;

/**
 * The first interpreter in {@link PYTHON_CANDIDATES} that imports `libtorrent`, or `null` when none does.
 * The result is cached for the life of the process.
 */
export function findLibtorrentPython(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const candidate of PYTHON_CANDIDATES) {
    const r = spawnSync(candidate, ['-c', 'import libtorrent'], { stdio: 'ignore', timeout: 10_000 });
    if (r.error === undefined && r.status === 0) {
      cached = candidate;
      break;
    }
  }
  return cached;
}

/** The libtorrent version string (e.g. "2.0.8.0") of `python`, or null if it cannot be read. */
export function libtorrentVersion(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import libtorrent; print(libtorrent.__version__)'],
    { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * The project root (the folder holding package.json), found by walking up from this module. Works from the
 * TypeScript source and from the compiled copy under dist/.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('projectRoot: no package.json above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Absolute path of the libtorrent driver script (it lives in the source tree; tsc does not copy it to dist/). */
export function ltPeerScript(): string {
  return join(projectRoot(), 'test', 'helpers', 'lt_peer.py');
}

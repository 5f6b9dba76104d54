#!/usr/bin/env node
// Bundles the command line into dist/bundle/ with esbuild, after `tsc` (run by `npm run build` and `npm prepare`).
//
// Purpose: start-up. Loading ~100 ES modules one by one (resolve, read, compile, link each) cost `bitpeer seed` ~100 ms
// of its ~180 ms from process start to the port listening (docs/design/performance.md, "Start-up"). The bundle is a
// few files: the entry (bitpeer.js), one chunk per command that main.ts imports lazily, shared chunks, and the three
// worker entries.
// Invariant: the worker threads are found as the typed modules find them, by `new URL('./hash-worker.js',
// import.meta.url)`, `new URL('./create-worker.js', ...)` and `new URL('./piece-writer-worker.js', ...)`: every chunk
// and the worker entries sit in
// the one folder dist/bundle/, under those names, so the URL resolves next to whichever chunk holds the code.
// bin/bitpeer.js runs the bundle when it is present, else dist/src/cli/main.js (tsc's output, which the tests import).
// Identifiers are kept (whitespace and syntax minified only), so stack traces stay readable; source maps point at src/.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    bitpeer: 'src/cli/main.ts',
    'hash-worker': 'src/storage/hash-worker.ts',
    'create-worker': 'src/create/create-worker.ts',
    'piece-writer-worker': 'src/storage/piece-writer-worker.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
for (const name of ['bitpeer.js', 'hash-worker.js', 'create-worker.js', 'piece-writer-worker.js']) {
  if (!outputs.some((f) => f.endsWith(`/${name}`))) throw new Error(`bundle: ${name} was not written`);
}

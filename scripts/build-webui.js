#!/usr/bin/env node
// Builds the web UI (webui/) into dist/webui/: index.html plus content-hashed assets/app-<hash>.js and
// assets/app-<hash>.css, with esbuild (run by `npm run build` and `npm prepare`, after tsc). Preact is bundled in:
// the published package ships only these built files. The page must run under the daemon's strict CSP
// (src/api/rpc/static-files.ts): no inline script or style in index.html, everything from 'self'.
// Also bundles the UI's unit tests (webui/src/*.test.ts) into dist/test/unit/webui/ for scripts/run-tests.js.
// Type checking is separate: `tsc -p webui/tsconfig.json` (run by `npm run build` and `npm run typecheck`).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'webui');
rmSync(outdir, { recursive: true, force: true });
mkdirSync(join(outdir, 'assets'), { recursive: true });

// Options both builds share: hashed names under assets/, bundled and minified.
const common = {
  absWorkingDir: root,
  outdir: join(outdir, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  logLevel: 'warning',
  metafile: true,
};
const result = await build({
  ...common,
  entryPoints: { app: 'webui/src/main.tsx' },
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: { '.css': 'css' },
});
// The stylesheet is its own entry (imported nowhere), so esbuild hashes it too.
const css = await build({ ...common, entryPoints: { app: 'webui/src/style.css' } });
const pick = (meta, ext) => {
  const f = Object.keys(meta.outputs).find((p) => p.endsWith(ext));
  if (!f) throw new Error(`build-webui: no ${ext} output`);
  return f.slice(f.lastIndexOf('/') + 1);
};
const js = pick(result.metafile, '.js');
const cssName = pick(css.metafile, '.css');
const html = readFileSync(join(root, 'webui', 'index.html'), 'utf8').replace('%JS%', js).replace('%CSS%', cssName);
if (/<script(?![^>]*\bsrc=)[^>]*>/i.test(html) || /\sstyle=/i.test(html)) throw new Error('build-webui: index.html has inline script or style');
writeFileSync(join(outdir, 'index.html'), html);

// The UI's pure modules' unit tests, bundled for Node (they import only pure modules and node:test).
const testdir = join(root, 'dist', 'test', 'unit', 'webui');
rmSync(testdir, { recursive: true, force: true });
const tests = readdirSync(join(root, 'webui', 'src')).filter((n) => n.endsWith('.test.ts'));
if (tests.length > 0) {
  await build({
    absWorkingDir: root,
    entryPoints: tests.map((n) => `webui/src/${n}`),
    outdir: testdir,
    outExtension: { '.js': '.js' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
}
const size = (name) => readFileSync(join(outdir, 'assets', name)).length;
process.stdout.write(`webui: dist/webui/assets/${js} (${size(js)} B), ${cssName} (${size(cssName)} B)\n`);

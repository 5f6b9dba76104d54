/**
 * What `npm pack` would publish (issue 10, item 8): the compiled library and its entry point, with no test, fake or
 * bench file, no stale output of a module that no longer exists, every worker module the library starts, and the
 * built web UI (dist/webui/: index.html and the hashed assets it references).
 * Runs `npm pack --dry-run --json --ignore-scripts` on the current dist/ (built by `npm run build`, which clears it
 * first); no network, no files written. Bounded by a 60 s timeout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Files under `dir` (relative to the repository root, '/'-separated). */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const p = `${rel}/${name}`;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  if (existsSync(join(root, dir))) walk(dir);
  return out;
}

/** A path that is test, fake or bench code, or the output of one. */
const TEST_ONLY = /(\.test\.js(\.map)?$|(^|\/)(test|tests|__tests__|fixtures|support|bench)\/|fake|bench|test-meta)/i;

function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_loglevel: 'silent' },
  });
  assert.equal(r.status, 0, `npm pack --dry-run failed: ${r.error?.message ?? r.stderr}`);
  const report = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return report[0]!.files.map((f) => f.path);
}

test('npm pack publishes the library and its workers, and no test, fake or bench file', { timeout: 60_000 }, () => {
  // The exclusion is only proven if the build did produce unit tests next to the modules.
  assert.ok(listFiles('dist/src').some((p) => p.endsWith('.test.js')), 'dist/src holds no compiled unit test: run npm run build');
  const files = packedFiles();
  // bin/bitpeer.js runs the esbuild bundle (scripts/bundle.js) when present: its entry and both worker entries ship.
  for (const needed of ['package.json', 'bin/bitpeer.js', 'dist/src/cli/main.js', 'dist/src/storage/hash-worker.js',
    'dist/src/create/create-worker.js', 'dist/bundle/bitpeer.js', 'dist/bundle/hash-worker.js', 'dist/bundle/create-worker.js']) {
    assert.ok(files.includes(needed), `${needed} would not be published`);
  }
  // The web UI (scripts/build-webui.js): index.html and every asset it references, and nothing of its sources.
  assert.ok(files.includes('dist/webui/index.html'), 'dist/webui/index.html would not be published (run npm run build)');
  const html = readFileSync(join(root, 'dist', 'webui', 'index.html'), 'utf8');
  const assets = [...html.matchAll(/(?:src|href)="(assets\/[^"]+)"/g)].map((m) => `dist/webui/${m[1]!}`);
  assert.ok(assets.some((a) => /\/app-[A-Z0-9]+\.js$/.test(a)) && assets.some((a) => /\/app-[A-Z0-9]+\.css$/.test(a)), `hashed assets in index.html: ${assets.join(', ')}`);
  for (const a of assets) assert.ok(files.includes(a), `${a} (referenced by index.html) would not be published`);
  assert.deepEqual(files.filter((p) => p.startsWith('webui/') || p.endsWith('.tsx')), [], 'the web UI ships built, not as source');
  const testOnly = files.filter((p) => TEST_ONLY.test(p));
  assert.deepEqual(testOnly, [], 'test, fake or bench files would be published');
  // Every published module is compiled from a source that exists (a stale one would ship a moved or deleted module).
  const stale = files.filter((p) => p.startsWith('dist/src/') && p.endsWith('.js'))
    .filter((p) => !existsSync(join(root, p.slice('dist/'.length).replace(/\.js$/, '.ts'))));
  assert.deepEqual(stale, [], 'compiled files without a source would be published (rm -rf dist && npm run build)');
});

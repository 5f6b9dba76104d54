#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 --openssl-legacy-provider
// bitpeer command-line entry point. The code lives in dist/ (built by `npm ci` through the `prepare` script): the
// esbuild bundle dist/bundle/bitpeer.js when present (start-up: one file instead of ~100 modules), else tsc's
// dist/src/cli/main.js. Node >= 22.1 also keeps its compile cache (module.enableCompileCache, under the OS temp
// folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off); a cache that cannot be written is skipped, never an error.
// The shebang's settings are measured (docs/design/performance.md): 2 MiB semi-spaces and at most two malloc
// arenas cut a 1 GiB download's peak RSS by ~30 MB at the same CPU. `node bin/bitpeer.js` works too, without them.
import { existsSync } from 'node:fs';
import module from 'node:module';

try { module.enableCompileCache?.(); } catch { /* no cache: only slower */ }
if (process.env.BITPEER_DEBUG) process.setSourceMapsEnabled?.(true);
const bundle = new URL('../dist/bundle/bitpeer.js', import.meta.url);
const { main } = existsSync(bundle) && !process.env.BITPEER_NO_BUNDLE
  ? await import(bundle.href)
  : await import('../dist/src/cli/main.js');
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });

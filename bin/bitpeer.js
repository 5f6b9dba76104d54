#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2
// bitpeer command-line entry point. The code lives in dist/ (built by `npm ci` through the `prepare` script).
// The shebang's settings are measured (docs/design/performance.md): 2 MiB semi-spaces and at most two malloc
// arenas cut a 1 GiB download's peak RSS by ~30 MB at the same CPU. `node bin/bitpeer.js` works too, without them.
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });

#!/usr/bin/env -S node --max-semi-space-size=1
// bitpeer command-line entry point. The code lives in dist/ (built by `npm ci` through the `prepare` script).
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });

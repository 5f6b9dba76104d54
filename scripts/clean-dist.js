#!/usr/bin/env node
// Removes dist/ before a build (`npm run build`, `npm prepare`), so that a module moved or deleted in src/ or test/
// leaves no stale compiled file behind to be run by a test tier or published by `npm pack`.
import { rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

rmSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'), { recursive: true, force: true });

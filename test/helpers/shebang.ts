/**
 * The entry script's shebang line, parsed: one parser for the tests and the bench.
 * Invariant: pure but for reading the one file; never throws.
 */
import { readFileSync } from 'node:fs';

/**
 * What the entry script's shebang line (`#!/usr/bin/env -S NAME=value node --flag ...`) asks for: its environment
 * assignments and Node flags; none when the file is unreadable or has no such line. The tests' `Scope.bitpeer`
 * (proc.ts) and the bench (scripts/bench/lib.js, from dist/) apply them, so bitpeer runs there as `bitpeer` runs
 * (OpenSSL's RC4 through --openssl-legacy-provider, the young-generation and malloc-arena settings).
 */
export function shebangOf(script: string): { env: Record<string, string>; flags: string[] } {
  let first = '';
  try {
    first = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return { env: {}, flags: [] };
  }
  const m = /^#!\S*env\s+-S\s+(.*)$/.exec(first);
  if (!m) return { env: {}, flags: [] };
  const words = m[1]!.trim().split(/\s+/);
  const at = words.indexOf('node');
  const env: Record<string, string> = {};
  for (const w of words.slice(0, Math.max(0, at))) {
    const eq = w.indexOf('=');
    if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return { env, flags: at >= 0 ? words.slice(at + 1).filter((w) => w.startsWith('--')) : [] };
}

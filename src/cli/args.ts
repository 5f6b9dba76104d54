/**
 * Command-line argument helpers: sizes with K/M/G suffixes, peer addresses, and a typed wrapper over
 * node:util parseArgs that turns its errors into BtError('USAGE') (one clear line, no stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BtError } from '../util/errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every networked command accepts (see docs/cli.md). */
export const COMMON_OPTIONS = {
  port: { type: 'string' },
  bind: { type: 'string' },
  'state-dir': { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  'no-dht': { type: 'boolean' },
  'no-lsd': { type: 'boolean' },
  'no-pex': { type: 'boolean' },
  'no-tracker': { type: 'boolean' },
  'open-tracker': { type: 'boolean' },
  'upload-limit': { type: 'string' },
  'download-limit': { type: 'string' },
  'announce-host': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

/** A rate like "500K" or "2M" (bytes per second, binary multiples); "0" means unlimited. */
export function parseRate(v: unknown, what: string): number {
  if (typeof v !== 'string') return 0;
  return parseSize(v.replace(/\/s$/i, ''), what);
}

export function parse<O extends OptionSpec>(argv: string[], options: O, positionals: { min: number; max: number; usage: string }) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    throw new BtError('USAGE', `${msg}\nusage: ${positionals.usage}`);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values['help']) return { values, positionals: parsed.positionals, help: true };
  if (parsed.positionals.length < positionals.min || parsed.positionals.length > positionals.max) {
    throw new BtError('USAGE', `wrong number of arguments\nusage: ${positionals.usage}`);
  }
  return { values, positionals: parsed.positionals, help: false };
}

/** "262144", "256K", "1M", "1.5G" (binary multiples) → bytes. */
export function parseSize(s: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgKMG])?(?:i?[bB])?$/.exec(s.trim());
  if (!m) throw new BtError('USAGE', `bad ${what} "${s}" (expected a number of bytes, optionally with K, M or G)`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  const v = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(v) || v < 0) throw new BtError('USAGE', `bad ${what} "${s}"`);
  return v;
}

export function parsePort(s: string | undefined, fallback: number): number {
  if (s === undefined) return fallback;
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw new BtError('USAGE', `bad port "${s}" (expected 0-65535)`);
  return Number(s);
}

/** A whole number in [min, max] (a count such as `--max-peers`). */
export function parseCount(s: string | undefined, what: string, min: number, max: number): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new BtError('USAGE', `bad ${what} "${s}" (expected a whole number from ${min} to ${max})`);
  }
  return Number(s);
}

export function parsePeer(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:\s]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new BtError('USAGE', `bad peer address "${s}" (expected HOST:PORT)`);
  return { host: m[1]!, port };
}

export function asStrings(v: string | boolean | string[] | undefined): string[] {
  if (v === undefined || typeof v === 'boolean') return [];
  return Array.isArray(v) ? v : [v];
}

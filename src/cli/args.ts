/**
 * Command-line argument helpers: sizes with K/M/G suffixes, peer addresses, and `parse`, a wrapper over node:util
 * parseArgs that takes each command's options from its table in help.ts and turns every mistake into one clear
 * BtError('USAGE') line (no parser text, no stack trace).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BtError } from '../util/errors.js';
import { COMMANDS, usageLine, type CommandDoc, type CommandName } from './help.js';
import type { EncryptionPolicy } from '../api/types.js';
import { checkBootstrapList } from '../api/dht-config.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
/** One option's parsed value, and a command's parsed options. */
export type OptionValue = string | boolean | string[] | undefined;
export type Values = Record<string, OptionValue>;

/** `--encryption MODE`: undefined when absent; a USAGE error for anything but disabled, enabled, forced. */
export function parseEncryption(v: unknown): EncryptionPolicy | undefined {
  if (v === undefined) return undefined;
  if (v === 'disabled' || v === 'enabled' || v === 'forced') return v;
  throw new BtError('USAGE', `--encryption must be disabled, enabled or forced, got ${JSON.stringify(v)}`);
}

/** The DHT options the facade takes (src/api/open.ts OpenOptions). */
export interface DhtOptions { dht?: boolean; dhtBootstrap?: string[]; dhtPrivate?: boolean }

/**
 * `--dht` / `--no-dht`, `--dht-bootstrap HOST:PORT` (repeatable, each checked), `--dht-private` / `--no-dht-private`:
 * only what was given (absent: the default, or the saved setting). A USAGE error for junk or for both of a pair.
 */
export function parseDhtOptions(values: Values): DhtOptions {
  if (values['dht'] && values['no-dht']) throw new BtError('USAGE', '--dht and --no-dht contradict each other');
  if (values['dht-private'] && values['no-dht-private']) throw new BtError('USAGE', '--dht-private and --no-dht-private contradict each other');
  const bootstrap = asStrings(values['dht-bootstrap']);
  return {
    ...(values['no-dht'] ? { dht: false } : values['dht'] ? { dht: true } : {}),
    ...(bootstrap.length > 0 ? { dhtBootstrap: checkBootstrapList(bootstrap) } : {}),
    ...(values['dht-private'] ? { dhtPrivate: true } : values['no-dht-private'] ? { dhtPrivate: false } : {}),
  };
}

/** A rate like "500K" or "2M" (bytes per second, binary multiples); "0" means unlimited. */
export function parseRate(v: unknown, what: string): number {
  if (typeof v !== 'string') return 0;
  return parseSize(v.replace(/\/s$/i, ''), what);
}

/** The parser's settings for one command, from its table in help.ts (the single source of truth). */
export function parserOptions(cmd: CommandName): OptionSpec {
  const spec: OptionSpec = {};
  for (const o of (COMMANDS[cmd] as CommandDoc).options) {
    spec[o.name] = { type: o.value ? 'string' : 'boolean', ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  return spec;
}

/** A value that looks like an option: "-x", "--x" (but not "-" alone), as node:util parseArgs defines it. */
const looksLikeOption = (v: string): boolean => v.length > 1 && v.startsWith('-');

/**
 * Parses `argv` for command `cmd` with the options of its table in help.ts. Every mistake is one line, a
 * BtError('USAGE') naming the command and where its help is: an unknown option, an option without its value (or a
 * value on a flag), too few or too many arguments. `--help` wins over missing arguments.
 */
export function parse(argv: string[], cmd: CommandName): { values: Values; positionals: string[]; help: boolean } {
  const doc: CommandDoc = COMMANDS[cmd];
  const options = parserOptions(cmd);
  const seeHelp = `(see bitpeer ${cmd} --help)`;
  // Non-strict: it never throws, and its tokens say what each argument is; the checks below are strict mode's own
  // (unknown option, missing or option-like value, value on a flag), with our one-line messages.
  const loose = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of loose.tokens) {
    if (t.kind !== 'option') continue;
    const spec = options[t.name];
    const raw = t.rawName;
    if (!spec) {
      throw new BtError('USAGE', `unknown option ${raw} for "${cmd}" ${seeHelp}`);
    }
    const o = doc.options.find((d) => d.name === t.name)!;
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && looksLikeOption(t.value)))) {
      throw new BtError('USAGE', `option ${raw} of "${cmd}" needs a value: ${raw} ${o.value ?? 'VALUE'} ${seeHelp}`);
    }
    if (spec.type === 'boolean' && t.value !== undefined) {
      throw new BtError('USAGE', `option ${raw} of "${cmd}" takes no value ${seeHelp}`);
    }
  }
  // The checks above are the ones strict mode makes, so the loose result is the strict one.
  const values = loose.values as Values;
  const positionals = loose.positionals;
  if (values['help']) return { values, positionals, help: true };
  const n = positionals.length;
  if (n > doc.max) {
    const extra = positionals[doc.max]!;
    throw new BtError('USAGE', `unexpected argument ${JSON.stringify(extra)} for "${cmd}": usage: ${usageLine(cmd)} ${seeHelp}`);
  }
  if (n < doc.min) throw new BtError('USAGE', `missing argument for "${cmd}": usage: ${usageLine(cmd)} ${seeHelp}`);
  return { values, positionals, help: false };
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

export function asStrings(v: OptionValue): string[] {
  if (v === undefined || typeof v === 'boolean') return [];
  return Array.isArray(v) ? v : [v];
}

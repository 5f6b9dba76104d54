/**
 * Help pages and error output of the CLI (issue 9, findings 8 and 11):
 * - every command has a help page (`bitpeer <cmd> --help`, the same as `bitpeer help <cmd>`) that explains every
 *   option its parser accepts, and every option a page names is accepted; the overview names the rate limits, the
 *   tracker flags and the DHT flags (--no-dht, --dht-bootstrap);
 * - a bad option is one line naming the option and the command, no parser text, balanced quotes, exit 2;
 * - `info <folder>` is `bitpeer: error: …`, exit 1;
 * - `info --json` into a reader that closes early is a quiet exit (no "internal error", not 70);
 * - `info` of a torrent with more than 1000 files says how to see the rest, and `--all` lists them all.
 * No network: these commands never open a socket. Every child is bounded by a timeout and stopped by its Scope.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encode } from '../../src/bencode/encode.js';
import { parse, parserOptions } from '../../src/cli/args.js';
import { COMMANDS, type CommandName } from '../../src/cli/help.js';
import { bitpeerBin, Scope } from '../helpers/proc.js';

const scope = new Scope();
after(() => scope.cleanup());

const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A .torrent listing `count` one-byte files (valid metainfo: its pieces string fits the total length). */
async function manyFilesTorrent(dir: string, count: number): Promise<string> {
  const pieceLength = 16384;
  const pieces = Math.ceil(count / pieceLength);
  const files = Array.from({ length: count }, (_, i) => ({ length: 1, path: [Buffer.from(`d${i % 10}`), Buffer.from(`file-${i}.txt`)] }));
  const torrent = encode({
    announce: Buffer.from('http://127.0.0.1:6881/announce'),
    info: { files, name: Buffer.from('many'), 'piece length': pieceLength, pieces: Buffer.alloc(20 * pieces) },
  });
  const path = join(dir, 'many.torrent');
  await writeFile(path, torrent);
  return path;
}

test('every command has a help page that explains every option its parser accepts', { timeout: 60_000 }, () => {
  assert.deepEqual(COMMAND_NAMES.sort(),
    ['add', 'create', 'daemon', 'get', 'info', 'ls', 'pause', 'resume', 'rm', 'seed', 'share', 'stats', 'stream']);
  for (const cmd of COMMAND_NAMES) {
    const r = run([cmd, '--help']);
    assert.equal(r.code, 0, `${cmd} --help exits 0: ${r.stderr}`);
    assert.equal(r.stderr, '', `${cmd} --help writes nothing on stderr`);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.length > 5, `${cmd} --help is more than a usage line:\n${r.stdout}`);
    assert.match(r.stdout, /^examples:$/m, `${cmd} --help has examples`);
    assert.equal(run(['help', cmd]).stdout, r.stdout, `bitpeer help ${cmd} shows the same page`);

    // Every option the parser takes is on the page, each on a line of its own with an explanation.
    const accepted = parserOptions(cmd);
    for (const [name, spec] of Object.entries(accepted)) {
      const short = spec.short ? `-${spec.short}, ` : '';
      const line = lines.find((l) => new RegExp(`^\\s+${short}--${name}(\\s|$)`).test(l));
      assert.ok(line, `${cmd} --help explains --${name}${spec.short ? ` (-${spec.short})` : ''}:\n${r.stdout}`);
      const index = lines.indexOf(line);
      const text = line.replace(/^\s+(-\w, )?--\S+( [A-Z:]+(\.\.\.)?)?/, '').trim() || lines[index + 1]!.trim();
      assert.ok(text.length >= 10, `--${name} of ${cmd} has a description: "${line}"`);
    }
    // And every option the page names is one the parser takes (no stale or invented options).
    const named = new Set([...r.stdout.matchAll(/^\s+(?:-\w, )?--([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
    assert.deepEqual([...named].sort(), Object.keys(accepted).sort(), `${cmd}: the options on the page are the accepted ones`);
    for (const name of named) {
      const spec = accepted[name]!;
      assert.doesNotThrow(() => parse([`--${name}`, ...(spec.type === 'string' ? ['1'] : []), '--help'], cmd), `${cmd} accepts --${name}`);
    }
  }
});

test('the overview lists every command, the rate limits, the tracker flags and the DHT flags', () => {
  const r = run(['--help']);
  assert.equal(r.code, 0, r.stderr);
  for (const cmd of COMMAND_NAMES) assert.match(r.stdout, new RegExp(`^  ${cmd} `, 'm'), `the overview names ${cmd}`);
  for (const flag of ['--upload-limit', '--download-limit', '--no-tracker', '--open-tracker', '--no-dht', '--dht-bootstrap']) {
    assert.ok(r.stdout.includes(flag), `the overview mentions ${flag}`);
  }
  assert.equal(run(['help']).stdout, r.stdout, 'bitpeer help is the overview');
  const bad = run(['help', 'frobnicate']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

/** One line on stderr, the bitpeer prefix, no parser text, balanced quotes, nothing on stdout, exit 2. */
function assertUsageLine(r: { code: number | null; stdout: string; stderr: string }, expected: RegExp): void {
  assert.equal(r.code, 2, `usage errors exit 2: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.stderr}`);
  assert.match(lines[0]!, expected);
  assert.doesNotMatch(lines[0]!, /To specify a positional|argument is ambiguous|ERR_PARSE_ARGS|Unknown option/);
  assert.equal((lines[0]!.match(/"/g) ?? []).length % 2, 0, `balanced double quotes: ${lines[0]}`);
  assert.equal((lines[0]!.match(/'/g) ?? []).length % 2, 0, `balanced single quotes: ${lines[0]}`);
}

test('a bad option or argument is one clear line naming it and the command, exit 2', { timeout: 60_000 }, () => {
  assertUsageLine(run(['get', 'x.torrent', '--bogus']), /^bitpeer: unknown option --bogus for "get" \(see bitpeer get --help\)$/);
  assertUsageLine(run(['seed', 'a', 'b', '-z']), /^bitpeer: unknown option -z for "seed" \(see bitpeer seed --help\)$/);
  assertUsageLine(run(['get', 'x.torrent', '--dht']), /^bitpeer: unknown option --dht for "get"/);
  assertUsageLine(run(['get', 'x.torrent', '--dht-bootstrap', 'nowhere']), /^bitpeer: bad DHT bootstrap node "nowhere" \(expected HOST:PORT/);
  assertUsageLine(run(['daemon', '--dht-bootstrap', '127.0.0.1:99999']), /^bitpeer: bad DHT bootstrap node "127\.0\.0\.1:99999"/);
  assertUsageLine(run(['get', 'x.torrent', '-o']), /^bitpeer: option -o of "get" needs a value: -o DIR \(see bitpeer get --help\)$/);
  assertUsageLine(run(['share', 'x', '--port', '--json']), /^bitpeer: option --port of "share" needs a value/);
  assertUsageLine(run(['info', 'x.torrent', '--json=yes']), /^bitpeer: option --json of "info" takes no value/);
  assertUsageLine(run(['info', 'a.torrent', 'b.torrent']), /^bitpeer: unexpected argument "b.torrent" for "info": usage: bitpeer info /);
  assertUsageLine(run(['ls', 'extra']), /^bitpeer: unexpected argument "extra" for "ls"/);
  assertUsageLine(run(['get']), /^bitpeer: missing argument for "get": usage: bitpeer get <file.torrent\|magnet>/);
});

test('info of a folder is an error line (bitpeer: error: …), exit 1', async () => {
  const dir = await scope.tempDir();
  const r = run(['info', dir]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^bitpeer: error: .+ is a folder, not a \.torrent file\n$/);
});

test('info --json into a reader that closes early exits quietly', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  const torrent = await manyFilesTorrent(dir, 30_000); // ~1.5 MB of JSON: far more than a pipe holds
  const child = scope.spawn(process.execPath, [bitpeerBin(), 'info', torrent, '--json'], { name: 'info --json' });
  const stdout = child.proc.stdout!;
  stdout.once('data', () => stdout.destroy()); // the reader goes away after the first chunk, as `head -c 100` does
  const exit = await child.exited(30_000);
  assert.doesNotMatch(child.stderr, /internal error|EPIPE/, child.stderr);
  assert.equal(child.stderr, '', 'nothing on stderr');
  assert.deepEqual(exit, { code: 0, signal: null }, `a quiet exit 0: ${child.stderr}`);
});

test('info of a torrent with more than 1000 files says how to see the rest; --all lists them all', { timeout: 60_000 }, async () => {
  const dir = await scope.tempDir();
  const torrent = await manyFilesTorrent(dir, 1500);
  const fileLine = /^ {2}many\/d\d\/file-\d+\.txt {2}1 B$/;
  const short = run(['info', torrent]);
  assert.equal(short.code, 0, short.stderr);
  const lines = short.stdout.trimEnd().split('\n');
  assert.equal(lines.filter((l) => fileLine.test(l)).length, 1000);
  assert.ok(lines.some((l) => /and 500 more.*--all/.test(l)), `says how to see the rest:\n${lines.slice(-3).join('\n')}`);
  const all = run(['info', torrent, '--all']);
  assert.equal(all.code, 0, all.stderr);
  const allLines = all.stdout.trimEnd().split('\n');
  assert.equal(allLines.filter((l) => fileLine.test(l)).length, 1500);
  assert.ok(!allLines.some((l) => /more/.test(l)), 'nothing left out');
  assert.ok(allLines.includes('  many/d9/file-1499.txt  1 B'));
});

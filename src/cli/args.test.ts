// `parse`: each command's options come from its table in help.ts, and every mistake is one BtError('USAGE') line that
// names the option or argument and the command's help page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BtError } from '../util/errors.js';
import { parse, parseDhtOptions, parseEncryption, parserOptions } from './args.js';
import { COMMANDS, commandHelp, type CommandName } from './help.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof BtError && err.code === 'USAGE', `a usage error: ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err.message;
  }
  assert.fail('no error');
}

test('values, short aliases, repeated options and the `--` terminator', () => {
  const r = parse(['x.torrent', '-o', 'out', '--peer', 'a:1', '--peer=b:2', '-v', '--max-peers', '5'], 'get');
  assert.deepEqual(r.positionals, ['x.torrent']);
  assert.equal(r.values['output'], 'out');
  assert.deepEqual(r.values['peer'], ['a:1', 'b:2']);
  assert.equal(r.values['verbose'], true);
  assert.equal(r.values['max-peers'], '5');
  assert.equal(r.help, false);
  assert.deepEqual(parse(['--', '--odd-name.torrent'], 'info').positionals, ['--odd-name.torrent']);
  assert.equal(parse(['-o-dash', 'x'], 'get').values['output'], '-dash', 'an attached value may start with a dash');
});

test('--help wins over missing arguments', () => {
  assert.equal(parse(['--help'], 'seed').help, true);
  assert.equal(parse(['-h'], 'rm').help, true);
});

test('mistakes: one line naming the option or argument, the command and its help page', () => {
  assert.equal(usageError(() => parse(['x', '--bogus'], 'get')), 'unknown option --bogus for "get" (see bitpeer get --help)');
  assert.equal(usageError(() => parse(['x', '-z'], 'info')), 'unknown option -z for "info" (see bitpeer info --help)');
  assert.match(usageError(() => parse(['x', '--no-such-thing'], 'get')), /^unknown option --no-such-thing/);
  assert.match(usageError(() => parse(['x', '--dht'], 'get')), /^unknown option --dht for "get"/); // on by default there
  assert.match(usageError(() => parse(['x', '--piece-length', '1M', 'y'], 'seed')), /^unknown option --piece-length for "seed"/);
  assert.equal(usageError(() => parse(['x', '-o'], 'get')), 'option -o of "get" needs a value: -o DIR (see bitpeer get --help)');
  assert.match(usageError(() => parse(['x', '--port', '--json'], 'share')), /^option --port of "share" needs a value: --port N/);
  assert.match(usageError(() => parse(['x', '--json=1'], 'info')), /^option --json of "info" takes no value/);
  assert.match(usageError(() => parse(['a', 'b'], 'info')), /^unexpected argument "b" for "info": usage: bitpeer info <file\.torrent\|magnet>/);
  assert.match(usageError(() => parse([], 'rm')), /^missing argument for "rm": usage: bitpeer rm <id\|hash\|hash-prefix>\.\.\./);
});

test('every option in a table is explained on its help page and accepted by the parser', () => {
  for (const cmd of Object.keys(COMMANDS) as CommandName[]) {
    const page = commandHelp(cmd);
    for (const [name, spec] of Object.entries(parserOptions(cmd))) {
      assert.match(page, new RegExp(`^ {2}${spec.short ? `-${spec.short}, ` : ' {4}'}--${name}\\b`, 'm'), `${cmd} --${name}`);
    }
    const names = COMMANDS[cmd].options.map((o) => o.name);
    assert.equal(new Set(names).size, names.length, `${cmd}: no option twice`);
  }
});

test('parseEncryption: the three modes, absent, and a clear USAGE error otherwise', () => {
  assert.equal(parseEncryption(undefined), undefined);
  for (const m of ['disabled', 'enabled', 'forced'] as const) assert.equal(parseEncryption(m), m);
  assert.throws(() => parseEncryption('required'), (e: unknown) => e instanceof BtError && e.code === 'USAGE'
    && e.message === '--encryption must be disabled, enabled or forced, got "required"');
});

test('DHT options: --no-dht, --dht-bootstrap (repeatable, checked), --dht-private / --no-dht-private; junk is a USAGE error', () => {
  const of = (argv: string[], cmd: 'get' | 'daemon' = 'get'): ReturnType<typeof parseDhtOptions> => parseDhtOptions(parse(argv, cmd).values);
  assert.deepEqual(of(['x']), {});
  assert.deepEqual(of(['x', '--no-dht']), { dht: false });
  assert.deepEqual(of(['--dht'], 'daemon'), { dht: true });
  assert.deepEqual(of(['x', '--dht-bootstrap', '127.0.0.1:6881', '--dht-bootstrap', 'router.example.org:25401']),
    { dhtBootstrap: ['127.0.0.1:6881', 'router.example.org:25401'] });
  assert.deepEqual(of(['x', '--dht-private']), { dhtPrivate: true });
  assert.deepEqual(of(['x', '--no-dht-private']), { dhtPrivate: false });
  for (const junk of ['127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', ':6881', 'a b:1', '300.1.1.1:6881', 'host:port', '[::1]:6881']) {
    assert.match(usageError(() => of(['x', '--dht-bootstrap', junk])), /^bad DHT bootstrap node/, junk);
  }
  assert.match(usageError(() => of(['--dht', '--no-dht'], 'daemon')), /contradict/);
  assert.match(usageError(() => of(['x', '--dht-private', '--no-dht-private'])), /contradict/);
});

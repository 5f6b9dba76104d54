/**
 * The bitpeer command line (see docs/cli.md): `create`, `info`, `seed`, `get`, `share`, `daemon`, the daemon's
 * client commands `add`, `ls`, `pause`, `resume`, `rm`, `stats`, and `help`.
 *
 * Contract: every user error (bad arguments, a missing file, a bad torrent, a port in use, an unwritable folder) is
 * one clear line on stderr and a non-zero exit, never a stack trace. Exit codes: 0 success, 1 error, 2 usage,
 * 130/143 interrupted. Set BITPEER_DEBUG=1 to see stack traces of unexpected errors.
 *
 * A closed stdout or stderr (`bitpeer info x --json | head -c 100`: EPIPE) is not an error: the output has nowhere
 * to go, so a short command exits 0 at once, quietly; a long-running one (seed, get, share, daemon) stops cleanly as
 * on SIGTERM and exits with that command's code for it (0 for a seed, 143 for an unfinished download).
 */
import { BtError, errnoOf, errorMessage } from '../util/errors.js';
import { CLIENT_NAME } from '../util/version.js';
import { commandHelp, isCommand, overview } from './help.js';

// Each command's module is imported only when that command runs: loading the whole graph (session, daemon, RPC)
// costs ~60 ms of start-up, a tenth of `bitpeer create` on 1 GiB. The help texts (help.ts) are plain data.

/**
 * Last-resort boundaries. A rejected promise nobody handled is a bug, but one peer's bug must not take every swarm
 * down: it is reported on stderr and the process goes on. An uncaught exception leaves the process in an unknown
 * state: report it in one line and exit 70.
 */
function installSafetyNets(): void {
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`bitpeer: internal error (unhandled rejection): ${errorMessage(reason)}\n`);
    if (process.env['BITPEER_DEBUG']) process.stderr.write(`${(reason as Error)?.stack ?? ''}\n`);
  });
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bitpeer: internal error: ${errorMessage(err)}\n`);
    if (process.env['BITPEER_DEBUG']) process.stderr.write(`${err.stack ?? ''}\n`);
    process.exit(70);
  });
}

let outputClosed = false;
/** The command runs until stopped (seed, get, share, daemon): a closed output stops it as SIGTERM does. */
let longRunning = false;

/** What a failed write to stdout or stderr does (see the header): EPIPE is a quiet stop; anything else exits 1. */
function onOutputError(err: Error, stream: 'stdout' | 'stderr'): void {
  if (outputClosed) return; // the stream keeps failing on every later write: act once
  outputClosed = true;
  const code = errnoOf(err) ?? (err as NodeJS.ErrnoException).code;
  if (code !== 'EPIPE') {
    if (stream === 'stdout') process.stderr.write(`bitpeer: error: cannot write to stdout: ${code ?? errorMessage(err)}\n`);
    process.exit(1);
  }
  // A command that handles SIGTERM stops cleanly through that handler (its session closed, `stopped` announced).
  // Before its handler is in place, a long-running command exits as SIGTERM would (143); any other command has
  // nothing left to do but write, so it exits 0 now.
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
  else process.exit(longRunning ? 143 : 0);
}

/** Installed once per process, for every command: a stream without an 'error' listener would crash on EPIPE. */
function installOutputGuards(): void {
  process.stdout.on('error', (err) => onOutputError(err, 'stdout'));
  process.stderr.on('error', (err) => onOutputError(err, 'stderr'));
}

export async function main(argv: string[]): Promise<number> {
  installSafetyNets();
  installOutputGuards();
  const [cmd, ...rest] = argv;
  longRunning = cmd === 'seed' || cmd === 'get' || cmd === 'share' || cmd === 'stream' || cmd === 'daemon';
  try {
    switch (cmd) {
      case 'create': return await (await import('./commands/create.js')).createCommand(rest);
      case 'info': return await (await import('./commands/info.js')).infoCommand(rest);
      case 'seed': case 'get': case 'share': case 'stream': return await (await import('./commands/run.js')).runCommand(cmd, rest);
      case 'daemon': return await (await import('./commands/daemon.js')).daemonCommand(rest);
      case 'add': case 'ls': case 'pause': case 'resume': case 'rm': case 'stats':
        return await (await import('./commands/remote.js')).remoteCommand(cmd, rest);
      case 'help': {
        if (rest.length === 0) { process.stdout.write(overview()); return 0; }
        const [topic, ...more] = rest;
        if (!isCommand(topic!) || more.length > 0) {
          throw new BtError('USAGE', `no help for "${rest.join(' ')}": bitpeer help <command> (the commands: see bitpeer --help)`);
        }
        process.stdout.write(commandHelp(topic!));
        return 0;
      }
      case undefined: case '--help': case '-h':
        process.stdout.write(overview());
        return cmd === undefined ? 2 : 0;
      case '--version': case 'version':
        process.stdout.write(`${CLIENT_NAME}\n`);
        return 0;
      default:
        throw new BtError('USAGE', `unknown command "${cmd}" (try: bitpeer help)`);
    }
  } catch (err) {
    if (err instanceof BtError) {
      process.stderr.write(`bitpeer: ${err.code === 'USAGE' ? '' : 'error: '}${err.message}\n`);
      return err.code === 'USAGE' ? 2 : 1;
    }
    process.stderr.write(`bitpeer: internal error: ${errorMessage(err)}\n`);
    if (process.env['BITPEER_DEBUG']) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 70;
  }
}

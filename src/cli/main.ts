/**
 * The bitpeer command line: `create`, `info`, `seed`, `get`, `share` (see docs/cli.md).
 *
 * Contract: every user error (bad arguments, a missing file, a bad torrent, a port in use, an unwritable folder) is
 * one clear line on stderr and a non-zero exit, never a stack trace. Exit codes: 0 success, 1 error, 2 usage,
 * 130/143 interrupted. Set BITPEER_DEBUG=1 to see stack traces of unexpected errors.
 */
import { BtError, errorMessage } from '../util/errors.js';
import { createCommand, CREATE_USAGE } from './commands/create.js';
import { infoCommand, INFO_USAGE } from './commands/info.js';
import { GET_USAGE, runCommand, SEED_USAGE, SHARE_USAGE } from './commands/run.js';
import { daemonCommand, DAEMON_USAGE } from './commands/daemon.js';
import { remoteCommand, REMOTE_USAGE } from './commands/remote.js';

const HELP = `bitpeer: a BitTorrent peer (client, server and tracker in one)

usage:
  ${CREATE_USAGE}
  ${INFO_USAGE}
  ${SEED_USAGE}
  ${GET_USAGE}
  ${SHARE_USAGE}
  ${DAEMON_USAGE}
${Object.values(REMOTE_USAGE).map((u) => `  ${u}`).join("\n")}

common options: --port N (default 6881, 0 = any)  --bind ADDR  --peer HOST:PORT (repeatable)
                --json (one JSON event per line)  --verbose  --state-dir DIR  --no-dht --no-lsd --no-pex
`;

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

export async function main(argv: string[]): Promise<number> {
  installSafetyNets();
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'create': return await createCommand(rest);
      case 'info': return await infoCommand(rest);
      case 'seed': return await runCommand('seed', rest);
      case 'get': return await runCommand('get', rest);
      case 'share': return await runCommand('share', rest);
      case 'daemon': return await daemonCommand(rest);
      case 'add': case 'ls': case 'pause': case 'resume': case 'rm': case 'stats':
        return await remoteCommand(cmd, rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(HELP);
        return cmd === undefined ? 2 : 0;
      case '--version': case 'version':
        process.stdout.write('bitpeer 0.1.0\n');
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

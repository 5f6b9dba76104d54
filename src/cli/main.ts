/**
 * The bitpeer command line: `create`, `info`, `seed`, `get`, `share` (see docs/cli.md).
 *
 * Contract: every user error (bad arguments, a missing file, a bad torrent, a port in use, an unwritable folder) is
 * one clear line on stderr and a non-zero exit, never a stack trace. Exit codes: 0 success, 1 error, 2 usage,
 * 130/143 interrupted. Set BITPEER_DEBUG=1 to see stack traces of unexpected errors.
 */
import { BtError, errorMessage } from '../util/errors.js';

// Each command's module is imported only when that command runs: loading the whole graph (session, daemon, RPC)
// costs ~60 ms of start-up, a tenth of `bitpeer create` on 1 GiB.
async function help(): Promise<string> {
  const [{ CREATE_USAGE }, { INFO_USAGE }, { GET_USAGE, SEED_USAGE, SHARE_USAGE }, { DAEMON_USAGE }, { REMOTE_USAGE }] = await Promise.all([
    import('./commands/create.js'), import('./commands/info.js'), import('./commands/run.js'), import('./commands/daemon.js'),
    import('./commands/remote.js'),
  ]);
  return `bitpeer: a BitTorrent peer (client, server and tracker in one)

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
}

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
      case 'create': return await (await import('./commands/create.js')).createCommand(rest);
      case 'info': return await (await import('./commands/info.js')).infoCommand(rest);
      case 'seed': case 'get': case 'share': return await (await import('./commands/run.js')).runCommand(cmd, rest);
      case 'daemon': return await (await import('./commands/daemon.js')).daemonCommand(rest);
      case 'add': case 'ls': case 'pause': case 'resume': case 'rm': case 'stats':
        return await (await import('./commands/remote.js')).remoteCommand(cmd, rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(await help());
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

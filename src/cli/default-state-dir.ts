/**
 * Where the daemon keeps its state when no --state-dir is given: $XDG_DATA_HOME/bitpeer, else
 * ~/.local/share/bitpeer. Shared by `bitpeer daemon` and the client commands (which look there for the credentials
 * an exposed daemon made itself), in a module of its own so a client command does not load the daemon.
 * BEP: none (XDG Base Directory specification).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultStateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const xdg = env['XDG_DATA_HOME'];
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.local', 'share'), 'bitpeer');
}

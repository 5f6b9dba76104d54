/**
 * The daemon's default download folder: the user's download folder of the XDG user-dirs spec, as file managers and
 * browsers use it, rather than a hidden folder under the state directory.
 *
 * Order: `XDG_DOWNLOAD_DIR` from the environment; else the `XDG_DOWNLOAD_DIR=` line of
 * `$XDG_CONFIG_HOME/user-dirs.dirs` (or `~/.config/user-dirs.dirs`); else `~/Downloads`. (An explicit
 * `--download-dir` or a saved setting wins over all of these; the caller decides that.)
 *
 * Invariant: the result is an absolute path. The file is parsed, never run: only a double-quoted (or bare) value that
 * is `$HOME/...` or absolute is taken; anything else (another variable, a command substitution, a relative path) is
 * ignored, and so is a value that is the home folder itself (user-dirs' way of saying "no such folder").
 * Pure: the environment, the home folder and the file reader are passed in.
 */
import { isAbsolute, join, normalize } from 'node:path';

export function userDownloadDir(env: Readonly<Record<string, string | undefined>>, home: string,
  readText: (path: string) => string | undefined): string {
  const fallback = join(home, 'Downloads');
  const fromEnv = env['XDG_DOWNLOAD_DIR'];
  if (fromEnv) {
    const dir = expandHome(fromEnv, home);
    if (dir !== undefined) return dir;
  }
  const configHome = env['XDG_CONFIG_HOME'];
  const file = join(configHome && isAbsolute(configHome) ? configHome : join(home, '.config'), 'user-dirs.dirs');
  let text: string | undefined;
  try { text = readText(file); } catch { text = undefined; }
  if (text !== undefined) {
    const value = parseUserDirs(text)['XDG_DOWNLOAD_DIR'];
    const dir = value === undefined ? undefined : expandHome(value, home);
    if (dir !== undefined) return dir;
  }
  return fallback;
}

/** `NAME="value"` lines of a user-dirs.dirs file (comments and anything unparsable skipped); the last one wins. */
export function parseUserDirs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|([^\s"'`\\]*))$/.exec(line);
    if (!m) continue;
    const quoted = m[2];
    const value = quoted !== undefined ? unescape(quoted) : m[3];
    if (value !== undefined) out[m[1]!] = value;
  }
  return out;
}

/** Shell double-quote escapes `\"` and `\\`; undefined for `\$` and `` \` `` (a literal dollar or backquote is not worth the risk). */
function unescape(s: string): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) { out += c; continue; }
    const next = s[++i]!;
    if (next === '$' || next === '`') return undefined;
    out += next === '"' || next === '\\' ? next : `\\${next}`;
  }
  return out;
}

/** `$HOME`, `${HOME}` or `$HOME/...` expanded, or an absolute path; undefined for anything else, or for home itself. */
function expandHome(value: string, home: string): string | undefined {
  const m = /^(?:\$HOME|\$\{HOME\})(\/.*)?$/.exec(value);
  const rest = m ? (m[1] ?? '') : value;
  if (rest.includes('$') || rest.includes('`') || (!m && !isAbsolute(rest))) return undefined;
  let v = normalize(m ? join(home, rest) : rest);
  if (v.length > 1 && v.endsWith('/')) v = v.slice(0, -1);
  if (v === normalize(home).replace(/(.)\/$/, '$1')) return undefined;
  return v;
}

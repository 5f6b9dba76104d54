/**
 * Path sanitising for torrent file names (reliability rule 1 in docs/design/reliability.md; BEP 3 `name`/`path`, BEP 47
 * pad files).
 *
 * Invariant: every component that leaves this module is a single, non-empty file name that cannot climb out of,
 * or jump away from, the folder it is joined to; and `resolveInside` proves containment again on the final path.
 *
 * Each component is checked on its own. Reject vs neutralise, case by case:
 * - REJECT (BtError 'BAD_PATH'): an empty component; `.` or `..`; a component made only of dots and spaces (`...`,
 *   `.. ` — Windows strips trailing dots and spaces, so `.. ` would become `..`); a `/` or `\` inside a component
 *   (this covers absolute paths `/etc/x`, `a/../../x` and `C:\x`); NUL; an empty path list; more than
 *   {@link MAX_PATH_DEPTH} components; two files with the same path; a file whose path is also a directory of
 *   another file (`a` and `a/b`). These never occur in honest torrents, and guessing what was meant is how
 *   traversal bugs happen.
 * - NEUTRALISE (replaced by `_`, recorded as a soft error): other control characters (U+0001–U+001F, U+007F–U+009F),
 *   and a drive-letter prefix (`C:foo` → `C_foo`): they are harmless on POSIX but dangerous or invalid elsewhere,
 *   and they do occur in real torrents.
 * - Kept as-is: everything else, including `:` elsewhere in a name, leading dots (`.hidden`), and names longer than
 *   the file system allows (the storage layer reports those as I/O errors).
 * - BEP 47 pad files are sanitised the same way but are left out of the duplicate/conflict checks: many pad files
 *   legitimately share the path `.pad/N`, and storage never creates them.
 * Comparisons are case-sensitive (two names differing only in case are distinct files on Linux).
 */
import * as path from 'node:path';
import { BtError } from '../util/errors.js';

/** Maximum number of components in one file path, name included (libtorrent: 100). */
export const MAX_PATH_DEPTH = 100;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0001-\u001f\u007f-\u009f]/g;
const DRIVE = /^[A-Za-z]:/;
const DOTS_AND_SPACES = /^[. ]+$/;

function bad(field: string, msg: string): never {
  throw new BtError('BAD_PATH', `${field}: ${msg}`);
}

/**
 * Check one path component and neutralise harmless oddities.
 * @param raw the component as decoded from the torrent
 * @param field names the component in error messages, e.g. `info.files[3].path[1]`
 * @param softErrors receives a note when something was neutralised
 * @returns the sanitised component
 * @throws BtError('BAD_PATH') for components that must be rejected
 */
export function sanitizeComponent(raw: string, field = 'path component', softErrors?: string[]): string {
  if (raw.length === 0) bad(field, 'empty path component');
  if (raw === '.' || raw === '..') bad(field, `"${raw}" path component (path traversal)`);
  if (DOTS_AND_SPACES.test(raw)) bad(field, `path component ${JSON.stringify(raw)} is only dots and spaces`);
  if (raw.includes('/')) bad(field, `path component ${JSON.stringify(raw)} contains a "/" separator`);
  if (raw.includes('\\')) bad(field, `path component ${JSON.stringify(raw)} contains a "\\" separator`);
  if (raw.includes('\u0000')) bad(field, `path component ${JSON.stringify(raw)} contains a NUL character`);
  let out = raw.replace(CONTROL, '_');
  if (DRIVE.test(out)) out = `${out[0]!}_${out.slice(2)}`;
  if (out !== raw) softErrors?.push(`${field}: ${JSON.stringify(raw)} neutralised to ${JSON.stringify(out)}`);
  return out;
}

interface TrieNode {
  children: Map<string, TrieNode> | undefined;
  /** Index of the file that ends here, or -1. */
  file: number;
}

/**
 * Detects duplicate paths and file/directory conflicts in O(total components).
 * Add every non-pad file path in order; `add` throws BAD_PATH on the first conflict.
 */
export class PathSet {
  private readonly root: TrieNode = { children: undefined, file: -1 };

  /** @param field names the file in the error message; `index` is remembered to name the earlier file. */
  add(components: readonly string[], index: number, field: string): void {
    let node = this.root;
    for (let i = 0; i < components.length; i++) {
      if (node.file >= 0) bad(field, `path ${JSON.stringify(components.join('/'))} lies inside file #${node.file}, which is not a folder`);
      node.children ??= new Map();
      let next = node.children.get(components[i]!);
      if (next === undefined) {
        next = { children: undefined, file: -1 };
        node.children.set(components[i]!, next);
      }
      node = next;
    }
    if (node.file >= 0) bad(field, `duplicate file path ${JSON.stringify(components.join('/'))} (same as file #${node.file})`);
    if (node.children !== undefined) bad(field, `file path ${JSON.stringify(components.join('/'))} is also a folder of another file`);
    node.file = index;
  }
}

/**
 * Join sanitised components onto `saveDir` and prove that the result lies strictly inside it.
 * Every component is re-checked with {@link sanitizeComponent} rules (a component it would change is refused, so
 * callers must pass already-sanitised components).
 * @throws BtError('BAD_PATH') when a component is unsafe or the resolved path is not inside `saveDir`.
 */
export function resolveInside(saveDir: string, components: readonly string[]): string {
  if (components.length === 0) bad('path', 'empty path');
  if (components.length > MAX_PATH_DEPTH) bad('path', `more than ${MAX_PATH_DEPTH} components`);
  for (const c of components) {
    if (sanitizeComponent(c, 'path') !== c) bad('path', `unsanitised path component ${JSON.stringify(c)}`);
    if (path.isAbsolute(c)) bad('path', `absolute path component ${JSON.stringify(c)}`);
  }
  const base = path.resolve(saveDir);
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  const full = path.resolve(base, ...components);
  if (!full.startsWith(prefix) || full.length <= prefix.length) {
    bad('path', `${JSON.stringify(components.join('/'))} resolves outside ${JSON.stringify(base)}`);
  }
  return full;
}

/**
 * Path sanitising and containment for torrent file names (reliability rule 1 in docs/design/reliability.md; BEP 3
 * `name`/`path`, BEP 47 pad files and symlinks, BEP 52 file-tree keys).
 *
 * Invariant: every component that leaves this module is a single, non-empty file name that cannot climb out of, or
 * jump away from, the folder it is joined to (`isSafeComponent`), and `resolveInside` proves containment again on
 * the final path. Storage adds the on-disk half (real path of the parent folder, O_NOFOLLOW).
 *
 * Policy (docs/design/metainfo.md has the table): SANITISE exactly as libtorrent 2.0 does on POSIX, so that bitpeer
 * opens every torrent libtorrent opens and names its files the same way:
 * - `sanitizeElement`: separators, NUL and bidi overrides removed; `.`/`..` dropped; control characters and
 *   invalid UTF-8 become `_`; empty elements become `_`; elements cut at 240 bytes (extension kept);
 * - `resolveDuplicatePaths`: duplicate paths (ASCII case-insensitive, folders included) renamed `name.1.ext`, …;
 *   pad files of the same size may share a path.
 * `sanitizeComponent` keeps the older, stricter rules (reject `..`, separators, NUL, dots-and-spaces; neutralise
 * control characters and drive letters): `create` uses it to refuse names it would otherwise have to rewrite.
 * `PathSet` (duplicate and file/folder conflict detection) is kept for callers that must refuse rather than rename.
 * Comparisons in `resolveInside` are exact (case-sensitive).
 */
import * as path from 'node:path';
import { BtError } from '../util/errors.js';

/**
 * Most components `resolveInside` joins (a path of more cannot fit in Linux's 4096-byte PATH_MAX). v1 paths have no
 * depth limit in libtorrent, nor in the parser; a v2 file tree is limited to 100 levels (v2-parse.ts).
 */
export const MAX_PATH_DEPTH = 2048;

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
 * Every component is re-checked with {@link isSafeComponent} (callers must pass already-sanitised components).
 * @throws BtError('BAD_PATH') when a component is unsafe or the resolved path is not inside `saveDir`.
 */
export function resolveInside(saveDir: string, components: readonly string[]): string {
  if (components.length === 0) bad('path', 'empty path');
  if (components.length > MAX_PATH_DEPTH) bad('path', `more than ${MAX_PATH_DEPTH} components`);
  for (const c of components) {
    if (!isSafeComponent(c)) bad('path', `unsafe path component ${JSON.stringify(c)}`);
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

// ---------------------------------------------------------------------------------------------------------------
// libtorrent-compatible sanitising (libtorrent 2.0 torrent_info.cpp `sanitize_append_path_element`, POSIX build).

/** Bidirectional-override code points libtorrent strips from names (they disguise extensions). */
const BIDI = new Set([0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x200e, 0x200f]);

/** libtorrent's utf8_sequence_length: 1-4 for valid lead bytes, 5 for the obsolete 5-byte lead, else 0. */
function seqLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >> 5 === 0b110) return 2;
  if (b >> 4 === 0b1110) return 3;
  if (b >> 3 === 0b11110) return 4;
  if (b >> 2 === 0b111110) return 5;
  return 0;
}

/**
 * Decode one code point at `i` exactly as libtorrent's `parse_utf8_codepoint` does: returns [codePoint or -1 when
 * invalid, bytes consumed]. Overlong forms, surrogates and values above U+10FFFF are invalid.
 */
export function parseUtf8CodePoint(buf: Uint8Array, i: number): [number, number] {
  const rest = buf.length - i;
  const len = seqLength(buf[i]!);
  if (len === 1) return [buf[i]!, 1];
  if (len === 0) return [-1, 1];
  if (len > 4) return [-1, len];
  if (len > rest) return [-1, rest];
  let ch = buf[i]! & (len === 2 ? 0x1f : len === 3 ? 0x0f : 0x07);
  for (let k = 1; k < len; k++) {
    const b = buf[i + k]!;
    if (b < 0x80 || b > 0xbf) return [-1, len];
    ch = (ch << 6) + (b & 0x3f);
  }
  if ((len === 2 && ch < 0x80) || (len === 3 && ch < 0x800) || (len === 4 && ch < 0x10000)) return [-1, len];
  if (ch > 0x10ffff || (ch >= 0xd800 && ch <= 0xdfff)) return [-1, len];
  return [ch, len];
}

/**
 * Sanitise one raw path element the way libtorrent 2.0 does on POSIX (`sanitize_append_path_element`), so that
 * bitpeer opens every torrent libtorrent opens, with the same file names:
 * - `.` and `..` (and any element that is only one or two dots once filtered) are DROPPED (returns undefined): the
 *   path simply loses that level, it never climbs;
 * - an empty element becomes `_`;
 * - NUL, `/` and `\` and the bidi-override code points U+202A–U+202E, U+200E, U+200F are removed (`/etc/passwd` →
 *   `etcpasswd`, `a\b` → `ab`), so no element can carry a separator;
 * - invalid UTF-8 sequences and control characters U+0001–U+001F become `_`;
 * - an element longer than 240 bytes is cut at 240 bytes, keeping an extension of up to 9 bytes.
 * The result is never empty, `.`, `..`, and never contains `/`, `\` or a character below U+0020
 * ({@link isSafeComponent} holds for it).
 */
export function sanitizeElement(raw: Uint8Array): string | undefined {
  if (raw.length === 1 && raw[0] === 0x2e) return undefined;
  if (raw.length === 0) return '_';
  const out: number[] = [];
  let added = 0;
  let dots = 0;
  let foundExtension = false;
  for (let i = 0; i < raw.length;) {
    const [cp, len] = parseUtf8CodePoint(raw, i);
    // NUL too: libtorrent's strchr("/\\", c) also matches the terminator when c is 0.
    if (cp >= 0 && (BIDI.has(cp) || cp === 0x2f || cp === 0x5c || cp === 0)) { i += len; continue; }
    if (cp < 0 || cp < 32) {
      out.push(0x5f);
      added++;
      i += len;
      continue;
    }
    for (let k = i; k < i + len; k++) out.push(raw[k]!);
    if (cp === 0x2e) dots++;
    added += len;
    if (added >= 240 && !foundExtension) {
      let dot = -1;
      for (let j = raw.length - 1; j > Math.max(raw.length - 10, i); j--) {
        if (raw[j] !== 0x2e) continue;
        dot = j;
        break;
      }
      if (dot === -1) break;
      foundExtension = true;
      i = dot; // libtorrent: i = dot - seq_len, then the loop adds seq_len
      continue;
    }
    i += len;
  }
  if (added === dots && added <= 2) return undefined;
  return Buffer.from(out).toString('utf8');
}

/**
 * True when `c` is one safe file name: non-empty, not `.` or `..`, no `/`, `\`, NUL or other character below
 * U+0020. Everything {@link sanitizeElement} returns passes; `resolveInside` requires it of every component.
 */
export function isSafeComponent(c: string): boolean {
  // eslint-disable-next-line no-control-regex
  return c.length > 0 && c !== '.' && c !== '..' && !/[/\\\u0000-\u001f]/.test(c);
}

/** ASCII-only lower-casing, as libtorrent's `to_lower` (used for its case-insensitive duplicate check). */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A file for {@link resolveDuplicatePaths}: its sanitised components, joined path, length and pad flag. */
export interface NamedFile {
  path: string[];
  relPath: string;
  length: number;
  padding?: boolean;
}

/**
 * Rename duplicate paths exactly as libtorrent 2.0 does (`torrent_info::resolve_duplicate_filenames_slow`): the
 * comparison is ASCII-case-insensitive; every folder of every file is taken first, so a file that has the path of
 * a folder is renamed too; pad files of the same size may share a path. A colliding file `dir/name.ext` becomes
 * `dir/name.1.ext` (then `.2`, …, the first free one; `.ext` is the part from the last dot of the last component).
 * Renames in place and returns the notes for `softErrors`.
 */
export function resolveDuplicatePaths(files: NamedFile[]): string[] {
  // Paths are compared component by component through interned folder ids (key `<parent id>/<lower-cased name>`),
  // so the work is linear in the total path length: joining and hashing every folder prefix as a string was
  // quadratic in a path's depth (a 60 KB torrent with one 20,000-level path took 7 s), and counting every rename
  // up from 1 was quadratic in the number of copies of one name (the next counter is remembered per name instead:
  // the taken set only grows, so every count below it is still taken).
  const notes: string[] = [];
  const nodes = new Map<string, { id: number; mark: number | undefined }>(); // mark: file index, -1 a folder
  let nextId = 1; // 0 is the root
  const keyOf = (parent: number, name: string): string => `${parent}/${asciiLower(name)}`;
  const child = (parent: number, name: string): { id: number; mark: number | undefined } => {
    const key = keyOf(parent, name);
    let n = nodes.get(key);
    if (n === undefined) nodes.set(key, n = { id: nextId++, mark: undefined });
    return n;
  };
  // Every folder of every file first (all but the first component, the torrent's own folder, as libtorrent).
  const parents = files.map((f) => {
    let id = 0;
    for (let k = 0; k < f.path.length - 1; k++) {
      const n = child(id, f.path[k]!);
      if (k >= 1) n.mark = -1;
      id = n.id;
    }
    return id;
  });
  const nextCount = new Map<string, number>();
  files.forEach((f, i) => {
    const parent = parents[i]!;
    const last = f.path[f.path.length - 1]!;
    const leaf = child(parent, last);
    const other = leaf.mark;
    if (other === undefined) { leaf.mark = i; return; }
    if (other >= 0 && f.padding === true && files[other]!.padding === true && files[other]!.length === f.length) return;
    // libtorrent's remove_extension / extension, on the last component (a leading dot of a one-component path stays).
    const dot = last.lastIndexOf('.');
    const ext = dot >= 0 ? last.slice(dot) : '';
    const base = dot < 0 || (dot === 0 && f.path.length === 1) ? last : last.slice(0, dot);
    const memo = `${parent}/${asciiLower(base)}\u0000${asciiLower(ext)}`;
    let cnt = nextCount.get(memo) ?? 0;
    let name: string;
    for (;;) {
      cnt++;
      name = `${base}.${cnt}${ext}`;
      if (nodes.get(keyOf(parent, name))?.mark === undefined) break;
    }
    nextCount.set(memo, cnt);
    child(parent, name).mark = i;
    const cand = [...f.path.slice(0, -1), name];
    notes.push(`file #${i} ${JSON.stringify(f.relPath)} duplicates ${other >= 0 ? `file #${other}` : 'a folder'}; renamed ${JSON.stringify(cand.join('/'))}`);
    f.path = cand;
    f.relPath = cand.join('/');
  });
  return notes;
}

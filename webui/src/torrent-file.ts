/**
 * A tiny bencode reader for the browser: enough of a .torrent to list its files before adding it (the add dialog's
 * "which files to fetch"). Pure: bytes in, names and lengths out.
 *
 * Invariants: every length and nesting depth is checked against the input and fixed limits before anything is
 * allocated or recursed into (a hostile file cannot hang or exhaust the page); strings stay bytes until decoded as
 * UTF-8 for display; BEP 47 pad files are left out, so file k of the result is the RPC's file index k
 * (src/api/rpc/fields.ts hides pads the same way).
 * BEP 3 (bencoding, `info.files`/`info.name`/`info.length`), BEP 52 (v2 `info.file tree`), BEP 47 (pad files).
 */

export type BValue = number | Uint8Array | BValue[] | Map<string, BValue>;

/** The input is not a usable .torrent. */
export class TorrentParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorrentParseError';
  }
}

const MAX_DEPTH = 64;
const MAX_ITEMS = 1_000_000;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** Decodes one bencoded value spanning all of `buf`. Dictionary keys are read as Latin-1 (byte-exact). */
export function bdecode(buf: Uint8Array): BValue {
  let pos = 0;
  let items = 0;
  const fail = (why: string): never => { throw new TorrentParseError(`not a valid .torrent (${why} at byte ${pos})`); };
  const readInt = (end: number): number => {
    const text = latin1.decode(buf.subarray(pos, end));
    if (!/^(0|-?[1-9]\d{0,15})$/.test(text)) fail('bad integer');
    pos = end + 1;
    return Number(text);
  };
  const value = (depth: number): BValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    if (++items > MAX_ITEMS) fail('too many items');
    const c = buf[pos];
    if (c === undefined) return fail('unexpected end');
    if (c === 0x69) { // i
      pos++;
      const end = buf.indexOf(0x65, pos);
      if (end < 0) fail('unterminated integer');
      return readInt(end);
    }
    if (c === 0x6c) { // l
      pos++;
      const list: BValue[] = [];
      while (buf[pos] !== 0x65) { if (pos >= buf.length) fail('unterminated list'); list.push(value(depth + 1)); }
      pos++;
      return list;
    }
    if (c === 0x64) { // d
      pos++;
      const dict = new Map<string, BValue>();
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) fail('unterminated dictionary');
        const k = value(depth + 1);
        if (!(k instanceof Uint8Array)) fail('dictionary key is not a string');
        dict.set(latin1.decode(k as Uint8Array), value(depth + 1));
      }
      pos++;
      return dict;
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, pos);
      if (colon < 0 || colon - pos > 12) fail('bad string length');
      const len = readInt(colon);
      if (len < 0 || len > buf.length - pos) fail('string longer than the file');
      const s = buf.subarray(pos, pos + len);
      pos += len;
      return s;
    }
    return fail('unexpected byte');
  };
  const v = value(0);
  if (pos !== buf.length) fail('trailing bytes');
  return v;
}

/** One file of a .torrent, as the RPC will index it. */
export interface TorrentFileEntry {
  /** RPC file index. */
  index: number;
  /** "dir/sub/file.ext", including the torrent's name folder for a multi-file torrent. */
  path: string;
  length: number;
}

export interface TorrentSummary {
  name: string;
  files: TorrentFileEntry[];
  totalSize: number;
}

function text(v: BValue | undefined): string | undefined {
  return v instanceof Uint8Array ? utf8.decode(v) : undefined;
}

function isPad(attr: BValue | undefined, path: string[]): boolean {
  return (attr instanceof Uint8Array && attr.includes(0x70)) || path[0] === '.pad';
}

/** The name and (non-pad) files of a .torrent's bytes. Throws {@link TorrentParseError}. */
export function readTorrentFiles(buf: Uint8Array): TorrentSummary {
  const root = bdecode(buf);
  if (!(root instanceof Map)) throw new TorrentParseError('not a valid .torrent (not a dictionary)');
  const info = root.get('info');
  if (!(info instanceof Map)) throw new TorrentParseError('not a valid .torrent (no info dictionary)');
  const name = text(info.get('name.utf-8')) ?? text(info.get('name')) ?? '';
  const files: TorrentFileEntry[] = [];
  const push = (path: string[], length: number): void => {
    files.push({ index: files.length, path: path.join('/'), length });
  };
  const v1 = info.get('files');
  const single = info.get('length');
  const tree = info.get('file tree');
  if (Array.isArray(v1)) {
    for (const f of v1) {
      if (!(f instanceof Map)) continue;
      const len = f.get('length');
      const rawPath = f.get('path.utf-8') ?? f.get('path');
      const parts = Array.isArray(rawPath) ? rawPath.map((p) => text(p) ?? '') : [];
      if (typeof len !== 'number' || isPad(f.get('attr'), parts)) continue;
      push([name, ...parts], len);
    }
  } else if (typeof single === 'number') {
    push([name], single);
  } else if (tree instanceof Map) {
    // BEP 52: nested dictionaries; a file is a dictionary whose "" key holds { length }. Keys are sorted bytewise,
    // which is the order of the file list.
    const walk = (node: Map<string, BValue>, path: string[], depth: number): void => {
      if (depth > MAX_DEPTH) throw new TorrentParseError('not a valid .torrent (file tree too deep)');
      for (const [k, child] of node) {
        if (!(child instanceof Map)) continue;
        const leaf = k === '' ? child : undefined;
        if (leaf) {
          const len = leaf.get('length');
          if (typeof len === 'number' && !isPad(leaf.get('attr'), path.slice(1))) push(path, len);
        } else {
          walk(child, [...path, utf8.decode(Uint8Array.from(k, (ch) => ch.charCodeAt(0)))], depth + 1);
        }
      }
    };
    walk(tree, [name], 0);
    // A single-file v2 torrent's one file is "name" itself (the tree's only key is the name).
    if (files.length === 1 && files[0]!.path === `${name}/${name}`) files[0]!.path = name;
  } else {
    throw new TorrentParseError('not a valid .torrent (no files)');
  }
  return { name, files, totalSize: files.reduce((s, f) => s + f.length, 0) };
}

/**
 * The files tab's folder tree: a flat RPC file list (paths with "/") as nested folders, and the rows a collapsible
 * tree shows. Pure (no DOM); unit-tested in model.test.ts.
 * Invariant: every file appears exactly once, under its folders in path order; a collapsed folder hides all below it.
 */

export interface FileItem {
  index: number;
  path: string;
  length: number;
  bytesCompleted: number;
  wanted: boolean;
  /** Transmission's priority: -1 low, 0 normal, 1 high. */
  priority: number;
}

export interface FolderNode {
  name: string;
  /** "a/b" (unique key). */
  path: string;
  folders: FolderNode[];
  files: FileItem[];
}

/** The tree of `files`; folders and files keep the order of first appearance. */
export function buildTree(files: readonly FileItem[]): FolderNode {
  const root: FolderNode = { name: '', path: '', folders: [], files: [] };
  const byPath = new Map<string, FolderNode>([['', root]]);
  for (const f of files) {
    const parts = f.path.split('/');
    let node = root;
    let acc = '';
    for (const part of parts.slice(0, -1)) {
      acc = acc === '' ? part : `${acc}/${part}`;
      let next = byPath.get(acc);
      if (!next) {
        next = { name: part, path: acc, folders: [], files: [] };
        byPath.set(acc, next);
        node.folders.push(next);
      }
      node = next;
    }
    node.files.push(f);
  }
  return root;
}

export type TreeRow =
  | { kind: 'folder'; depth: number; folder: FolderNode; open: boolean }
  | { kind: 'file'; depth: number; file: FileItem; name: string };

/** The rows to show, depth first; a folder in `collapsed` hides what is below it. */
export function treeRows(root: FolderNode, collapsed: ReadonlySet<string>): TreeRow[] {
  const out: TreeRow[] = [];
  const walk = (node: FolderNode, depth: number): void => {
    for (const folder of node.folders) {
      const open = !collapsed.has(folder.path);
      out.push({ kind: 'folder', depth, folder, open });
      if (open) walk(folder, depth + 1);
    }
    for (const file of node.files) out.push({ kind: 'file', depth, file, name: file.path.slice(file.path.lastIndexOf('/') + 1) });
  };
  walk(root, 0);
  return out;
}

/** Every file index under a folder. */
export function filesUnder(folder: FolderNode): number[] {
  const out: number[] = [];
  const walk = (n: FolderNode): void => { for (const f of n.files) out.push(f.index); n.folders.forEach(walk); };
  walk(folder);
  return out;
}

const MEDIA = /\.(mp4|m4v|mkv|webm|mov|avi|ogv|mpg|mpeg|ts|mp3|m4a|aac|flac|ogg|oga|opus|wav)$/i;

/** Whether a file is video or audio by its extension (it gets a play link to /stream/). */
export function isMedia(path: string): boolean {
  return MEDIA.test(path);
}

/** Decodes Transmission's `pieces` (base64 bitfield, high bit first) into one boolean per piece. */
export function decodePieces(b64: string, count: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, count));
  if (count <= 0 || b64 === '') return out;
  let bin: string;
  try { bin = atob(b64); } catch { return out; }
  for (let i = 0; i < count; i++) {
    const byte = bin.charCodeAt(i >> 3);
    if (!Number.isNaN(byte) && (byte & (0x80 >> (i & 7))) !== 0) out[i] = 1;
  }
  return out;
}

/**
 * Loading a .torrent file from disk for the CLI, with a size cap checked before reading (reliability rule 2 in
 * docs/design/reliability.md: 10 MiB).
 */
import { readFile, stat } from 'node:fs/promises';
import { MAX_TORRENT_SIZE, parseTorrent, type Metainfo } from '../metainfo/index.js';
import { BtError } from '../util/errors.js';

/** The parser's own cap, checked here before the file is read. */
export const MAX_TORRENT_FILE = MAX_TORRENT_SIZE;

export async function loadTorrentFile(path: string): Promise<{ meta: Metainfo; bytes: Buffer }> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BtError('NOT_FOUND', `no such file: ${path}`);
    throw new BtError('IO', `cannot read ${path}: ${code ?? String(err)}`);
  }
  if (!st.isFile()) throw new BtError('IO', `${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a .torrent file`);
  if (st.size > MAX_TORRENT_FILE) throw new BtError('BAD_TORRENT', `${path} is ${st.size} bytes, over the ${MAX_TORRENT_FILE}-byte limit for .torrent files`);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new BtError('IO', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return { meta: parseTorrent(bytes), bytes };
  } catch (err) {
    if (err instanceof BtError) throw new BtError(err.code, `${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

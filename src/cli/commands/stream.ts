/**
 * The streaming part of `bitpeer stream` (run.ts runs the session as for `get`, then calls `streamTorrent`): choose
 * the file (`--file N`, else the largest media file, else the largest file), serve it at
 * http://127.0.0.1:PORT/stream/<info-hash>/<N> (src/api/rpc/stream-http.ts, loopback only) and print the URL; with
 * `--stdout`, also write the file's bytes in order to stdout (a pipe into mpv or vlc) and finish when all are out.
 *
 * File indices are the RPC's (BEP 47 pad files hidden), as in the URL and `torrent-get files`. Uses only the facade.
 */
import type { BitpeerApi, TorrentInfo } from '../../api/types.js';
import { apiFileIndices } from '../../api/rpc/fields.js';
import { extensionOf, MEDIA_EXTENSIONS, startStreamServer, type StreamServer } from '../../api/rpc/stream-http.js';
import { BtError } from '../../util/errors.js';

/** The RPC index of the file to stream: `wanted` if given (checked), else the largest media file, else the largest. */
export function chooseFile(t: TorrentInfo, wanted: number | undefined): number {
  const map = apiFileIndices(t);
  if (map.length === 0) throw new BtError('USAGE', 'the torrent has no file to stream');
  if (wanted !== undefined) {
    if (!Number.isInteger(wanted) || wanted < 0 || wanted >= map.length) {
      throw new BtError('USAGE', `--file ${wanted}: the torrent has files 0..${map.length - 1}`);
    }
    return wanted;
  }
  let best = -1;
  let bestMedia = -1;
  map.forEach((apiIndex, k) => {
    const f = t.files[apiIndex]!;
    if (best < 0 || f.length > t.files[map[best]!]!.length) best = k;
    if (MEDIA_EXTENSIONS.has(extensionOf(f.path)) && (bestMedia < 0 || f.length > t.files[map[bestMedia]!]!.length)) bestMedia = k;
  });
  return bestMedia >= 0 ? bestMedia : best;
}

export interface StreamRun {
  /** The RPC index chosen, its path and the URL that serves it. */
  index: number;
  path: string;
  url: string;
  server: StreamServer;
}

/** Starts the loopback stream server for the torrent's chosen file. */
export async function startStreaming(api: BitpeerApi, id: number, opts: { file?: number; httpPort: number; log?: (m: string) => void }): Promise<StreamRun> {
  const t = api.get([id])[0];
  if (!t) throw new BtError('NOT_FOUND', `no torrent ${id}`);
  const index = chooseFile(t, opts.file);
  const server = await startStreamServer(api, { port: opts.httpPort, ...(opts.log ? { log: opts.log } : {}) });
  const file = t.files[apiFileIndices(t)[index]!]!;
  return { index, path: file.path, url: `http://127.0.0.1:${server.port}/stream/${t.infoHash}/${index}`, server };
}

/** Writes file `index` (RPC index) of the torrent to `out` in order, waiting for `drain`; rejects ABORTED on `signal`. */
export async function writeFileTo(api: BitpeerApi, id: number, index: number, out: NodeJS.WritableStream, signal: AbortSignal): Promise<number> {
  const t = api.get([id])[0];
  if (!t || !api.readFile) throw new BtError('NOT_FOUND', `no torrent ${id}`);
  let written = 0;
  for await (const chunk of api.readFile(id, apiFileIndices(t)[index]!, { signal })) {
    written += chunk.length;
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { out.off('drain', done); signal.removeEventListener('abort', done); resolve(); };
        out.once('drain', done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
  return written;
}

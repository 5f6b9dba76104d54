/**
 * HTTP streaming of a torrent's file while it downloads: `GET` and `HEAD /stream/<info-hash>/<file-index>`, for a
 * video player or a browser's <video> element. The RPC server (server.ts) hands over paths under /stream/ after its
 * Host, cross-site and auth checks; `bitpeer stream` serves the same route from its own small server
 * (`startStreamServer`, loopback only).
 *
 * - `<info-hash>`: 40 hex (the torrent's wire info-hash) or 64 hex (a v2/hybrid torrent's v2 info-hash).
 * - `<file-index>`: the RPC's file index, as `torrent-get files` shows it (BEP 47 pad files hidden:
 *   apiFileIndices in fields.ts maps it to the API's index, which `api.readFile` takes).
 * - Ranges (RFC 9110 §14): one range → 206 with Content-Range; a range that cannot be satisfied → 416 with
 *   `Content-Range: bytes *\/SIZE`; no Range, an invalid Range header (ignored, as §14.2 allows), or several ranges
 *   (multipart is not implemented; §14.2 lets a server ignore Range) → 200 with the whole file. `If-Range` with our
 *   strong ETag honours the Range; any other If-Range (another tag, a date: we have no Last-Modified) → 200 whole.
 * - ETag: strong, `"<info-hash>-<index>-<length>"` (a torrent's file never changes content: the info-hash fixes it).
 * - 404: unknown torrent or index; 503 + Retry-After while a magnet's metadata is pending; 409 for a file not
 *   selected for download that is not complete; 405 for other methods. A client that disconnects aborts the read,
 *   which drops its read-ahead window (api.readFile's signal).
 *
 * Invariants: bytes are sent only from verified pieces (api.readFile); Content-Length always equals the bytes sent
 * (a read that fails midway destroys the connection instead of sending a short body as if it were whole).
 * The parsing helpers are pure and unit-tested alone (stream-http.test.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BtError, errorMessage } from '../../util/errors.js';
import type { BitpeerApi, TorrentInfo } from '../types.js';
import { apiFileIndices } from './fields.js';

export const STREAM_PREFIX = '/stream/';

// ------------------------------------------------------------------------------------------------ pure helpers

/** A parsed Range header against a representation of `size` bytes. `end` is inclusive, as in HTTP. */
export type RangeRequest =
  | { kind: 'whole' }                        // no Range, an invalid one (ignored), or several ranges (served whole)
  | { kind: 'range'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * RFC 9110 §14.1.2 byte ranges: `bytes=a-b`, `bytes=a-`, `bytes=-n`. One range only; several → whole (we do not send
 * multipart/byteranges). Syntax errors or another unit → whole (the header is ignored). A syntactically valid range
 * that starts at or past the end (or a suffix of 0) → unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!m || header.length > 1024) return { kind: 'whole' };
  const specs = m[1]!.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
  if (specs.length !== 1) return { kind: 'whole' };
  const r = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!r || (r[1] === '' && r[2] === '') || r[1]!.length > 15 || r[2]!.length > 15) return { kind: 'whole' };
  if (r[1] === '') {
    const n = Number(r[2]);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(r[1]);
  if (r[2] !== '' && Number(r[2]) < start) return { kind: 'whole' }; // invalid (§14.1.1): ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  const last = r[2] === '' ? size - 1 : Number(r[2]);
  return { kind: 'range', start, end: Math.min(last, size - 1) };
}

const MIME: Readonly<Record<string, string>> = {
  mp4: 'video/mp4', m4v: 'video/mp4', mkv: 'video/x-matroska', webm: 'video/webm', avi: 'video/x-msvideo',
  mov: 'video/quicktime', mpg: 'video/mpeg', mpeg: 'video/mpeg', ts: 'video/mp2t', ogv: 'video/ogg', wmv: 'video/x-ms-wmv',
  flv: 'video/x-flv', '3gp': 'video/3gpp',
  mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/opus', flac: 'audio/flac', m4a: 'audio/mp4',
  aac: 'audio/aac', wav: 'audio/wav', wma: 'audio/x-ms-wma',
  srt: 'application/x-subrip', vtt: 'text/vtt', ass: 'text/x-ssa', ssa: 'text/x-ssa',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  txt: 'text/plain; charset=utf-8', nfo: 'text/plain; charset=utf-8', pdf: 'application/pdf',
};

/** The media extensions `bitpeer stream` prefers when it picks a file by itself. */
export const MEDIA_EXTENSIONS = new Set(['mp4', 'm4v', 'mkv', 'webm', 'avi', 'mov', 'mpg', 'mpeg', 'ts', 'ogv', 'wmv', 'flv', '3gp',
  'mp3', 'ogg', 'oga', 'opus', 'flac', 'm4a', 'aac', 'wav', 'wma']);

/** The lower-case extension of a '/'-separated path, or ''. */
export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/** The Content-Type for a file name, from its extension; application/octet-stream when unknown. */
export function mimeType(path: string): string {
  return MIME[extensionOf(path)] ?? 'application/octet-stream';
}

/** The strong ETag of a stream resource. */
export function streamEtag(infoHash: string, index: number, length: number): string {
  return `"${infoHash.toLowerCase()}-${index}-${length}"`;
}

/**
 * Whether an If-Range header lets the Range apply: only an exact strong match of our ETag does (RFC 9110 §13.1.5:
 * strong comparison; a weak tag or an HTTP date never matches, since we send no Last-Modified).
 */
export function ifRangeAllows(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return header.trim() === etag;
}

/** `/stream/<hash>/<index>` → its parts, or null when the path is not one. */
export function parseStreamPath(path: string): { hash: string; index: number } | null {
  const m = /^\/stream\/([0-9a-fA-F]{40}|[0-9a-fA-F]{64})\/(\d{1,9})\/?$/.exec(path);
  return m ? { hash: m[1]!.toLowerCase(), index: Number(m[2]) } : null;
}

/** RFC 6266 Content-Disposition, inline, with the file's base name (UTF-8, percent-encoded). */
function disposition(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const ascii = base.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `inline; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

// ------------------------------------------------------------------------------------------------ the handler

function plain(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${status}: ${text}\n`);
}

/** The torrent named by a 40- or 64-hex info-hash, or undefined. */
function findTorrent(api: BitpeerApi, hash: string): TorrentInfo | undefined {
  if (hash.length === 40) return api.get([hash])[0];
  return api.get().find((t) => t.infoHashV2 === hash);
}

/**
 * Answers a request for a path under /stream/ (the caller has checked Host, origin and credentials). Resolves when
 * the response is finished or the client went away.
 */
export async function serveStream(api: BitpeerApi, req: http.IncomingMessage, res: http.ServerResponse, path: string,
  log: (m: string) => void = () => undefined): Promise<void> {
  req.resume(); // a GET has no body worth reading
  if (req.method !== 'GET' && req.method !== 'HEAD') { plain(res, 405, 'Method Not Allowed (GET or HEAD)', { Allow: 'GET, HEAD' }); return; }
  const p = parseStreamPath(path);
  if (!p) { plain(res, 404, 'Not Found (use /stream/<info-hash>/<file-index>)'); return; }
  const t = findTorrent(api, p.hash);
  if (!t) { plain(res, 404, `Not Found (no torrent ${p.hash})`); return; }
  if (t.metadataPending) {
    plain(res, 503, 'Service Unavailable (the magnet link\'s metadata has not arrived yet: its files are not known; retry later)', { 'Retry-After': '5' });
    return;
  }
  if (!api.readFile) { plain(res, 501, 'Not Implemented (this daemon cannot stream)'); return; }
  const apiIndex = apiFileIndices(t)[p.index];
  const file = apiIndex === undefined ? undefined : t.files[apiIndex];
  if (apiIndex === undefined || !file) { plain(res, 404, `Not Found (torrent ${p.hash} has no file ${p.index})`); return; }
  if (!file.wanted && file.bytesCompleted < file.length) {
    plain(res, 409, `Conflict (file ${p.index} is not selected for download: select it to stream it)`);
    return;
  }
  const size = file.length;
  const etag = streamEtag(t.infoHash, p.index, size);
  const base: Record<string, string> = {
    'Accept-Ranges': 'bytes', ETag: etag, 'Content-Type': mimeType(file.path), 'Content-Disposition': disposition(file.path),
  };
  const headerRange = typeof req.headers.range === 'string' ? req.headers.range : undefined;
  const ifRange = typeof req.headers['if-range'] === 'string' ? req.headers['if-range'] : undefined;
  const range = ifRangeAllows(ifRange, etag) ? parseRange(headerRange, size) : { kind: 'whole' as const };
  if (range.kind === 'unsatisfiable') {
    plain(res, 416, `Range Not Satisfiable (the file has ${size} bytes)`, { 'Content-Range': `bytes */${size}`, 'Accept-Ranges': 'bytes', ETag: etag });
    return;
  }
  const start = range.kind === 'range' ? range.start : 0;
  const end = range.kind === 'range' ? range.end + 1 : size; // exclusive
  const headers: Record<string, string> = { ...base, 'Content-Length': String(end - start) };
  if (range.kind === 'range') headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`;
  const status = range.kind === 'range' ? 206 : 200;
  if (req.method === 'HEAD' || end === start) { res.writeHead(status, headers); res.end(); return; }

  const abort = new AbortController();
  const onClose = (): void => { if (!res.writableFinished) abort.abort(new BtError('ABORTED', 'the client disconnected')); };
  res.on('close', onClose);
  let iter: AsyncIterable<Buffer>;
  try {
    iter = api.readFile(t.infoHash, apiIndex, { start, end, signal: abort.signal });
  } catch (err) {
    res.off('close', onClose);
    plain(res, err instanceof BtError && err.code === 'NOT_FOUND' ? 404 : 409, errorMessage(err));
    return;
  }
  res.writeHead(status, headers);
  try {
    for await (const chunk of iter) {
      if (abort.signal.aborted) break;
      if (!res.write(chunk)) await drained(res);
    }
    if (!abort.signal.aborted) res.end();
  } catch (err) {
    if (!abort.signal.aborted) log(`stream: ${p.hash}/${p.index} bytes ${start}-${end - 1}: ${errorMessage(err)}`);
    res.destroy(); // never end a short body as if it were complete
  } finally {
    res.off('close', onClose);
  }
}

/** Resolves when `res` drains or closes. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
    res.once('drain', done);
    res.once('close', done);
  });
}

// ------------------------------------------------------------------------------------------------ a small server

/** A loopback HTTP server that serves only /stream/ (for `bitpeer stream`). */
export interface StreamServer { port: number; close(): Promise<void> }

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Serves /stream/ on 127.0.0.1:`port` (0: a free port). Requests whose Host is not a loopback name get 421 (DNS
 * rebinding), cross-site browser requests 403, any other path 404.
 */
export async function startStreamServer(api: BitpeerApi, opts: { port: number; log?: (m: string) => void }): Promise<StreamServer> {
  const log = opts.log ?? (() => undefined);
  const server = http.createServer({ maxHeaderSize: 16 * 1024, headersTimeout: 10_000 }, (req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!LOOPBACK_HOSTS.has(host)) { req.resume(); plain(res, 421, 'Misdirected Request (use 127.0.0.1 or localhost)'); return; }
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') { req.resume(); plain(res, 403, 'Forbidden (cross-site request)'); return; }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (!path.startsWith(STREAM_PREFIX)) { req.resume(); plain(res, 404, 'Not Found (use /stream/<info-hash>/<file-index>)'); return; }
    serveStream(api, req, res, path, log).catch((err: unknown) => {
      log(`stream: ${errorMessage(err)}`);
      if (!res.headersSent) plain(res, 500, 'Internal Server Error'); else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new BtError(err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'IO',
      `cannot listen for streams on 127.0.0.1:${opts.port}: ${err.message}`)));
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

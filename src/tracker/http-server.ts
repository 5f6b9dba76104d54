/**
 * The embedded HTTP tracker (BEP 3 announce, BEP 48 scrape) on the session's peer port. The session sniffs `GET `
 * on a new TCP connection and hands the socket here, with the bytes it already read.
 *
 * Invariants:
 * - One request per connection, answered HTTP/1.0 style (`Connection: close`, `Content-Length`), then the socket
 *   is ended. Nothing after the header block is read.
 * - The request head is bounded (`maxRequestBytes`, default 8192: 414/431 beyond it) and so is the whole exchange
 *   (`timeoutMs`, default 10 s, an absolute deadline, so a slow-drip client cannot hold the socket).
 * - Nothing thrown while handling the request escapes a socket callback: it becomes a 500 or a destroyed socket.
 * - Addresses are normalised (`::ffff:1.2.3.4` → `1.2.3.4`); the peer is recorded at the TCP source address.
 * - Status codes: 200 for answers, including tracker-level failures such as "torrent not tracked here" (a bencoded
 *   `failure reason`, as BEP 3 clients expect); 400 for a malformed request; 404 for any path but `/announce` and
 *   `/scrape`; 405 for a method other than GET. Every non-200 answer also carries a bencoded `failure reason`.
 */
import type { PeerStream } from '../net/transport.js';
import { systemClock } from '../platform/clock.js';
import type { Clock } from '../util/clock.js';
import { errorMessage } from '../util/errors.js';
import { normalizeIp } from './address.js';
import {
  encodeAnnounceResponse, encodeFailure, encodeScrapeResponse, parseAnnounceQuery, parseScrapeQuery,
} from './http-codec.js';
import type { TrackerSwarms } from './swarm.js';

/** Options for one HTTP tracker connection. */
export interface HttpTrackerServerOptions {
  /** Largest request head (request line + headers) read. Default 8192. */
  maxRequestBytes?: number;
  /** Deadline for the whole exchange, ms. Default 10000. */
  timeoutMs?: number;
  /** Debug log (one line per problem). */
  log?: (msg: string) => void;
  /** Counters to update (shared across connections; see `createHttpTrackerStats`). */
  stats?: HttpTrackerStats;
  /** The deadline's timer (default the system clock of src/platform/clock.ts). */
  clock?: Clock;
}

/** Counters of the HTTP tracker, by outcome. */
export interface HttpTrackerStats {
  announces: number;
  scrapes: number;
  /** Requests answered with a non-200 status or dropped, by reason. */
  rejected: Record<'malformed' | 'not-found' | 'method' | 'too-large' | 'timeout' | 'error', number>;
}

/** Fresh zeroed counters for `HttpTrackerServerOptions.stats`. */
export function createHttpTrackerStats(): HttpTrackerStats {
  return { announces: 0, scrapes: 0, rejected: { malformed: 0, 'not-found': 0, method: 0, 'too-large': 0, timeout: 0, error: 0 } };
}

const STATUS: Record<number, string> = {
  200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 414: 'URI Too Long',
  431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
};

const REQUEST_LINE = /^([A-Z]{1,16}) (\S{1,16384}) HTTP\/1\.[0-9]$/;

/** Finds the end of the head: the index just past `\r\n\r\n` (or a bare `\n\n`), or -1. */
function headEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n', 0, 'latin1');
  const lf = buf.indexOf('\n\n', 0, 'latin1');
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  if (lf < 0 || crlf + 2 < lf) return crlf + 4;
  return lf + 2;
}

/**
 * Serves one HTTP tracker request on `socket`. `firstBytes` are the bytes the session already read (they start with
 * `GET `). Takes ownership of the socket: it is ended or destroyed here. Never throws.
 */
export function handleHttpConnection(socket: PeerStream, firstBytes: Buffer, swarms: TrackerSwarms,
  opts: HttpTrackerServerOptions = {}): void {
  const maxBytes = opts.maxRequestBytes ?? 8192;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const log = opts.log ?? (() => undefined);
  const stats = opts.stats;
  if (socket.destroyed) return;
  let buf: Buffer = Buffer.alloc(0);
  let answered = false;

  const clock = opts.clock ?? systemClock;
  const timer = clock.setTimeout(() => {
    if (!answered && stats) stats.rejected.timeout++;
    log(`http tracker: ${answered ? 'client did not close' : 'request timed out'}`);
    socket.destroy();
  }, timeoutMs);
  timer.unref();

  const cleanup = (): void => {
    clock.clearTimeout(timer);
    socket.off('data', onData);
  };

  const respond = (status: number, body: Buffer): void => {
    answered = true;
    socket.off('data', onData);
    const head = `HTTP/1.0 ${status} ${STATUS[status] ?? 'Error'}\r\nContent-Type: text/plain\r\n`
      + `Content-Length: ${body.length}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n`;
    if (socket.destroyed) return;
    socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  };

  const reject = (status: number, reason: keyof HttpTrackerStats['rejected'], message: string): void => {
    if (stats) stats.rejected[reason]++;
    log(`http tracker: ${status} ${message}`);
    respond(status, encodeFailure(message));
  };

  const handle = (head: string): void => {
    const lineEnd = head.indexOf('\n');
    const line = (lineEnd < 0 ? head : head.slice(0, lineEnd)).replace(/\r$/, '');
    const m = REQUEST_LINE.exec(line);
    if (!m) { reject(400, 'malformed', 'malformed request line'); return; }
    if (m[1] !== 'GET') { reject(405, 'method', 'only GET is supported'); return; }
    let target = m[2]!;
    const abs = /^https?:\/\/[^/?#]*/i.exec(target); // absolute-form (sent through a proxy)
    if (abs) target = target.slice(abs[0].length) || '/';
    const hash = target.indexOf('#');
    if (hash >= 0) target = target.slice(0, hash);
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const remote = socket.remoteAddress;
    if (remote === undefined) { socket.destroy(); return; } // already gone

    if (path === '/announce') {
      const parsed = parseAnnounceQuery(query, remote);
      if ('failure' in parsed) { reject(400, 'malformed', parsed.failure); return; }
      const req = parsed.ok;
      if (socket.localAddress !== undefined) req.localIp = normalizeIp(socket.localAddress);
      const result = swarms.announce(req);
      if (stats) stats.announces++;
      respond(200, 'failure' in result ? encodeFailure(result.failure)
        : encodeAnnounceResponse(result, { compact: req.compact, noPeerId: req.noPeerId }));
      return;
    }
    if (path === '/scrape') {
      const parsed = parseScrapeQuery(query);
      if ('failure' in parsed) { reject(400, 'malformed', parsed.failure); return; }
      if (stats) stats.scrapes++;
      respond(200, encodeScrapeResponse(swarms.scrape(parsed.ok)));
      return;
    }
    reject(404, 'not-found', 'not found (this tracker serves /announce and /scrape)');
  };

  function onData(chunk: Buffer): void {
    try {
      if (answered) return;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const end = headEnd(buf);
      if (end < 0 || end > maxBytes) {
        if (buf.length <= maxBytes && end < 0) return; // wait for more
        const firstLineDone = buf.subarray(0, maxBytes).includes(0x0a);
        reject(firstLineDone ? 431 : 414, 'too-large', 'request too large');
        return;
      }
      handle(buf.subarray(0, end).toString('latin1'));
    } catch (e) {
      if (stats) stats.rejected.error++;
      log(`http tracker: internal error: ${errorMessage(e)}`);
      try {
        if (!answered) respond(500, encodeFailure('internal error'));
        else socket.destroy();
      } catch {
        socket.destroy();
      }
    }
  }

  socket.on('error', (e: Error) => {
    log(`http tracker: socket error: ${e.message}`);
    socket.destroy();
  });
  socket.on('close', cleanup);
  socket.on('data', onData);
  onData(firstBytes);
  // Keep reading even after answering, so the client's FIN is seen and the socket closes (extra bytes are dropped).
  socket.resume();
}

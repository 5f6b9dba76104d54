/**
 * The daemon's control API over HTTP: the Transmission RPC protocol (JSON over HTTP POST at /transmission/rpc), so
 * transmission-remote and Transmission front-ends drive bitpeer unchanged. See docs/design/rpc.md.
 *
 * Invariants (the checks run in this order; a request that fails one is answered at once and changes nothing):
 * 1. the Host header (without its port) is on the allow-list or an IP address literal, else 421: defeats DNS
 *    rebinding (which needs a name);
 * 2. a browser's cross-site request (an Origin neither the Host itself nor on the allow-list, or Sec-Fetch-Site
 *    cross-site/same-site) → 403, except a top-level GET/HEAD navigation to a web UI page (a link from elsewhere);
 * 3. with auth configured, HTTP Basic credentials must match (constant-time), else 401 + WWW-Authenticate; ten bad
 *    attempts from one address within a minute → 429 until the minute ends;
 * 4. only /transmission/rpc (and /transmission/rpc/) exist (404), and only POST is allowed (405): a GET never
 *    changes state; besides, GET or HEAD of other paths serve the web UI's static files (`web`, static-files.ts:
 *    bitpeer's built UI at `/`, or a user's web folder at /transmission/web/), or without one a small page at `/`
 *    saying what this is and where the RPC is (no session id, no credentials, nothing from the request but the Host
 *    already on the allow-list); and GET/HEAD under /stream/ stream a torrent's file (stream-http.ts; read-only,
 *    after checks 1-3);
 * 5. the X-Transmission-Session-Id header must carry this server's id (random per start), else 409 with the id in
 *    that header: the CSRF token of the Transmission protocol;
 * 6. the body is at most maxBodyBytes (413), read only after 1-5 passed (Expect: 100-continue is honoured after them);
 * 7. anything else is HTTP 200 with a JSON answer in the request's protocol (jsonrpc.ts: JSON-RPC 2.0 or legacy,
 *    chosen per request; methods.ts behind both), malformed JSON included; 204 when a JSON-RPC body held only
 *    notifications.
 * It binds 127.0.0.1 unless told otherwise, and refuses a non-loopback address without credentials.
 * BEP: none (Transmission's rpc-spec.txt; reliability rule 10 in docs/design/reliability.md).
 */
import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BtError, errorMessage } from '../../util/errors.js';
import type { BitpeerApi } from '../types.js';
import { BITPEER_VERSION, RPC_VERSION_SEMVER_41 } from './fields.js';
import { answerRpcBody } from './jsonrpc.js';
import { RpcMethods } from './methods.js';
import { serveStream, STREAM_PREFIX } from './stream-http.js';
import { formatPeerAddress } from '../../util/peer-address.js';
import type { StaticSite } from './static-files.js';

/** The RPC path (transmission-remote posts to it with a trailing slash). */
export const RPC_PATH = '/transmission/rpc';
/** The CSRF header, spelled exactly as transmission-remote matches it (case-sensitively). */
export const SESSION_ID_HEADER = 'X-Transmission-Session-Id';
/** Sent with the 409 (Transmission 4.1): the RPC's semver, so a client can pick JSON-RPC without a request more. */
export const RPC_VERSION_HEADER = 'X-Transmission-Rpc-Version';
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const AUTH_WINDOW_MS = 60_000;
const AUTH_MAX_FAILURES = 10;

/** Options for {@link startRpcServer}. */
export interface RpcServerOptions {
  /** Address to bind (default 127.0.0.1). A non-loopback address requires `auth`. */
  host?: string;
  /** TCP port; 0 picks a free one (see the returned `port`). */
  port: number;
  /** HTTP Basic credentials; none by default (the server is then reachable from this machine only). */
  auth?: { user: string; password: string };
  /** Host header names accepted (default: localhost, 127.0.0.1, ::1, [::1]); the bind address is always added. */
  allowedHosts?: string[];
  /** Largest request body (default 1 MiB). A .torrent sent as metainfo grows by 4/3 in base64. */
  maxBodyBytes?: number;
  log?(msg: string): void;
  /** Clock for the auth-failure window, ms (default Date.now). */
  now?: () => number;
  /**
   * The web UI, served after checks 1-3: `site` at `/` (bitpeer's built UI), or with `webHome` a user's folder
   * (Transmission's web client) at /transmission/web/, `/` redirecting there. Absent, or `/` not found in it
   * while `webMissingNote` is set: the landing page at `/`, with that note on it (how to build the UI).
   */
  web?: { site: StaticSite; webHome?: boolean };
  /** A line for the landing page when there is no web UI (e.g. how to build it). */
  webMissingNote?: string;
}

/** Where a user's web folder lives, as transmission-daemon serves its web client. */
export const TRANSMISSION_WEB_PATH = '/transmission/web/';

/** A running RPC server. */
export interface RpcServer {
  /** The bound port. */
  port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Lower case, no trailing dot, IPv6 literals in brackets. */
function normalizeHost(h: string): string {
  let s = h.trim().toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.includes(':') && !s.startsWith('[')) s = `[${s}]`;
  return s;
}

/** The host part of a Host header ("[::1]:9091" → "[::1]", "localhost:9091" → "localhost"), normalised. */
export function hostOfHeader(header: string): string {
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? normalizeHost(h) : normalizeHost(h.slice(0, end + 1));
  }
  const colon = h.indexOf(':');
  if (colon >= 0 && h.indexOf(':', colon + 1) < 0) return normalizeHost(h.slice(0, colon));
  return normalizeHost(h);
}

/** Whether an address or name is this machine only (localhost, ::1, 127.0.0.0/8); the daemon's "exposed" test. */
export function isLoopback(host: string): boolean {
  const h = normalizeHost(host);
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function sha256(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/** JSON with <, >, &, U+2028 and U+2029 escaped: harmless to JSON parsers, inert if ever sniffed as HTML/JS. */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Text safe inside HTML element content and attribute values. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page at `/` (until a web UI exists): what this is, where the RPC is, how to drive it. `address` is the
 * `host:port` the client used (its Host, already checked against the allow-list), shown escaped.
 */
export function landingPage(address: string, note?: string): string {
  const a = escapeHtml(address);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bitpeer daemon</title></head>
<body>
<h1>bitpeer daemon ${escapeHtml(BITPEER_VERSION)}</h1>
<p>This is the control port of a bitpeer BitTorrent daemon. There is no web interface here${note ? '' : ' (yet)'}.</p>${note ? `\n<p>${escapeHtml(note)}</p>` : ''}
<p>It speaks the Transmission RPC protocol (version 16) at <code>${a}${RPC_PATH}</code>
(JSON over HTTP POST, with the <code>${SESSION_ID_HEADER}</code> handshake).</p>
<p>Drive it with:</p>
<ul>
<li><code>bitpeer ls</code>, <code>bitpeer add FILE.torrent</code>, <code>bitpeer pause ID</code>, <code>bitpeer stats</code>
(add <code>--rpc-port PORT</code> if it is not 9091)</li>
<li><code>transmission-remote ${a} -l</code>, or any Transmission front-end pointed at this address</li>
</ul>
</body></html>
`;
}

class BodyTooLarge extends Error {}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        cleanup();
        req.resume(); // discard the rest until the connection closes
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => { cleanup(); resolve(Buffer.concat(chunks, size)); };
    const onError = (err: Error): void => { cleanup(); reject(err); };
    const onClose = (): void => { cleanup(); reject(new Error('request aborted')); };
    const cleanup = (): void => {
      req.off('data', onData); req.off('end', onEnd); req.off('error', onError); req.off('close', onClose);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

/**
 * 413 with a JSON reply (like every other RPC answer). The rest of the request is read and dropped before the
 * connection closes (a lingering close, bounded to 64 MiB and 3 s): closing with unread bytes would make the kernel
 * reset the connection, and the client would never see the reply.
 */
function tooLarge(req: http.IncomingMessage, res: http.ServerResponse, maxBody: number): void {
  const body = JSON.stringify({ result: `request body too large (at most ${maxBody} bytes)`, arguments: {} });
  res.writeHead(413, { 'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  let done = false;
  const finish = (): void => { if (done) return; done = true; clearTimeout(timer); res.end(body); };
  const timer = setTimeout(() => { finish(); }, 3000);
  timer.unref();
  let size = 0;
  req.on('data', (chunk: Buffer) => { size += chunk.length; if (size > 64 * 1024 * 1024) finish(); });
  req.once('end', finish);
  req.once('error', finish);
  req.once('close', finish);
  req.resume();
  if (req.complete) finish();
}

/** Discards an unread request body (at most `max` bytes, then the socket is dropped) so keep-alive stays usable. */
function discardBody(req: http.IncomingMessage, max: number): void {
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > max) req.socket.destroy();
  });
  req.on('error', () => undefined);
  req.resume();
}

/**
 * Starts the Transmission-compatible RPC server over `api`. Resolves once listening; rejects with BtError
 * 'PORT_IN_USE' when the port is taken and 'USAGE' for a non-loopback bind without credentials.
 */
export async function startRpcServer(api: BitpeerApi, opts: RpcServerOptions): Promise<RpcServer> {
  const bindHost = opts.host ?? '127.0.0.1';
  if (!isLoopback(bindHost) && !opts.auth) {
    throw new BtError('USAGE', `refusing to serve the RPC on ${bindHost} without a user and password (it would be open to the network)`);
  }
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = opts.log ?? (() => undefined);
  const now = opts.now ?? Date.now;
  const allowed = new Set((opts.allowedHosts ?? ['localhost', '127.0.0.1', '::1', '[::1]']).map(normalizeHost));
  allowed.add(normalizeHost(bindHost));
  const sessionId = randomBytes(24).toString('hex');
  const sessionIdBuf = Buffer.from(sessionId);
  const authDigest = opts.auth ? sha256(`${opts.auth.user}:${opts.auth.password}`) : undefined;
  const authFailures = new Map<string, { count: number; since: number }>();
  const methods = new RpcMethods(api, { sessionId, log });

  const commonHeaders = (res: http.ServerResponse): void => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    res.setHeader('Referrer-Policy', 'no-referrer');
  };

  const deny = (req: http.IncomingMessage, res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void => {
    // Expect: 100-continue was not granted, so the client will not send the body it announced: close afterwards.
    if (req.headers.expect !== undefined) res.setHeader('Connection', 'close');
    discardBody(req, maxBody);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(`${status}: ${text}\n`);
  };

  /**
   * The Host header's name is acceptable: on the allow-list, or an IP address literal. DNS rebinding needs a name the
   * attacker controls, so an address typed in the address bar (a NAS reached as http://192.168.1.5:9091/) is as safe
   * as 127.0.0.1; transmission-daemon's host whitelist makes the same exception.
   */
  const hostAllowed = (name: string): boolean =>
    allowed.has(name) || isIP(name.startsWith('[') ? name.slice(1, -1) : name) !== 0;

  /**
   * A browser's request made by another site's page. Exempt: a top-level navigation (GET/HEAD, Sec-Fetch-Mode
   * navigate) to the web UI's pages, e.g. a link from a NAS dashboard: it changes nothing and shows nothing to the
   * linking page. A page's own fetches carry an Origin equal to the Host it was loaded from (same origin), or one whose
   * name is on the allow-list.
   */
  const crossSite = (req: http.IncomingMessage, host: string, path: string): boolean => {
    const uiNavigation = (req.method === 'GET' || req.method === 'HEAD') && req.headers['sec-fetch-mode'] === 'navigate'
      && !path.startsWith(RPC_PATH) && !path.startsWith(STREAM_PREFIX);
    if (uiNavigation) return false;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    try {
      const url = new URL(origin);
      if (url.protocol === 'http:' && url.host.toLowerCase() === host.trim().toLowerCase()) return false;
      return !allowed.has(normalizeHost(url.hostname));
    } catch {
      return true; // "null" and other opaque origins
    }
  };

  /** 'ok', or why not; counts bad credentials per address. */
  const checkAuth = (req: http.IncomingMessage): 'ok' | 'missing' | 'bad' | 'throttled' => {
    if (!authDigest) return 'ok';
    const who = req.socket.remoteAddress ?? '?';
    const t = now();
    const f = authFailures.get(who);
    if (f && t - f.since >= AUTH_WINDOW_MS) authFailures.delete(who);
    else if (f && f.count >= AUTH_MAX_FAILURES) return 'throttled';
    const header = req.headers.authorization;
    if (header === undefined) return 'missing';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const given = m ? sha256(Buffer.from(m[1]!, 'base64')) : undefined;
    if (given && timingSafeEqual(given, authDigest)) return 'ok';
    if (authFailures.size > 10_000) authFailures.clear();
    const entry = authFailures.get(who) ?? { count: 0, since: t };
    entry.count++;
    authFailures.set(who, entry);
    return 'bad';
  };

  const sessionOk = (value: string | string[] | undefined): boolean => {
    if (typeof value !== 'string') return false;
    const given = Buffer.from(value.trim());
    return given.length === sessionIdBuf.length && timingSafeEqual(given, sessionIdBuf);
  };

  /** The web UI's files, the redirects to a web folder, or the landing page; false when `path` is none of them. */
  const serveWeb = async (req: http.IncomingMessage, res: http.ServerResponse, path: string, host: string): Promise<boolean> => {
    const web = opts.web;
    if (web?.webHome === true && (path === '/' || path === TRANSMISSION_WEB_PATH.slice(0, -1))) {
      discardBody(req, maxBody);
      res.writeHead(path === '/' ? 302 : 301, { Location: TRANSMISSION_WEB_PATH, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`See ${TRANSMISSION_WEB_PATH}\n`);
      return true;
    }
    if (web) {
      const sub = web.webHome === true ? (path.startsWith(TRANSMISSION_WEB_PATH) ? path.slice(TRANSMISSION_WEB_PATH.length - 1) : undefined) : path;
      if (sub === undefined) return false;
      discardBody(req, maxBody);
      if (await web.site.handle(req, res, sub)) return true;
      // bitpeer's UI not built (yet): the landing page says how to build it.
      if (web.webHome === true || opts.webMissingNote === undefined) return false;
    }
    if (path !== '/') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      deny(req, res, 405, 'Method Not Allowed (this page is GET only; the RPC is at /transmission/rpc)', { Allow: 'GET, HEAD' });
      return true;
    }
    discardBody(req, maxBody);
    const page = landingPage(`${hostOfHeader(host)}:${req.socket.localPort ?? ''}`, opts.webMissingNote);
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
    res.end(req.method === 'HEAD' ? undefined : page);
    return true;
  };

  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse, expectContinue: boolean): Promise<void> => {
    commonHeaders(res);
    const host = req.headers.host;
    if (host === undefined || !hostAllowed(hostOfHeader(host))) {
      log(`rpc: 421 for Host ${JSON.stringify(host ?? '')} from ${req.socket.remoteAddress ?? '?'}`);
      deny(req, res, 421, 'Misdirected Request (this Host is not on the RPC allow-list)');
      return;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (crossSite(req, host, path)) {
      deny(req, res, 403, 'Forbidden (cross-site request)');
      return;
    }
    const auth = checkAuth(req);
    if (auth === 'throttled') {
      deny(req, res, 429, 'Too Many Requests (too many failed logins; wait a minute)', { 'Retry-After': '60' });
      return;
    }
    if (auth !== 'ok') {
      if (auth === 'bad') log(`rpc: 401 (wrong credentials) from ${req.socket.remoteAddress ?? '?'}`);
      deny(req, res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Basic realm="bitpeer"' });
      return;
    }
    // Streaming a file (GET/HEAD /stream/<info-hash>/<file-index>: stream-http.ts), after the Host, origin and auth checks.
    if (path.startsWith(STREAM_PREFIX)) { await serveStream(api, req, res, path, log); return; }
    if (path !== RPC_PATH && path !== `${RPC_PATH}/` && await serveWeb(req, res, path, host)) return;
    if (path !== RPC_PATH && path !== `${RPC_PATH}/`) {
      deny(req, res, 404, 'Not Found');
      return;
    }
    if (req.method !== 'POST') {
      deny(req, res, 405, 'Method Not Allowed (use POST)', { Allow: 'POST' });
      return;
    }
    if (!sessionOk(req.headers['x-transmission-session-id'])) {
      deny(req, res, 409, `Conflict: resend the request with the header "${SESSION_ID_HEADER}: ${sessionId}"`, {
        [SESSION_ID_HEADER]: sessionId,
        // Transmission 4.1: tells a client that speaks both protocols that JSON-RPC 2.0 is understood here.
        [RPC_VERSION_HEADER]: RPC_VERSION_SEMVER_41,
      });
      return;
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && !(Number(declared) <= maxBody)) {
      tooLarge(req, res, maxBody);
      return;
    }
    if (expectContinue) res.writeContinue();
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof BodyTooLarge && !res.headersSent) tooLarge(req, res, maxBody);
      return;
    }
    // The protocol is chosen per request (jsonrpc.ts): JSON-RPC 2.0 (Transmission 4.1) or the legacy protocol.
    const answer = await answerRpcBody(methods, body.toString('utf8'));
    if (answer.afterReply) res.once('finish', answer.afterReply);
    if (answer.body === undefined) {
      // Only JSON-RPC notifications: no response body. 204, as Transmission 4.1 answers them.
      res.writeHead(204, { [SESSION_ID_HEADER]: sessionId });
      res.end();
      return;
    }
    const text = safeJson(answer.body);
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
      [SESSION_ID_HEADER]: sessionId,
    });
    res.end(text);
  };

  const handler = (expectContinue: boolean) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
    onRequest(req, res, expectContinue).catch((err: unknown) => {
      log(`rpc: request failed: ${errorMessage(err)}`);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
        res.end('500: Internal Server Error\n');
      } else {
        res.destroy();
      }
    });
  };

  const server = http.createServer({
    maxHeaderSize: 16 * 1024,
    headersTimeout: 10_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 5_000,
  }, handler(false));
  server.on('checkContinue', handler(true));
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.maxConnections = 128;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(err.code === 'EADDRINUSE'
        ? new BtError('PORT_IN_USE', `the RPC port ${opts.port} on ${bindHost} is already in use`)
        : new BtError('IO', `cannot listen for the RPC on ${formatPeerAddress(bindHost, opts.port)}: ${err.message}`));
    };
    server.once('error', onError);
    server.listen(opts.port, bindHost, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log(`rpc: server error: ${errorMessage(err)}`));
  const port = (server.address() as AddressInfo).port;
  log(`rpc: listening on ${formatPeerAddress(bindHost, port)}`);

  return {
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * Static files for the daemon's HTTP server: bitpeer's built web UI (dist/webui/, see scripts/build-webui.js), or a
 * folder the user names (`bitpeer daemon --web-home DIR`, TRANSMISSION_WEB_HOME) such as Transmission's own web
 * client. src/api/rpc/server.ts calls {@link StaticSite.handle} only after its Host, cross-site and auth checks.
 *
 * Invariants:
 * - nothing outside the folder is ever read: the URL path is percent-decoded once, split on "/", and refused (404)
 *   if any segment is empty-but-inner, ".", "..", starts with "." (dotfiles), or holds "\\" or NUL; the resolved
 *   path must lie inside the folder, and so must its real path (a symlink pointing out is refused); only regular
 *   files are served, up to {@link StaticOptions.maxFileBytes};
 * - GET and HEAD only (else 405 + Allow); HEAD answers the same headers as GET without the body;
 * - every answer carries a strong ETag (SHA-256 of the bytes) and `If-None-Match` → 304 with the same headers
 *   (CSP included: browsers merge a 304's headers into their cached copy); hashed asset names
 *   (`name-HASH.ext`) are `Cache-Control: public, max-age=31536000, immutable`, everything else `no-cache`
 *   (revalidated each time); HTML carries the site's Content-Security-Policy; every answer has
 *   X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.
 * Spec: RFC 9110 (conditional requests, ETag), RFC 9111 (Cache-Control), CSP Level 3. BEP: none.
 */
import type http from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The CSP of bitpeer's own UI: nothing inline, nothing from elsewhere. */
export const STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
  "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The CSP of a user's web folder (--web-home): Transmission's web client (3.00: jQuery UI; 4.x: a bundle that
 * injects <style> elements) sets inline styles, and its add form posts in-page, so style-src allows 'unsafe-inline'
 * and form-action 'self'. Scripts stay 'self' only.
 */
export const WEB_HOME_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

const MIME: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8', htm: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', json: 'application/json; charset=utf-8',
  map: 'application/json; charset=utf-8', svg: 'image/svg+xml', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg',
  gif: 'image/gif', webp: 'image/webp', ico: 'image/x-icon', woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf',
  txt: 'text/plain; charset=utf-8', webmanifest: 'application/manifest+json', wasm: 'application/wasm',
};

/** The Content-Type of a file name (by extension; unknown → application/octet-stream). */
export function mimeType(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 ? MIME[name.slice(dot + 1).toLowerCase()] : undefined) ?? 'application/octet-stream';
}

/** A content-hashed asset name as esbuild writes it (`app-3534XHBE.js`): safe to cache for ever. */
export function isHashedAsset(name: string): boolean {
  return /-[A-Z0-9]{8,}\.(js|css|map|woff2?|png|svg)$/.test(name);
}

/**
 * The path segments of a URL path below the site's mount point, or undefined when the path is not acceptable (see
 * the module invariant). A trailing "/" names the folder's index.html. Pure.
 */
export function safeSegments(urlPath: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const parts = decoded.split('/');
  if (parts[0] === '') parts.shift();
  if (parts.length === 0 || parts[parts.length - 1] === '') {
    parts.pop();
    parts.push('index.html');
  }
  if (parts.length > 32) return undefined;
  for (const p of parts) if (p === '' || p.startsWith('.') || p.length > 255) return undefined;
  return parts;
}

/** Whether an If-None-Match header value matches `etag` (RFC 9110 13.1.2: weak comparison, `*` matches). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => { const v = t.trim(); return v === '*' || v.replace(/^W\//, '') === bare; });
}

export interface StaticOptions {
  /** The folder served. */
  root: string;
  /** Content-Security-Policy of HTML answers. */
  csp: string;
  /** Largest file served (default 16 MiB): a bigger one is 404, never read (a web client is far smaller). */
  maxFileBytes?: number;
}

/** A served folder. */
export interface StaticSite {
  readonly root: string;
  /**
   * Answers `urlPath` (relative to the mount point, starting with "/") from the folder. Resolves false, having
   * written nothing, when there is no such file (the caller answers 404); true when it answered.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse, urlPath: string): Promise<boolean>;
}

interface Cached { size: number; mtimeMs: number; ino: number; etag: string }

/** A site over `opts.root`. The root must exist (its real path is taken once, at the first request). */
export function staticSite(opts: StaticOptions): StaticSite {
  const root = resolve(opts.root);
  const maxBytes = opts.maxFileBytes ?? 16 * 1024 * 1024;
  let realRoot: Promise<string> | undefined;
  const etags = new Map<string, Cached>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, urlPath: string): Promise<boolean> => {
    const segments = safeSegments(urlPath);
    if (!segments) return false;
    const file = join(root, ...segments);
    if (!file.startsWith(root + sep)) return false;
    let real: string;
    let base: string;
    try {
      base = await (realRoot ??= realpath(root));
      real = await realpath(file);
    } catch {
      realRoot = undefined; // the folder may appear later (a build run while the daemon runs)
      return false;
    }
    if (!real.startsWith(base + sep)) return false; // a symlink that leads out of the folder
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' });
      res.end('405: Method Not Allowed (GET or HEAD)\n');
      return true;
    }
    const fh = await open(real, 'r').catch(() => undefined);
    if (!fh) return false;
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > maxBytes) return false;
      const name = segments[segments.length - 1]!;
      const type = mimeType(name);
      let known = etags.get(real);
      if (known && (known.size !== st.size || known.mtimeMs !== st.mtimeMs || known.ino !== st.ino)) known = undefined;
      const headers: Record<string, string> = {
        'Content-Type': type,
        'Cache-Control': isHashedAsset(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Content-Security-Policy': type.startsWith('text/html') ? opts.csp : "default-src 'none'; frame-ancestors 'none'",
      };
      // A 304 carries the 200's headers (but the body's type and length): a browser merges them into its cached
      // copy, so a 304 without this CSP would leave index.html with the RPC's `default-src 'none'` (a blank page).
      const notModified = (etag: string): true => {
        const { 'Content-Type': _type, ...rest } = headers;
        res.writeHead(304, { ...rest, ETag: etag });
        res.end();
        return true;
      };
      if (known && etagMatches(req.headers['if-none-match'], known.etag)) return notModified(known.etag);
      const body = Buffer.allocUnsafe(st.size);
      let got = 0;
      while (got < st.size) {
        const { bytesRead } = await fh.read(body, got, st.size - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const bytes = body.subarray(0, got);
      const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`;
      if (etags.size > 4096) etags.clear();
      etags.set(real, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, etag });
      if (etagMatches(req.headers['if-none-match'], etag)) return notModified(etag);
      res.writeHead(200, { ...headers, ETag: etag, 'Content-Length': String(bytes.length) });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return true;
    } finally {
      await fh.close().catch(() => undefined);
    }
  };
  return { root, handle };
}

/**
 * The package's root folder (the one whose package.json is bitpeer's), found by walking up from `from` (a file or
 * folder): this module runs from dist/src/api/rpc/ (tsc's output) and from dist/bundle/ (the esbuild bundle).
 */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string | undefined {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin', 'bitpeer.js'))) return dir;
  }
  return undefined;
}

/** bitpeer's built web UI (dist/webui/index.html under the package root), or undefined when it was not built. */
export async function builtWebUi(root: string | undefined = packageRoot()): Promise<string | undefined> {
  if (root === undefined) return undefined;
  const dir = join(root, 'dist', 'webui');
  try {
    return (await stat(join(dir, 'index.html'))).isFile() ? dir : undefined;
  } catch {
    return undefined;
  }
}

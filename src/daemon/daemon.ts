/**
 * The bitpeer daemon: a session with a state directory (built by src/api/open.ts, the composition root; the state
 * directory's part is src/api/state-dir.ts) and the Transmission-compatible RPC over its facade.
 *
 * Start: the session is opened with the state directory (its lock, settings.json, every torrent and pending magnet
 * brought back: docs/design/persistence.md), then the RPC server. An RPC bound to a non-loopback address without a
 * given user/password uses the state directory's generated credentials (rpc-credentials.ts; created and logged once). The default download folder is the user's
 * (download-dir.ts), unless --download-dir or a saved one says. Log lines name a torrent `#id name`.
 *
 * Stop (SIGINT/SIGTERM): the RPC server closes, then the session (resume data flushed, `stopped` announced, lock
 * released).
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { openBitpeer, type OpenOptions } from '../api/open.js';
import { isLoopback, startRpcServer, TRANSMISSION_WEB_PATH } from '../api/rpc/server.js';
import { ensureRpcCredentials } from './rpc-credentials.js';
import { builtWebUi, packageRoot, staticSite, STRICT_CSP, WEB_HOME_CSP, type StaticSite } from '../api/rpc/static-files.js';
import { BtError } from '../util/errors.js';
import type { BitpeerApi, EncryptionPolicy, SessionEvent } from '../api/types.js';
import { formatPeerAddress } from '../util/peer-address.js';
import { userDownloadDir } from './download-dir.js';

export interface DaemonOptions {
  stateDir: string;
  port?: number;
  bind?: string;
  rpcPort?: number;
  rpcHost?: string;
  rpcAuth?: { user: string; password: string };
  /** A web folder served instead of bitpeer's UI, at /transmission/web/ (--web-home, TRANSMISSION_WEB_HOME). */
  webHome?: string;
  downloadDir?: string;
  lsd?: boolean;
  pex?: boolean;
  utp?: boolean;
  /** The DHT (BEP 5), its bootstrap nodes and private-network mode (the first two saved in settings.json). */
  dht?: boolean;
  dhtBootstrap?: string[];
  dhtPrivate?: boolean;
  /** MSE/PE policy (saved in settings.json). */
  encryption?: EncryptionPolicy;
  uploadLimit?: number;
  downloadLimit?: number;
  resumeIntervalMs?: number;
  log: (line: string) => void;
  /** Every session event, with the facade (to name a torrent `#id name`); called from the start of the restore on. */
  onEvent?: (e: SessionEvent, api: BitpeerApi) => void;
  /** The default download folder when neither `downloadDir` nor a saved setting gives one (default: the user's, see download-dir.ts). */
  defaultDownloadDir?: string;
  /** The environment (BITPEER_DHT_BOOTSTRAP); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** I/O switches passed to the session (the CLI reads them from the environment, src/cli/io-env.ts). */
  io?: OpenOptions['io'];
}

export interface Daemon {
  api: BitpeerApi;
  rpcPort: number;
  close(): Promise<void>;
}

/** A small text file (user-dirs.dirs), or undefined if it is missing, not a file or over 64 KiB. */
function readSmallText(path: string): string | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > 64 * 1024) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The user's download folder (XDG_DOWNLOAD_DIR, user-dirs.dirs, else ~/Downloads). */
export function defaultDownloadDir(): string {
  return userDownloadDir(process.env, homedir(), readSmallText);
}

/** `#3 name` for the log (one definition, in the facade's reads). */
export { torrentLabel } from '../api/torrent-read.js';

/**
 * The RPC on a non-loopback address with no user/password given: the state directory's credentials
 * (rpc-credentials.ts), created on the first such run, and shown in the log on that run only.
 */
async function exposedCredentials(stateDir: string, host: string, log: (line: string) => void): Promise<{ user: string; password: string }> {
  const c = await ensureRpcCredentials(stateDir);
  if (c.warning) log(`rpc: warning: ${c.warning}`);
  if (c.created) {
    log(`rpc: the RPC on ${host} is reachable from the network and no user/password was given (BITPEER_RPC_USER, BITPEER_RPC_PASSWORD): `
      + `created user "${c.user}" with password "${c.password}", stored in ${c.path} (mode 0600). It is shown this once; later starts use it.`);
  }
  return { user: c.user, password: c.password };
}

/**
 * The web UI the RPC server serves: the user's web folder, else bitpeer's UI (dist/webui/ under the package root).
 * When that is not built yet, `note` says how to build it: `/` shows the landing page with it until the files appear
 * (they are looked for at each request). Throws BtError NOT_FOUND for a web folder that is not a folder.
 */
export async function webUiFor(webHome: string | undefined): Promise<{ web?: { site: StaticSite; webHome?: boolean }; note?: string }> {
  if (webHome !== undefined) {
    let ok = false;
    try { ok = statSync(webHome).isDirectory(); } catch { ok = false; }
    if (!ok) throw new BtError('NOT_FOUND', `web folder ${webHome} (--web-home / TRANSMISSION_WEB_HOME) is not a folder`);
    return { web: { site: staticSite({ root: webHome, csp: WEB_HOME_CSP }), webHome: true } };
  }
  const root = packageRoot();
  const note = 'The web interface is not built: run `npm run build` (or `node scripts/build-webui.js`) in the bitpeer package folder, then reload this page.';
  if (root === undefined) return { note };
  const web = { site: staticSite({ root: join(root, 'dist', 'webui'), csp: STRICT_CSP }) };
  return (await builtWebUi(root)) !== undefined ? { web } : { web, note };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const webUi = await webUiFor(opts.webHome);
  const bitpeer = await openBitpeer({
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    ...(opts.bind !== undefined ? { bind: opts.bind } : {}),
    ...(opts.downloadDir !== undefined ? { downloadDir: opts.downloadDir } : {}),
    ...(opts.lsd !== undefined ? { lsd: opts.lsd } : {}),
    ...(opts.pex !== undefined ? { pex: opts.pex } : {}),
    ...(opts.utp !== undefined ? { utp: opts.utp } : {}),
    ...(opts.dht !== undefined ? { dht: opts.dht } : {}),
    ...(opts.dhtBootstrap !== undefined ? { dhtBootstrap: opts.dhtBootstrap } : {}),
    ...(opts.dhtPrivate !== undefined ? { dhtPrivate: opts.dhtPrivate } : {}),
    // The user's environment decides the default DHT bootstrap (BITPEER_DHT_BOOTSTRAP; src/api/dht-config.ts).
    env: opts.env ?? process.env,
    ...(opts.encryption !== undefined ? { encryption: opts.encryption } : {}),
    ...(opts.uploadLimit !== undefined ? { uploadLimit: opts.uploadLimit } : {}),
    ...(opts.downloadLimit !== undefined ? { downloadLimit: opts.downloadLimit } : {}),
    trackers: true,
    ...(opts.io ? { io: opts.io } : {}),
    log: opts.log,
    debug: (m) => opts.log(`debug: ${m}`),
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    state: {
      dir: opts.stateDir,
      defaultDownloadDir: () => opts.defaultDownloadDir ?? defaultDownloadDir(),
      ...(opts.rpcPort !== undefined ? { rpcPort: opts.rpcPort } : {}),
      ...(opts.resumeIntervalMs !== undefined ? { resumeIntervalMs: opts.resumeIntervalMs } : {}),
    },
  });
  const { api } = bitpeer;
  try {
    const rpcHost = opts.rpcHost ?? '127.0.0.1';
    const auth = opts.rpcAuth ?? (isLoopback(rpcHost) ? undefined : await exposedCredentials(opts.stateDir, rpcHost, opts.log));
    const rpc = await startRpcServer(api, {
      host: rpcHost, port: bitpeer.rpcPort ?? 9091, log: opts.log, // its lines start with "rpc: " already
      maxBodyBytes: 14 * 1024 * 1024, // a 10 MiB .torrent in base64, plus the JSON around it
      ...(auth ? { auth } : {}),
      ...(webUi.web ? { web: webUi.web } : {}),
      ...(webUi.note !== undefined ? { webMissingNote: webUi.note } : {}),
    });
    const base = `http://${formatPeerAddress(rpcHost, rpc.port)}`;
    const webLine = webUi.web?.webHome === true ? `web UI ${base}${TRANSMISSION_WEB_PATH} (from ${webUi.web.site.root})`
      : webUi.web && webUi.note === undefined ? `web UI ${base}/` : `no web UI at ${base}/ (not built: npm run build)`;
    opts.log(`daemon running: peer port ${bitpeer.port}, RPC ${base}/transmission/rpc, ${webLine}, downloads to ${api.getSettings().downloadDir}, state ${opts.stateDir}, ${bitpeer.torrentCount()} torrent(s)`);
    let closing: Promise<void> | undefined;
    return {
      api, rpcPort: rpc.port,
      close: () => closing ??= (async () => {
        await rpc.close().catch(() => {});
        await bitpeer.close();
      })(),
    };
  } catch (err) {
    await bitpeer.close({ save: false }).catch(() => {});
    throw err;
  }
}

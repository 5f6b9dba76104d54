/**
 * `bitpeer seed`, `bitpeer get` and `bitpeer share`: run a session with one torrent in the foreground.
 *
 * - seed: check the data (hash every piece that is on disk), then serve it until SIGINT/SIGTERM. Exit 0 on a stop.
 * - get:  download into -o DIR (default: the current folder); exit 0 only when every piece is verified, unless
 *         --seed keeps seeding afterwards. SIGINT/SIGTERM before completion exits 130/143.
 * - share: create the .torrent (in the current folder, or -o; never over an existing file without --force), print
 *          it and its magnet link, then seed.
 * - stream: as get, in sequential order, plus a loopback HTTP server streaming one file while it downloads
 *          (stream.ts): prints the URL and serves until Ctrl-C; with --stdout, writes the file to stdout (log lines go
 *          to stderr) and exits 0 once every byte is out.
 *
 * Before any slow work (hashing, opening the port), the places written to are checked (one clear error, once).
 * Ports: `get` and `share` without --port take 6881, else the next free one of 6882-6889, else any (and say so);
 * `seed` and an explicit --port use that port or fail (a .torrent made by `create` names its port in its tracker URL).
 * A stop (SIGINT/SIGTERM) prints one line: what was moved, pieces verified, where the data is, how to resume.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { buildMagnet, parseTorrent, type Metainfo } from '../../metainfo/index.js';
import { waitForMagnet } from '../magnet-wait.js';
import { openBitpeer, type OpenedBitpeer } from '../../api/open.js';
import type { TorrentSummary } from '../../api/types.js';
import { BtError, isBtError } from '../../util/errors.js';
import { CREATED_BY } from '../../util/version.js';
import { formatPeerAddress, parsePeerAddress } from '../../util/peer-address.js';
import { networkInterfaces } from 'node:os';
import { chooseLanAddress, ownTrackerUrl } from '../../net/lan-address.js';
import { asStrings, parse, parseCount, parseDhtOptions, parseEncryption, parsePort, parseRate, parseSize } from '../args.js';
import { checkDownloadFolder, checkTorrentDestination, torrentOutPath, writeTorrentFile } from '../dest-check.js';
import { formatBytes, Reporter } from '../output.js';
import { commandHelp } from '../help.js';
import { loadTorrentFile } from '../torrent-file.js';
import { ioOptionsFromEnv } from '../io-env.js';
import { startStreaming, writeFileTo } from './stream.js';

const DEFAULT_PORT = 6881;
/** Ports tried in turn by `get`/`share` without --port; then any free port (0). */
const FALLBACK_PORTS = [6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889, 0];
/** How long `get` (and its magnet phase) waits for a first peer before printing what to check (env
 *  BITPEER_NO_PEER_HINT_MS overrides). */
const NO_PEER_HINT_MS = 30_000;

/** Connection caps: the session's defaults (200 in all, 50 per torrent) unless raised; with one torrent, a larger
 *  `--max-peers` raises the global cap with it. */
const DEFAULT_MAX_CONNECTIONS = 200;
const MAX_CONNECTIONS_LIMIT = 10_000;

/** Where the data of `meta` lives, given the user's data path (the created path itself, or a folder holding it). */
async function resolveSavePath(meta: Metainfo, dataPath: string): Promise<string> {
  const abs = resolve(dataPath);
  const st = await stat(abs).catch(() => null);
  if (!st) throw new BtError('NOT_FOUND', `no such file or folder: ${dataPath}`);
  if (basename(abs) === meta.name && (meta.multiFile ? st.isDirectory() : st.isFile())) return dirname(abs);
  if (st.isDirectory()) {
    const inner = await stat(join(abs, meta.name)).catch(() => null);
    if (inner) return abs;
    throw new BtError('NOT_FOUND', `${dataPath} does not hold "${meta.name}" (give the path you passed to create, or its folder)`);
  }
  throw new BtError('USAGE', `${dataPath} is a file, but the torrent's data is "${meta.name}"${meta.multiFile ? ' (a folder)' : ''}`);
}

export async function runCommand(command: 'seed' | 'get' | 'share' | 'stream', argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, command);
  if (help) { process.stdout.write(commandHelp(command)); return 0; }
  const streaming = command === 'stream';
  const toStdout = streaming && Boolean(values['stdout']);
  if (toStdout && process.stdout.isTTY) throw new BtError('USAGE', '--stdout writes the file\'s bytes: pipe them into a player (| mpv -) or a file');
  /** `stream` downloads as `get` does. */
  const mode = streaming ? 'get' : command;
  const streamFile = streaming ? parseCount(values['file'] as string | undefined, '--file', 0, 2 ** 31 - 1) : undefined;
  const httpPort = streaming ? parsePort(values['http-port'] as string | undefined, 0) : 0;
  const reporter = new Reporter(Boolean(values['json']), Boolean(values['verbose']), toStdout ? process.stderr : process.stdout);
  const explicitPort = typeof values['port'] === 'string';
  const port = parsePort(values['port'] as string | undefined, DEFAULT_PORT);
  const peers = asStrings(values['peer']).map((s) => parsePeerAddress(s));
  const progressMs = typeof values['progress-interval'] === 'string' ? parseSize(values['progress-interval'], 'progress interval') : 1000;
  const maxPeers = parseCount(values['max-peers'] as string | undefined, '--max-peers', 1, MAX_CONNECTIONS_LIMIT);
  const io = ioOptionsFromEnv();
  const maxConnections = parseCount(values['max-connections'] as string | undefined, '--max-connections', 1, MAX_CONNECTIONS_LIMIT)
    ?? Math.max(DEFAULT_MAX_CONNECTIONS, maxPeers ?? 0);
  const hintMs = noPeerHintMs();
  const uploadLimit = parseRate(values['upload-limit'], 'upload limit');
  const downloadLimit = parseRate(values['download-limit'], 'download limit');
  const encryption = parseEncryption(values['encryption']);
  const dht = parseDhtOptions(values);

  // 0. Where we will write, checked before opening the port and before hashing: one clear line, once.
  const force = Boolean(values['force']);
  const shareOut = mode === 'share' ? torrentOutPath(values['output'], positionals[0]!) : undefined;
  if (shareOut !== undefined) await checkTorrentDestination(shareOut, force);
  if (mode === 'get') await checkDownloadFolder(resolve(typeof values['output'] === 'string' ? values['output'] : '.'));

  // 1. The session, listening first: `share` needs the real port for its own tracker URL, and a port in use is
  //    reported before any hashing. It is opened through the facade's factory (src/api/open.ts).
  const open = (p: number): Promise<OpenedBitpeer> => openBitpeer({
    port: p,
    bind: typeof values['bind'] === 'string' ? values['bind'] : '0.0.0.0',
    debug: (m) => reporter.debug(m),
    lsd: !values['no-lsd'],
    pex: !values['no-pex'],
    ...(values['no-utp'] ? { utp: false } : values['utp'] ? { utp: true } : {}),
    ...(encryption ? { encryption } : {}),
    ...dht, env: process.env,
    trackers: !values['no-tracker'],
    openTracker: Boolean(values['open-tracker']),
    uploadLimit,
    downloadLimit,
    maxConnections,
    ...(maxPeers !== undefined ? { maxPeersPerTorrent: maxPeers } : {}),
    io,
    onEvent: (e) => reporter.event(e),
  });
  const ports = explicitPort || mode === 'seed' ? [port] : FALLBACK_PORTS;
  let session: OpenedBitpeer | undefined;
  for (const [i, p] of ports.entries()) {
    if (i > 0) reporter.noteListening(`(${ports.slice(0, i).join(', ')} ${i === 1 ? 'was' : 'were'} in use)`, { portsInUse: ports.slice(0, i) });
    try {
      session = await open(p);
      break;
    } catch (err) {
      if (isBtError(err, 'PORT_IN_USE') && i < ports.length - 1) continue;
      if (isBtError(err, 'PORT_IN_USE') && mode === 'seed' && !explicitPort) {
        throw new BtError('PORT_IN_USE', `${err.message} (pass --port N to use another: peers find a seed made by create through the port in its tracker URL)`);
      }
      throw err;
    }
  }
  if (!session) throw new BtError('PORT_IN_USE', 'no free port to listen on');

  const { api } = session;
  // 2. What to share, and where its data lives.
  let meta: Metainfo;
  let torrentFile: Buffer;
  let savePath: string;
  try {
    if (mode === 'share') {
      const input = resolve(positionals[0]!);
      const pieceLength = typeof values['piece-length'] === 'string' ? parseSize(values['piece-length'], 'piece length') : undefined;
      const announce = asStrings(values['announce']);
      if (announce.length === 0) {
        const host = typeof values['announce-host'] === 'string' ? values['announce-host'] : chooseLanAddress(networkInterfaces());
        announce.push(ownTrackerUrl(host, session.port));
      }
      // Imported here: only `share` hashes (create-torrent and its worker pool stay out of seed's and get's start-up).
      const { createTorrent } = await import('../../create/create-torrent.js');
      const created = await createTorrent(input, {
        ...(pieceLength !== undefined ? { pieceLength } : {}), announce,
        private: Boolean(values['private']), createdBy: CREATED_BY,
      });
      meta = created.meta;
      torrentFile = created.torrent;
      const out = shareOut!;
      await writeTorrentFile(out, created.torrent, force);
      savePath = dirname(input);
      reporter.info(`torrent: ${out}`, { torrent: out, infoHash: meta.infoHashHex, announce });
      reporter.info(`magnet: ${buildMagnet({ infoHash: meta.infoHash, name: meta.name, trackers: announce })}`);
    } else {
      if (positionals[0]!.startsWith('magnet:')) {
        if (mode === 'seed') throw new BtError('USAGE', 'seed needs the .torrent file, not a magnet link');
        // BEP 9: waits for peers until the metadata arrives or a signal stops it (src/cli/magnet-wait.ts).
        const got = await waitForMagnet(api, positionals[0]!, { peers, reporter, lsd: !values['no-lsd'], hintMs,
          dhtNodes: () => api.stats().dht?.nodes });
        if ('signal' in got) {
          await session.close();
          reporter.done();
          return got.signal === 'SIGTERM' ? 143 : 130;
        }
        const resolved = got.resolved;
        torrentFile = resolved.torrentFile;
        meta = parseTorrent(torrentFile);
        for (const p of resolved.peers) if (!peers.some((q) => q.host === p.host && q.port === p.port)) peers.push(p);
      } else {
        ({ meta, bytes: torrentFile } = await loadTorrentFile(positionals[0]!));
      }
      if (mode === 'seed') {
        savePath = await resolveSavePath(meta, positionals[1]!);
      } else {
        savePath = resolve(typeof values['output'] === 'string' ? values['output'] : '.');
      }
    }
  } catch (err) {
    await session.close();
    throw err;
  }

  const live: OpenedBitpeer = session;
  let torrentId: number | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const totals = torrentId !== undefined ? api.peerTotals(torrentId) : undefined;
      if (totals) {
        reporter.event({ event: 'peer-totals', infoHash: meta.infoHashHex, peers: totals.peers, disconnects: totals.disconnects });
      }
      reporter.closing();
      await live.close();
      reporter.done();
    })();
    return stopping;
  };

  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  /** Aborted by the first signal: ends the wait for completion. */
  const stopWaiting = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) { process.exit(sig === 'SIGINT' ? 130 : 143); } // second signal: leave now
    signalled = sig;
    stopWaiting.abort();
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let progressTimer: NodeJS.Timeout | undefined;
  let hintTimer: NodeJS.Timeout | undefined;
  let stopServer: (() => Promise<void>) | undefined;
  reporter.setAfterComplete(toStdout ? 'writing the rest to stdout' : streaming ? 'streaming until Ctrl-C' : values['seed'] ? 'seeding until Ctrl-C' : 'exiting');
  try {
    // seed/share only read, and read through symlinks as `create` hashed them; a download never follows a link.
    // A failed start-up check fails the run (and removes only what it created).
    const added = await api.add({ torrentFile, metainfo: meta },
      { downloadDir: savePath, peers, failOnError: true, ...(mode === 'get' ? {} : { followLinks: true }) });
    const id = added.id;
    torrentId = id;
    const now = (): TorrentSummary => api.summary(id)!;
    if (mode !== 'get' && !now().complete) {
      throw new BtError('NOT_FOUND', `the data in ${savePath} is incomplete: ${now().have}/${meta.pieceCount} pieces verified`);
    }
    if (streaming) {
      await api.setSequential?.([id], true);
      const run = await startStreaming(api, id, { ...(streamFile !== undefined ? { file: streamFile } : {}), httpPort, log: (m) => reporter.debug(m) });
      stopServer = () => run.server.close();
      reporter.info(`streaming ${run.path} at ${run.url}`, { url: run.url, file: run.index, path: run.path });
      if (toStdout) {
        const bytes = await writeFileTo(api, id, run.index, process.stdout, stopWaiting.signal).catch((e: unknown) => {
          if (signalled) return -1;
          throw e;
        });
        if (bytes < 0) return signalled === 'SIGTERM' ? 143 : 130;
        reporter.info(`wrote ${formatBytes(bytes)} of ${run.path} to stdout`, { written: bytes });
        return 0;
      }
    }
    progressTimer = setInterval(() => { const p = api.progress(id); if (p) reporter.event(p); }, progressMs);
    if (mode === 'get' && !now().complete) {
      let sawPeer = false;
      api.subscribe((e) => { if (e.event === 'peer-connect') sawPeer = true; });
      hintTimer = setTimeout(() => {
        if (!sawPeer && !now().complete && !signalled) reporter.hint(noPeerHint(meta, !values['no-tracker'], peers, live.port, hintMs, api.stats().dht?.nodes));
      }, hintMs);
    }
    const waitForSignal = new Promise<void>((resolve) => { wake = resolve; if (signalled) resolve(); });
    if (mode === 'get') {
      // Settles when every piece is verified, the torrent fails, or a signal stops the wait.
      await api.whenDone(id, { signal: stopWaiting.signal }).catch(() => {});
      const t = now();
      if (t.state === 'error') throw new BtError('IO', t.error ?? 'torrent failed');
      if (!t.complete) {
        reporter.summary(stopSummary(t), stopFields(t));
        return signalled === 'SIGTERM' ? 143 : 130;
      }
      reporter.event(api.progress(id)!);
      if (!values['seed'] && !streaming) return 0;
    }
    await waitForSignal;
    reporter.summary(stopSummary(now()), stopFields(now()));
    return 0;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    if (hintTimer) clearTimeout(hintTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopServer?.();
    await stop();
  }
}

/** The no-peer hint delay: BITPEER_NO_PEER_HINT_MS (tests, impatient users) or 30 s. */
function noPeerHintMs(): number {
  const v = process.env['BITPEER_NO_PEER_HINT_MS'];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : NO_PEER_HINT_MS;
}

/** What to check when no peer has connected after a while (`dhtNodes`: the DHT's node count while it runs). */
function noPeerHint(meta: Metainfo, useTrackers: boolean, peers: Array<{ host: string; port: number }>, port: number, afterMs: number,
  dhtNodes: number | undefined): string {
  const trackers = useTrackers ? [...new Set([...(meta.announce ? [meta.announce] : []), ...meta.announceList.flat()])] : [];
  const checks: string[] = [];
  if (trackers.length > 0) checks.push(`that the tracker ${trackers.slice(0, 3).join(', ')} is running and reachable from here`);
  if (peers.length > 0) checks.push(`that ${peers.map((p) => formatPeerAddress(p.host, p.port)).join(', ')} is seeding`);
  const dht = dhtNodes !== undefined && !meta.private;
  if (dht) checks.push(dhtNodes === 0 ? 'that a DHT bootstrap node answers (the DHT knows no node yet; --dht-bootstrap HOST:PORT)'
    : `that a seed announces it on the DHT (${dhtNodes} DHT nodes known)`);
  checks.push(`that no firewall blocks ${dht ? 'TCP and UDP' : 'TCP'} port ${port}`);
  const last = checks.pop()!;
  const check = checks.length > 0 ? `${checks.join(', ')} and ${last}` : last;
  return `no peer after ${Math.round(afterMs / 1000)} s. Check ${check}; or give a seeding peer with --peer HOST:PORT.`;
}

/** The one line printed on a stop: moved bytes, pieces, where the data is, how to resume. */
function stopSummary(t: TorrentSummary): string {
  const where = join(t.savePath, t.name);
  const moved = `${formatBytes(t.downloaded)} down, ${formatBytes(t.uploaded)} up`;
  const pieces = `${t.have}/${t.pieces} pieces`;
  return t.complete
    ? `stopped: ${moved}, ${pieces}, complete in ${where}`
    : `stopped: ${moved}, ${pieces} in ${where}; run the same command again to resume`;
}

function stopFields(t: TorrentSummary): Record<string, unknown> {
  return { infoHash: t.infoHash, downloaded: t.downloaded, uploaded: t.uploaded, have: t.have,
    pieces: t.pieces, complete: t.complete, path: join(t.savePath, t.name) };
}

/**
 * `bitpeer seed`, `bitpeer get` and `bitpeer share`: run a session with one torrent in the foreground.
 *
 * - seed: check the data (hash every piece that is on disk), then serve it until SIGINT/SIGTERM. Exit 0 on a stop.
 * - get:  download into -o DIR (default: the current folder); exit 0 only when every piece is verified, unless
 *         --seed keeps seeding afterwards. SIGINT/SIGTERM before completion exits 130/143.
 * - share: create the .torrent (next to the data, or -o), print it and its magnet link, then seed.
 */
import { stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { buildMagnet, parseTorrent, type Metainfo } from '../../metainfo/index.js';
import { waitForMagnet } from '../magnet-wait.js';
import { createTorrent } from '../../metainfo/create.js';
import { Session } from '../../session/session.js';
import type { Torrent } from '../../session/torrent.js';
import { BtError } from '../../util/errors.js';
import { networkInterfaces } from 'node:os';
import { chooseLanAddress, ownTrackerUrl } from '../../session/lan-address.js';
import { asStrings, COMMON_OPTIONS, parse, parseCount, parsePeer, parsePort, parseRate, parseSize } from '../args.js';
import { Reporter } from '../output.js';
import { loadTorrentFile } from '../torrent-file.js';

export const SEED_USAGE = 'bitpeer seed <file.torrent> <data-path> [--port N] [--peer HOST:PORT]... [--max-peers N] [--max-connections N] [--json]';
export const GET_USAGE = 'bitpeer get <file.torrent|magnet> [-o DIR] [--port N] [--peer HOST:PORT]... [--seed] [--max-peers N] [--max-connections N] [--json]';
export const SHARE_USAGE = 'bitpeer share <path> [-o out.torrent] [--port N] [--piece-length BYTES] [--announce URL]... [--announce-host HOST] [--max-peers N] [--max-connections N] [--json]';

const DEFAULT_PORT = 6881;

const RUN_OPTIONS = {
  ...COMMON_OPTIONS,
  peer: { type: 'string', multiple: true },
  output: { type: 'string', short: 'o' },
  seed: { type: 'boolean' },
  'piece-length': { type: 'string' },
  announce: { type: 'string', multiple: true },
  private: { type: 'boolean' },
  'progress-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-peers': { type: 'string' },
} as const;

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

export async function runCommand(mode: 'seed' | 'get' | 'share', argv: string[]): Promise<number> {
  const usage = mode === 'seed' ? SEED_USAGE : mode === 'get' ? GET_USAGE : SHARE_USAGE;
  const { values, positionals, help } = parse(argv, RUN_OPTIONS, { min: mode === 'seed' ? 2 : 1, max: mode === 'seed' ? 2 : 1, usage });
  if (help) { process.stdout.write(`usage: ${usage}\n`); return 0; }
  const reporter = new Reporter(Boolean(values['json']), Boolean(values['verbose']));
  const port = parsePort(values['port'] as string | undefined, DEFAULT_PORT);
  const peers = asStrings(values['peer']).map(parsePeer);
  const progressMs = typeof values['progress-interval'] === 'string' ? parseSize(values['progress-interval'], 'progress interval') : 1000;
  const maxPeers = parseCount(values['max-peers'] as string | undefined, '--max-peers', 1, MAX_CONNECTIONS_LIMIT);
  const maxConnections = parseCount(values['max-connections'] as string | undefined, '--max-connections', 1, MAX_CONNECTIONS_LIMIT)
    ?? Math.max(DEFAULT_MAX_CONNECTIONS, maxPeers ?? 0);

  // 1. The session, listening first: `share` needs the real port for its own tracker URL, and a port in use is
  //    reported before any hashing.
  const session = new Session({
    port,
    host: typeof values['bind'] === 'string' ? values['bind'] : '0.0.0.0',
    log: (m) => reporter.debug(m),
    lsd: !values['no-lsd'],
    pex: !values['no-pex'],
    trackers: !values['no-tracker'],
    openTracker: Boolean(values['open-tracker']),
    uploadLimit: parseRate(values['upload-limit'], 'upload limit'),
    downloadLimit: parseRate(values['download-limit'], 'download limit'),
    maxConnections,
    ...(maxPeers !== undefined ? { peerLimits: { maxPeers } } : {}),
  });
  session.events.subscribe((e) => reporter.event(e));
  try {
    await session.listen();
  } catch (err) {
    await session.close();
    throw err;
  }

  // 2. What to share, and where its data lives.
  let meta: Metainfo;
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
      const created = await createTorrent(input, {
        ...(pieceLength !== undefined ? { pieceLength } : {}), announce,
        private: Boolean(values['private']), createdBy: 'bitpeer/0.1.0',
      });
      meta = created.meta;
      const out = resolve(typeof values['output'] === 'string' ? values['output'] : `${basename(input)}.torrent`);
      await writeFile(out, created.torrent).catch((err: NodeJS.ErrnoException) => {
        throw new BtError('IO', `cannot write ${out}: ${err.code ?? String(err)}`);
      });
      savePath = dirname(input);
      reporter.info(`torrent: ${out}`, { torrent: out, infoHash: meta.infoHashHex, announce });
      reporter.info(`magnet: ${buildMagnet({ infoHash: meta.infoHash, name: meta.name, trackers: announce })}`);
    } else {
      if (positionals[0]!.startsWith('magnet:')) {
        if (mode === 'seed') throw new BtError('USAGE', 'seed needs the .torrent file, not a magnet link');
        // BEP 9: waits for peers until the metadata arrives or a signal stops it (src/cli/magnet-wait.ts).
        const got = await waitForMagnet(session, positionals[0]!, { peers, reporter, lsd: !values['no-lsd'] });
        if ('signal' in got) {
          await session.close();
          reporter.done();
          return got.signal === 'SIGTERM' ? 143 : 130;
        }
        const resolved = got.resolved;
        meta = parseTorrent(resolved.torrent);
        for (const p of resolved.peers) if (!peers.some((q) => q.host === p.host && q.port === p.port)) peers.push(p);
      } else {
        meta = (await loadTorrentFile(positionals[0]!)).meta;
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

  let torrent: Torrent | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (torrent) reporter.event({ event: 'peer-totals', infoHash: torrent.infoHashHex, peers: torrent.peerTotalsList() });
      await session.close();
      reporter.done();
    })();
    return stopping;
  };

  let signalled: NodeJS.Signals | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) { process.exit(sig === 'SIGINT' ? 130 : 143); } // second signal: leave now
    signalled = sig;
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    torrent = await session.addTorrent(meta, { savePath, peers });
    if (mode !== 'get' && !torrent.complete) {
      throw new BtError('NOT_FOUND', `the data in ${savePath} is incomplete: ${torrent.picker.haveCount}/${meta.pieceCount} pieces verified`);
    }
    const t = torrent;
    progressTimer = setInterval(() => reporter.event(t.progress()), progressMs);
    const waitForSignal = new Promise<void>((resolve) => { wake = resolve; if (signalled) resolve(); });
    if (mode === 'get') {
      const failed = new Promise<void>((resolve) => {
        session.events.subscribe((e) => { if (e.event === 'state' && e.state === 'error') resolve(); });
      });
      await Promise.race([t.whenComplete(), waitForSignal, failed]);
      if (t.state === 'error') throw new BtError('IO', t.errorReason ?? 'torrent failed');
      if (!t.complete) return signalled === 'SIGTERM' ? 143 : 130;
      reporter.event(t.progress());
      if (!values['seed']) return 0;
    }
    await waitForSignal;
    return 0;
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}

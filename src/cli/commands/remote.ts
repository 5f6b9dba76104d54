/**
 * `bitpeer add | ls | pause | resume | rm | stats`: drive a running `bitpeer daemon` over its Transmission-compatible
 * RPC (src/api/rpc/client.ts). The daemon is at --rpc-host (127.0.0.1) : --rpc-port (9091); credentials come from
 * --rpc-user/--rpc-password or BITPEER_RPC_USER/BITPEER_RPC_PASSWORD; with neither, a daemon on this machine that
 * answers 401 is asked again once with the credentials it made itself (`<state-dir>/rpc-credentials.json`), if any.
 *
 * Invariants: every failure is one line on stderr (`bitpeer: error: …`) and exit 1 (usage errors: exit 2); ids that
 * name no torrent are an error reported before anything is changed; `rm` never means "all".
 * BEP: none.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { RpcClient } from '../../api/rpc/client.js';
import { readRpcCredentials, type RpcCredentials } from '../../daemon/rpc-credentials.js';
import { isLoopbackHost } from '../../tracker/client-common.js';
import { BtError } from '../../util/errors.js';
import { MAX_TORRENT_SIZE } from '../../metainfo/index.js';
import { parse, parsePort, type Values } from '../args.js';
import { defaultStateDir } from '../default-state-dir.js';
import { commandHelp, REMOTE_COMMANDS, type RemoteCommand } from '../help.js';
import { formatBytes, formatDuration } from '../output.js';

/** Where a command writes, and its environment (tests pass their own). */
export interface RemoteIo {
  out?: { write(s: string): unknown };
  err?: { write(s: string): unknown };
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** Largest .torrent sent inline as `metainfo`: base64 of it must fit the daemon's default 1 MiB body limit. */
const MAX_INLINE_TORRENT = 700 * 1024;

interface Ctx {
  client: RpcClient;
  json: boolean;
  out: (s: string) => void;
  err: (s: string) => void;
  cwd: string;
}

/** Torrent fields `ls` asks for. */
const LS_FIELDS = [
  'id', 'name', 'hashString', 'status', 'error', 'errorString', 'percentDone', 'totalSize', 'sizeWhenDone',
  'leftUntilDone', 'rateDownload', 'rateUpload', 'eta', 'peersConnected', 'uploadRatio', 'downloadDir',
  'uploadedEver', 'downloadedEver', 'metadataPercentComplete', 'bitpeer-hashStringV2', 'bitpeer-metaVersion',
];

/**
 * A magnet link whose metadata has not arrived (Transmission's `metadataPercentComplete` < 1). Old daemons that do
 * not send the field have none pending.
 */
function fetchingMetadata(t: Record<string, unknown>): boolean {
  return typeof t['metadataPercentComplete'] === 'number' && t['metadataPercentComplete'] < 1;
}

/** The state shown by `ls`: a pending magnet that is not paused or in error is "fetching metadata". */
function lsState(t: Record<string, unknown>): string {
  const state = stateName(t['status'], t['error']);
  return fetchingMetadata(t) && state !== 'paused' && state !== 'error' ? 'fetching metadata' : state;
}

/** bitpeer's state name for a Transmission status number (and error flag). */
export function stateName(status: unknown, error: unknown): string {
  if (typeof error === 'number' && error !== 0) return 'error';
  switch (status) {
    case 0: return 'paused';
    case 1: case 2: return 'checking';
    case 3: case 5: return 'queued';
    case 4: return 'downloading';
    case 6: return 'seeding';
    default: return 'unknown';
  }
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function torrentsOf(args: Record<string, unknown>): Record<string, unknown>[] {
  const list = args['torrents'];
  return Array.isArray(list) ? list.filter((t): t is Record<string, unknown> => typeof t === 'object' && t !== null) : [];
}

/** Shortest info-hash prefix taken as a torrent id. */
export const MIN_HASH_PREFIX = 4;

/** A torrent named on the command line: an id, a full info-hash, or a hex prefix of one (or, for digits, either). */
interface TorrentRef { text: string; id?: number; hash?: string; prefix?: string }

/**
 * "3" → id 3; a 40-hex info-hash → that hash; 4 to 39 hex digits → a prefix of an info-hash (as the daemon's log
 * and `ls --json` show them). Digits only are an id first, and a prefix if no torrent has that id. Anything else is a
 * usage error.
 */
export function parseTorrentId(s: string): TorrentRef {
  const ref: TorrentRef = { text: s };
  if (/^\d{1,9}$/.test(s)) ref.id = Number(s);
  if (/^[0-9a-f]{40}$/i.test(s)) ref.hash = s.toLowerCase();
  else if (s.length >= MIN_HASH_PREFIX && /^[0-9a-f]+$/i.test(s) && s.length < 40) ref.prefix = s.toLowerCase();
  if (ref.id === undefined && ref.hash === undefined && ref.prefix === undefined) {
    throw new BtError('USAGE', `bad torrent id "${s}" (expected a number from \`bitpeer ls\`, an info-hash, or its first ${MIN_HASH_PREFIX}+ hex digits)`);
  }
  return ref;
}

/**
 * Looks the torrents up; throws NOT_FOUND naming every reference that matches no torrent, or a prefix
 * that matches several (naming them), before anything changes.
 */
async function resolveIds(ctx: Ctx, refs: TorrentRef[]): Promise<Record<string, unknown>[]> {
  const fields = ['id', 'name', 'hashString'];
  const exactOnly = refs.every((r) => r.prefix === undefined);
  const exactIds = refs.map((r) => r.id ?? r.hash!);
  // Ids and full hashes: ask for just those. A prefix needs the whole list (id, name and hash: small).
  const list = torrentsOf(await ctx.client.call('torrent-get', exactOnly ? { fields, ids: exactIds } : { fields }));
  const found: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const r of refs) {
    let match = list.find((t) => (r.id !== undefined && t['id'] === r.id) || (r.hash !== undefined && t['hashString'] === r.hash));
    if (!match && r.prefix !== undefined) {
      const prefix = r.prefix;
      const candidates = list.filter((t) => str(t['hashString']).startsWith(prefix));
      if (candidates.length > 1) {
        const names = candidates.slice(0, 5).map((t) => `#${num(t['id'])} ${str(t['name'])} (${str(t['hashString']).slice(0, 12)}…)`);
        throw new BtError('NOT_FOUND', `"${r.text}" matches ${candidates.length} torrents: ${names.join(', ')}${candidates.length > 5 ? ', …' : ''}; give more hex digits or the id`);
      }
      match = candidates[0];
    }
    if (!match) missing.push(r.text);
    else if (!found.includes(match)) found.push(match);
  }
  if (missing.length > 0) {
    throw new BtError('NOT_FOUND', `no torrent with id ${missing.join(', ')} (see \`bitpeer ls\`)`);
  }
  return found;
}

async function addCommand(ctx: Ctx, sources: string[], values: Values): Promise<number> {
  const outDir = (values['output'] ?? values['download-dir']) as string | undefined;
  const base: Record<string, unknown> = {};
  if (outDir !== undefined) base['download-dir'] = path.resolve(ctx.cwd, outDir);
  if (values['paused']) base['paused'] = true;
  let failed = 0;
  for (const src of sources) {
    const args = { ...base };
    if (/^magnet:/i.test(src)) {
      args['filename'] = src;
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
      throw new BtError('USAGE', `adding by URL is not supported: download the .torrent first (${src})`);
    } else {
      const file = path.resolve(ctx.cwd, src);
      let size: number;
      try {
        const st = await stat(file);
        if (!st.isFile()) throw new BtError('NOT_FOUND', `not a file: ${src}`);
        size = st.size;
      } catch (err) {
        if (err instanceof BtError) throw err;
        throw new BtError('NOT_FOUND', `no such file: ${src}`);
      }
      if (size > MAX_TORRENT_SIZE) throw new BtError('BAD_TORRENT', `${src}: larger than ${formatBytes(MAX_TORRENT_SIZE)}, not a .torrent file?`);
      // Small files travel inline (the daemon may run as another user); big ones by path, within its body limit.
      if (size <= MAX_INLINE_TORRENT) args['metainfo'] = (await readFile(file)).toString('base64');
      else args['filename'] = file;
    }
    const reply = await ctx.client.request('torrent-add', args);
    const added = reply.arguments['torrent-added'] ?? reply.arguments['torrent-duplicate'];
    if (reply.result !== 'success' || typeof added !== 'object' || added === null) {
      failed++;
      ctx.err(`bitpeer: error: ${src}: ${reply.result === 'success' ? 'the daemon did not say what it added' : reply.result}\n`);
      continue;
    }
    const a = added as Record<string, unknown>;
    const duplicate = reply.arguments['torrent-added'] === undefined;
    if (ctx.json) {
      ctx.out(JSON.stringify({ event: 'added', id: a['id'], name: a['name'], infoHash: a['hashString'], duplicate }) + '\n');
    } else {
      const magnet = /^magnet:/i.test(src) && !duplicate;
      ctx.out(`${duplicate ? 'already added' : 'added'}: #${num(a['id'])} ${str(a['name'])} (${str(a['hashString'])})` +
        `${magnet ? '; fetching metadata from peers (see `bitpeer ls`)' : ''}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

async function lsCommand(ctx: Ctx): Promise<number> {
  const torrents = torrentsOf(await ctx.client.call('torrent-get', { fields: LS_FIELDS }));
  if (ctx.json) {
    for (const t of torrents) {
      ctx.out(JSON.stringify({
        id: t['id'], name: t['name'], infoHash: t['hashString'], state: lsState(t).replace(' ', '-'),
        // BEP 52 (null from a daemon that does not send them, or for a v1 torrent / a pending magnet).
        infoHashV2: str(t['bitpeer-hashStringV2']) || null, version: str(t['bitpeer-metaVersion']) || null,
        metadata: !fetchingMetadata(t),
        percentDone: num(t['percentDone']), size: num(t['sizeWhenDone']), totalSize: num(t['totalSize']),
        left: num(t['leftUntilDone']), downloadRate: num(t['rateDownload']), uploadRate: num(t['rateUpload']),
        peers: num(t['peersConnected']), eta: num(t['eta']) >= 0 ? num(t['eta']) : null, ratio: num(t['uploadRatio']),
        uploaded: num(t['uploadedEver']), downloaded: num(t['downloadedEver']), savePath: str(t['downloadDir']),
        error: str(t['errorString']) || null,
      }) + '\n');
    }
    return 0;
  }
  if (torrents.length === 0) {
    ctx.out('no torrents\n');
    return 0;
  }
  const rows = [['ID', 'Done', 'Size', 'Down', 'Up', 'Peers', 'ETA', 'State', 'Name']];
  for (const t of torrents) {
    const state = lsState(t);
    const eta = num(t['eta']);
    rows.push([
      String(num(t['id'])), `${(Math.floor(num(t['percentDone']) * 1000) / 10).toFixed(1)}%`,
      fetchingMetadata(t) ? '?' : formatBytes(num(t['sizeWhenDone'])),
      `${formatBytes(num(t['rateDownload']))}/s`, `${formatBytes(num(t['rateUpload']))}/s`, String(num(t['peersConnected'])),
      state === 'downloading' && eta >= 0 ? formatDuration(eta) : '-',
      state === 'error' ? `error: ${str(t['errorString'])}` : state, str(t['name']),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) {
    ctx.out(r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ') + '\n');
  }
  return 0;
}

async function pauseResume(ctx: Ctx, verb: 'pause' | 'resume', ids: string[]): Promise<number> {
  const all = ids.includes('all');
  const parsed = all ? [] : ids.map(parseTorrentId);
  const targets = all
    ? torrentsOf(await ctx.client.call('torrent-get', { fields: ['id', 'name', 'hashString'] }))
    : await resolveIds(ctx, parsed);
  if (targets.length === 0) {
    if (!ctx.json) ctx.out('no torrents\n');
    return 0;
  }
  await ctx.client.call(verb === 'pause' ? 'torrent-stop' : 'torrent-start', all ? {} : { ids: targets.map((t) => t['id']) });
  const done = verb === 'pause' ? 'paused' : 'resumed';
  for (const t of targets) {
    if (ctx.json) ctx.out(JSON.stringify({ event: done, id: t['id'], name: t['name'], infoHash: t['hashString'] }) + '\n');
    else ctx.out(`${done}: #${num(t['id'])} ${str(t['name'])}\n`);
  }
  return 0;
}

async function rmCommand(ctx: Ctx, ids: string[], deleteData: boolean): Promise<number> {
  if (ids.includes('all')) throw new BtError('USAGE', '`bitpeer rm` takes torrent ids, not "all" (see `bitpeer ls`)');
  const targets = await resolveIds(ctx, ids.map(parseTorrentId));
  await ctx.client.call('torrent-remove', { ids: targets.map((t) => t['id']), 'delete-local-data': deleteData });
  for (const t of targets) {
    if (ctx.json) ctx.out(JSON.stringify({ event: 'removed', id: t['id'], name: t['name'], infoHash: t['hashString'], deletedData: deleteData }) + '\n');
    else ctx.out(`removed: #${num(t['id'])} ${str(t['name'])}${deleteData ? ' (and deleted its data)' : ''}\n`);
  }
  return 0;
}

/** The figures of session-stats' `bitpeer-dht` that `stats` shows (null: off, or a daemon without a DHT). */
interface DhtFigures { phase: string; nodes: number; good: number; storedTorrents: number; storedPeers: number; externalAddress: string | null }

function dhtOf(v: unknown): DhtFigures | null {
  if (typeof v !== 'object' || v === null) return null;
  const d = v as Record<string, unknown>;
  return {
    phase: str(d['phase']) || 'unknown', nodes: num(d['nodes']), good: num(d['good']), storedTorrents: num(d['storedTorrents']),
    storedPeers: num(d['storedPeers']), externalAddress: typeof d['externalAddress'] === 'string' ? d['externalAddress'] : null,
  };
}

/** "DHT: ready, nodes 31 good / 37, stored 4 torrents / 9 peers, external address 203.0.113.7" (or "DHT: off"). */
function dhtLine(d: DhtFigures | null): string {
  if (!d) return 'DHT: off';
  return `DHT: ${d.phase}, nodes ${d.good} good / ${d.nodes}, stored ${d.storedTorrents} torrent${d.storedTorrents === 1 ? '' : 's'} / ` +
    `${d.storedPeers} peer${d.storedPeers === 1 ? '' : 's'}, external address ${d.externalAddress ?? 'unknown'}`;
}

async function statsCommand(ctx: Ctx): Promise<number> {
  const s = await ctx.client.call('session-stats');
  const block = (v: unknown): { uploadedBytes: number; downloadedBytes: number; secondsActive: number; sessionCount: number } => {
    const b = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
    return { uploadedBytes: num(b['uploadedBytes']), downloadedBytes: num(b['downloadedBytes']), secondsActive: num(b['secondsActive']), sessionCount: num(b['sessionCount']) };
  };
  const current = block(s['current-stats']);
  const total = block(s['cumulative-stats']);
  const out = {
    torrentCount: num(s['torrentCount']), activeTorrentCount: num(s['activeTorrentCount']),
    pausedTorrentCount: num(s['pausedTorrentCount']), downloadSpeed: num(s['downloadSpeed']),
    uploadSpeed: num(s['uploadSpeed']), current, cumulative: total, dht: dhtOf(s['bitpeer-dht']),
  };
  if (ctx.json) {
    ctx.out(JSON.stringify(out) + '\n');
    return 0;
  }
  const ratio = (up: number, down: number): string => (down > 0 ? (up / down).toFixed(2) : up > 0 ? 'inf' : '-');
  ctx.out([
    `torrents: ${out.torrentCount} (${out.activeTorrentCount} active, ${out.pausedTorrentCount} paused)`,
    `speed: down ${formatBytes(out.downloadSpeed)}/s, up ${formatBytes(out.uploadSpeed)}/s`,
    `this session: downloaded ${formatBytes(current.downloadedBytes)}, uploaded ${formatBytes(current.uploadedBytes)}, ` +
      `ratio ${ratio(current.uploadedBytes, current.downloadedBytes)}, running ${formatDuration(current.secondsActive)}`,
    `all time: downloaded ${formatBytes(total.downloadedBytes)}, uploaded ${formatBytes(total.uploadedBytes)}, ` +
      `ratio ${ratio(total.uploadedBytes, total.downloadedBytes)}, ${total.sessionCount} sessions`,
    dhtLine(out.dht),
  ].join('\n') + '\n');
  return 0;
}

/**
 * The fallback credentials for a daemon at `host`: only a daemon on this machine gets the password it made itself
 * (read from `stateDir` when it asks, not before); any other host gets none.
 */
export function localDaemonCredentials(host: string, stateDir: string): (() => Promise<RpcCredentials | undefined>) | undefined {
  return isLoopbackHost(host) ? () => readRpcCredentials(stateDir) : undefined;
}

/**
 * Runs one client command (`name` is one of {@link REMOTE_COMMANDS}) with its arguments. Resolves with the exit
 * code: 0 success, 1 error, 2 usage. Errors are printed (one line) here; only a bug rejects.
 */
export async function remoteCommand(name: string, argv: string[], io: RemoteIo = {}): Promise<number> {
  const out = io.out ?? process.stdout;
  const err = io.err ?? process.stderr;
  const env = io.env ?? process.env;
  try {
    if (!(REMOTE_COMMANDS as readonly string[]).includes(name)) throw new BtError('USAGE', `unknown command "${name}"`);
    const cmd = name as RemoteCommand;
    const { values, positionals, help } = parse(argv, cmd);
    if (help) { out.write(commandHelp(cmd)); return 0; }
    const port = parsePort(values['rpc-port'] as string | undefined, 9091);
    if (port === 0) throw new BtError('USAGE', 'bad port "0" (expected 1-65535)');
    const user = (values['rpc-user'] as string | undefined) ?? env['BITPEER_RPC_USER'];
    const password = (values['rpc-password'] as string | undefined) ?? env['BITPEER_RPC_PASSWORD'];
    const host = (values['rpc-host'] as string | undefined) ?? '127.0.0.1';
    const stateDir = path.resolve(io.cwd ?? process.cwd(), (values['state-dir'] as string | undefined) ?? defaultStateDir(env));
    const credentialsOnChallenge = localDaemonCredentials(host, stateDir);
    const client = new RpcClient({
      host, port,
      ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}),
      ...(credentialsOnChallenge ? { credentialsOnChallenge } : {}),
    });
    const ctx: Ctx = { client, json: Boolean(values['json']), out: (s) => out.write(s), err: (s) => err.write(s), cwd: io.cwd ?? process.cwd() };
    switch (cmd) {
      case 'add': return await addCommand(ctx, positionals, values);
      case 'ls': return await lsCommand(ctx);
      case 'pause': case 'resume': return await pauseResume(ctx, cmd, positionals);
      case 'rm': return await rmCommand(ctx, positionals, Boolean(values['delete-data']));
      case 'stats': return await statsCommand(ctx);
    }
  } catch (e) {
    if (!(e instanceof BtError)) throw e;
    err.write(`bitpeer: ${e.code === 'USAGE' ? '' : 'error: '}${e.message}\n`);
    return e.code === 'USAGE' ? 2 : 1;
  }
}

/**
 * The Transmission RPC methods (rpc-spec version 16, as transmission-daemon 3.00 answers them, plus
 * sequentialDownload from 4.1), implemented over the BitpeerApi facade: the single source of the RPC's behaviour.
 * Transport-free: `handle(parsedJson)` → the legacy response object; `call(name, args)` → a protocol-neutral result
 * that jsonrpc.ts shapes into JSON-RPC 2.0 (Transmission 4.1's names); src/api/rpc/server.ts does HTTP.
 *
 * Invariants:
 * - every request gets exactly one response object `{ result, arguments, tag? }`; `result` is "success" or a
 *   human-readable reason, never a stack trace. Malformed requests answer "no method name", unknown methods
 *   "method name not recognized", wrong argument types a message naming the argument;
 * - unknown torrent ids are skipped (as Transmission does) and an empty id list selects nothing (so a broken client
 *   can never turn "remove these" into "remove everything"); only an absent `ids` means all torrents;
 * - speed limits cross the wire in kB/s with k = 1000 (transmission-daemon 3.00) and reach the API in bytes/s.
 * BEP: none (Transmission's rpc-spec.txt).
 */
import { statfs } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { BtError, errorMessage } from '../../util/errors.js';
import type { AddSource, BitpeerApi, FileChanges, SessionSettings, TorrentId, TorrentInfo } from '../types.js';
import { checkBootstrapList } from '../dht-config.js';
import {
  activityDateOf, apiFileIndices, fromTransmissionEncryption, knownFields, RECENTLY_ACTIVE_SECONDS, sessionObject, sessionStatsObject, SPEED_K, torrentObject,
  torrentRow, type FieldContext,
} from './fields.js';

/** A response as transmission-daemon shapes it. */
export interface RpcResponse {
  result: string;
  arguments: Record<string, unknown>;
  tag?: number;
}

/** A response, and what to do once it has been written (session-close shuts down only after replying). */
export interface RpcOutcome {
  response: RpcResponse;
  afterReply?: () => void;
}

/**
 * What kind of failure a method reports: the legacy protocol shows only the message (its `result` string); JSON-RPC
 * (jsonrpc.ts) turns the kind into an error code (Transmission 4.1's own codes where it has one).
 */
export type RpcFailureKind =
  | 'invalid-params' | 'path-not-absolute' | 'file-index' | 'corrupt-torrent' | 'unrecognized-info'
  | 'system' | 'unsupported-method' | 'internal';

/** A request argument of the wrong type or value (or a request this daemon cannot honour); its message becomes the `result` string. */
export class RpcArgumentError extends Error {
  constructor(message: string, readonly kind: RpcFailureKind = 'invalid-params') {
    super(message);
    this.name = 'RpcArgumentError';
  }
}

/**
 * One method's outcome, protocol-neutral: the legacy `handle` and JSON-RPC (jsonrpc.ts) both shape their replies
 * from it. `args` are the response arguments (on a failure: what the method still reports, e.g. free-space's path).
 */
export type RpcCallResult =
  | { ok: true; args: Record<string, unknown>; afterReply?: () => void }
  | { ok: false; kind: RpcFailureKind | 'method-not-found'; message: string; args: Record<string, unknown> };

/** Options for {@link RpcMethods}. */
export interface RpcMethodsOptions {
  /** Reported by session-get as `session-id`. */
  sessionId?: string;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** Free bytes at a path (default: statfs). */
  freeSpace?: (path: string) => Promise<number>;
  log?: (msg: string) => void;
}

type Args = Record<string, unknown>;
interface MethodResult {
  args?: Record<string, unknown>;
  /** A failure that still reports `args` (free-space's path and -1). */
  failure?: { kind: RpcFailureKind; message: string };
  afterReply?: () => void;
}
type Method = (args: Args) => Promise<MethodResult>;

/** Most ids / file indices / field names accepted in one list. */
const MAX_LIST = 100_000;
/** Largest speed limit accepted, kB/s (about 2 TB/s). */
const MAX_KBPS = 2 ** 31 - 1;
const HASH_RE = /^[0-9a-f]{40}$/i;

function isObject(v: unknown): v is Args {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(args: Args, key: string): unknown {
  return Object.hasOwn(args, key) ? args[key] : undefined;
}

function optBool(args: Args, key: string): boolean | undefined {
  const v = own(args, key);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1; // Transmission accepts 0/1 for booleans
  throw new RpcArgumentError(`invalid argument "${key}": expected a boolean`);
}

function optString(args: Args, key: string): string | undefined {
  const v = own(args, key);
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw new RpcArgumentError(`invalid argument "${key}": expected a string`);
}

function optNumber(args: Args, key: string, min: number, max: number, integer = true): number | undefined {
  const v = own(args, key);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new RpcArgumentError(`invalid argument "${key}": expected ${integer ? 'an integer' : 'a number'}`);
  }
  if (v < min || v > max) throw new RpcArgumentError(`invalid argument "${key}": must be between ${min} and ${max}`);
  return v;
}

function optIndexList(args: Args, key: string): number[] | undefined {
  const v = own(args, key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_LIST || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    throw new RpcArgumentError(`invalid argument "${key}": expected an array of file indices`);
  }
  return v as number[];
}

/** `bitpeer-dht-bootstrap`: an array of at most 64 HOST:PORT strings (checked here, so junk changes nothing). */
function optBootstrapList(args: Args, key: string): string[] | undefined {
  const v = own(args, key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > 64 || !v.every((x): x is string => typeof x === 'string')) {
    throw new RpcArgumentError(`invalid argument "${key}": expected an array of "HOST:PORT" strings`);
  }
  try {
    return checkBootstrapList(v);
  } catch (err) {
    throw new RpcArgumentError(`invalid argument "${key}": ${errorMessage(err)}`);
  }
}

function absoluteDir(args: Args, key: string): string | undefined {
  const dir = optString(args, key);
  if (dir === undefined) return undefined;
  if (dir === '' || !isAbsolute(dir)) throw new RpcArgumentError('download directory path is not absolute', 'path-not-absolute');
  return dir;
}

/**
 * A queue's new limit from session-set's `*-queue-size` and `*-queue-enabled` (undefined: unchanged). Disabled wins
 * (0, no limit); a size turns the queue on; enabling a queue that is off takes `defaultSize`.
 */
function queueSize(size: number | undefined, enabled: boolean | undefined, current: number, defaultSize: number): number | undefined {
  if (enabled === false) return 0;
  if (size !== undefined) return size;
  if (enabled === true && current === 0) return defaultSize;
  return undefined;
}

/** A speed limit from `value` (kB/s) and `enabled`, in bytes/s; undefined = leave as is. */
function limitFrom(value: number | undefined, enabled: boolean | undefined): number | undefined {
  if (enabled === false) return 0;
  if (value !== undefined) return value * SPEED_K; // a value alone sets and enables (0 = unlimited: the API has no "block")
  return undefined;
}

/** One entry of an `ids` list → an API id, or undefined for something that names no torrent. */
function toId(v: unknown): TorrentId | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string') {
    if (/^\d{1,15}$/.test(v)) return Number(v);
    if (HASH_RE.test(v)) return v.toLowerCase();
  }
  return undefined;
}

async function statfsFree(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/** torrent-set / torrent-add with sequentialDownload on a facade without setSequential (checked before any change). */
const sequentialUnsupported = (): RpcArgumentError => new RpcArgumentError('sequential download is not supported by this daemon');

const FILE_KEYS = [
  ['files-wanted', 'wanted'], ['files-unwanted', 'unwanted'], ['priority-high', 'priorityHigh'],
  ['priority-normal', 'priorityNormal'], ['priority-low', 'priorityLow'],
] as const;

/** Methods without side effects: a JSON-RPC notification of one is not run (there is no one to answer). */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set(['session-get', 'session-stats', 'torrent-get', 'port-test', 'free-space']);

/** Every method name we answer. */
export const RPC_METHOD_NAMES: readonly string[] = [
  'session-get', 'session-set', 'session-stats', 'session-close', 'torrent-add', 'torrent-get', 'torrent-set',
  'torrent-start', 'torrent-start-now', 'torrent-stop', 'torrent-verify', 'torrent-reannounce', 'torrent-remove',
  'torrent-set-location', 'torrent-rename-path', 'queue-move-top', 'queue-move-up', 'queue-move-down',
  'queue-move-bottom', 'port-test', 'free-space', 'blocklist-update',
];

/** Transmission RPC method dispatch over a {@link BitpeerApi}. */
export class RpcMethods {
  private readonly now: () => number;
  private readonly freeSpace: (path: string) => Promise<number>;
  private readonly log: (msg: string) => void;
  /** Torrents removed through the RPC, for torrent-get's `removed` list with ids "recently-active". */
  private readonly removed: { id: number; at: number }[] = [];
  private readonly methods: ReadonlyMap<string, Method>;
  private readonly unknownLogged = new Set<string>();

  constructor(private readonly api: BitpeerApi, private readonly opts: RpcMethodsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.freeSpace = opts.freeSpace ?? statfsFree;
    this.log = opts.log ?? (() => undefined);
    const unsupported = (name: string): Method => async () => { throw new RpcArgumentError(`${name} is not supported by bitpeer`, 'unsupported-method'); };
    this.methods = new Map<string, Method>([
      ['session-get', (a) => this.sessionGet(a)],
      ['session-set', (a) => this.sessionSet(a)],
      ['session-stats', async () => ({ args: sessionStatsObject(this.api.stats()) })],
      ['session-close', async () => this.sessionClose()],
      ['torrent-add', (a) => this.torrentAdd(a)],
      ['torrent-get', async (a) => this.torrentGet(a)],
      ['torrent-set', (a) => this.torrentSet(a)],
      ['torrent-start', (a) => this.action(a, (ids) => this.api.start(ids))],
      ['torrent-start-now', (a) => this.action(a, (ids) => (this.api.startNow ? this.api.startNow(ids) : this.api.start(ids)))],
      ['torrent-stop', (a) => this.action(a, (ids) => this.api.stop(ids))],
      ['torrent-verify', (a) => this.action(a, (ids) => this.api.verify(ids))],
      ['torrent-reannounce', (a) => this.action(a, async (ids) => { await this.api.reannounce?.(ids); })],
      ['torrent-remove', (a) => this.torrentRemove(a)],
      ['torrent-set-location', (a) => this.torrentSetLocation(a)],
      ['torrent-rename-path', unsupported('torrent-rename-path')],
      ['queue-move-top', unsupported('queue-move-top')],
      ['queue-move-up', unsupported('queue-move-up')],
      ['queue-move-down', unsupported('queue-move-down')],
      ['queue-move-bottom', unsupported('queue-move-bottom')],
      ['port-test', async (a) => this.portTest(a)],
      ['free-space', (a) => this.freeSpaceMethod(a)],
      ['blocklist-update', async () => ({ args: { 'blocklist-size': 0 } })],
    ]);
  }

  /** Answers one parsed legacy request body (anything JSON.parse returned). Never throws. */
  async handle(request: unknown): Promise<RpcOutcome> {
    if (!isObject(request)) return { response: { result: 'no method name', arguments: {} } };
    const tag = typeof request['tag'] === 'number' && Number.isFinite(request['tag']) ? request['tag'] : undefined;
    const reply = (result: string, args: Record<string, unknown> = {}): RpcResponse =>
      (tag === undefined ? { arguments: args, result } : { arguments: args, result, tag });
    const name = own(request, 'method');
    if (typeof name !== 'string') return { response: reply('no method name') };
    if (!this.methods.has(name)) return { response: reply('method name not recognized') };
    const args = own(request, 'arguments') ?? {};
    if (!isObject(args)) return { response: reply('invalid argument "arguments": expected an object') };
    const out = await this.call(name, args);
    if (!out.ok) return { response: reply(out.message, out.args) };
    return { response: reply('success', out.args), ...(out.afterReply ? { afterReply: out.afterReply } : {}) };
  }

  /** Whether `name` is a method we answer (legacy spelling). */
  has(name: string): boolean {
    return this.methods.has(name);
  }

  /**
   * Runs one method (legacy name and argument spellings) and says how it went, for either protocol. Never throws:
   * argument and API errors (BtError) become failures with their message; anything else is an internal error, logged.
   */
  async call(name: string, args: Record<string, unknown>): Promise<RpcCallResult> {
    const method = this.methods.get(name);
    if (!method) return { ok: false, kind: 'method-not-found', message: 'method name not recognized', args: {} };
    try {
      const out = await method(args);
      if (out.failure) return { ok: false, ...out.failure, args: out.args ?? {} };
      return { ok: true, args: out.args ?? {}, ...(out.afterReply ? { afterReply: out.afterReply } : {}) };
    } catch (err) {
      if (err instanceof RpcArgumentError) return { ok: false, kind: err.kind, message: err.message, args: {} };
      if (err instanceof BtError) return { ok: false, kind: 'system', message: err.message, args: {} };
      this.log(`rpc: ${name} failed: ${errorMessage(err)}`);
      return { ok: false, kind: 'internal', message: `internal error: ${errorMessage(err)}`, args: {} };
    }
  }

  private ctx(): FieldContext {
    return { nowSec: Math.floor(this.now() / 1000) };
  }

  /** The torrents `ids` names (see the module invariant); `recent` tells whether "recently-active" was asked. */
  private select(args: Args): { torrents: TorrentInfo[]; recent: boolean } {
    const v = own(args, 'ids') ?? own(args, 'id');
    if (v === undefined) return { torrents: this.api.get(), recent: false };
    if (v === 'recently-active') {
      const ctx = this.ctx();
      const torrents = this.api.get().filter((t) => {
        const at = activityDateOf(t, ctx);
        return at > 0 && at >= ctx.nowSec - RECENTLY_ACTIVE_SECONDS;
      });
      return { torrents, recent: true };
    }
    let list: unknown[];
    if (typeof v === 'number' || typeof v === 'string') list = [v];
    else if (Array.isArray(v) && v.length <= MAX_LIST) list = v;
    else throw new RpcArgumentError('invalid argument "ids": expected a torrent id, a hash string, an array of them, or "recently-active"');
    const ids: TorrentId[] = [];
    for (const item of list) {
      if (typeof item !== 'number' && typeof item !== 'string') {
        throw new RpcArgumentError('invalid argument "ids": list entries must be torrent ids or hash strings');
      }
      const id = toId(item);
      if (id !== undefined) ids.push(id);
    }
    if (ids.length === 0) return { torrents: [], recent: false };
    const seen = new Set<number>();
    const torrents = this.api.get(ids).filter((t) => (seen.has(t.id) ? false : (seen.add(t.id), true)));
    return { torrents, recent: false };
  }

  private async action(args: Args, run: (ids: TorrentId[]) => Promise<void>): Promise<MethodResult> {
    const { torrents } = this.select(args);
    if (torrents.length > 0) await run(torrents.map((t) => t.id));
    return {};
  }

  private torrentGet(args: Args): MethodResult {
    const requested = own(args, 'fields');
    if (!Array.isArray(requested)) throw new RpcArgumentError('no fields specified');
    if (requested.length > MAX_LIST) throw new RpcArgumentError('invalid argument "fields": too many names');
    const format = optString(args, 'format') ?? 'object';
    if (format !== 'object' && format !== 'table') throw new RpcArgumentError('invalid argument "format": expected "object" or "table"');
    const { torrents, recent } = this.select(args);
    const fields = knownFields(requested);
    if (fields.length < requested.length) this.logUnknownFields(requested, fields);
    const ctx = this.ctx();
    const list = format === 'table'
      ? [fields, ...torrents.map((t) => torrentRow(t, fields, ctx))]
      : torrents.map((t) => torrentObject(t, fields, ctx));
    const out: Record<string, unknown> = { torrents: list };
    if (recent) {
      this.pruneRemoved();
      out['removed'] = this.removed.map((r) => r.id);
    }
    return { args: out };
  }

  /** Logs (once per name) requested torrent fields we do not answer: how to find what a front-end misses. */
  private logUnknownFields(requested: unknown[], known: string[]): void {
    for (const f of requested) {
      const name = typeof f === 'string' ? f : JSON.stringify(f);
      if (known.includes(name) || this.unknownLogged.has(name) || this.unknownLogged.size >= 200) continue;
      this.unknownLogged.add(name);
      this.log(`rpc: torrent-get asked for an unknown field ${JSON.stringify(name)}`);
    }
  }

  private pruneRemoved(): void {
    const limit = this.ctx().nowSec - RECENTLY_ACTIVE_SECONDS;
    while (this.removed.length > 0 && (this.removed[0]!.at < limit || this.removed.length > 1000)) this.removed.shift();
  }

  /**
   * torrent-add. With file choices (files-wanted … priority-low) or sequentialDownload, the torrent is added paused,
   * the choices applied, and only then started (unless `paused` was asked): no piece of an unwanted file is ever
   * requested. A magnet has no file list before its metadata arrives (BEP 9), so file choices on a magnet are refused
   * before anything is added; a bad file index removes the torrent this call added (never its data) and says so.
   */
  private async torrentAdd(args: Args): Promise<MethodResult> {
    const filename = optString(args, 'filename');
    const metainfo = optString(args, 'metainfo');
    const downloadDir = absoluteDir(args, 'download-dir');
    const paused = optBool(args, 'paused');
    const fileArgs = this.fileArgs(args);
    const sequential = optBool(args, 'sequentialDownload');
    if (sequential !== undefined && !this.api.setSequential) throw sequentialUnsupported();
    let source: AddSource;
    if (metainfo !== undefined) {
      const b64 = metainfo.replace(/\s+/g, '');
      if (b64 === '' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) throw new RpcArgumentError('invalid or corrupt torrent file', 'corrupt-torrent');
      source = { torrentFile: Buffer.from(b64, 'base64') };
    } else if (filename !== undefined && filename !== '') {
      if (/^magnet:/i.test(filename)) source = { magnet: filename };
      else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(filename)) {
        throw new RpcArgumentError('adding a torrent by URL is not supported: send its contents as "metainfo" or a local path as "filename"');
      } else if (!isAbsolute(filename)) throw new RpcArgumentError('torrent file path is not absolute', 'path-not-absolute');
      else source = { path: filename };
    } else {
      throw new RpcArgumentError('no filename or metainfo specified');
    }
    if (source.magnet !== undefined && fileArgs.size > 0) {
      throw new RpcArgumentError('file choices need the file list, which a magnet link does not have until its metadata arrives: '
        + 'add the .torrent instead, or add the magnet and set the files with torrent-set once its metadata is there');
    }
    const configure = fileArgs.size > 0 || sequential !== undefined;
    const added = await this.api.add(source, {
      ...(downloadDir !== undefined ? { downloadDir } : {}),
      ...(configure ? { paused: true } : paused !== undefined ? { paused } : {}),
    });
    if (!added.duplicate && configure) {
      try {
        const t = this.api.get([added.id])[0];
        if (!t) throw new BtError('NOT_FOUND', `torrent ${added.id} vanished while being added`);
        if (fileArgs.size > 0) await this.api.setFiles([t.id], this.fileChanges(t, fileArgs));
        if (sequential !== undefined) await this.api.setSequential!([t.id], sequential);
      } catch (err) {
        // Undo this call's add (the torrent is paused and has fetched nothing; its data folder is left alone).
        await this.api.remove([added.id], false).catch((e: unknown) => this.log(`rpc: torrent-add could not undo the add of ${added.id}: ${errorMessage(e)}`));
        throw err;
      }
      if (paused !== true) await this.api.start([added.id]);
    }
    const summary = { id: added.id, name: added.name, hashString: added.infoHash };
    // Transmission 3.00 answers a duplicate with result "success" too.
    return { args: { [added.duplicate ? 'torrent-duplicate' : 'torrent-added']: summary } };
  }

  /** The file-list arguments present in a request (an empty list means every file). */
  private fileArgs(args: Args): Map<(typeof FILE_KEYS)[number][1], number[]> {
    const out = new Map<(typeof FILE_KEYS)[number][1], number[]>();
    for (const [key, field] of FILE_KEYS) {
      const list = optIndexList(args, key);
      if (list !== undefined) out.set(field, list);
    }
    return out;
  }

  /** The file changes for one torrent; throws "file index out of range" (before anything changes). */
  private fileChanges(t: TorrentInfo, fileArgs: Map<(typeof FILE_KEYS)[number][1], number[]>): FileChanges {
    const changes: FileChanges = {};
    // RPC file indices count non-pad files only (pads are hidden); map them to the API's indices.
    const api = apiFileIndices(t);
    const n = api.length;
    for (const [field, list] of fileArgs) {
      const indices = list.length === 0 ? Array.from({ length: n }, (_, i) => i) : list;
      if (indices.some((i) => i < 0 || i >= n)) throw new RpcArgumentError('file index out of range', 'file-index');
      changes[field] = indices.map((i) => api[i]!);
    }
    return changes;
  }

  private async torrentSet(args: Args): Promise<MethodResult> {
    const fileArgs = this.fileArgs(args);
    const up = limitFrom(optNumber(args, 'uploadLimit', 0, MAX_KBPS), optBool(args, 'uploadLimited'));
    const down = limitFrom(optNumber(args, 'downloadLimit', 0, MAX_KBPS), optBool(args, 'downloadLimited'));
    const sequential = optBool(args, 'sequentialDownload');
    if (sequential !== undefined && !this.api.setSequential) throw sequentialUnsupported();
    // Everything else (bandwidthPriority, labels, peer-limit, seedRatio*, tracker*, …) is accepted and ignored.
    const { torrents } = this.select(args);
    if (torrents.length === 0) return {};
    if (fileArgs.size > 0) {
      const plan = torrents.map((t) => ({ id: t.id, changes: this.fileChanges(t, fileArgs) }));
      for (const p of plan) await this.api.setFiles([p.id], p.changes);
    }
    if (up !== undefined || down !== undefined) {
      await this.api.setLimits(torrents.map((t) => t.id), {
        ...(up !== undefined ? { uploadLimit: up } : {}), ...(down !== undefined ? { downloadLimit: down } : {}),
      });
    }
    if (sequential !== undefined) await this.api.setSequential!(torrents.map((t) => t.id), sequential);
    return {};
  }

  private async torrentRemove(args: Args): Promise<MethodResult> {
    const deleteData = optBool(args, 'delete-local-data') ?? false;
    const { torrents } = this.select(args);
    if (torrents.length === 0) return {};
    await this.api.remove(torrents.map((t) => t.id), deleteData);
    const at = this.ctx().nowSec;
    for (const t of torrents) this.removed.push({ id: t.id, at });
    this.pruneRemoved();
    return {};
  }

  /** torrent-set-location {ids, location, move}: `location` must be an absolute path (as in Transmission). */
  private async torrentSetLocation(args: Args): Promise<MethodResult> {
    const location = optString(args, 'location');
    if (location === undefined || location === '') throw new RpcArgumentError('missing argument "location"');
    if (!location.startsWith('/')) throw new RpcArgumentError('invalid argument "location": expected an absolute path', 'path-not-absolute');
    const move = optBool(args, 'move') ?? false;
    const { torrents } = this.select(args);
    if (torrents.length === 0) return {};
    await this.api.setLocation(torrents.map((t) => t.id), location, move);
    return {};
  }

  private async sessionGet(args: Args): Promise<MethodResult> {
    const fields = own(args, 'fields');
    if (fields !== undefined && (!Array.isArray(fields) || fields.length > MAX_LIST)) {
      throw new RpcArgumentError('invalid argument "fields": expected an array of names');
    }
    const wanted = fields === undefined ? undefined : new Set(fields.filter((f): f is string => typeof f === 'string'));
    const settings = this.api.getSettings();
    let free = -1;
    if (wanted === undefined || wanted.has('download-dir-free-space')) {
      try { free = await this.freeSpace(settings.downloadDir); } catch { free = -1; }
    }
    const all = sessionObject(settings, { sessionId: this.opts.sessionId ?? '', freeSpace: free });
    if (wanted === undefined) return { args: all };
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(all)) if (wanted.has(k)) out[k] = all[k];
    return { args: out };
  }

  private async sessionSet(args: Args): Promise<MethodResult> {
    const changes: Partial<SessionSettings> = {};
    const dir = absoluteDir(args, 'download-dir');
    if (dir !== undefined) changes.downloadDir = dir;
    const down = limitFrom(optNumber(args, 'speed-limit-down', 0, MAX_KBPS), optBool(args, 'speed-limit-down-enabled'));
    if (down !== undefined) changes.downloadLimit = down;
    const up = limitFrom(optNumber(args, 'speed-limit-up', 0, MAX_KBPS), optBool(args, 'speed-limit-up-enabled'));
    if (up !== undefined) changes.uploadLimit = up;
    const port = optNumber(args, 'peer-port', 1, 65535);
    if (port !== undefined) changes.port = port;
    // One number per queue: 0 is Transmission's *-queue-enabled false (no limit); enabling a queue that was off
    // without a size takes Transmission's default size (5 downloads, 10 seeds).
    const current = this.api.getSettings();
    const dq = queueSize(optNumber(args, 'download-queue-size', 0, 100_000), optBool(args, 'download-queue-enabled'),
      current.maxActiveDownloads, 5);
    if (dq !== undefined) changes.maxActiveDownloads = dq;
    const sq = queueSize(optNumber(args, 'seed-queue-size', 0, 100_000), optBool(args, 'seed-queue-enabled'),
      current.maxActiveSeeds, 10);
    if (sq !== undefined) changes.maxActiveSeeds = sq;
    const lsd = optBool(args, 'lpd-enabled');
    if (lsd !== undefined) changes.lsd = lsd;
    const pex = optBool(args, 'pex-enabled');
    if (pex !== undefined) changes.pex = pex;
    const utp = optBool(args, 'utp-enabled');
    if (utp !== undefined) changes.utp = utp;
    const dht = optBool(args, 'dht-enabled');
    if (dht !== undefined) changes.dht = dht;
    const bootstrap = optBootstrapList(args, 'bitpeer-dht-bootstrap');
    if (bootstrap !== undefined) changes.dhtBootstrap = bootstrap;
    const pg = optNumber(args, 'peer-limit-global', 1, 100_000);
    if (pg !== undefined) changes.peerLimitGlobal = pg;
    const pt = optNumber(args, 'peer-limit-per-torrent', 1, 100_000);
    if (pt !== undefined) changes.peerLimitPerTorrent = pt;
    const enc = optString(args, 'encryption');
    if (enc !== undefined) {
      const policy = fromTransmissionEncryption(enc);
      if (!policy) throw new RpcArgumentError('invalid argument "encryption": expected "required", "preferred" or "tolerated"');
      changes.encryption = policy;
    }
    // Other keys (alt-speed-*, blocklist-*, scripts, …) are accepted and ignored.
    if (Object.keys(changes).length > 0) await this.api.setSettings(changes);
    return {};
  }

  private sessionClose(): MethodResult {
    const shutdown = this.api.shutdown?.bind(this.api);
    if (!shutdown) throw new RpcArgumentError('session-close is not supported by this daemon', 'unsupported-method');
    return {
      afterReply: () => {
        shutdown().catch((err: unknown) => this.log(`rpc: session-close failed: ${errorMessage(err)}`));
      },
    };
  }

  /** port-test: never open (we contact no outside port checker); 4.1's `ip_protocol` ("ipv4"/"ipv6") is echoed. */
  private async portTest(args: Args): Promise<MethodResult> {
    const ip = optString(args, 'ip_protocol');
    if (ip !== undefined && ip !== 'ipv4' && ip !== 'ipv6') throw new RpcArgumentError('invalid ip protocol string');
    return { args: { 'port-is-open': false, ...(ip !== undefined ? { ip_protocol: ip } : {}) } };
  }

  private async freeSpaceMethod(args: Args): Promise<MethodResult> {
    const path = optString(args, 'path');
    if (path === undefined) throw new RpcArgumentError('directory path argument is missing');
    if (!isAbsolute(path)) throw new RpcArgumentError('directory path is not absolute', 'path-not-absolute');
    try {
      return { args: { path, 'size-bytes': Math.round(await this.freeSpace(path)) } };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { args: { path, 'size-bytes': -1 }, failure: { kind: 'system', message: code === 'ENOENT' ? 'No such file or directory' : errorMessage(err) } };
    }
  }
}

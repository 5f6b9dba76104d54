/**
 * Test harness for the `persist` tier: real `bitpeer daemon` processes on 127.0.0.1, driven over their Transmission
 * RPC with {@link RpcClient} (the 409 handshake included), fed by real `bitpeer seed` processes whose .torrent
 * announces to the seed's own embedded tracker (so the daemon finds the seed without a --peer option).
 *
 * Invariants: every wait is bounded and says what it waited for; every process belongs to a {@link Scope} and is
 * ended by its PID; every socket is bound to / dialled on 127.0.0.1.
 * BEP: none (test tooling).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { RpcClient } from '../../src/api/rpc/client.js';
import { parseTorrent, type Metainfo } from '../../src/metainfo/index.js';
import { bitpeerBin, bitpeerCommand, type Child, type JsonEvent, type Scope } from '../helpers/proc.js';
import { delay, freePort } from '../helpers/trackers.js';

export const MiB = 1024 * 1024;
export const KiB = 1024;

/** Transmission's `status` numbers. */
export const STATUS = { STOPPED: 0, CHECK_WAIT: 1, CHECK: 2, DOWNLOAD_WAIT: 3, DOWNLOAD: 4, SEED_WAIT: 5, SEED: 6 } as const;

/** `n` distinct ports free on 127.0.0.1 for TCP and UDP. */
export async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n && tries < n * 10; tries++) ports.add(await freePort());
  assert.equal(ports.size, n, 'found enough free ports');
  return [...ports];
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number,
  what: string, context?: () => string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}${context ? `\n${context()}` : ''}`);
    }
    await delay(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Torrents and seeds.

/** Runs `bitpeer create` (announce URL = the seed's embedded tracker on 127.0.0.1:seedPort) and parses the result. */
export async function createTorrent(dataPath: string, out: string, seedPort: number, pieceLength = '256K'): Promise<Metainfo> {
  const r = spawnSync(process.execPath, [bitpeerBin(), 'create', dataPath, '-o', out, '--announce-host', '127.0.0.1',
    '--port', String(seedPort), '--piece-length', pieceLength, '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `bitpeer create failed:\n${r.stdout}\n${r.stderr}`);
  return parseTorrent(await readFile(out));
}

/** Starts `bitpeer seed` and waits until it is seeding. */
export async function startSeed(scope: Scope, torrent: string, data: string, port: number, uploadLimit: string, name = `seed:${port}`): Promise<Child> {
  const seed = scope.bitpeer(['seed', torrent, data, '--port', String(port), '--bind', '127.0.0.1', '--no-lsd',
    '--upload-limit', uploadLimit, '--json'], { name });
  await seed.waitFor((e) => e.event === 'state' && e.state === 'seeding', 60_000, 'the seed seeding');
  return seed;
}

/** What a seed uploaded, from its own reports. */
export interface SeedUpload {
  /** Sum of `peer-totals` uploaded (printed at exit), undefined if the seed printed none. */
  totals: number | undefined;
  /** The largest `uploaded` of its `progress` events (the torrent's running total, sampled every second). */
  progress: number;
  /** Sum of `peer-disconnect` uploaded (one per ended connection). */
  disconnects: number;
  /** Per connection: peer, uploaded (from peer-totals). */
  perPeer: Array<{ peer: string; uploaded: number }>;
}

/** Stops a seed cleanly and reads how much it uploaded. */
export async function stopSeed(seed: Child): Promise<SeedUpload> {
  await seed.stop(10_000);
  const totalsEvent = [...seed.events].reverse().find((e) => e.event === 'peer-totals');
  const perPeer = Array.isArray(totalsEvent?.peers)
    ? (totalsEvent.peers as Array<{ peer: string; uploaded: number }>).map((p) => ({ peer: p.peer, uploaded: Number(p.uploaded) }))
    : [];
  let progress = 0;
  let disconnects = 0;
  for (const e of seed.events) {
    if (e.event === 'progress' && typeof e.uploaded === 'number') progress = Math.max(progress, e.uploaded);
    if (e.event === 'peer-disconnect' && typeof e.uploaded === 'number') disconnects += e.uploaded;
  }
  return { totals: totalsEvent ? perPeer.reduce((s, p) => s + p.uploaded, 0) : undefined, progress, disconnects, perPeer };
}

/** The best number for "bytes uploaded": peer-totals when printed, else the other two. */
export function uploadedOf(u: SeedUpload): number {
  return u.totals ?? Math.max(u.progress, u.disconnects);
}

// ---------------------------------------------------------------------------------------------------------------
// Daemons.

/** How to start one daemon. The same options restart it on the same state directory and ports. */
export interface DaemonSpec {
  stateDir: string;
  port: number;
  rpcPort: number;
  downloadDir?: string;
  extraArgs?: string[];
  name?: string;
  /** Extra environment variables for the daemon (e.g. HOME, XDG_DOWNLOAD_DIR). */
  env?: Record<string, string>;
  /**
   * Wraps the command: receives `[node, ...flags, bin/bitpeer.js, 'daemon', ...]` and returns [command, args] to spawn
   * (e.g. inside `unshare -m sh -c '...; exec "$@"'`). The wrapped process must exec the daemon (same PID).
   */
  wrap?: (argv: string[]) => [string, string[]];
}

/** A running daemon. */
export interface DaemonHandle {
  child: Child;
  rpc: RpcClient;
  spec: DaemonSpec;
}

/** The daemon's command line (with the shebang's Node flags) and environment, as the `bitpeer` command runs it. */
export function daemonCommand(spec: DaemonSpec): { argv: string[]; env: Record<string, string> } {
  return bitpeerCommand(['daemon', '--state-dir', spec.stateDir, '--port', String(spec.port), '--bind', '127.0.0.1',
    '--rpc-port', String(spec.rpcPort), '--no-lsd', '--json',
    ...(spec.downloadDir !== undefined ? ['--download-dir', spec.downloadDir] : []), ...(spec.extraArgs ?? [])]);
}

/** Spawns `bitpeer daemon` and waits for its "daemon running" log line. */
export async function startDaemon(scope: Scope, spec: DaemonSpec, timeoutMs = 30_000): Promise<DaemonHandle> {
  const { argv, env } = daemonCommand(spec);
  const [cmd, args] = spec.wrap ? spec.wrap(argv) : [argv[0]!, argv.slice(1)];
  const child = scope.spawn(cmd, args, { name: spec.name ?? `daemon:${spec.port}`, env: { ...env, ...(spec.env ?? {}) } });
  await child.waitFor((e) => e.event === 'log' && typeof e.message === 'string' && e.message.startsWith('daemon running'),
    timeoutMs, 'the "daemon running" log line');
  return { child, rpc: new RpcClient({ port: spec.rpcPort, timeoutMs: 15_000 }), spec };
}

/** SIGTERM, and require a clean exit 0 within `timeoutMs`. */
export async function stopDaemonCleanly(d: DaemonHandle, timeoutMs = 20_000): Promise<void> {
  d.child.signal('SIGTERM');
  const info = await d.child.exited(timeoutMs);
  assert.deepEqual(info, { code: 0, signal: null }, `the daemon did not stop cleanly\n${d.child.describe()}`);
}

/** The daemon's log lines (the `log` events of --json), in order. */
export function logLines(child: Child): string[] {
  return child.events.filter((e) => e.event === 'log' && typeof e.message === 'string').map((e) => String(e.message));
}

/** The start-up plan line of a restored torrent: "<name>: N pieces trusted from resume data, M to check, changed files: K". */
export interface StartupPlan { trusted: number; toCheck: number; changedFiles: number; line: string }

/** Parses the start-up plan line for torrent `name`; undefined if there is none. */
export function startupPlan(child: Child, name: string): StartupPlan | undefined {
  const re = /: (\d+) pieces trusted from resume data, (\d+) to check, changed files: (\d+)$/;
  for (const line of logLines(child)) {
    if (!line.replace(/^#\d+ /, '').startsWith(`${name}: `)) continue; // "#3 name: ..." (older logs: "name: ...")
    const m = re.exec(line);
    if (m) return { trusted: Number(m[1]), toCheck: Number(m[2]), changedFiles: Number(m[3]), line };
  }
  return undefined;
}

/** Events of one kind for one torrent. */
export function eventsOf(child: Child, event: string, infoHash?: string): JsonEvent[] {
  return child.events.filter((e) => e.event === event && (infoHash === undefined || e.infoHash === infoHash));
}

/** The torrent-get fields the tests read. */
export interface RpcTorrent {
  id: number; name: string; hashString: string; status: number; percentDone: number; error: number; errorString: string;
  totalSize: number; sizeWhenDone: number; leftUntilDone: number; downloadedEver: number; uploadedEver: number;
  downloadDir: string; peersConnected: number; haveValid: number; pieceCount: number; pieces: string;
  files: Array<{ name: string; length: number; bytesCompleted: number }>;
  fileStats: Array<{ wanted: boolean; priority: number; bytesCompleted: number }>;
  uploadLimit: number; uploadLimited: boolean; downloadLimit: number; downloadLimited: boolean;
}

export const FIELDS = ['id', 'name', 'hashString', 'status', 'percentDone', 'error', 'errorString', 'totalSize', 'sizeWhenDone',
  'leftUntilDone', 'downloadedEver', 'uploadedEver', 'downloadDir', 'peersConnected', 'haveValid', 'pieceCount', 'pieces',
  'files', 'fileStats', 'uploadLimit', 'uploadLimited', 'downloadLimit', 'downloadLimited'];

/** torrent-get for every torrent (or those of `ids`). */
export async function torrents(rpc: RpcClient, ids?: Array<number | string>, fields = FIELDS): Promise<RpcTorrent[]> {
  const args = await rpc.call('torrent-get', { fields, ...(ids ? { ids } : {}) });
  return args['torrents'] as RpcTorrent[];
}

/** torrent-get for one torrent by info-hash; undefined if the daemon does not have it. */
export async function torrent(rpc: RpcClient, hash: string, fields = FIELDS): Promise<RpcTorrent | undefined> {
  return (await torrents(rpc, [hash], fields))[0];
}

/** Adds a .torrent file's bytes (base64 `metainfo`); returns the id. */
export async function addTorrent(rpc: RpcClient, file: string, extra: Record<string, unknown> = {}): Promise<number> {
  const args = await rpc.call('torrent-add', { metainfo: (await readFile(file)).toString('base64'), ...extra });
  const added = (args['torrent-added'] ?? args['torrent-duplicate']) as { id: number } | undefined;
  assert.ok(added && typeof added.id === 'number', `torrent-add answered ${JSON.stringify(args)}`);
  return added.id;
}

/** Waits until the torrent is complete (percentDone 1, leftUntilDone 0) and seeding. */
export async function waitComplete(d: DaemonHandle, hash: string, timeoutMs: number, what = 'the download to complete'): Promise<RpcTorrent> {
  let last: RpcTorrent | undefined;
  return waitUntil(async () => {
    const t = await torrent(d.rpc, hash);
    last = t;
    if (t && t.error !== 0) throw new Error(`torrent in error: ${t.errorString}`);
    return t && t.leftUntilDone === 0 && t.percentDone === 1 && t.status === STATUS.SEED ? t : undefined;
  }, timeoutMs, what, () => `last torrent-get: ${last ? JSON.stringify({ status: last.status, percentDone: last.percentDone,
    leftUntilDone: last.leftUntilDone, error: last.error, errorString: last.errorString, peersConnected: last.peersConnected }) : 'none'}\n` +
    d.child.describe(12), 200);
}

/** Bytes of the pieces in `pieces` (piece indexes) of `meta`. */
export function pieceBytes(meta: Metainfo, pieces: Iterable<number>): number {
  let sum = 0;
  for (const i of pieces) sum += Math.min(meta.pieceLength, meta.totalLength - i * meta.pieceLength);
  return sum;
}

/** The pieces that hold at least one byte of file `fileIndex`. */
export function piecesOfFile(meta: Metainfo, fileIndex: number): number[] {
  const f = meta.files[fileIndex]!;
  if (f.length === 0) return [];
  const first = Math.floor(f.offset / meta.pieceLength);
  const last = Math.floor((f.offset + f.length - 1) / meta.pieceLength);
  return Array.from({ length: last - first + 1 }, (_, k) => first + k);
}

/** The index of the file whose relative path ('/'-joined, without the torrent name) is `rel`. */
export function fileIndex(meta: Metainfo, rel: string): number {
  const i = meta.files.findIndex((f) => f.path.slice(1).join('/') === rel);
  assert.ok(i >= 0, `no file ${rel} in ${meta.name}: ${meta.files.map((f) => f.relPath).join(', ')}`);
  return i;
}

/** Decodes Transmission's `pieces` (base64 bitfield, bit 7 of byte 0 = piece 0) into a set of piece indexes. */
export function havePieces(b64: string, count: number): Set<number> {
  const bytes = Buffer.from(b64, 'base64');
  const out = new Set<number>();
  for (let i = 0; i < count; i++) if (((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1) out.add(i);
  return out;
}

export { seededRng as prng } from '../../src/util/seeded-rng.js';

/** "12.34 MiB". */
export function mibText(n: number): string {
  return `${(n / MiB).toFixed(2)} MiB`;
}

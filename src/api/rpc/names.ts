/**
 * The name map between the legacy Transmission RPC (kebab-case methods; camelCase torrent fields; kebab-case session
 * keys and arguments) and Transmission 4.1's JSON-RPC spelling (snake_case everywhere). Pure tables and functions.
 *
 * Invariants:
 * - {@link snakeName} is the one legacy → 4.1 rule: camelCase humps and hyphens become underscores, everything lower
 *   case ("hashString" → "hash_string", "isUTP" → "is_utp", "file-count" → "file_count"), with the renames 4.1 made
 *   on top of the spelling ({@link RENAMED}: cache-size-mb → cache_size_mib);
 * - the reverse direction is never guessed: every 4.1 name we accept is the image of a legacy name we know (a method,
 *   a torrent field, a session key, a method argument); another snake_case name is passed on unchanged, so it is
 *   treated exactly as an unknown legacy name would be (skipped, or accepted and ignored); a legacy spelling (with a
 *   capital or a hyphen) is dropped: each protocol answers its own names only;
 * - value spellings that changed in 4.1 are here too: `ids: "recently_active"`, encryption `allowed` (legacy
 *   `tolerated`), torrent-get `format: "objects"` (legacy `object`).
 * BEP: none (Transmission's docs/rpc-spec.md at 4.1.0, its section 5 "4.1.0" table, and api-compat's key list).
 */
import { RPC_METHOD_NAMES } from './methods.js';
import {
  DAEMON_VERSION_41, RPC_VERSION_41, RPC_VERSION_MINIMUM_41, RPC_VERSION_SEMVER_41, SESSION_FIELDS, TORRENT_FIELDS,
} from './fields.js';

/** 4.1 renames beyond the change of spelling. */
const RENAMED: ReadonlyMap<string, string> = new Map([['cache-size-mb', 'cache_size_mib']]);

/** A legacy name (method, field, key or argument) in Transmission 4.1's snake_case. */
export function snakeName(legacy: string): string {
  const renamed = RENAMED.get(legacy);
  if (renamed !== undefined) return renamed;
  return legacy.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toLowerCase();
}

function reverse(names: readonly string[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const n of names) out.set(snakeName(n), n);
  return out;
}

const IDS = ['ids'];
const FILE_ARGS = ['files-wanted', 'files-unwanted', 'priority-high', 'priority-normal', 'priority-low'];
/** The arguments each method reads or knowingly accepts and ignores (legacy spelling). */
const METHOD_ARGS: Readonly<Record<string, readonly string[]>> = {
  'torrent-add': ['filename', 'metainfo', 'download-dir', 'paused', ...FILE_ARGS, 'sequentialDownload', 'cookies',
    'labels', 'peer-limit', 'bandwidthPriority'],
  'torrent-set': [...IDS, ...FILE_ARGS, 'uploadLimit', 'uploadLimited', 'downloadLimit', 'downloadLimited',
    'sequentialDownload', 'bandwidthPriority', 'honorsSessionLimits', 'labels', 'location', 'peer-limit', 'queuePosition',
    'seedIdleLimit', 'seedIdleMode', 'seedRatioLimit', 'seedRatioMode', 'trackerAdd', 'trackerList', 'trackerRemove',
    'trackerReplace', 'group'],
  'torrent-get': [...IDS, 'fields', 'format'],
  'torrent-remove': [...IDS, 'delete-local-data'],
  'torrent-set-location': [...IDS, 'location', 'move'],
  'torrent-rename-path': [...IDS, 'path', 'name'],
  'session-get': ['fields'],
  'session-set': SESSION_FIELDS,
  'free-space': ['path'],
  'port-test': ['ip_protocol'], // 4.1's own name in both protocols, as in Transmission
};

const METHODS = reverse(RPC_METHOD_NAMES);
const TORRENT = reverse(TORRENT_FIELDS);
const SESSION = reverse(SESSION_FIELDS);
const ARGS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map(
  Object.entries(METHOD_ARGS).map(([m, names]) => [m, reverse(names)]),
);

/** The legacy method name of a 4.1 one ("torrent_get" → "torrent-get"), or undefined (not a 4.1 method name we know). */
export function legacyMethod(name: string): string | undefined {
  return METHODS.get(name);
}

/** A name in a legacy spelling (a capital or a hyphen), which JSON-RPC does not take. */
const isLegacySpelling = (name: string): boolean => /[A-Z-]/.test(name);

/** The legacy name of a 4.1 torrent field ("hash_string" → "hashString"); another snake_case name as is; else undefined. */
export function legacyTorrentField(name: string): string | undefined {
  return TORRENT.get(name) ?? (isLegacySpelling(name) ? undefined : name);
}

/** The legacy name of a 4.1 session key ("peer_port" → "peer-port"); another snake_case name as is; else undefined. */
export function legacySessionField(name: string): string | undefined {
  return SESSION.get(name) ?? (isLegacySpelling(name) ? undefined : name);
}

/** A field list with each name mapped (names that map to nothing left out; non-strings kept, for methods.ts to judge). */
const mapList = (v: unknown, f: (s: string) => string | undefined): unknown => {
  if (!Array.isArray(v)) return v;
  const out: unknown[] = [];
  for (const x of v) {
    const y = typeof x === 'string' ? f(x) : x;
    if (y !== undefined) out.push(y);
  }
  return out;
};

/** A 4.1 method's params in the legacy spelling (keys, field lists and the renamed values), for methods.ts. */
export function legacyParams(method: string, params: Record<string, unknown>): Record<string, unknown> {
  const names = ARGS.get(method);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    const legacy = names?.get(key) ?? (isLegacySpelling(key) ? undefined : key);
    if (legacy === undefined) continue; // a legacy spelling: not a 4.1 argument, ignored
    let v = value;
    // Each protocol knows only its own spelling of these values: the other one is swapped in, so it stays unknown.
    if (legacy === 'ids') v = value === 'recently_active' ? 'recently-active' : value === 'recently-active' ? 'recently_active' : value;
    else if (legacy === 'fields') v = mapList(value, method === 'torrent-get' ? legacyTorrentField : legacySessionField);
    else if (legacy === 'format' && value === 'objects') v = 'object';
    else if (legacy === 'encryption') v = value === 'allowed' ? 'tolerated' : value === 'tolerated' ? 'allowed' : value;
    Object.defineProperty(out, legacy, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every key of a legacy response value in 4.1's spelling, deeply (keys only: strings in arrays are data). */
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (!isPlainObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    Object.defineProperty(out, snakeName(k), { value: snakeKeys(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A torrent object in 4.1's shape: `wanted` is booleans (legacy: 0/1, as Transmission 3.00 and 4.0.2+ send it). */
function torrent41(t: unknown): unknown {
  if (!isPlainObject(t)) return t;
  const o = snakeKeys(t) as Record<string, unknown>;
  if (Array.isArray(o['wanted'])) o['wanted'] = o['wanted'].map((w) => w === 1 || w === true);
  return o;
}

/** A legacy method's response arguments in 4.1's spelling and value shapes. */
export function snakeResult(method: string, args: Record<string, unknown>): Record<string, unknown> {
  if (method === 'torrent-get') {
    const out = snakeKeys({ ...args, torrents: undefined }) as Record<string, unknown>;
    const list = Array.isArray(args['torrents']) ? args['torrents'] : [];
    if (list.length > 0 && Array.isArray(list[0])) {
      // table format: the first row holds the field names, the others values in that order
      const header = (list[0] as unknown[]).map((f) => (typeof f === 'string' ? snakeName(f) : f));
      const w = header.indexOf('wanted');
      out['torrents'] = [header, ...list.slice(1).map((row) => {
        if (!Array.isArray(row)) return row;
        const r = row.map(snakeKeys);
        if (w >= 0 && Array.isArray(r[w])) r[w] = (r[w] as unknown[]).map((x) => x === 1 || x === true);
        return r;
      })];
    } else {
      out['torrents'] = list.map(torrent41);
    }
    return out;
  }
  const out = snakeKeys(args) as Record<string, unknown>;
  if (method === 'session-get') {
    if (out['encryption'] === 'tolerated') out['encryption'] = 'allowed';
    // The version this protocol is (only the keys asked for are there).
    const versions: Record<string, unknown> = {
      rpc_version: RPC_VERSION_41, rpc_version_minimum: RPC_VERSION_MINIMUM_41, rpc_version_semver: RPC_VERSION_SEMVER_41,
      version: DAEMON_VERSION_41,
    };
    for (const [k, v] of Object.entries(versions)) if (Object.hasOwn(out, k)) out[k] = v;
  }
  return out;
}

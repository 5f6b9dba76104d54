/**
 * The two RPC protocols as test drivers, so one method suite runs over both: the legacy Transmission protocol
 * (`{ method, arguments, tag }` → `{ result, arguments }`) and JSON-RPC 2.0 with Transmission 4.1's snake_case names.
 * A test is written with legacy names; the JSON-RPC driver spells the request the 4.1 way and normalises the reply
 * to `{ result, arguments }` (an error's `data.error_string`, else its `message`, as `result`).
 *
 * Invariant: this file's snake_case rule is written here, independently of src/api/rpc/names.ts, so a wrong name map
 * fails the suite instead of agreeing with itself; JSON-RPC-only tests also spell the spec's names literally.
 * BEP: none (test tooling).
 */

/** A reply in the legacy shape, whichever protocol carried it. */
export interface RpcReply { result: string; arguments: Record<string, unknown> }

export interface RpcProtocol {
  name: 'legacy' | 'jsonrpc';
  /** A legacy name (method, field, argument, response key) as this protocol spells it. */
  n(legacy: string): string;
  /** The request body for `method` (legacy name) with `args` (legacy names). */
  body(method: string, args?: Record<string, unknown>): unknown;
  /** The parsed response body, normalised. */
  reply(json: unknown): RpcReply;
  /** `wanted` as this protocol sends it (legacy 0/1, 4.1 booleans). */
  wanted(w: boolean): number | boolean;
}

/** Transmission 4.1's rule, as its rpc-spec lists the names: humps and hyphens → "_", lower case; one rename. */
function snake(legacy: string): string {
  if (legacy === 'cache-size-mb') return 'cache_size_mib';
  let out = '';
  for (let i = 0; i < legacy.length; i++) {
    const c = legacy[i]!;
    const prev = legacy[i - 1];
    if (c === '-') out += '_';
    else if (c >= 'A' && c <= 'Z') out += (prev !== undefined && /[a-z0-9]/.test(prev) ? '_' : '') + c.toLowerCase();
    else out += c;
  }
  return out;
}

function snakeArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    let value = v;
    if (k === 'fields' && Array.isArray(v)) value = v.map((f) => (typeof f === 'string' ? snake(f) : f));
    if (k === 'ids' && v === 'recently-active') value = 'recently_active';
    if (k === 'encryption' && v === 'tolerated') value = 'allowed';
    if (k === 'format' && v === 'object') value = 'objects';
    out[snake(k)] = value;
  }
  return out;
}

export const LEGACY: RpcProtocol = {
  name: 'legacy',
  n: (legacy) => legacy,
  body: (method, args) => (args === undefined ? { method } : { method, arguments: args }),
  reply: (json) => json as RpcReply,
  wanted: (w) => (w ? 1 : 0),
};

let nextId = 1;
export const JSONRPC: RpcProtocol = {
  name: 'jsonrpc',
  n: snake,
  body: (method, args) => ({ jsonrpc: '2.0', method: snake(method), ...(args === undefined ? {} : { params: snakeArgs(args) }), id: nextId++ }),
  reply: (json) => {
    const o = json as { jsonrpc?: unknown; result?: Record<string, unknown>; error?: { message: string; data?: { error_string?: string; result?: Record<string, unknown> } } };
    if (o.jsonrpc !== '2.0') throw new Error(`not a JSON-RPC 2.0 response: ${JSON.stringify(json)}`);
    if (o.error) return { result: o.error.data?.error_string ?? o.error.message, arguments: o.error.data?.result ?? {} };
    return { result: 'success', arguments: o.result ?? {} };
  },
  wanted: (w) => w,
};

export const PROTOCOLS: readonly RpcProtocol[] = [LEGACY, JSONRPC];

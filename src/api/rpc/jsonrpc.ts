/**
 * The RPC's per-request protocol switch, and JSON-RPC 2.0 as Transmission 4.1 speaks it: a translation layer over
 * methods.ts (the single source of behaviour), which still speaks the legacy names. Transport-free: text in, the
 * JSON value to send (or nothing) out; server.ts does HTTP.
 *
 * The switch: a JSON array (a batch) or an object with a `jsonrpc` member is JSON-RPC; anything else is the legacy
 * protocol (`{ method, arguments, tag }`). A body that is not JSON at all gets a JSON-RPC parse error if its text
 * carries a `"jsonrpc"` member name, else the legacy answer ("no method name").
 *
 * Invariants (JSON-RPC):
 * - a request answers `{ jsonrpc: "2.0", result | error, id }`, the id echoed as sent (string, number or null); a
 *   request whose id is of another type, or that is not an object, answers -32600 with id null;
 * - a notification (no `id` member) gets no response; one of a method without side effects is not even run (as in
 *   Transmission); a body with nothing to answer yields `undefined` (HTTP 204 in server.ts);
 * - a batch answers an array of the responses in request order, notifications left out; an empty batch is one
 *   -32600 (JSON-RPC 2.0 §6); at most {@link MAX_BATCH} requests, else one -32600 and nothing runs;
 * - errors: -32700 parse, -32600 invalid request, -32601 method not found (and methods bitpeer does not support),
 *   -32602 invalid params (params by position included: Transmission accepts only an object), -32603 internal; a
 *   method's own failure uses Transmission 4.1's codes (3 path not absolute, 5 system error, 6 file index out of
 *   range, 9 corrupt torrent), `message` the code's fixed text and `data.error_string` the specific reason (also as
 *   `data.errorString`: Transmission's server sends the first, its own 4.1 web client and the 4.1.0 spec text read
 *   the second), plus `data.result` when the method still reports values (free_space's path and size -1).
 * BEP: none (JSON-RPC 2.0, https://www.jsonrpc.org/specification; Transmission's docs/rpc-spec.md at 4.1).
 */
import { errorMessage } from '../../util/errors.js';
import { READ_ONLY_METHODS, type RpcCallResult, type RpcFailureKind, type RpcMethods } from './methods.js';
import { legacyMethod, legacyParams, snakeName, snakeResult } from './names.js';

/** JSON-RPC 2.0's error codes, and Transmission 4.1's own (libtransmission/rpcimpl.h, JsonRpc::Error). */
export const JSONRPC_ERROR = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  SET_ANNOUNCE_LIST: 1,
  INVALID_TRACKER_LIST: 2,
  PATH_NOT_ABSOLUTE: 3,
  UNRECOGNIZED_INFO: 4,
  SYSTEM_ERROR: 5,
  FILE_IDX_OOR: 6,
  PIECE_IDX_OOR: 7,
  HTTP_ERROR: 8,
  CORRUPT_TORRENT: 9,
} as const;

type ErrorCode = (typeof JSONRPC_ERROR)[keyof typeof JSONRPC_ERROR];

/** The fixed `message` of each code (Transmission's wording). */
const MESSAGES: ReadonlyMap<number, string> = new Map<number, string>([
  [-32700, 'Parse error'], [-32600, 'Invalid Request'], [-32601, 'Method not found'], [-32602, 'Invalid params'],
  [-32603, 'Internal error'], [1, 'error setting announce list'], [2, 'Invalid tracker list'],
  [3, 'path is not absolute'], [4, 'unrecognized info'], [5, 'system error'], [6, 'file index out of range'],
  [7, 'piece index out of range'], [8, 'HTTP error from backend service'], [9, 'invalid or corrupt torrent file'],
]);

const CODE_OF_KIND: Readonly<Record<RpcFailureKind | 'method-not-found', ErrorCode>> = {
  'invalid-params': JSONRPC_ERROR.INVALID_PARAMS,
  'path-not-absolute': JSONRPC_ERROR.PATH_NOT_ABSOLUTE,
  'file-index': JSONRPC_ERROR.FILE_IDX_OOR,
  'corrupt-torrent': JSONRPC_ERROR.CORRUPT_TORRENT,
  'unrecognized-info': JSONRPC_ERROR.UNRECOGNIZED_INFO,
  system: JSONRPC_ERROR.SYSTEM_ERROR,
  'unsupported-method': JSONRPC_ERROR.METHOD_NOT_FOUND,
  'method-not-found': JSONRPC_ERROR.METHOD_NOT_FOUND,
  internal: JSONRPC_ERROR.INTERNAL_ERROR,
};

/** Most requests in one batch (the body limit bounds it too). */
export const MAX_BATCH = 1000;

export type JsonRpcId = string | number | null;

export interface JsonRpcError {
  code: number;
  message: string;
  data?: { error_string?: string; errorString?: string; result?: Record<string, unknown> };
}
export type JsonRpcResponse =
  | { jsonrpc: '2.0'; result: Record<string, unknown>; id: JsonRpcId }
  | { jsonrpc: '2.0'; error: JsonRpcError; id: JsonRpcId };

/** What to send for one HTTP body: `body` undefined means nothing (HTTP 204); `afterReply` runs once it is sent. */
export interface RpcAnswer {
  body: unknown;
  afterReply?: () => void;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function errorResponse(id: JsonRpcId, code: ErrorCode, errorString?: string, result?: Record<string, unknown>): JsonRpcResponse {
  const data: NonNullable<JsonRpcError['data']> = {};
  if (errorString !== undefined && errorString !== '') {
    data.error_string = errorString;
    data.errorString = errorString;
  }
  if (result !== undefined && Object.keys(result).length > 0) data.result = result;
  const error: JsonRpcError = { code, message: MESSAGES.get(code) ?? 'error' };
  if (Object.keys(data).length > 0) error.data = data;
  return { jsonrpc: '2.0', error, id };
}

function isValidId(v: unknown): v is JsonRpcId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** A methods.ts message in 4.1's spelling: the argument it names, and the encryption value renamed in 4.1. */
function message41(message: string): string {
  return message
    .replace(/argument "([^"]+)"/g, (_m, name: string) => `argument "${snakeName(name)}"`)
    .replace(/"tolerated"/g, '"allowed"');
}

interface SingleAnswer { response?: JsonRpcResponse; afterReply?: () => void }

/** One JSON-RPC request (an element of a batch, or the whole body). */
async function answerOne(methods: RpcMethods, request: unknown, inBatch: boolean): Promise<SingleAnswer> {
  const invalid = (why: string, id: JsonRpcId = null): SingleAnswer => ({ response: errorResponse(id, JSONRPC_ERROR.INVALID_REQUEST, why) });
  if (!isObject(request)) return invalid(inBatch ? 'request must be an Object' : 'request must be an Array or Object');
  if (request['jsonrpc'] !== '2.0') return invalid('JSON-RPC version is not 2.0');
  const hasId = Object.hasOwn(request, 'id');
  const id = request['id'];
  if (hasId && !isValidId(id)) return invalid('id type must be String, Number, or Null');
  const reply = (r: JsonRpcResponse): SingleAnswer => (hasId ? { response: r } : {});
  const rid = (hasId ? id : null) as JsonRpcId;
  const name = request['method'];
  // Not a Request object at all: answered even without an id (JSON-RPC 2.0 §7's `"method": 1` example).
  if (typeof name !== 'string') return { response: errorResponse(rid, JSONRPC_ERROR.INVALID_REQUEST, 'method must be a String') };
  const method = legacyMethod(name);
  if (method === undefined || !methods.has(method)) return reply(errorResponse(rid, JSONRPC_ERROR.METHOD_NOT_FOUND));
  const params = Object.hasOwn(request, 'params') ? request['params'] : {};
  if (!isObject(params)) {
    return reply(errorResponse(rid, JSONRPC_ERROR.INVALID_PARAMS, 'params must be an Object (by-position parameters are not supported)'));
  }
  if (!hasId && READ_ONLY_METHODS.has(method)) return {}; // a notification of a getter: nothing to do
  const out: RpcCallResult = await methods.call(method, legacyParams(method, params));
  if (!out.ok) {
    return reply(errorResponse(rid, CODE_OF_KIND[out.kind], message41(out.message), snakeResult(method, out.args)));
  }
  return { ...reply({ jsonrpc: '2.0', result: snakeResult(method, out.args), id: rid }), ...(out.afterReply ? { afterReply: out.afterReply } : {}) };
}

/** Runs every afterReply in order (session_close's shutdown, after the reply is out). */
function chain(list: Array<() => void>): (() => void) | undefined {
  if (list.length === 0) return undefined;
  return () => { for (const f of list) f(); };
}

/** A JSON-RPC batch: in order, one at a time (Transmission runs them in order too). */
async function answerBatch(methods: RpcMethods, requests: unknown[]): Promise<RpcAnswer> {
  if (requests.length === 0) return { body: errorResponse(null, JSONRPC_ERROR.INVALID_REQUEST, 'empty batch') };
  if (requests.length > MAX_BATCH) {
    return { body: errorResponse(null, JSONRPC_ERROR.INVALID_REQUEST, `a batch holds at most ${MAX_BATCH} requests`) };
  }
  const responses: JsonRpcResponse[] = [];
  const after: Array<() => void> = [];
  for (const r of requests) {
    const a = await answerOne(methods, r, true);
    if (a.response) responses.push(a.response);
    if (a.afterReply) after.push(a.afterReply);
  }
  const afterReply = chain(after);
  return { body: responses.length > 0 ? responses : undefined, ...(afterReply ? { afterReply } : {}) };
}

/** Whether a parsed body is JSON-RPC (a batch, or an object with a `jsonrpc` member) rather than legacy. */
export function isJsonRpc(parsed: unknown): boolean {
  return Array.isArray(parsed) || (isObject(parsed) && Object.hasOwn(parsed, 'jsonrpc'));
}

/** Answers one HTTP request body, in whichever protocol it speaks. Never throws. */
export async function answerRpcBody(methods: RpcMethods, text: string): Promise<RpcAnswer> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (/"jsonrpc"\s*:/.test(text)) return { body: errorResponse(null, JSONRPC_ERROR.PARSE_ERROR, errorMessage(err)) };
    parsed = undefined; // legacy: answered "no method name", as transmission-daemon 3.00 does
  }
  if (Array.isArray(parsed)) return answerBatch(methods, parsed);
  if (isJsonRpc(parsed)) {
    const a = await answerOne(methods, parsed, false);
    return { body: a.response, ...(a.afterReply ? { afterReply: a.afterReply } : {}) };
  }
  const outcome = await methods.handle(parsed);
  return { body: outcome.response, ...(outcome.afterReply ? { afterReply: outcome.afterReply } : {}) };
}

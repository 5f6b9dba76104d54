/**
 * A small Transmission RPC client (node:http) for bitpeer's own commands (`bitpeer add/ls/pause/...`): POSTs JSON to
 * /transmission/rpc, does the 409 session-id handshake, and turns every failure into one clear BtError.
 *
 * Invariants: a call is retried only after a 409 that carries a new session id (at most twice); a response body
 * is capped (64 MiB) and every request has a deadline; nothing is kept open between calls (no keep-alive agent), so
 * a command exits as soon as it is done.
 * BEP: none (Transmission's rpc-spec.txt).
 */
import http from 'node:http';
import { BtError, errorMessage } from '../../util/errors.js';
import { formatPeerAddress } from '../../util/peer-address.js';

/** Where and how to reach the daemon. */
export interface RpcClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9091. */
  port?: number;
  user?: string;
  password?: string;
  /**
   * Asked once, on the first HTTP 401, when neither `user` nor `password` was given: credentials to retry with
   * (the client commands read those a daemon on this machine made itself), or undefined to report the 401.
   */
  credentialsOnChallenge?: () => Promise<{ user: string; password: string } | undefined>;
  /** Per request, default 30 s. */
  timeoutMs?: number;
  /** Default 64 MiB. */
  maxResponseBytes?: number;
}

/** A decoded RPC response. */
export interface RpcReply {
  result: string;
  arguments: Record<string, unknown>;
  tag?: number;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ECONNRESET', 'EAI_AGAIN']);

function basicAuthorization(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

interface HttpAnswer { status: number; sessionId: string | undefined; body: Buffer }

/** Transmission RPC client. */
export class RpcClient {
  readonly host: string;
  readonly port: number;
  private sessionId: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private authorization: string | undefined;
  private credentialsOnChallenge: (() => Promise<{ user: string; password: string } | undefined>) | undefined;
  private tag = 0;

  constructor(opts: RpcClientOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 9091;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 64 * 1024 * 1024;
    if (opts.user !== undefined || opts.password !== undefined) {
      this.authorization = basicAuthorization(opts.user ?? '', opts.password ?? '');
    } else {
      this.credentialsOnChallenge = opts.credentialsOnChallenge;
    }
  }

  /** "127.0.0.1:9091" (IPv6 in brackets), for messages. */
  get address(): string {
    return formatPeerAddress(this.host, this.port);
  }

  /** Sends one request and returns the reply whatever its `result`. Throws BtError 'RPC' / 'TIMEOUT' on transport failures. */
  async request(method: string, args: Record<string, unknown> = {}): Promise<RpcReply> {
    const tag = ++this.tag;
    const body = JSON.stringify({ method, arguments: args, tag });
    for (let attempt = 0; ; attempt++) {
      const answer = await this.post(body);
      if (answer.status === 409 && answer.sessionId !== undefined && answer.sessionId !== this.sessionId && attempt < 2) {
        this.sessionId = answer.sessionId;
        continue;
      }
      if (answer.status === 401 && this.credentialsOnChallenge !== undefined) {
        const ask = this.credentialsOnChallenge;
        this.credentialsOnChallenge = undefined; // asked once per client
        const creds = await ask();
        if (creds !== undefined) {
          this.authorization = basicAuthorization(creds.user, creds.password);
          continue;
        }
      }
      if (answer.status !== 200) throw this.statusError(answer.status);
      if (answer.sessionId !== undefined) this.sessionId = answer.sessionId;
      return this.decode(answer.body);
    }
  }

  /** Sends one request; resolves with its `arguments` on "success", else throws BtError 'RPC' with the result. */
  async call(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const reply = await this.request(method, args);
    if (reply.result !== 'success') throw new BtError('RPC', `${method}: ${reply.result}`);
    return reply.arguments;
  }

  private decode(body: Buffer): RpcReply {
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      throw new BtError('RPC', `the daemon at ${this.address} sent a response that is not JSON`);
    }
    if (typeof v !== 'object' || v === null || typeof (v as { result?: unknown }).result !== 'string') {
      throw new BtError('RPC', `the daemon at ${this.address} sent a response without a "result"`);
    }
    const r = v as { result: string; arguments?: unknown; tag?: unknown };
    const args = typeof r.arguments === 'object' && r.arguments !== null && !Array.isArray(r.arguments)
      ? r.arguments as Record<string, unknown> : {};
    return { result: r.result, arguments: args, ...(typeof r.tag === 'number' ? { tag: r.tag } : {}) };
  }

  private statusError(status: number): BtError {
    switch (status) {
      case 401: return new BtError('RPC', `the bitpeer daemon at ${this.address} refused the credentials ` +
        '(give --rpc-user and --rpc-password, or set BITPEER_RPC_USER and BITPEER_RPC_PASSWORD; a daemon exposed without ' +
        'them made its own, user "bitpeer", kept in rpc-credentials.json in its state folder: the client commands use it ' +
        'for a daemon on this machine, from --state-dir if the daemon has one)');
      case 409: return new BtError('RPC', `the daemon at ${this.address} kept refusing the session id (HTTP 409)`);
      case 421: return new BtError('RPC', `the daemon at ${this.address} does not accept this host name (HTTP 421); use its address`);
      case 429: return new BtError('RPC', `the daemon at ${this.address} is refusing logins for a minute after too many failures`);
      default: return new BtError('RPC', `unexpected HTTP ${status} from the daemon at ${this.address} (is it a bitpeer or Transmission RPC?)`);
    }
  }

  private post(body: string): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      const headers: Record<string, string | number> = {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
      };
      if (this.sessionId !== undefined) headers['X-Transmission-Session-Id'] = this.sessionId;
      if (this.authorization !== undefined) headers['Authorization'] = this.authorization;
      const req = http.request({
        host: this.host, port: this.port, method: 'POST', path: '/transmission/rpc', headers, agent: false,
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxResponseBytes) {
            req.destroy(new BtError('RPC', `the response from ${this.address} exceeds ${this.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const sid = res.headers['x-transmission-session-id'];
          resolve({ status: res.statusCode ?? 0, sessionId: typeof sid === 'string' ? sid : undefined, body: Buffer.concat(chunks) });
        });
        res.on('error', (err) => reject(this.transportError(err)));
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(new BtError('TIMEOUT', `the bitpeer daemon at ${this.address} did not answer within ${Math.round(this.timeoutMs / 1000)} s`));
      });
      req.on('error', (err) => reject(this.transportError(err)));
      req.end(body);
    });
  }

  private transportError(err: unknown): BtError {
    if (err instanceof BtError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && UNREACHABLE.has(code)) {
      return new BtError('RPC', `cannot reach the bitpeer daemon at ${this.address} — is \`bitpeer daemon\` running?`);
    }
    return new BtError('RPC', `talking to the bitpeer daemon at ${this.address} failed: ${errorMessage(err)}`);
  }
}

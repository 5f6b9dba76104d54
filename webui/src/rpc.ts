/**
 * The web UI's client of the daemon's legacy Transmission RPC (POST JSON to /transmission/rpc, same origin).
 *
 * Invariants: the `X-Transmission-Session-Id` handshake is done here (a 409 carries the id; the request is sent once
 * more with it, at most once per call); a reply whose `result` is not "success" rejects with {@link RpcError}
 * carrying the daemon's own words, so the UI shows them as they are; every call is bounded by a timeout.
 * Spec: Transmission's rpc-spec.txt (version 16), as src/api/rpc/methods.ts answers it.
 */

/** The daemon answered, but not "success" (or the transport failed): `message` is what to show. */
export class RpcError extends Error {
  constructor(message: string, readonly method: string) {
    super(message);
    this.name = 'RpcError';
  }
}

export type Json = Record<string, unknown>;

/** How long one call may take before it is abandoned. */
const CALL_TIMEOUT_MS = 20_000;

export class RpcClient {
  private sessionId = '';
  /** The first call in flight while no session id is known: the others wait for it (one 409, not one each). */
  private handshake: Promise<unknown> | undefined;

  constructor(private readonly url = '/transmission/rpc') {}

  /** Calls `method` with `args`; resolves with the reply's `arguments`. */
  async call<T = Json>(method: string, args: Json = {}): Promise<T> {
    if (this.sessionId === '') {
      if (this.handshake) await this.handshake.catch(() => undefined);
      else {
        const first = this.send<T>(method, args);
        this.handshake = first.then(() => undefined, () => undefined).finally(() => { this.handshake = undefined; });
        return first;
      }
    }
    return this.send<T>(method, args);
  }

  private async send<T>(method: string, args: Json): Promise<T> {
    const body = JSON.stringify({ method, arguments: args });
    for (let attempt = 0; attempt < 2; attempt++) {
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), CALL_TIMEOUT_MS);
      let res: Response;
      try {
        res = await fetch(this.url, {
          method: 'POST', body, signal: ctrl.signal, credentials: 'same-origin', cache: 'no-store',
          headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': this.sessionId },
        });
      } catch (err) {
        throw new RpcError(ctrl.signal.aborted ? `${method}: no answer from the daemon within ${CALL_TIMEOUT_MS / 1000} s`
          : `${method}: cannot reach the daemon (${err instanceof Error ? err.message : String(err)})`, method);
      } finally {
        clearTimeout(timer);
      }
      if (res.status === 409) {
        this.sessionId = res.headers.get('X-Transmission-Session-Id') ?? '';
        continue;
      }
      if (!res.ok) throw new RpcError(`${method}: HTTP ${res.status} ${(await res.text()).trim()}`, method);
      let reply: { result?: unknown; arguments?: unknown };
      try {
        reply = (await res.json()) as typeof reply;
      } catch {
        throw new RpcError(`${method}: the daemon's answer is not JSON`, method);
      }
      if (reply.result !== 'success') throw new RpcError(`${method}: ${String(reply.result)}`, method);
      return (reply.arguments ?? {}) as T;
    }
    throw new RpcError(`${method}: the daemon kept refusing the session id`, method);
  }
}

/** The page's one client (one session id for every call). */
export const rpc = new RpcClient();

/**
 * Worker thread body of HashPool: SHA-1 (BEP 3 piece hashes) of a byte range, or of consecutive chunks of it.
 *
 * Invariant: answers every request exactly once with `{ id, digests }` (20 bytes per chunk, concatenated) or
 * `{ id, error }`; never writes to the request's bytes, which may be a SharedArrayBuffer the main thread owns.
 */
import { parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';

/** A request from HashPool. `chunk` 0 means one digest of the whole range. */
export interface HashRequest { id: number; buf: ArrayBuffer | SharedArrayBuffer; offset: number; length: number; chunk: number }
/** The answer to a HashRequest. */
export type HashResponse = { id: number; digests: Uint8Array } | { id: number; error: string };

function handle(req: HashRequest): HashResponse {
  try {
    const bytes = new Uint8Array(req.buf, req.offset, req.length);
    const chunk = req.chunk > 0 ? req.chunk : Math.max(1, req.length);
    const n = req.length === 0 ? 1 : Math.ceil(req.length / chunk);
    const out = new Uint8Array(20 * n);
    for (let k = 0; k < n; k++) {
      const d = createHash('sha1').update(bytes.subarray(k * chunk, Math.min(req.length, (k + 1) * chunk))).digest();
      out.set(d, 20 * k);
    }
    return { id: req.id, digests: out };
  } catch (e) {
    return { id: req.id, error: e instanceof Error ? e.message : String(e) };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (req: HashRequest) => {
    const res = handle(req);
    port.postMessage(res, 'digests' in res ? [res.digests.buffer as ArrayBuffer] : []);
  });
}

/**
 * Worker thread body of PieceWriter (piece-writer.ts): takes complete pieces from a ring in shared memory, checks
 * their SHA-1 (BEP 3 piece hash), and only when it matches pwrites them into descriptors the main thread holds open.
 *
 * Invariants:
 * - jobs are done strictly in ring order, and each gets exactly one result (status OK, BAD or ERROR) before the DONE
 *   counter passes it; the result is written into the job's slot before DONE is published (Atomics.store), so the
 *   main thread reads a complete result;
 * - a piece whose digest differs from the expected one is never written (a job marked VERIFIED was hashed by the
 *   main thread already and is written without hashing); the piece's bytes (a SharedArrayBuffer the
 *   main thread owns) are only read, never modified;
 * - this thread never opens or closes a descriptor: the main thread's FdPool keeps every descriptor of a job open
 *   until the job's result is read.
 * The ring's layout is in piece-writer-ring.ts.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { RING, type RingBuffers, type WriterMessage, slotInts, slotBytes, slotFloats, ST_BAD, ST_ERROR, ST_OK } from './piece-writer-ring.js';

function run(ring: RingBuffers): void {
  const port = parentPort!;
  const ctrl = new Int32Array(ring.ctrl);
  const ints = new Int32Array(ring.ints);
  const floats = new Float64Array(ring.floats);
  const bytes = new Uint8Array(ring.bytes);
  const buffers = new Map<number, Uint8Array>();
  const encoder = new TextEncoder();
  const drain = (): void => {
    for (let m = receiveMessageOnPort(port as never); m !== undefined; m = receiveMessageOnPort(port as never)) {
      const msg = m.message as WriterMessage;
      if (msg.kind === 'register') buffers.set(msg.id, new Uint8Array(msg.sab));
      else buffers.delete(msg.id);
    }
  };
  let done = 0;
  for (;;) {
    const submitted = Atomics.load(ctrl, RING.SUBMITTED);
    if (submitted === done) {
      if (Atomics.load(ctrl, RING.STOP) !== 0) break;
      // Bounded wait: the STOP flag and buffer forgets are looked at at least once a second.
      Atomics.wait(ctrl, RING.SUBMITTED, submitted, 1000);
      drain();
      continue;
    }
    const slot = done & (RING.SLOTS - 1);
    const I = slotInts(slot);
    const B = slotBytes(slot);
    const F = slotFloats(slot);
    // Registrations (and forgets, so freed buffers do not linger here) are read before each job.
    drain();
    const buf = buffers.get(ints[I + RING.I_BUF]!);
    const offset = ints[I + RING.I_OFFSET]!;
    const length = ints[I + RING.I_LENGTH]!;
    const nSpans = ints[I + RING.I_SPANS]!;
    let status = ST_OK;
    let failSpan = -1;
    let failWritten = 0;
    let errText = '';
    if (buf === undefined) {
      status = ST_ERROR;
      errText = 'EINVAL\0piece writer: unknown buffer';
    } else {
      const view = buf.subarray(offset, offset + length);
      let match = true;
      if (ints[I + RING.I_VERIFIED] !== 1) {
        const digest = createHash('sha1').update(view).digest();
        bytes.set(digest, B + RING.B_DIGEST);
        match = digest.equals(bytes.subarray(B + RING.B_EXPECTED, B + RING.B_EXPECTED + 20));
      }
      if (!match) {
        status = ST_BAD;
      } else {
        for (let k = 0; k < nSpans && status === ST_OK; k++) {
          const S = I + RING.I_SPAN0 + 3 * k;
          const fd = ints[S]!;
          const at = ints[S + 1]!;
          const len = ints[S + 2]!;
          const pos = floats[F + k]!;
          let w = 0;
          try {
            while (w < len) w += writeSync(fd, view, at + w, len - w, pos + w);
          } catch (e) {
            status = ST_ERROR;
            failSpan = k;
            failWritten = w;
            const code = (e as { code?: unknown }).code;
            errText = `${typeof code === 'string' ? code : ''}\0${e instanceof Error ? e.message : String(e)}`;
          }
        }
      }
    }
    ints[I + RING.I_STATUS] = status;
    ints[I + RING.I_FAIL_SPAN] = failSpan;
    ints[I + RING.I_FAIL_WRITTEN] = failWritten;
    if (errText !== '') {
      const enc = encoder.encode(errText).subarray(0, RING.ERR_BYTES);
      bytes.set(enc, B + RING.B_ERR);
      ints[I + RING.I_ERR_LEN] = enc.length;
    } else {
      ints[I + RING.I_ERR_LEN] = 0;
    }
    done = (done + 1) | 0;
    Atomics.store(ctrl, RING.DONE, done);
    Atomics.notify(ctrl, RING.DONE);
  }
}

if (parentPort) run(workerData as RingBuffers);

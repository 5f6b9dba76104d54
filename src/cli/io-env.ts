/**
 * The I/O switches the CLI still takes from the environment, read once here and passed on as session
 * options (library code reads no environment variables):
 * - `BITPEER_NO_USER_BUFFER=1`: peer sockets read through 'data' events, never into the shared buffer
 *   (`sharedReadBuffer: false`, src/wire/node-internals.ts).
 * - `BITPEER_ASYNC_IO=1`: file reads and writes always go through the thread pool (`asyncIo: true`,
 *   src/storage/fs-storage.ts).
 * - `BITPEER_PIECE_WORKER=1` / `=0`: downloaded v1 pieces are hashed and written on the piece-writer thread, or on
 *   the main thread (`pieceWorker`, src/storage/piece-writer.ts; docs/design/performance.md). Unset: the default.
 */
export interface IoOptions {
  sharedReadBuffer?: boolean;
  asyncIo?: boolean;
  pieceWorker?: boolean;
}

/** The options the environment asks for (only the ones it sets). */
export function ioOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): IoOptions {
  return {
    ...(env['BITPEER_NO_USER_BUFFER'] === '1' ? { sharedReadBuffer: false } : {}),
    ...(env['BITPEER_ASYNC_IO'] === '1' ? { asyncIo: true } : {}),
    ...(env['BITPEER_PIECE_WORKER'] === '1' ? { pieceWorker: true } : env['BITPEER_PIECE_WORKER'] === '0' ? { pieceWorker: false } : {}),
  };
}

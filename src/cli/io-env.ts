/**
 * The two I/O debugging switches the CLI still takes from the environment, read once here and passed on as session
 * options (library code reads no environment variables):
 * - `BITPEER_NO_USER_BUFFER=1`: peer sockets read through 'data' events, never into the shared buffer
 *   (`sharedReadBuffer: false`, src/wire/node-internals.ts).
 * - `BITPEER_ASYNC_IO=1`: file reads and writes always go through the thread pool (`asyncIo: true`,
 *   src/storage/fs-storage.ts).
 */
export interface IoOptions {
  sharedReadBuffer?: boolean;
  asyncIo?: boolean;
}

/** The options the environment asks for (only the ones it sets). */
export function ioOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): IoOptions {
  return {
    ...(env['BITPEER_NO_USER_BUFFER'] === '1' ? { sharedReadBuffer: false } : {}),
    ...(env['BITPEER_ASYNC_IO'] === '1' ? { asyncIo: true } : {}),
  };
}

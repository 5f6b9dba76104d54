/** The I/O switches of the environment become session options, read in src/cli/ only. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ioOptionsFromEnv } from './io-env.js';

test('BITPEER_NO_USER_BUFFER=1 and BITPEER_ASYNC_IO=1 become options; anything else sets nothing', () => {
  assert.deepEqual(ioOptionsFromEnv({}), {});
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_NO_USER_BUFFER: '1' }), { sharedReadBuffer: false });
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_ASYNC_IO: '1' }), { asyncIo: true });
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_NO_USER_BUFFER: '0', BITPEER_ASYNC_IO: 'yes' }), {});
});

test('BITPEER_PIECE_WORKER=1 / =0 select the piece-writer thread or the main thread; other values set nothing', () => {
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_PIECE_WORKER: '1' }), { pieceWorker: true });
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_PIECE_WORKER: '0' }), { pieceWorker: false });
  assert.deepEqual(ioOptionsFromEnv({ BITPEER_PIECE_WORKER: 'yes' }), {});
});

/** BtError's op (given, or implied by its code), the disk op of fs operations, and the causes connections end with. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BtError, cause, causeKey, causeOf, diskOp, ioError, socketErrorCause } from './errors.js';

function errno(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

test('BtError carries the op it is given, else the one its code implies, else none', () => {
  assert.equal(new BtError('IO', 'x', { op: 'disk-write' }).op, 'disk-write');
  assert.equal(new BtError('PROTOCOL', 'x').op, 'protocol');
  assert.equal(new BtError('HANDSHAKE', 'x').op, 'handshake');
  assert.equal(new BtError('HASH_FAILED', 'x').op, 'hash');
  assert.equal(new BtError('TRACKER', 'x').op, 'tracker');
  assert.equal(new BtError('RPC', 'x').op, 'rpc');
  assert.equal(new BtError('TIMEOUT', 'x').op, 'timeout');
  assert.equal(new BtError('IO', 'x').op, undefined, 'IO alone does not say whether it read or wrote');
  assert.equal(new BtError('USAGE', 'x').op, undefined);
  const inner = new Error('inner');
  const e = new BtError('IO', 'x', { cause: inner, op: 'disk-read' });
  assert.equal(e.cause, inner);
  assert.equal(e.code, 'IO');
  assert.equal(e.message, 'x');
});

test('ioError names the disk op of the fs operation; BtErrors pass through', () => {
  for (const op of ['read', 'open', 'stat', 'lstat', 'realpath', 'list']) assert.equal(diskOp(op), 'disk-read', op);
  for (const op of ['write', 'sync', 'mkdir', 'rename', 'unlink', 'link', 'copy', 'lock']) assert.equal(diskOp(op), 'disk-write', op);
  const r = ioError('read', '/x/a.bin', errno('EIO', 'read'));
  assert.equal(r.code, 'IO');
  assert.equal(r.op, 'disk-read');
  assert.match(r.message, /^read \/x\/a\.bin: /);
  assert.equal(ioError('mkdir', '/x', errno('EACCES', 'mkdir')).op, 'disk-write');
  assert.equal(ioError('open', '/x/a.bin', errno('ENOSPC', 'open'), 'disk-write').op, 'disk-write', 'an explicit op wins');
  const bt = new BtError('BAD_PATH', 'no');
  assert.equal(ioError('write', '/x', bt), bt);
});

test('causeOf keeps a BtError\'s code and op, falls back to the given op, and calls anything else INTERNAL', () => {
  assert.deepEqual(causeOf(new BtError('PROTOCOL', 'bad have'), 'read', 'protocol error: '),
    { op: 'protocol', code: 'PROTOCOL', message: 'protocol error: bad have' });
  assert.deepEqual(causeOf(new BtError('IO', 'write /x: ENOSPC', { op: 'disk-write' }), 'local'),
    { op: 'disk-write', code: 'IO', message: 'write /x: ENOSPC' });
  assert.deepEqual(causeOf(new BtError('ABORTED', 'stop'), 'local'), { op: 'local', code: 'ABORTED', message: 'stop' });
  assert.deepEqual(causeOf(new TypeError('boom'), 'protocol'), { op: 'protocol', code: 'INTERNAL', message: 'boom' });
  assert.deepEqual(causeOf('str', 'read'), { op: 'read', code: 'INTERNAL', message: 'str' });
});

test('a socket error\'s op comes from its syscall', () => {
  assert.deepEqual(socketErrorCause(errno('ECONNRESET', 'read'), 'socket error: '),
    { op: 'read', code: 'NET', message: 'socket error: read ECONNRESET' });
  assert.equal(socketErrorCause(errno('EPIPE', 'write')).op, 'write');
  assert.equal(socketErrorCause(errno('EPIPE', 'writev')).op, 'write');
  assert.equal(socketErrorCause(errno('ECONNREFUSED', 'connect')).op, 'connect');
  assert.equal(socketErrorCause(new Error('no syscall')).op, 'read');
});

test('causeKey is op/code', () => {
  assert.equal(causeKey(cause('hash', 'BANNED', 'sent piece 3, which failed its hash check')), 'hash/BANNED');
});

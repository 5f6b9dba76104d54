import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { TOKEN_BYTES, TokenKeeper } from './tokens.js';
import { TOKEN_ROTATE_MS } from './types.js';

/** Deterministic randomBytes: each call gives the next counter value repeated. */
function counterBytes(): { randomBytes: (n: number) => Buffer; calls: () => number } {
  let c = 0;
  return { randomBytes: (n) => Buffer.alloc(n, ++c), calls: () => c };
}

function setup(rotateMs?: number): { keeper: TokenKeeper; advance: (ms: number) => void } {
  let t = 1_000_000;
  const keeper = new TokenKeeper({ randomBytes: counterBytes().randomBytes, now: () => t, ...(rotateMs === undefined ? {} : { rotateMs }) });
  return { keeper, advance: (ms) => { t += ms; } };
}

test('a token is the first 8 bytes of SHA-1(secret ‖ IP bytes)', () => {
  const { keeper } = setup();
  const token = keeper.issue('1.2.3.4');
  assert.equal(token.length, TOKEN_BYTES);
  // The first secret is 16 bytes of 0x01 (the first randomBytes call).
  const want = createHash('sha1').update(Buffer.alloc(16, 1)).update(Buffer.from([1, 2, 3, 4])).digest().subarray(0, 8);
  assert.deepEqual(token, want);
});

test('tokens are bound to the IP, stable within a period, and checked exactly', () => {
  const { keeper, advance } = setup();
  const t1 = keeper.issue('1.2.3.4');
  assert.ok(keeper.check('1.2.3.4', t1));
  assert.equal(keeper.check('1.2.3.5', t1), false);
  advance(1000);
  assert.deepEqual(keeper.issue('1.2.3.4'), t1);
  assert.equal(keeper.check('1.2.3.4', Buffer.concat([t1, Buffer.from([0])])), false);
  assert.equal(keeper.check('1.2.3.4', t1.subarray(0, 7)), false);
  assert.equal(keeper.check('1.2.3.4', Buffer.alloc(0)), false);
  const flipped = Buffer.from(t1); flipped[7] = flipped[7]! ^ 1;
  assert.equal(keeper.check('1.2.3.4', flipped), false);
  assert.notDeepEqual(keeper.issue('::1'), keeper.issue('127.0.0.1'));
});

test('rotation: the previous secret is still accepted, the one before is not', () => {
  const { keeper, advance } = setup();
  const t1 = keeper.issue('9.9.9.9');
  advance(TOKEN_ROTATE_MS - 1);
  assert.deepEqual(keeper.issue('9.9.9.9'), t1);
  advance(1); // rotation
  const t2 = keeper.issue('9.9.9.9');
  assert.notDeepEqual(t2, t1);
  assert.ok(keeper.check('9.9.9.9', t1), 'previous secret still accepted');
  assert.ok(keeper.check('9.9.9.9', t2));
  advance(TOKEN_ROTATE_MS); // second rotation
  assert.equal(keeper.check('9.9.9.9', t1), false, 'two rotations ago');
  assert.ok(keeper.check('9.9.9.9', t2));
});

test('after a long silence no old token is accepted', () => {
  const { keeper, advance } = setup(1000);
  const t1 = keeper.issue('9.9.9.9');
  advance(2000);
  assert.equal(keeper.check('9.9.9.9', t1), false);
  assert.ok(keeper.check('9.9.9.9', keeper.issue('9.9.9.9')));
});

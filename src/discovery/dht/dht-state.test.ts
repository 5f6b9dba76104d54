import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encode } from '../../bencode/index.js';
import { BtError } from '../../util/errors.js';
import { decodeDhtState, encodeDhtState, MAX_DHT_STATE_BYTES } from './dht-state.js';
import { encodeCompactNodes } from './krpc.js';
import { MAX_CACHED_NODES } from './types.js';
import type { DhtPersistedState, NodeContact } from './types.js';

const node = (i: number): NodeContact => ({ id: Buffer.alloc(20, i & 255), host: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 1000 + i });

function refused(buf: Buffer, fragment: string): void {
  assert.throws(() => decodeDhtState(buf), (e: unknown) => {
    assert.ok(e instanceof BtError);
    assert.equal(e.code, 'BAD_RESUME');
    assert.ok(e.message.includes(fragment), e.message);
    return true;
  });
}

test('round trip, and the exact format', () => {
  const s: DhtPersistedState = { id: Buffer.alloc(20, 7), nodes: [node(1), node(2)] };
  const bytes = encodeDhtState(s);
  assert.deepEqual(decodeDhtState(bytes), s);
  assert.deepEqual(bytes, encode({ id: s.id, nodes: [encodeCompactNodes([node(1)]), encodeCompactNodes([node(2)])], v: 1 }));
  assert.deepEqual(decodeDhtState(encodeDhtState({ id: s.id, nodes: [] })), { id: s.id, nodes: [] });
  assert.deepEqual(decodeDhtState(encode({ id: s.id, v: 1 })), { id: s.id, nodes: [] }, 'nodes may be missing');
});

test('encode bounds the nodes and skips unstorable ones', () => {
  const many = Array.from({ length: 300 }, (_, i) => node(i));
  const withBad = [{ id: Buffer.alloc(20), host: '::1', port: 5 }, { id: Buffer.alloc(19), host: '1.2.3.4', port: 5 }, ...many];
  const back = decodeDhtState(encodeDhtState({ id: Buffer.alloc(20), nodes: withBad }));
  assert.equal(back.nodes.length, MAX_CACHED_NODES);
  assert.deepEqual(back.nodes, many.slice(0, MAX_CACHED_NODES));
  assert.throws(() => encodeDhtState({ id: Buffer.alloc(19), nodes: [] }), { code: 'INTERNAL' });
});

test('decode ignores garbage entries and bounds the node count', () => {
  const good = encodeCompactNodes([node(3)]);
  const zeroPort = encodeCompactNodes([{ ...node(4), port: 0 }]);
  const bytes = encode({ id: Buffer.alloc(20, 1), nodes: [good, 5, Buffer.alloc(25), zeroPort, [good], Buffer.alloc(27), good], v: 1 });
  assert.deepEqual(decodeDhtState(bytes).nodes, [node(3), node(3)]);
  const big = encode({ id: Buffer.alloc(20, 1), nodes: Array.from({ length: 400 }, (_, i) => encodeCompactNodes([node(i)])), v: 1 });
  assert.equal(decodeDhtState(big).nodes.length, MAX_CACHED_NODES);
});

test('decode refuses junk', () => {
  refused(Buffer.from('garbage'), 'bad bencode');
  refused(Buffer.alloc(0), 'bad bencode');
  refused(encode([1, 2]), 'not a dictionary');
  refused(encode({ id: Buffer.alloc(20), nodes: [] }), 'unknown version');
  refused(encode({ id: Buffer.alloc(20), nodes: [], v: 2 }), 'unknown version');
  refused(encode({ id: Buffer.alloc(19), nodes: [], v: 1 }), 'id is not 20 bytes');
  refused(encode({ id: 5, nodes: [], v: 1 }), 'id is not 20 bytes');
  refused(encode({ nodes: [], v: 1 }), 'id is not 20 bytes');
  refused(encode({ id: Buffer.alloc(20), nodes: Buffer.alloc(26), v: 1 }), 'nodes is not a list');
  refused(Buffer.concat([encodeDhtState({ id: Buffer.alloc(20), nodes: [] }), Buffer.from('x')]), 'bad bencode');
  refused(Buffer.alloc(MAX_DHT_STATE_BYTES + 1, 0x30), 'bytes');
  refused(Buffer.from('d2:idl' + 'l'.repeat(10) + 'e'.repeat(10) + 'e1:vi1ee'), 'bad bencode');
});

test('property: random bytes and mutations only ever throw BtError(BAD_RESUME)', () => {
  const base = encodeDhtState({ id: Buffer.alloc(20, 9), nodes: [node(1), node(2), node(3)] });
  const check = (buf: Buffer): void => {
    try { decodeDhtState(buf); } catch (e) { if (!(e instanceof BtError) || e.code !== 'BAD_RESUME') throw e; }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => check(Buffer.from(a))));
  fc.assert(fc.property(fc.nat(), fc.integer({ min: 0, max: 255 }), (at, v) => {
    const b = Buffer.from(base);
    b[at % b.length] = v;
    check(b);
    check(b.subarray(0, at % b.length));
  }), { numRuns: 1000 });
});

// encodeFitted (property): an answer cut to a request's size fits it, keeps our id and the token, and drops nodes
// before values; answerQuery's error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeKrpc, encodeKrpc } from './krpc.js';
import { encodeFitted } from './responder.js';
import type { KrpcResponse, NodeAddress, NodeContact } from './types.js';

const contact = (i: number): NodeContact => ({ id: Buffer.alloc(20, i), host: `10.0.${i >> 8}.${i & 255}`, port: 1000 + i });
const peer = (i: number): NodeAddress => ({ host: `10.1.${i >> 8}.${i & 255}`, port: 2000 + i });
// The smallest query a node may send us: a ping with a 1-byte transaction id.
const smallestQuery = encodeKrpc({ y: 'q', t: Buffer.from('a'), q: 'ping', id: Buffer.alloc(20, 1) }).length;

test('a fitted answer is at most the limit, keeps id and token, and drops nodes before values (property)', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: smallestQuery, max: 1500 }), fc.integer({ min: 1, max: 32 }),
    (nodeCount, valueCount, tokenLength, limit, tLength) => {
      const reply: KrpcResponse = {
        y: 'r', t: Buffer.alloc(tLength, 0x74), id: Buffer.alloc(20, 9),
        nodes: Array.from({ length: nodeCount }, (_, i) => contact(i)),
        ...(valueCount > 0 ? { values: Array.from({ length: valueCount }, (_, i) => peer(i)) } : {}),
        ...(tokenLength > 0 ? { token: Buffer.alloc(tokenLength, 0x6b) } : {}),
        ip: { host: '203.0.113.9', port: 6881 }, version: Buffer.from('BP01'),
      };
      const full = encodeKrpc(reply);
      const out = encodeFitted(reply, limit);
      if (full.length <= limit) { assert.deepEqual(out, full); return; }
      const m = decodeKrpc(out);
      assert.ok(m.y === 'r');
      assert.ok(m.id.equals(reply.id));
      if (tokenLength > 0) assert.ok(m.token?.equals(reply.token!));
      // The bare answer (id, t, token) fits every request that carried an id and a transaction id as long.
      const bare = encodeKrpc({ y: 'r', t: reply.t, id: reply.id, ...(reply.token ? { token: reply.token } : {}) }).length;
      if (bare <= limit) assert.ok(out.length <= limit, `${out.length} > ${limit}`);
      if ((m.values?.length ?? 0) < valueCount) assert.equal(m.nodes?.length ?? 0, 0, 'values are cut only after every node');
      if (m.version === undefined || m.ip === undefined) assert.equal((m.nodes?.length ?? 0) + (m.values?.length ?? 0), 0, 'v and ip go last');
    },
  ), { numRuns: 400, seed: 7 });
});

test('a ping answer to the smallest ping fits it', () => {
  const reply: KrpcResponse = { y: 'r', t: Buffer.from('a'), id: Buffer.alloc(20, 2), ip: { host: '203.0.113.9', port: 6881 }, version: Buffer.from('BP01') };
  assert.ok(encodeFitted(reply, smallestQuery).length <= smallestQuery);
});

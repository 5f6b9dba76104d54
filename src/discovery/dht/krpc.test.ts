import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BtError } from '../../util/errors.js';
import { decodeKrpc, encodeCompactNodes, encodeKrpc } from './krpc.js';
import type { KrpcError, KrpcMessage, KrpcQuery, KrpcResponse, NodeAddress, NodeContact } from './types.js';
import { MAX_KRPC_BYTES } from './types.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ID_A = b('abcdefghij0123456789');
const ID_M = b('mnopqrstuvwxyz123456');

/** Decodes, checks the result, and checks that encoding gives back the very bytes (the examples are canonical). */
function roundTrip(wire: string): KrpcMessage {
  const msg = decodeKrpc(b(wire));
  assert.equal(encodeKrpc(msg).toString('latin1'), wire);
  return msg;
}

function refuses(wire: string | Buffer, why: RegExp): void {
  assert.throws(() => decodeKrpc(typeof wire === 'string' ? b(wire) : wire), (err: unknown) => {
    assert.ok(err instanceof BtError, `not a BtError: ${String(err)}`);
    assert.equal(err.code, 'PROTOCOL');
    assert.match(err.message, why);
    return true;
  });
}

test('BEP 5 examples: ping query and response', () => {
  assert.deepEqual(roundTrip('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'),
    { y: 'q', t: b('aa'), q: 'ping', id: ID_A });
  assert.deepEqual(roundTrip('d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re'), { y: 'r', t: b('aa'), id: ID_M });
});

test('BEP 5 examples: error', () => {
  assert.deepEqual(roundTrip('d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee'),
    { y: 'e', t: b('aa'), code: 201, message: 'A Generic Error Ocurred' });
});

test('BEP 5 examples: find_node', () => {
  assert.deepEqual(roundTrip('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe'),
    { y: 'q', t: b('aa'), q: 'find_node', id: ID_A, target: ID_M });
  const nodes = `${'n'.repeat(20)}\x7f\x00\x00\x01\x1a\xe1`;
  const resp = roundTrip(`d1:rd2:id20:0123456789abcdefghij5:nodes26:${nodes}e1:t2:aa1:y1:re`) as KrpcResponse;
  assert.deepEqual(resp.nodes, [{ id: b('n'.repeat(20)), host: '127.0.0.1', port: 6881 }]);
});

test('BEP 5 examples: get_peers with values and with nodes', () => {
  assert.deepEqual(roundTrip('d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe'),
    { y: 'q', t: b('aa'), q: 'get_peers', id: ID_A, infoHash: ID_M });
  const r = roundTrip('d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re') as KrpcResponse;
  assert.deepEqual(r.token, b('aoeusnth'));
  assert.deepEqual(r.values, [{ host: '97.120.106.101', port: 0x2e75 }, { host: '105.100.104.116', port: 0x6e6d }]);
});

test('BEP 5 examples: announce_peer (implied_port)', () => {
  const q = roundTrip('d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe') as KrpcQuery;
  assert.deepEqual(q, { y: 'q', t: b('aa'), q: 'announce_peer', id: ID_A, infoHash: ID_M, impliedPort: true, port: 6881, token: b('aoeusnth') });
});

test('libtorrent shapes: top-level ip, v, ro, nodes6 ignored, unknown keys ignored, 4-byte transaction ids', () => {
  const ip = '\x7f\x00\x00\x01\x1a\xe1';
  const resp = decodeKrpc(b(`d2:ip6:${ip}1:rd2:id20:${'m'.repeat(20)}6:nodes60:7:unknowni1ee1:t4:\x00\x01\x02\x031:v4:LT\x01\x021:y1:re`)) as KrpcResponse;
  assert.deepEqual(resp.ip, { host: '127.0.0.1', port: 6881 });
  assert.deepEqual(resp.version, b('LT\x01\x02'));
  assert.deepEqual(resp.t, Buffer.from([0, 1, 2, 3]));
  assert.equal(resp.nodes, undefined);
  const q = decodeKrpc(b(`d1:ad2:id20:${'a'.repeat(20)}e1:q4:ping2:roi1e1:t2:xy1:y1:qe`)) as KrpcQuery;
  assert.equal(q.readOnly, true);
  const unknownMethod = decodeKrpc(b(`d1:ad2:id20:${'a'.repeat(20)}6:target20:${'b'.repeat(20)}e1:q12:sample_infoh1:t1:x1:y1:qe`)) as KrpcQuery;
  assert.equal(unknownMethod.q, 'sample_infoh');
  assert.deepEqual(unknownMethod.target, b('b'.repeat(20)));
  const err = decodeKrpc(b(`d1:eli204e14:Method Unknowne2:ip6:${ip}1:t1:x1:y1:ee`)) as KrpcError;
  assert.deepEqual(err, { y: 'e', t: b('x'), code: 204, message: 'Method Unknown', ip: { host: '127.0.0.1', port: 6881 } });
});

test('lenient parts: partial node entries, port-0 nodes and peers, IPv6 values, odd error messages', () => {
  const good: NodeContact = { id: b('g'.repeat(20)), host: '10.0.0.1', port: 1 };
  const zero: NodeContact = { id: b('z'.repeat(20)), host: '10.0.0.2', port: 0 };
  const compact = Buffer.concat([encodeCompactNodes([zero, good]), b('partial')]);
  const wire = Buffer.concat([b('d1:rd2:id20:' + 'r'.repeat(20) + `5:nodes${compact.length}:`), compact,
    b('6:valuesl6:\x01\x02\x03\x04\x00\x0018:' + 'x'.repeat(18) + 'i5e6:\x01\x02\x03\x04\x00\x50ee1:t1:x1:y1:re')]);
  const r = decodeKrpc(wire) as KrpcResponse;
  assert.deepEqual(r.nodes, [good]);
  assert.deepEqual(r.values, [{ host: '1.2.3.4', port: 80 }]);
  assert.deepEqual(decodeKrpc(b('d1:eli202ee1:t1:x1:y1:ee')), { y: 'e', t: b('x'), code: 202, message: '' });
  assert.deepEqual(decodeKrpc(b('d1:eli203ei5ee1:t1:x1:y1:ee')), { y: 'e', t: b('x'), code: 203, message: '' });
  // port 0 is fine with implied_port 1 (the source port is used)
  const q = decodeKrpc(b(`d1:ad2:id20:${'a'.repeat(20)}12:implied_porti1e9:info_hash20:${'i'.repeat(20)}4:porti0e5:token1:ke1:q13:announce_peer1:t1:x1:y1:qe`)) as KrpcQuery;
  assert.equal(q.port, undefined);
  assert.equal(q.impliedPort, true);
  // a 2-byte ip (not 6) is ignored
  assert.equal((decodeKrpc(b(`d2:ip2:ab1:rd2:id20:${'r'.repeat(20)}e1:t1:x1:y1:re`)) as KrpcResponse).ip, undefined);
});

test('decoded buffers are copies, not views on the datagram', () => {
  const wire = b(`d1:ad2:id20:${'a'.repeat(20)}5:token2:tke1:q4:ping1:t2:aa1:y1:qe`);
  const q = decodeKrpc(wire) as KrpcQuery;
  wire.fill(0);
  assert.deepEqual(q.id, b('a'.repeat(20)));
  assert.deepEqual(q.t, b('aa'));
  assert.deepEqual(q.token, b('tk'));
});

test('refusals', () => {
  const id = 'a'.repeat(20);
  refuses(Buffer.alloc(MAX_KRPC_BYTES + 1, 0x20), /datagram of 1501 bytes/);
  refuses('', /bencode/);
  refuses('le', /not a dictionary/);
  refuses('i1e', /not a dictionary/);
  refuses('d1:t999999999:', /bencode/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:qeX`, /bencode/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t02:aa1:y1:qe`, /bencode/);
  refuses('l'.repeat(11) + 'e'.repeat(11), /bencode/);
  refuses(`d1:al${'0:'.repeat(501)}e1:t1:x1:y1:qe`, /bencode/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:y1:qe`, /no transaction id/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:ti1e1:y1:qe`, /message\.t is not a byte string/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t0:1:y1:qe`, /transaction id of 0 bytes/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t33:${'t'.repeat(33)}1:y1:qe`, /transaction id of 33 bytes/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:xe`, /y is not/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y2:qqe`, /y is not/);
  refuses(`d1:ad2:id20:${id}e1:q4:ping1:t2:aae`, /y is not/);
  refuses(`d1:ad2:id20:${id}e1:t2:aa1:y1:qe`, /without q/);
  refuses('d1:q4:ping1:t2:aa1:y1:qe', /without an a dictionary/);
  refuses('d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe', /a\.id is 19 bytes/);
  refuses('d1:ad2:id21:abcdefghij0123456789xe1:q4:ping1:t2:aa1:y1:qe', /a\.id is 21 bytes/);
  refuses('d1:ade1:q4:ping1:t2:aa1:y1:qe', /a\.id is missing/);
  refuses('d1:ad2:idi5ee1:q4:ping1:t2:aa1:y1:qe', /a\.id is not a byte string/);
  refuses(`d1:ad2:id20:${id}6:target19:${'x'.repeat(19)}e1:q9:find_node1:t2:aa1:y1:qe`, /a\.target is 19 bytes/);
  refuses(`d1:ad2:id20:${id}9:info_hash21:${'x'.repeat(21)}e1:q9:get_peers1:t2:aa1:y1:qe`, /a\.info_hash is 21 bytes/);
  refuses(`d1:ad2:id20:${id}4:porti-1ee1:q13:announce_peer1:t2:aa1:y1:qe`, /a\.port -1/);
  refuses(`d1:ad2:id20:${id}4:porti65536ee1:q13:announce_peer1:t2:aa1:y1:qe`, /a\.port 65536/);
  refuses(`d1:ad2:id20:${id}4:porti0ee1:q13:announce_peer1:t2:aa1:y1:qe`, /port 0 without implied_port/);
  refuses(`d1:ad2:id20:${id}4:port4:6881e1:q13:announce_peer1:t2:aa1:y1:qe`, /a\.port is not an integer/);
  refuses(`d1:ad2:id20:${id}12:implied_port1:1e1:q13:announce_peer1:t2:aa1:y1:qe`, /implied_port is not an integer/);
  refuses(`d1:ad2:id20:${id}5:token65:${'k'.repeat(65)}e1:q13:announce_peer1:t2:aa1:y1:qe`, /a\.token is 65 bytes/);
  refuses('d1:t2:aa1:y1:re', /without an r dictionary/);
  refuses('d1:rd2:id3:abce1:t2:aa1:y1:re', /r\.id is 3 bytes/);
  refuses(`d1:rd2:id20:${id}5:nodesi1ee1:t2:aa1:y1:re`, /r\.nodes is not a byte string/);
  refuses(`d1:rd2:id20:${id}6:values6:abcdefe1:t2:aa1:y1:re`, /r\.values is not a list/);
  refuses(`d1:rd2:id20:${id}5:token65:${'k'.repeat(65)}e1:t2:aa1:y1:re`, /r\.token is 65 bytes/);
  refuses('d1:t2:aa1:y1:ee', /without an e list/);
  refuses('d1:e3:abc1:t2:aa1:y1:ee', /without an e list/);
  refuses('d1:el3:abce1:t2:aa1:y1:ee', /integer code/);
  refuses('d9:__proto__d2:id20:aaaaaaaaaaaaaaaaaaaae1:t2:aa1:y1:re', /without an r dictionary/);
  refuses('d1:ad9:__proto__d2:id20:aaaaaaaaaaaaaaaaaaaaee1:q4:ping1:t2:aa1:y1:qe', /a\.id is missing/);
});

// --- property tests --------------------------------------------------------------------------------------------

const bytes = (min: number, max: number): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const idArb = bytes(20, 20);
const addrArb: fc.Arbitrary<NodeAddress> = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }).map((a) => ({ ...a }));
const nodeArb: fc.Arbitrary<NodeContact> = fc.record({ id: idArb, host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }).map((n) => ({ ...n }));

const queryArb: fc.Arbitrary<KrpcQuery> = fc.record({
  y: fc.constant('q' as const), t: bytes(1, 32), q: fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'vote'),
  id: idArb, target: idArb, infoHash: idArb, port: fc.integer({ min: 1, max: 65535 }), impliedPort: fc.boolean(),
  token: bytes(0, 64), readOnly: fc.constant(true), version: bytes(0, 6),
}, { requiredKeys: ['y', 't', 'q', 'id'] }).map((r) => ({ ...r }));
const responseArb: fc.Arbitrary<KrpcResponse> = fc.record({
  y: fc.constant('r' as const), t: bytes(1, 32), id: idArb, nodes: fc.array(nodeArb, { maxLength: 16 }),
  values: fc.array(addrArb, { maxLength: 50 }), token: bytes(0, 64), ip: addrArb, version: bytes(0, 6),
}, { requiredKeys: ['y', 't', 'id'] }).map((r) => ({ ...r }));
const errorArb: fc.Arbitrary<KrpcError> = fc.record({
  y: fc.constant('e' as const), t: bytes(1, 32), code: fc.integer({ min: 0, max: 1000 }),
  message: fc.string({ maxLength: 80 }), ip: addrArb,
}, { requiredKeys: ['y', 't', 'code', 'message'] }).map((r) => ({ ...r }));
const messageArb: fc.Arbitrary<KrpcMessage> = fc.oneof(queryArb, responseArb, errorArb);

test('property: decode(encode(m)) equals m, and encoding is canonical (encode(decode(x)) = x)', () => {
  fc.assert(fc.property(messageArb, (m) => {
    const wire = encodeKrpc(m);
    const back = decodeKrpc(wire);
    assert.deepEqual(back, m);
    assert.deepEqual(encodeKrpc(back), wire);
  }), { numRuns: 500 });
});

function onlyBtError(buf: Buffer): void {
  try {
    decodeKrpc(buf);
  } catch (err) {
    if (!(err instanceof BtError) || err.code !== 'PROTOCOL') throw err;
  }
}

test('property: random bytes never throw anything but BtError(PROTOCOL)', () => {
  fc.assert(fc.property(bytes(0, 200), (buf) => onlyBtError(buf)), { numRuns: 2000 });
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom('d', 'l', 'i', 'e', '1', '2', '0', ':', '-', 'a', 'y', 't', 'q') }), (s) => onlyBtError(b(s))), { numRuns: 2000 });
});

test('property: mutations of valid messages never throw anything but BtError(PROTOCOL)', () => {
  const mutation = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), kind: fc.constantFrom('set', 'delete', 'insert', 'truncate') });
  fc.assert(fc.property(messageArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, muts) => {
    let wire = encodeKrpc(m);
    for (const mu of muts) {
      const at = wire.length === 0 ? 0 : mu.at % wire.length;
      if (mu.kind === 'set') { wire = Buffer.from(wire); wire[at] = mu.value; }
      if (mu.kind === 'delete') wire = Buffer.concat([wire.subarray(0, at), wire.subarray(at + 1)]);
      if (mu.kind === 'insert') wire = Buffer.concat([wire.subarray(0, at), Buffer.from([mu.value]), wire.subarray(at)]);
      if (mu.kind === 'truncate') wire = wire.subarray(0, at);
    }
    onlyBtError(wire);
  }), { numRuns: 3000 });
});

test('encode refuses messages we must never build', () => {
  assert.throws(() => encodeKrpc({ y: 'q', t: b('aa'), q: 'ping', id: Buffer.alloc(19) }), { code: 'INTERNAL' });
  assert.throws(() => encodeKrpc({ y: 'r', t: b('aa'), id: Buffer.alloc(20), values: [{ host: '::1', port: 1 }] }), { code: 'INTERNAL' });
});

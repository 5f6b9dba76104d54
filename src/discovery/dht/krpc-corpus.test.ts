// The KRPC fuzz corpus (test/fixtures/krpc/, made by test/fixtures/make-krpc-corpus.ts): every ok-* file decodes,
// every bad-* file is refused with BtError('PROTOCOL'), the committed files are what the generator makes, and a
// bounded loop of random mutations of the corpus never makes decodeKrpc throw anything else.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { krpcCorpus, readKrpcCorpus } from '../../../test/fixtures/make-krpc-corpus.js';
import { BtError } from '../../util/errors.js';
import { seededRng } from '../../util/seeded-rng.js';
import { decodeKrpc, encodeKrpc } from './krpc.js';
import type { KrpcResponse } from './types.js';

/** The outcome of decoding: 'ok', or 'refused' (a BtError PROTOCOL); anything else is thrown on. */
function outcome(buf: Buffer): 'ok' | 'refused' {
  try {
    decodeKrpc(buf);
    return 'ok';
  } catch (err) {
    if (err instanceof BtError && err.code === 'PROTOCOL') return 'refused';
    throw err;
  }
}

test('the committed corpus is what the generator makes', () => {
  const onDisk = readKrpcCorpus();
  const made = krpcCorpus();
  assert.deepEqual(onDisk.map((e) => e.name), made.map((e) => e.name).sort());
  const byName = new Map(made.map((e) => [e.name, e.bytes]));
  for (const e of onDisk) assert.deepEqual(e.bytes, byName.get(e.name), e.name);
  assert.ok(onDisk.length >= 40 && onDisk.length <= 120, `${onDisk.length} files`);
  assert.ok(onDisk.filter((e) => e.ok).length >= 20);
  assert.ok(onDisk.filter((e) => !e.ok).length >= 20);
});

test('every ok- file decodes (and re-encodes to a message that decodes the same); every bad- file is refused', () => {
  for (const e of readKrpcCorpus()) {
    assert.equal(outcome(e.bytes), e.ok ? 'ok' : 'refused', e.name);
    if (e.ok) {
      const msg = decodeKrpc(e.bytes);
      assert.deepEqual(decodeKrpc(encodeKrpc(msg)), msg, e.name);
    }
  }
});

test('corpus details: 1500 bytes is the limit, the first duplicate key wins, IPv6 values and port-0 nodes are skipped', () => {
  const get = (name: string): Buffer => {
    const e = readKrpcCorpus().find((x) => x.name === name);
    assert.ok(e !== undefined, name);
    return e.bytes;
  };
  assert.equal(get('ok-exactly-1500-bytes.bin').length, 1500);
  assert.equal(get('bad-1501-bytes.bin').length, 1501);
  assert.deepEqual(decodeKrpc(get('ok-duplicate-key-first-wins.bin')).t, Buffer.from('aa'));
  assert.deepEqual((decodeKrpc(get('ok-lt-get-peers-ipv6-value.bin')) as KrpcResponse).values, [{ host: '127.0.0.2', port: 6881 }]);
  assert.deepEqual((decodeKrpc(get('ok-port-zero-node.bin')) as KrpcResponse).nodes, []);
  assert.equal((decodeKrpc(get('ok-lt-find-node-response-8-nodes.bin')) as KrpcResponse).nodes?.length, 8);
});

test('20,000 random mutations of the corpus only ever give a message or BtError(PROTOCOL)', () => {
  const corpus = readKrpcCorpus().map((e) => e.bytes);
  const rng = seededRng(0x6b727063);
  const int = (n: number): number => Math.floor(rng() * n);
  const interesting = [0x30, 0x31, 0x39, 0x3a, 0x2d, 0x64, 0x65, 0x69, 0x6c, 0x00, 0xff];
  const t0 = process.hrtime.bigint();
  let refused = 0;
  for (let i = 0; i < 20_000; i++) {
    let buf = Buffer.from(corpus[int(corpus.length)]!);
    const edits = 1 + int(4);
    for (let k = 0; k < edits; k++) {
      const at = buf.length === 0 ? 0 : int(buf.length);
      const byte = rng() < 0.5 ? interesting[int(interesting.length)]! : int(256);
      switch (int(5)) {
        case 0: if (buf.length > 0) buf[at] = byte; break;
        case 1: buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + 1)]); break;
        case 2: buf = Buffer.concat([buf.subarray(0, at), Buffer.from([byte]), buf.subarray(at)]); break;
        case 3: buf = buf.subarray(0, at); break;
        default: { // splice a slice of another corpus file in
          const other = corpus[int(corpus.length)]!;
          const from = int(other.length + 1);
          buf = Buffer.concat([buf.subarray(0, at), other.subarray(from, from + int(40)), buf.subarray(at)]);
        }
      }
    }
    if (outcome(buf) === 'refused') refused++;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(refused > 1000, `${refused} mutations refused: the mutator is too weak`);
  assert.ok(ms < 20_000, `20,000 decodes took ${ms.toFixed(0)} ms`);
});

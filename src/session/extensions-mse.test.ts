import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../wire/codec/index.js';
import { decodeExtendedHandshake, encodeExtendedHandshake, LOCAL_EXTENSION_IDS } from '../wire/ext/extended.js';
import { decodeUtPex, encodeUtPex, PexFlag } from '../wire/ext/ut-pex.js';
import { Extensions, type ExtensionHost } from './extensions.js';
import type { Peer } from './peer.js';

/** Just what Extensions reads of a Peer, with the messages it sends recorded. */
function fakePeer(key: string, direction: 'in' | 'out', encrypted: boolean): Peer & { sent: Message[] } {
  const sent: Message[] = [];
  const [host] = key.split(':');
  return {
    key, direction, encrypted, extended: true, extIds: new Map(), pexKey: undefined, listenKey: undefined, sent,
    conn: { remoteAddress: host, remotePort: Number(key.split(':')[1]), closed: false, writableLength: 0, send: (m: Message) => sent.push(m) },
  } as unknown as Peer & { sent: Message[] };
}

function host(over: Partial<ExtensionHost> = {}): ExtensionHost & { wanted: string[] } {
  const wanted: string[] = [];
  return {
    pexEnabled: true, listenPort: () => 6881, now: () => 0, addPeer: () => undefined, onYourIp: () => undefined,
    metadata: () => undefined, log: () => undefined, preferEncrypted: (h, p) => wanted.push(`${h}:${p}`), wanted, ...over,
  };
}

const extPayload = (m: Message): Buffer => (m.type === 'extended' ? m.payload : Buffer.alloc(0));

test('our extension handshake says e: 1 only when encryption is forced', () => {
  for (const forced of [true, false]) {
    const ext = new Extensions(host({ encryptionRequired: () => forced }));
    const p = fakePeer('10.0.0.2:5000', 'out', false);
    ext.onPeerConnected(p);
    assert.equal(decodeExtendedHandshake(extPayload(p.sent[0]!)).e, forced ? true : undefined);
  }
});

test('PEX: peers connected through MSE carry flag 0x01; a received 0x01 or e: 1 marks the address as wanting MSE', () => {
  const h = host();
  const ext = new Extensions(h);
  const viaMse = fakePeer('10.0.0.2:5000', 'out', true);
  const plain = fakePeer('10.0.0.3:5000', 'out', false);
  ext.onPeerConnected(viaMse);
  ext.onPeerConnected(plain);
  const reader = fakePeer('10.0.0.4:7000', 'in', false);
  ext.onPeerConnected(reader);
  ext.onExtended(reader, 0, encodeExtendedHandshake({ m: { ut_pex: 9 }, p: 7001, e: true }));
  assert.deepEqual(h.wanted, ['10.0.0.4:7001'], 'its e: 1 marks its listen address');
  const pex = reader.sent.find((m) => m.type === 'extended' && m.id === 9);
  assert.ok(pex, 'a ut_pex message was sent');
  const got = decodeUtPex(extPayload(pex));
  assert.ok(got.ok);
  const flags = new Map(got.value.added.map((a) => [`${a.host}:${a.port}`, a.flags]));
  assert.equal((flags.get('10.0.0.2:5000') ?? 0) & PexFlag.ENCRYPTION, PexFlag.ENCRYPTION);
  assert.equal((flags.get('10.0.0.3:5000') ?? 0) & PexFlag.ENCRYPTION, 0);
  ext.onExtended(reader, LOCAL_EXTENSION_IDS.ut_pex, encodeUtPex({
    added: [{ host: '10.0.0.9', port: 1000, flags: PexFlag.ENCRYPTION }, { host: '10.0.0.8', port: 1000, flags: 0 }],
  }));
  assert.deepEqual(h.wanted, ['10.0.0.4:7001', '10.0.0.9:1000']);
});

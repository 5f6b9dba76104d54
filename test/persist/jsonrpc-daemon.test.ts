/**
 * JSON-RPC 2.0 (Transmission 4.1's names) against a real daemon and a real seed (issue 15): `torrent_add` with
 * `files_unwanted` and `priority_high`, not paused, downloads exactly the wanted files: the pieces only the unwanted
 * file uses are never fetched (the seed's upload and the daemon's `pieces` say so), because the choices are applied
 * before the torrent starts. Also: a batch, `wanted` as booleans, `sequential_download` refused or set as the facade
 * allows, and the 409's X-Transmission-Rpc-Version. Everything on 127.0.0.1 (run inside `unshare -n`).
 * BEP: none (Transmission's docs/rpc-spec.md at 4.1; JSON-RPC 2.0).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Scope } from '../helpers/proc.js';
import {
  createTorrent, distinctPorts, fileIndex, havePieces, MiB, pieceBytes, piecesOfFile, prng, startDaemon, startSeed,
  stopDaemonCleanly, stopSeed, uploadedOf, waitUntil,
} from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

type Json = Record<string, unknown>;

/** A JSON-RPC client over fetch, with the 409 handshake. */
function jsonRpc(port: number): { post: (body: unknown) => Promise<{ status: number; headers: Headers; json: unknown }>; call: (method: string, params?: Json) => Promise<Json> } {
  let sid = '';
  let nextId = 1;
  const post = async (body: unknown): Promise<{ status: number; headers: Headers; json: unknown }> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(`http://127.0.0.1:${port}/transmission/rpc`, {
        method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(15_000),
        headers: { 'Content-Type': 'application/json', 'X-Transmission-Session-Id': sid },
      });
      if (res.status === 409 && attempt === 0) {
        sid = res.headers.get('X-Transmission-Session-Id') ?? '';
        assert.equal(res.headers.get('X-Transmission-Rpc-Version'), '6.0.1');
        await res.arrayBuffer();
        continue;
      }
      const text = await res.text();
      return { status: res.status, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) };
    }
    throw new Error('409 twice');
  };
  const call = async (method: string, params: Json = {}): Promise<Json> => {
    const id = nextId++;
    const r = await post({ jsonrpc: '2.0', method, params, id });
    const o = r.json as { result?: Json; error?: unknown; id?: unknown };
    assert.equal(o.id, id);
    if (o.error !== undefined) throw new Error(`${method}: ${JSON.stringify(o.error)}`);
    return o.result!;
  };
  return { post, call };
}

test('torrent_add with files_unwanted over JSON-RPC never fetches the unwanted file\'s own pieces', async () => {
  const root = await scope.tempDir('bitpeer-jsonrpc-daemon-');
  const [port, rpcPort, seedPort] = await distinctPorts(3);
  const data = join(root, 'src', 'album');
  await mkdir(data, { recursive: true });
  const rnd = prng(15);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  await writeFile(join(data, 'first.bin'), bytes(MiB));
  await writeFile(join(data, 'middle.bin'), bytes(4 * MiB));
  await writeFile(join(data, 'last.bin'), bytes(MiB + 12_345));
  const file = join(root, 'album.torrent');
  const meta = await createTorrent(data, file, seedPort!, '256K');
  const first = fileIndex(meta, 'first.bin');
  const middle = fileIndex(meta, 'middle.bin');
  const last = fileIndex(meta, 'last.bin');
  const seed = await startSeed(scope, file, join(root, 'src', 'album'), seedPort!, '64M', 'seed album');
  const d = await startDaemon(scope, { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') });
  const rpc = jsonRpc(rpcPort!);

  const added = await rpc.call('torrent_add', {
    metainfo: (await readFile(file)).toString('base64'), files_unwanted: [middle], priority_high: [last],
  });
  const t0 = added['torrent_added'] as { id: number; hash_string: string };
  assert.equal(t0.hash_string, meta.infoHashHex);
  const fields = ['id', 'status', 'left_until_done', 'percent_done', 'pieces', 'piece_count', 'wanted', 'file_stats', 'size_when_done', 'error', 'error_string'];
  const done = await waitUntil(async () => {
    const t = ((await rpc.call('torrent_get', { ids: [t0.id], fields }))['torrents'] as Json[])[0];
    if (t && t['error'] !== 0) throw new Error(`torrent in error: ${String(t['error_string'])}`);
    return t && t['status'] === 6 && t['left_until_done'] === 0 ? t : undefined;
  }, 60_000, 'the selective download to finish', () => d.child.describe(12));
  const wantedPieces = new Set([...piecesOfFile(meta, first), ...piecesOfFile(meta, last)]);
  const onlyMiddle = piecesOfFile(meta, middle).filter((i) => !wantedPieces.has(i));
  assert.ok(onlyMiddle.length >= 12, 'the torrent has pieces only the unwanted file uses');
  const have = havePieces(String(done['pieces']), Number(done['piece_count']));
  assert.deepEqual(onlyMiddle.filter((i) => have.has(i)), [], 'none of the unwanted file\'s own pieces were fetched');
  assert.equal(done['size_when_done'], pieceBytes(meta, wantedPieces));
  assert.deepEqual(done['wanted'], meta.files.map((_, i) => i !== middle), '4.1: wanted is booleans');
  assert.deepEqual((done['file_stats'] as Json[]).map((f) => f['priority']), meta.files.map((_, i) => (i === last ? 1 : 0)));

  // A batch: both answers, in order; a notification in it answers nothing.
  const batch = await rpc.post([
    { jsonrpc: '2.0', method: 'session_stats', id: 'a' },
    { jsonrpc: '2.0', method: 'torrent_reannounce', params: { ids: [t0.id] } },
    { jsonrpc: '2.0', method: 'session_get', params: { fields: ['rpc_version_semver', 'peer_port'] }, id: 'b' },
  ]);
  assert.equal(batch.status, 200);
  const answers = batch.json as Json[];
  assert.deepEqual(answers.map((x) => x['id']), ['a', 'b']);
  assert.equal((answers[0]!['result'] as Json)['torrent_count'], 1);
  assert.deepEqual(answers[1]!['result'], { rpc_version_semver: '6.0.1', peer_port: port });
  const note = await rpc.post({ jsonrpc: '2.0', method: 'torrent_reannounce', params: { ids: [t0.id] } });
  assert.equal(note.status, 204);

  // sequential_download: set when the daemon's facade can (issue 15's session work), else refused clearly.
  const seq = await rpc.post({ jsonrpc: '2.0', method: 'torrent_set', params: { ids: [t0.id], sequential_download: true }, id: 9 });
  const o = seq.json as { result?: Json; error?: { code: number; data?: { error_string?: string } } };
  if (o.error) {
    assert.equal(o.error.code, -32602);
    assert.equal(o.error.data?.error_string, 'sequential download is not supported by this daemon');
  } else {
    const t = ((await rpc.call('torrent_get', { ids: [t0.id], fields: ['sequential_download'] }))['torrents'] as Json[])[0];
    assert.equal(t?.['sequential_download'], true);
  }

  const up = uploadedOf(await stopSeed(seed));
  const wantedBytes = pieceBytes(meta, wantedPieces);
  assert.ok(up <= wantedBytes * 1.05 + 64 * 1024, `the seed sent ${up} bytes for ${wantedBytes} wanted (the unwanted file is ${4 * MiB})`);
  await stopDaemonCleanly(d);
});

// dht.dat in the state directory (src/api/dht-file.ts): missing or corrupt is a warning and a fresh id, never a
// failure; writes are atomic, one at a time, the latest state winning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DHT_STATE_FILE, DhtStateWriter, loadDhtState } from './dht-file.js';
import { tmpDirs } from '../../test/support/tmp-dir.js';

const tmpDir = tmpDirs('dht-file');
const state = (n: number): { id: Buffer; nodes: Array<{ id: Buffer; host: string; port: number }> } => ({
  id: Buffer.alloc(20, n), nodes: [{ id: Buffer.alloc(20, 0x40 + n), host: '127.0.0.1', port: 6000 + n }],
});

test('no file: no state and no warning; a corrupt or oversized file: a warning and no state', () => {
  const dir = tmpDir();
  const warnings: string[] = [];
  assert.equal(loadDhtState(dir, (m) => warnings.push(m)), undefined);
  assert.equal(warnings.length, 0);
  fs.writeFileSync(path.join(dir, DHT_STATE_FILE), 'd2:id3:abce');
  assert.equal(loadDhtState(dir, (m) => warnings.push(m)), undefined);
  fs.writeFileSync(path.join(dir, DHT_STATE_FILE), Buffer.alloc(200_000, 0x64));
  assert.equal(loadDhtState(dir, (m) => warnings.push(m)), undefined);
  assert.equal(warnings.length, 2);
  assert.ok(warnings.every((w) => w.includes('fresh node id')), warnings.join('\n'));
});

test('the writer saves the latest state atomically and it loads back; many saves at once are merged', async () => {
  const dir = tmpDir();
  const w = new DhtStateWriter(dir, (m) => assert.fail(m));
  for (let i = 1; i <= 50; i++) w.save(state(i));
  await w.flush();
  const back = loadDhtState(dir, (m) => assert.fail(m));
  assert.ok(back);
  assert.ok(back.id.equals(state(50).id));
  assert.deepEqual(back.nodes.map((n) => `${n.host}:${n.port}`), ['127.0.0.1:6050']);
  assert.deepEqual(fs.readdirSync(dir), [DHT_STATE_FILE], 'no temp file left');
});

test('a failed write is a warning', async () => {
  const dir = path.join(tmpDir(), 'missing', 'folder');
  const warnings: string[] = [];
  const w = new DhtStateWriter(dir, (m) => warnings.push(m));
  w.save(state(1));
  await w.flush();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /saving dht\.dat failed/);
});

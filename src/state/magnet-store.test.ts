import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StateStore } from './state-store.js';
import { loadPendingMagnets, removePendingMagnet, savePendingMagnet, type PendingMagnetRecord } from './magnet-store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bitpeer-magnets-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const hex = 'ab'.repeat(20);
const rec = (h: string, id: number): PendingMagnetRecord => ({
  version: 1, infoHash: h, id, magnet: `magnet:?xt=urn:btih:${h}&dn=Doc`, savePath: '/tmp/dl', paused: id === 2, addedAt: 1_700_000_000,
});

test('pending magnets: saved atomically, loaded sorted by id, removed; bad records skipped with a warning', async () => {
  const dir = path.join(root, 'a');
  assert.deepEqual(await loadPendingMagnets(dir, () => assert.fail('no warning')), [], 'no folder: none');
  await savePendingMagnet(dir, rec(hex, 7));
  await savePendingMagnet(dir, rec('cd'.repeat(20), 2));
  const warnings: string[] = [];
  // A record whose content names another info-hash, one that is not JSON, and a temp file of an interrupted write.
  fs.writeFileSync(path.join(dir, 'magnets', `${'ef'.repeat(20)}.json`), JSON.stringify(rec(hex, 3)));
  fs.writeFileSync(path.join(dir, 'magnets', `${'01'.repeat(20)}.json`), '{"version":1,');
  fs.writeFileSync(path.join(dir, 'magnets', `.${hex}.json.123.abcdefabcdef.tmp`), 'partial');
  const got = await loadPendingMagnets(dir, (m) => warnings.push(m));
  assert.deepEqual(got, [rec('cd'.repeat(20), 2), rec(hex, 7)]);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings.join('\n'), /does not match the file name/);
  // The temp file is no record (two warnings above, for the two bad records); opening the state directory removes it.
  await (await StateStore.open(dir)).close();
  assert.ok(!fs.readdirSync(path.join(dir, 'magnets')).some((n) => n.endsWith('.tmp')), 'temp file removed');
  await removePendingMagnet(dir, hex);
  await removePendingMagnet(dir, hex); // missing is fine
  assert.deepEqual((await loadPendingMagnets(dir, () => undefined)).map((r) => r.id), [2]);
  await assert.rejects(savePendingMagnet(dir, { ...rec(hex, 1), infoHash: '../x' }), RangeError);
});

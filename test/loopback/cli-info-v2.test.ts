/**
 * `bitpeer info` on the torrents issue 12 is about (BEP 47 pad files, BEP 52 v2 and hybrid torrents made by
 * libtorrent 2.0.8, test/fixtures/torrents): a person never sees a pad file nor its bytes; `--json` lists every file
 * with pads marked `padding: true`, and gives the meta version and both info-hashes.
 * BEP: 47, 52.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { bitpeerBin } from '../helpers/proc.js';
import { projectRoot } from '../helpers/python.js';

const fixture = (n: string): string => join(projectRoot(), 'test', 'fixtures', 'torrents', n);

function info(args: string[]): { code: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [bitpeerBin(), 'info', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout };
}

test('info on a hybrid torrent: no pad file listed or counted; v2 hash and meta version shown', () => {
  const r = info([fixture('lt-hybrid-multi.torrent')]);
  assert.equal(r.code, 0);
  assert.ok(!r.stdout.includes('.pad'), r.stdout);
  assert.match(r.stdout, /^info-hash: 4c9b96a695d09e91040fdd7af52aee9cfcd7123b$/m);
  assert.match(r.stdout, /^info-hash v2: f154d88927ae2c6a4a007cfec214b518585689a6a87690e8fc80b15ff11b7da6$/m);
  assert.match(r.stdout, /^meta version: hybrid \(v1 \+ v2\)$/m);
  assert.match(r.stdout, /^size: .* \(126390 bytes\)$/m); // 40000 + 16384 + 5 + 70000 + 1, no padding
  assert.match(r.stdout, /^files \(6\):$/m);
});

test('info --json: every file, pads marked padding: true, size without them; v2-only names its truncated hash', () => {
  const j = JSON.parse(info(['--json', fixture('lt-v2-multi.torrent')]).stdout) as {
    infoHash: string; metaVersion: string; infoHashV1: string | null; infoHashV2: string; size: number; paddedSize: number;
    files: { path: string; length: number; padding?: boolean; piecesRoot?: string }[];
  };
  assert.equal(j.metaVersion, 'v2');
  assert.equal(j.infoHashV1, null);
  assert.equal(j.infoHash, j.infoHashV2.slice(0, 40));
  assert.equal(j.size, 126390);
  assert.equal(j.paddedSize, 180224);
  const pads = j.files.filter((f) => f.padding === true);
  assert.deepEqual(pads.map((f) => f.length), [9152, 16379, 11920, 16383]);
  assert.ok(pads.every((f) => f.path.startsWith('content/.pad/')));
  assert.equal(j.files.filter((f) => f.padding !== true).length, 6);
  assert.ok(j.files.filter((f) => f.padding !== true && f.length > 0).every((f) => f.piecesRoot?.length === 64));
});

test('info shows BEP 47 attributes of a libtorrent torrent (the executable bit)', () => {
  const r = info([fixture('lt-hybrid-exec.torrent')]);
  assert.match(r.stdout, /content\/bin\/run\.sh {2}20 B {2}\(executable\)/);
});

// Which web UI the daemon serves (daemon.ts webUiFor): a --web-home folder (Transmission's web client) over bitpeer's
// built UI, bitpeer's UI from dist/webui when built, and a clear error for a web home that is not a folder; and the
// `--web-home` option of `bitpeer daemon`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isBtError } from '../util/errors.js';
import { parse } from '../cli/args.js';
import { builtWebUi, packageRoot } from '../api/rpc/static-files.js';
import { webUiFor } from './daemon.js';

test('a web home wins and is marked as one; a missing or non-folder one is NOT_FOUND', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'bitpeer-webhome-'));
  try {
    const r = await webUiFor(dir);
    assert.equal(r.web?.webHome, true);
    assert.equal(r.web?.site.root, dir);
    writeFileSync(path.join(dir, 'file'), 'x');
    for (const bad of [path.join(dir, 'missing'), path.join(dir, 'file')]) {
      await assert.rejects(webUiFor(bad), (err: unknown) => isBtError(err) && err.code === 'NOT_FOUND' && err.message.includes(bad));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a web home: dist/webui under the package root, with the landing page note while it is not built', async () => {
  const root = packageRoot();
  assert.ok(root !== undefined);
  const r = await webUiFor(undefined);
  assert.equal(r.web?.site.root, path.join(root, 'dist', 'webui'));
  assert.notEqual(r.web?.webHome, true);
  if (await builtWebUi(root) !== undefined) assert.equal(r.note, undefined);
  else assert.match(r.note ?? '', /npm run build/);
});

test('bitpeer daemon takes --web-home DIR', () => {
  assert.equal(parse(['--web-home', '/srv/web'], 'daemon').values['web-home'], '/srv/web');
});

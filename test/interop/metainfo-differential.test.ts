// Differential test of the .torrent parser against libtorrent 2.0.8 (python3-libtorrent's torrent_info, plus a
// session's add_torrent, which is where libtorrent checks piece layers): every hostile fixture (make-hostile.ts,
// sanitised and refused classes) and every libtorrent-made v1/v2/hybrid torrent (test/fixtures/torrents) must get
// the same verdict, the same info-hashes and the same non-pad files (path as libtorrent's file_path, and length).
// One python process for all files. Skipped, with the reason printed, only when python3-libtorrent is missing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseTorrent } from '../../src/metainfo/metainfo.js';
import { hostileTorrents } from '../fixtures/make-hostile.js';
import { findLibtorrentPython, projectRoot } from '../helpers/python.js';

const python = findLibtorrentPython();
const skip = python === null ? 'python3-libtorrent not installed' : undefined;
if (skip !== undefined) console.log(`# SKIP metainfo differential: ${skip}`);

interface LtAnswer {
  file: string;
  verdict: 'ok' | 'error' | 'add-error';
  error?: string;
  v1?: string | null;
  v2?: string | null;
  files?: [string, number][];
}

interface Ours {
  verdict: 'ok' | 'error';
  error?: string;
  v1: string | null;
  v2: string | null;
  files: [string, number][];
}

function ours(bytes: Buffer): Ours {
  try {
    const m = parseTorrent(bytes);
    return {
      verdict: 'ok',
      v1: m.infoHashV1?.toString('hex') ?? null,
      v2: m.infoHashV2?.toString('hex') ?? null,
      files: m.files.filter((f) => f.padding !== true).map((f) => [f.relPath, f.length]),
    };
  } catch (e) {
    return { verdict: 'error', error: String(e), v1: null, v2: null, files: [] };
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'bitpeer-meta-diff-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('bitpeer and libtorrent agree on every fixture: verdict, info-hashes, non-pad files', { skip, timeout: 60_000 }, () => {
  const inputs: string[] = [];
  for (const h of hostileTorrents()) {
    if (!h.onDisk) continue;
    const p = path.join(dir, `${h.name}.torrent`);
    writeFileSync(p, h.bytes);
    inputs.push(p);
  }
  const made = path.join(projectRoot(), 'test', 'fixtures', 'torrents');
  const madeFiles = readdirSync(made).filter((n) => n.endsWith('.torrent'));
  assert.ok(madeFiles.some((n) => n.startsWith('lt-v2-')) && madeFiles.some((n) => n.startsWith('lt-hybrid-')));
  for (const n of madeFiles) inputs.push(path.join(made, n));

  const script = path.join(projectRoot(), 'test', 'helpers', 'lt_torrent_info.py');
  const r = spawnSync(python!, [script, ...inputs], { encoding: 'utf8', timeout: 50_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `lt_torrent_info.py failed: ${r.error?.message ?? ''} ${r.stderr}`);
  const theirs = JSON.parse(r.stdout) as LtAnswer[];
  assert.equal(theirs.length, inputs.length);

  let verdicts = 0;
  let hashes = 0;
  let files = 0;
  let accepted = 0;
  const problems: string[] = [];
  theirs.forEach((lt, i) => {
    const name = path.basename(inputs[i]!);
    const me = ours(readFileSync(inputs[i]!));
    const ltOk = lt.verdict === 'ok';
    if (ltOk === (me.verdict === 'ok')) verdicts++;
    else problems.push(`${name}: libtorrent ${lt.verdict}${lt.error !== undefined ? ` (${lt.error})` : ''}, bitpeer ${me.verdict}${me.error !== undefined ? ` (${me.error})` : ''}`);
    if (!ltOk || me.verdict !== 'ok') {
      // Both refused: no hashes or files to compare.
      if (!ltOk && me.verdict !== 'ok') { hashes++; files++; }
      return;
    }
    accepted++;
    if ((lt.v1 ?? null) === me.v1 && (lt.v2 ?? null) === me.v2) hashes++;
    else problems.push(`${name}: hashes libtorrent v1=${lt.v1} v2=${lt.v2}, bitpeer v1=${me.v1} v2=${me.v2}`);
    if (JSON.stringify(lt.files) === JSON.stringify(me.files)) files++;
    else problems.push(`${name}: files libtorrent ${JSON.stringify(lt.files)}, bitpeer ${JSON.stringify(me.files)}`);
  });
  const n = inputs.length;
  console.log(`metainfo differential: ${n} files, verdicts equal ${verdicts}, hashes equal ${hashes}, files equal ${files}` +
    ` (${accepted} accepted by both)`);
  assert.deepEqual(problems, []);
  assert.equal(verdicts, n);
  assert.equal(hashes, n);
  assert.ok(accepted >= 40, `only ${accepted} fixtures accepted; the sanitised classes are missing`);
});

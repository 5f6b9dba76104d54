// Interop: `createTorrent` / `bitpeer create` with --hybrid and --v2 against libtorrent 2.0.8's create_torrent (flags 0
// = hybrid, v2_only). For a single file and for a nested folder of awkward sizes, at two piece lengths, the info dicts
// are byte-identical (so the v1 and v2 info-hashes are equal), the `piece layers` are identical, and libtorrent's
// torrent_info loads bitpeer's output with the same files (pads included) and pieces. One python process does all of
// libtorrent's side. Skipped, with the reason printed, only when python3-libtorrent is missing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTorrent } from '../../src/create/create-torrent.js';
import { decode } from '../../src/bencode/decode.js';
import type { BDict } from '../../src/bencode/types.js';
import { findLibtorrentPython } from '../helpers/python.js';
import { bitpeerBin } from '../helpers/proc.js';

const python = findLibtorrentPython();
const missing = python === null ? 'python3-libtorrent not installed' : undefined;
if (missing !== undefined) console.log(`# skipping create-v2 interop: ${missing}`);

const root = mkdtempSync(path.join(tmpdir(), 'bitpeer-create-v2-'));
after(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, data: Buffer | string, mode?: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
  if (mode !== undefined) chmodSync(file, mode);
}

/**
 * libtorrent's side, for each job: create_torrent over the same path (its info dict and piece layers, hex), and
 * torrent_info over both its own and bitpeer's .torrent (info-hashes, files with pad flags, piece count).
 */
const LT_SCRIPT = `
import json, os, sys
import libtorrent as lt
def load(data):
    ti = lt.torrent_info(data)
    ih = ti.info_hashes()
    fs = ti.files()
    files = [[fs.file_path(i), fs.file_size(i), bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
              bool(fs.file_flags(i) & lt.file_storage.flag_executable)] for i in range(fs.num_files())]
    return {'v1': ih.v1.to_bytes().hex() if ih.has_v1() else None, 'v2': ih.v2.to_bytes().hex() if ih.has_v2() else None,
            'files': files, 'pieces': ti.num_pieces(), 'pieceLength': ti.piece_length()}
out = []
for job in json.load(sys.stdin):
    fs = lt.file_storage()
    lt.add_files(fs, job['path'])
    ct = lt.create_torrent(fs, job['pl'], lt.create_torrent.v2_only if job['mode'] == 'v2' else 0)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(job['path'])))
    e = ct.generate()
    theirs = lt.bencode(e)
    layers = {k.hex(): v.hex() for k, v in e.get(b'piece layers', {}).items()}
    r = {'info': lt.bencode(e[b'info']).hex(), 'layers': layers, 'theirs': load(theirs)}
    try:
        r['ours'] = load(open(job['ours'], 'rb').read())
    except Exception as ex:
        r['ours'] = {'error': str(ex)}
    out.append(r)
print(json.dumps(out))
`;

interface Loaded { v1: string | null; v2: string | null; files: [string, number, boolean, boolean][]; pieces: number; pieceLength: number; error?: string }
interface LtResult { info: string; layers: Record<string, string>; theirs: Loaded; ours: Loaded }

function runLibtorrent(jobs: { path: string; pl: number; mode: string; ours: string }[]): LtResult[] {
  const r = spawnSync(python!, ['-c', LT_SCRIPT], { input: JSON.stringify(jobs), encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `libtorrent script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as LtResult[];
}

const single = path.join(root, 'single', 'movie.part.mkv');
const folder = path.join(root, 'My Album');

before(() => {
  write(single, randomBytes(100_003));
  // Awkward sizes for both piece lengths (16 KiB, 32 KiB): 0 bytes, 1 byte, exactly one piece, one byte over, several.
  write(path.join(folder, 'empty.cue'), '');
  write(path.join(folder, 'one.txt'), 'x');
  write(path.join(folder, 'exact', '16k.bin'), randomBytes(16_384));
  write(path.join(folder, 'exact', '32k.bin'), randomBytes(32_768));
  write(path.join(folder, 'over', '16k+1.bin'), randomBytes(16_385));
  write(path.join(folder, 'over', '32k+1.bin'), randomBytes(32_769));
  write(path.join(folder, 'several.flac'), randomBytes(5 * 32_768 + 12_345));
  write(path.join(folder, 'art', 'scans', 'deep', 'page 1.png'), randomBytes(70_001));
  // Order traps: libtorrent compares paths component by component ('a/x' < 'a-b' < 'a.c'), unlike mktorrent.
  write(path.join(folder, 'a', 'x'), randomBytes(3));
  write(path.join(folder, 'a-b'), randomBytes(5));
  write(path.join(folder, 'a.c'), randomBytes(7));
  write(path.join(folder, 'B'), randomBytes(11));
  write(path.join(folder, '.hidden', 'x'), randomBytes(13));
  write(path.join(folder, 'naïve ünïcödé', 'ß.txt'), randomBytes(999));
  write(path.join(folder, 'tail-empty'), '');
  // BEP 47 'x' from the owner-execute bit; a followed symlink is 'x' too (libtorrent reads lstat()).
  write(path.join(folder, 'run.sh'), randomBytes(2000), 0o755);
  symlinkSync('several.flac', path.join(folder, 'link-to-several'));
});

const cases = [
  { label: 'single file', target: single },
  { label: 'nested folder', target: folder },
] as const;

test('create --hybrid / --v2: info dicts, info-hashes and piece layers equal libtorrent 2.0.8\'s; it loads ours', { skip: missing, timeout: 30_000 }, async () => {
  const jobs: { path: string; pl: number; mode: 'v2' | 'hybrid'; ours: string; label: string; infoBytes: Buffer; layers: Map<string, Buffer> }[] = [];
  for (const { label, target } of cases) {
    for (const pl of [16_384, 32_768]) {
      for (const mode of ['hybrid', 'v2'] as const) {
        const { torrent, meta } = await createTorrent(target, { version: mode, pieceLength: pl, creationDate: null, threads: pl === 16_384 ? 0 : 1 });
        const ours = path.join(root, `ours-${jobs.length}.torrent`);
        writeFileSync(ours, torrent);
        const top = decode(torrent).value as BDict;
        const layers = top.get('piece layers') as BDict | undefined;
        assert.ok(layers instanceof Map, `${label} ${mode} ${pl}: top-level piece layers`);
        assert.equal(meta.version, mode);
        jobs.push({ path: target, pl, mode, ours, label, infoBytes: meta.infoBytes, layers: layers as Map<string, Buffer> });
      }
    }
  }
  const results = runLibtorrent(jobs);
  let compared = 0;
  for (const [i, job] of jobs.entries()) {
    const r = results[i]!;
    const what = `${job.label}, ${job.mode}, piece length ${job.pl}`;
    assert.equal(r.ours.error, undefined, `${what}: libtorrent refused bitpeer's torrent: ${r.ours.error}`);
    assert.equal(job.infoBytes.toString('hex'), r.info, `${what}: info dicts are byte-identical`);
    const sha1 = createHash('sha1').update(job.infoBytes).digest('hex');
    const sha256 = createHash('sha256').update(job.infoBytes).digest('hex');
    assert.equal(r.theirs.v2, sha256, `${what}: v2 info-hash`);
    assert.equal(r.ours.v2, sha256, `${what}: libtorrent reads our v2 info-hash`);
    if (job.mode === 'hybrid') {
      assert.equal(r.theirs.v1, sha1, `${what}: v1 info-hash`);
      assert.equal(r.ours.v1, sha1);
    } else {
      assert.equal(r.ours.v1, null, `${what}: v2-only has no v1 hash`);
    }
    const ourLayers = Object.fromEntries([...job.layers].map(([k, v]) => [Buffer.from(k, 'latin1').toString('hex'), v.toString('hex')]));
    assert.deepEqual(ourLayers, r.layers, `${what}: piece layers`);
    assert.deepEqual(r.ours.files, r.theirs.files, `${what}: libtorrent sees the same files, pads and attributes`);
    assert.equal(r.ours.pieces, r.theirs.pieces);
    assert.equal(r.ours.pieceLength, job.pl);
    compared++;
  }
  assert.equal(compared, 8);
  // The fixture really exercises the layout: pads in the folder's hybrid torrent, multi-piece layers, 'x' attributes.
  const folderHybrid = results[4]!;
  assert.ok(folderHybrid.theirs.files.some((f) => f[2]), 'pad files');
  assert.ok(folderHybrid.theirs.files.some((f) => f[3] && f[0].endsWith('run.sh')), 'executable');
  assert.ok(folderHybrid.theirs.files.some((f) => f[3] && f[0].endsWith('link-to-several')), 'symlink counts as executable');
  assert.ok(Object.keys(folderHybrid.layers).length >= 3, 'several files with piece layers');
});

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bitpeerBin(), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bitpeer create --hybrid / --v2 on the command line: both hashes, libtorrent\'s; bad piece lengths refused', { skip: missing, timeout: 30_000 }, async () => {
  const outs: string[] = [];
  const printed: { infoHash: string; infoHashV1?: string; infoHashV2?: string; version: string; files: number; magnet: string }[] = [];
  for (const flag of ['--hybrid', '--v2']) {
    const out = path.join(root, `cli${flag}.torrent`);
    const r = cli(['create', folder, '-o', out, flag, '--piece-length', '32K', '--no-date', '--json', '--announce', 'http://127.0.0.1:1/announce']);
    assert.equal(r.code, 0, r.stderr);
    printed.push(JSON.parse(r.stdout) as typeof printed[number]);
    outs.push(out);
  }
  const lt = runLibtorrent(outs.map((ours, i) => ({ path: folder, pl: 32_768, mode: i === 0 ? 'hybrid' : 'v2', ours })));
  const [hybrid, v2] = printed;
  assert.equal(hybrid!.version, 'hybrid');
  assert.equal(hybrid!.infoHashV1, lt[0]!.theirs.v1);
  assert.equal(hybrid!.infoHashV2, lt[0]!.theirs.v2);
  assert.equal(hybrid!.infoHash, hybrid!.infoHashV1, 'a hybrid is named by its v1 hash on the wire');
  assert.equal(hybrid!.files, 17, 'pad files are not counted');
  assert.match(hybrid!.magnet, new RegExp(`xt=urn:btih:${lt[0]!.theirs.v1}&xt=urn:btmh:1220${lt[0]!.theirs.v2}`));
  assert.equal(v2!.version, 'v2');
  assert.equal(v2!.infoHashV2, lt[1]!.theirs.v2);
  assert.equal(v2!.infoHash, lt[1]!.theirs.v2!.slice(0, 40), 'a v2-only torrent is named by its truncated v2 hash');
  assert.match(v2!.magnet, new RegExp(`^magnet:\\?xt=urn:btmh:1220${lt[1]!.theirs.v2}&`));
  assert.equal(lt[1]!.ours.error, undefined);
  assert.deepEqual(readFileSync(outs[1]!).subarray(0, 1).toString(), 'd');

  for (const bad of [['--v2', '--piece-length', '48K'], ['--hybrid', '--piece-length', '8K'], ['--v2', '--hybrid']]) {
    const r = cli(['create', folder, '-o', path.join(root, 'bad.torrent'), ...bad]);
    assert.notEqual(r.code, 0, `${bad.join(' ')} is refused`);
    assert.notEqual(r.code, null);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, bad.includes('--piece-length') ? /power of two of at least 16 KiB for a (v2|hybrid) torrent/ : /exclude each other/);
  }
});

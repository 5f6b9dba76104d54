// Benchmark case B7: many small files. One seed → one downloader on 127.0.0.1, a folder of ~5,000 files totalling
// ~140 MiB (99% log-uniform 1–64 KiB, 1% 256 KiB–4 MiB, deterministic content), piece length 256 KiB, for the four
// pairs libtorrent → libtorrent (the reference), bitpeer → bitpeer, libtorrent → bitpeer and bitpeer → libtorrent.
//
// Measures, per transfer: wall time from the downloader's start to its "complete" event and to its exit, MB/s (start →
// complete), the downloader's whole-process CPU seconds (user + sys, /usr/bin/time) and peak RSS, and the seed's CPU
// seconds during the transfer (from /proc). Every download is checked file by file against the source tree (SHA-1).
// Invariant: runs are interleaved (run 1 of every pair, then run 2, ...), so drift in the machine's load hits every row
// alike. `--quick` makes the tree small (~500 files, ~14 MiB).
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import {
  bitpeer, GiB, LT_PEER, MB, MiB, fmt, fmtSpread, markdownTable, measureTransfer, sha1File, stats, syncDisks, target,
} from './lib.js';
// The bench runs only once bitpeer is built (scripts/bench.js checks before it loads a case).
import { seededRng } from '../../dist/src/util/seeded-rng.js';

export const id = 'B7';
export const title = 'Many files: a folder of ~5,000 files (~140 MiB), one seed → one downloader';

const PAIRS = {
  'lt-lt': { seed: 'libtorrent', dl: 'libtorrent' },
  'bp-bp': { seed: 'bitpeer', dl: 'bitpeer' },
  'lt-bp': { seed: 'libtorrent', dl: 'bitpeer' },
  'bp-lt': { seed: 'bitpeer', dl: 'libtorrent' },
};
const PIECE_LENGTH = 256 * 1024;
const NAME = 'tree';

/**
 * The tree's layout: `count` files in folders two levels deep; 99% of them log-uniform between 1 KiB and 64 KiB, 1%
 * log-uniform between 256 KiB and 4 MiB (a source tree with a few assets), scaled so they sum to `total`.
 */
export function layout(count, total) {
  const next = seededRng(0xb7);
  const logUniform = (lo, hi) => Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * next());
  const raw = Array.from({ length: count }, (_, i) => (i % 100 === 37 ? logUniform(256 * 1024, 4 * MiB) : logUniform(1024, 64 * 1024)));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((r, i) => ({
    path: join(`d${String(i % 40).padStart(2, '0')}`, `s${String(Math.floor(i / 40) % 8)}`, `f${String(i).padStart(5, '0')}.bin`),
    size: Math.max(1, Math.round((r * total) / sum)),
  }));
}

/** Writes the tree under `dir` (AES-CTR keystream per file); returns { path → sha1 } and the byte total. */
async function writeTree(dir, files) {
  const hashes = new Map();
  let bytes = 0;
  for (const f of files) {
    const key = createHash('sha256').update(`bench-b7-${f.path}`).digest();
    const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
    const data = cipher.update(Buffer.alloc(f.size));
    const p = join(dir, f.path);
    await mkdir(join(p, '..'), { recursive: true });
    await writeFile(p, data);
    hashes.set(f.path, createHash('sha1').update(data).digest('hex'));
    bytes += f.size;
  }
  syncDisks();
  return { hashes, bytes };
}

async function listFiles(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath ?? e.path, e.name)));
  }
  return out;
}

/** Checks the downloaded tree against the source hashes; throws on the first difference. */
async function verifyTree(dir, hashes) {
  const got = await listFiles(dir).catch(() => []);
  if (got.length !== hashes.size) throw new Error(`downloaded tree has ${got.length} files, expected ${hashes.size}`);
  for (const [p, h] of hashes) {
    const actual = await sha1File(join(dir, p)).catch((e) => `unreadable: ${e.message}`);
    if (actual !== h) throw new Error(`${p}: sha1 ${actual}, expected ${h}`);
  }
}

function seedCommand(kind, ctx, c) {
  if (kind === 'libtorrent') {
    return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--torrent', c.torrent, '--save', c.srcDir, '--port', '0',
      '--high-performance']];
  }
  return bitpeer(['seed', c.torrent, c.treeDir, '--port', '0', '--json', '--no-lsd', '--no-tracker', '--no-utp']);
}

function downloadCommand(kind, ctx, c, outDir, port) {
  if (kind === 'libtorrent') {
    return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'download', '--torrent', c.torrent, '--save', outDir, '--port', '0',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(c.timeoutSec), '--high-performance']];
  }
  return bitpeer(['get', c.torrent, '-o', outDir, '--port', '0', '--peer', `127.0.0.1:${port}`,
    '--json', '--no-lsd', '--no-tracker', '--no-utp']);
}

async function transfer(ctx, c, pairKey, run) {
  const pair = PAIRS[pairKey];
  const timeoutMs = c.timeoutSec * 1000;
  const result = { pair: pairKey, run, ok: false };
  const outDir = join(ctx.base, `dl-${pairKey}-${run}`);
  await mkdir(outDir, { recursive: true });
  const procs = [];
  try {
    const timeFile = ctx.hasTime ? join(ctx.base, `time-${pairKey}-${run}.txt`) : null;
    Object.assign(result, await measureTransfer({
      seed: { kind: pair.seed, command: seedCommand(pair.seed, ctx, c) },
      download: { kind: pair.dl, command: (port) => downloadCommand(pair.dl, ctx, c, outDir, port) },
      timeFile, timeoutMs, verbose: ctx.verbose, procs,
    }));
    result.mbPerSec = c.bytes / MB / result.wallSeconds;
    result.wholeMbPerSec = c.bytes / MB / result.processSeconds;
    result.cpuSecondsPerGiB = result.cpuSeconds / (c.bytes / GiB);
    result.seedCpuSecondsPerGiB = result.seedCpuSeconds / (c.bytes / GiB);
    await verifyTree(join(outDir, NAME), c.hashes);
    result.ok = true;
  } catch (err) {
    result.error = String(err instanceof Error ? err.message : err);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    // The tree is removed only when the case ends: ext4 makes a create skip inodes freed in the last minute(s)
    // (recently_deleted, a linear scan), so deleting 5,000 files right before the next download slows that
    // download's creates by seconds of kernel time, and would penalise whichever pair runs next.
  }
  return result;
}

export async function run(ctx) {
  const count = ctx.quick ? 500 : 5000;
  const total = ctx.quick ? 14 * MiB : 140 * MiB;
  const pairs = Object.keys(PAIRS);
  const srcDir = join(ctx.base, 'src');
  const treeDir = join(srcDir, NAME);
  const files = layout(count, total);
  ctx.log(`B7: writing ${count} files, ${fmt(total / MiB, 0)} MiB of test data`);
  const { hashes, bytes } = await writeTree(treeDir, files);
  const torrent = join(ctx.base, 'tree.torrent');
  const r = ctx.hasMktorrent
    ? spawnSync('mktorrent', ['-l', String(Math.log2(PIECE_LENGTH)), '-o', torrent, treeDir], { encoding: 'utf8' })
    : spawnSync(...bitpeer(['create', treeDir, '-o', torrent, '--piece-length', String(PIECE_LENGTH)]), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the torrent failed: ${r.stderr}`);
  const results = [];
  try {
    for (let run = 1; run <= ctx.runs; run++) {
      for (const key of pairs) {
        const pair = PAIRS[key];
        if ((pair.seed === 'libtorrent' || pair.dl === 'libtorrent') && !ctx.lt) {
          results.push({ pair: key, run, ok: false, skipped: 'no python with libtorrent' });
          continue;
        }
        ctx.log(`B7 run ${run}/${ctx.runs}: ${pair.seed} → ${pair.dl} ...`);
        const c = { torrent, srcDir, treeDir, hashes, bytes, timeoutSec: ctx.quick ? 120 : 300 };
        const res = await transfer(ctx, c, key, run);
        ctx.log(res.ok
          ? `B7   complete ${fmt(res.wallSeconds)} s (${fmt(res.mbPerSec, 1)} MB/s), exit ${fmt(res.processSeconds)} s, ` +
            `dl CPU ${fmt(res.cpuSeconds)} s, dl RSS ${fmt(res.peakRssBytes / MB, 0)} MB, seed CPU ${fmt(res.seedCpuSeconds)} s`
          : `B7   FAILED: ${res.error}`);
        results.push(res);
      }
    }
  } finally {
    for (const key of pairs) for (let run = 1; run <= ctx.runs; run++) await rm(join(ctx.base, `dl-${key}-${run}`), { recursive: true, force: true });
  }
  const rows = pairs.map((key) => {
    const rs = results.filter((x) => x.pair === key);
    const ok = rs.filter((x) => x.ok);
    return {
      pair: key, label: `${PAIRS[key].seed} → ${PAIRS[key].dl}`, runs: rs.length, ok: ok.length,
      skipped: rs.find((x) => x.skipped)?.skipped, error: rs.find((x) => x.error)?.error,
      wallSeconds: stats(ok.map((x) => x.wallSeconds)), processSeconds: stats(ok.map((x) => x.processSeconds)),
      mbPerSec: stats(ok.map((x) => x.mbPerSec)), wholeMbPerSec: stats(ok.map((x) => x.wholeMbPerSec)),
      cpuSecondsPerGiB: stats(ok.map((x) => x.cpuSecondsPerGiB)), peakRssMB: stats(ok.map((x) => x.peakRssBytes / MB)),
      seedCpuSecondsPerGiB: stats(ok.map((x) => x.seedCpuSecondsPerGiB)),
    };
  });
  const ref = rows.find((x) => x.pair === 'lt-lt');
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const table = rows.map((x) => [
    x.label + (x.skipped ? ` (skipped: ${x.skipped})` : ''), `${x.ok}/${x.runs}`, fmtSpread(x.wallSeconds, 2),
    fmtSpread(x.processSeconds, 2), fmtSpread(x.mbPerSec), fmt(ratio(x.mbPerSec.median, ref?.mbPerSec.median)) + '×',
    fmt(ratio(x.wholeMbPerSec.median, ref?.wholeMbPerSec.median)) + '×', fmtSpread(x.cpuSecondsPerGiB, 2),
    fmtSpread(x.peakRssMB, 0), fmtSpread(x.seedCpuSecondsPerGiB, 2),
  ]);
  const lines = [`${count} files, ${fmt(bytes / MiB, 0)} MiB, piece length ${PIECE_LENGTH / 1024} KiB, TCP:\n`,
    markdownTable(['seed → downloader', 'ok/runs', 'start→complete s', 'start→exit s', 'MB/s', 'vs lt→lt',
      'whole process vs lt→lt', 'dl CPU s/GiB', 'dl peak RSS MB', 'seed CPU s/GiB'], table), '',
    'Medians of the runs; ±x% is half the spread (max − min) relative to the median. MB = 10^6 bytes. MB/s is start → ' +
    '"complete"; "whole process" compares start → exit. Every download is checked file by file (SHA-1).'];
  const bb = rows.find((x) => x.pair === 'bp-bp');
  const r1 = ratio(bb?.mbPerSec.median, ref?.mbPerSec.median);
  const r2 = ratio(bb?.wholeMbPerSec.median, ref?.wholeMbPerSec.median);
  const targets = [
    target(id, 'bitpeer → bitpeer throughput, many files', '≥ 1.5× lt→lt', `${fmt(r1)}×`, r1 === undefined ? undefined : r1 >= 1.5),
    target(id, 'bitpeer → bitpeer whole process (start → exit), many files', '≥ 1.5× lt→lt', `${fmt(r2)}×`,
      r2 === undefined ? undefined : r2 >= 1.5),
  ];
  return { markdown: lines.join('\n'), summary: { count, bytes, pieceLength: PIECE_LENGTH, rows }, runs: results, targets };
}

// Benchmark case B1: one seed → one downloader on 127.0.0.1, a single file of 1 GiB and of 256 MiB (`--b1-sizes`),
// piece length 256 KiB and 1 MiB, for the four pairs bitpeer → bitpeer, libtorrent → libtorrent, libtorrent → bitpeer
// and bitpeer → libtorrent.
//
// Measures, per transfer: the whole process, wall time from the downloader's start to its exit (with exit code 0),
// and MB/s over it; the time from the start to its "complete" event, and from "complete" to the exit (what a
// downloader does after the last piece: bitpeer makes data and resume state durable, libtorrent's helper
// test/helpers/lt_peer.py pauses, removes the torrent, which closes its files, and lets the session go); the
// downloader's whole-process CPU seconds (user + sys, from /usr/bin/time at exit) per GiB and peak RSS, and the seed's
// CPU seconds during the transfer (from /proc before and after). Every download is checked against the source by
// SHA-1.
// Invariant: runs are interleaved (run 1 of every pair and piece length, then run 2, ...), so drift in the machine's
// load hits every row alike; the libtorrent → libtorrent row of the same piece length is the reference of each ratio.
import { mkdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { basename, dirname, join } from 'node:path';
import {
  bitpeer, GiB, LT_PEER, MB, MiB, fmt, fmtSpread, markdownTable, measureTransfer, sha1File, stats, target,
  writeRandomFile,
} from './lib.js';

export const id = 'B1';
export const title = 'One-to-one: 1 GiB single file, one seed → one downloader';

const PAIRS = {
  'lt-lt': { seed: 'libtorrent', dl: 'libtorrent' },
  'bp-bp': { seed: 'bitpeer', dl: 'bitpeer' },
  'lt-bp': { seed: 'libtorrent', dl: 'bitpeer' },
  'bp-lt': { seed: 'bitpeer', dl: 'libtorrent' },
  // A/B of the download path (only with --b1-pairs): pieces hashed and written on the main thread, or on the
  // piece-writer thread (BITPEER_PIECE_WORKER, src/cli/io-env.ts), whatever the default is.
  'bp-bp-main': { seed: 'bitpeer', dl: 'bitpeer', dlEnv: ['BITPEER_PIECE_WORKER=0'], note: ' (main thread)' },
  'bp-bp-worker': { seed: 'bitpeer', dl: 'bitpeer', dlEnv: ['BITPEER_PIECE_WORKER=1'], note: ' (piece-writer thread)' },
};
/** The pairs of a run without --b1-pairs. */
const DEFAULT_PAIRS = ['lt-lt', 'bp-bp', 'lt-bp', 'bp-lt'];
export const B1_PAIRS = Object.keys(PAIRS);

/** `[cmd, args]` with `assignments` (NAME=value) added to the environment of the process it starts. */
function withEnv([cmd, args], assignments) {
  if (!assignments || assignments.length === 0) return [cmd, args];
  if (cmd === '/usr/bin/env') return [cmd, [...assignments, ...args]];
  return ['/usr/bin/env', [...assignments, cmd, ...args]];
}

// The transport of a transfer: TCP (B1: bitpeer with --no-utp, libtorrent with uTP off) or uTP (B5: bitpeer's
// default, uTP first, which a bitpeer seed always accepts; libtorrent with TCP off).
const btFlags = (c) => (c.utp ? ['--utp'] : ['--no-utp']);
const ltFlags = (c) => (c.utp ? ['--utp-only'] : []);

function seedCommand(kind, ctx, c) {
  if (kind === 'libtorrent') {
    return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--torrent', c.torrent, '--save', c.srcDir, '--port', '0',
      '--high-performance', ...ltFlags(c)]];
  }
  return bitpeer(['seed', c.torrent, c.dataFile, '--port', '0', '--json', '--no-lsd',
    '--no-tracker', ...btFlags(c)]);
}

function downloadCommand(kind, ctx, c, outDir, port, env) {
  if (kind === 'libtorrent') {
    return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'download', '--torrent', c.torrent, '--save', outDir, '--port', '0',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(c.timeoutSec), '--high-performance', ...ltFlags(c)]];
  }
  return withEnv(bitpeer(['get', c.torrent, '-o', outDir, '--port', '0', '--peer', `127.0.0.1:${port}`,
    '--json', '--no-lsd', '--no-tracker', ...btFlags(c)]), env);
}

export async function transfer(ctx, c, pairKey, run) {
  const pair = PAIRS[pairKey];
  const timeoutMs = c.timeoutSec * 1000;
  const result = { pair: pairKey, pieceLength: c.pieceLength, run, ok: false };
  const outDir = join(ctx.base, `dl-${pairKey}-${c.pieceLength}-${run}`);
  await mkdir(outDir, { recursive: true });
  const procs = [];
  try {
    const timeFile = ctx.hasTime ? join(ctx.base, `time-${pairKey}-${c.pieceLength}-${run}.txt`) : null;
    // Whole process: start → exit (B1's time), and what the exit took after "complete". `wallSeconds` stays
    // start → "complete", as B5 (utp.js) and B6 report it.
    Object.assign(result, await measureTransfer({
      seed: { kind: pair.seed, command: seedCommand(pair.seed, ctx, c) },
      download: { kind: pair.dl, command: (port) => downloadCommand(pair.dl, ctx, c, outDir, port, pair.dlEnv) },
      timeFile, timeoutMs, verbose: ctx.verbose, procs,
    }));
    // A bitpeer downloader must have used the transport the case measures: with uTP on, TCP is dialed beside a uTP
    // dial that has no answer after 0.5 s, and a case that quietly measured TCP would report it as uTP.
    const want = c.utp ? 'utp' : 'tcp';
    if (result.transports && result.transports.some((t) => t !== want)) {
      throw new Error(`the downloader connected over ${result.transports.join(' and ')}, not ${want} only`);
    }
    result.mbPerSec = c.size / MB / result.wallSeconds;
    result.processMbPerSec = c.size / MB / result.processSeconds;
    result.cpuSecondsPerGiB = result.cpuSeconds / (c.size / GiB);
    const got = await sha1File(join(outDir, basename(c.dataFile))).catch((e) => `unreadable: ${e.message}`);
    if (got !== c.sha1) throw new Error(`downloaded content differs: sha1 ${got}, expected ${c.sha1}`);
    result.ok = true;
  } catch (err) {
    result.error = String(err instanceof Error ? err.message : err);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await rm(outDir, { recursive: true, force: true });
  }
  return result;
}

function summarize(results, pairs, pieceLengths, sizes) {
  const rows = [];
  for (const size of sizes) {
    for (const pl of pieceLengths) {
      for (const key of pairs) {
        const rs = results.filter((r) => r.pair === key && r.pieceLength === pl && r.bytes === size);
        const ok = rs.filter((r) => r.ok);
        rows.push({
          pair: key, pieceLength: pl, bytes: size, label: `${PAIRS[key].seed} → ${PAIRS[key].dl}${PAIRS[key].note ?? ''}`, runs: rs.length,
          ok: ok.length, skipped: rs.find((r) => r.skipped)?.skipped, error: rs.find((r) => r.error)?.error,
          processSeconds: stats(ok.map((r) => r.processSeconds)),
          processMbPerSec: stats(ok.map((r) => r.processMbPerSec)),
          wallSeconds: stats(ok.map((r) => r.wallSeconds)), mbPerSec: stats(ok.map((r) => r.mbPerSec)),
          exitMs: stats(ok.map((r) => r.exitMs)),
          // complete → exit against the transfer (start → "complete") of the same run
          exitShare: stats(ok.map((r) => r.exitMs / 1000 / r.wallSeconds)),
          cpuSecondsPerGiB: stats(ok.map((r) => r.cpuSecondsPerGiB)),
          peakRssMB: stats(ok.map((r) => r.peakRssBytes / MB)),
          seedCpuSecondsPerGiB: stats(ok.map((r) => r.seedCpuSeconds / (r.size ?? 1))),
        });
      }
    }
  }
  return rows;
}

/** The sizes of a full run: `--b1-sizes` (ctx.b1Sizes), else `--b1-size`, else 1 GiB and 256 MiB (the issue's). */
function sizesOf(ctx) {
  if (ctx.quick) return [64 * MiB];
  if (Array.isArray(ctx.b1Sizes) && ctx.b1Sizes.length > 0) return ctx.b1Sizes;
  if (ctx.b1Size) return [ctx.b1Size];
  return [GiB, 256 * MiB];
}

const sizeLabel = (bytes) => (bytes % GiB === 0 ? `${bytes / GiB} GiB` : `${fmt(bytes / MiB, 0)} MiB`);

export async function run(ctx) {
  const sizes = sizesOf(ctx);
  const pieceLengths = ctx.quick ? [256 * 1024] : [256 * 1024, 1024 * 1024];
  const pairs = Array.isArray(ctx.b1Pairs) && ctx.b1Pairs.length > 0 ? ctx.b1Pairs : DEFAULT_PAIRS;
  const srcDir = join(ctx.base, 'src');
  const inputs = {};
  for (const size of sizes) {
    const dataFile = join(srcDir, `data-${size}`, `data-${size}.bin`);
    ctx.log(`B1: writing ${fmt(size / MiB, 0)} MiB of test data`);
    const sha1 = await writeRandomFile(dataFile, size, `bench-b1-${size}`);
    const torrents = {};
    for (const pl of pieceLengths) {
      const torrent = join(ctx.base, `data-${size}-${pl}.torrent`);
      const r = ctx.hasMktorrent
        ? spawnSync('mktorrent', ['-l', String(Math.log2(pl)), '-o', torrent, dataFile], { encoding: 'utf8' })
        : spawnSync(...bitpeer(['create', dataFile, '-o', torrent, '--piece-length', String(pl)]),
          { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`making the torrent failed: ${r.stderr}`);
      torrents[pl] = torrent;
    }
    inputs[size] = { dataFile, srcDir: dirname(dataFile), sha1, torrents };
  }
  const results = [];
  for (let run = 1; run <= ctx.runs; run++) {
    for (const size of sizes) {
      for (const pl of pieceLengths) {
        for (const key of pairs) {
          const pair = PAIRS[key];
          if ((pair.seed === 'libtorrent' || pair.dl === 'libtorrent') && !ctx.lt) {
            results.push({ pair: key, pieceLength: pl, bytes: size, run, ok: false, skipped: 'no python with libtorrent' });
            continue;
          }
          ctx.log(`B1 run ${run}/${ctx.runs}, ${sizeLabel(size)}, piece ${pl / 1024} KiB: ${pair.seed} → ${pair.dl} ...`);
          const { dataFile, srcDir: dir, sha1, torrents } = inputs[size];
          const c = { size, pieceLength: pl, torrent: torrents[pl], srcDir: dir, dataFile, sha1,
            timeoutSec: ctx.quick ? 120 : Math.max(120, Math.ceil(300 * size / GiB)) };
          const r = await transfer(ctx, c, key, run);
          r.size = size / GiB;
          r.bytes = size;
          ctx.log(r.ok
            ? `B1   ${fmt(r.processSeconds)} s to exit (${fmt(r.wallSeconds)} s to complete, exit ${fmt(r.exitMs, 0)} ms), ` +
              `${fmt(r.processMbPerSec, 1)} MB/s, dl CPU ${fmt(r.cpuSeconds)} s, dl RSS ${fmt(r.peakRssBytes / MB, 0)} MB, ` +
              `seed CPU ${fmt(r.seedCpuSeconds)} s`
            : `B1   FAILED: ${r.error}`);
          results.push(r);
        }
      }
    }
  }
  const rows = summarize(results, pairs, pieceLengths, sizes);
  const targets = [];
  const lines = [];
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  for (const size of sizes) {
    for (const pl of pieceLengths) {
      const get = (k) => rows.find((r) => r.pair === k && r.pieceLength === pl && r.bytes === size);
      const ref = get('lt-lt');
      const refMb = ref?.processMbPerSec.median;
      const refCpu = ref?.cpuSecondsPerGiB.median;
      const refSeedCpu = ref?.seedCpuSecondsPerGiB.median;
      const table = rows.filter((r) => r.pieceLength === pl && r.bytes === size).map((r) => [
        r.label + (r.skipped ? ` (skipped: ${r.skipped})` : ''), `${r.ok}/${r.runs}`, fmtSpread(r.processSeconds, 2),
        fmtSpread(r.processMbPerSec), fmt(ratio(r.processMbPerSec.median, refMb)) + '×', fmtSpread(r.wallSeconds, 2),
        fmtSpread(r.exitMs, 0), fmtSpread(r.cpuSecondsPerGiB, 2), fmt(ratio(r.cpuSecondsPerGiB.median, refCpu)) + '×',
        fmtSpread(r.peakRssMB, 0), fmtSpread(r.seedCpuSecondsPerGiB, 2),
        fmt(ratio(r.seedCpuSecondsPerGiB.median, refSeedCpu)) + '×',
      ]);
      lines.push(`${sizeLabel(size)}, piece length ${pl / 1024} KiB:\n`);
      lines.push(markdownTable(['seed → downloader', 'ok/runs', 'time s (start → exit)', 'MB/s', 'vs lt→lt',
        'start → complete s', 'complete → exit ms', 'dl CPU s/GiB', 'vs lt→lt', 'dl peak RSS MB', 'seed CPU s/GiB',
        'vs lt→lt'], table));
      lines.push('');
      const bb = get('bp-bp');
      const lb = get('lt-bp');
      const bl = get('bp-lt');
      const tag = `${sizeLabel(size)}, ${pl / 1024} KiB`;
      const mbRatio = ratio(bb?.processMbPerSec.median, refMb);
      targets.push(target(id, `bitpeer → bitpeer throughput (start → exit), ${tag}`, '≥ 2.0× lt→lt', `${fmt(mbRatio)}×`,
        mbRatio === undefined ? undefined : mbRatio >= 2.0));
      for (const [k, row] of [['libtorrent → bitpeer', lb], ['bitpeer → libtorrent', bl]]) {
        const r = ratio(row?.processMbPerSec.median, refMb);
        targets.push(target(id, `${k} throughput (start → exit), ${tag}`, '≥ 1.2× lt→lt', `${fmt(r)}×`,
          r === undefined ? undefined : r >= 1.2));
      }
      for (const [k, row] of [['bitpeer → bitpeer', bb], ['libtorrent → bitpeer', lb]]) {
        const cr = ratio(row?.cpuSecondsPerGiB.median, refCpu);
        targets.push(target(id, `downloader CPU/GiB (${k}), ${tag}`, '≤ 0.7× lt→lt downloader',
          `${fmt(row?.cpuSecondsPerGiB.median)} s/GiB = ${fmt(cr)}×`, cr === undefined ? undefined : cr <= 0.7));
        const rss = row?.peakRssMB.max;
        targets.push(target(id, `downloader peak RSS (${k}), ${tag}`, '≤ 100 MB (worst run)', `${fmt(rss, 0)} MB`,
          rss === undefined ? undefined : rss <= 100));
        const share = row?.exitShare.median;
        targets.push(target(id, `complete → exit (${k}), ${tag}`, '≤ 10% of start → complete',
          `${fmt(row?.exitMs.median, 0)} ms = ${fmt(share === undefined ? undefined : share * 100, 1)}%`,
          share === undefined ? undefined : share <= 0.1));
      }
      for (const [k, row] of [['bitpeer → bitpeer', bb], ['bitpeer → libtorrent', bl]]) {
        const sr = ratio(row?.seedCpuSecondsPerGiB.median, refSeedCpu);
        targets.push(target(id, `seed CPU/GiB (${k}), ${tag}`, '≤ 0.5× lt→lt seed',
          `${fmt(row?.seedCpuSecondsPerGiB.median)} s/GiB = ${fmt(sr)}×`, sr === undefined ? undefined : sr <= 0.5));
      }
    }
  }
  lines.push('Medians of the runs; ±x% is half the spread (max − min) relative to the median. MB = 10^6 bytes. ' +
    'Time and MB/s are whole-process: the downloader\'s start to its exit (code 0); "start → complete" is the ' +
    'transfer alone and "complete → exit" what the downloader did after the last piece (bitpeer: data and resume ' +
    'state made durable; libtorrent\'s lt_peer.py: pause, remove the torrent, which closes its files without fsync, ' +
    'and end the session). ' +
    'Downloader CPU and peak RSS are whole-process figures from /usr/bin/time; seed CPU is measured from /proc over ' +
    'the transfer. libtorrent runs with high_performance_seed() and tick_interval 100, TCP only, no encryption; ' +
    'its RSS counts the memory-mapped pages of the file it writes.');
  return { markdown: lines.join('\n'), summary: { sizes, pieceLengths, rows }, runs: results, targets };
}

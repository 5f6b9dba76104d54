// Benchmark case B6: the CPU cost of MSE/PE RC4 (issue 11). One seed → one downloader on 127.0.0.1, 256 MiB (64 MiB
// with --quick), piece length 1 MiB, plaintext against RC4 in the same run, for bitpeer → bitpeer and, as the
// reference, libtorrent → libtorrent (lt_peer.py --encryption forced; plaintext with its encryption off).
//
// Measures per transfer: wall time to the downloader's "complete" event, MB/s, the downloader's whole-process CPU
// (/usr/bin/time) and the seed's CPU over the transfer (/proc), both per GiB; the RC4 cost is the difference between
// the RC4 and plaintext rows of one client. Every download is checked by SHA-1. Runs are interleaved.
import { mkdir, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bitpeer, GiB, LT_PEER, MB, MiB, Proc, fmt, fmtSpread, markdownTable, procStats, seedReady, sha1File, stats, syncDisks,
  writeRandomFile } from './lib.js';

export const id = 'B6';
export const title = 'MSE/PE: RC4 against plaintext, one seed → one downloader';

const ROWS = {
  'bp-plain': { client: 'bitpeer', enc: 'disabled', label: 'bitpeer → bitpeer, plaintext' },
  'bp-rc4': { client: 'bitpeer', enc: 'forced', label: 'bitpeer → bitpeer, RC4 (forced)' },
  'lt-plain': { client: 'libtorrent', enc: 'disabled', label: 'libtorrent → libtorrent, plaintext' },
  'lt-rc4': { client: 'libtorrent', enc: 'forced', label: 'libtorrent → libtorrent, RC4 (forced)' },
};

function commands(row, ctx, c, outDir) {
  if (row.client === 'libtorrent') {
    const common = ['--torrent', c.torrent, '--port', '0', '--encryption', row.enc, '--high-performance'];
    return {
      seed: [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--save', c.srcDir, ...common]],
      dl: (port) => [ctx.lt.python, ['-u', LT_PEER, '--mode', 'download', '--save', outDir, '--peer', `127.0.0.1:${port}`,
        '--timeout', String(c.timeoutSec), ...common]],
    };
  }
  // TCP only, as lt_peer.py runs: with bitpeer's default (uTP first) this case compared transports, not RC4.
  const common = ['--port', '0', '--bind', '127.0.0.1', '--json', '--no-lsd', '--no-tracker', '--no-utp', '--encryption', row.enc];
  return {
    seed: bitpeer(['seed', c.torrent, c.dataFile, ...common]),
    dl: (port) => bitpeer(['get', c.torrent, '-o', outDir, '--peer', `127.0.0.1:${port}`, ...common]),
  };
}

async function transfer(ctx, c, key, run) {
  const row = ROWS[key];
  const result = { row: key, run, ok: false };
  const outDir = join(ctx.base, `dl-${key}-${run}`);
  await mkdir(outDir, { recursive: true });
  const procs = [];
  try {
    syncDisks();
    const cmd = commands(row, ctx, c, outDir);
    const seed = new Proc(`${row.client} seed`, cmd.seed[0], cmd.seed[1], { verbose: ctx.verbose });
    procs.push(seed);
    const listening = await seedReady(seed, row.client, c.timeoutSec * 1000);
    const before = await procStats(seed.pid());
    const timeFile = ctx.hasTime ? join(ctx.base, `time-${key}-${run}.txt`) : null;
    const [dlCmd, dlArgs] = cmd.dl(listening.port);
    const dl = new Proc(`${row.client} download`, dlCmd, dlArgs, { timeFile, verbose: ctx.verbose });
    procs.push(dl);
    const complete = await dl.waitFor((e) => e.event === 'complete', c.timeoutSec * 1000, 'complete event');
    const after = await procStats(seed.pid());
    result.wallSeconds = (complete.at - dl.startedAt) / 1000;
    if (before && after) result.seedCpuSeconds = after.cpu - before.cpu;
    const exit = await dl.waitExit(60_000);
    if (exit === null || exit.code !== 0) throw new Error(`${dl.name} exited with ${JSON.stringify(exit)}${dl.tail()}`);
    const t = await dl.timeFigures();
    if (t) result.cpuSeconds = t.cpuSeconds;
    result.mbPerSec = c.size / MB / result.wallSeconds;
    const got = await sha1File(join(outDir, 'data.bin')).catch((e) => `unreadable: ${e.message}`);
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

export async function run(ctx) {
  const size = ctx.quick ? 64 * MiB : 256 * MiB;
  const srcDir = join(ctx.base, 'src');
  const dataFile = join(srcDir, 'data.bin');
  ctx.log(`B6: writing ${fmt(size / MiB, 0)} MiB of test data`);
  const sha1 = await writeRandomFile(dataFile, size, `bench-b5-${size}`);
  const torrent = join(ctx.base, 'data.torrent');
  const made = spawnSync(...bitpeer(['create', dataFile, '-o', torrent, '--piece-length', '1M']), { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`making the torrent failed: ${made.stderr}`);
  const c = { size, torrent, srcDir, dataFile, sha1, timeoutSec: ctx.quick ? 120 : 300 };
  const results = [];
  for (let run = 1; run <= ctx.runs; run++) {
    for (const key of Object.keys(ROWS)) {
      if (ROWS[key].client === 'libtorrent' && !ctx.lt) { results.push({ row: key, run, ok: false, skipped: 'no python with libtorrent' }); continue; }
      ctx.log(`B6 run ${run}/${ctx.runs}: ${ROWS[key].label} ...`);
      const r = await transfer(ctx, c, key, run);
      ctx.log(r.ok ? `B6   ${fmt(r.wallSeconds)} s, ${fmt(r.mbPerSec, 1)} MB/s, dl CPU ${fmt(r.cpuSeconds)} s, seed CPU ${fmt(r.seedCpuSeconds)} s`
        : `B6   ${r.skipped ? 'skipped' : 'FAILED'}: ${r.skipped ?? r.error}`);
      results.push(r);
    }
  }
  const gib = size / GiB;
  const rows = Object.keys(ROWS).map((key) => {
    const ok = results.filter((r) => r.row === key && r.ok);
    return {
      key, label: ROWS[key].label, ok: ok.length, runs: results.filter((r) => r.row === key).length,
      mbPerSec: stats(ok.map((r) => r.mbPerSec)), dlCpuPerGiB: stats(ok.map((r) => r.cpuSeconds / gib)),
      seedCpuPerGiB: stats(ok.map((r) => r.seedCpuSeconds / gib)),
    };
  });
  const get = (k) => rows.find((r) => r.key === k);
  const extra = (client, field) => {
    const a = get(`${client}-rc4`)?.[field].median;
    const b = get(`${client}-plain`)?.[field].median;
    return a !== undefined && b !== undefined ? a - b : undefined;
  };
  const markdown = [
    `${fmt(size / MiB, 0)} MiB, piece length 1 MiB:\n`,
    markdownTable(['seed → downloader', 'ok/runs', 'MB/s', 'dl CPU s/GiB', 'seed CPU s/GiB'],
      rows.map((r) => [r.label, `${r.ok}/${r.runs}`, fmtSpread(r.mbPerSec), fmtSpread(r.dlCpuPerGiB, 2), fmtSpread(r.seedCpuPerGiB, 2)])),
    '',
    `RC4's extra CPU per GiB (RC4 row − plaintext row, medians): bitpeer downloader ${fmt(extra('bp', 'dlCpuPerGiB'))} s, ` +
      `seed ${fmt(extra('bp', 'seedCpuPerGiB'))} s; libtorrent downloader ${fmt(extra('lt', 'dlCpuPerGiB'))} s, seed ` +
      `${fmt(extra('lt', 'seedCpuPerGiB'))} s.`,
  ].join('\n');
  return { markdown, summary: { size, rows }, runs: results, targets: [] };
}

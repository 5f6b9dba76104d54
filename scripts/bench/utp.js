// Benchmark case B5: uTP (BEP 29) one-to-one on 127.0.0.1: bitpeer → bitpeer over uTP against libtorrent →
// libtorrent over uTP (TCP turned off in libtorrent), in the same run, 256 MiB single file, piece length 256 KiB.
// Same measurements as B1 (scripts/bench/one-to-one.js, whose `transfer` it reuses): wall time, MB/s, downloader CPU
// s/GiB (/usr/bin/time), seed CPU over the transfer. Runs interleaved. Issue 11's target: bitpeer ≥ 5× libtorrent.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bitpeer, GiB, MB, MiB, fmt, fmtSpread, markdownTable, stats, target, writeRandomFile } from './lib.js';
import { transfer } from './one-to-one.js';

export const id = 'B5';
export const title = 'uTP one-to-one: 256 MiB, bitpeer → bitpeer and libtorrent → libtorrent over uTP';

const PAIRS = { 'lt-lt': 'libtorrent → libtorrent (uTP)', 'bp-bp': 'bitpeer → bitpeer (uTP)' };
const PIECE = 256 * 1024;

export async function run(ctx) {
  const size = ctx.quick ? 64 * MiB : 256 * MiB;
  const srcDir = join(ctx.base, 'src-utp');
  const dataFile = join(srcDir, `data-utp-${size}.bin`);
  ctx.log(`B5: writing ${fmt(size / MiB, 0)} MiB of test data`);
  const sha1 = await writeRandomFile(dataFile, size, `bench-b5-${size}`);
  const torrent = join(ctx.base, 'data-utp.torrent');
  const r = spawnSync(...bitpeer(['create', dataFile, '-o', torrent, '--piece-length', String(PIECE)]), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the torrent failed: ${r.stderr}`);
  const results = [];
  for (let run = 1; run <= ctx.runs; run++) {
    for (const key of Object.keys(PAIRS)) {
      if (key === 'lt-lt' && !ctx.lt) {
        results.push({ pair: key, run, ok: false, skipped: 'no python with libtorrent' });
        continue;
      }
      ctx.log(`B5 run ${run}/${ctx.runs}: ${PAIRS[key]} ...`);
      const c = { size, pieceLength: PIECE, torrent, srcDir, dataFile, sha1, timeoutSec: ctx.quick ? 120 : 300, utp: true };
      const res = await transfer(ctx, c, key, run);
      ctx.log(res.ok ? `B5   ${fmt(res.wallSeconds)} s, ${fmt(res.mbPerSec, 1)} MB/s, dl CPU ${fmt(res.cpuSeconds)} s, seed CPU ${fmt(res.seedCpuSeconds)} s`
        : `B5   FAILED: ${res.error ?? res.skipped}`);
      results.push(res);
    }
  }
  const rows = Object.keys(PAIRS).map((key) => {
    const ok = results.filter((x) => x.pair === key && x.ok);
    return {
      pair: key, label: PAIRS[key], runs: results.filter((x) => x.pair === key).length, ok: ok.length,
      wallSeconds: stats(ok.map((x) => x.wallSeconds)), mbPerSec: stats(ok.map((x) => x.mbPerSec)),
      cpuSecondsPerGiB: stats(ok.map((x) => x.cpuSecondsPerGiB)),
      seedCpuSecondsPerGiB: stats(ok.map((x) => x.seedCpuSeconds / (size / GiB))),
    };
  });
  const ref = rows.find((x) => x.pair === 'lt-lt');
  const bp = rows.find((x) => x.pair === 'bp-bp');
  const ratio = bp?.mbPerSec.median !== undefined && ref?.mbPerSec.median ? bp.mbPerSec.median / ref.mbPerSec.median : undefined;
  const table = rows.map((x) => [x.label, `${x.ok}/${x.runs}`, fmtSpread(x.wallSeconds, 2), fmtSpread(x.mbPerSec),
    fmtSpread(x.cpuSecondsPerGiB, 2), fmtSpread(x.seedCpuSecondsPerGiB, 2)]);
  const lines = [`${fmt(size / MiB, 0)} MiB, piece length ${PIECE / 1024} KiB, over uTP:\n`,
    markdownTable(['seed → downloader', 'ok/runs', 'time s', 'MB/s', 'dl CPU s/GiB', 'seed CPU s/GiB'], table), '',
    `MB = 10^6 bytes. bitpeer runs with its defaults (uTP first); libtorrent with high_performance_seed(), TCP off.`];
  const targets = [target(id, 'bitpeer → bitpeer over uTP vs libtorrent → libtorrent over uTP', '≥ 5.0×', `${fmt(ratio)}×`,
    ratio === undefined ? undefined : ratio >= 5.0)];
  return { markdown: lines.join('\n'), summary: { size, rows }, runs: results, targets, mb: MB };
}

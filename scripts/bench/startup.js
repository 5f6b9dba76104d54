// Benchmark case B8: start-up, from process start to the port listening, for `bitpeer seed` (a 4 MiB torrent whose
// data is present) and `bitpeer get` (nothing on disk yet, no peer), with libtorrent's start → listening
// (test/helpers/lt_peer.py) as the reference in the same run and `node -e 0` (start → exit) as the floor.
//
// Measures, per start: wall time from the spawn to the "listening" event on stdout (JSON lines, read as they come),
// the process's CPU seconds at that moment (user + sys from /proc, 10 ms ticks: steadier than wall time on a shared
// machine), and for seeds the time to "checked" (the data verified: a seed serves from then on). bitpeer announces
// "listening" when its port is open, before the data check; lt_peer.py announces it in seed mode only after its
// check, and in download mode once the torrent is added. Every bitpeer runs as bin/bitpeer.js would (its shebang's
// flags), with the DHT, LSD and trackers off, as libtorrent runs.
// Invariant: the five kinds of start run interleaved (one of each, then again), at least 10 times each; processes
// are stopped by their own PIDs. Target: ≤ 100 ms on Node 20, ≤ 60 ms on Node ≥ 22 (the issue's).
import { mkdir } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  bitpeer, fmt, fmtSpread, LT_PEER, markdownTable, MiB, Proc, procStats, stats, target, writeRandomFile,
} from './lib.js';

export const id = 'B8';
export const title = 'Start-up: process start → listening (seed of a 4 MiB torrent, get with nothing on disk)';

const SIZE = 4 * MiB;
const PIECE = 256 * 1024;
const TIMEOUT_MS = 30_000;

const KINDS = {
  floor: { label: 'node -e 0 (floor: start → exit)' },
  'bp-seed': { label: 'bitpeer seed' },
  'bp-get': { label: 'bitpeer get' },
  'lt-seed': { label: 'libtorrent seed (listening after its check)', lt: true },
  'lt-get': { label: 'libtorrent download', lt: true },
};

function command(kind, ctx, c, outDir) {
  switch (kind) {
    case 'floor': return [process.execPath, ['-e', '0']];
    case 'bp-seed': return bitpeer(['seed', c.torrent, c.dataFile, '--port', '0', '--json', '--no-lsd', '--no-tracker']);
    case 'bp-get': return bitpeer(['get', c.torrent, '-o', outDir, '--port', '0', '--json', '--no-lsd', '--no-tracker']);
    case 'lt-seed': return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--torrent', c.torrent, '--save', c.srcDir,
      '--port', '0', '--high-performance']];
    case 'lt-get': return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'download', '--torrent', c.torrent, '--save', outDir,
      '--port', '0', '--timeout', '30', '--high-performance']];
    default: throw new Error(`unknown start kind ${kind}`);
  }
}

async function start(ctx, c, kind, run) {
  const result = { kind, run, ok: false };
  const outDir = join(ctx.base, `out-${kind}-${run}`);
  await mkdir(outDir, { recursive: true });
  const [cmd, args] = command(kind, ctx, c, outDir);
  const p = new Proc(kind, cmd, args, { verbose: ctx.verbose });
  try {
    if (kind === 'floor') {
      const exit = await p.waitExit(TIMEOUT_MS);
      if (!exit || exit.code !== 0) throw new Error(`node -e 0 exited with ${JSON.stringify(exit)}`);
      result.listeningMs = p.exitedAt - p.startedAt;
    } else {
      const ev = await p.waitFor((e) => e.event === 'listening', TIMEOUT_MS, 'listening event');
      const cpu = await procStats(p.pid());
      result.listeningMs = ev.at - p.startedAt;
      if (cpu) result.cpuMs = cpu.cpu * 1000;
      if (kind.endsWith('seed')) {
        const checked = await p.waitFor((e) => e.event === 'checked', TIMEOUT_MS, 'checked event');
        result.checkedMs = checked.at - p.startedAt;
      }
    }
    result.ok = true;
  } catch (err) {
    result.error = String(err instanceof Error ? err.message : err);
  } finally {
    await p.stop();
  }
  return result;
}

export async function run(ctx) {
  const runs = ctx.quick ? 3 : Math.max(10, ctx.runs);
  const srcDir = join(ctx.base, 'src');
  const dataFile = join(srcDir, 'startup.bin');
  await writeRandomFile(dataFile, SIZE, 'bench-b8');
  const torrent = join(ctx.base, 'startup.torrent');
  const r = ctx.hasMktorrent
    ? spawnSync('mktorrent', ['-l', String(Math.log2(PIECE)), '-o', torrent, dataFile], { encoding: 'utf8' })
    : spawnSync(...bitpeer(['create', dataFile, '-o', torrent, '--piece-length', String(PIECE)]), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the torrent failed: ${r.stderr}`);
  const c = { torrent, dataFile, srcDir };
  const kinds = Object.keys(KINDS);
  const results = [];
  for (let run = 1; run <= runs; run++) {
    ctx.log(`B8 run ${run}/${runs}`);
    for (const kind of kinds) {
      if (KINDS[kind].lt && !ctx.lt) {
        results.push({ kind, run, ok: false, skipped: 'no python with libtorrent' });
        continue;
      }
      const res = await start(ctx, c, kind, run);
      if (!res.ok) ctx.log(`B8   ${kind} FAILED: ${res.error}`);
      results.push(res);
    }
  }
  const rows = kinds.map((kind) => {
    const rs = results.filter((x) => x.kind === kind);
    const ok = rs.filter((x) => x.ok);
    return { kind, label: KINDS[kind].label, runs: rs.length, ok: ok.length, skipped: rs.find((x) => x.skipped)?.skipped,
      listeningMs: stats(ok.map((x) => x.listeningMs)), cpuMs: stats(ok.map((x) => x.cpuMs)),
      checkedMs: stats(ok.map((x) => x.checkedMs)) };
  });
  const row = (k) => rows.find((x) => x.kind === k);
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const table = rows.map((x) => {
    const ref = x.kind === 'bp-seed' ? row('lt-seed') : x.kind === 'bp-get' ? row('lt-get') : undefined;
    return [x.label + (x.skipped ? ` (skipped: ${x.skipped})` : ''), `${x.ok}/${x.runs}`, fmtSpread(x.listeningMs, 0),
      ref ? `${fmt(ratio(x.listeningMs.median, ref.listeningMs.median))}×` : '', fmtSpread(x.cpuMs, 0),
      fmtSpread(x.checkedMs, 0)];
  });
  const major = Number(process.versions.node.split('.')[0]);
  const limit = major >= 22 ? 60 : 100;
  const targets = [];
  for (const k of ['bp-seed', 'bp-get']) {
    const m = row(k).listeningMs.median;
    targets.push(target(id, `${KINDS[k].label}: start → listening (Node ${major})`, `≤ ${limit} ms`, `${fmt(m, 0)} ms`,
      m === undefined ? undefined : m <= limit));
  }
  const markdown = [
    markdownTable(['start', 'ok/runs', 'start → listening ms', 'vs libtorrent', 'CPU ms at listening',
      'start → checked ms'], table),
    '',
    `Medians of ${runs} interleaved starts each; ±x% is half the spread relative to the median. Node ${process.version}. ` +
    'bitpeer listens before it checks the data; lt_peer.py reports "listening" for a seed only after its check ' +
    '(compare bitpeer\'s "start → checked" with it), for a download once the torrent is added. CPU is user + sys ' +
    'from /proc in 10 ms ticks, threads included.',
  ].join('\n');
  return { markdown, summary: { runs, nodeVersion: process.version, limitMs: limit, rows }, runs: results, targets };
}

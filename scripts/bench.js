#!/usr/bin/env node
// The benchmark suite (`npm run bench`): bitpeer against libtorrent (and mktorrent), on loopback, in the same run.
//
//   node scripts/bench.js [--cases B1,B2,B3,B4,B5,B6,B8] [--runs 3] [--quick] [--b1-sizes 1G,256M] [--b1-size 1G]
//                         [--b1-pairs lt-lt,bp-bp,...] [--dir BASE] [--out FILE] [--keep] [--verbose]
//
// `--b1-pairs` picks B1's seed → downloader pairs: lt-lt, bp-bp, lt-bp, bp-lt (the default four), and bp-bp-main /
// bp-bp-worker (bitpeer → bitpeer with BITPEER_PIECE_WORKER=0 / =1: the download path's A/B, interleaved).
//
// Cases (scripts/bench/*.js): B1 one-to-one throughput (TCP), B2 swarm, B3 create and check, B4 scale (B4a 1,000
// torrents, B4b 500 connections), B5 uTP one-to-one (bitpeer and libtorrent over uTP), B6 MSE/PE (RC4 against
// plaintext), B7 many files (a folder of ~5,000 files, 140 MiB), B8 start-up (process start → listening). Each case
// runs bitpeer and the reference interleaved, `--runs` times, and reports medians with their spread and ratios to the
// reference. Prints one markdown report on stdout (progress goes to stderr) and writes the whole record, raw runs
// included, to bench/results/bench-<date>.json. `--quick` shrinks every case so the suite
// checks itself in a few minutes; its numbers mean little.
// Network: loopback only; every client runs with DHT, LSD, UPnP and NAT-PMP off. Exit code: 0 when every case ran
// (targets met or not: the report says which), 1 when a measurement failed, 2 for bad arguments.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import {
  bitpeerBuilt, commandWorks, environment, findLibtorrentPython, hasUsrBinTime, markdownTable, parseSize, root,
} from './bench/lib.js';

// No benchmark may ever contact the public DHT routers: every process started from here inherits "no default DHT
// bootstrap node" (src/api/dht-config.ts).
process.env.BITPEER_DHT_BOOTSTRAP = 'none';

const CASES = {
  B1: ['./bench/one-to-one.js'],
  B2: ['./bench/swarm.js'],
  B3: ['./bench/create-check.js'],
  B4: ['./bench/scale-torrents.js', './bench/connections.js'],
  B4a: ['./bench/scale-torrents.js'],
  B4b: ['./bench/connections.js'],
  B5: ['./bench/utp.js'],
  B6: ['./bench/mse.js'],
  B7: ['./bench/many-files.js'],
  B8: ['./bench/startup.js'],
};

function usage(message) {
  console.error(`bench: ${message}\nusage: node scripts/bench.js [--cases B1,B2,B3,B4,B5,B6,B7,B8] [--runs 3] [--quick] ` +
    '[--b1-sizes 1G,256M] [--b1-size 1G] [--b1-pairs lt-lt,bp-bp,...] [--dir BASE] [--out FILE] [--keep] [--verbose]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { cases: ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8'], runs: 3, quick: false, b1Size: undefined, b1Sizes: undefined, dir: os.tmpdir(),
    out: null, keep: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    switch (a) {
      case '--cases': opts.cases = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--runs': opts.runs = Number.parseInt(value(), 10); break;
      case '--quick': opts.quick = true; break;
      case '--b1-size': try { opts.b1Size = parseSize(value(), 'size'); } catch (e) { usage(e.message); } break;
      case '--b1-pairs': opts.b1Pairs = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--b1-sizes': try { opts.b1Sizes = value().split(',').map((x) => parseSize(x, 'size')); } catch (e) { usage(e.message); } break;
      case '--dir': opts.dir = value(); break;
      case '--out': opts.out = value(); break;
      case '--keep': opts.keep = true; break;
      case '--verbose': opts.verbose = true; break;
      case '-h': case '--help':
        console.log('See the header of scripts/bench.js and the Performance section of README.md.');
        process.exit(0);
        break;
      default: usage(`unknown argument: ${a}`);
    }
  }
  if (!(opts.runs >= 1 && opts.runs <= 50)) usage('--runs must be 1..50');
  for (const c of opts.cases) if (!CASES[c]) usage(`unknown case ${c} (known: ${Object.keys(CASES).join(', ')})`);
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!bitpeerBuilt()) usage('bitpeer is not built: run `npm ci` (or `npm run build`) first');
  const lt = findLibtorrentPython();
  const hasTime = hasUsrBinTime();
  const hasMktorrent = commandWorks('mktorrent', ['-h']);
  if (!lt) console.error('bench: no Python with the libtorrent bindings (apt-get install python3-libtorrent): libtorrent rows are skipped');
  if (!hasTime) console.error('bench: /usr/bin/time is missing (apt-get install time): CPU and RSS come from /proc sampling');
  const modules = [...new Set(opts.cases.flatMap((c) => CASES[c]))];
  const started = new Date();
  const report = {
    date: started.toISOString(), config: { ...opts, hasTime, hasMktorrent }, environment: environment(lt), cases: [],
  };
  const top = await mkdtemp(join(opts.dir, 'bitpeer-bench-'));
  const cleanup = async () => { if (!opts.keep) await rm(top, { recursive: true, force: true }); };
  let interrupted = false;
  process.on('SIGINT', () => { interrupted = true; void cleanup().then(() => process.exit(130)); });
  let failed = false;
  try {
    for (const path of modules) {
      if (interrupted) break;
      const mod = await import(path);
      const base = join(top, mod.id);
      await mkdir(base, { recursive: true });
      const t0 = Date.now();
      console.error(`bench: ${mod.id} ${mod.title}`);
      const ctx = { runs: opts.runs, quick: opts.quick, verbose: opts.verbose, base, lt, hasTime, hasMktorrent,
        b1Size: opts.b1Size, b1Sizes: opts.b1Sizes, b1Pairs: opts.b1Pairs, log: (m) => console.error(`  ${m}`) };
      let entry;
      try {
        const res = await mod.run(ctx);
        entry = { id: mod.id, title: mod.title, seconds: (Date.now() - t0) / 1000, ...res };
        if ((res.runs ?? []).some((r) => r.error)) failed = true;
      } catch (err) {
        failed = true;
        entry = { id: mod.id, title: mod.title, seconds: (Date.now() - t0) / 1000, error: String(err?.stack ?? err),
          markdown: `The case failed: ${String(err?.message ?? err)}`, targets: [] };
      }
      report.cases.push(entry);
      console.log(`\n## ${entry.id}. ${entry.title}\n\n${entry.markdown}\n`);
      if (!opts.keep) await rm(base, { recursive: true, force: true });
    }
    const targets = report.cases.flatMap((c) => c.targets ?? []);
    report.targets = targets;
    const mark = (m) => (m === true ? 'met' : m === false ? '**missed**' : 'not measured');
    console.log(`\n## Targets\n\n${markdownTable(['case', 'target', 'wanted', 'measured', ''],
      targets.map((t) => [t.case, t.name, t.target, t.value, mark(t.met)]))}\n`);
    console.log(`${targets.filter((t) => t.met === true).length} of ${targets.length} targets met; machine: ` +
      `${report.environment.cpus} × ${report.environment.cpuModel}, Node ${process.version}, libtorrent ` +
      `${lt?.version ?? 'missing'}, load average at start ${report.environment.loadAverage.map((x) => x.toFixed(2)).join(' ')}; ` +
      `the suite took ${((Date.now() - started.getTime()) / 60000).toFixed(1)} min`);
    const out = opts.out ?? join(root, 'bench', 'results',
      `bench-${report.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${opts.quick ? '-quick' : ''}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nwrote ${out}`);
  } finally {
    await cleanup();
  }
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(`bench: ${err.stack ?? err}`); process.exitCode = 1; });

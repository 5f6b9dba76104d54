#!/usr/bin/env node
// Throughput benchmark: bitpeer and libtorrent, one seed and one downloader on 127.0.0.1, measured in the same run.
//
//   node scripts/throughput.js [--size 256M] [--piece-length 256K] [--runs 1]
//                              [--pairs lt-lt,bp-bp,lt-bp,bp-lt] [--creator mktorrent|bitpeer]
//                              [--lt-stock] [--timeout 300] [--dir BASE] [--out FILE] [--keep] [--verbose]
//
// Pairs are seed-downloader: lt-bp means libtorrent seeds and bitpeer downloads. For each transfer it reports the wall
// time from the downloader's start to its "complete" event, MB/s (10^6) and MiB/s, the downloader's CPU seconds
// (user+sys) and peak RSS, and the seed's CPU seconds during the transfer. The downloader runs under /usr/bin/time
// when present (exact CPU and max RSS); otherwise /proc/<pid> is sampled every 100 ms. Every download is checked
// against the source by SHA-1. Prints a markdown table and writes JSON to bench/results/throughput-<date>.json.
//
// Network: loopback only. Both clients listen on 127.0.0.1, dial only the --peer given, and run without DHT, LSD,
// UPnP or NAT-PMP. libtorrent runs through test/helpers/lt_peer.py with Debian's /usr/bin/python3 (see
// test/helpers/python.ts); by default with the high_performance_seed() pack and tick_interval 100 (--lt-stock: off).
// Pairs whose client is missing (no libtorrent bindings, or bitpeer not built) are skipped with a note.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const LT_PEER = join(root, 'test', 'helpers', 'lt_peer.py');
const BITPEER = process.env.BITPEER_BIN || join(root, 'bin', 'bitpeer.js');
const PAIRS = {
  'lt-lt': { seed: 'libtorrent', dl: 'libtorrent' },
  'bp-bp': { seed: 'bitpeer', dl: 'bitpeer' },
  'lt-bp': { seed: 'libtorrent', dl: 'bitpeer' },
  'bp-lt': { seed: 'bitpeer', dl: 'libtorrent' },
};
const MB = 1e6;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------- args
function parseSize(text, what) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(String(text).trim());
  if (!m) fail(`bad ${what}: ${text} (examples: 256M, 1G, 262144, 256K)`);
  const mult = { '': 1, k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB }[m[2].toLowerCase()];
  return Math.round(Number(m[1]) * mult);
}

function fail(message) {
  console.error(`throughput: ${message}`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    size: parseSize('256M', 'size'), pieceLength: 256 * 1024, runs: 1, pairs: Object.keys(PAIRS), creator: null,
    ltHighPerformance: true, timeoutSec: 300, dir: os.tmpdir(), out: null, keep: false, verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--size': opts.size = parseSize(value(), 'size'); break;
      case '--piece-length': opts.pieceLength = parseSize(value(), 'piece length'); break;
      case '--runs': opts.runs = Number.parseInt(value(), 10); break;
      case '--pairs': opts.pairs = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--creator': opts.creator = value(); break;
      case '--lt-stock': opts.ltHighPerformance = false; break;
      case '--timeout': opts.timeoutSec = Number(value()); break;
      case '--dir': opts.dir = value(); break;
      case '--out': opts.out = value(); break;
      case '--keep': opts.keep = true; break;
      case '--verbose': opts.verbose = true; break;
      case '-h': case '--help':
        console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 20)
          .filter((l) => l.startsWith('//')).map((l) => l.slice(3)).join('\n'));
        process.exit(0);
        break;
      default: fail(`unknown argument: ${a}`);
    }
  }
  if (!(opts.size > 0)) fail('size must be > 0');
  if (!(opts.pieceLength >= 16384) || (opts.pieceLength & (opts.pieceLength - 1)) !== 0) {
    fail('piece length must be a power of two >= 16 KiB');
  }
  if (!(opts.runs >= 1)) fail('runs must be >= 1');
  if (!(opts.timeoutSec > 0)) fail('timeout must be > 0');
  for (const p of opts.pairs) if (!PAIRS[p]) fail(`unknown pair ${p} (known: ${Object.keys(PAIRS).join(', ')})`);
  if (opts.creator !== null && !['mktorrent', 'bitpeer'].includes(opts.creator)) fail('creator: mktorrent|bitpeer');
  return opts;
}

// ------------------------------------------------------------------------------------------------- environment
function findLibtorrentPython() {
  for (const candidate of ['/usr/bin/python3', 'python3', 'python']) {
    const r = spawnSync(candidate, ['-c', 'import libtorrent; print(libtorrent.__version__)'],
      { encoding: 'utf8', timeout: 10_000 });
    if (!r.error && r.status === 0) return { python: candidate, version: r.stdout.trim() };
  }
  return null;
}

function commandWorks(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  return !r.error;
}

function bitpeerBuilt() {
  if (process.env.BITPEER_BIN) return existsSync(process.env.BITPEER_BIN);
  return existsSync(join(root, 'dist', 'src', 'cli', 'main.js'));
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return n > 0 ? n : 100;
})();

// ------------------------------------------------------------------------------------------------------ content
/** Writes `size` deterministic pseudo-random bytes (AES-128-CTR keystream keyed by `seed`); returns the SHA-1. */
async function writeRandomFile(path, size, seed) {
  await mkdir(dirname(path), { recursive: true });
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(Math.min(size, 8 * MiB));
  const sha1 = createHash('sha1');
  const fh = await open(path, 'w');
  try {
    for (let left = size; left > 0;) {
      const n = Math.min(zeros.length, left);
      const buf = cipher.update(zeros.subarray(0, n));
      sha1.update(buf);
      for (let off = 0; off < n;) off += (await fh.write(buf, off, n - off)).bytesWritten;
      left -= n;
    }
    await fh.sync(); // so write-back of the source does not run during the first transfer
  } finally {
    await fh.close();
  }
  return sha1.digest('hex');
}

function sha1File(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha1');
    createReadStream(path, { highWaterMark: 4 * MiB })
      .on('data', (c) => hash.update(c)).on('error', reject).on('end', () => resolve(hash.digest('hex')));
  });
}

// ------------------------------------------------------------------------------------------------------ processes
/** A child with JSON-line stdout parsing; `pid()` is the measured process (the child of /usr/bin/time if wrapped). */
class Proc {
  constructor(name, cmd, args, { timeFile = null, verbose = false } = {}) {
    this.name = name;
    this.events = [];
    this.stderr = '';
    this.waiters = new Set();
    this.exit = null;
    this.timeFile = timeFile;
    this.startedAt = performance.now();
    const [c, a] = timeFile ? ['/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', cmd, ...args]] : [cmd, args];
    this.child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => { this.stderr += `[spawn error] ${err.message}\n`; this.exit ??= { code: -1 }; this.poke(); resolve(this.exit); });
      this.child.on('close', (code, signal) => { this.exit ??= { code, signal }; this.poke(); resolve(this.exit); });
    });
    let rest = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      rest += chunk;
      for (let nl; (nl = rest.indexOf('\n')) >= 0;) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (verbose && line) console.error(`  [${this.name}] ${line}`);
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line);
          if (e && typeof e.event === 'string') { e.at = performance.now(); this.events.push(e); this.poke(); }
        } catch { /* not an event */ }
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (c) => { this.stderr = (this.stderr + c).slice(-20_000); });
  }

  /** The PID of the measured process: the wrapped command under /usr/bin/time, else the child itself. */
  pid() {
    if (!this.timeFile) return this.child.pid;
    if (this.innerPid) return this.innerPid;
    try {
      const kids = readFileSync(`/proc/${this.child.pid}/task/${this.child.pid}/children`, 'utf8').trim().split(/\s+/);
      if (kids[0]) this.innerPid = Number(kids[0]);
    } catch { /* not yet, or gone */ }
    return this.innerPid;
  }

  poke() { for (const w of [...this.waiters]) w(); }

  /** Resolves with the first event matching `pred`; rejects on timeout or exit. */
  waitFor(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      let seen = 0;
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      const check = () => {
        for (; seen < this.events.length; seen++) {
          if (pred(this.events[seen])) { done(); resolve(this.events[seen]); return; }
        }
        if (this.exit) { done(); reject(new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before ${what}${this.tail()}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`${this.name}: no ${what} in ${timeoutMs} ms${this.tail()}`)); }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  tail() {
    const ev = this.events.slice(-4).map((e) => '  ' + JSON.stringify(e)).join('\n');
    return `\n${ev}\n${this.stderr.trim().split('\n').slice(-15).join('\n')}`;
  }

  /** SIGTERM to the measured process's own PID (then to the wrapper), SIGKILL after `graceMs`. */
  async stop(graceMs = 5000) {
    if (this.exit) return this.exit;
    const pids = [this.pid(), this.child.pid].filter((p, i, all) => p && all.indexOf(p) === i);
    const send = (sig) => { for (const p of pids) { try { process.kill(p, sig); } catch { /* gone */ } } };
    send('SIGTERM');
    const timer = setTimeout(() => send('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    return this.exit;
  }
}

/** CPU seconds (user, sys) and VmHWM bytes of a live process, or null. */
async function procStats(pid) {
  if (!pid) return null;
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK, hwm: hwm ? Number(hwm[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------------------------------ clients
function seedCommand(kind, ctx, torrent) {
  if (kind === 'libtorrent') {
    const args = ['-u', LT_PEER, '--mode', 'seed', '--torrent', torrent, '--save', ctx.srcDir, '--port', '0'];
    if (ctx.opts.ltHighPerformance) args.push('--high-performance');
    return [ctx.lt.python, args];
  }
  return [process.execPath, [BITPEER, 'seed', torrent, ctx.dataFile, '--port', '0', '--json', '--no-dht', '--no-lsd']];
}

function downloadCommand(kind, ctx, torrent, outDir, port) {
  if (kind === 'libtorrent') {
    const args = ['-u', LT_PEER, '--mode', 'download', '--torrent', torrent, '--save', outDir, '--port', '0',
      '--peer', `127.0.0.1:${port}`, '--timeout', String(ctx.opts.timeoutSec)];
    if (ctx.opts.ltHighPerformance) args.push('--high-performance');
    return [ctx.lt.python, args];
  }
  return [process.execPath, [BITPEER, 'get', torrent, '-o', outDir, '--port', '0', '--peer', `127.0.0.1:${port}`,
    '--json', '--no-dht', '--no-lsd']];
}

async function makeTorrent(ctx, creator, out) {
  const r = creator === 'mktorrent'
    ? spawnSync('mktorrent', ['-l', String(Math.log2(ctx.opts.pieceLength)), '-o', out, ctx.dataFile], { encoding: 'utf8' })
    : spawnSync(process.execPath, [BITPEER, 'create', ctx.dataFile, '-o', out, '--piece-length',
      String(ctx.opts.pieceLength)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${creator} create failed: ${r.error?.message ?? ''}${r.stderr ?? ''}`);
}

// ---------------------------------------------------------------------------------------------------- one transfer
async function transfer(ctx, pairKey, run) {
  const pair = PAIRS[pairKey];
  const timeoutMs = ctx.opts.timeoutSec * 1000;
  const result = { pair: pairKey, seed: pair.seed, downloader: pair.dl, run, ok: false };
  const outDir = join(ctx.base, `dl-${pairKey}-${run}`);
  await mkdir(outDir, { recursive: true });
  const procs = [];
  try {
    const [seedCmd, seedArgs] = seedCommand(pair.seed, ctx, ctx.torrent);
    const seed = new Proc(`${pair.seed} seed`, seedCmd, seedArgs, { verbose: ctx.opts.verbose });
    procs.push(seed);
    const listening = await seed.waitFor((e) => e.event === 'listening', timeoutMs, 'listening event');
    result.seedReadySeconds = (listening.at - seed.startedAt) / 1000;
    const seedBefore = await procStats(seed.pid());

    const timeFile = ctx.hasTime ? join(ctx.base, `time-${pairKey}-${run}.txt`) : null;
    const [dlCmd, dlArgs] = downloadCommand(pair.dl, ctx, ctx.torrent, outDir, listening.port);
    const dl = new Proc(`${pair.dl} download`, dlCmd, dlArgs, { timeFile, verbose: ctx.opts.verbose });
    procs.push(dl);
    let sampled = null;
    const sampler = setInterval(() => {
      void procStats(dl.pid()).then((s) => { if (s) sampled = s; });
    }, 100);
    try {
      const complete = await dl.waitFor((e) => e.event === 'complete', timeoutMs, 'complete event');
      const seedAfter = await procStats(seed.pid());
      const last = await procStats(dl.pid());
      if (last) sampled = last;
      result.wallSeconds = (complete.at - dl.startedAt) / 1000;
      if (seedBefore && seedAfter) result.seedCpuSeconds = seedAfter.user + seedAfter.sys - seedBefore.user - seedBefore.sys;
      const exit = await Promise.race([dl.exited, new Promise((r) => setTimeout(() => r(null), 60_000).unref())]);
      if (exit === null) throw new Error(`${dl.name}: still running 60 s after "complete"`);
      result.exitSeconds = (performance.now() - dl.startedAt) / 1000;
      if (exit.code !== 0) throw new Error(`${dl.name} exited with ${JSON.stringify(exit)}${dl.tail()}`);
    } finally {
      clearInterval(sampler);
    }

    // CPU and memory: exact from /usr/bin/time when we have it, else the last /proc sample before the exit.
    const timeText = timeFile ? await readFile(timeFile, 'utf8').catch(() => '') : '';
    const tm = /(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+)\s*$/.exec(timeText.trim());
    if (tm) {
      result.cpuUser = Number(tm[2]);
      result.cpuSys = Number(tm[3]);
      result.peakRssBytes = Number(tm[4]) * 1024;
      result.measuredWith = '/usr/bin/time';
    } else if (sampled) {
      result.cpuUser = sampled.user;
      result.cpuSys = sampled.sys;
      result.peakRssBytes = sampled.hwm;
      result.measuredWith = '/proc sampling (100 ms)';
    }
    if (result.cpuUser !== undefined) result.cpuSeconds = result.cpuUser + result.cpuSys;
    result.mbPerSec = ctx.opts.size / MB / result.wallSeconds;
    result.mibPerSec = ctx.opts.size / MiB / result.wallSeconds;

    const got = await sha1File(join(outDir, basename(ctx.dataFile))).catch((e) => `unreadable: ${e.message}`);
    if (got !== ctx.sha1) throw new Error(`downloaded content differs: sha1 ${got}, expected ${ctx.sha1}`);
    result.ok = true;
  } catch (err) {
    result.error = String(err instanceof Error ? err.message : err);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    if (!ctx.opts.keep) await rm(outDir, { recursive: true, force: true });
  }
  return result;
}

// ------------------------------------------------------------------------------------------------------ reporting
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (x, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');

function summarize(results, opts) {
  const rows = [];
  for (const key of opts.pairs) {
    const rs = results.filter((r) => r.pair === key);
    const ok = rs.filter((r) => r.ok);
    const pair = PAIRS[key];
    const cpu = median(ok.map((r) => r.cpuSeconds));
    rows.push({
      pair: key, label: `${pair.seed} → ${pair.dl}`, runs: rs.length, ok: ok.length,
      skipped: rs.find((r) => r.skipped)?.skipped, error: rs.find((r) => r.error)?.error,
      wallSeconds: median(ok.map((r) => r.wallSeconds)), mbPerSec: median(ok.map((r) => r.mbPerSec)),
      mibPerSec: median(ok.map((r) => r.mibPerSec)), cpuSeconds: cpu,
      cpuSecondsPerGiB: cpu === undefined ? undefined : cpu / (opts.size / (1024 * MiB)),
      peakRssMiB: median(ok.map((r) => r.peakRssBytes / MiB)), seedCpuSeconds: median(ok.map((r) => r.seedCpuSeconds)),
    });
  }
  return rows;
}

function table(rows) {
  const out = [
    '| seed → downloader | ok/runs | time s | MB/s | MiB/s | dl CPU s | dl CPU s/GiB | dl peak RSS MiB | seed CPU s |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const note = r.skipped ? ` (skipped: ${r.skipped})` : '';
    out.push(`| ${r.label}${note} | ${r.ok}/${r.runs} | ${fmt(r.wallSeconds)} | ${fmt(r.mbPerSec, 1)} | ` +
      `${fmt(r.mibPerSec, 1)} | ${fmt(r.cpuSeconds)} | ${fmt(r.cpuSecondsPerGiB)} | ${fmt(r.peakRssMiB, 0)} | ` +
      `${fmt(r.seedCpuSeconds)} |`);
  }
  return out.join('\n');
}

/** bitpeer/libtorrent ratios (> 1 means bitpeer takes more time, CPU or memory), where both sides were measured. */
function ratios(rows) {
  const by = Object.fromEntries(rows.map((r) => [r.pair, r]));
  const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const lt = by['lt-lt'];
  const out = {};
  if (lt && by['bp-bp']) {
    out.timeBpBpVsLtLt = ratio(by['bp-bp'].wallSeconds, lt.wallSeconds);
    out.cpuBpBpVsLtLt = ratio(by['bp-bp'].cpuSeconds, lt.cpuSeconds);
    out.rssBpBpVsLtLt = ratio(by['bp-bp'].peakRssMiB, lt.peakRssMiB);
  }
  if (lt && by['lt-bp']) {
    out.timeBpDownloaderVsLt = ratio(by['lt-bp'].wallSeconds, lt.wallSeconds);
    out.cpuBpDownloaderVsLt = ratio(by['lt-bp'].cpuSeconds, lt.cpuSeconds);
  }
  if (lt && by['bp-lt']) out.seedCpuBpVsLt = ratio(by['bp-lt'].seedCpuSeconds, lt.seedCpuSeconds);
  return out;
}

// ------------------------------------------------------------------------------------------------------ main
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const lt = findLibtorrentPython();
  const bp = bitpeerBuilt();
  const hasMktorrent = commandWorks('mktorrent', ['-h']);
  const hasTime = existsSync('/usr/bin/time') && commandWorks('/usr/bin/time', ['-f', '%e', 'true']);
  const creator = opts.creator ?? (hasMktorrent ? 'mktorrent' : 'bitpeer');
  const unavailable = (kind) => (kind === 'libtorrent' && !lt ? 'no python with libtorrent'
    : kind === 'bitpeer' && !bp ? 'bitpeer not built (npm run build)' : null);

  const base = await mkdtemp(join(opts.dir, 'bitpeer-throughput-'));
  const stopAll = async () => { if (!opts.keep) await rm(base, { recursive: true, force: true }); };
  process.on('SIGINT', () => { void stopAll().then(() => process.exit(130)); });
  try {
    const srcDir = join(base, 'src');
    const dataFile = join(srcDir, `data-${opts.size}.bin`);
    console.error(`# writing ${fmt(opts.size / MiB, 1)} MiB of test data to ${dataFile}`);
    const sha1 = await writeRandomFile(dataFile, opts.size, `throughput-${opts.size}`);
    const ctx = { opts, lt, base, srcDir, dataFile, sha1, hasTime, torrent: join(base, 'data.torrent') };
    if (creator === 'bitpeer' && !bp) throw new Error('no torrent creator: mktorrent missing and bitpeer not built');
    await makeTorrent(ctx, creator, ctx.torrent);
    console.error(`# torrent made with ${creator}, piece length ${opts.pieceLength}; libtorrent: ` +
      `${lt ? `${lt.version} via ${lt.python}${opts.ltHighPerformance ? ', high-performance' : ', stock'}` : 'missing'}; ` +
      `bitpeer: ${bp ? BITPEER : 'not built'}; measuring with ${hasTime ? '/usr/bin/time' : '/proc sampling'}`);

    const results = [];
    for (let run = 1; run <= opts.runs; run++) {
      for (const key of opts.pairs) {
        const pair = PAIRS[key];
        const why = unavailable(pair.seed) ?? unavailable(pair.dl);
        if (why) { results.push({ pair: key, seed: pair.seed, downloader: pair.dl, run, ok: false, skipped: why }); continue; }
        console.error(`# run ${run}/${opts.runs}: ${pair.seed} → ${pair.dl} ...`);
        const r = await transfer(ctx, key, run);
        console.error(r.ok
          ? `#   ${fmt(r.wallSeconds)} s, ${fmt(r.mbPerSec, 1)} MB/s, CPU ${fmt(r.cpuSeconds)} s, RSS ${fmt(r.peakRssBytes / MiB, 0)} MiB`
          : `#   FAILED: ${r.error}`);
        results.push(r);
      }
    }

    const rows = summarize(results, opts);
    const report = {
      date: new Date().toISOString(),
      config: { size: opts.size, pieceLength: opts.pieceLength, runs: opts.runs, pairs: opts.pairs, creator,
        ltHighPerformance: opts.ltHighPerformance, measuredWith: hasTime ? '/usr/bin/time' : '/proc sampling' },
      environment: {
        node: process.version, libtorrent: lt?.version ?? null, python: lt?.python ?? null, platform: process.platform,
        kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, totalMemBytes: os.totalmem(),
      },
      summary: rows, ratios: ratios(rows), runs: results,
    };
    console.log(`\nThroughput, ${fmt(opts.size / MiB, 0)} MiB, piece ${opts.pieceLength / 1024} KiB, loopback, ` +
      `median of ${opts.runs} run(s):\n`);
    console.log(table(rows));
    const rt = report.ratios;
    if (Object.keys(rt).length > 0) {
      console.log('\nbitpeer / libtorrent ratios (lower is better for bitpeer): ' +
        Object.entries(rt).map(([k, v]) => `${k} ${fmt(v)}`).join(', '));
    }
    for (const r of results.filter((x) => x.error)) console.log(`\n${r.pair} run ${r.run} failed: ${r.error}`);

    const out = opts.out ?? join(root, 'bench', 'results',
      `throughput-${report.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nwrote ${out}`);
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    await stopAll();
  }
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(`throughput: ${err.stack ?? err}`); process.exitCode = 1; });

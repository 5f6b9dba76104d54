// Shared pieces of the benchmark suite (`npm run bench`, scripts/bench.js): process running and whole-process
// measurement, deterministic content, statistics and markdown.
//
// Invariant: nothing here reaches beyond loopback. Processes are stopped by their own PIDs, never by name. Measurement
// is whole-process: CPU (user + sys) and peak RSS come from /usr/bin/time when it is present (exact, at exit), else
// from /proc/<pid> sampled every 100 ms.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { shebangOf } from '../../dist/test/helpers/shebang.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const LT_PEER = join(root, 'test', 'helpers', 'lt_peer.py');
export const BITPEER = process.env.BITPEER_BIN || join(root, 'bin', 'bitpeer.js');

/**
 * What bin/bitpeer.js's shebang line asks for: environment assignments (as `NAME=value` words for /usr/bin/env) and
 * Node flags (`#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 ...`), parsed by the tests' parser
 * (test/helpers/shebang.ts, built into dist/ by `npm run bench`). The bench applies them with its own Node, so bitpeer
 * runs exactly as `./bin/bitpeer.js` or `npx bitpeer` would run it.
 */
export const BITPEER_SHEBANG = (() => {
  const { env, flags } = shebangOf(BITPEER);
  return { env: Object.entries(env).map(([k, v]) => `${k}=${v}`), flags };
})();
export const BITPEER_NODE_FLAGS = BITPEER_SHEBANG.flags;

/** [command, args] that run bitpeer with `args`. */
/** Commands that run a session: every bench runs them with the DHT off, as the libtorrent side is. */
const SESSION_COMMANDS = new Set(['seed', 'get', 'share', 'daemon']);

export function bitpeer(args) {
  const withDht = SESSION_COMMANDS.has(args[0]) && !args.includes('--no-dht') ? [...args, '--no-dht'] : args;
  const nodeArgs = [...BITPEER_SHEBANG.flags, BITPEER, ...withDht];
  if (BITPEER_SHEBANG.env.length === 0) return [process.execPath, nodeArgs];
  return ['/usr/bin/env', [...BITPEER_SHEBANG.env, process.execPath, ...nodeArgs]]; // env execs node: same PID
}
export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

// ------------------------------------------------------------------------------------------------------- args
export function parseSize(text, what) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(String(text).trim());
  if (!m) throw new Error(`bad ${what}: ${text} (examples: 256M, 1G, 262144, 256K)`);
  const mult = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2].toLowerCase()];
  return Math.round(Number(m[1]) * mult);
}

// ------------------------------------------------------------------------------------------------ environment
export function findLibtorrentPython() {
  for (const candidate of ['/usr/bin/python3', 'python3', 'python']) {
    const r = spawnSync(candidate, ['-c', 'import libtorrent; print(libtorrent.__version__)'],
      { encoding: 'utf8', timeout: 10_000 });
    if (!r.error && r.status === 0) return { python: candidate, version: r.stdout.trim() };
  }
  return null;
}

export function commandWorks(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
  return !r.error;
}

export function bitpeerBuilt() {
  if (process.env.BITPEER_BIN) return existsSync(process.env.BITPEER_BIN);
  return existsSync(join(root, 'dist', 'src', 'cli', 'main.js'));
}

export function hasUsrBinTime() {
  return existsSync('/usr/bin/time') && commandWorks('/usr/bin/time', ['-f', '%e', 'true']);
}

/** What the machine and the clients are, for the JSON report. */
export function environment(lt) {
  return {
    node: process.version, libtorrent: lt?.version ?? null, python: lt?.python ?? null, platform: process.platform,
    kernel: os.release(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? null, totalMemBytes: os.totalmem(),
    loadAverage: os.loadavg(),
  };
}

export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout ?? '', 10);
  return n > 0 ? n : 100;
})();

// ---------------------------------------------------------------------------------------------------- content
/** Writes `size` deterministic pseudo-random bytes (AES-128-CTR keystream keyed by `seed`); returns the SHA-1 hex. */
export async function writeRandomFile(path, size, seed, { sync = true } = {}) {
  await mkdir(dirname(path), { recursive: true });
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  const zeros = Buffer.alloc(Math.min(Math.max(size, 1), 8 * MiB));
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
    if (sync) await fh.sync(); // so write-back of the source does not run during the first measurement
  } finally {
    await fh.close();
  }
  return sha1.digest('hex');
}

export function sha1File(path) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha1');
    createReadStream(path, { highWaterMark: 4 * MiB })
      .on('data', (c) => hash.update(c)).on('error', reject).on('end', () => resolve(hash.digest('hex')));
  });
}

/** Asks the kernel to write back dirty pages, so one measurement does not pay for the previous one's writes. */
export function syncDisks() {
  spawnSync('sync', [], { stdio: 'ignore', timeout: 120_000 });
}

// -------------------------------------------------------------------------------------------------- processes
/**
 * The environment of measured processes: ours without NODE_EXTRA_CA_CERTS, which this machine sets and which costs
 * every Node start ~50 ms of loading certificates that no loopback benchmark uses.
 */
export const CHILD_ENV = (() => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
})();
/**
 * A child with JSON-line stdout parsing. With `timeFile`, the command runs under `/usr/bin/time -f '%e %U %S %M'`, and
 * `pid()` is the measured (inner) process.
 */
export class Proc {
  constructor(name, cmd, args, { timeFile = null, verbose = false, env = undefined, cwd = undefined } = {}) {
    this.name = name;
    this.events = [];
    this.stderr = '';
    this.stdoutTail = '';
    this.waiters = new Set();
    this.exit = null;
    this.timeFile = timeFile;
    this.startedAt = performance.now();
    const [c, a] = timeFile ? ['/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', cmd, ...args]] : [cmd, args];
    this.child = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? CHILD_ENV, cwd });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => { this.stderr += `[spawn error] ${err.message}\n`; this.exit ??= { code: -1 }; this.poke(); resolve(this.exit); });
      this.child.on('close', (code, signal) => { this.exit ??= { code, signal }; this.exitedAt = performance.now(); this.poke(); resolve(this.exit); });
    });
    let rest = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      rest += chunk;
      for (let nl; (nl = rest.indexOf('\n')) >= 0;) {
        const line = rest.slice(0, nl).trim();
        rest = rest.slice(nl + 1);
        if (verbose && line) console.error(`  [${this.name}] ${line}`);
        this.stdoutTail = (this.stdoutTail + line + '\n').slice(-4000);
        if (!line.startsWith('{')) continue;
        try {
          const e = JSON.parse(line);
          if (e && typeof e.event === 'string') { e.at = performance.now(); this.events.push(e); this.poke(); }
        } catch { /* not an event */ }
      }
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (c) => {
      if (verbose) process.stderr.write(c.replace(/^/gm, `  [${this.name}!] `));
      this.stderr = (this.stderr + c).slice(-20_000);
    });
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

  /** Resolves with the first event matching `pred` (from the start of the stream); rejects on timeout or exit. */
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

  /** Waits for the exit, up to `timeoutMs`; resolves with the exit or null. */
  waitExit(timeoutMs) {
    return Promise.race([this.exited, new Promise((r) => setTimeout(() => r(null), timeoutMs).unref())]);
  }

  /**
   * SIGTERM to the measured process's own PID only (so /usr/bin/time, when it wraps it, lives on to write its
   * figures), then SIGKILL to both after `graceMs`.
   */
  async stop(graceMs = 5000) {
    if (this.exit) return this.exit;
    const inner = this.pid();
    const pids = [inner, this.child.pid].filter((p, i, all) => p && all.indexOf(p) === i);
    const send = (sig, list) => { for (const p of list) { try { process.kill(p, sig); } catch { /* gone */ } } };
    send('SIGTERM', inner ? [inner] : pids);
    const timer = setTimeout(() => send('SIGKILL', pids), graceMs);
    await this.exited;
    clearTimeout(timer);
    return this.exit;
  }

  /** `/usr/bin/time`'s figures after the exit: { wall, cpuUser, cpuSys, cpuSeconds, peakRssBytes } or null. */
  async timeFigures() {
    if (!this.timeFile) return null;
    const text = await readFile(this.timeFile, 'utf8').catch(() => '');
    const tm = /(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+)\s*$/.exec(text.trim());
    if (!tm) return null;
    const cpuUser = Number(tm[2]);
    const cpuSys = Number(tm[3]);
    return { wall: Number(tm[1]), cpuUser, cpuSys, cpuSeconds: cpuUser + cpuSys, peakRssBytes: Number(tm[4]) * 1024 };
  }
}

/** CPU seconds (user, sys), VmHWM and VmRSS bytes of a live process, or null. */
export async function procStats(pid) {
  if (!pid) return null;
  try {
    const [stat, status] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile(`/proc/${pid}/status`, 'utf8')]);
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    const user = Number(f[11]) / CLK_TCK;
    const sys = Number(f[12]) / CLK_TCK;
    return { user, sys, cpu: user + sys, hwm: hwm ? Number(hwm[1]) * 1024 : 0, rss: rss ? Number(rss[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

/** Samples procStats(pidFn()) every `ms`; `stop()` returns the last sample and the highest RSS seen. */
export function sampler(pidFn, ms = 100) {
  let last = null;
  let maxRss = 0;
  const timer = setInterval(() => {
    void procStats(pidFn()).then((s) => { if (s) { last = s; maxRss = Math.max(maxRss, s.rss, s.hwm); } });
  }, ms);
  return {
    get last() { return last; },
    async stop() {
      clearInterval(timer);
      const s = await procStats(pidFn());
      if (s) { last = s; maxRss = Math.max(maxRss, s.rss, s.hwm); }
      return { last, maxRss };
    },
  };
}

// ------------------------------------------------------------------------------------------------- statistics
const finite = (xs) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);

export function median(xs) {
  const s = finite(xs);
  if (s.length === 0) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** { median, min, max, spreadPct } where spreadPct = (max - min) / median × 100. */
export function stats(xs) {
  const s = finite(xs);
  if (s.length === 0) return { median: undefined, min: undefined, max: undefined, spreadPct: undefined, n: 0 };
  const m = median(s);
  return { median: m, min: s[0], max: s[s.length - 1], spreadPct: m ? ((s[s.length - 1] - s[0]) / m) * 100 : 0, n: s.length };
}

export const fmt = (x, digits = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');

/** "12.3 ±4%" — a median with its spread. */
export const fmtSpread = (st, digits = 1) => (st && st.median !== undefined
  ? `${fmt(st.median, digits)}${st.n > 1 ? ` ±${fmt(st.spreadPct / 2, 0)}%` : ''}` : '–');

export function markdownTable(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** A target line for the report: { case, name, target, value, met }. `met` is null when it could not be measured. */
export function target(caseId, name, wanted, value, met) {
  return { case: caseId, name, target: wanted, value, met: met === undefined ? null : met };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until a seed is ready to serve: "listening" from both clients, and for bitpeer also its `seeding` state.
 * lt_peer.py says "listening" only after libtorrent's data check; bitpeer listens first and checks after. Starting
 * the downloader (and the seed's CPU window) at "listening" would put bitpeer's check inside the transfer.
 * Resolves to the "listening" event (its `port`).
 */
export async function seedReady(seed, kind, timeoutMs) {
  const listening = await seed.waitFor((e) => e.event === 'listening', timeoutMs, 'listening event');
  if (kind !== 'libtorrent') {
    await seed.waitFor((e) => e.event === 'state' && e.state === 'seeding', timeoutMs, 'seeding state');
  }
  return listening;
}

/**
 * One seed → one downloader, measured the same way by B1 and B7: starts the seed (pushed onto `procs`, which the
 * caller stops), waits until it is ready to serve (`seedReady`), starts the downloader on the seed's port, and waits
 * for its "complete" and its exit with code 0. Returns the figures:
 * - `wallSeconds`: downloader start → "complete" (the transfer); `processSeconds`: start → exit (the whole process);
 *   `exitMs`: "complete" → exit;
 * - `seedCpuSeconds`: the seed's CPU from ready to "complete" (/proc); `seedPeakRssBytes` (100 ms sampling);
 * - the downloader's whole-process `cpuUser`, `cpuSys`, `cpuSeconds`, `peakRssBytes` from /usr/bin/time when
 *   `timeFile` is given, else from /proc sampling, and `measuredWith` saying which.
 */
export async function measureTransfer({ seed, download, timeFile, timeoutMs, verbose, procs }) {
  syncDisks();
  const seedProc = new Proc(`${seed.kind} seed`, seed.command[0], seed.command[1], { verbose });
  procs.push(seedProc);
  const listening = await seedReady(seedProc, seed.kind, timeoutMs);
  const seedBefore = await procStats(seedProc.pid());
  const [dlCmd, dlArgs] = download.command(listening.port);
  const dl = new Proc(`${download.kind} download`, dlCmd, dlArgs, { timeFile, verbose });
  procs.push(dl);
  const samples = sampler(() => dl.pid());
  const seedSamples = sampler(() => seedProc.pid());
  const result = {};
  let complete;
  let sampled;
  try {
    complete = await dl.waitFor((e) => e.event === 'complete', timeoutMs, 'complete event');
  } finally {
    const s = await samples.stop();
    sampled = { ...s.last, peakRssBytes: s.maxRss };
    result.seedPeakRssBytes = (await seedSamples.stop()).maxRss;
  }
  const seedAfter = await procStats(seedProc.pid());
  result.wallSeconds = (complete.at - dl.startedAt) / 1000;
  if (seedBefore && seedAfter) result.seedCpuSeconds = seedAfter.cpu - seedBefore.cpu;
  const exit = await dl.waitExit(60_000);
  if (exit === null) throw new Error(`${dl.name}: still running 60 s after "complete"`);
  if (exit.code !== 0) throw new Error(`${dl.name} exited with ${JSON.stringify(exit)}${dl.tail()}`);
  result.processSeconds = (dl.exitedAt - dl.startedAt) / 1000;
  result.exitMs = dl.exitedAt - complete.at;
  // The transports bitpeer's downloader connected over (its `peer-connect` events; lt_peer.py's carry none).
  const transports = [...new Set(dl.events.filter((e) => e.event === 'peer-connect' && typeof e.transport === 'string')
    .map((e) => e.transport))];
  if (transports.length > 0) result.transports = transports;
  const t = await dl.timeFigures();
  if (t) {
    Object.assign(result, { cpuUser: t.cpuUser, cpuSys: t.cpuSys, cpuSeconds: t.cpuSeconds, peakRssBytes: t.peakRssBytes,
      measuredWith: '/usr/bin/time' });
  } else if (sampled.cpu !== undefined) {
    Object.assign(result, { cpuUser: sampled.user, cpuSys: sampled.sys, cpuSeconds: sampled.cpu,
      peakRssBytes: sampled.peakRssBytes, measuredWith: '/proc sampling (100 ms)' });
  }
  return result;
}

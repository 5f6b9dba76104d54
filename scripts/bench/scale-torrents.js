// Benchmark case B4a: 1,000 small torrents seeding in one session (bitpeer's daemon against a libtorrent session).
//
// What it measures, with N = 1,000 single-file torrents (64 KiB each, 16 KiB pieces, distinct random content; 100
// with ctx.quick), all seeding in ONE process:
//   bitpeer (`bitpeer daemon`, state directory, Transmission RPC):
//     load   start an empty daemon, session-set seed-queue-size ≥ N, torrent-add all N (metainfo in base64,
//            download-dir = where the data is), time until all N are seeding; then VmRSS after 5 s idle;
//     cold   SIGTERM, delete resume/ (every piece must be hashed again), start: time from process start until all
//            N are seeding, CPU used until then, VmRSS after 5 s idle;
//     warm   SIGTERM, start with the resume data intact: the same figures.
//   libtorrent (scripts/bench/lt_many.py, high_performance_seed pack, queue limits ≥ N):
//     cold   no resume data (full check); warm: the resume data it saved at its previous stop.
// "All seeding" is the moment the last torrent's state event says so (bitpeer: `state` events of --json; libtorrent:
// state alerts, cross-checked once a second with the statuses); for bitpeer it is confirmed with torrent-get.
// Times are from process spawn, taken by this script for both sides. The data is in the page cache for both (it was
// just written or read), so the cold start measures hashing and bookkeeping, not the disk.
//
// Invariant: no traffic beyond loopback. The daemon binds 127.0.0.1 with --no-lsd (LSD also off in its
// settings: lpd-enabled false), its RPC listens on 127.0.0.1; the torrents have no announce URL; lt_many.py listens on
// 127.0.0.1 with DHT/LSD/UPnP/NAT-PMP off. Processes are stopped by PID (Proc); every file lives under ctx.base.
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  bitpeer, MB, Proc, fmt, fmtSpread, markdownTable, procStats, root, sleep, stats, syncDisks, target,
} from './lib.js';

export const id = 'B4a';
export const title = 'Scale: 1,000 small torrents seeding in one session';

const LT_MANY = join(root, 'scripts', 'bench', 'lt_many.py');
const FILE_SIZE = 64 * 1024;
const PIECE_LENGTH = 16 * 1024;
/** libtorrent's cold start with 1,000 torrents, measured elsewhere: the target when libtorrent is missing here. */
const LT_COLD_REFERENCE_S = 15.6;
/** Idle time before RSS is read (ctx.quick: 1 s, so the case stays under a minute). */
const IDLE_MS = 5000;
const IDLE_QUICK_MS = 1000;
const ADD_PARALLEL = 8;

// ------------------------------------------------------------------------------------------------------ content
/** N data files and their v1 .torrent files (no announce URL), written in-process with bitpeer's own bencode. */
async function makeTorrents(dir, n) {
  const { encode } = await import(pathToFileURL(join(root, 'dist', 'src', 'bencode', 'index.js')).href);
  const data = join(dir, 'data');
  const torrents = join(dir, 'torrents');
  await mkdir(data, { recursive: true });
  await mkdir(torrents, { recursive: true });
  const adds = [];
  for (let i = 0; i < n; i++) {
    const name = `t${String(i).padStart(5, '0')}.bin`;
    const bytes = randomBytes(FILE_SIZE);
    const hashes = [];
    for (let at = 0; at < bytes.length; at += PIECE_LENGTH) {
      hashes.push(createHash('sha1').update(bytes.subarray(at, at + PIECE_LENGTH)).digest());
    }
    const torrent = encode({
      'created by': 'bitpeer bench B4a', 'creation date': 0,
      info: { length: FILE_SIZE, name, 'piece length': PIECE_LENGTH, pieces: Buffer.concat(hashes) },
    });
    await writeFile(join(data, name), bytes);
    await writeFile(join(torrents, `${name}.torrent`), torrent);
    adds.push(torrent.toString('base64'));
  }
  syncDisks();
  return { data, torrents, metainfo: adds };
}

// ------------------------------------------------------------------------------------------------------ bitpeer
async function rpcClient(port) {
  const { RpcClient } = await import(pathToFileURL(join(root, 'dist', 'src', 'api', 'rpc', 'client.js')).href);
  return new RpcClient({ host: '127.0.0.1', port, timeoutMs: 300_000 });
}

function startDaemon(ctx, stateDir, dataDir, label) {
  const [cmd, args] = bitpeer(['daemon', '--state-dir', stateDir, '--port', '0', '--bind', '127.0.0.1', '--rpc-port', '0',
    '--rpc-host', '127.0.0.1', '--download-dir', dataDir, '--json', '--no-lsd']);
  return new Proc(label, cmd, args, {
    verbose: false, ...(ctx.hasTime ? { timeFile: join(ctx.base, `time-${label}.txt`) } : {}),
  });
}

/** Waits until the daemon has logged its RPC address; resolves with the port. */
async function rpcPortOf(proc, timeoutMs) {
  const e = await proc.waitFor((x) => x.event === 'log' && /RPC http:\/\/[^ ]*:(\d+)\//.test(x.message ?? ''), timeoutMs, 'the RPC address');
  return Number(/RPC http:\/\/[^ ]*:(\d+)\//.exec(e.message)[1]);
}

/** Resolves with the `state` event that made all `n` torrents seeding at once (latest state per info-hash). */
function allSeeding(proc, n, timeoutMs) {
  const states = new Map();
  let seeding = 0;
  return proc.waitFor((e) => {
    if (e.event !== 'state') return false;
    if (states.get(e.infoHash) === 'seeding') seeding--;
    if (e.state === 'seeding') seeding++;
    states.set(e.infoHash, e.state);
    return seeding >= n;
  }, timeoutMs, `all ${n} torrents seeding`);
}

/** torrent-get must agree: every torrent has status 6 (seeding). Polls for up to `timeoutMs`. */
async function confirmSeeding(rpc, n, timeoutMs) {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const got = await rpc.call('torrent-get', { fields: ['id', 'hashString', 'status'] });
    const list = Array.isArray(got.torrents) ? got.torrents : [];
    const seeding = list.filter((t) => t.status === 6).length;
    if (seeding >= n) return;
    if (performance.now() > until) throw new Error(`torrent-get: ${seeding} of ${n} torrents seeding (of ${list.length})`);
    await sleep(250);
  }
}

/** Stops a process (SIGTERM to the measured PID, SIGKILL after `graceMs`); returns { stopSeconds, peakRssBytes }. */
async function stopProc(proc, graceMs) {
  const t = performance.now();
  const exit = await proc.stop(graceMs);
  const stopSeconds = (performance.now() - t) / 1000;
  const fig = await proc.timeFigures();
  if (exit && exit.code !== 0 && exit.code !== null) throw new Error(`${proc.name} exited with ${JSON.stringify(exit)}${proc.tail()}`);
  return { stopSeconds, peakRssBytes: fig?.peakRssBytes };
}

/** Time (s) and CPU (s) from spawn to `event`; VmRSS after `idleMs`. */
async function startFigures(proc, event, idleMs) {
  const seconds = (event.at - proc.startedAt) / 1000;
  const at = await procStats(proc.pid());
  await sleep(idleMs);
  const idle = await procStats(proc.pid());
  return { seconds, cpu: at?.cpu, rss: idle?.rss };
}

async function bitpeerRun(ctx, set, n, run, timeoutMs) {
  const rec = { tool: 'bitpeer', run, n };
  const stateDir = join(ctx.base, `bp-state-${run}`);
  let proc;
  try {
    // load: an empty daemon, N torrents added over RPC.
    proc = startDaemon(ctx, stateDir, set.data, `bp${run}-load`);
    const rpc = await rpcClient(await rpcPortOf(proc, 60_000));
    await rpc.call('session-set', { 'seed-queue-size': n + 10, 'seed-queue-enabled': true, 'lpd-enabled': false, 'dht-enabled': false });
    const t0 = performance.now();
    const seedingEvent = allSeeding(proc, n, timeoutMs);
    seedingEvent.catch(() => {});
    let next = 0;
    await Promise.all(Array.from({ length: ADD_PARALLEL }, async () => {
      while (next < n) {
        const i = next++;
        await rpc.call('torrent-add', { metainfo: set.metainfo[i], 'download-dir': set.data });
      }
    }));
    rec.addCallsSeconds = (performance.now() - t0) / 1000;
    const ev = await seedingEvent;
    rec.loadSeconds = (ev.at - t0) / 1000;
    await confirmSeeding(rpc, n, 30_000);
    const load = await startFigures(proc, ev, set.idleMs);
    rec.loadCpu = load.cpu;
    rec.rssLoad = load.rss;
    const st = await stopProc(proc, 120_000);
    rec.stopSeconds = st.stopSeconds;
    rec.peakRss = st.peakRssBytes;

    // cold: no resume data, every piece hashed again.
    const resumeDir = join(stateDir, 'resume');
    for (const f of await readdir(resumeDir)) await rm(join(resumeDir, f), { force: true });
    proc = undefined;
    const cold = await restartDaemon(ctx, stateDir, set, `bp${run}-cold`, n, timeoutMs);
    Object.assign(rec, { coldSeconds: cold.seconds, coldCpu: cold.cpu, rssCold: cold.rss });
    rec.peakRss = Math.max(rec.peakRss ?? 0, cold.peakRssBytes ?? 0) || undefined;

    // warm: the resume data written at that stop.
    const warm = await restartDaemon(ctx, stateDir, set, `bp${run}-warm`, n, timeoutMs);
    Object.assign(rec, { warmSeconds: warm.seconds, warmCpu: warm.cpu, rssWarm: warm.rss });
    rec.peakRss = Math.max(rec.peakRss ?? 0, warm.peakRssBytes ?? 0) || undefined;
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
    ctx.log(`B4a bitpeer run ${run} failed: ${rec.error.split('\n')[0]}`);
  } finally {
    if (proc) await proc.stop(10_000).catch(() => {});
    await rm(stateDir, { recursive: true, force: true }).catch(() => {});
  }
  return rec;
}

/** Starts the daemon on an existing state directory, waits until all `n` torrents seed, measures, stops it. */
async function restartDaemon(ctx, stateDir, set, label, n, timeoutMs) {
  const proc = startDaemon(ctx, stateDir, set.data, label);
  try {
    const figures = await startFigures(proc, await allSeeding(proc, n, timeoutMs), set.idleMs);
    await confirmSeeding(await rpcClient(await rpcPortOf(proc, 60_000)), n, 30_000);
    const st = await stopProc(proc, 120_000);
    return { ...figures, peakRssBytes: st.peakRssBytes };
  } finally {
    if (!proc.exit) await proc.stop(10_000).catch(() => {});
  }
}

// --------------------------------------------------------------------------------------------------- libtorrent
function startLt(ctx, set, resumeDir, label, timeoutMs) {
  return new Proc(label, ctx.lt.python, [LT_MANY, '--torrents', set.torrents, '--save', set.data,
    '--resume-dir', resumeDir, '--timeout', String(Math.ceil(timeoutMs / 1000))], {
    verbose: false, ...(ctx.hasTime ? { timeFile: join(ctx.base, `time-${label}.txt`) } : {}),
  });
}

async function ltRun(ctx, set, n, run, timeoutMs) {
  const rec = { tool: 'libtorrent', run, n };
  const resumeDir = join(ctx.base, `lt-resume-${run}`);
  let proc;
  try {
    await rm(resumeDir, { recursive: true, force: true });
    proc = startLt(ctx, set, resumeDir, `lt${run}-cold`, timeoutMs);
    const cold = await startFigures(proc, await proc.waitFor((e) => e.event === 'all-seeding', timeoutMs, 'all-seeding'), set.idleMs);
    Object.assign(rec, { coldSeconds: cold.seconds, coldCpu: cold.cpu, rssCold: cold.rss });
    const st = await stopProc(proc, 120_000);
    rec.stopSeconds = st.stopSeconds;
    rec.peakRss = st.peakRssBytes;
    const saved = proc.events.find((e) => e.event === 'saved');
    rec.resumeSaved = saved?.count;

    proc = startLt(ctx, set, resumeDir, `lt${run}-warm`, timeoutMs);
    const added = await proc.waitFor((e) => e.event === 'added', 60_000, 'added');
    rec.warmResumed = added.resumed;
    const warm = await startFigures(proc, await proc.waitFor((e) => e.event === 'all-seeding', timeoutMs, 'all-seeding'), set.idleMs);
    Object.assign(rec, { warmSeconds: warm.seconds, warmCpu: warm.cpu, rssWarm: warm.rss });
    const warmStop = await stopProc(proc, 120_000);
    rec.peakRss = Math.max(rec.peakRss ?? 0, warmStop.peakRssBytes ?? 0) || undefined;
    proc = undefined;
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
    ctx.log(`B4a libtorrent run ${run} failed: ${rec.error.split('\n')[0]}`);
  } finally {
    if (proc) await proc.stop(10_000).catch(() => {});
    await rm(resumeDir, { recursive: true, force: true }).catch(() => {});
  }
  return rec;
}

// --------------------------------------------------------------------------------------------------------- case
const METRICS = [
  // key, label, scale, digits
  ['loadSeconds', 'load over RPC → all seeding (s)', 1, 2],
  ['rssLoad', 'RSS, all seeding, after idle (MB)', MB, 1],
  ['coldSeconds', 'cold start (no resume data) → all seeding (s)', 1, 2],
  ['coldCpu', 'cold start CPU until all seeding (s)', 1, 2],
  ['rssCold', 'RSS after cold start and idle (MB)', MB, 1],
  ['warmSeconds', 'warm start (resume data) → all seeding (s)', 1, 2],
  ['warmCpu', 'warm start CPU until all seeding (s)', 1, 2],
  ['rssWarm', 'RSS after warm start and idle (MB)', MB, 1],
  ['peakRss', 'peak RSS over the phases (MB)', MB, 1],
  ['stopSeconds', 'stop (SIGTERM → exit, resume data saved) (s)', 1, 2],
];
/** libtorrent has no "load over RPC" or steady RSS after it: its cold start is the comparable figure. */
const LT_KEY = { loadSeconds: 'coldSeconds', rssLoad: 'rssCold' };

export async function run(ctx) {
  const n = ctx.quick ? 100 : 1000;
  const timeoutMs = ctx.quick ? 60_000 : 600_000;
  ctx.log(`B4a: writing ${n} torrents of ${FILE_SIZE / 1024} KiB`);
  const set = { ...(await makeTorrents(ctx.base, n)), idleMs: ctx.quick ? IDLE_QUICK_MS : IDLE_MS };
  const runs = [];
  for (let r = 1; r <= ctx.runs; r++) {
    ctx.log(`B4a run ${r}/${ctx.runs}: bitpeer`);
    runs.push(await bitpeerRun(ctx, set, n, r, timeoutMs));
    if (ctx.lt) {
      ctx.log(`B4a run ${r}/${ctx.runs}: libtorrent`);
      runs.push(await ltRun(ctx, set, n, r, timeoutMs));
    }
  }
  const of = (tool, key) => stats(runs.filter((x) => x.tool === tool && !x.error).map((x) => x[key]));
  const summary = { n };
  const rows = METRICS.map(([key, label, scale, digits]) => {
    const bp = of('bitpeer', key);
    const lt = ctx.lt ? of('libtorrent', LT_KEY[key] ?? key) : null;
    summary[`bitpeer_${key}`] = bp;
    if (lt) summary[`libtorrent_${LT_KEY[key] ?? key}`] = lt;
    const sc = (st) => (st && st.median !== undefined ? { ...st, median: st.median / scale, min: st.min / scale, max: st.max / scale } : st);
    const ratio = lt && bp.median !== undefined && lt.median ? fmt(bp.median / lt.median, 2) : '–';
    const ltLabel = LT_KEY[key] ? ' (its cold start)' : '';
    return [label, fmtSpread(sc(bp), digits), lt ? `${fmtSpread(sc(lt), digits)}${lt.n ? ltLabel : ''}` : 'skipped', ratio];
  });
  const table = markdownTable([`${n} torrents × 64 KiB`, 'bitpeer', 'libtorrent', 'bitpeer / libtorrent'], rows);
  const failures = runs.filter((x) => x.error).map((x) => `${x.tool} run ${x.run}: ${x.error.split('\n')[0]}`);
  const notes = [
    `${n} single-file torrents of 64 KiB (16 KiB pieces) seeding in one process; median ±half-spread of ${ctx.runs} run(s).`,
    `Times from process spawn until the last torrent is seeding; RSS is VmRSS after ${set.idleMs / 1000} s idle; the data is in the page cache for both.`,
    ctx.lt ? `libtorrent ${ctx.lt.version ?? ''}: lt_many.py, high_performance_seed, queue limits ≥ ${n}.` : 'libtorrent missing: its rows are skipped.',
    ...failures.map((f) => `FAILED ${f}`),
  ];
  const ltCold = ctx.lt ? of('libtorrent', 'coldSeconds').median : undefined;
  const rss = summary.bitpeer_rssLoad.median;
  const cold = summary.bitpeer_coldSeconds.median;
  const warm = summary.bitpeer_warmSeconds.median;
  const coldRef = ltCold ?? LT_COLD_REFERENCE_S;
  const targets = [
    target(id, `RSS with ${n} seeding torrents`, '≤ 120 MB', rss !== undefined ? `${fmt(rss / MB, 1)} MB` : '–',
      rss !== undefined ? rss <= 120 * MB : null),
    target(id, `cold start, ${n} torrents`, `≤ libtorrent's cold start (${fmt(coldRef, 1)} s${ltCold === undefined ? ', reference' : ''})`,
      cold !== undefined ? `${fmt(cold, 2)} s` : '–', cold !== undefined ? cold <= coldRef : null),
    target(id, `warm start, ${n} torrents`, '< 3 s', warm !== undefined ? `${fmt(warm, 2)} s` : '–', warm !== undefined ? warm < 3 : null),
  ];
  return { markdown: `${table}\n\n${notes.join(' ')}`, summary, runs, targets };
}

// Benchmark case B3: hashing a 1 GiB single file, two ways.
//
// 1. Create: `bitpeer create FILE -o OUT --piece-length 262144 --no-date` vs `mktorrent -l 18 -d -t THREADS -o OUT
//    FILE` (THREADS = the CPU count, mktorrent's own default, passed explicitly). MB/s from the whole-process wall time;
//    CPU user + sys and peak RSS from /usr/bin/time. Both torrents must have the same info-hash (SHA-1 of the bencoded
//    info dict's byte span, computed here).
// 2. Check: the start-up check of complete data with no resume state. bitpeer: `bitpeer seed T DATA --port 0 --json
//    --no-lsd --no-tracker --no-pex --bind 127.0.0.1`, timed from process start to its `checked` event (emitted when
//    the check ends, before it goes live as a seed); libtorrent: `lt_peer.py --mode seed --high-performance`, timed
//    from process start to its {"event":"checked"}. Both are then stopped by PID; CPU and RSS come from /usr/bin/time
//    at exit (so they include the few ms between the event and the stop).
// 3. Context: `bitpeer --version` once per run, bitpeer's fixed start-up + exit cost (reported in the notes).
// bitpeer processes run without NODE_EXTRA_CA_CERTS (see BITPEER_ENV); the report says so when it was set.
//
// Invariant: the data file is in the page cache for every measurement (written, then read once in full before the
// case; each tool also runs once unmeasured first), so this compares hashing and I/O-path cost, not the disk. Runs
// are interleaved (bitpeer run 1, reference run 1, bitpeer run 2, ...). Nothing listens beyond 127.0.0.1.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import {
  bitpeer, GiB, LT_PEER, MB, MiB, Proc, fmt, fmtSpread, markdownTable, sha1File, stats, target, writeRandomFile,
} from './lib.js';

export const id = 'B3';
export const title = 'Create and check, 1 GiB';

const PIECE_LENGTH = 262144;
/** bitpeer's environment: this one without NODE_EXTRA_CA_CERTS. Node parses that CA bundle (and its own ~140 root
 *  certificates) before it even starts V8, ~50 ms of every start-up here; B3 uses no TLS. Noted in the report. */
const BITPEER_ENV = (() => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
})();
const STRIPPED_CA_ENV = process.env.NODE_EXTRA_CA_CERTS !== undefined;

// ------------------------------------------------------------------------------------------------- info-hash
/** End offset of the bencoded value starting at `i` in `b`. */
function skipValue(b, i) {
  const c = b[i];
  if (c === 0x69) { // i...e
    const e = b.indexOf(0x65, i);
    if (e < 0) throw new Error('bad integer');
    return e + 1;
  }
  if (c === 0x6c || c === 0x64) { // l...e, d...e
    i++;
    while (b[i] !== 0x65) {
      if (i >= b.length) throw new Error('unterminated list/dict');
      i = skipValue(b, i);
    }
    return i + 1;
  }
  const colon = b.indexOf(0x3a, i);
  if (colon < 0) throw new Error('bad string');
  const len = Number(b.toString('latin1', i, colon));
  if (!Number.isInteger(len) || len < 0) throw new Error('bad string length');
  return colon + 1 + len;
}

/** SHA-1 (hex) of the byte span of the top-level `info` value of a .torrent. */
export function infoHashOf(buf) {
  if (buf[0] !== 0x64) throw new Error('not a dict');
  let i = 1;
  while (buf[i] !== 0x65) {
    const keyEnd = skipValue(buf, i);
    const key = buf.toString('latin1', buf.indexOf(0x3a, i) + 1, keyEnd);
    const valEnd = skipValue(buf, keyEnd);
    if (key === 'info') return createHash('sha1').update(buf.subarray(keyEnd, valEnd)).digest('hex');
    i = valEnd;
  }
  throw new Error('no info dict');
}

// --------------------------------------------------------------------------------------------------- running
/** Runs a command to its exit (killed after `timeoutMs`); returns { ok, wall (s, /usr/bin/time or own clock), cpu, rss, error }. */
async function runToExit(ctx, name, cmd, args, timeFile, timeoutMs, env) {
  const p = new Proc(name, cmd, args, { timeFile: ctx.hasTime ? timeFile : null, verbose: ctx.verbose, env });
  const exit = await p.waitExit(timeoutMs);
  if (!exit) {
    await p.stop(2000);
    return { ok: false, error: `${name}: no exit in ${timeoutMs} ms${p.tail()}` };
  }
  const ownWall = (p.exitedAt - p.startedAt) / 1000;
  if (exit.code !== 0) return { ok: false, error: `${name} exited ${JSON.stringify(exit)}${p.tail()}` };
  const t = await p.timeFigures();
  return { ok: true, wall: t?.wall ?? ownWall, ownWall, cpu: t?.cpuSeconds, cpuUser: t?.cpuUser, cpuSys: t?.cpuSys, rss: t?.peakRssBytes };
}

async function createOnce(ctx, c, tool, run) {
  const out = join(c.dir, `${tool}-${run}.torrent`);
  await rm(out, { force: true });
  const timeFile = join(c.dir, `time-create-${tool}-${run}.txt`);
  const [cmd, args] = tool === 'bitpeer'
    ? bitpeer(['create', c.file, '-o', out, '--piece-length', String(PIECE_LENGTH), '--no-date'])
    : ['mktorrent', ['-l', '18', '-d', '-t', String(c.threads), '-o', out, c.file]];
  const r = await runToExit(ctx, `${tool} create`, cmd, args, timeFile, c.timeoutMs, tool === 'bitpeer' ? BITPEER_ENV : undefined);
  const rec = { phase: 'create', tool, run, ...r };
  if (r.ok) {
    try {
      rec.infoHash = infoHashOf(await readFile(out));
      rec.mbps = c.size / MB / r.wall;
    } catch (e) {
      Object.assign(rec, { ok: false, error: `cannot read ${out}: ${e.message}` });
    }
  }
  await rm(timeFile, { force: true });
  return rec;
}

async function checkOnce(ctx, c, tool, run) {
  const timeFile = join(c.dir, `time-check-${tool}-${run}.txt`);
  const [cmd, args] = tool === 'bitpeer'
    ? bitpeer(['seed', c.torrent, c.file, '--port', '0', '--json', '--no-lsd',
      '--no-tracker', '--no-pex', '--bind', '127.0.0.1'])
    : [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--torrent', c.torrent, '--save', c.dataDir, '--port', '0',
      '--high-performance', '--progress-interval', '3600']];
  const p = new Proc(`${tool} check`, cmd, args,
    { timeFile: ctx.hasTime ? timeFile : null, verbose: ctx.verbose, env: tool === 'bitpeer' ? BITPEER_ENV : undefined });
  const rec = { phase: 'check', tool, run, ok: false };
  try {
    const ev = await p.waitFor((e) => e.event === 'checked' || e.event === 'error', c.timeoutMs, 'checked event');
    if (ev.event === 'error') throw new Error(`${tool}: ${ev.code ?? ''} ${ev.message ?? ''}`);
    if (ev.have !== c.pieces) throw new Error(`${tool}: check found ${ev.have} of ${c.pieces} pieces`);
    rec.toChecked = (ev.at - p.startedAt) / 1000;
    if (typeof ev.elapsedMs === 'number') rec.internalMs = ev.elapsedMs;
    rec.mbps = c.size / MB / rec.toChecked;
    rec.ok = true;
  } catch (e) {
    rec.error = e.message;
  } finally {
    await p.stop(10_000);
  }
  const t = await p.timeFigures();
  if (t) Object.assign(rec, { wall: t.wall, cpu: t.cpuSeconds, cpuUser: t.cpuUser, cpuSys: t.cpuSys, rss: t.peakRssBytes });
  await rm(timeFile, { force: true });
  return rec;
}

/** libtorrent's disk settings under lt_peer.py --high-performance (pack values, else defaults). */
async function ltDiskSettings(ctx) {
  const code = 'import json,libtorrent as lt\np=lt.high_performance_seed()\nd=lt.default_settings()\n'
    + 'print(json.dumps({k:(p[k] if k in p else d.get(k)) for k in ["aio_threads","hashing_threads","checking_mem_usage","max_queued_disk_bytes"]}))';
  const p = new Proc('lt settings', ctx.lt.python, ['-c', code], {});
  await p.waitExit(15_000);
  await p.stop(1000);
  try { return JSON.parse(p.stdoutTail.trim().split('\n').pop()); } catch { return null; }
}

// ------------------------------------------------------------------------------------------------------ case
export async function run(ctx) {
  const size = ctx.quick ? 64 * MiB : GiB;
  const dataDir = join(ctx.base, 'data');
  const dir = join(ctx.base, 'work');
  await mkdir(dir, { recursive: true });
  const file = join(dataDir, 'b3-data.bin');
  const threads = os.availableParallelism?.() ?? os.cpus().length;
  const c = {
    size, dataDir, dir, file, threads, pieces: Math.ceil(size / PIECE_LENGTH),
    timeoutMs: ctx.quick ? 60_000 : 300_000, torrent: join(dir, 'check.torrent'),
  };
  const runs = [];
  const notes = [];

  ctx.log(`B3: writing ${size / MiB} MiB of data`);
  const sha = await writeRandomFile(file, size, 'bitpeer-bench-B3');
  // Read it once in full so it sits in the page cache for every tool (the machine has far more RAM than this).
  if ((await sha1File(file)) !== sha) throw new Error('B3: the data file reads back wrong');

  // ---- 1. create
  const hasMk = ctx.hasMktorrent;
  const createTools = hasMk ? ['bitpeer', 'mktorrent'] : ['bitpeer'];
  if (!hasMk) notes.push('mktorrent is not installed: no create reference.');
  for (const tool of createTools) {
    ctx.log(`B3: create warm-up (${tool})`);
    const w = await createOnce(ctx, c, tool, 0);
    if (!w.ok) notes.push(`${tool} create warm-up failed: ${w.error.split('\n')[0]}`);
  }
  for (let r = 1; r <= ctx.runs; r++) {
    for (const tool of createTools) {
      ctx.log(`B3: create run ${r}/${ctx.runs} (${tool})`);
      runs.push(await createOnce(ctx, c, tool, r));
    }
    // bitpeer's fixed start-up + exit cost (`bitpeer --version`), for the notes: what no hashing speed-up can remove.
    const v = await runToExit(ctx, 'bitpeer --version', ...bitpeer(['--version']),
      join(c.dir, `time-version-${r}.txt`), 30_000, BITPEER_ENV);
    runs.push({ phase: 'startup', tool: 'bitpeer', run: r, ...v });
    await rm(join(c.dir, `time-version-${r}.txt`), { force: true });
  }
  // The check torrent: bitpeer's own create output (same info dict as mktorrent's when the hashes agree).
  const bpCreate = runs.find((x) => x.phase === 'create' && x.tool === 'bitpeer' && x.ok);
  const hashes = new Set(runs.filter((x) => x.phase === 'create' && x.ok).map((x) => x.infoHash));
  const sameHash = hashes.size === 1 && (!hasMk || runs.some((x) => x.tool === 'mktorrent' && x.ok));
  if (hashes.size > 1) notes.push(`**info-hash mismatch** between runs/tools: ${[...hashes].join(', ')}.`);

  // ---- 2. check
  const hasLt = Boolean(ctx.lt);
  const checkTools = hasLt ? ['bitpeer', 'libtorrent'] : ['bitpeer'];
  if (!hasLt) notes.push('libtorrent (python3-libtorrent) is missing: the libtorrent check rows are skipped.');
  let ltSettings = null;
  if (bpCreate) {
    await copyFile(join(dir, `bitpeer-${bpCreate.run}.torrent`), c.torrent);
    if (hasLt) ltSettings = await ltDiskSettings(ctx);
    for (const tool of checkTools) {
      ctx.log(`B3: check warm-up (${tool})`);
      const w = await checkOnce(ctx, c, tool, 0);
      if (!w.ok) notes.push(`${tool} check warm-up failed: ${w.error.split('\n')[0]}`);
    }
    for (let r = 1; r <= ctx.runs; r++) {
      for (const tool of checkTools) {
        ctx.log(`B3: check run ${r}/${ctx.runs} (${tool})`);
        runs.push(await checkOnce(ctx, c, tool, r));
      }
    }
  } else {
    notes.push('no bitpeer create succeeded, so there is no torrent to check.');
  }

  // ---- report
  const pick = (phase, tool, key) => runs.filter((x) => x.phase === phase && x.tool === tool && x.ok).map((x) => x[key]);
  const summary = { size, pieceLength: PIECE_LENGTH, mktorrentThreads: threads, bitpeerWithoutExtraCaCerts: STRIPPED_CA_ENV, sameInfoHash: sameHash, infoHash: [...hashes][0], ltSettings };
  for (const phase of ['create', 'check']) {
    for (const tool of phase === 'create' ? createTools : checkTools) {
      const keys = phase === 'create' ? ['mbps', 'wall', 'cpu', 'rss'] : ['mbps', 'toChecked', 'internalMs', 'wall', 'cpu', 'rss'];
      summary[`${phase}.${tool}`] = Object.fromEntries(keys.map((k) => [k, stats(pick(phase, tool, k))]));
      const failures = runs.filter((x) => x.phase === phase && x.tool === tool && !x.ok);
      if (failures.length) notes.push(`${tool} ${phase}: ${failures.length} failed run(s): ${failures[0].error.split('\n')[0]}`);
    }
  }
  const mib = (st) => (st && st.median !== undefined ? { ...st, median: st.median / MiB, min: st.min / MiB, max: st.max / MiB } : st);
  const ratio = (a, b) => (a !== undefined && b ? `${fmt(a / b, 2)}×` : '–');

  summary['startup.bitpeer'] = { wall: stats(pick('startup', 'bitpeer', 'wall')), cpu: stats(pick('startup', 'bitpeer', 'cpu')) };
  const cRef = summary['create.mktorrent']?.mbps.median;
  const createRows = createTools.map((tool) => {
    const s = summary[`create.${tool}`];
    return [tool === 'mktorrent' ? `mktorrent 1.1 (-t ${threads})` : 'bitpeer create', fmtSpread(s.mbps, 0), fmtSpread(s.wall, 2),
      fmtSpread(s.cpu, 2), fmtSpread(mib(s.rss), 0), tool === 'mktorrent' ? '1.00×' : ratio(s.mbps.median, cRef)];
  });
  const kRef = summary['check.libtorrent']?.mbps.median;
  const checkRows = checkTools.map((tool) => {
    const s = summary[`check.${tool}`];
    return [tool === 'libtorrent' ? `libtorrent ${ctx.lt.version} (high_performance_seed)` : 'bitpeer seed', fmtSpread(s.mbps, 0),
      fmtSpread(s.toChecked, 2), fmtSpread(s.cpu, 2), fmtSpread(mib(s.rss), 0), tool === 'libtorrent' ? '1.00×' : ratio(s.mbps.median, kRef)];
  });
  const sizeText = size >= GiB ? `${size / GiB} GiB` : `${size / MiB} MiB`;
  const settingsText = ltSettings ? Object.entries(ltSettings).map(([k, v]) => `${k}=${v}`).join(', ') : 'unknown';
  notes.push(`Page cache: the ${sizeText} file was written, then read once in full, and each tool ran once unmeasured`
    + ' before the measured runs, so every run reads from RAM.');
  notes.push(`MB = 10^6 bytes; piece length ${PIECE_LENGTH / 1024} KiB (${c.pieces} pieces). Create MB/s is from the`
    + ' whole-process wall time; check MB/s is size / time from process start to the "checked" event; CPU (user+sys)'
    + ' and peak RSS are whole-process from /usr/bin/time (for check, up to the stop just after the event).');
  if (STRIPPED_CA_ENV) {
    notes.push('bitpeer runs without NODE_EXTRA_CA_CERTS (set in this environment; it makes every Node start-up parse a'
      + ' CA bundle first, ~50 ms; B3 uses no TLS).');
  }
  const up = summary['startup.bitpeer'].wall.median;
  const cw = summary['create.bitpeer'].wall.median;
  if (up !== undefined && cw !== undefined && cw > up) {
    notes.push(`bitpeer's fixed start-up and exit (\`bitpeer --version\`) take ${fmt(up, 2)} s wall`
      + ` (${fmt(summary['startup.bitpeer'].cpu.median, 2)} s CPU); without it, create would run at ${fmt(size / MB / (cw - up), 0)} MB/s.`);
  }
  if (hasMk) notes.push(`mktorrent runs with -t ${threads} (its default is the number of CPU cores; passed explicitly).`);
  if (hasLt) notes.push(`libtorrent disk settings (high_performance_seed pack, else defaults; lt_peer.py does not change them): ${settingsText}.`);
  notes.push(`Info-hash: ${sameHash ? `identical for bitpeer and ${hasMk ? 'mktorrent' : 'every run'} (${summary.infoHash})` : 'NOT identical (see above)'}.`);

  const markdown = [
    `Create (${sizeText}, single file):`, '',
    markdownTable(['tool', 'MB/s', 'wall s', 'CPU s', 'peak RSS MiB', 'MB/s vs mktorrent'], createRows), '',
    `Start-up check of complete data (${sizeText}, no resume state):`, '',
    markdownTable(['tool', 'MB/s', 'start → checked s', 'CPU s', 'peak RSS MiB', 'MB/s vs libtorrent'], checkRows), '',
    `Notes: ${notes.join(' ')}`,
  ].join('\n');

  const cb = summary['create.bitpeer'].mbps.median;
  const kb = summary['check.bitpeer']?.mbps.median;
  const targets = [
    target(id, 'create MB/s ≥ 0.9 × mktorrent', '≥ 0.90×', cb !== undefined && cRef ? `${fmt(cb / cRef)}×` : null,
      cb !== undefined && cRef ? cb >= 0.9 * cRef : null),
    target(id, 'create info-hash equals mktorrent', 'equal', sameHash ? 'equal' : 'different', hasMk ? sameHash : null),
    target(id, 'check MB/s ≥ libtorrent', '≥ 1.00×', kb !== undefined && kRef ? `${fmt(kb / kRef)}×` : null,
      kb !== undefined && kRef ? kb >= kRef : null),
  ];
  return { markdown, summary, runs, targets };
}

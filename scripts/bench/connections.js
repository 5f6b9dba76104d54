// Benchmark case B4b: one seed under 500 concurrent peer connections on 127.0.0.1 (quick: 100 connections, 5 s).
//
// The seed (bitpeer `seed --max-peers/--max-connections` raised, or libtorrent lt_peer.py --high-performance with
// connections_limit 1000) serves one 64 MiB file, piece length 256 KiB. The load comes from scripts/bench/peer-load.js,
// a separate Node process (its CPU is not the seed's) and an independent client: it opens the connections over
// ~2 s, handshakes, says `interested`, and keeps 4–16 random block requests outstanding whenever it is unchoked, for
// 20 s, then reports its totals while every connection is still open.
//
// Measures, per seed: RSS idle (seeding, before the load), peak RSS under the load (VmHWM after a reset through
// /proc/PID/clear_refs, and 100 ms sampling of VmRSS) and RSS at the end, RSS per connection = (peak − idle) / N (also
// for anonymous memory alone: libtorrent maps the file, so its RSS counts page-cache pages), the seed's CPU (user + sys
// from /proc over the load), payload MB/s served, and whether the seed kept every connection: "no errors" = all N
// handshakes completed, none dropped by the seed, no error on the load side, the seed still alive.
// Invariant: bitpeer and libtorrent runs are interleaved; every process is stopped by its own PID; loopback only
// (bitpeer --no-lsd --no-tracker; lt_peer.py listens on 127.0.0.1 with DHT/LSD/UPnP/NAT-PMP off).
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bitpeer, LT_PEER, MB, MiB, Proc, fmt, fmtSpread, markdownTable, procStats, sleep, stats, target, writeRandomFile,
} from './lib.js';

export const id = 'B4b';
export const title = 'Scale: 500 concurrent peer connections to one session';

const PEER_LOAD = fileURLToPath(new URL('./peer-load.js', import.meta.url));
const KINDS = ['bitpeer', 'libtorrent'];
const SIZE = 64 * MiB;
const PIECE_LENGTH = 256 * 1024;
const RAMP_MS = 2000;
const SETTLE_MS = 2000;   // after the seed is ready, before the idle reading
const LINGER_MS = 1500;   // the load keeps its connections this long after reporting, while we read the seed
const IDLE_MS = 2000;     // after the ramp, the connections stay idle (handshaken, not interested) this long

/** VmRSS, VmHWM, RssAnon and RssFile of a live process (bytes), or null. */
async function memory(pid) {
  if (!pid) return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => { const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(status); return m ? Number(m[1]) * 1024 : 0; };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return null;
  }
}

/** Bytes the process has read through read(2) and friends (/proc/PID/io rchar: page-cache hits included), or null. */
async function readChars(pid) {
  try {
    const m = /^rchar:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Samples memory(pid) every `ms`; stop() returns the highest VmRSS and RssAnon seen. */
function memorySampler(pid, ms = 100) {
  let maxRss = 0;
  let maxAnon = 0;
  let busy = false;
  const take = async () => {
    const m = await memory(pid);
    if (m) { maxRss = Math.max(maxRss, m.rss); maxAnon = Math.max(maxAnon, m.anon); }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void take().finally(() => { busy = false; });
  }, ms);
  return { async stop() { clearInterval(timer); await take(); return { maxRss, maxAnon }; } };
}

function seedCommand(kind, ctx, c, n) {
  if (kind === 'libtorrent') {
    return [ctx.lt.python, ['-u', LT_PEER, '--mode', 'seed', '--torrent', c.torrent, '--save', c.srcDir, '--port', '0',
      '--high-performance', '--connections-limit', String(Math.max(1000, 2 * n)), '--no-peer-info']];
  }
  const cap = String(Math.max(600, n + 100));
  return bitpeer(['seed', c.torrent, c.dataFile, '--port', '0', '--json', '--no-lsd',
    '--no-tracker', '--max-peers', cap, '--max-connections', cap]);
}

/** Counts a list of strings: { text: n }. */
function tally(list) {
  const out = {};
  for (const x of list) out[x] = (out[x] ?? 0) + 1;
  return out;
}

async function measure(ctx, c, kind, run) {
  const r = { kind, run, connections: c.connections, ok: false };
  const procs = [];
  try {
    const [cmd, args] = seedCommand(kind, ctx, c, c.connections);
    const seed = new Proc(`${kind} seed`, cmd, args, { verbose: ctx.verbose });
    procs.push(seed);
    const added = await seed.waitFor((e) => e.event === 'added', 60_000, 'added event');
    const listening = await seed.waitFor((e) => e.event === 'listening', 60_000, 'listening event');
    if (kind === 'bitpeer') await seed.waitFor((e) => e.event === 'state' && e.state === 'seeding', 120_000, 'seeding state');
    const pid = seed.pid();
    await sleep(SETTLE_MS);
    const idle = await memory(pid);
    if (!idle) throw new Error(`${seed.name}: cannot read /proc/${pid}/status${seed.tail()}`);
    Object.assign(r, { idleRssBytes: idle.rss, idleAnonBytes: idle.anon });
    // Reset the peak (VmHWM) so it covers the load only, not the start-up check. Sampling backs it up.
    r.hwmReset = await writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false);
    const sampler = memorySampler(pid);
    const cpu0 = await procStats(pid);
    const load = new Proc('peer-load', process.execPath, [PEER_LOAD, '--port', String(listening.port),
      '--info-hash', added.infoHash, '--size', String(c.size), '--piece-length', String(c.pieceLength),
      '--connections', String(c.connections), '--duration', String(c.duration), '--ramp-ms', String(RAMP_MS),
      '--linger-ms', String(LINGER_MS), '--idle-ms', String(IDLE_MS)], { verbose: ctx.verbose });
    procs.push(load);
    let result;
    let end;
    let cpu1;
    let peaks;
    let startEvent;
    let connected;
    let busyCpu;
    let busyEvent;
    try {
      startEvent = await load.waitFor((e) => e.event === 'load-start', 30_000, 'load-start');
      await load.waitFor((e) => e.event === 'load-connected', RAMP_MS + IDLE_MS + 30_000, 'load-connected');
      [connected, busyCpu, r.rchar0] = await Promise.all([memory(pid), procStats(pid), readChars(pid)]);
      busyEvent = await load.waitFor((e) => e.event === 'load-busy', 30_000, 'load-busy');
      result = await load.waitFor((e) => e.event === 'load-result', (c.duration + 60) * 1000, 'load-result');
      // Every connection is still open here (the load lingers): the "end" reading.
      [end, cpu1, r.rchar1] = await Promise.all([memory(pid), procStats(pid), readChars(pid)]);
    } finally {
      peaks = await sampler.stop();
    }
    const alive = !seed.exit;
    if (!end || !cpu0 || !cpu1 || !connected || !busyCpu) throw new Error(`${seed.name} is gone (${JSON.stringify(seed.exit)})${seed.tail()}`);
    const wall = (result.at - busyEvent.at) / 1000;
    const peakRss = Math.max(peaks.maxRss, end.rss, r.hwmReset ? end.hwm : 0);
    const peakAnon = Math.max(peaks.maxAnon, end.anon);
    const n = c.connections;
    const dropped = seed.events.filter((e) => e.event === 'peer-disconnect' && e.at >= startEvent.at && e.at <= result.at);
    Object.assign(r, {
      seedAlive: alive, wallSeconds: wall,
      peakRssBytes: peakRss, endRssBytes: end.rss, peakAnonBytes: peakAnon, endAnonBytes: end.anon,
      rssPerConnectionBytes: (peakRss - idle.rss) / n, anonPerConnectionBytes: (peakAnon - idle.anon) / n,
      connectedRssBytes: connected.rss, idleConnRssPerConnectionBytes: (connected.rss - idle.rss) / n,
      acceptCpuSeconds: busyCpu.cpu - cpu0.cpu,
      cpuSeconds: cpu1.cpu - busyCpu.cpu, cpuPercent: ((cpu1.cpu - busyCpu.cpu) / wall) * 100,
      opened: result.opened, handshakes: result.handshakes, openAtEnd: result.openAtEnd,
      closedByRemote: result.closedByRemote, closeReasons: result.closeReasons, loadErrors: result.errorCount,
      loadErrorKinds: result.errors, seedDisconnects: dropped.length, seedDisconnectReasons: tally(dropped.map((e) => e.reason ?? '?')),
      payloadMB: result.payloadMB, payloadMBps: result.payloadMBps, requestsPerSec: result.requestsPerSec,
      rejects: result.rejects, stalls: result.stalls, unchokedAtEnd: result.unchokedAtEnd, everUnchoked: result.everUnchoked,
      unchokes: result.unchokes, served: result.served, perConnectionPayloadMB: result.perConnectionPayloadMB,
      loadCpuSeconds: result.loadCpuSeconds,
    });
    r.readPerServed = r.rchar0 !== null && r.rchar1 !== null && r.payloadMB > 0
      ? (r.rchar1 - r.rchar0) / (r.payloadMB * 1e6) : undefined;
    r.cpuSecondsPerGB = r.payloadMB > 0 ? r.cpuSeconds / (r.payloadMB / 1000) : undefined;
    r.noErrors = alive && result.handshakes === n && result.openAtEnd === n && result.closedByRemote === 0 &&
      result.errorCount === 0 && dropped.length === 0;
    const exit = await load.waitExit(15_000);
    if (exit === null) throw new Error('peer-load still running 15 s after its result');
    if (exit.code !== 0) throw new Error(`peer-load exited with ${JSON.stringify(exit)}${load.tail()}`);
    r.ok = true;
  } catch (err) {
    r.error = String(err instanceof Error ? err.message : err);
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
  return r;
}

function makeTorrent(ctx, dataFile, torrent) {
  const r = ctx.hasMktorrent
    ? spawnSync('mktorrent', ['-l', String(Math.log2(PIECE_LENGTH)), '-o', torrent, dataFile], { encoding: 'utf8' })
    : spawnSync(...bitpeer(['create', dataFile, '-o', torrent, '--piece-length', String(PIECE_LENGTH),
      '--announce-host', '127.0.0.1']), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making the torrent failed: ${r.stderr || r.error}`);
}

export async function run(ctx) {
  const c = {
    size: SIZE, pieceLength: PIECE_LENGTH, connections: ctx.quick ? 100 : 500, duration: ctx.quick ? 5 : 20,
    srcDir: join(ctx.base, 'src'),
  };
  c.dataFile = join(c.srcDir, 'b4b-data.bin');
  c.torrent = join(ctx.base, 'b4b-data.torrent');
  ctx.log(`B4b: writing ${SIZE / MiB} MiB of test data`);
  await writeRandomFile(c.dataFile, SIZE, 'bench-b4b');
  makeTorrent(ctx, c.dataFile, c.torrent);

  const results = [];
  for (let run = 1; run <= ctx.runs; run++) {
    for (const kind of KINDS) {
      if (kind === 'libtorrent' && !ctx.lt) { results.push({ kind, run, ok: false, skipped: 'no python with libtorrent' }); continue; }
      ctx.log(`B4b run ${run}/${ctx.runs}: ${kind} seed, ${c.connections} connections, ${c.duration} s ...`);
      const r = await measure(ctx, c, kind, run);
      ctx.log(r.ok
        ? `B4b   open at end ${r.openAtEnd}/${c.connections}, dropped by seed ${r.seedDisconnects}, load errors ` +
          `${r.loadErrors}; RSS idle ${fmt(r.idleRssBytes / MB, 0)} → peak ${fmt(r.peakRssBytes / MB, 0)} MB ` +
          `(${fmt(r.rssPerConnectionBytes / 1000, 0)} KB/conn); CPU ${fmt(r.cpuPercent, 0)}%; ${fmt(r.payloadMBps, 1)} MB/s`
        : `B4b   FAILED: ${r.error}`);
      results.push(r);
    }
  }
  return report(ctx, c, results);
}

function report(ctx, c, results) {
  const n = c.connections;
  const rows = {};
  for (const kind of KINDS) {
    const rs = results.filter((r) => r.kind === kind);
    const ok = rs.filter((r) => r.ok);
    const s = (f) => stats(ok.map(f));
    rows[kind] = {
      runs: rs.length, ok: ok.length, skipped: rs.find((r) => r.skipped)?.skipped, error: rs.find((r) => r.error)?.error,
      noErrorRuns: ok.filter((r) => r.noErrors).length,
      handshakes: s((r) => r.handshakes), openAtEnd: s((r) => r.openAtEnd), seedDisconnects: s((r) => r.seedDisconnects),
      closedByRemote: s((r) => r.closedByRemote), loadErrors: s((r) => r.loadErrors),
      idleRssMB: s((r) => r.idleRssBytes / MB), peakRssMB: s((r) => r.peakRssBytes / MB), endRssMB: s((r) => r.endRssBytes / MB),
      rssPerConnKB: s((r) => r.rssPerConnectionBytes / 1000), anonPerConnKB: s((r) => r.anonPerConnectionBytes / 1000),
      connectedRssMB: s((r) => r.connectedRssBytes / MB), idleConnKB: s((r) => r.idleConnRssPerConnectionBytes / 1000),
      acceptCpuSeconds: s((r) => r.acceptCpuSeconds), readPerServed: s((r) => r.readPerServed),
      cpuPercent: s((r) => r.cpuPercent), cpuSecondsPerGB: s((r) => r.cpuSecondsPerGB), payloadMBps: s((r) => r.payloadMBps),
      requestsPerSec: s((r) => r.requestsPerSec), unchokedAtEnd: s((r) => r.unchokedAtEnd), served: s((r) => r.served),
      everUnchoked: s((r) => r.everUnchoked),
    };
  }
  const bp = rows.bitpeer;
  const lt = rows.libtorrent;
  const ratio = (key) => {
    const a = bp[key]?.median;
    const b = lt[key]?.median;
    return a !== undefined && b ? `${fmt(a / b)}×` : '–';
  };
  const line = (label, key, digits = 1, withRatio = true) =>
    [label, fmtSpread(bp[key], digits), fmtSpread(lt[key], digits), withRatio ? ratio(key) : ''];
  const table = markdownTable(['', 'bitpeer', 'libtorrent', 'bitpeer / libtorrent'], [
    ['runs ok', `${bp.ok}/${bp.runs}`, lt.skipped ? `skipped: ${lt.skipped}` : `${lt.ok}/${lt.runs}`, ''],
    ['runs with no errors (all open to the end)', `${bp.noErrorRuns}/${bp.runs}`, lt.skipped ? '–' : `${lt.noErrorRuns}/${lt.runs}`, ''],
    line(`handshakes completed (of ${n})`, 'handshakes', 0, false),
    line(`open at the end (of ${n})`, 'openAtEnd', 0, false),
    line('dropped by the seed', 'seedDisconnects', 0, false),
    line('load-side errors', 'loadErrors', 0, false),
    line('idle RSS, MB', 'idleRssMB', 0),
    line(`RSS with ${n} idle connections (handshaken, not interested), MB`, 'connectedRssMB', 0),
    line('… per idle connection, KB = (that − idle) / N', 'idleConnKB', 1),
    line(`seed CPU s to accept ${n} connections (ramp + idle phase)`, 'acceptCpuSeconds', 2),
    line(`peak RSS with ${n} busy connections, MB`, 'peakRssMB', 0),
    line('RSS at the end, MB', 'endRssMB', 0),
    line('**RSS per connection, KB** = (peak − idle) / N', 'rssPerConnKB', 0),
    line('anonymous RSS per connection, KB', 'anonPerConnKB', 0),
    line('seed CPU under load, % of one core', 'cpuPercent', 0),
    line('seed CPU s per GB served', 'cpuSecondsPerGB', 2),
    line('payload served, MB/s', 'payloadMBps', 1),
    line('blocks (requests) served / s', 'requestsPerSec', 0),
    line('bytes read(2) by the seed per byte served', 'readPerServed', 2),
    line('unchoked at the end', 'unchokedAtEnd', 0, false),
    line('connections ever unchoked', 'everUnchoked', 0, false),
    line('connections served ≥ 1 block', 'served', 0, false),
  ]);
  const failures = results.filter((r) => r.error).map((r) => `${r.kind} run ${r.run}: ${r.error}`);
  const dropNotes = results.filter((r) => r.ok && !r.noErrors).map((r) => `${r.kind} run ${r.run}: seed dropped ` +
    `${JSON.stringify(r.seedDisconnectReasons)}, load saw ${JSON.stringify(r.closeReasons)}, errors ${JSON.stringify(r.loadErrorKinds)}`);
  const lines = [
    `One seed, ${SIZE / MiB} MiB file, piece ${PIECE_LENGTH / 1024} KiB; ${n} connections opened over ${RAMP_MS / 1000} s ` +
    `by a separate load process, left idle ${IDLE_MS / 1000} s, then ${c.duration} s of \`interested\` and random 16 KiB ` +
    'requests (4–16 outstanding per unchoked connection).\n',
    table, '',
    'Medians of the runs; ±x% is half the spread (max − min) relative to the median. MB = 10^6 bytes, KB = 10^3. ' +
    'RSS and CPU are whole-process figures of the seed from /proc (peak: VmHWM reset before the load, plus 100 ms ' +
    'sampling); CPU is user + sys over the load. libtorrent runs with high_performance_seed() (unchoke_slots_limit ' +
    '−1: it unchokes every peer) and maps the file, so its RSS counts page-cache pages of the file (the anonymous row ' +
    'leaves them out) and it reads without read(2); bitpeer seeds in round robin over a few upload slots (8 for one torrent), so most of its peers ' +
    'wait choked — the throughput rows compare policies as much as engines. (peak − idle) / N spreads the memory of ' +
    'the upload path (read cache, buffers in flight) over the connections; the idle-connection row is the cost of a ' +
    'connection alone.',
  ];
  if (failures.length) lines.push('', `Failed runs: ${failures.join('; ')}`);
  if (dropNotes.length) lines.push('', `Runs with drops or errors: ${dropNotes.join('; ')}`);
  const targets = [];
  // A run that failed (the seed crashed, the load could not start...) counts as not clean.
  const allOpen = bp.runs > 0 && bp.noErrorRuns === bp.runs;
  targets.push(target(id, `${n} connections, no errors`, `all ${n} handshakes, all open to the end, in every run`,
    bp.runs ? `${bp.noErrorRuns}/${bp.runs} runs clean; open at end ${fmt(bp.openAtEnd.min, 0)}–${fmt(bp.openAtEnd.max, 0)}`
      : 'no run', bp.runs ? allOpen : undefined));
  return {
    markdown: lines.join('\n'),
    summary: { size: SIZE, pieceLength: PIECE_LENGTH, connections: n, duration: c.duration, rows,
      rssPerConnectionRatio: bp.rssPerConnKB.median !== undefined && lt.rssPerConnKB.median
        ? bp.rssPerConnKB.median / lt.rssPerConnKB.median : undefined },
    runs: results,
    targets,
  };
}

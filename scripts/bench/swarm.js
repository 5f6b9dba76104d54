// Benchmark case B2 (scripts/bench.js): a swarm on loopback, 1 seed → 8 leechers of one 256 MiB file (piece length
// 256 KiB), bitpeer (9 `bitpeer` processes) against libtorrent (9 test/helpers/lt_peer.py processes).
//
// What it measures, per swarm and run: the wall time from starting the leechers until the LAST leecher reports
// `complete` (and until the first one does), the aggregate rate (leechers × size / last-complete time), the CPU seconds
// (user + sys) of all 9 processes and of the seed alone, the highest peak RSS of a leecher (all from /usr/bin/time at
// exit when present, else /proc sampling), and how the bytes flowed: what the seed uploaded (as a multiple of the file
// size) and what the leechers received from the seed vs from each other (per-peer totals that both clients print at
// exit: bitpeer's `peer-totals` event, lt_peer.py --peer-totals). The target: the bitpeer swarm finishes first.
//
// The recipe is the same for both clients: free ports are picked up front (bind 127.0.0.1:0, read, close); the seed
// starts and finishes its data check; then all leechers start at once, each given the seed's address and every other
// leecher's address (repeated --peer), with PEX on; a leecher keeps seeding after it completes (bitpeer `get --seed`,
// lt_peer.py --keep-seeding) until the last one completes; then all 9 are stopped by PID (SIGTERM to the measured
// process only, so /usr/bin/time still writes its figures), every leecher's file is checked by SHA-1 against the
// source, and the run's download folders are removed. Runs are interleaved: bitpeer run 1, libtorrent run 1, ...
//
// Invariant: loopback only. Every process listens on 127.0.0.1; bitpeer runs with --no-lsd --no-tracker and
// --bind 127.0.0.1; lt_peer.py removes the torrent's trackers and has DHT, LSD, UPnP and NAT-PMP off. The torrent's
// announce URL is a dead loopback address that neither client contacts. Processes are stopped by their own PIDs.
import { spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  bitpeer, LT_PEER, MB, MiB, Proc, bitpeerBuilt, fmt, fmtSpread, markdownTable, median, procStats, sampler, sha1File,
  stats, syncDisks, target, writeRandomFile,
} from './lib.js';

export const id = 'B2';
export const title = 'Swarm: 1 seed → 8 leechers, 256 MiB';

const PIECE_LENGTH = 256 * 1024;
const DEAD_ANNOUNCE = 'http://127.0.0.1:9/announce'; // never contacted: bitpeer --no-tracker, lt_peer.py drops trackers
const CLIENTS = ['bitpeer', 'libtorrent'];

// ------------------------------------------------------------------------------------------------------ helpers
/** `count` distinct free TCP ports on 127.0.0.1 (all bound at once, then closed). */
async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', resolve); });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  }
}

/** Makes the v1 torrent once: mktorrent when present, else `bitpeer create`. Returns the creator's name. */
function makeTorrent(ctx, file, torrent) {
  if (ctx.hasMktorrent) {
    const r = spawnSync('mktorrent', ['-l', '18', '-a', DEAD_ANNOUNCE, '-o', torrent, file],
      { encoding: 'utf8', timeout: 300_000 });
    if (r.status === 0) return 'mktorrent';
    ctx.log(`B2: mktorrent failed (${(r.stderr || r.error?.message || '').trim().split('\n').pop()}); trying bitpeer create`);
  }
  const r = spawnSync(...bitpeer(['create', file, '-o', torrent, '--piece-length', String(PIECE_LENGTH),
    '--announce', DEAD_ANNOUNCE, '--no-date', '--force']), { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`bitpeer create failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return 'bitpeer create';
}

const lastEvent = (proc, name) => { for (let i = proc.events.length - 1; i >= 0; i--) if (proc.events[i].event === name) return proc.events[i]; return null; };
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/**
 * Payload bytes a process moved. Totals: bitpeer from its `peer-totals` event at exit (exact, kept per connection
 * after disconnects); libtorrent from lt_peer.py's last progress event, printed at exit with --peer-totals (the
 * torrent's own counters, exact). `fromSeed`: the leecher's per-connection total with the seed's address (bitpeer
 * exact; lt_peer.py samples per-peer counters every 0.1 s while connected, so it can miss the last ~0.1 s).
 */
function byteCounts(client, proc, seedKey) {
  const totals = lastEvent(proc, 'peer-totals');
  const prog = lastEvent(proc, 'progress');
  const peers = totals && Array.isArray(totals.peers) ? totals.peers : null;
  const fromSeed = peers && seedKey ? sum(peers.filter((p) => p.peer === seedKey).map((p) => p.downloaded || 0)) : undefined;
  let downloaded; let uploaded;
  if (client === 'bitpeer' && peers) {
    downloaded = sum(peers.map((p) => p.downloaded || 0));
    uploaded = sum(peers.map((p) => p.uploaded || 0));
  } else if (prog) {
    downloaded = prog.downloaded;
    uploaded = prog.uploaded;
  } else {
    return null;
  }
  return { downloaded, uploaded, fromSeed, peerConnections: peers ? peers.length : undefined };
}

// --------------------------------------------------------------------------------------------------- one swarm
function seedCommand(client, ctx, p) {
  if (client === 'bitpeer') {
    return bitpeer(['seed', p.torrent, p.srcFile, '--port', String(p.port), '--bind', '127.0.0.1',
      '--json', '--no-lsd', '--no-tracker', '--no-utp']); // TCP, as libtorrent here (uTP is case B5)
  }
  return [ctx.lt.python, [LT_PEER, '--mode', 'seed', '--torrent', p.torrent, '--save', p.srcDir, '--port', String(p.port),
    '--high-performance', '--peer-totals']];
}

function leecherCommand(client, ctx, p) {
  const peers = p.peers.flatMap((port) => ['--peer', `127.0.0.1:${port}`]);
  if (client === 'bitpeer') {
    return bitpeer(['get', p.torrent, '-o', p.dir, '--port', String(p.port), '--bind', '127.0.0.1',
      ...peers, '--seed', '--json', '--no-lsd', '--no-tracker', '--no-utp']);
  }
  return [ctx.lt.python, [LT_PEER, '--mode', 'download', '--torrent', p.torrent, '--save', p.dir, '--port', String(p.port),
    ...peers, '--high-performance', '--keep-seeding', '--peer-totals', '--timeout', String(Math.ceil(p.timeoutMs / 1000) + 30)]];
}

/** Runs one swarm of `client`; returns the run record (with `error` set when something failed). */
async function runSwarm(client, runNo, ctx, setup) {
  const { size, leechers: n, timeoutMs, torrent, srcFile, srcDir, name, sha1 } = setup;
  const runDir = join(ctx.base, `run${runNo}-${client}`);
  const rec = { client, run: runNo, size, leechers: n, error: null };
  const procs = [];
  const samplers = [];
  try {
    await mkdir(runDir, { recursive: true });
    const ports = await freePorts(n + 1);
    const [seedPort, ...leecherPorts] = ports;
    const timeFile = (tag) => (ctx.hasTime ? join(runDir, `${tag}.time`) : null);
    const spawnProc = (tag, [cmd, args]) => {
      const p = new Proc(`${client}-${tag}`, cmd, args, { timeFile: timeFile(tag), verbose: ctx.verbose });
      procs.push(p);
      if (!ctx.hasTime) samplers.push(sampler(() => p.pid()));
      return p;
    };

    // 1. The seed, ready once its data check is done.
    const seed = spawnProc('seed', seedCommand(client, ctx, { torrent, srcFile, srcDir, port: seedPort }));
    const ready = await seed.waitFor((e) => (client === 'bitpeer' ? e.event === 'checked' : e.event === 'listening'),
      120_000, 'seed ready');
    if (client === 'bitpeer' && ready.have !== ready.pieces) throw new Error(`bitpeer seed checked ${ready.have}/${ready.pieces} pieces`);
    const seedCpuBefore = await procStats(seed.pid());

    // 2. All leechers at once; each knows the seed and every other leecher.
    const t0 = performance.now();
    const leechers = leecherPorts.map((port, i) => {
      const dir = join(runDir, `leecher${i + 1}`);
      return spawnProc(`leecher${i + 1}`, leecherCommand(client, ctx, {
        torrent, dir, port, peers: ports.filter((q) => q !== port), timeoutMs,
      }));
    });
    const deadline = t0 + timeoutMs;
    const seedDied = seed.exited.then((x) => { throw new Error(`seed exited early (${JSON.stringify(x)})${seed.tail()}`); });
    seedDied.catch(() => { /* handled by the race below */ });
    const completes = await Promise.race([
      Promise.all(leechers.map((l) => l.waitFor((e) => e.event === 'complete', Math.max(1, deadline - performance.now()), 'complete'))),
      seedDied,
    ]);
    const seedCpuAfter = await procStats(seed.pid());
    const doneAt = completes.map((e) => (e.at - t0) / 1000);
    rec.completeSeconds = doneAt;
    rec.lastSeconds = Math.max(...doneAt);
    rec.firstSeconds = Math.min(...doneAt);
    rec.aggregateMBps = (n * size) / MB / rec.lastSeconds;
    if (seedCpuBefore && seedCpuAfter) rec.seedCpuSwarm = seedCpuAfter.cpu - seedCpuBefore.cpu;

    // 3. Stop everything by PID, then read the figures.
    await Promise.all(procs.map((p) => p.stop(10_000)));
    const stopped = await Promise.all(samplers.map((s) => s.stop()));
    const figures = ctx.hasTime
      ? await Promise.all(procs.map((p) => p.timeFigures()))
      : stopped.map((s) => (s.last ? { cpuSeconds: s.last.cpu, peakRssBytes: s.maxRss } : null));
    rec.cpuSecondsAll = figures.every(Boolean) ? sum(figures.map((f) => f.cpuSeconds)) : undefined;
    rec.seedCpu = figures[0]?.cpuSeconds;
    rec.seedPeakRssBytes = figures[0]?.peakRssBytes;
    const lf = figures.slice(1).filter(Boolean);
    rec.leecherPeakRssMaxBytes = lf.length ? Math.max(...lf.map((f) => f.peakRssBytes)) : undefined;
    rec.leecherCpuMedian = median(lf.map((f) => f.cpuSeconds));

    // 4. Where the bytes came from.
    const seedKey = `127.0.0.1:${seedPort}`;
    const seedBytes = byteCounts(client, seed, null);
    rec.seedUploaded = seedBytes?.uploaded;
    // A connection the seed dialed (after learning a leecher by PEX) is keyed by the leecher's listen address on the
    // seed's side and by an ephemeral port on the leecher's: count it from the seed's side (bytes the seed sent).
    const seedPeers = lastEvent(seed, 'peer-totals')?.peers ?? [];
    rec.perLeecher = leechers.map((l, i) => {
      const b = byteCounts(client, l, seedKey);
      const dialedBySeed = sum(seedPeers.filter((p) => p.peer === `127.0.0.1:${leecherPorts[i]}`).map((p) => p.uploaded || 0));
      if (b && b.fromSeed !== undefined) b.fromSeed += dialedBySeed;
      const connects = l.events.filter((e) => e.event === 'peer-connect').length;
      return {
        leecher: i + 1, completeSeconds: doneAt[i], downloaded: b?.downloaded, uploaded: b?.uploaded,
        fromSeed: b?.fromSeed, fromLeechers: b && b.fromSeed !== undefined ? Math.max(0, b.downloaded - b.fromSeed) : undefined,
        peerConnections: b?.peerConnections, connectEvents: connects, cpuSeconds: figures[i + 1]?.cpuSeconds,
        peakRssBytes: figures[i + 1]?.peakRssBytes, exit: l.exit,
      };
    });
    rec.seedDialedConnections = seedPeers.filter((p) => leecherPorts.some((q) => p.peer === `127.0.0.1:${q}`)).length;
    rec.leechersUploaded = sum(rec.perLeecher.map((x) => x.uploaded ?? 0));
    rec.leechersDownloaded = sum(rec.perLeecher.map((x) => x.downloaded ?? 0));
    // Bytes sent beyond the n × size that was needed (endgame duplicates, blocks in flight at a disconnect...).
    if (typeof rec.seedUploaded === 'number') rec.overheadPct = ((rec.seedUploaded + rec.leechersUploaded) / (n * size) - 1) * 100;

    // 5. Every leecher's file against the source.
    for (let i = 0; i < n; i++) {
      const got = await sha1File(join(runDir, `leecher${i + 1}`, name)).catch((err) => `unreadable: ${err.message}`);
      if (got !== sha1) throw new Error(`leecher ${i + 1}: sha1 ${got} ≠ source ${sha1}`);
    }
    rec.verified = true;
  } catch (err) {
    rec.error = err instanceof Error ? err.message : String(err);
  } finally {
    await Promise.all(procs.map((p) => p.stop(5000)));
    await Promise.all(samplers.map((s) => s.stop()));
    await rm(runDir, { recursive: true, force: true });
  }
  return rec;
}

// --------------------------------------------------------------------------------------------------------- case
const mib = (b) => (typeof b === 'number' ? b / MiB : undefined);

function summarize(records) {
  const ok = records.filter((r) => !r.error);
  const pick = (f) => stats(ok.map(f));
  return {
    runs: records.length, ok: ok.length,
    lastSeconds: pick((r) => r.lastSeconds), firstSeconds: pick((r) => r.firstSeconds),
    aggregateMBps: pick((r) => r.aggregateMBps), cpuSecondsAll: pick((r) => r.cpuSecondsAll),
    seedCpu: pick((r) => r.seedCpu), seedCpuSwarm: pick((r) => r.seedCpuSwarm),
    leecherPeakRssMaxMiB: pick((r) => mib(r.leecherPeakRssMaxBytes)),
    seedUploadedX: pick((r) => (typeof r.seedUploaded === 'number' ? r.seedUploaded / r.size : undefined)),
    seedUploadedMiB: pick((r) => mib(r.seedUploaded)),
    leechersUploadedMiB: pick((r) => mib(r.leechersUploaded)),
    overheadPct: pick((r) => r.overheadPct),
    errors: records.filter((r) => r.error).map((r) => `run ${r.run}: ${r.error}`),
  };
}

const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b > 0 ? a / b : undefined);

function perLeecherTable(rec) {
  const rows = rec.perLeecher.map((x) => [String(x.leecher), fmt(x.completeSeconds, 2), fmt(mib(x.downloaded), 1),
    fmt(mib(x.fromSeed), 1), fmt(mib(x.fromLeechers), 1), fmt(mib(x.uploaded), 1), String(x.peerConnections ?? '–'),
    fmt(x.cpuSeconds, 2), fmt(mib(x.peakRssBytes), 0)]);
  return markdownTable(['leecher', 'complete s', 'received MiB', 'from seed MiB', 'from leechers MiB', 'uploaded MiB',
    'peer conns', 'CPU s', 'peak RSS MiB'], rows);
}

export async function run(ctx) {
  const size = ctx.quick ? 32 * MiB : 256 * MiB;
  const leechers = ctx.quick ? 4 : 8;
  const timeoutMs = ctx.quick ? 60_000 : 300_000;
  const notes = [];
  const clients = CLIENTS.filter((c) => {
    if (c === 'bitpeer' && !bitpeerBuilt()) { notes.push('bitpeer is not built (npm run build): bitpeer rows skipped.'); return false; }
    if (c === 'libtorrent' && !ctx.lt) { notes.push('python3-libtorrent not found: libtorrent rows skipped.'); return false; }
    return true;
  });

  // The content and the torrent, made once.
  const srcDir = join(ctx.base, 'src');
  const name = `swarm-${size / MiB}M.bin`;
  const srcFile = join(srcDir, name);
  const torrent = join(ctx.base, 'swarm.torrent');
  ctx.log(`B2: writing ${size / MiB} MiB of content`);
  const sha1 = await writeRandomFile(srcFile, size, `B2-${size}`);
  const creator = makeTorrent(ctx, srcFile, torrent);
  const setup = { size, leechers, timeoutMs, torrent, srcFile, srcDir, name, sha1 };

  const records = [];
  for (let r = 1; r <= ctx.runs; r++) {
    for (const client of clients) {
      syncDisks();
      ctx.log(`B2: run ${r}/${ctx.runs} ${client} swarm (1 seed → ${leechers} leechers, ${size / MiB} MiB)`);
      const rec = await runSwarm(client, r, ctx, setup);
      records.push(rec);
      ctx.log(rec.error ? `B2:   failed: ${rec.error.split('\n')[0]}`
        : `B2:   last ${fmt(rec.lastSeconds)} s, first ${fmt(rec.firstSeconds)} s, ${fmt(rec.aggregateMBps, 1)} MB/s aggregate, `
          + `CPU ${fmt(rec.cpuSecondsAll, 1)} s, seed uploaded ${fmt(rec.seedUploaded / size, 2)}× size`);
    }
  }

  const summary = {};
  for (const c of clients) summary[c] = summarize(records.filter((r) => r.client === c));
  const bp = summary.bitpeer;
  const ltS = summary.libtorrent;
  const ltLast = ltS?.lastSeconds.median;
  const ltCpu = ltS?.cpuSecondsAll.median;
  summary.ratioLastComplete = ratio(bp?.lastSeconds.median, ltLast);
  summary.ratioCpu = ratio(bp?.cpuSecondsAll.median, ltCpu);

  const rows = clients.map((c) => {
    const s = summary[c];
    const sx = s.seedUploadedX;
    return [c, `${s.ok}/${s.runs}`, fmtSpread(s.lastSeconds, 2), fmtSpread(s.firstSeconds, 2), fmtSpread(s.aggregateMBps, 1),
      fmtSpread(s.cpuSecondsAll, 1), `${fmtSpread(s.seedCpu, 2)} / ${fmtSpread(s.seedCpuSwarm, 2)}`,
      fmtSpread(s.leecherPeakRssMaxMiB, 0),
      sx.median !== undefined ? `${fmt(s.seedUploadedMiB.median, 0)} MiB = ${fmt(sx.median, 2)}×` : '–',
      fmtSpread(s.leechersUploadedMiB, 0), fmtSpread(s.overheadPct, 1),
      c === 'libtorrent' ? '1.00 (ref)' : fmt(ratio(s.lastSeconds.median, ltLast), 2),
      c === 'libtorrent' ? '1.00 (ref)' : fmt(ratio(s.cpuSecondsAll.median, ltCpu), 2)];
  });
  const table = markdownTable(['swarm', 'ok', 'last complete s', 'first complete s', 'aggregate MB/s', 'CPU s (9 procs)',
    'seed CPU s (total / in swarm)', 'leecher peak RSS MiB (max)', 'seed uploaded', 'leechers uploaded MiB', 'sent beyond need %',
    'time ratio vs lt', 'CPU ratio vs lt'], rows);

  const details = [];
  for (const c of clients) {
    const last = records.filter((r) => r.client === c && !r.error).pop();
    if (last) details.push(`Per leecher, ${c} run ${last.run}:\n\n${perLeecherTable(last)}`);
    for (const e of summary[c].errors) notes.push(`${c} ${e.split('\n')[0]}`);
  }
  notes.unshift(`1 seed → ${leechers} leechers of ${size / MiB} MiB (piece ${PIECE_LENGTH / 1024} KiB, ${creator}), loopback; `
    + `${ctx.runs} run(s) each, interleaved. Time = leechers started → last/first \`complete\`; aggregate = `
    + `${leechers} × size / last. CPU and RSS from ${ctx.hasTime ? '/usr/bin/time' : '/proc sampling'}; seed CPU total `
    + `includes its start-up data check, "in swarm" is /proc delta over the transfer. Bytes are payload from per-peer `
    + 'totals at exit ("from seed" = what the leecher got on its connection to the seed\'s address, plus what the seed '
    + 'sent on connections it dialed itself; libtorrent samples per-peer counters every 0.1 s, so it can miss the last '
    + '~0.1 s before a connection closes); "sent beyond need" = (seed + leechers '
    + `uploaded) / (${leechers} × size) − 1. All files verified by SHA-1.`);

  const bpLast = bp?.lastSeconds.median;
  const met = typeof bpLast === 'number' && typeof ltLast === 'number' ? bpLast < ltLast : null;
  const targets = [target('B2', 'bitpeer swarm finishes first', 'bitpeer time < libtorrent time',
    `${fmt(bpLast, 2)} s vs ${fmt(ltLast, 2)} s (×${fmt(summary.ratioLastComplete, 2)})`, met)];

  const markdown = [table, ...details, notes.map((n) => `- ${n}`).join('\n')].join('\n\n');
  return { markdown, summary, runs: records, targets };
}

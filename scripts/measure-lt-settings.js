#!/usr/bin/env node
// Re-measures issue 11's table: libtorrent (python3-libtorrent, test/helpers/lt_peer.py) downloading one file from a
// bitpeer seed with bitpeer's defaults (uTP on, encryption enabled) on 127.0.0.1, libtorrent told to connect to the
// seed (--peer), under each libtorrent connection setting of the table. One bitpeer seed serves every run; each run is
// a fresh libtorrent process with an empty download folder. Runs of the rows are interleaved.
//
//   node scripts/measure-lt-settings.js [--size MiB (256)] [--runs N (3)] [--timeout s (90)]
//
// Reports per row: the median wall time from spawning libtorrent's Python to its "complete" event (Python start-up
// and libtorrent's session start included), the median of libtorrent's own "elapsed" (from add_torrent to complete),
// the transport and encryption of its connections (its peer-link events) and the exact lt_peer.py command line.
// Every download is checked by SHA-1. Only 127.0.0.1 is used; run it inside `unshare -n` to be sure.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { CHILD_ENV, LT_PEER, MiB, bitpeer, findLibtorrentPython, markdownTable, median, sha1File, writeRandomFile } from './bench/lib.js';

const ROWS = [
  { label: 'plain TCP (uTP off, encryption off)', flags: ['--encryption', 'disabled'] },
  { label: 'encryption enabled (libtorrent default policy), uTP off', flags: ['--encryption', 'stock'] },
  { label: 'uTP on, encryption off', flags: ['--stock', '--encryption', 'disabled'] },
  { label: 'stock settings (uTP on, TCP on, encryption enabled)', flags: ['--stock'] },
  { label: 'encryption forced (RC4), uTP off', flags: ['--encryption', 'forced'] },
  { label: 'encryption forced (RC4), stock transports (uTP on)', flags: ['--stock', '--encryption', 'forced'] },
];

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

/** Spawns [cmd, args]; calls onEvent for each JSON stdout line; resolves { code } at exit. */
function run(cmd, args, onEvent) {
  const child = spawn(cmd, args, { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try { onEvent(JSON.parse(line)); } catch { /* not an event */ }
  });
  const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr: () => stderr })));
  return { child, done };
}

async function main() {
  const sizeMiB = arg('--size', 256);
  const runs = arg('--runs', 3);
  const timeoutSec = arg('--timeout', 90);
  const lt = findLibtorrentPython();
  if (!lt) { console.error('measure-lt-settings: error: no Python with libtorrent bindings'); process.exit(2); }
  const dir = await mkdtemp(join(tmpdir(), 'bitpeer-lt-settings-'));
  let seed;
  try {
    const data = join(dir, 'src', 'data.bin');
    await writeRandomFile(data, sizeMiB * MiB, 'lt-settings');
    const want = await sha1File(data);
    const torrent = join(dir, 'data.torrent');
    const mk = run(...bitpeer(['create', data, '-o', torrent, '--piece-length', String(1024 * 1024)]), () => {});
    if ((await mk.done).code !== 0) throw new Error('bitpeer create failed');
    let port = 0;
    const seedArgs = ['seed', torrent, data, '--port', '0', '--bind', '127.0.0.1', '--json', '--no-lsd', '--no-tracker'];
    let ready;
    const listening = new Promise((r) => { ready = r; });
    seed = run(...bitpeer(seedArgs), (e) => { if (e.event === 'listening') { port = e.port; ready(); } });
    let timer;
    await Promise.race([listening, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('seed not listening')), 120_000); })])
      .finally(() => clearTimeout(timer));
    console.log(`# ${new Date().toISOString()}  ${cpus()[0]?.model ?? '?'} x${cpus().length}  node ${process.version}  libtorrent ${lt.version}`);
    console.log(`# seed: bitpeer ${seedArgs.join(' ')}  (defaults: uTP on, encryption enabled)`);
    const results = ROWS.map(() => ({ wall: [], elapsed: [], links: new Set(), failures: [] }));
    for (let r = 0; r < runs; r++) {
      for (const [i, row] of ROWS.entries()) {
        const out = join(dir, `dl-${i}-${r}`);
        const ltArgs = ['-u', LT_PEER, '--mode', 'download', '--torrent', torrent, '--save', out, '--port', '0',
          '--peer', `127.0.0.1:${port}`, '--timeout', String(timeoutSec), ...row.flags];
        row.command = `${lt.python} ${ltArgs.join(' ').replaceAll(dir, '$DIR').replace(`127.0.0.1:${port}`, '127.0.0.1:$SEED_PORT')}`;
        const start = process.hrtime.bigint();
        let wall = NaN;
        let elapsed = NaN;
        const p = run(lt.python, ltArgs, (e) => {
          if (e.event === 'complete') { wall = Number(process.hrtime.bigint() - start) / 1e9; elapsed = e.elapsed; }
          if (e.event === 'peer-link') results[i].links.add(`${e.transport}/${e.encryption}`);
        });
        const exit = await p.done;
        const ok = exit.code === 0 && Number.isFinite(wall) && (await sha1File(join(out, 'data.bin')).catch(() => '')) === want;
        if (ok) { results[i].wall.push(wall); results[i].elapsed.push(elapsed); }
        else results[i].failures.push(`exit ${exit.code}`);
        console.log(`# run ${r + 1} ${row.label}: ${ok ? `${wall.toFixed(2)} s wall, ${elapsed} s libtorrent` : `FAILED (exit ${exit.code})`}`);
        await rm(out, { recursive: true, force: true });
      }
    }
    const table = ROWS.map((row, i) => {
      const res = results[i];
      const w = median(res.wall);
      const result = res.failures.length === runs ? `no transfer in ${timeoutSec} s (${runs} of ${runs} runs)`
        : `${w.toFixed(2)} s` + (res.failures.length ? ` (${res.failures.length} of ${runs} runs failed)` : '');
      return [row.label, result, Number.isFinite(median(res.elapsed)) ? `${median(res.elapsed).toFixed(2)} s` : '–',
        [...res.links].join(', ') || '–', `\`${row.command}\``];
    });
    console.log(markdownTable(['libtorrent downloading from a bitpeer seed', 'median wall (Python start-up included)',
      'libtorrent add→complete', 'links (transport/encryption)', 'command'], table));
  } finally {
    if (seed) { seed.child.kill('SIGTERM'); await seed.done; }
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => { console.error(`measure-lt-settings: error: ${err.message}`); process.exit(1); });

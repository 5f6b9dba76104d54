#!/usr/bin/env node
// Runs bitpeer's test tiers with Node's built-in test runner, on the compiled output in dist/.
//
//   node scripts/run-tests.js [all|unit|sim|loopback|interop|lan|persist|browser]...
//
// Tiers (see docs/testing.md):
//   unit      dist/src/**/*.test.js  pure modules, property tests; no network
//             dist/test/unit/*.test.js  repository checks (what `npm pack` would publish)
//   sim       dist/test/sim/*.test.js       hundreds of sessions in one process on a simulated network and a virtual
//                                            clock (no socket); one file at a time, in name order (the small one first)
//   loopback  dist/test/loopback/*.test.js  whole sessions on 127.0.0.1
//   interop   dist/test/interop/*.test.js   against real libtorrent / mktorrent
//   lan       dist/test/lan/*.test.js       six hosts in network namespaces on a private bridge (root; else skipped)
//   persist   dist/test/persist/*.test.js   real daemons: crashes, restarts, changed files, disk faults, RPC
//   browser   dist/test/browser/*.test.js   the web UI in headless chromium (playwright-core) against real daemons and
//                                            seeds; needs chromium ($BITPEER_CHROMIUM, default /usr/bin/chromium): when
//                                            it is missing the tier FAILS with one message saying how to install it;
//                                            one file at a time (the 1,000-torrent file measures the page's timing)
//
// The network rule: networked tiers must only ever reach loopback. When we are root and `unshare` works, those tiers
// run inside a fresh network namespace that has nothing but `lo`, so a bug cannot send a packet anywhere else.
// Set BITPEER_NO_NETNS=1 to run them in the host namespace (they still bind and dial 127.0.0.1 only).
// BITPEER_DHT_BOOTSTRAP is set to "none" for everything run from here: no default DHT bootstrap (the public routers).
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

// No test may ever contact the public DHT routers: every process run from here (and every bitpeer they start)
// inherits "no default DHT bootstrap node" (src/api/dht-config.ts). Tests give their own loopback nodes.
process.env.BITPEER_DHT_BOOTSTRAP = 'none';

function find(dir, pred) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p, pred));
    else if (pred(name)) out.push(p);
  }
  return out;
}

const tiers = {
  unit: {
    files: () => [...find(join(dist, 'src'), (n) => n.endsWith('.test.js')), ...find(join(dist, 'test', 'unit'), (n) => n.endsWith('.test.js'))],
    networked: false,
  },
  // One file at a time (each swarm takes the whole machine), in name order: the small swarm runs first.
  sim: { files: () => find(join(dist, 'test', 'sim'), (n) => n.endsWith('.test.js')), networked: false, sequential: true },
  loopback: { files: () => find(join(dist, 'test', 'loopback'), (n) => n.endsWith('.test.js')), networked: true },
  interop: { files: () => find(join(dist, 'test', 'interop'), (n) => n.endsWith('.test.js')), networked: true },
  lan: { files: () => find(join(dist, 'test', 'lan'), (n) => n.endsWith('.test.js')), networked: true },
  persist: { files: () => find(join(dist, 'test', 'persist'), (n) => n.endsWith('.test.js')), networked: true },
  browser: { files: () => find(join(dist, 'test', 'browser'), (n) => n.endsWith('.test.js')), networked: true, sequential: true,
    needs: chromiumProblem },
};

/**
 * Why the browser tier cannot run here, or undefined. The same message as test/browser/harness.ts: a missing
 * browser fails the tier (it never passes silently); CI installs it (.ci/run).
 */
function chromiumProblem() {
  const path = process.env.BITPEER_CHROMIUM || '/usr/bin/chromium';
  try {
    accessSync(path, fsConstants.X_OK);
    if (statSync(path).isFile()) return undefined;
  } catch {
    // not there, or not executable
  }
  return `the browser tier needs chromium, and there is no executable at ${path}: install it (Debian/Ubuntu: ` +
    'sudo apt-get install chromium) or set BITPEER_CHROMIUM=/path/to/chromium (CI installs it: .ci/run)';
}

/** `--test-concurrency=1` where this Node has it (20.10+); older runners use one process per core minus one. */
function sequentialFlag() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 20 || (major === 20 && minor >= 10) ? ['--test-concurrency=1'] : [];
}

function canUnshare() {
  if (process.env.BITPEER_NO_NETNS === '1') return false;
  if (process.getuid?.() !== 0) return false;
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  return r.status === 0;
}

let requested = process.argv.slice(2);
if (requested.length === 0 || requested.includes('all')) requested = Object.keys(tiers);
const netns = canUnshare();
let failed = false;
for (const name of requested) {
  const tier = tiers[name];
  if (!tier) { console.error(`unknown tier: ${name}`); process.exit(2); }
  const files = tier.files();
  if (files.length === 0) { console.log(`# tier ${name}: no test files`); continue; }
  const problem = tier.needs?.();
  if (problem) { failed = true; console.log(`# tier ${name}: FAILED: ${problem}`); continue; }
  // The browser tier's screenshots of this run only (no stale layout-failure-*.png from an earlier one).
  if (name === 'browser') rmSync(join(root, 'test-artifacts', 'browser'), { recursive: true, force: true });
  const nodeArgs = ['--test', '--test-reporter=spec', ...(tier.sequential ? sequentialFlag() : []), ...files];
  let cmd = process.execPath;
  let args = nodeArgs;
  if (tier.networked && netns) {
    const quoted = [process.execPath, ...nodeArgs].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    cmd = 'unshare';
    args = ['-n', 'sh', '-c', `ip link set lo up && exec ${quoted}`];
    console.log(`# tier ${name}: ${files.length} files, in a private network namespace (loopback only)`);
  } else {
    console.log(`# tier ${name}: ${files.length} files${tier.networked ? ' (host namespace, loopback addresses only)' : ''}`);
  }
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: { ...process.env, BITPEER_TEST_TIER: name } });
  if (r.status !== 0) { failed = true; console.log(`# tier ${name}: FAILED (exit ${r.status ?? r.signal})`); }
  else console.log(`# tier ${name}: passed`);
}
process.exit(failed ? 1 : 0);

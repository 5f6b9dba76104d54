/**
 * A private LAN made of Linux network namespaces, for multi-host tests (LSD multicast, trackers, PEX between
 * different IP addresses).
 *
 * Layout (N hosts, run id R = this process's PID):
 * ```
 *   netns bp-lan-R-hub:   bridge bpbr0 (STP off, multicast snooping off) with ports vh1..vhN
 *   netns bp-lan-R-1..N:  lo + eth0 (veth peer of vhI), address 10.99.0.I/24, route 224.0.0.0/4 dev eth0
 * ```
 * The bridge lives in its own namespace, not in the test's: the test's namespace (the `unshare -n` one of
 * scripts/run-tests.js, or the host's if run by hand) gets no new interface at all. No namespace has a default route
 * or any link outside the bridge, so every packet a host sends stays on this LAN (the network rule); an address
 * outside 10.99.0.0/24 fails at once with "network unreachable".
 *
 * Invariant: `destroy()` removes every namespace this object created, is idempotent and synchronous (so it also runs
 * from `process.on('exit')` and signal handlers). Namespaces left behind by a run that was SIGKILLed are removed by
 * {@link sweepStaleLans} (only those whose creating PID is gone).
 * BEP: none (test tooling).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

/** One host of the LAN. */
export interface LanHost {
  /** 1-based. */
  readonly index: number;
  /** The network namespace name (for `ip netns exec`). */
  readonly ns: string;
  /** Its IPv4 address on the bridge. */
  readonly addr: string;
}

/** Options for {@link Lan.create}. */
export interface LanOptions {
  /** How many hosts (1..200). */
  readonly hosts: number;
  /** The /24 prefix, default "10.99.0" (host I gets PREFIX.I). */
  readonly prefix?: string;
}

const NAME_PREFIX = 'bp-lan-';
const BRIDGE = 'bpbr0';

/** Runs `ip ...args`; throws with the command and its stderr on failure. */
function ip(args: readonly string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (exit ${String(r.status)}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** The namespaces that exist now (names only). */
export function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes `bp-lan-<pid>-*` namespaces whose creating process no longer exists (a run that was SIGKILLed), after
 * killing the processes still inside them: only this harness starts processes in namespaces with that name.
 * Returns the names removed.
 */
export function sweepStaleLans(): string[] {
  const removed: string[] = [];
  for (const name of listNamespaces()) {
    const m = /^bp-lan-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8', timeout: 15_000 }).stdout ?? '';
    for (const pid of pids.split(/\s+/).filter((x) => /^\d+$/.test(x)).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const r = spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 15_000 });
    if (r.status === 0) removed.push(name);
  }
  return removed;
}

/** Why a LAN cannot be built here (not root, no `ip`), or null when it is worth trying. */
export function lanUnavailableReason(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns add)';
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `the ip command (iproute2) is not available: ${r.error?.message ?? r.stderr}`;
  return null;
}

/** A LAN of network namespaces joined by one bridge. See the module comment. */
export class Lan {
  readonly hub: string;
  readonly hosts: readonly LanHost[];
  private readonly created: string[] = [];
  private destroyed = false;
  private readonly onExit = (): void => this.destroy();

  private constructor(readonly runId: string, count: number, readonly prefix: string) {
    this.hub = `${NAME_PREFIX}${runId}-hub`;
    this.hosts = Array.from({ length: count }, (_, i) => ({
      index: i + 1, ns: `${NAME_PREFIX}${runId}-${i + 1}`, addr: `${prefix}.${i + 1}`,
    }));
  }

  /**
   * Builds the LAN. Throws (after removing whatever it had made) when any step fails, e.g. `ip netns add` is not
   * permitted or the kernel lacks veth/bridge support; the message names the failing command.
   */
  static create(opts: LanOptions): Lan {
    if (!(opts.hosts >= 1 && opts.hosts <= 200)) throw new RangeError(`hosts must be 1..200, got ${opts.hosts}`);
    sweepStaleLans();
    const lan = new Lan(String(process.pid), opts.hosts, opts.prefix ?? '10.99.0');
    process.on('exit', lan.onExit);
    try {
      lan.build();
    } catch (err) {
      lan.destroy();
      throw err;
    }
    return lan;
  }

  private addNamespace(name: string): void {
    ip(['netns', 'add', name]);
    this.created.push(name);
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
  }

  private build(): void {
    this.addNamespace(this.hub);
    ip(['-n', this.hub, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    ip(['-n', this.hub, 'link', 'set', BRIDGE, 'up']);
    for (const h of this.hosts) {
      this.addNamespace(h.ns);
      const port = `vh${h.index}`;
      ip(['-n', this.hub, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
      ip(['-n', this.hub, 'link', 'set', port, 'master', BRIDGE]);
      ip(['-n', this.hub, 'link', 'set', port, 'up']);
      ip(['-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', 'eth0']);
      ip(['-n', h.ns, 'link', 'set', 'eth0', 'multicast', 'on']);
      ip(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      // LSD (BEP 14) sends to 239.192.152.143: multicast needs a route, and there is deliberately no default route.
      ip(['-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0']);
    }
  }

  /** Host `i` (1-based). */
  host(i: number): LanHost {
    const h = this.hosts[i - 1];
    if (!h) throw new RangeError(`no host ${i} (the LAN has ${this.hosts.length})`);
    return h;
  }

  /** The host that owns `addr` (an IPv4 address, or "ip:port"), if any. */
  hostOf(addr: string): LanHost | undefined {
    const ipOnly = addr.replace(/^::ffff:/, '').replace(/:\d+$/, '');
    return this.hosts.find((h) => h.addr === ipOnly);
  }

  /** `command args...` as an argv that runs it inside host `i`'s namespace: `ip netns exec NS command args...`. */
  wrap(i: number, command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.host(i).ns, command, ...args] };
  }

  /** Runs a command to completion inside host `i` (synchronous; for short set-up probes). */
  run(i: number, command: string, args: readonly string[], timeoutMs = 15_000): { code: number | null; stdout: string; stderr: string } {
    const w = this.wrap(i, command, args);
    const r = spawnSync(w.command, w.args, { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  }

  /**
   * Deletes every namespace this LAN created (the veth pairs and the bridge go with them). Kill the processes that
   * run inside first: a namespace lives on while a process is in it. Never throws; safe to call again.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.onExit);
    for (const name of this.created.splice(0).reverse()) {
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 15_000 });
    }
  }

  /** Names of this LAN's namespaces that still exist (for a leak check). */
  leftovers(): string[] {
    const mine = `${NAME_PREFIX}${this.runId}-`;
    return listNamespaces().filter((n) => n.startsWith(mine));
  }
}

/**
 * On SIGINT/SIGTERM: run `emergency` (synchronous: kill children by PID, destroy the LAN), then exit 130/143.
 * Returns a function that removes the handlers.
 */
export function onInterrupt(emergency: () => void): () => void {
  const handler = (sig: NodeJS.Signals): void => {
    try {
      emergency();
    } finally {
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

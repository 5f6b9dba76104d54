/**
 * Child processes and temporary folders for integration tests: bitpeer's CLI and the libtorrent driver.
 *
 * A {@link Child} parses its stdout as JSON lines (`{"event": ...}`, the `--json` contract), keeps its stderr, and
 * lets a test wait for an event or for the exit with a bound. A {@link Scope} records every child and temp folder a
 * test made, and `cleanup()` ends them all: each child by its own PID (SIGTERM, then SIGKILL after a grace period),
 * never by name, and each temp folder with `rm -rf`.
 *
 * Invariant: every wait is bounded, and a wait that fails says why, with the tail of the child's output.
 * BEP: none (test tooling).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ltPeerScript, projectRoot } from './python.js';
import { shebangOf } from './shebang.js';

/** One line of `--json` output. */
export interface JsonEvent {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** How a child ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Options for {@link Child}. */
export interface SpawnOptions {
  /** A short name used in error messages (default: the command's base name). */
  readonly name?: string;
  readonly cwd?: string;
  /** Extra environment variables, merged over `process.env`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Echo stdout/stderr lines to this process's stderr, prefixed with the name (debugging). */
  readonly echo?: boolean;
}

const MAX_KEPT_TEXT = 256 * 1024;

/** A spawned process with JSON-line parsing of stdout. */
export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Every JSON event seen on stdout, in order. */
  readonly events: JsonEvent[] = [];
  /** stdout lines that were not JSON events. */
  readonly otherLines: string[] = [];
  /** When the child was spawned (performance.now() scale, ms). */
  readonly startedAt: number;
  private stderrText = '';
  private stdoutRest = '';
  private exit: ExitInfo | null = null;
  private readonly exitPromise: Promise<ExitInfo>;
  private readonly listeners = new Set<() => void>();

  constructor(command: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? command.split('/').pop() ?? command;
    this.startedAt = performance.now();
    this.proc = spawn(command, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...(opts.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      this.proc.on('error', (err) => {
        this.stderrText += `\n[spawn error] ${err.message}`;
        this.exit ??= { code: -1, signal: null };
        this.notify();
        resolve(this.exit);
      });
      this.proc.on('close', (code, signal) => {
        this.exit ??= { code, signal };
        this.notify();
        resolve(this.exit);
      });
    });
    this.proc.stdout?.setEncoding('utf8');
    this.proc.stderr?.setEncoding('utf8');
    this.proc.stdout?.on('data', (chunk: string) => this.onStdout(chunk, opts.echo === true));
    this.proc.stderr?.on('data', (chunk: string) => {
      if (opts.echo === true) process.stderr.write(prefixLines(`[${this.name} err] `, chunk));
      this.stderrText = (this.stderrText + chunk).slice(-MAX_KEPT_TEXT);
    });
  }

  /** The child's PID (undefined only if the spawn itself failed). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Everything the child wrote on stderr so far (the last 256 KiB). */
  get stderr(): string {
    return this.stderrText;
  }

  /** The exit status, or null while the child runs. */
  get exitInfo(): ExitInfo | null {
    return this.exit;
  }

  /** The first event matching `pred` seen so far, if any. */
  find(pred: (e: JsonEvent) => boolean): JsonEvent | undefined {
    return this.events.find(pred);
  }

  /**
   * Resolves with the first event (already seen or future) that matches `pred`. Rejects after `timeoutMs`, or when
   * the child exits without producing one; the error includes the child's recent output.
   */
  waitFor(pred: (e: JsonEvent) => boolean, timeoutMs: number, what = 'a matching event'): Promise<JsonEvent> {
    return new Promise<JsonEvent>((resolve, reject) => {
      let seen = 0;
      const check = (): void => {
        for (; seen < this.events.length; seen++) {
          const e = this.events[seen];
          if (e !== undefined && pred(e)) {
            finish();
            resolve(e);
            return;
          }
        }
        if (this.exit !== null) {
          finish();
          reject(new Error(`${this.name} exited (${formatExit(this.exit)}) before ${what}\n${this.describe()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for an event by name. */
  waitForEvent(event: string, timeoutMs: number): Promise<JsonEvent> {
    return this.waitFor((e) => e.event === event, timeoutMs, `a "${event}" event`);
  }

  /** Resolves with the exit status; rejects if the child is still running after `timeoutMs`. */
  exited(timeoutMs: number): Promise<ExitInfo> {
    if (this.exit !== null) return Promise.resolve(this.exit);
    return new Promise<ExitInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${this.name}: still running after ${timeoutMs} ms\n${this.describe()}`));
      }, timeoutMs);
      void this.exitPromise.then((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  }

  /**
   * Ends the child by its own PID: SIGTERM, then SIGKILL if it is still alive after `graceMs`. Resolves once it has
   * exited. Safe to call more than once, and on a child that has already exited.
   */
  async stop(graceMs = 3000): Promise<ExitInfo> {
    if (this.exit !== null) return this.exit;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `sig` to this child's PID only (never to a process group or by name). */
  signal(sig: NodeJS.Signals): void {
    if (this.exit !== null || this.proc.pid === undefined) return;
    try {
      process.kill(this.proc.pid, sig);
    } catch {
      // already gone
    }
  }

  /** A multi-line summary for failure messages: exit status, last events, last stderr and other stdout lines. */
  describe(maxEvents = 8, maxStderr = 3000): string {
    const lines = [`--- ${this.name} (pid ${this.proc.pid ?? '?'}) ${this.exit ? formatExit(this.exit) : 'running'}`];
    const tail = this.events.slice(-maxEvents);
    if (tail.length > 0) lines.push('last events:', ...tail.map((e) => '  ' + JSON.stringify(e)));
    if (this.otherLines.length > 0) lines.push('other stdout:', ...this.otherLines.slice(-8).map((l) => '  ' + l));
    const err = this.stderrText.trim();
    if (err.length > 0) lines.push('stderr (tail):', err.slice(-maxStderr));
    return lines.join('\n');
  }

  private onStdout(chunk: string, echo: boolean): void {
    if (echo) process.stderr.write(prefixLines(`[${this.name}] `, chunk));
    this.stdoutRest += chunk;
    let nl: number;
    while ((nl = this.stdoutRest.indexOf('\n')) >= 0) {
      const line = this.stdoutRest.slice(0, nl).trim();
      this.stdoutRest = this.stdoutRest.slice(nl + 1);
      if (line.length > 0) this.onLine(line);
    }
    if (this.stdoutRest.length > MAX_KEPT_TEXT) {
      this.otherLines.push(this.stdoutRest.slice(0, 200) + '…');
      this.stdoutRest = '';
    }
  }

  private onLine(line: string): void {
    const event = parseEvent(line);
    if (event === null) {
      this.otherLines.push(line);
      if (this.otherLines.length > 1000) this.otherLines.splice(0, 500);
      return;
    }
    this.events.push(event);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Parses one stdout line as a JSON event (an object with a string "event" field), else null. */
export function parseEvent(line: string): JsonEvent | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as { event?: unknown }).event === 'string') {
      return value as JsonEvent;
    }
  } catch {
    // not JSON
  }
  return null;
}

function formatExit(info: ExitInfo): string {
  return info.signal !== null ? `signal ${info.signal}` : `exit ${String(info.code)}`;
}

function prefixLines(prefix: string, text: string): string {
  return text.split('\n').map((l, i, all) => (i === all.length - 1 && l === '' ? '' : prefix + l)).join('\n');
}

/**
 * The bitpeer entry script run by {@link Scope.bitpeer}: `$BITPEER_BIN` when set (e.g. to test an installed copy),
 * else this checkout's bin/bitpeer.js.
 */
export function bitpeerBin(): string {
  const override = process.env.BITPEER_BIN;
  return override !== undefined && override !== '' ? override : join(projectRoot(), 'bin', 'bitpeer.js');
}

/**
 * `bitpeer ...args` as the `bitpeer` command runs it: `[node, ...the shebang's flags, bin/bitpeer.js, ...args]` and the
 * shebang's environment, for harnesses that wrap the command (a mount or network namespace) instead of `Scope.bitpeer`.
 */
export function bitpeerCommand(args: readonly string[]): { argv: string[]; env: Record<string, string> } {
  const bin = bitpeerBin();
  const shebang = shebangOf(bin);
  return { argv: [process.execPath, ...shebang.flags, bin, ...args], env: shebang.env };
}

/** Makes a fresh folder under the OS temp dir (caller removes it; prefer {@link Scope.tempDir}). */
export function makeTempDir(prefix = 'bitpeer-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** `rm -rf dir`. */
export function removeTempDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Everything one test started. Create one per test and call `cleanup()` from `t.after()`/`after()`:
 * ```ts
 * const scope = new Scope(); t.after(() => scope.cleanup());
 * ```
 */
export class Scope {
  private readonly children: Child[] = [];
  private readonly dirs: string[] = [];
  private readonly echo: boolean;

  /** `echo` defaults to the BITPEER_TEST_ECHO=1 environment variable. */
  constructor(opts: { echo?: boolean } = {}) {
    this.echo = opts.echo ?? process.env.BITPEER_TEST_ECHO === '1';
  }

  /** Spawns any command and tracks it. */
  spawn(command: string, args: readonly string[], opts: SpawnOptions = {}): Child {
    const child = new Child(command, args, { echo: this.echo, ...opts });
    this.children.push(child);
    return child;
  }

  /** Runs `node [the shebang's flags] bin/bitpeer.js ...args` with the current Node binary and the shebang's environment. */
  bitpeer(args: readonly string[], opts: SpawnOptions = {}): Child {
    const { argv, env } = bitpeerCommand(args);
    return this.spawn(argv[0]!, argv.slice(1), { name: `bitpeer ${args[0] ?? ''}`.trim(), ...opts, env: { ...env, ...(opts.env ?? {}) } });
  }

  /** Runs the libtorrent driver (test/helpers/lt_peer.py) with the given interpreter. */
  ltPeer(python: string, args: readonly string[], opts: SpawnOptions = {}): Child {
    const mode = args[args.indexOf('--mode') + 1] ?? '';
    return this.spawn(python, ['-u', ltPeerScript(), ...args], { name: `libtorrent ${mode}`.trim(), ...opts });
  }

  /** A fresh temp folder, removed by `cleanup()`. */
  async tempDir(prefix = 'bitpeer-test-'): Promise<string> {
    const dir = await makeTempDir(prefix);
    this.dirs.push(dir);
    return dir;
  }

  /** All children started so far. */
  get started(): readonly Child[] {
    return this.children;
  }

  /** A summary of every child, for failure messages. */
  describe(): string {
    return this.children.map((c) => c.describe()).join('\n');
  }

  /** Stops every child (by PID, SIGTERM then SIGKILL) and removes every temp folder. Never throws. */
  async cleanup(graceMs = 3000): Promise<void> {
    const children = this.children.splice(0);
    await Promise.all(children.map((c) => c.stop(graceMs)));
    const dirs = this.dirs.splice(0);
    await Promise.all(dirs.map((d) => removeTempDir(d).catch(() => undefined)));
  }
}

/**
 * CPU time (user+system, seconds) and peak RSS (VmHWM, bytes) of a live process, read from /proc; null if unavailable.
 * Assumes USER_HZ = 100, which Linux uses for /proc on every common architecture.
 */
export async function procStats(pid: number): Promise<{ cpuSeconds: number; peakRssBytes: number } | null> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    // Fields after the ")" that closes the command name: state is field 3, utime 14, stime 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const hwm = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return { cpuSeconds: ticks / 100, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
  } catch {
    return null;
  }
}

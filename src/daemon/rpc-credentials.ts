/**
 * First-run RPC credentials for an exposed daemon: when the RPC binds a non-loopback address and no user/password is
 * given, the daemon uses a random credential kept in the state directory, created on the first such run.
 *
 * Invariants:
 * - the file (`rpc-credentials.json` in the state directory: `{"user":"bitpeer","password":"…"}`) is created with
 *   mode 0600, written and fsynced under a temporary name, then linked into place: readers see the whole file or
 *   none, and link() fails when the file exists, so it is NEVER overwritten (not even by a racing start);
 * - an existing file is used as is; one that is unreadable, too large (over 4 KiB) or malformed stops the start with
 *   a BtError naming it (fixing or removing it is the user's call, never ours); one readable by group or others is
 *   used, with a warning;
 * - the password is 24 random bytes (192 bits) from the CSPRNG, base64url (32 characters).
 * BEP: none (docs/design/rpc.md, "Credentials").
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BtError, errorMessage } from '../util/errors.js';

export const CREDENTIALS_FILE = 'rpc-credentials.json';
export const GENERATED_USER = 'bitpeer';
const MAX_FILE_BYTES = 4096;

export interface RpcCredentials { user: string; password: string }

export interface EnsuredCredentials extends RpcCredentials {
  /** True on the run that created the file (the only run that may show the password). */
  created: boolean;
  path: string;
  /** Set when the file is readable by group or others. */
  warning?: string;
}

/** A fresh credential: user "bitpeer" and 192 random bits. */
export function generateCredentials(random: (n: number) => Buffer = randomBytes): RpcCredentials {
  return { user: GENERATED_USER, password: random(24).toString('base64url') };
}

/** The credentials in a file's text, or a reason why not. */
export function parseCredentials(text: string): RpcCredentials | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `not JSON (${errorMessage(err)})`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  const user = o['user'];
  const password = o['password'];
  if (typeof user !== 'string' || user === '' || user.includes(':')) return '"user" must be a non-empty string without ":"';
  if (typeof password !== 'string' || password.length < 8) return '"password" must be a string of at least 8 characters';
  return { user, password };
}

async function readExisting(path: string): Promise<EnsuredCredentials | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BtError('IO', `cannot read the RPC credentials ${path}: ${errorMessage(err)}`);
  }
  if (!st.isFile() || st.size > MAX_FILE_BYTES) {
    throw new BtError('USAGE', `the RPC credentials ${path} are not a small file: fix or remove it (bitpeer never overwrites it)`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new BtError('IO', `cannot read the RPC credentials ${path}: ${errorMessage(err)}`);
  }
  const parsed = parseCredentials(text);
  if (typeof parsed === 'string') {
    throw new BtError('USAGE', `the RPC credentials ${path} are unusable: ${parsed}; fix or remove the file (bitpeer never overwrites it)`);
  }
  const loose = (st.mode & 0o077) !== 0;
  return {
    ...parsed, created: false, path,
    ...(loose ? { warning: `the RPC credentials ${path} are readable by other users (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it` } : {}),
  };
}

/**
 * The credentials a daemon made in `stateDir`, for a client command on the same machine; undefined when there is no
 * such file or it is unusable (too large, malformed, unreadable): the client then reports the daemon's 401 as is.
 * Never creates anything.
 */
export async function readRpcCredentials(stateDir: string): Promise<RpcCredentials | undefined> {
  try {
    const found = await readExisting(join(stateDir, CREDENTIALS_FILE));
    return found ? { user: found.user, password: found.password } : undefined;
  } catch (err) {
    if (err instanceof BtError) return undefined;
    throw err;
  }
}

/**
 * The credentials in `stateDir`, created on the first call (see the module invariants). `random` is for tests.
 */
export async function ensureRpcCredentials(stateDir: string, random?: (n: number) => Buffer): Promise<EnsuredCredentials> {
  const path = join(stateDir, CREDENTIALS_FILE);
  const existing = await readExisting(path);
  if (existing) return existing;
  const creds = generateCredentials(random);
  const tmp = join(stateDir, `.${CREDENTIALS_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(creds)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path); // fails with EEXIST rather than replace a file that appeared meanwhile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const other = await readExisting(path);
      if (other) return other;
      throw err;
    }
  } catch (err) {
    if (err instanceof BtError) throw err;
    throw new BtError('IO', `cannot create the RPC credentials ${path}: ${errorMessage(err)}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  // The directory entry: fsync the folder so the new name survives a crash right after (best effort).
  try {
    const dir = await open(stateDir, constants.O_RDONLY);
    try { await dir.sync(); } finally { await dir.close(); }
  } catch { /* some filesystems refuse to fsync a directory */ }
  return { ...creds, created: true, path };
}

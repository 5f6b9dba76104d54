/**
 * First-run RPC credentials on a real daemon (issue 15). "Exposed" is tested honestly: the RPC binds 0.0.0.0, which
 * is not a loopback address (src/api/rpc/server.ts isLoopback), inside the test's own network namespace (run it with
 * `unshare -n`, as every networked tier: the namespace has only `lo`, so nothing leaves the machine). The test dials
 * 127.0.0.1, which 0.0.0.0 serves.
 *
 * Checked: a loopback daemon creates no credential file; the first exposed start creates rpc-credentials.json (mode
 * 0600) and prints the password once, with the file's path; the RPC then wants it (401 without); a restart uses it
 * silently (the password is not in its log) and leaves the file alone; credentials given in the environment win.
 * BEP: none (docs/design/rpc.md, "Credentials").
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RpcClient } from '../../src/api/rpc/client.js';
import { isBtError } from '../../src/util/errors.js';
import { Scope } from '../helpers/proc.js';
import { distinctPorts, logLines, startDaemon, stopDaemonCleanly, type DaemonSpec } from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

/** The env without any RPC credentials of the caller's. */
const noCreds = { BITPEER_RPC_USER: '', BITPEER_RPC_PASSWORD: '' };

async function stats(rpcPort: number, user?: string, password?: string): Promise<Record<string, unknown>> {
  return new RpcClient({ port: rpcPort, timeoutMs: 10_000, ...(user !== undefined ? { user, password: password ?? '' } : {}) }).call('session-stats');
}

test('an exposed daemon creates its RPC credentials once, prints them once, and uses them afterwards', async () => {
  const root = await scope.tempDir('bitpeer-creds-daemon-');
  const stateDir = join(root, 'state');
  const file = join(stateDir, 'rpc-credentials.json');
  const [peerPort, rpcPort] = await distinctPorts(2);
  const base: DaemonSpec = { stateDir, port: peerPort!, rpcPort: rpcPort!, downloadDir: join(root, 'dl'), env: noCreds };

  // Loopback (the default): no credentials needed, none created.
  const local = await startDaemon(scope, { ...base, name: 'daemon:loopback' });
  await stats(rpcPort!);
  await stopDaemonCleanly(local);
  await assert.rejects(stat(file), /ENOENT/);

  // Exposed, first run: created, printed once with the path.
  const first = await startDaemon(scope, { ...base, name: 'daemon:exposed-1', extraArgs: ['--rpc-host', '0.0.0.0'] });
  const saved = JSON.parse(await readFile(file, 'utf8')) as { user: string; password: string };
  assert.equal(saved.user, 'bitpeer');
  assert.match(saved.password, /^[A-Za-z0-9_-]{32}$/);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const shown = logLines(first.child).filter((l) => l.includes(saved.password));
  assert.equal(shown.length, 1, `the password is printed exactly once:\n${logLines(first.child).join('\n')}`);
  assert.ok(shown[0]!.includes(file) && shown[0]!.includes('"bitpeer"'), shown[0]);
  await assert.rejects(stats(rpcPort!), (e: unknown) => isBtError(e, 'RPC') && /credentials|401|user/i.test(e.message), 'no credentials: refused');
  await assert.rejects(stats(rpcPort!, 'bitpeer', 'wrong-password'), (e: unknown) => isBtError(e, 'RPC'));
  assert.equal(typeof (await stats(rpcPort!, saved.user, saved.password))['torrentCount'], 'number');
  await stopDaemonCleanly(first);
  const mtime = (await stat(file)).mtimeMs;

  // Exposed, second run: the same credentials, silently; the file untouched.
  const second = await startDaemon(scope, { ...base, name: 'daemon:exposed-2', extraArgs: ['--rpc-host', '0.0.0.0'] });
  assert.ok(!logLines(second.child).some((l) => l.includes(saved.password)), 'not printed again');
  assert.equal(typeof (await stats(rpcPort!, saved.user, saved.password))['torrentCount'], 'number');
  await stopDaemonCleanly(second);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), saved);
  assert.equal((await stat(file)).mtimeMs, mtime);

  // Given credentials win: the generated ones do not open it then.
  const given = await startDaemon(scope, { ...base, name: 'daemon:exposed-given', extraArgs: ['--rpc-host', '0.0.0.0'],
    env: { BITPEER_RPC_USER: 'me', BITPEER_RPC_PASSWORD: 'my own password' } });
  assert.equal(typeof (await stats(rpcPort!, 'me', 'my own password'))['torrentCount'], 'number');
  await assert.rejects(stats(rpcPort!, saved.user, saved.password), (e: unknown) => isBtError(e, 'RPC'));
  await stopDaemonCleanly(given);
  assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), saved, 'still the same file');
});

/**
 * The daemon's `encryption` setting (issue 11, item 2) end to end: `--encryption forced` is saved in settings.json and
 * shown by the RPC as Transmission's `required`; session-set `preferred` changes it at once and is saved; a restart
 * without the flag keeps the saved value; a bad value is one clear RPC error and changes nothing.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Scope } from '../helpers/proc.js';
import { distinctPorts, startDaemon, stopDaemonCleanly, type DaemonSpec } from './harness.js';

const scope = new Scope();
after(() => scope.cleanup());

async function saved(stateDir: string): Promise<unknown> {
  return (JSON.parse(await readFile(join(stateDir, 'settings.json'), 'utf8')) as Record<string, unknown>)['encryption'];
}

test('encryption: --encryption is saved, shown and changed over the RPC, and kept across a restart', { timeout: 60_000 }, async () => {
  const root = await scope.tempDir('bitpeer-enc-setting-');
  const [port, rpcPort] = await distinctPorts(2);
  const spec: DaemonSpec = { stateDir: join(root, 'state'), port: port!, rpcPort: rpcPort!, downloadDir: join(root, 'dl') };
  let d = await startDaemon(scope, { ...spec, extraArgs: ['--encryption', 'forced'] });
  assert.equal((await d.rpc.call('session-get', { fields: ['encryption'] }))['encryption'], 'required');
  assert.equal(await saved(spec.stateDir), 'forced');
  await d.rpc.call('session-set', { encryption: 'preferred' });
  assert.equal((await d.rpc.call('session-get', { fields: ['encryption'] }))['encryption'], 'preferred');
  await assert.rejects(d.rpc.call('session-set', { encryption: 'sometimes' }), /invalid argument "encryption"/);
  assert.equal((await d.rpc.call('session-get', { fields: ['encryption'] }))['encryption'], 'preferred');
  await stopDaemonCleanly(d);
  assert.equal(await saved(spec.stateDir), 'enabled');
  d = await startDaemon(scope, spec);
  assert.equal((await d.rpc.call('session-get', { fields: ['encryption'] }))['encryption'], 'preferred', 'kept across a restart');
  await stopDaemonCleanly(d);
});

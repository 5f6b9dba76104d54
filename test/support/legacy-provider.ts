/**
 * Runs a check in a child Node started with OpenSSL's legacy provider (as bin/bitpeer.js's shebang starts bitpeer),
 * where RC4 is OpenSSL's: the test runner's own Node has no legacy provider. Used by the MSE unit tests.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Imports the compiled module `support` (a file name in test/support/, e.g. 'rc4-engine-check.js') in a child Node with
 * `--openssl-legacy-provider`, awaits `call` (an expression of `m`, the module), and prints its result. Returns the
 * child's exit status, stdout and stderr.
 */
export function runWithLegacyProvider(support: string, call: string): { status: number | null; stdout: string; stderr: string } {
  const file = fileURLToPath(new URL(`./${support}`, import.meta.url));
  const script = `import(${JSON.stringify(file)}).then(async (m) => console.log('result', JSON.stringify(await (${call}))))`;
  const child = spawnSync(process.execPath, ['--openssl-legacy-provider', '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_TEST_CONTEXT: '' } });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * Test helper (not used by production code): fresh temporary folders for a test file, all under one root made with
 * mkdtemp and removed (recursively) when the file's tests end.
 */
import { after } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Make a root `<tmpdir>/bitpeer-<label>-XXXXXX`, removed after the calling file's tests; returns a function that
 * creates and returns a new empty folder in it on each call. Call once, at the top of a test file.
 */
export function tmpDirs(label: string): () => string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `bitpeer-${label}-`));
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return () => {
    const d = path.join(root, `t${n++}`);
    fs.mkdirSync(d);
    return d;
  };
}

/** Write `body` at `dir/rel`, creating its folders. */
export function put(dir: string, rel: string, body: string | Buffer = 'x'): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), body);
}

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { StateStore } from './state-store.js';
import { encodeResume, type ResumeData } from './resume-codec.js';
import { Bitfield } from '../util/bitfield.js';
import { isBtError } from '../util/errors.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'bitpeer-state-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let n = 0;
function tmpDir(): string {
  return path.join(tmpRoot, `s${n++}`); // not created: open() must create it
}

const HEX = 'ab'.repeat(20);
const HEX2 = '0123456789abcdef0123456789abcdef01234567';

function resume(hex = HEX): ResumeData {
  const pieces = new Bitfield(10);
  pieces.set(3);
  return {
    version: 1, infoHash: Buffer.from(hex, 'hex'), savePath: '/data', paused: false, queuePosition: 0, addedAt: 1,
    uploaded: 0, downloaded: 0, pieces, files: [{ size: 5, mtimeMs: 2.5 }, null], wanted: [true, true],
    priorities: [0, 0], peers: [], uploadLimit: 0, downloadLimit: 0,
  };
}

/** PID of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((r) => child.once('exit', r));
  return pid;
}

test('open creates the layout and a lock naming our pid; close releases it', async () => {
  const dir = tmpDir();
  const store = await StateStore.open(dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['lock', 'resume', 'torrents']);
  assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8').split('\n')[0], String(process.pid));
  await store.close();
  assert.deepEqual(fs.readdirSync(dir).sort(), ['resume', 'torrents']);
  await store.close(); // idempotent
  await assert.rejects(store.listTorrents(), (e: unknown) => isBtError(e, 'ABORTED'));
});

test('a second open of a held directory is refused, in this process and from a live foreign pid', async () => {
  const dir = tmpDir();
  const store = await StateStore.open(dir);
  await assert.rejects(StateStore.open(dir), (e: unknown) =>
    isBtError(e, 'USAGE') && e.message === `state directory ${path.resolve(dir)} is in use by pid ${process.pid}`);
  await store.close();
  // A live process (our parent) holds it.
  fs.writeFileSync(path.join(dir, 'lock'), `${process.ppid}\n0123456789abcdef\n`);
  await assert.rejects(StateStore.open(dir), (e: unknown) =>
    isBtError(e, 'USAGE') && e.message.endsWith(`is in use by pid ${process.ppid}`));
  // The refused open did not touch the holder's lock.
  assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8'), `${process.ppid}\n0123456789abcdef\n`);
});

test('a stale lock (dead pid, garbage, or our pid left by an earlier process) is taken over', async () => {
  const dir = tmpDir();
  fs.mkdirSync(dir);
  for (const content of [`${await deadPid()}\nfeedfacefeedface\n`, 'garbage', '', `${process.pid}\n0000000000000000\n`, '0\n']) {
    fs.writeFileSync(path.join(dir, 'lock'), content);
    const warnings: string[] = [];
    const store = await StateStore.open(dir, { onWarning: (m) => warnings.push(m) });
    assert.ok(warnings.some((w) => w.startsWith('took over the stale lock')), JSON.stringify(content));
    assert.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8').split('\n')[0], String(process.pid));
    await store.close();
    assert.ok(!fs.existsSync(path.join(dir, 'lock')));
  }
  // Leftovers of the lock protocol from dead processes are removed.
  const dead = await deadPid();
  fs.writeFileSync(path.join(dir, `lock.${dead}.0123456789abcdef`), 'x');
  fs.writeFileSync(path.join(dir, `lock.takeover.${dead}.0123456789abcdef`), 'x');
  const store = await StateStore.open(dir);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['lock', 'resume', 'torrents']);
  await store.close();
});

test('processes racing for a stale lock: exactly one wins, the others name it', async () => {
  const dir = tmpDir();
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'lock'), `${await deadPid()}\n1111111111111111\n`);
  // A takeover mutex left by a process that died while taking over must not block anyone.
  fs.writeFileSync(path.join(dir, 'lock.takeover'), `${await deadPid()}\n2222222222222222\n`);
  const moduleUrl = new URL('./state-store.js', import.meta.url).href;
  const startAt = Date.now() + 600;
  const script = `
    import { StateStore } from ${JSON.stringify(moduleUrl)};
    while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 1));
    try {
      const s = await StateStore.open(process.env.DIR);
      process.stdout.write('won ' + process.pid + '\\n');
      await new Promise((r) => setTimeout(r, 1500));
      await s.close();
    } catch (e) {
      process.stdout.write('refused ' + e.code + ' ' + e.message + '\\n');
    }`;
  const runs = Array.from({ length: 5 }, () => new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, DIR: dir }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${out}`))));
  }));
  const outs = await Promise.all(runs);
  const winners = outs.filter((o) => o.startsWith('won '));
  assert.equal(winners.length, 1, outs.join('\n'));
  const winnerPid = winners[0]!.slice(4);
  for (const o of outs.filter((x) => !x.startsWith('won '))) {
    assert.ok(o.startsWith('refused USAGE ') && o.endsWith(`is in use by pid ${winnerPid}`), o);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['resume', 'torrents']);
});

test('settings: missing is null, round trip, bad JSON and non-objects are a USAGE error, prototype keys dropped', async () => {
  const dir = tmpDir();
  const store = await StateStore.open(dir);
  try {
    assert.equal(await store.loadSettings(), null);
    await store.saveSettings({ port: 6881, dht: false, limits: { up: 0 } });
    assert.deepEqual(await store.loadSettings(), { port: 6881, dht: false, limits: { up: 0 } });
    assert.equal(fs.statSync(path.join(dir, 'settings.json')).mode & 0o777, 0o600);
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, '{"port": 1,');
    await assert.rejects(store.loadSettings(), (e: unknown) => isBtError(e, 'USAGE') && e.message.includes(file));
    fs.writeFileSync(file, '[1,2]');
    await assert.rejects(store.loadSettings(), (e: unknown) => isBtError(e, 'USAGE'));
    fs.writeFileSync(file, '{"__proto__": {"polluted": 1}, "a": {"constructor": 1, "b": 2}}');
    const s = await store.loadSettings();
    assert.deepEqual(s, { a: { b: 2 } });
    assert.equal(Object.getPrototypeOf(s), Object.prototype);
    fs.writeFileSync(file, Buffer.alloc(1024 * 1024 + 1, 0x20));
    await assert.rejects(store.loadSettings(), (e: unknown) => isBtError(e, 'IO'));
  } finally {
    await store.close();
  }
});

test('metainfo: save, list, load, remove; info-hashes are validated before any path is built', async () => {
  const dir = tmpDir();
  const store = await StateStore.open(dir);
  try {
    assert.deepEqual(await store.listTorrents(), []);
    await store.saveMetainfo(HEX2, Buffer.from('d4:infod3:fooi1eee'));
    await store.saveMetainfo(HEX.toUpperCase(), Uint8Array.from([1, 2, 3]));
    assert.deepEqual(await store.listTorrents(), [HEX2, HEX].sort());
    assert.deepEqual(await store.loadMetainfo(HEX), Buffer.from([1, 2, 3]));
    assert.equal(await store.loadMetainfo('cd'.repeat(20)), null);
    for (const bad of ['../../../etc/passwd', `${HEX}/../x`, HEX.slice(1), `${HEX}0`, 'zz'.repeat(20), '']) {
      await assert.rejects(store.loadMetainfo(bad), (e: unknown) => isBtError(e, 'USAGE'), bad);
      await assert.rejects(store.saveMetainfo(bad, Buffer.alloc(1)), (e: unknown) => isBtError(e, 'USAGE'), bad);
      await assert.rejects(store.removeTorrent(bad), (e: unknown) => isBtError(e, 'USAGE'), bad);
    }
    // Stray files in torrents/ are not torrents.
    fs.writeFileSync(path.join(dir, 'torrents', 'notes.txt'), 'x');
    fs.writeFileSync(path.join(dir, 'torrents', `${'AB'.repeat(20)}.torrent`), 'x');
    assert.deepEqual(await store.listTorrents(), [HEX2, HEX].sort());
    await store.saveResume(HEX2, resume(HEX2));
    await store.removeTorrent(HEX2);
    assert.deepEqual(await store.listTorrents(), [HEX]);
    assert.ok(!fs.existsSync(path.join(dir, 'resume', `${HEX2}.resume`)));
    await store.removeTorrent(HEX2); // already gone: fine
  } finally {
    await store.close();
  }
});

test('resume: round trip; missing is null silently; corrupt or mismatched is null with a warning', async () => {
  const dir = tmpDir();
  const warnings: string[] = [];
  const store = await StateStore.open(dir, { onWarning: (m) => warnings.push(m) });
  try {
    const expected = { pieceCount: 10, fileCount: 2 };
    assert.equal(await store.loadResume(HEX, expected), null);
    assert.deepEqual(warnings, []);
    await store.saveResume(HEX, resume());
    assert.deepEqual(await store.loadResume(HEX, expected), resume());
    assert.deepEqual(await store.loadResume(HEX.toUpperCase(), expected), resume());
    // Saving data of another torrent under this hash is a programming error.
    await assert.rejects(store.saveResume(HEX2, resume()), RangeError);

    assert.equal(await store.loadResume(HEX, { pieceCount: 17, fileCount: 2 }), null);
    assert.match(warnings.pop() ?? '', /ignored, the torrent will be rechecked: bad resume data: pieces/);
    const file = path.join(dir, 'resume', `${HEX}.resume`);
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, good.subarray(0, good.length - 3));
    assert.equal(await store.loadResume(HEX, expected), null);
    assert.match(warnings.pop() ?? '', /bad resume data/);
    fs.writeFileSync(file, 'garbage');
    assert.equal(await store.loadResume(HEX, expected), null);
    assert.match(warnings.pop() ?? '', /bad resume data/);
    assert.equal(warnings.length, 0);
    // Resume data of another torrent copied under this name.
    fs.writeFileSync(file, encodeResume(resume(HEX2)));
    warnings.length = 0;
    assert.equal(await store.loadResume(HEX, expected), null);
    assert.match(warnings[0] ?? '', /another torrent/);
  } finally {
    await store.close();
  }
});

test('temp files left by a crashed write are ignored, then cleaned when the directory is opened', async () => {
  const dir = tmpDir();
  let store = await StateStore.open(dir);
  await store.saveMetainfo(HEX, Buffer.from('old'));
  await store.saveResume(HEX, resume());
  await store.close();
  // What a writer killed between write and rename leaves: a partial temp file next to the intact target.
  const tmpTorrent = path.join(dir, 'torrents', `.${HEX}.torrent.99999.0123456789ab.tmp`);
  const tmpResume = path.join(dir, 'resume', `.${HEX}.resume.99999.0123456789ab.tmp`);
  fs.writeFileSync(tmpTorrent, 'ne');
  fs.writeFileSync(tmpResume, 'd7:vers');
  const warnings: string[] = [];
  store = await StateStore.open(dir, { onWarning: (m) => warnings.push(m) });
  try {
    assert.ok(!fs.existsSync(tmpTorrent) && !fs.existsSync(tmpResume));
    assert.match(warnings.join('\n'), /removed 2 temp file/);
    assert.deepEqual(await store.listTorrents(), [HEX]);
    assert.deepEqual(await store.loadMetainfo(HEX), Buffer.from('old'));
    assert.deepEqual(await store.loadResume(HEX, { pieceCount: 10, fileCount: 2 }), resume());
  } finally {
    await store.close();
  }
});

test('resume: identical data is not written again; sync loaders read what the async ones read', async () => {
  const dir = tmpDir();
  const store = await StateStore.open(dir);
  try {
    const expected = { pieceCount: 10, fileCount: 2 };
    const file = path.join(dir, 'resume', `${HEX}.resume`);
    await store.saveResume(HEX, resume());
    const first = fs.statSync(file).ino;
    await store.saveResume(HEX, resume());
    assert.equal(fs.statSync(file).ino, first, 'same bytes: the file was not replaced');
    const changed = { ...resume(), uploaded: 5 };
    await store.saveResume(HEX, changed);
    assert.notEqual(fs.statSync(file).ino, first, 'new bytes: replaced');
    assert.deepEqual(store.loadResumeSync(HEX, expected), changed);
    assert.deepEqual(await store.loadResume(HEX, expected), changed);
    // What was just read is known too: saving it back writes nothing.
    const ino = fs.statSync(file).ino;
    await store.saveResume(HEX, changed);
    assert.equal(fs.statSync(file).ino, ino);
    assert.equal(store.loadResumeSync(HEX2, expected), null);
    // Metainfo, sync.
    await store.saveMetainfo(HEX, Buffer.from('d4:infode'));
    assert.deepEqual(store.loadMetainfoSync(HEX), Buffer.from('d4:infode'));
    assert.equal(store.loadMetainfoSync(HEX2), null);
    // After removeTorrent the store forgets what it wrote: the next save writes, even with the same bytes.
    await store.removeTorrent(HEX);
    await store.saveResume(HEX, changed);
    assert.ok(fs.existsSync(file), 'after removeTorrent the store no longer assumes the file is there');
  } finally {
    await store.close();
  }
});

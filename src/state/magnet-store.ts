/**
 * Pending magnets in the state directory: a magnet link whose metadata has not arrived yet is kept as
 * `<dir>/magnets/<infohash>.json` so that after a stop or a crash (kill -9) the daemon fetches it again, under the same
 * id, into the same folder, paused or not as it was. Once the metadata arrives the torrent is stored like any other
 * (torrents/, resume/) and the record is removed.
 *
 * Invariants: every write is atomic and durable (writeFileAtomic); reads are size-capped; the only thing from a record
 * that becomes part of a path is an info-hash that matched /^[0-9a-f]{40}$/; a record that does not parse or does not
 * match its file name is reported (`warn`) and skipped, never fatal. BEP 9 (what the record stands for).
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { MAX_MAGNET_LENGTH, parseMagnet } from '../metainfo/index.js';
import { errorMessage } from '../util/errors.js';
import { ioError, isMissing, listNames, readFileCapped, syncDir, writeFileAtomic } from './atomic.js';

/** One pending magnet. */
export interface PendingMagnetRecord {
  version: 1;
  /** Info-hash, 40 lower-case hex. */
  infoHash: string;
  /** The torrent id it was given (kept when the metadata arrives and across restarts). */
  id: number;
  /** The magnet link as added. */
  magnet: string;
  savePath: string;
  paused: boolean;
  /** Seconds since the epoch. */
  addedAt: number;
}

const FILE_RE = /^[0-9a-f]{40}\.json$/;
const MAX_RECORD_SIZE = MAX_MAGNET_LENGTH + 64 * 1024;

function folder(stateDir: string): string { return path.join(stateDir, 'magnets'); }

function fileOf(stateDir: string, hex: string): string {
  if (!/^[0-9a-f]{40}$/.test(hex)) throw new RangeError(`not an info-hash: ${JSON.stringify(hex.slice(0, 64))}`);
  return path.join(folder(stateDir), `${hex}.json`);
}

/** Write (atomically) the record of a pending magnet. @throws BtError('IO') */
export async function savePendingMagnet(stateDir: string, rec: PendingMagnetRecord): Promise<void> {
  await fsp.mkdir(folder(stateDir), { recursive: true, mode: 0o700 }).catch((e: unknown) => { throw ioError('mkdir', folder(stateDir), e); });
  await writeFileAtomic(fileOf(stateDir, rec.infoHash), `${JSON.stringify(rec)}\n`);
}

/** Remove the record of a pending magnet (missing is fine). @throws BtError('IO') */
export async function removePendingMagnet(stateDir: string, hex: string): Promise<void> {
  const file = fileOf(stateDir, hex);
  try {
    await fsp.unlink(file);
  } catch (e) {
    if (isMissing(e)) return;
    throw ioError('unlink', file, e);
  }
  await syncDir(path.dirname(file));
}

/** A record from the bytes of `<hex>.json`; throws a plain Error saying what is wrong. */
export function decodePendingMagnet(hex: string, text: string): PendingMagnetRecord {
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  const o = v as Record<string, unknown>;
  if (o['version'] !== 1) throw new Error(`unknown version ${JSON.stringify(o['version'])}`);
  if (o['infoHash'] !== hex) throw new Error('info-hash does not match the file name');
  const id = o['id'];
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new Error('bad id');
  const magnet = o['magnet'];
  if (typeof magnet !== 'string' || parseMagnet(magnet).infoHashHex !== hex) throw new Error('bad magnet link');
  const savePath = o['savePath'];
  if (typeof savePath !== 'string' || !path.isAbsolute(savePath)) throw new Error('bad savePath');
  const addedAt = typeof o['addedAt'] === 'number' && Number.isFinite(o['addedAt']) ? o['addedAt'] : 0;
  return { version: 1, infoHash: hex, id, magnet, savePath, paused: o['paused'] === true, addedAt };
}

/** Every readable record, sorted by id; bad ones go to `warn`. (StateStore.open removes temp files of interrupted writes.) */
export async function loadPendingMagnets(stateDir: string, warn: (m: string) => void): Promise<PendingMagnetRecord[]> {
  const dir = folder(stateDir);
  const names = await listNames(dir);
  const out: PendingMagnetRecord[] = [];
  for (const name of names.filter((n) => FILE_RE.test(n))) {
    const hex = name.slice(0, 40);
    try {
      const buf = await readFileCapped(path.join(dir, name), MAX_RECORD_SIZE);
      if (buf !== null) out.push(decodePendingMagnet(hex, buf.toString('utf8')));
    } catch (e) {
      warn(`pending magnet ${path.join(dir, name)} ignored: ${errorMessage(e)}`);
    }
  }
  return out.sort((a, b) => a.id - b.id);
}

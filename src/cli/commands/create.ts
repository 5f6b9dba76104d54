/**
 * `bitpeer create <path>`: write a .torrent for a file or a folder: v1 (default, mktorrent-identical), `--v2`
 * (BEP 52 only) or `--hybrid` (v1 + v2 with BEP 47 pad files), the last two identical to libtorrent 2.0.8's.
 */
import { resolve } from 'node:path';
import { buildMagnet } from '../../metainfo/index.js';
import type { Metainfo } from '../../metainfo/types.js';
import { createTorrent } from '../../create/create-torrent.js';
import { MIN_PIECE_LENGTH } from '../../metainfo/build.js';
import { BtError } from '../../util/errors.js';
import { CREATED_BY } from '../../util/version.js';
import { networkInterfaces } from 'node:os';
import { chooseLanAddress, ownTrackerUrl } from '../../net/lan-address.js';
import { asStrings, parse, parsePort, parseSize } from '../args.js';
import { checkTorrentDestination, torrentOutPath, writeTorrentFile } from '../dest-check.js';
import { formatBytes, Reporter } from '../output.js';
import { commandHelp } from '../help.js';

export async function createCommand(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, 'create');
  if (help) { process.stdout.write(commandHelp('create')); return 0; }
  const input = resolve(positionals[0]!);
  const reporter = new Reporter(Boolean(values['json']), false);
  if (values['v2'] && values['hybrid']) throw new BtError('USAGE', '--v2 and --hybrid exclude each other (--hybrid already includes v2)');
  const version = values['v2'] ? 'v2' : values['hybrid'] ? 'hybrid' : 'v1';
  const pieceLength = typeof values['piece-length'] === 'string' ? parseSize(values['piece-length'], 'piece length') : undefined;
  if (pieceLength !== undefined && (pieceLength < MIN_PIECE_LENGTH || (pieceLength & (pieceLength - 1)) !== 0)) {
    const why = version === 'v1' ? '' : ` for a ${version} torrent (BEP 52 merkle trees need it)`;
    throw new BtError('USAGE', `piece length must be a power of two of at least 16 KiB${why} (got ${pieceLength})`);
  }
  const announce = asStrings(values['announce']);
  if (announce.length === 0) {
    // No tracker given: announce to this peer's own embedded tracker (docs/cli.md explains the address choice).
    const host = typeof values['announce-host'] === 'string' ? values['announce-host'] : chooseLanAddress(networkInterfaces());
    announce.push(ownTrackerUrl(host, parsePort(values['port'] as string | undefined, 6881) || 6881));
  }
  for (const url of announce) {
    if (!/^(https?|udp):\/\/[^\s]+$/i.test(url)) throw new BtError('USAGE', `bad announce URL "${url}" (http://, https:// or udp://)`);
  }
  // The destination is checked before hashing (which can take minutes): one clear line, at once.
  const out = torrentOutPath(values['output'], input);
  const force = Boolean(values['force']);
  await checkTorrentDestination(out, force);
  const { torrent, meta } = await createTorrent(input, {
    version,
    ...(pieceLength !== undefined ? { pieceLength } : {}),
    announce,
    ...(typeof values['comment'] === 'string' ? { comment: values['comment'] } : {}),
    private: Boolean(values['private']),
    createdBy: CREATED_BY,
    creationDate: values['no-date'] ? null : Math.floor(Date.now() / 1000),
  });
  await writeTorrentFile(out, torrent, force);
  const magnet = magnetOf(meta, announce);
  // Sizes a user sees leave pad files out.
  const files = meta.files.filter((f) => f.padding !== true);
  const size = files.reduce((s, f) => s + f.length, 0);
  const v2 = meta.infoHashV2?.toString('hex');
  if (reporter.json) {
    process.stdout.write(JSON.stringify({ event: 'created', torrent: out, infoHash: meta.infoHashHex, name: meta.name,
      size, pieces: meta.pieceCount, pieceLength: meta.pieceLength, files: files.length, magnet,
      version: meta.version, ...(meta.infoHashV1 ? { infoHashV1: meta.infoHashV1.toString('hex') } : {}), ...(v2 ? { infoHashV2: v2 } : {}) }) + '\n');
  } else {
    const hashes = meta.version === 'v1' ? `  info-hash: ${meta.infoHashHex}\n`
      : `${meta.infoHashV1 ? `  info-hash v1: ${meta.infoHashV1.toString('hex')}\n` : ''}  info-hash v2: ${v2 ?? '?'}\n`;
    process.stdout.write(`created ${out}\n  name: ${meta.name}\n  format: ${meta.version}\n  size: ${formatBytes(size)} in ${files.length} file(s)\n` +
      `  pieces: ${meta.pieceCount} x ${formatBytes(meta.pieceLength)}\n${hashes}  magnet: ${magnet}\n`);
  }
  return 0;
}

/**
 * The magnet link of a created torrent: `btih` for v1, `btih` and `btmh` for hybrid, `btmh` alone for v2-only
 * (BEP 9, BEP 52: the multihash of the SHA-256 info-hash, 0x12 0x20 then the 32 bytes).
 */
function magnetOf(meta: Metainfo, trackers: string[]): string {
  const v1 = buildMagnet({ infoHash: meta.infoHash, name: meta.name, trackers });
  if (meta.infoHashV2 === undefined) return v1;
  const btmh = `xt=urn:btmh:1220${meta.infoHashV2.toString('hex')}`;
  const btih = `xt=urn:btih:${meta.infoHash.toString('hex')}`;
  return meta.version === 'v2' ? v1.replace(btih, btmh) : v1.replace(btih, `${btih}&${btmh}`);
}

/** `bitpeer create <path>`: write a .torrent for a file or a folder. */
import { resolve } from 'node:path';
import { buildMagnet } from '../../metainfo/index.js';
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
  const pieceLength = typeof values['piece-length'] === 'string' ? parseSize(values['piece-length'], 'piece length') : undefined;
  if (pieceLength !== undefined && (pieceLength < MIN_PIECE_LENGTH || (pieceLength & (pieceLength - 1)) !== 0)) {
    throw new BtError('USAGE', `piece length must be a power of two of at least 16 KiB (got ${pieceLength})`);
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
    ...(pieceLength !== undefined ? { pieceLength } : {}),
    announce,
    ...(typeof values['comment'] === 'string' ? { comment: values['comment'] } : {}),
    private: Boolean(values['private']),
    createdBy: CREATED_BY,
    creationDate: values['no-date'] ? null : Math.floor(Date.now() / 1000),
  });
  await writeTorrentFile(out, torrent, force);
  const magnet = buildMagnet({ infoHash: meta.infoHash, name: meta.name, trackers: announce });
  if (reporter.json) {
    process.stdout.write(JSON.stringify({ event: 'created', torrent: out, infoHash: meta.infoHashHex, name: meta.name,
      size: meta.totalLength, pieces: meta.pieceCount, pieceLength: meta.pieceLength, files: meta.files.length, magnet }) + '\n');
  } else {
    process.stdout.write(`created ${out}\n  name: ${meta.name}\n  size: ${formatBytes(meta.totalLength)} in ${meta.files.length} file(s)\n` +
      `  pieces: ${meta.pieceCount} x ${formatBytes(meta.pieceLength)}\n  info-hash: ${meta.infoHashHex}\n  magnet: ${magnet}\n`);
  }
  return 0;
}

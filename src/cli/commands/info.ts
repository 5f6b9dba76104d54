/**
 * `bitpeer info <file.torrent|magnet>`: show what a torrent or magnet link contains. The human listing shows the
 * first {@link FILES_SHOWN} files and says how to see the rest (`--all`); `--json` always lists every file.
 */
import { parseMagnet } from '../../metainfo/index.js';
import { parse } from '../args.js';
import { commandHelp } from '../help.js';
import { formatBytes } from '../output.js';
import { loadTorrentFile } from '../torrent-file.js';

/** Files listed without --all. */
export const FILES_SHOWN = 1000;

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(argv, 'info');
  if (help) { process.stdout.write(commandHelp('info')); return 0; }
  const arg = positionals[0]!;
  const json = Boolean(values['json']);
  if (arg.startsWith('magnet:')) {
    const m = parseMagnet(arg);
    const out = { type: 'magnet', infoHash: m.infoHashHex, name: m.name ?? null, trackers: m.trackers, peers: m.peers,
      infoHashV1: m.infoHashV1?.toString('hex') ?? null, infoHashV2: m.infoHashV2?.toString('hex') ?? null };
    if (json) process.stdout.write(JSON.stringify(out) + '\n');
    else process.stdout.write(`magnet link\n  info-hash: ${m.infoHashHex}\n` +
      (m.infoHashV2 ? `  info-hash v2: ${m.infoHashV2.toString('hex')}\n` : '') + `  name: ${m.name ?? '(none)'}\n` +
      m.trackers.map((t) => `  tracker: ${t}\n`).join('') + m.peers.map((p) => `  peer: ${p}\n`).join(''));
    return 0;
  }
  const { meta } = await loadTorrentFile(arg);
  if (json) {
    process.stdout.write(JSON.stringify({
      type: 'torrent', infoHash: meta.infoHashHex, name: meta.name, size: meta.totalLength, pieceLength: meta.pieceLength,
      pieces: meta.pieceCount, private: meta.private, multiFile: meta.multiFile, announce: meta.announce ?? null,
      announceList: meta.announceList, comment: meta.comment ?? null, createdBy: meta.createdBy ?? null,
      creationDate: meta.creationDate ?? null, files: meta.files.map((f) => ({ path: f.relPath, length: f.length })),
      softErrors: meta.softErrors,
      // BEP 52: the meta version and both info-hashes (null where the torrent has no such part).
      version: meta.version, infoHashV1: meta.infoHashV1?.toString('hex') ?? null, infoHashV2: meta.infoHashV2?.toString('hex') ?? null,
    }) + '\n');
    return 0;
  }
  const lines = [
    `name: ${meta.name}`, `info-hash: ${meta.infoHashHex}`,
    ...(meta.infoHashV2 ? [`info-hash v2: ${meta.infoHashV2.toString('hex')}`] : []), `meta version: ${meta.version}`, `size: ${formatBytes(meta.totalLength)} (${meta.totalLength} bytes)`,
    `pieces: ${meta.pieceCount} x ${formatBytes(meta.pieceLength)}`, `private: ${meta.private ? 'yes' : 'no'}`,
  ];
  if (meta.announce) lines.push(`announce: ${meta.announce}`);
  for (const [i, tier] of meta.announceList.entries()) lines.push(`tier ${i}: ${tier.join(' ')}`);
  if (meta.comment) lines.push(`comment: ${meta.comment}`);
  if (meta.createdBy) lines.push(`created by: ${meta.createdBy}`);
  if (meta.creationDate) lines.push(`created: ${new Date(meta.creationDate * 1000).toISOString()}`);
  lines.push(`files (${meta.files.length}):`);
  const shown = values['all'] ? meta.files.length : Math.min(meta.files.length, FILES_SHOWN);
  for (const f of meta.files.slice(0, shown)) lines.push(`  ${f.relPath}  ${formatBytes(f.length)}`);
  if (shown < meta.files.length) {
    lines.push(`  ... and ${meta.files.length - shown} more (add --all to list every file)`);
  }
  for (const s of meta.softErrors) lines.push(`note: ${s}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

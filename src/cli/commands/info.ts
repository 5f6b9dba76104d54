/**
 * `bitpeer info <file.torrent|magnet>`: show what a torrent or magnet link contains. The human listing shows the
 * first {@link FILES_SHOWN} files and says how to see the rest (`--all`); `--json` always lists every file.
 * BEP 47 pad files are never shown to a person and never counted in the size shown; `--json` lists them marked
 * `padding: true` (`size` is the user's data; `paddedSize` the torrent's byte space, pads included). BEP 52: the
 * meta version and the v2 (SHA-256) info-hash are shown when the torrent has one.
 */
import { parseMagnet, type TorrentFile } from '../../metainfo/index.js';
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
  const visible = meta.files.filter((f) => f.padding !== true);
  const dataSize = visible.reduce((n, f) => n + f.length, 0);
  if (json) {
    process.stdout.write(JSON.stringify({
      type: 'torrent', infoHash: meta.infoHashHex, metaVersion: meta.version,
      infoHashV1: meta.infoHashV1?.toString('hex') ?? null, infoHashV2: meta.infoHashV2?.toString('hex') ?? null,
      name: meta.name, size: dataSize, paddedSize: meta.totalLength, pieceLength: meta.pieceLength,
      pieces: meta.pieceCount, private: meta.private, multiFile: meta.multiFile, announce: meta.announce ?? null,
      announceList: meta.announceList, comment: meta.comment ?? null, createdBy: meta.createdBy ?? null,
      creationDate: meta.creationDate ?? null, files: meta.files.map((f) => fileJson(f)),
      softErrors: meta.softErrors,
      // BEP 52: the meta version under the name `ls --json` and the events use too.
      version: meta.version,
    }) + '\n');
    return 0;
  }
  const lines = [`name: ${meta.name}`, `info-hash: ${meta.infoHashHex}`];
  if (meta.infoHashV2 !== undefined) lines.push(`info-hash v2: ${meta.infoHashV2.toString('hex')}`);
  lines.push(
    `meta version: ${meta.version === 'hybrid' ? 'hybrid (v1 + v2)' : meta.version}`,
    `size: ${formatBytes(dataSize)} (${dataSize} bytes)`,
    `pieces: ${meta.pieceCount} x ${formatBytes(meta.pieceLength)}`, `private: ${meta.private ? 'yes' : 'no'}`,
  );
  if (meta.announce) lines.push(`announce: ${meta.announce}`);
  for (const [i, tier] of meta.announceList.entries()) lines.push(`tier ${i}: ${tier.join(' ')}`);
  if (meta.comment) lines.push(`comment: ${meta.comment}`);
  if (meta.createdBy) lines.push(`created by: ${meta.createdBy}`);
  if (meta.creationDate) lines.push(`created: ${new Date(meta.creationDate * 1000).toISOString()}`);
  lines.push(`files (${visible.length}):`);
  const shown = values['all'] ? visible.length : Math.min(visible.length, FILES_SHOWN);
  for (const f of visible.slice(0, shown)) lines.push(`  ${fileLine(f)}`);
  if (shown < visible.length) {
    lines.push(`  ... and ${visible.length - shown} more (add --all to list every file)`);
  }
  for (const s of meta.softErrors) lines.push(`note: ${s}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** One file in `--json`: path and length, and only the BEP 47 / BEP 52 facts it has. */
function fileJson(f: TorrentFile): Record<string, unknown> {
  const o: Record<string, unknown> = { path: f.relPath, length: f.length };
  if (f.padding === true) o['padding'] = true;
  if (f.executable === true) o['executable'] = true;
  if (f.hidden === true) o['hidden'] = true;
  if (f.symlinkTarget !== undefined) o['symlink'] = f.symlinkTarget.join('/');
  if (f.sha1 !== undefined) o['sha1'] = f.sha1.toString('hex');
  if (f.piecesRoot !== undefined) o['piecesRoot'] = f.piecesRoot.toString('hex');
  return o;
}

/** One file in the human listing: path, size, and its attributes (executable, hidden, symlink target). */
function fileLine(f: TorrentFile): string {
  if (f.symlinkTarget !== undefined) return `${f.relPath} -> ${f.symlinkTarget.join('/')}  (symlink)`;
  const attrs = [f.executable === true ? 'executable' : '', f.hidden === true ? 'hidden' : ''].filter((a) => a !== '');
  return `${f.relPath}  ${formatBytes(f.length)}${attrs.length > 0 ? `  (${attrs.join(', ')})` : ''}`;
}

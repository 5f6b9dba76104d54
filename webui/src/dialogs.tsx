/**
 * The add dialog (a .torrent by file picker or drop, or a magnet link; the download folder; start or not; which
 * files to fetch, read in the browser from the .torrent's info dictionary), the remove dialog (one torrent or a
 * multi-selection, named by count) and the move dialog (torrent-set-location: a new folder, moving the files or not).
 * Adding sends torrent-add with `metainfo` (base64) or `filename` (the magnet), `download-dir`, `paused`, and
 * `files-unwanted` for the files left unchecked.
 */
import { useEffect, useState } from 'preact/hooks';
import { rpc } from './rpc.js';
import { formatBytes } from './format.js';
import type { ListTorrent } from './model.js';
import { readTorrentFiles, type TorrentSummary } from './torrent-file.js';
import { Modal } from './widgets.js';

/** Largest .torrent read (the daemon's body limit is 14 MiB of base64). */
const MAX_TORRENT_BYTES = 10 * 1024 * 1024;

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

export interface AddDialogProps {
  initialFile?: File | undefined;
  initialMagnet?: string | undefined;
  report(err: unknown): void;
  onClose(): void;
  onAdded(id: number | undefined): void;
}

export function AddDialog({ initialFile, initialMagnet, report, onClose, onAdded }: AddDialogProps): preact.JSX.Element {
  const [file, setFile] = useState<{ name: string; bytes: Uint8Array } | undefined>(undefined);
  const [summary, setSummary] = useState<TorrentSummary | undefined>(undefined);
  const [wanted, setWanted] = useState<boolean[]>([]);
  const [parseError, setParseError] = useState('');
  const [magnet, setMagnet] = useState(initialMagnet ?? '');
  const [folder, setFolder] = useState('');
  const [start, setStart] = useState(true);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    rpc.call('session-get', { fields: ['download-dir'] })
      .then((s) => setFolder((f) => (f === '' && typeof s['download-dir'] === 'string' ? s['download-dir'] : f)))
      .catch(report);
  }, [report]);

  const choose = async (f: File | undefined): Promise<void> => {
    setSummary(undefined); setParseError(''); setFile(undefined);
    if (!f) return;
    if (f.size > MAX_TORRENT_BYTES) { setParseError(`${f.name} is larger than ${formatBytes(MAX_TORRENT_BYTES)}: not a .torrent`); return; }
    const bytes = new Uint8Array(await f.arrayBuffer());
    setFile({ name: f.name, bytes });
    try {
      const s = readTorrentFiles(bytes);
      setSummary(s);
      setWanted(s.files.map(() => true));
    } catch (err) {
      setParseError(`${f.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  useEffect(() => { if (initialFile) void choose(initialFile); }, [initialFile]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (busy) return;
    const args: Record<string, unknown> = { paused: !start };
    if (folder.trim() !== '') args['download-dir'] = folder.trim();
    if (file) {
      args['metainfo'] = toBase64(file.bytes);
      const unwanted = wanted.flatMap((w, i) => (w ? [] : [i]));
      if (summary && unwanted.length > 0) args['files-unwanted'] = unwanted;
    } else if (magnet.trim() !== '') {
      args['filename'] = magnet.trim();
    } else {
      setParseError('Choose a .torrent file or paste a magnet link.');
      return;
    }
    setBusy(true);
    try {
      const r = await rpc.call('torrent-add', args);
      const added = (r['torrent-added'] ?? r['torrent-duplicate']) as { id?: unknown } | undefined;
      onAdded(typeof added?.id === 'number' ? added.id : undefined);
    } catch (err) {
      report(err);
      setBusy(false);
    }
  };

  const allChecked = wanted.every(Boolean);
  return (
    <Modal testid="add-dialog" title="Add a torrent" onClose={onClose}>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <label>
          <span>.torrent file</span>
          <input type="file" accept=".torrent" data-testid="add-file-input"
            onChange={(e) => void choose((e.currentTarget as HTMLInputElement).files?.[0])} />
        </label>
        {file ? <p class="hint">Chosen: {file.name} ({formatBytes(file.bytes.length)})</p> : null}
        <label>
          <span>or magnet link</span>
          <input type="text" data-testid="add-magnet-input" placeholder="magnet:?xt=urn:btih:…" value={magnet} disabled={file !== undefined}
            onInput={(e) => setMagnet((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          <span>Download folder</span>
          <input type="text" data-testid="add-folder-input" value={folder} onInput={(e) => setFolder((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label class="check">
          <input type="checkbox" data-testid="add-start-checkbox" checked={start} onChange={(e) => setStart((e.currentTarget as HTMLInputElement).checked)} />
          <span>Start when added</span>
        </label>
        {parseError !== '' ? <p class="form-error" role="alert" data-testid="add-error">{parseError}</p> : null}
        {summary ? (
          <fieldset class="file-choices">
            <legend>{summary.name} — {summary.files.length} file{summary.files.length === 1 ? '' : 's'}, {formatBytes(summary.totalSize)}</legend>
            <label class="check">
              <input type="checkbox" checked={allChecked} onChange={() => setWanted(wanted.map(() => !allChecked))} />
              <span>All files</span>
            </label>
            <div class="file-choice-list">
              {summary.files.map((f) => (
                <label class="check" key={f.index}>
                  <input type="checkbox" data-testid="add-file-choice" data-index={String(f.index)} checked={wanted[f.index] ?? true}
                    onChange={(e) => { const next = wanted.slice(); next[f.index] = (e.currentTarget as HTMLInputElement).checked; setWanted(next); }} />
                  <span class="file-choice-name">{f.path}</span>
                  <span class="muted">{formatBytes(f.length)}</span>
                </label>
              ))}
            </div>
          </fieldset>
        ) : null}
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="add-submit" disabled={busy || (summary !== undefined && !wanted.some(Boolean))}>Add</button>
        </div>
      </form>
    </Modal>
  );
}

export interface RemoveDialogProps {
  torrents: ListTorrent[];
  onClose(): void;
  onConfirm(deleteData: boolean): void;
}

export function RemoveDialog({ torrents, onClose, onConfirm }: RemoveDialogProps): preact.JSX.Element {
  const [deleteData, setDeleteData] = useState(false);
  const one = torrents.length === 1 ? torrents[0] : undefined;
  return (
    <Modal testid="remove-dialog" title={one ? 'Remove torrent' : `Remove ${torrents.length} torrents`} onClose={onClose}>
      <form class="form" onSubmit={(e) => { e.preventDefault(); onConfirm(deleteData); }}>
        {one ? <p>Remove <strong>{one.name || one.hashString}</strong> from the list?</p>
          : <p data-testid="remove-count" data-count={String(torrents.length)}>Remove <strong>{torrents.length} torrents</strong> from the list?</p>}
        <label class="check">
          <input type="checkbox" data-testid="remove-delete-data" checked={deleteData}
            onChange={(e) => setDeleteData((e.currentTarget as HTMLInputElement).checked)} />
          <span>Also delete the downloaded data (only the files {one ? 'this torrent' : 'these torrents'} wrote)</span>
        </label>
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="danger" data-testid="remove-confirm">{deleteData ? 'Remove and delete data' : 'Remove'}</button>
        </div>
      </form>
    </Modal>
  );
}

export interface MoveDialogProps {
  torrents: ListTorrent[];
  report(err: unknown): void;
  onClose(): void;
  onConfirm(location: string, move: boolean): void;
}

/** Set the folder of the torrents' data: prefilled with the first torrent's downloadDir (asked of the daemon). */
export function MoveDialog({ torrents, report, onClose, onConfirm }: MoveDialogProps): preact.JSX.Element {
  const [path, setPath] = useState('');
  const [move, setMove] = useState(true);
  const first = torrents[0];
  useEffect(() => {
    if (!first) return;
    rpc.call('torrent-get', { ids: [first.id], fields: ['id', 'downloadDir'] })
      .then((r) => {
        const list = Array.isArray(r['torrents']) ? r['torrents'] as Array<Record<string, unknown>> : [];
        const dir = list[0]?.['downloadDir'];
        if (typeof dir === 'string') setPath((p) => (p === '' ? dir : p));
      })
      .catch(report);
  }, [first?.id, report]);
  const one = torrents.length === 1 ? first : undefined;
  return (
    <Modal testid="move-dialog" title={one ? 'Set location' : `Set location of ${torrents.length} torrents`} onClose={onClose}>
      <form class="form" onSubmit={(e) => { e.preventDefault(); if (path.trim() !== '') onConfirm(path.trim(), move); }}>
        <p>{one ? <>Where <strong>{one.name || one.hashString}</strong> keeps its data.</> : <>Where these {torrents.length} torrents keep their data.</>}</p>
        <label>
          <span>Folder (absolute path)</span>
          <input type="text" data-testid="move-path" value={path} onInput={(e) => setPath((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label class="check">
          <input type="checkbox" data-testid="move-data" checked={move} onChange={(e) => setMove((e.currentTarget as HTMLInputElement).checked)} />
          <span>Move the files there (unchecked: only look for them there)</span>
        </label>
        <div class="buttons">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" data-testid="move-confirm" disabled={path.trim() === ''}>{move ? 'Move' : 'Set location'}</button>
        </div>
      </form>
    </Modal>
  );
}

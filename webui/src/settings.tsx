/**
 * The settings dialog: download folder, peer port, global speed limits (kB/s, empty = unlimited), the download
 * queue, encryption and the DHT, read with session-get and saved with one session-set of what changed.
 */
import { useEffect, useState } from 'preact/hooks';
import { parseKBps } from './format.js';
import { rpc } from './rpc.js';
import { Modal } from './widgets.js';

const FIELDS = ['download-dir', 'peer-port', 'speed-limit-down', 'speed-limit-down-enabled', 'speed-limit-up', 'speed-limit-up-enabled',
  'download-queue-size', 'download-queue-enabled', 'encryption', 'dht-enabled', 'version'];

interface Form { dir: string; port: string; down: string; up: string; maxActive: string; encryption: string; dht: boolean }

export function SettingsDialog({ report, onClose }: { report(err: unknown): void; onClose(): void }): preact.JSX.Element {
  const [initial, setInitial] = useState<Form | undefined>(undefined);
  const [form, setForm] = useState<Form | undefined>(undefined);
  const [version, setVersion] = useState('');
  const [problem, setProblem] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    rpc.call('session-get', { fields: FIELDS }).then((s) => {
      const n = (k: string): number => (typeof s[k] === 'number' ? s[k] : 0);
      const f: Form = {
        dir: typeof s['download-dir'] === 'string' ? s['download-dir'] : '',
        port: String(n('peer-port')),
        down: s['speed-limit-down-enabled'] === true ? String(n('speed-limit-down')) : '',
        up: s['speed-limit-up-enabled'] === true ? String(n('speed-limit-up')) : '',
        maxActive: String(n('download-queue-size')),
        encryption: typeof s['encryption'] === 'string' ? s['encryption'] : 'preferred',
        dht: s['dht-enabled'] === true,
      };
      setInitial(f);
      setForm(f);
      setVersion(typeof s['version'] === 'string' ? s['version'] : '');
    }).catch((err: unknown) => { report(err); });
  }, [report]);

  const set = <K extends keyof Form>(k: K, v: Form[K]): void => setForm((f) => (f ? { ...f, [k]: v } : f));

  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    if (!form || !initial || busy) return;
    const args: Record<string, unknown> = {};
    if (form.dir !== initial.dir) args['download-dir'] = form.dir.trim();
    if (form.port !== initial.port) {
      if (!/^\d{1,5}$/.test(form.port.trim()) || Number(form.port) < 1 || Number(form.port) > 65535) { setProblem('The port is a number from 1 to 65535.'); return; }
      args['peer-port'] = Number(form.port);
    }
    for (const [key, value, before] of [['down', form.down, initial.down], ['up', form.up, initial.up]] as const) {
      if (value === before) continue;
      const v = parseKBps(value);
      if (v === undefined) { setProblem(`The ${key === 'down' ? 'download' : 'upload'} limit is a whole number of kB/s (empty = unlimited).`); return; }
      if (v === 'unlimited') args[`speed-limit-${key}-enabled`] = false;
      else { args[`speed-limit-${key}`] = v; args[`speed-limit-${key}-enabled`] = true; }
    }
    if (form.maxActive !== initial.maxActive) {
      if (!/^\d{1,6}$/.test(form.maxActive.trim())) { setProblem('Active downloads is a whole number (0 = no queue).'); return; }
      args['download-queue-size'] = Number(form.maxActive);
    }
    if (form.encryption !== initial.encryption) args['encryption'] = form.encryption;
    if (form.dht !== initial.dht) args['dht-enabled'] = form.dht;
    setProblem('');
    setBusy(true);
    try {
      if (Object.keys(args).length > 0) await rpc.call('session-set', args);
      onClose();
    } catch (err) {
      report(err);
      setBusy(false);
    }
  };

  return (
    <Modal testid="settings-dialog" title="Settings" onClose={onClose}>
      {!form ? <p>Loading…</p> : (
        <form class="form" onSubmit={(e) => void save(e)}>
          <label><span>Download folder</span>
            <input type="text" data-testid="setting-download-dir" value={form.dir} onInput={(e) => set('dir', (e.currentTarget as HTMLInputElement).value)} /></label>
          <label><span>Peer port</span>
            <input type="number" min={1} max={65535} data-testid="setting-port" value={form.port} onInput={(e) => set('port', (e.currentTarget as HTMLInputElement).value)} /></label>
          <label><span>Download limit (kB/s, empty = unlimited)</span>
            <input type="number" min={0} data-testid="setting-limit-down" value={form.down} onInput={(e) => set('down', (e.currentTarget as HTMLInputElement).value)} /></label>
          <label><span>Upload limit (kB/s, empty = unlimited)</span>
            <input type="number" min={0} data-testid="setting-limit-up" value={form.up} onInput={(e) => set('up', (e.currentTarget as HTMLInputElement).value)} /></label>
          <label><span>Active downloads at once (0 = no queue)</span>
            <input type="number" min={0} data-testid="setting-max-active" value={form.maxActive} onInput={(e) => set('maxActive', (e.currentTarget as HTMLInputElement).value)} /></label>
          <label><span>Encryption</span>
            <select data-testid="setting-encryption" value={form.encryption} onChange={(e) => set('encryption', (e.currentTarget as HTMLSelectElement).value)}>
              <option value="required">Required</option>
              <option value="preferred">Preferred</option>
              <option value="tolerated">Tolerated (off)</option>
            </select></label>
          <label class="check">
            <input type="checkbox" data-testid="setting-dht" checked={form.dht} onChange={(e) => set('dht', (e.currentTarget as HTMLInputElement).checked)} />
            <span>DHT (find peers without a tracker)</span></label>
          {problem !== '' ? <p class="form-error" role="alert">{problem}</p> : null}
          {version !== '' ? <p class="muted">Daemon {version}</p> : null}
          <div class="buttons">
            <button type="button" onClick={onClose}>Cancel</button>
            <button type="submit" class="primary" data-testid="settings-save" disabled={busy}>Save</button>
          </div>
        </form>
      )}
    </Modal>
  );
}

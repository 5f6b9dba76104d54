/**
 * `bitpeer daemon`: run the session in the foreground, as systemd likes it: logs on stdout (one line each), SIGINT
 * or SIGTERM is a clean stop (resume data saved, `stopped` announced), exit 0.
 */
import { resolve } from 'node:path';
import { startDaemon, torrentLabel } from '../../daemon/daemon.js';
import type { BitpeerApi } from '../../api/types.js';
import { parse, parseDhtOptions, parseEncryption, parsePort, parseRate } from '../args.js';
import { commandHelp } from '../help.js';
import { ioOptionsFromEnv } from '../io-env.js';
import { defaultStateDir } from '../default-state-dir.js';

export async function daemonCommand(argv: string[]): Promise<number> {
  const { values, help } = parse(argv, 'daemon');
  if (help) { process.stdout.write(commandHelp('daemon')); return 0; }
  const json = Boolean(values['json']);
  const verbose = Boolean(values['verbose']);
  const out = new LineBuffer();
  process.once('exit', () => out.flush()); // whatever ends the process, pending lines go out
  const log = (line: string): void => {
    if (line.startsWith('debug: ') && !verbose) return;
    out.write(json ? `${JSON.stringify({ event: 'log', message: line, time: Date.now() })}\n` : `${new Date().toISOString()} ${line}\n`);
  };
  const user = process.env['BITPEER_RPC_USER'];
  const password = process.env['BITPEER_RPC_PASSWORD'];
  const dht = parseDhtOptions(values);
  const stateDir = resolve(typeof values['state-dir'] === 'string' ? values['state-dir'] : defaultStateDir());
  const daemon = await startDaemon({
    stateDir, log,
    ...(values['port'] !== undefined ? { port: parsePort(values['port'] as string, 6881) } : {}),
    ...(typeof values['bind'] === 'string' ? { bind: values['bind'] } : {}),
    ...(values['rpc-port'] !== undefined ? { rpcPort: parsePort(values['rpc-port'] as string, 9091) } : {}),
    ...(typeof values['rpc-host'] === 'string' ? { rpcHost: values['rpc-host'] } : {}),
    ...(typeof values['download-dir'] === 'string' ? { downloadDir: resolve(values['download-dir']) } : {}),
    ...(values['no-lsd'] ? { lsd: false } : {}),
    ...(values['no-pex'] ? { pex: false } : {}),
    ...(values['no-utp'] ? { utp: false } : values['utp'] ? { utp: true } : {}),
    ...dht,
    ...(values['encryption'] !== undefined ? { encryption: parseEncryption(values['encryption'])! } : {}),
    ...(values['upload-limit'] !== undefined ? { uploadLimit: parseRate(values['upload-limit'], 'upload limit') } : {}),
    ...(values['download-limit'] !== undefined ? { downloadLimit: parseRate(values['download-limit'], 'download limit') } : {}),
    ...(user && password ? { rpcAuth: { user, password } } : {}),
    ...webHomeOption(values['web-home']),
    io: ioOptionsFromEnv(),
    onEvent: (e, api) => {
      if (json) { out.write(`${JSON.stringify({ ...e, time: Date.now() })}\n`); return; }
      if (e.event === 'state') log(`${labelOf(api, e.infoHash)} ${e.state}${e.reason ? `: ${e.reason}` : ''}`);
      else if (e.event === 'complete') log(`${labelOf(api, e.infoHash)} download complete`);
      else if (e.event === 'added') log(`added ${labelOf(api, e.infoHash)} (${e.infoHash})`);
      else if (e.event === 'metadata-received') log(`${labelOf(api, e.infoHash)} metadata received (${e.name})`);
      else if (e.event === 'error') log(`error: ${e.message}`);
      else if (e.event === 'dht') log(`DHT ${e.phase} (${e.nodes} node${e.nodes === 1 ? '' : 's'}, id ${e.id})`);
    },
  });
  await new Promise<void>((resolveSignal) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log(`${sig}: stopping`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      resolveSignal();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await daemon.close();
  log('stopped');
  out.flush();
  return 0;
}

/** --web-home DIR, else TRANSMISSION_WEB_HOME (as transmission-daemon reads it), resolved; none → bitpeer's UI. */
function webHomeOption(flag: unknown): { webHome?: string } {
  const dir = typeof flag === 'string' && flag !== '' ? flag : process.env['TRANSMISSION_WEB_HOME'];
  return dir !== undefined && dir !== '' ? { webHome: resolve(dir) } : {};
}

/** Log lines name a torrent `#id name`, as `bitpeer ls` shows it and `bitpeer pause ID` takes it. */
const labels = new Map<string, string>();
function labelOf(api: BitpeerApi, infoHash: string): string {
  const t = api.identify(infoHash);
  if (t && !t.metadataPending) {
    const label = torrentLabel(t);
    labels.set(infoHash, label);
    return label;
  }
  // A torrent removed a moment ago: its last known name, else the hash prefix (which `bitpeer pause` accepts too).
  return labels.get(infoHash) ?? infoHash.slice(0, 8);
}

/**
 * stdout lines gathered and written once per turn of the event loop: a thousand torrents starting print thousands
 * of lines, and a write to a pipe is a blocking system call each. Order is kept; `flush` writes what is pending now.
 */
class LineBuffer {
  private parts: string[] = [];
  private size = 0;
  private scheduled = false;

  write(line: string): void {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= 64 * 1024) { this.flush(); return; }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; this.flush(); });
    }
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    process.stdout.write(text);
  }
}

/**
 * `bitpeer get <magnet>`, first phase: fetch the torrent's metadata (BEP 9) and wait for peers as long as it takes
 * (the facade's `fetchMetadata`, src/api/types.ts), saying what happens: "fetching metadata…", then a line whenever the peers found or
 * a tracker's result change ("no peers yet; tracker http://…: connection refused; retry in 30 s"), and a hint once
 * when nothing was found for a while. `--json` gets the session's `metadata-fetching` / `metadata-received` events.
 *
 * Invariant: SIGINT/SIGTERM during the wait stop the fetch cleanly (no socket or timer left) and are reported to the
 * caller, which exits 130/143; the signal handlers are removed before this returns.
 */
import { parseMagnet } from '../metainfo/index.js';
import type { BitpeerApi, MetadataFetchHandle } from '../api/types.js';
import { BtError } from '../util/errors.js';
import type { Reporter } from './output.js';

/** Status lines are at most this often (a tracker answering 50 peers makes many changes at once). */
const STATUS_LINE_MS = 1000;

/** What a finished fetch gives: a .torrent of the verified metadata, and every peer known for the link. */
export type ResolvedMagnet = Awaited<MetadataFetchHandle['promise']>;
export type MagnetWaitResult = { resolved: ResolvedMagnet } | { signal: NodeJS.Signals };

export async function waitForMagnet(api: BitpeerApi, uri: string, opts: {
  peers: Array<{ host: string; port: number }>; reporter: Reporter;
  /** LSD is on (the hint says so). */
  lsd: boolean;
  /** After this long with no peer at all, a hint says what can be done (the same delay as `get`'s no-peer hint). */
  hintMs: number;
  /** The DHT's node count now (undefined: the DHT is off). */
  dhtNodes?: () => number | undefined;
}): Promise<MagnetWaitResult> {
  const { reporter } = opts;
  const controller = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) process.exit(sig === 'SIGINT' ? 130 : 143); // second signal: leave now
    signalled = sig;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const link = parseMagnet(uri);
  reporter.info(`fetching metadata… (info-hash ${link.infoHashHex}${link.name ? `, ${link.name}` : ''}); ` +
    'waiting for peers, Ctrl-C to stop', { infoHash: link.infoHashHex });
  // One line per change, at most one every STATUS_LINE_MS (the latest one is printed when the time comes).
  let lastLineAt = 0;
  let lastLine = '';
  let queued: string | undefined;
  let lineTimer: NodeJS.Timeout | undefined;
  const printLine = (status: string): void => {
    queued = undefined;
    if (status === lastLine) return;
    lastLine = status;
    lastLineAt = Date.now();
    reporter.info(`fetching metadata: ${status}`);
  };
  const unsubscribe = api.subscribe((e) => {
    if (reporter.json || e.event !== 'metadata-fetching' || e.infoHash !== link.infoHashHex) return;
    const wait = lastLineAt + STATUS_LINE_MS - Date.now();
    if (wait <= 0) { printLine(e.status); return; }
    queued = e.status;
    lineTimer ??= setTimeout(() => { lineTimer = undefined; if (queued !== undefined) printLine(queued); }, wait);
  });
  let fetch: MetadataFetchHandle;
  try {
    fetch = api.fetchMetadata(uri, {
      peers: opts.peers, signal: controller.signal, log: (m) => reporter.debug(m),
    });
  } catch (err) {
    unsubscribe();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    throw err;
  }
  const hint = setTimeout(() => {
    if (fetch.progress().peersKnown > 0) return;
    const dht = opts.dhtNodes?.();
    const asks = dht === undefined ? 'its trackers' : `its trackers and the DHT (${dht} node${dht === 1 ? '' : 's'} known${dht === 0 ? '; --dht-bootstrap HOST:PORT gives it one' : ''})`;
    reporter.info(`still no peer for this link after ${Math.round(opts.hintMs / 1000)} s: bitpeer keeps asking ${asks} and ` +
      `accepts ${opts.lsd ? 'LSD and ' : ''}incoming peers; if you know a peer that has it, pass --peer HOST:PORT`);
  }, opts.hintMs);
  hint.unref();
  try {
    const resolved = await fetch.promise;
    reporter.info(`metadata received: ${resolved.name ?? fetch.infoHash}`);
    return { resolved };
  } catch (err) {
    if (signalled && err instanceof BtError && err.code === 'ABORTED') {
      const s = fetch.progress();
      reporter.info(`stopped while fetching metadata (${s.peersKnown} peer(s) found, ${s.peersTried} tried); nothing was downloaded`);
      return { signal: signalled };
    }
    throw err;
  } finally {
    clearTimeout(hint);
    clearTimeout(lineTimer);
    unsubscribe();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

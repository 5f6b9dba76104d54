/**
 * Tracker tooling for the interop tests: a real opentracker (HTTP + UDP) in a throw-away folder, aria2c driven as a
 * loopback-only BitTorrent client, free-port picking, and a tiny tracker client (HTTP announce/scrape, BEP 15 UDP
 * announce) with which a test asks any tracker which peers it knows.
 *
 * Invariant: everything binds and dials 127.0.0.1 only; every network wait is bounded; processes are started through
 * a {@link Scope}, so its cleanup stops them by PID.
 * Traps handled here (measured on Debian 12):
 * - opentracker chroots into `-d DIR` and then drops to `-u nobody`, so DIR must be world-readable (mkdtemp makes it
 *   0700) and the whitelist path is relative to DIR; it answers "not authorized" for hashes not in the whitelist.
 * - aria2 1.36 speaks UDP trackers only through its DHT socket: with `--enable-dht=false` a udp:// tracker fails
 *   with "udp is not supported yet". {@link aria2Args} turns its DHT on only for that case, with no bootstrap node,
 *   a private routing-table file and every socket bound to 127.0.0.1, so it can reach nothing beyond loopback.
 * BEP: 3 (HTTP announce), 15 (UDP announce), 48 (scrape), 23 (compact peer lists).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { decode, getDict, getInt, getString, isBytes, isDict, isList, type BDict } from '../../src/bencode/index.js';
import type { Child, Scope } from './proc.js';

/** True when `command args...` can be spawned and exits 0 within 10 s (a tool-presence probe). */
export function commandWorks(command: string, args: readonly string[]): boolean {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

/** The aria2c binary when it runs, else null. */
export function findAria2(): string | null {
  return commandWorks('aria2c', ['--version']) ? 'aria2c' : null;
}

/** The opentracker binary when it is installed, else null (`opentracker -h` prints its usage and exits 0). */
export function findOpentracker(): string | null {
  return commandWorks('opentracker', ['-h']) ? 'opentracker' : null;
}

/** Sleeps `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A port number that is free on 127.0.0.1 for TCP and for UDP at the same time (bitpeer's embedded tracker and
 * opentracker serve both on one number). Another process can still take it before the caller binds it; the window is
 * short and the ports are picked by the kernel from the ephemeral range.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const sock = createSocket('udp4');
      sock.once('error', () => { sock.close(); resolve(false); });
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
    if (port > 0 && udpFree) return port;
  }
  throw new Error('freePort: no port free for both TCP and UDP on 127.0.0.1 after 20 tries');
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; rejects after `timeoutMs`. */
export async function waitForTcpPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      sock.setTimeout(1000);
      sock.once('connect', () => { sock.destroy(); resolve(true); });
      sock.once('timeout', () => { sock.destroy(); resolve(false); });
      sock.once('error', () => { sock.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await delay(100);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A minimal tracker client (test side).

/** What a tracker answered to an announce. `peers` are "ip:port" strings. */
export interface AnnounceAnswer {
  readonly failure?: string;
  readonly interval?: number;
  readonly peers: string[];
  readonly complete?: number;
  readonly incomplete?: number;
}

/** Parameters of a test-side announce. */
export interface AnnounceParams {
  /** 40 hex digits. */
  readonly infoHash: string;
  /** 20 bytes; default: "-TT0001-" and 12 random letters. */
  readonly peerId?: Buffer;
  /** The port announced; default 9 (discard), which nobody listens on. */
  readonly port?: number;
  readonly event?: 'started' | 'completed' | 'stopped' | '';
  readonly left?: number;
  readonly numwant?: number;
  readonly timeoutMs?: number;
}

/** A random 20-byte peer id with the given 8-byte Azureus-style prefix. */
export function testPeerId(prefix = '-TT0001-'): Buffer {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const tail = [...randomBytes(12)].map((b) => letters[b % letters.length]).join('');
  return Buffer.from(prefix + tail, 'latin1');
}

function percentEncode(bytes: Buffer): string {
  return [...bytes].map((b) => '%' + b.toString(16).padStart(2, '0').toUpperCase()).join('');
}

function compactPeers(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 6 <= bytes.length; i += 6) {
    out.push(`${bytes[i]}.${bytes[i + 1]}.${bytes[i + 2]}.${bytes[i + 3]}:${bytes.readUInt16BE(i + 4)}`);
  }
  return out;
}

function httpGetBody(url: string, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const req = httpGet(url, { timeout: timeoutMs, agent: false, headers: { Connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: HTTP ${String(res.statusCode)}`));
        else resolve(Buffer.concat(chunks));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function bdictOf(body: Buffer, what: string): BDict {
  const value = decode(body).value;
  if (!isDict(value)) throw new Error(`${what}: the answer is not a bencoded dictionary: ${body.toString('latin1').slice(0, 200)}`);
  return value;
}

/** HTTP announce (BEP 3, compact=1 as in BEP 23). Only for trackers on 127.0.0.1. */
export async function httpAnnounce(url: string, p: AnnounceParams): Promise<AnnounceAnswer> {
  assertLoopbackUrl(url);
  const peerId = p.peerId ?? testPeerId();
  const query = [
    `info_hash=${percentEncode(Buffer.from(p.infoHash, 'hex'))}`,
    `peer_id=${percentEncode(peerId)}`,
    `port=${p.port ?? 9}`, 'uploaded=0', 'downloaded=0', `left=${p.left ?? 0}`, 'compact=1',
    `numwant=${p.numwant ?? 50}`,
    ...(p.event !== undefined && p.event !== '' ? [`event=${p.event}`] : []),
  ].join('&');
  const body = await httpGetBody(`${url}${url.includes('?') ? '&' : '?'}${query}`, p.timeoutMs ?? 5000);
  const d = bdictOf(body, `announce to ${url}`);
  const failure = getString(d, 'failure reason');
  if (failure !== undefined) return { failure, peers: [] };
  const raw = d.get('peers');
  let peers: string[] = [];
  if (isBytes(raw)) peers = compactPeers(raw);
  else if (isList(raw)) {
    peers = raw.filter(isDict).map((e) => `${getString(e, 'ip') ?? '?'}:${getInt(e, 'port') ?? 0}`);
  }
  return { interval: getInt(d, 'interval'), peers, complete: getInt(d, 'complete'), incomplete: getInt(d, 'incomplete') };
}

/** HTTP scrape (BEP 48) of one torrent: its counters, or null when the tracker does not list it. */
export async function httpScrape(announceUrl: string, infoHash: string, timeoutMs = 5000):
Promise<{ complete: number; incomplete: number; downloaded: number } | null> {
  assertLoopbackUrl(announceUrl);
  const url = announceUrl.replace(/\/announce(?=[^/]*$)/, '/scrape');
  const body = await httpGetBody(`${url}?info_hash=${percentEncode(Buffer.from(infoHash, 'hex'))}`, timeoutMs);
  const files = getDict(bdictOf(body, `scrape ${url}`), 'files');
  const entry = files?.get(Buffer.from(infoHash, 'hex').toString('latin1'));
  if (entry === undefined || !isDict(entry)) return null;
  return { complete: getInt(entry, 'complete') ?? 0, incomplete: getInt(entry, 'incomplete') ?? 0,
    downloaded: getInt(entry, 'downloaded') ?? 0 };
}

const UDP_PROTOCOL_ID = 0x41727101980n;
const UDP_EVENTS = { '': 0, completed: 1, started: 2, stopped: 3 } as const;

/** UDP announce (BEP 15): connect, then announce; two tries of `timeoutMs / 2` each. Only for 127.0.0.1. */
export async function udpAnnounce(url: string, p: AnnounceParams): Promise<AnnounceAnswer> {
  assertLoopbackUrl(url);
  const u = new URL(url);
  const port = Number(u.port);
  const timeoutMs = p.timeoutMs ?? 5000;
  const sock = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  try {
    const exchange = async (req: Buffer, txid: number): Promise<Buffer> => {
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = await new Promise<Buffer | null>((resolve) => {
          const timer = setTimeout(() => { sock.off('message', onMessage); resolve(null); }, timeoutMs / 2);
          const onMessage = (msg: Buffer): void => {
            if (msg.length >= 8 && msg.readUInt32BE(4) === txid) {
              clearTimeout(timer);
              sock.off('message', onMessage);
              resolve(msg);
            }
          };
          sock.on('message', onMessage);
          sock.send(req, port, '127.0.0.1');
        });
        if (answer !== null) return answer;
      }
      throw new Error(`UDP tracker ${url}: no answer within ${timeoutMs} ms`);
    };
    const errorText = (msg: Buffer): string | null =>
      msg.readUInt32BE(0) === 3 ? msg.subarray(8).toString('utf8') : null;

    let txid = randomBytes(4).readUInt32BE(0);
    const connectReq = Buffer.alloc(16);
    connectReq.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
    connectReq.writeUInt32BE(0, 8);
    connectReq.writeUInt32BE(txid, 12);
    const connectRes = await exchange(connectReq, txid);
    const connectErr = errorText(connectRes);
    if (connectErr !== null) return { failure: connectErr, peers: [] };
    if (connectRes.length < 16 || connectRes.readUInt32BE(0) !== 0) throw new Error(`UDP tracker ${url}: bad connect answer`);
    const connectionId = connectRes.subarray(8, 16);

    txid = (txid + 1) >>> 0;
    const req = Buffer.alloc(98);
    connectionId.copy(req, 0);
    req.writeUInt32BE(1, 8);
    req.writeUInt32BE(txid, 12);
    Buffer.from(p.infoHash, 'hex').copy(req, 16);
    (p.peerId ?? testPeerId()).copy(req, 36);
    req.writeBigUInt64BE(0n, 56); // downloaded
    req.writeBigUInt64BE(BigInt(p.left ?? 0), 64);
    req.writeBigUInt64BE(0n, 72); // uploaded
    req.writeUInt32BE(UDP_EVENTS[p.event ?? ''], 80);
    req.writeUInt32BE(0, 84); // ip: the sender's
    req.writeUInt32BE(randomBytes(4).readUInt32BE(0), 88); // key
    req.writeInt32BE(p.numwant ?? 50, 92);
    req.writeUInt16BE(p.port ?? 9, 96);
    const res = await exchange(req, txid);
    const err = errorText(res);
    if (err !== null) return { failure: err, peers: [] };
    if (res.length < 20 || res.readUInt32BE(0) !== 1) throw new Error(`UDP tracker ${url}: bad announce answer`);
    return { interval: res.readUInt32BE(8), incomplete: res.readUInt32BE(12), complete: res.readUInt32BE(16),
      peers: compactPeers(res.subarray(20)) };
  } finally {
    sock.close();
  }
}

/** Announces over HTTP or UDP, by the URL's scheme. */
export function announce(url: string, p: AnnounceParams): Promise<AnnounceAnswer> {
  return url.startsWith('udp:') ? udpAnnounce(url, p) : httpAnnounce(url, p);
}

/**
 * Which peers `url` lists for `infoHash`, without leaving a trace: announces "started" from a throw-away peer id on
 * port 9, then "stopped". The list returned may include that throw-away peer (127.0.0.1:9); callers look for the
 * addresses they expect.
 */
export async function trackerPeers(url: string, infoHash: string): Promise<AnnounceAnswer> {
  const peerId = testPeerId();
  const answer = await announce(url, { infoHash, peerId, event: 'started', left: 1, numwant: 200 });
  await announce(url, { infoHash, peerId, event: 'stopped', left: 1, numwant: 0 }).catch(() => undefined);
  return answer;
}

function assertLoopbackUrl(url: string): void {
  const host = new URL(url).hostname;
  if (host !== '127.0.0.1') throw new Error(`test tracker client: refusing a non-loopback tracker URL ${url}`);
}

// ---------------------------------------------------------------------------------------------------------------
// opentracker

/** A running opentracker. */
export interface Opentracker {
  readonly child: Child;
  readonly port: number;
  readonly httpUrl: string;
  readonly udpUrl: string;
}

/**
 * Starts opentracker on 127.0.0.1 (HTTP on TCP `port`, UDP on the same number) in a fresh folder, with `infoHashes`
 * whitelisted, and waits until it answers an announce for the first hash (so the whitelist is loaded); the probe's
 * throw-away peer is removed again with a "stopped" announce. `opts.port`: a port from {@link freePort}, for a caller
 * that needs the URL before it knows the info-hash (a torrent's announce URL is outside its info dict).
 */
export async function startOpentracker(scope: Scope, infoHashes: readonly string[],
  opts: { port?: number; timeoutMs?: number } = {}): Promise<Opentracker> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const dir = await scope.tempDir('bitpeer-opentracker-');
  // It chroots into dir and then runs as nobody: both the folder and the list must be readable by nobody.
  await chmod(dir, 0o755);
  const list = join(dir, 'whitelist.txt');
  await writeFile(list, infoHashes.map((h) => h.toLowerCase() + '\n').join(''));
  await chmod(list, 0o644);
  const port = opts.port ?? await freePort();
  const child = scope.spawn('opentracker',
    ['-i', '127.0.0.1', '-p', String(port), '-P', String(port), '-d', dir, '-w', 'whitelist.txt', '-u', 'nobody'],
    { name: 'opentracker' });
  const httpUrl = `http://127.0.0.1:${port}/announce`;
  const udpUrl = `udp://127.0.0.1:${port}/announce`;
  const deadline = Date.now() + timeoutMs;
  await waitForTcpPort(port, timeoutMs);
  const first = infoHashes[0];
  if (first !== undefined) {
    for (;;) {
      const peerId = testPeerId('-TTprobe');
      const answer = await httpAnnounce(httpUrl, { infoHash: first, peerId, event: 'started', numwant: 0 })
        .catch((err: unknown) => ({ failure: String(err), peers: [] }));
      if (answer.failure === undefined) {
        await httpAnnounce(httpUrl, { infoHash: first, peerId, event: 'stopped', numwant: 0 }).catch(() => undefined);
        break;
      }
      if (Date.now() > deadline || child.exitInfo !== null) {
        throw new Error(`opentracker on port ${port} does not accept ${first}: ${answer.failure}\n${child.describe()}`);
      }
      await delay(200);
    }
  }
  return { child, port, httpUrl, udpUrl };
}

// ---------------------------------------------------------------------------------------------------------------
// aria2

/** Options for {@link aria2Args}. */
export interface Aria2Options {
  readonly torrent: string;
  /** Download folder (`--dir`). */
  readonly dir: string;
  /** The only tracker aria2 announces to (the torrent's own are excluded). */
  readonly tracker: string;
  /** TCP listen port on 127.0.0.1. */
  readonly listenPort: number;
  /** Log file (info level); parse it with {@link aria2LogPeers}. */
  readonly logFile: string;
  /** Needed for a udp:// tracker (see the header): a UDP port for its DHT socket, and a file for its routing table. */
  readonly udp?: { readonly dhtPort: number; readonly dhtFile: string };
  /** Seconds without download progress after which aria2 gives up (exit non-zero); default 45. */
  readonly stopTimeoutSeconds?: number;
}

/** Command-line arguments for a loopback-only aria2c download that exits when complete (`--seed-time=0`). */
export function aria2Args(o: Aria2Options): string[] {
  const args = [
    '--no-conf=true',
    '--interface=127.0.0.1', '--disable-ipv6=true',
    '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
    '--seed-time=0', '--seed-ratio=0.0',
    `--bt-tracker=${o.tracker}`, '--bt-exclude-tracker=*',
    '--bt-tracker-connect-timeout=10', '--bt-tracker-timeout=10',
    `--bt-stop-timeout=${o.stopTimeoutSeconds ?? 45}`,
    `--listen-port=${o.listenPort}`,
    `--dir=${o.dir}`,
    `--log=${o.logFile}`, '--log-level=info',
    '--console-log-level=warn', '--summary-interval=0', '--show-console-readout=false',
    '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false',
    '--bt-save-metadata=false',
  ];
  if (o.udp !== undefined) {
    args.push('--enable-dht=true', `--dht-listen-port=${o.udp.dhtPort}`, `--dht-file-path=${o.udp.dhtFile}`);
  } else {
    args.push('--enable-dht=false');
  }
  args.push(o.torrent);
  return args;
}

/** What aria2's info log says about peers: addresses it dialled, and handshakes it completed (peer id prefix). */
export interface Aria2Peers {
  /** "ip:port" addresses aria2 tried to connect to (with DHT, PEX and LPD off these came from the tracker). */
  readonly dialled: ReadonlySet<string>;
  /** Completed handshakes: the address and the first 8 bytes of the peer id (e.g. "-LT2080-", "-bp0100-"). */
  readonly handshakes: ReadonlyArray<{ readonly peer: string; readonly peerIdPrefix: string }>;
  /** UDP tracker announce replies ("num_peers=N") and HTTP tracker responses seen, for diagnostics. */
  readonly trackerLines: readonly string[];
}

/** Parses an aria2 info-level log file (an unreadable file gives empty results). */
export async function aria2LogPeers(logFile: string): Promise<Aria2Peers> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const dialled = new Set<string>();
  const handshakes: Array<{ peer: string; peerIdPrefix: string }> = [];
  const trackerLines: string[] = [];
  for (const line of text.split('\n')) {
    const dial = /Connecting to (\d+\.\d+\.\d+\.\d+:\d+)/.exec(line);
    if (dial?.[1] !== undefined) dialled.add(dial[1]);
    const hs = /From: (\d+\.\d+\.\d+\.\d+:\d+) handshake peerId=(\S+)/.exec(line);
    if (hs?.[1] !== undefined && hs[2] !== undefined) {
      let id: string;
      try {
        id = Buffer.from(decodeURIComponent(hs[2]), 'latin1').toString('latin1');
      } catch {
        id = hs[2];
      }
      handshakes.push({ peer: hs[1], peerIdPrefix: id.slice(0, 8) });
    }
    if (/UDPT received ANNOUNCE|Tracker|tracker/.test(line) && trackerLines.length < 50) trackerLines.push(line.trim());
  }
  return { dialled, handshakes, trackerLines };
}

/** The last `maxChars` of aria2's log, for failure messages. */
export async function aria2LogTail(logFile: string, maxChars = 4000): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '(no log)');
  return text.slice(-maxChars);
}

// ---------------------------------------------------------------------------------------------------------------
// Client names as the other side reports them

/** A bitpeer `client` string (a peer-id prefix such as "LT2080", or a user agent) that names libtorrent. */
export function isLibtorrentClient(client: unknown): boolean {
  return typeof client === 'string' && (/^-?LT/i.test(client) || /libtorrent|lt_peer/i.test(client));
}

/** A bitpeer `client` string that names aria2: its peer id starts "A2-" (hex 41322d), its user agent "aria2/". */
export function isAria2Client(client: unknown): boolean {
  return typeof client === 'string' && (/^A2-/i.test(client) || /^41322d/i.test(client) || /aria2/i.test(client) ||
    // libtorrent names a peer by its peer id until the extension handshake names it: aria2's Mainline-style id
    // `A2-1-36-0-` reads as "ABC 2.1.36". A connection that ends before the extension handshake (aria2 already done,
    // "upload to upload connection") is only ever seen under that name.
    /^ABC 2\.\d+\.\d+/.test(client));
}

/** A libtorrent-driver event (test/helpers/lt_peer.py) showing that aria2 connected to that peer: its peer list, or
 *  a disconnect whose reason names the client (a connection too short for the 100 ms peer-list scan). */
export function ltEventShowsAria2(e: { event: string; client?: unknown; reason?: unknown }): boolean {
  if (e.event === 'peer-info') return isAria2Client(e.client);
  if (e.event === 'peer-disconnect' && typeof e.reason === 'string') {
    const m = /client: ([^\]]+?) \]/.exec(e.reason);
    return m !== null && isAria2Client(m[1]);
  }
  return false;
}


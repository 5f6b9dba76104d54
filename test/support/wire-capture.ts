/**
 * Wire capture harness (issue 11, item 1): records the bytes real BitTorrent clients send in the first seconds of a
 * connection, for the replay fixtures in test/fixtures/wire/ (read by src/session/wire-fixtures.test.ts).
 *
 * For each installed client (aria2c, transmission-cli, libtorrent through test/helpers/lt_peer.py, rtorrent) and each
 * scenario, it starts the client on 127.0.0.1 with a small deterministic torrent, dials it, sends a plaintext
 * handshake (extension and fast bits set) and, once the client's handshake is in, our opening as the other side of the scenario, and records
 * every byte the client sends for CAPTURE_MS, 14 s for Transmission (as a seed it serves the first SERVE_BLOCKS blocks the client requests,
 * so the capture shows what the client says once it has data: aria2 then re-sends its whole bitfield):
 * - `leecher`: the client has nothing; we are a seed (bitfield of every piece, extension handshake, unchoke);
 * - `partial`: the client has the first half of the pieces (checked from disk); we are a seed, as above;
 * - `seed`:    the client has everything; we are a leecher (have-none, extension handshake, interested).
 * It writes `<client>-<scenario>.bin` (the raw bytes, the client's handshake first) and `<client>-<scenario>.json`
 * (client, version, scenario, torrent, what we sent, the expected outcome of a replay).
 *
 * Invariant: every client listens on and talks to 127.0.0.1 only (DHT, LSD, PEX, UPnP, uTP off), every wait is
 * bounded, and every process and temp folder it starts is gone when it ends.
 * Usage: `node dist/test/support/wire-capture.js OUT_DIR [client...]` (run inside `unshare -n` if you like).
 * BEP: 3, 6, 10 (what the opening sends).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeHandshake, makeReserved, ReservedBit } from '../../src/wire/codec/handshake.js';
import { MessageDecoder } from '../../src/wire/codec/decoder.js';
import { encodeMessage, type Message } from '../../src/wire/codec/messages.js';
import { encodeExtendedHandshake } from '../../src/wire/ext/extended.js';
import { CAPTURE_LENGTH, CAPTURE_NAME, CAPTURE_PIECE_LENGTH, CAPTURE_PIECES, captureTorrent, PARTIAL_PIECES } from './wire-capture-torrent.js';
import { Scope, type Child } from '../helpers/proc.js';
import { findLibtorrentPython, libtorrentVersion } from '../helpers/python.js';
import { delay, freePort } from '../helpers/trackers.js';

const CAPTURE_MS = 6000;
/** Transmission waits about 10 s before it says interested: record it longer. */
const CAPTURE_MS_BY_CLIENT: Record<string, number> = { transmission: 14_000 };
/** Our peer id in the captures ("-bp0000-" and a fixed tail). */
const OUR_PEER_ID = Buffer.from('-bp0000-wirecapture1', 'latin1');

export type Scenario = 'leecher' | 'partial' | 'seed';

interface ClientRun { child: Child; port: number; version: string }

type ClientStarter = (scope: Scope, dir: string, torrentPath: string, scenario: Scenario) => Promise<ClientRun>;

function versionOf(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  const m = re.exec(`${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  return m?.[1] ?? 'unknown';
}

async function writeContent(dir: string, scenario: Scenario, data: Buffer): Promise<void> {
  if (scenario === 'leecher') return;
  const content = Buffer.from(data);
  if (scenario === 'partial') content.fill(0, PARTIAL_PIECES * CAPTURE_PIECE_LENGTH);
  await writeFile(join(dir, CAPTURE_NAME), content);
}

const aria2: ClientStarter = async (scope, dir, torrentPath, scenario) => {
  const port = await freePort();
  const child = scope.spawn('aria2c', [
    '--no-conf=true', '--interface=127.0.0.1', '--disable-ipv6=true', '--enable-dht=false', '--enable-dht6=false',
    '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--check-integrity=true', '--seed-ratio=0.0',
    '--seed-time=10', `--listen-port=${port}`, `--dir=${dir}`, '--console-log-level=warn', '--summary-interval=0',
    '--file-allocation=none', '--allow-overwrite=true', '--auto-file-renaming=false', '--bt-save-metadata=false',
    '--bt-stop-timeout=60', ...(process.env.CAPTURE_LOG ? [`--log=${process.env.CAPTURE_LOG}-${scenario}.log`, '--log-level=debug'] : []), torrentPath,
  ], { name: 'aria2c' });
  return { child, port, version: versionOf('aria2c', ['--version'], /aria2 version (\S+)/) };
};

const transmission: ClientStarter = async (scope, dir, torrentPath) => {
  const port = await freePort();
  const cfg = join(dir, 'cfg');
  await mkdir(cfg, { recursive: true });
  await writeFile(join(cfg, 'settings.json'), JSON.stringify({
    'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false,
    'port-forwarding-enabled': false, 'bind-address-ipv4': '127.0.0.1', 'bind-address-ipv6': '::1',
    'encryption': 1, 'peer-port': port,
  }));
  const child = scope.spawn('transmission-cli', ['-g', cfg, '-p', String(port), '-w', dir, torrentPath], { name: 'transmission-cli' });
  return { child, port, version: versionOf('transmission-cli', ['--version'], /transmission-cli (\S+)/i) };
};

const libtorrent: ClientStarter = async (scope, dir, torrentPath, scenario) => {
  const python = findLibtorrentPython();
  if (python === null) throw new Error('no libtorrent bindings');
  const port = await freePort();
  const child = scope.ltPeer(python, ['--mode', scenario === 'seed' ? 'seed' : 'download', '--torrent', torrentPath,
    '--save', dir, '--port', String(port), '--timeout', '60']);
  return { child, port, version: libtorrentVersion(python) ?? 'unknown' };
};

const rtorrent: ClientStarter = async (scope, dir, capturePath) => {
  const port = await freePort();
  // rtorrent answers "unknown download" for a torrent without a tracker: give it one on a loopback port nobody
  // listens on (outside the info dict, so the info-hash is unchanged; `announce` sorts first).
  const url = 'http://127.0.0.1:9/announce';
  const torrentPath = join(dir, 'rtorrent.torrent');
  await writeFile(torrentPath, Buffer.concat([Buffer.from(`d8:announce${url.length}:${url}`), (await readFile(capturePath)).subarray(1)]));
  const session = join(dir, 'session');
  await mkdir(session, { recursive: true });
  const rc = join(dir, 'rc');
  await writeFile(rc, [
    `directory.default.set = ${dir}`, `session.path.set = ${session}`, `network.port_range.set = ${port}-${port}`,
    'network.port_random.set = no', 'network.bind_address.set = 127.0.0.1', 'dht.mode.set = disable',
    'protocol.pex.set = no', 'trackers.use_udp.set = no', 'system.daemon.set = true', `load.start = ${torrentPath}`, '',
  ].join('\n'));
  const child = scope.spawn('rtorrent', ['-n', '-o', `import=${rc}`], { name: 'rtorrent', cwd: dir });
  return { child, port, version: versionOf('rtorrent', ['-h'], /version (\d[\d.]*)/) };
};

export const CLIENTS: Record<string, ClientStarter> = { aria2, transmission, libtorrent, rtorrent };

/**
 * Our opening, after our handshake, as the other side of `scenario`: have-all / have-none when the client set the
 * fast bit (BEP 6), else a full bitfield / nothing (rtorrent has no fast extension).
 */
function ourOpening(scenario: Scenario, fast: boolean): Buffer[] {
  const ext = encodeMessage({ type: 'extended', id: 0, payload: encodeExtendedHandshake({ m: { ut_pex: 1 }, v: 'bitpeer capture', reqq: 250 }) });
  if (scenario === 'seed') return [...(fast ? [encodeMessage({ type: 'haveNone' })] : []), ext, encodeMessage({ type: 'interested' })];
  const all = fast ? encodeMessage({ type: 'haveAll' })
    : encodeMessage({ type: 'bitfield', bitfield: Buffer.from([0xff]) }); // CAPTURE_PIECES = 8
  return [all, ext, encodeMessage({ type: 'unchoke' })];
}

/** As a seed we serve this many blocks (two pieces), so the capture shows what the client says once it has data. */
const SERVE_BLOCKS = 4;

async function capture(port: number, infoHash: Buffer, scenario: Scenario, data: Buffer, deadlineMs: number, recordMs: number): Promise<Buffer> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const got = await new Promise<Buffer | null>((resolve) => {
      const chunks: Buffer[] = [];
      const s: Socket = connect({ host: '127.0.0.1', port });
      let opened = false;
      const finish = (): void => { clearTimeout(timer); s.destroy(); resolve(opened && chunks.length > 0 ? Buffer.concat(chunks) : null); };
      const timer = setTimeout(finish, recordMs);
      s.on('connect', () => {
        opened = true;
        s.write(encodeHandshake({ reserved: makeReserved([ReservedBit.EXTENSION_PROTOCOL, ReservedBit.FAST]), infoHash, peerId: OUR_PEER_ID }));
      });
      let got = 0;
      let served = 0;
      const decoder = new MessageDecoder(null);
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        // The opening goes out once the client's handshake is in: aria2 drops a peer that sends more than a
        // handshake before its own handshake reply.
        if (got < 68 && got + c.length >= 68) {
          const hs = Buffer.concat(chunks).subarray(0, 68);
          for (const b of ourOpening(scenario, (hs[27]! & 0x04) !== 0)) s.write(b);
          decoder.push(c.subarray(68 - got));
        } else if (got >= 68) decoder.push(c);
        got += c.length;
        if (scenario === 'seed') return;
        try {
          for (let m: Message | null; (m = decoder.next()) !== null;) {
            if (m.type !== 'request' || served >= SERVE_BLOCKS) continue;
            served++;
            const off = m.index * CAPTURE_PIECE_LENGTH + m.begin;
            s.write(encodeMessage({ type: 'piece', index: m.index, begin: m.begin, block: data.subarray(off, off + m.length) }));
          }
        } catch { /* the recording goes on; the replay test decodes it again */ }
      });
      s.on('error', () => undefined);
      s.on('close', finish);
    });
    if (got !== null && got.length >= 68) return got;
    if (Date.now() > until) throw new Error(`no handshake from 127.0.0.1:${port} within ${deadlineMs} ms`);
    await delay(500);
  }
}

/**
 * What the client said, in order, and the outcome a replay must show: the connection kept, the pieces the client
 * announced, and whether it ended interested. Decoded without the geometry, so nothing here depends on the rules
 * under audit.
 */
function summarize(bytes: Buffer): { messages: string[]; expect: { kept: true; peerPieces: number; peerInterested: boolean } } {
  const d = new MessageDecoder(null);
  d.push(bytes.subarray(68));
  const messages: string[] = [];
  const has = new Set<number>();
  let interested = false;
  for (let m: Message | null; (m = d.next()) !== null;) {
    messages.push(describe(m));
    if (m.type === 'interested') interested = true;
    if (m.type === 'notInterested') interested = false;
    if (m.type === 'haveAll') for (let i = 0; i < CAPTURE_PIECES; i++) has.add(i);
    if (m.type === 'haveNone') has.clear();
    if (m.type === 'have') has.add(m.index);
    if (m.type === 'bitfield') {
      has.clear();
      for (let i = 0; i < CAPTURE_PIECES; i++) if ((m.bitfield[i >> 3]! & (0x80 >> (i & 7))) !== 0) has.add(i);
    }
  }
  if (d.buffered > 0) messages.push(`(${d.buffered} bytes of a message cut off by the end of the capture)`);
  return { messages, expect: { kept: true, peerPieces: has.size, peerInterested: interested } };
}

function describe(m: Message): string {
  switch (m.type) {
    case 'extended': return `extended id ${m.id}, ${m.payload.length} bytes${m.id === 0 ? ' (handshake)' : ''}`;
    case 'bitfield': return `bitfield ${m.bitfield.toString('hex')}`;
    case 'have': case 'suggest': case 'allowedFast': return `${m.type} ${m.index}`;
    case 'request': case 'cancel': case 'reject': return `${m.type} ${m.index}:${m.begin}+${m.length}`;
    case 'piece': return `piece ${m.index}:${m.begin}+${m.block.length}`;
    case 'port': return `port ${m.port}`;
    case 'unknown': return `unknown id ${m.id}, length ${m.length}`;
    default: return m.type;
  }
}

async function main(): Promise<void> {
  const [outDir, ...names] = process.argv.slice(2);
  if (outDir === undefined) throw new Error('usage: wire-capture.js OUT_DIR [client...]');
  await mkdir(outDir, { recursive: true });
  const { data, torrent, meta } = captureTorrent();
  const scenarios: Scenario[] = ['leecher', 'partial', 'seed'];
  for (const name of names.length > 0 ? names : Object.keys(CLIENTS)) {
    const start = CLIENTS[name];
    if (!start) throw new Error(`unknown client ${name}`);
    for (const scenario of scenarios) {
      const scope = new Scope();
      try {
        const dir = await scope.tempDir('bitpeer-capture-');
        const torrentPath = join(dir, 'capture.torrent');
        await writeFile(torrentPath, torrent);
        await writeContent(dir, scenario, data);
        const run = await start(scope, dir, torrentPath, scenario);
        await delay(Number(process.env.CAPTURE_DELAY_MS ?? 3000)); // the start-up check of the data on disk
        const bytes = await capture(run.port, meta.infoHash, scenario, data, 30_000, CAPTURE_MS_BY_CLIENT[name] ?? CAPTURE_MS);
        const base = `${name}-${scenario}`;
        await writeFile(join(outDir, `${base}.bin`), bytes);
        await writeFile(join(outDir, `${base}.json`), `${JSON.stringify({
          client: name, version: run.version, scenario,
          captured: new Date().toISOString().slice(0, 10),
          torrent: { name: CAPTURE_NAME, pieceLength: CAPTURE_PIECE_LENGTH, pieces: CAPTURE_PIECES, length: CAPTURE_LENGTH, infoHash: meta.infoHashHex },
          weSent: scenario === 'seed' ? 'handshake, have-none (if the client is fast), extension handshake, interested'
            : `handshake, have-all (a full bitfield if the client is not fast), extension handshake, unchoke; the first ${SERVE_BLOCKS} blocks requested`,
          clientHas: scenario === 'seed' ? CAPTURE_PIECES : scenario === 'partial' ? PARTIAL_PIECES : 0,
          ...summarize(bytes),
        }, null, 2)}\n`);
        console.log(`captured ${base}: ${bytes.length} bytes`);
      } catch (e) {
        console.log(`skipped ${name}-${scenario}: ${(e as Error).message}\n${scope.describe()}`);
      } finally {
        await scope.cleanup();
      }
    }
  }
}

if (process.argv[1]?.endsWith('wire-capture.js')) {
  main().catch((e: unknown) => { console.error(`wire-capture: ${(e as Error).message}`); process.exit(1); });
}

#!/usr/bin/env node
// Load generator for benchmark case B4b (scripts/bench/connections.js): many BitTorrent peers in one process, all
// connected to one seed on loopback, each asking for random blocks as fast as the seed lets it.
//
//   node scripts/bench/peer-load.js --port P --info-hash HEX --size BYTES --piece-length BYTES
//        [--host 127.0.0.1] [--connections 500] [--duration 20] [--ramp-ms 2000] [--min-queue 4] [--max-queue 16]
//        [--keepalive-ms 10000] [--stall-ms 10000] [--idle-ms 0] [--linger-ms 0] [--fast]
//
// What each connection does: TCP connect (the openings are spread evenly over --ramp-ms), BEP 3 handshake with its
// own peer id (reserved bits all zero, or the fast-extension bit with --fast), `interested` (with --idle-ms, only
// after every connection has been opened and then left idle that long: `load-connected` reports that moment, so the
// caller can weigh idle connections alone), then, whenever the seed
// unchokes it, keeps between --min-queue and --max-queue (its own number, chosen at random) requests outstanding for
// random 16 KiB blocks of random pieces. Choked connections stay open and wait (a keep-alive every --keepalive-ms of
// our silence). Nothing is verified: the payload is skipped without copying, only counted.
// Output, one JSON object per line on stdout: `load-start` (first connection opened), `load-opened`,
// `load-connected` (with --idle-ms), `load-busy` (interest sent), `load-progress` once a second, then, --duration
// seconds after `load-busy`, `load-result` with the totals: connections opened, handshakes completed, still open at the end, closed by the
// remote (with reasons), errors, payload MB, blocks (requests served) per second, and how many connections were ever
// unchoked / served. With --linger-ms the connections stay open that long after `load-result` (so the caller can
// measure the seed with every connection still up), then the process closes them and exits 0.
//
// Invariant: an independent client: the wire messages are written and parsed here (no bitpeer code is imported);
// every length is checked before it is trusted (a bad one closes that connection and counts as an error); traffic
// goes to loopback only (--host must be 127.0.0.1 or ::1).
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { performance } from 'node:perf_hooks';

// ------------------------------------------------------------------------------------------------------ options
function usage(message) {
  process.stderr.write(`peer-load: ${message}\nusage: node scripts/bench/peer-load.js --port P --info-hash HEX ` +
    '--size BYTES --piece-length BYTES [--connections 500] [--duration 20] [--ramp-ms 2000] [--min-queue 4] ' +
    '[--max-queue 16] [--keepalive-ms 10000] [--stall-ms 10000] [--idle-ms 0] [--linger-ms 0] [--fast] [--host 127.0.0.1]\n');
  process.exit(2);
}

function parseOptions(argv) {
  const o = { host: '127.0.0.1', port: 0, infoHash: null, size: 0, pieceLength: 0, connections: 500, duration: 20,
    rampMs: 2000, minQueue: 4, maxQueue: 16, keepaliveMs: 10_000, stallMs: 10_000, idleMs: 0, lingerMs: 0, fast: false };
  const num = (name, v, min) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) usage(`bad ${name}: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    switch (a) {
      case '--host': o.host = v(); break;
      case '--port': o.port = num(a, v(), 1); break;
      case '--info-hash': o.infoHash = v(); break;
      case '--size': o.size = num(a, v(), 1); break;
      case '--piece-length': o.pieceLength = num(a, v(), 16384); break;
      case '--connections': o.connections = Math.floor(num(a, v(), 1)); break;
      case '--duration': o.duration = num(a, v(), 0.5); break;
      case '--ramp-ms': o.rampMs = num(a, v(), 0); break;
      case '--min-queue': o.minQueue = Math.floor(num(a, v(), 1)); break;
      case '--max-queue': o.maxQueue = Math.floor(num(a, v(), 1)); break;
      case '--keepalive-ms': o.keepaliveMs = num(a, v(), 1000); break;
      case '--stall-ms': o.stallMs = num(a, v(), 1000); break;
      case '--linger-ms': o.lingerMs = num(a, v(), 0); break;
      case '--idle-ms': o.idleMs = num(a, v(), 0); break;
      case '--fast': o.fast = true; break;
      default: usage(`unknown argument ${a}`);
    }
  }
  if (o.host !== '127.0.0.1' && o.host !== '::1') usage('--host must be 127.0.0.1 or ::1 (loopback only)');
  if (!o.port || o.port > 65535) usage('--port is required (1-65535)');
  if (!/^[0-9a-fA-F]{40}$/.test(o.infoHash ?? '')) usage('--info-hash must be 40 hex digits');
  if (!o.size || !o.pieceLength) usage('--size and --piece-length are required');
  if (o.maxQueue < o.minQueue) usage('--max-queue must be ≥ --min-queue');
  return o;
}

const opts = parseOptions(process.argv.slice(2));
const INFO_HASH = Buffer.from(opts.infoHash, 'hex');
const PIECES = Math.ceil(opts.size / opts.pieceLength);
const LAST_PIECE_LENGTH = opts.size - (PIECES - 1) * opts.pieceLength;
const BLOCK = 16384;
const PROTOCOL = Buffer.from('BitTorrent protocol');
const HANDSHAKE_LENGTH = 68;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The largest piece message we accept (a block is at most 16 KiB; some clients allow 128 KiB requests). */
const MAX_PIECE_MESSAGE = 9 + 128 * 1024;
/** The largest other message: a bitfield is 1 + ceil(pieces / 8); extended messages are small; 1 MiB is generous. */
const MAX_OTHER_MESSAGE = Math.max(1 + Math.ceil(PIECES / 8), 1024 * 1024);

const MSG = { choke: 0, unchoke: 1, interested: 2, notInterested: 3, have: 4, bitfield: 5, request: 6, piece: 7,
  cancel: 8, port: 9, suggest: 13, haveAll: 14, haveNone: 15, reject: 16, allowedFast: 17, extended: 20 };

const INTERESTED = Buffer.from([0, 0, 0, 1, MSG.interested]);
const KEEPALIVE = Buffer.alloc(4);

function handshakeBytes(peerId) {
  const b = Buffer.alloc(HANDSHAKE_LENGTH);
  b[0] = 19;
  PROTOCOL.copy(b, 1);
  if (opts.fast) b[27] |= 0x04; // BEP 6: reserved[7] & 0x04
  INFO_HASH.copy(b, 28);
  peerId.copy(b, 48);
  return b;
}

/** A peer id in Azureus style: `-PL0001-`, the connection's index (6 digits: unique) and 6 random digits. */
const RUN_TAG = randomBytes(6);
function makePeerId(i) {
  const digits = [...RUN_TAG].map((x) => String(x % 10)).join('');
  return Buffer.from(`-PL0001-${String(i % 1e6).padStart(6, '0')}${digits}`, 'latin1');
}

function randomRequest(buf, off) {
  const piece = Math.floor(Math.random() * PIECES);
  const len = piece === PIECES - 1 ? LAST_PIECE_LENGTH : opts.pieceLength;
  const blocks = Math.ceil(len / BLOCK);
  const begin = Math.floor(Math.random() * blocks) * BLOCK;
  buf.writeUInt32BE(13, off);
  buf[off + 4] = MSG.request;
  buf.writeUInt32BE(piece, off + 5);
  buf.writeUInt32BE(begin, off + 9);
  buf.writeUInt32BE(Math.min(BLOCK, len - begin), off + 13);
}

// --------------------------------------------------------------------------------------------------- the peers
const totals = { closeReasons: {}, errors: {} };
/** busy: `interested` has been sent (at once without --idle-ms; else after the idle phase). */
const state = { busy: opts.idleMs === 0 };
const count = (map, key) => { map[key] = (map[key] ?? 0) + 1; };

class LoadPeer {
  constructor(index) {
    this.index = index;
    this.peerId = makePeerId(index);
    this.queueTarget = opts.minQueue + Math.floor(Math.random() * (opts.maxQueue - opts.minQueue + 1));
    this.connected = false;
    this.handshaked = false;
    this.closed = false;
    this.closedByRemote = false;
    this.closeReason = null;
    this.error = null;
    this.choked = true;
    this.everUnchoked = false;
    this.unchokes = 0;
    this.outstanding = 0;
    this.bytesReceived = 0;
    this.payloadBytes = 0;
    this.blocks = 0;
    this.rejects = 0;
    this.stalls = 0;
    this.rest = null;          // unparsed bytes (a partial header or a partial non-piece message)
    this.skip = 0;             // payload bytes of the current piece message still to skip
    this.lastSentAt = 0;
    this.lastBlockAt = 0;
    this.socket = null;
  }

  open() {
    const s = net.connect({ host: opts.host, port: opts.port });
    this.socket = s;
    s.setNoDelay(true);
    this.handshakeTimer = setTimeout(() => this.fail('handshake timeout'), HANDSHAKE_TIMEOUT_MS);
    s.on('connect', () => {
      this.connected = true;
      this.write(handshakeBytes(this.peerId));
    });
    s.on('data', (chunk) => {
      try { this.onData(chunk); } catch (err) { this.fail(`parser: ${err.message}`); }
    });
    s.on('end', () => this.remoteClosed('closed by the remote (FIN)'));
    s.on('error', (err) => {
      if (this.closed) return;
      const code = err.code ?? err.message;
      if (!this.connected) { this.fail(`connect: ${code}`); return; }
      if (code === 'ECONNRESET' || code === 'EPIPE') this.remoteClosed(`reset by the remote (${code})`);
      else this.fail(`socket: ${code}`);
    });
    s.on('close', () => {
      if (!this.closed) this.remoteClosed('closed by the remote');
    });
  }

  write(buf) {
    if (this.closed || !this.socket || this.socket.destroyed) return;
    this.socket.write(buf);
    this.lastSentAt = performance.now();
  }

  /** The remote ended the connection (not an error on our side). */
  remoteClosed(reason) {
    if (this.closed) return;
    this.closed = true;
    this.closedByRemote = true;
    this.closeReason = reason;
    count(totals.closeReasons, reason);
    clearTimeout(this.handshakeTimer);
    this.socket?.destroy();
  }

  /** Something went wrong on this connection: count it as an error and close. */
  fail(reason) {
    if (this.closed) return;
    this.closed = true;
    this.error = reason;
    count(totals.errors, reason);
    clearTimeout(this.handshakeTimer);
    this.socket?.destroy();
  }

  /** Our own close at the end of the run. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    this.socket?.destroy();
  }

  onData(chunk) {
    if (this.closed) return;
    this.bytesReceived += chunk.length;
    let data = chunk;
    let pos = 0;
    if (this.skip > 0) {
      const n = Math.min(this.skip, data.length);
      this.skip -= n;
      this.payloadBytes += n;
      pos = n;
      if (this.skip === 0) this.onBlock();
      if (pos === data.length) return;
    } else if (this.rest) {
      data = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    if (!this.handshaked) {
      if (data.length - pos < HANDSHAKE_LENGTH) { this.keep(data, pos); return; }
      if (data[pos] !== 19 || !data.subarray(pos + 1, pos + 20).equals(PROTOCOL)) throw new Error('not a BitTorrent handshake');
      if (!data.subarray(pos + 28, pos + 48).equals(INFO_HASH)) throw new Error('handshake for another info-hash');
      pos += HANDSHAKE_LENGTH;
      this.handshaked = true;
      clearTimeout(this.handshakeTimer);
      if (state.busy) this.write(INTERESTED);
    }
    while (!this.closed && pos < data.length) {
      const left = data.length - pos;
      if (left < 4) break;
      const len = data.readUInt32BE(pos);
      if (len === 0) { pos += 4; continue; } // keep-alive
      if (left < 5) break;
      const id = data[pos + 4];
      if (id === MSG.piece) {
        if (len < 9 || len > MAX_PIECE_MESSAGE) throw new Error(`piece message of length ${len}`);
        if (left < 13) break;
        pos += 13;
        const blockLength = len - 9;
        const have = Math.min(blockLength, data.length - pos);
        pos += have;
        this.payloadBytes += have;
        this.skip = blockLength - have;
        if (this.skip === 0) this.onBlock();
        continue;
      }
      if (len > MAX_OTHER_MESSAGE) throw new Error(`message ${id} of length ${len}`);
      if (left < 4 + len) break;
      this.onMessage(id, len);
      pos += 4 + len;
    }
    this.keep(data, pos);
  }

  /** Keeps the unparsed tail (copied, so a large chunk is not retained for a few bytes). */
  keep(data, pos) {
    this.rest = pos < data.length ? Buffer.from(data.subarray(pos)) : null;
  }

  onMessage(id, len) {
    switch (id) {
      case MSG.choke:
        this.choked = true;
        this.outstanding = 0; // BEP 3: a choke discards our pending requests (under BEP 6 rejects follow; clamped below)
        return;
      case MSG.unchoke:
        if (this.choked) { this.unchokes++; this.everUnchoked = true; }
        this.choked = false;
        this.lastBlockAt = performance.now();
        this.fill();
        return;
      case MSG.reject:
        if (len !== 13) throw new Error(`reject of length ${len}`);
        this.rejects++;
        this.outstanding = Math.max(0, this.outstanding - 1);
        return;
      case MSG.have:
        if (len !== 5) throw new Error(`have of length ${len}`);
        return;
      default:
        return; // bitfield, have-all/none, allowed-fast, suggest, extended, port, interest, requests: nothing to do
    }
  }

  onBlock() {
    this.blocks++;
    this.lastBlockAt = performance.now();
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (!this.choked) this.fill();
  }

  /** Tops the requests up to this connection's queue target, in one write. */
  fill() {
    const n = this.queueTarget - this.outstanding;
    if (n <= 0 || this.closed) return;
    const buf = Buffer.allocUnsafe(17 * n);
    for (let k = 0; k < n; k++) randomRequest(buf, 17 * k);
    this.outstanding += n;
    this.write(buf);
  }

  /** Once a second: keep-alives while we are silent; a stalled unchoked queue is re-issued. */
  tick(now) {
    if (this.closed || !this.handshaked) return;
    if (now - this.lastSentAt >= opts.keepaliveMs) this.write(KEEPALIVE);
    if (!this.choked && this.outstanding > 0 && now - this.lastBlockAt >= opts.stallMs) {
      this.stalls++;
      this.outstanding = 0;
      this.lastBlockAt = now;
      this.fill();
    }
  }
}

// ------------------------------------------------------------------------------------------------------ the run
function emit(obj) {
  process.stdout.write(JSON.stringify({ event: obj.event, time: Date.now(), ...obj }) + '\n');
}

function summarize(peers, seconds) {
  const open = peers.filter((p) => p.handshaked && !p.closed).length;
  const payload = peers.reduce((a, p) => a + p.payloadBytes, 0);
  const blocks = peers.reduce((a, p) => a + p.blocks, 0);
  const perConn = peers.map((p) => p.payloadBytes).sort((a, b) => a - b);
  const pct = (q) => perConn[Math.min(perConn.length - 1, Math.floor(q * perConn.length))] ?? 0;
  return {
    connections: peers.length,
    opened: peers.filter((p) => p.connected).length,
    handshakes: peers.filter((p) => p.handshaked).length,
    openAtEnd: open,
    closedByRemote: peers.filter((p) => p.closedByRemote).length,
    closeReasons: totals.closeReasons,
    errorCount: peers.filter((p) => p.error).length,
    errors: totals.errors,
    payloadMB: payload / 1e6,
    payloadMBps: payload / 1e6 / seconds,
    blocks,
    requestsPerSec: blocks / seconds,
    rejects: peers.reduce((a, p) => a + p.rejects, 0),
    stalls: peers.reduce((a, p) => a + p.stalls, 0),
    everUnchoked: peers.filter((p) => p.everUnchoked).length,
    unchokedAtEnd: peers.filter((p) => !p.closed && !p.choked).length,
    unchokes: peers.reduce((a, p) => a + p.unchokes, 0),
    served: peers.filter((p) => p.blocks > 0).length,
    perConnectionPayloadMB: { min: pct(0) / 1e6, median: pct(0.5) / 1e6, p90: pct(0.9) / 1e6, max: pct(1) / 1e6 },
    wireMB: peers.reduce((a, p) => a + p.bytesReceived, 0) / 1e6,
    seconds,
  };
}

async function main() {
  const peers = Array.from({ length: opts.connections }, (_, i) => new LoadPeer(i));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  emit({ event: 'load-start', connections: opts.connections, rampMs: opts.rampMs, duration: opts.duration,
    pieces: PIECES, pieceLength: opts.pieceLength });
  let next = 0;
  let allOpened;
  const opened = new Promise((r) => { allOpened = r; });
  const openDue = () => {
    const elapsed = performance.now() - t0;
    const due = opts.rampMs > 0 ? Math.min(peers.length, Math.floor((elapsed / opts.rampMs) * peers.length) + 1) : peers.length;
    for (; next < due; next++) peers[next].open();
    if (next >= peers.length) {
      clearInterval(opener);
      emit({ event: 'load-opened', connections: peers.length, ms: Math.round(performance.now() - t0) });
      allOpened();
    }
  };
  const opener = setInterval(openDue, 5);
  openDue();
  let lastPayload = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const p of peers) p.tick(now);
    const payload = peers.reduce((a, p) => a + p.payloadBytes, 0);
    emit({ event: 'load-progress', seconds: Math.round((now - t0) / 100) / 10,
      handshakes: peers.filter((p) => p.handshaked).length, open: peers.filter((p) => p.handshaked && !p.closed).length,
      unchoked: peers.filter((p) => !p.closed && !p.choked).length, payloadMBps: (payload - lastPayload) / 1e6 });
    lastPayload = payload;
  }, 1000);
  let tBusy = t0;
  if (!state.busy) {
    await opened;
    await new Promise((r) => setTimeout(r, opts.idleMs));
    emit({ event: 'load-connected', handshakes: peers.filter((p) => p.handshaked).length,
      open: peers.filter((p) => p.handshaked && !p.closed).length, ms: Math.round(performance.now() - t0) });
    state.busy = true;
    tBusy = performance.now();
    for (const p of peers) if (p.handshaked && !p.closed) p.write(INTERESTED);
  }
  emit({ event: 'load-busy', ms: Math.round(performance.now() - t0) });
  await new Promise((r) => setTimeout(r, opts.duration * 1000));
  clearInterval(opener);
  clearInterval(ticker);
  const seconds = (performance.now() - tBusy) / 1000;
  const cpu = process.cpuUsage(cpu0);
  emit({ event: 'load-result', ...summarize(peers, seconds), loadCpuSeconds: (cpu.user + cpu.system) / 1e6 });
  if (opts.lingerMs > 0) await new Promise((r) => setTimeout(r, opts.lingerMs));
  for (const p of peers) p.close();
}

main().then(() => { process.exitCode = 0; }, (err) => {
  process.stderr.write(`peer-load: ${err.stack ?? err}\n`);
  process.exitCode = 1;
});

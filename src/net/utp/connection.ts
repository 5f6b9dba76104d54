/**
 * One uTP connection (BEP 29) as a pure state machine: packets in (`receive`), packets out (`hooks.send`), time from
 * an injected `now()` (ms, fractional allowed) and a periodic `tick()` from its owner. No sockets, no timers.
 *
 * Roles: the initiator sends SYN (connection_id = recvId, seq 1) and is connected by the acceptor's STATE; the acceptor
 * (made by `accept`) answers every SYN with a STATE and sends no data until the initiator's first packet after the
 * SYN proves it sees our replies (so an unverified source never gets more bytes than it sent).
 *
 * Sending: writes queue in `sendQueue` (backpressure through `writableLength`/'drain'); `flush` cuts them into packets
 * of at most `MSS` payload bytes while the bytes in flight stay within min(cwnd, the peer's window). Packets stay in
 * `outbuf` until cumulatively or selectively acked. Loss: 3 duplicate ACKs, or 3 packets selectively acked past a hole,
 * resend the hole and halve cwnd (once per window); a time-out (RTO per BEP 29: rtt + 4·rtt_var, at least 500 ms,
 * doubled on each consecutive time-out) resends from the oldest and drops cwnd to one packet; too many consecutive
 * time-outs close the connection. Congestion control is LEDBAT: 100 ms target over the base delay (the minimum of
 * per-minute minima over `BASE_HISTORY_MINUTES`), at most 3000 bytes of growth per RTT, with slow start (cwnd grows by
 * the bytes acked) until the first loss or until the queuing delay reaches the target.
 *
 * Receiving: in-order data goes to the owner (or waits while paused); out-of-order packets wait in a reorder buffer.
 * Both are bounded by `RECV_BUFFER` bytes, which is also the advertised window; packets past it are dropped.
 *
 * Invariants: memory is bounded (send queue by the owner's backpressure, outbuf by cwnd ≤ MAX_CWND, receive side by
 * RECV_BUFFER); an ACK of a packet never sent drops the whole packet; `hooks.onClose` runs exactly once, after which
 * nothing is sent and every call is a no-op. Sequence numbers (16 bits) and timestamps (32 bits) wrap.
 */
import { BtError } from '../../util/errors.js';
import {
  encodePacket, MAX_SACK_BYTES, sackHas, seqDiff, ST_DATA, ST_FIN, ST_RESET, ST_STATE, ST_SYN, usDiff,
  type UtpPacket, type UtpType,
} from './packet.js';

/** Largest payload of one packet: fits a 1472-byte UDP payload (1500-byte MTU) with header and SACK. */
export const MSS = 1400;
export const RECV_BUFFER = 1024 * 1024;
export const MAX_CWND = 4 * 1024 * 1024;
export const TARGET_DELAY_US = 100_000;
const MAX_CWND_GAIN_PER_RTT = 3000;
const MIN_RTO_MS = 500;
const MAX_RTO_MS = 30_000;
const INITIAL_RTO_MS = 1000;
const SYN_ATTEMPTS = 4;
const MAX_TIMEOUTS = 7;
export const KEEPALIVE_MS = 29_000;
const BASE_HISTORY_MINUTES = 10;
/** Out-of-order packets kept: at most this far ahead of the cumulative ACK. */
const MAX_REORDER_AHEAD = 2048;
/** Closing: how long we wait for the peer to ack our FIN before giving up. */
const FIN_WAIT_MS = 10_000;
/**
 * `write` returns false once this many bytes are queued, and 'drain' follows: net.Socket's default
 * `writableHighWaterMark`. It must stay well below the limits of owners that stop writing at `writableLength` plus
 * bytes of their own not yet written (the wire layer batches until the next tick; the upload side stops at 1 MiB,
 * metadata at 256 KiB): with a mark as high as their limit, the send path drained the queue between the owner's stop
 * and its batched write, no write returned false, no 'drain' came, and the owner waited for ever (the 11 s stall).
 */
export const DEFAULT_HIGH_WATER = 16 * 1024;

export type UtpState = 'syn-sent' | 'syn-recv' | 'connected' | 'closed';

export interface UtpHooks {
  send(datagram: Buffer): void;
  onConnect(): void;
  onData(chunk: Buffer): void;
  /** The peer sent FIN and every byte before it was delivered. */
  onEnd(): void;
  onDrain(): void;
  /** Closed for good: `err` when by reset, time-out or protocol error; none when closed cleanly. */
  onClose(err?: BtError): void;
}

export interface UtpConnectionOptions {
  /** Milliseconds (monotonic; fractions give microsecond timestamps). */
  now: () => number;
  recvId: number;
  sendId: number;
  /** Initial sequence number (the acceptor's is random). */
  seqNr: number;
  hooks: UtpHooks;
  /** `writableLength` at or above this makes `write` return false (default {@link DEFAULT_HIGH_WATER}). */
  highWaterMark?: number;
}

interface OutPacket {
  seq: number;
  type: UtpType;
  payload: Buffer;
  sentAt: number;
  transmissions: number;
  /** Lost (time-out or fast retransmit): not counted in flight until sent again. */
  needResend: boolean;
  sacked: boolean;
}

export class UtpConnection {
  state: UtpState;
  readonly recvId: number;
  readonly sendId: number;
  readonly stats = { sent: 0, resent: 0, received: 0, dupAcks: 0, timeouts: 0, fastResends: 0 };

  private readonly now: () => number;
  private readonly hooks: UtpHooks;
  private readonly highWater: number;
  // send side
  private seqNr: number;
  /** Highest seq the peer acked cumulatively. */
  private lastAcked: number;
  private readonly outbuf = new Map<number, OutPacket>();
  private inflight = 0;
  private readonly sendQueue: Buffer[] = [];
  private queued = 0;
  private wantDrain = false;
  private finQueued = false;
  private finSeq: number | undefined;
  cwnd = 2 * MSS;
  private slowStart = true;
  private ssthresh = MAX_CWND;
  private peerWnd = MSS;
  /** The largest window the peer ever advertised: our estimate (from below) of its whole receive buffer. */
  private peerMaxWnd = MSS;
  /** Payload bytes of every packet in `outbuf` (selectively acked and lost ones included). */
  private outbufBytes = 0;
  private dupAcks = 0;
  /** No further cwnd cut until the cumulative ACK passes this seq. */
  private lossRecoverySeq: number | undefined;
  rttMs = 0;
  private rttVar = 800;
  rtoMs = INITIAL_RTO_MS;
  private rtoDeadline: number | undefined;
  private timeouts = 0;
  private lastSentAt: number;
  // delay measurement (LEDBAT): the peer's measure of our packets' one-way delay
  private readonly baseHist: number[] = [];
  private baseMinute = -1;
  private replyMicro = 0;
  // receive side
  private ackNr = 0;
  private readonly reorder = new Map<number, Buffer>();
  private reorderBytes = 0;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private paused = false;
  private eofSeq: number | undefined;
  private ended = false;
  private ackDue = false;
  private lastAdvertised = RECV_BUFFER;
  private closeDeadline: number | undefined;
  private synAttempts = 0;
  private readonly synSeq: number;
  private finAcked = false;

  constructor(opts: UtpConnectionOptions, state: 'syn-sent' | 'syn-recv') {
    this.now = opts.now;
    this.hooks = opts.hooks;
    this.recvId = opts.recvId & 0xffff;
    this.sendId = opts.sendId & 0xffff;
    this.seqNr = opts.seqNr & 0xffff;
    this.lastAcked = (this.seqNr - 1) & 0xffff;
    this.highWater = opts.highWaterMark ?? DEFAULT_HIGH_WATER;
    this.state = state;
    this.lastSentAt = this.now();
    this.synSeq = this.seqNr;
  }

  /** An initiator: sends its SYN at once. */
  static connect(opts: UtpConnectionOptions): UtpConnection {
    const c = new UtpConnection(opts, 'syn-sent');
    c.sendSyn();
    return c;
  }

  /** An acceptor for `syn` (its connection id is our sendId, +1 our recvId); answers it at once. */
  static accept(opts: Omit<UtpConnectionOptions, 'recvId' | 'sendId'>, syn: UtpPacket, nowUs: number): UtpConnection {
    const c = new UtpConnection({ ...opts, recvId: (syn.connectionId + 1) & 0xffff, sendId: syn.connectionId }, 'syn-recv');
    c.ackNr = syn.seqNr;
    c.peerWnd = Math.min(syn.wndSize, MAX_CWND);
    c.peerMaxWnd = Math.max(c.peerMaxWnd, c.peerWnd);
    c.replyMicro = (nowUs - syn.timestampUs) >>> 0;
    c.paused = true; // an accepted stream is handed over paused (src/net/transport.ts)
    c.sendState();
    return c;
  }

  get writableLength(): number { return this.queued; }
  get bytesInFlight(): number { return this.inflight; }
  get isClosed(): boolean { return this.state === 'closed'; }

  /** The send/receive state in one line, for diagnostics (the socket prints it with BITPEER_UTP_DEBUG set). */
  debugState(): string {
    const now = this.now();
    let oldest: OutPacket | undefined;
    let resend = 0;
    let sacked = 0;
    for (const p of this.outbuf.values()) {
      if (oldest === undefined || seqDiff(p.seq, oldest.seq) < 0) oldest = p;
      if (p.needResend) resend++;
      if (p.sacked) sacked++;
    }
    const rto = this.rtoDeadline === undefined ? 'off' : `${Math.round(this.rtoDeadline - now)}ms`;
    return `state=${this.state} seq=${this.seqNr} lastAcked=${this.lastAcked} ackNr=${this.ackNr} cwnd=${Math.round(this.cwnd)} ` +
      `peerWnd=${this.peerWnd}/${this.peerMaxWnd} outbufBytes=${this.outbufBytes} inflight=${this.inflight} outbuf=${this.outbuf.size} needResend=${resend} sacked=${sacked} ` +
      `oldest=${oldest === undefined ? '-' : `${oldest.seq}/${oldest.type}/tx${oldest.transmissions}/${Math.round(now - oldest.sentAt)}ms`} ` +
      `rto=${rto} rtoMs=${Math.round(this.rtoMs)} timeouts=${this.timeouts} queued=${this.queued} wantDrain=${this.wantDrain} ` +
      `fin=${this.finQueued}/${String(this.finSeq)} recvPending=${this.pendingBytes} reorder=${this.reorder.size} paused=${this.paused} ` +
      `stats=${JSON.stringify(this.stats)}`;
  }

  /** Queue bytes (sent by `flush`). False when the queue is at or above the high-water mark: 'drain' follows once it is below half. */
  write(data: Buffer): boolean {
    if (this.state === 'closed' || this.finQueued) return false;
    if (data.length > 0) {
      this.sendQueue.push(data);
      this.queued += data.length;
    }
    if (this.queued >= this.highWater) { this.wantDrain = true; return false; }
    return true;
  }

  /** Graceful close: FIN after every queued byte. */
  end(): void {
    if (this.state === 'closed' || this.finQueued) return;
    this.finQueued = true;
    this.flush();
  }

  /** Abortive close: RESET to the peer (when connected: never to a source that has not proved itself), closed at once. */
  destroy(): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected') this.sendRaw(ST_RESET, this.seqNr, Buffer.alloc(0));
    this.close();
  }

  /** Close without a word to the peer (a half-open connection that never proved its source). */
  abandon(err?: BtError): void { this.close(err); }

  pause(): void { this.paused = true; }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    while (this.pending.length > 0 && !this.paused && this.state !== 'closed') {
      const chunk = this.pending.shift()!;
      this.pendingBytes -= chunk.length;
      this.hooks.onData(chunk);
    }
    if (this.pending.length === 0) this.maybeEnd();
    this.windowUpdate();
  }

  /** Handle one packet addressed to this connection (the owner demultiplexed it by connection id). */
  receive(p: UtpPacket, nowUs: number): void {
    if (this.state === 'closed') return;
    if (p.type === ST_RESET) { this.close(new BtError('NET', 'uTP connection reset by peer')); return; }
    if (p.type === ST_SYN) {
      // Our STATE was lost and the initiator tries again: answer again (same size as the SYN).
      if (this.state === 'syn-recv' && p.seqNr === this.ackNr) this.sendState();
      return;
    }
    let connectedNow = false;
    if (this.state === 'syn-sent') {
      if (p.type !== ST_STATE || p.ackNr !== this.synSeq) return;
      this.ackNr = (p.seqNr - 1) & 0xffff;
      connectedNow = true;
    }
    // An ACK of a packet we never sent: forged or garbled; drop the whole packet.
    const ahead = seqDiff(p.ackNr, this.lastAcked);
    if (ahead > 0 && seqDiff(p.ackNr, (this.seqNr - 1) & 0xffff) > 0) return;
    if (this.state !== 'connected') { this.state = 'connected'; connectedNow = true; }
    this.stats.received++;
    this.replyMicro = (nowUs - p.timestampUs) >>> 0;
    this.peerWnd = Math.min(p.wndSize, MAX_CWND);
    this.peerMaxWnd = Math.max(this.peerMaxWnd, this.peerWnd);
    this.onAck(p);
    if (connectedNow) this.hooks.onConnect();
    if (this.isClosedNow()) return;
    if (p.type === ST_DATA || p.type === ST_FIN) this.onIncoming(p);
    if (this.isClosedNow()) return;
    this.flush();
    this.checkClosed();
  }

  /** Send a STATE now if received data is waiting to be acked (the owner calls this after a batch of datagrams). */
  sendPendingAck(): void {
    if (this.ackDue && this.state === 'connected') this.sendState();
  }

  /** Periodic work (time-outs, keep-alives): the owner calls this every few tens of ms. */
  tick(): void {
    if (this.state === 'closed') return;
    const now = this.now();
    if (this.closeDeadline !== undefined && now >= this.closeDeadline) { this.close(); return; }
    if (this.rtoDeadline !== undefined && now >= this.rtoDeadline) this.onTimeout(now);
    if (this.isClosedNow()) return;
    if (this.state === 'connected' && now - this.lastSentAt >= KEEPALIVE_MS) {
      this.sendRaw(ST_STATE, this.seqNr, Buffer.alloc(0), (this.ackNr - 1) & 0xffff);
    }
    this.flush();
  }

  /** Cut queued bytes into packets and send them while the window allows; resend lost ones first. */
  flush(): void {
    if (this.state !== 'connected') return;
    for (const pkt of this.outbuf.values()) {
      if (!pkt.needResend) continue;
      if (!this.windowAllows(pkt.payload.length)) return;
      this.transmit(pkt);
    }
    while (this.queued > 0 && this.windowAllows(Math.min(MSS, this.queued)) && this.spanAllows(Math.min(MSS, this.queued))) {
      const payload = this.takeQueued(MSS);
      this.sendNew(ST_DATA, payload);
    }
    if (this.wantDrain && this.queued < this.highWater / 2) {
      this.wantDrain = false;
      this.hooks.onDrain();
    }
    if (this.finQueued && this.queued === 0 && this.finSeq === undefined && this.state === 'connected') {
      this.finSeq = this.seqNr;
      this.sendNew(ST_FIN, Buffer.alloc(0));
      this.closeDeadline = this.now() + FIN_WAIT_MS;
    }
  }

  // ---- sending ----

  private sendSyn(): void {
    this.synAttempts++;
    const syn: OutPacket = { seq: this.seqNr, type: ST_SYN, payload: Buffer.alloc(0), sentAt: 0, transmissions: 0, needResend: false, sacked: false };
    if (this.synAttempts === 1) {
      this.outbuf.set(syn.seq, syn);
      this.seqNr = (this.seqNr + 1) & 0xffff;
    }
    const p = this.outbuf.get(this.synSeq) ?? syn;
    p.sentAt = this.now();
    p.transmissions++;
    this.sendRaw(ST_SYN, p.seq, p.payload, 0, this.recvId);
    this.rtoDeadline = this.now() + this.rtoMs;
  }

  private windowAllows(bytes: number): boolean {
    const win = Math.min(this.cwnd, this.peerWnd);
    if (this.inflight + bytes <= win) return true;
    // Always allow one packet in flight, so a zero or tiny window is probed (the RTO paces the probes).
    return this.inflight === 0;
  }

  /**
   * New data only: the whole unacked span (from the oldest unacked packet to the newest, selectively acked ones
   * included) must fit the peer's receive buffer, in bytes and in packets. The receiver keeps selectively acked packets
   * in its reorder buffer and subtracts them from the window it advertises, while `inflight` no longer counts them:
   * without this bound the sender filled libtorrent's 1 MiB buffer with out-of-order data, the lost packet at the
   * cumulative ACK no longer fitted (libtorrent drops an in-order packet that does not fit), and every resend of it was
   * dropped for ever (the stall seen with libtorrent at 7–9 of 17 pieces). libtorrent also drops packets more than
   * max(16, buffer / 1100) sequence numbers past its ACK, hence the packet bound.
   */
  private spanAllows(bytes: number): boolean {
    if (this.outbuf.size === 0) return true;
    const maxPackets = Math.max(16, Math.floor(this.peerMaxWnd / 1100));
    return this.outbufBytes + bytes <= this.peerMaxWnd && this.outbuf.size < maxPackets;
  }

  private takeQueued(max: number): Buffer {
    const first = this.sendQueue[0]!;
    if (first.length <= max && (first.length === max || this.sendQueue.length === 1)) {
      this.sendQueue.shift();
      this.queued -= first.length;
      return first;
    }
    const n = Math.min(max, this.queued);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const head = this.sendQueue[0]!;
      const take = Math.min(head.length, n - off);
      head.copy(out, off, 0, take);
      off += take;
      if (take === head.length) this.sendQueue.shift();
      else this.sendQueue[0] = head.subarray(take);
    }
    this.queued -= n;
    return out;
  }

  private sendNew(type: UtpType, payload: Buffer): void {
    const pkt: OutPacket = { seq: this.seqNr, type, payload, sentAt: 0, transmissions: 0, needResend: false, sacked: false };
    this.seqNr = (this.seqNr + 1) & 0xffff;
    this.outbuf.set(pkt.seq, pkt);
    this.outbufBytes += payload.length;
    this.transmit(pkt);
  }

  private transmit(pkt: OutPacket): void {
    if (pkt.transmissions > 0) this.stats.resent++;
    pkt.transmissions++;
    pkt.sentAt = this.now();
    if (pkt.needResend || pkt.transmissions === 1) this.inflight += pkt.payload.length;
    pkt.needResend = false;
    this.sendRaw(pkt.type, pkt.seq, pkt.payload);
    if (this.rtoDeadline === undefined) this.rtoDeadline = this.now() + this.rtoMs;
  }

  private sendState(): void {
    this.sendRaw(ST_STATE, this.seqNr, Buffer.alloc(0));
  }

  private recvWindow(): number {
    return Math.max(0, RECV_BUFFER - this.reorderBytes - this.pendingBytes);
  }

  private sendRaw(type: UtpType, seq: number, payload: Buffer, ackNr = this.ackNr, connectionId = this.sendId): void {
    const nowMs = this.now();
    const wnd = this.recvWindow();
    const dg = encodePacket({
      type, connectionId, timestampUs: Math.floor(nowMs * 1000) >>> 0, timestampDiffUs: this.replyMicro, wndSize: wnd,
      seqNr: seq, ackNr, sack: type === ST_STATE ? this.sackMask() : undefined, payload,
    });
    this.lastAdvertised = wnd;
    this.lastSentAt = nowMs;
    this.ackDue = false;
    this.stats.sent++;
    this.hooks.send(dg);
  }

  private sackMask(): Buffer | undefined {
    if (this.reorder.size === 0) return undefined;
    let highest = 0;
    for (const seq of this.reorder.keys()) highest = Math.max(highest, seqDiff(seq, this.ackNr) - 2);
    const bytes = Math.min(MAX_SACK_BYTES, (Math.floor(highest / 32) + 1) * 4);
    const mask = Buffer.alloc(bytes);
    for (const seq of this.reorder.keys()) {
      const i = seqDiff(seq, this.ackNr) - 2;
      if (i >= 0 && i < bytes * 8) mask[i >> 3]! |= 1 << (i & 7);
    }
    return mask;
  }

  // ---- acks and congestion control ----

  private onAck(p: UtpPacket): void {
    const now = this.now();
    let ackedBytes = 0;
    let minRtt = Infinity;
    const ahead = seqDiff(p.ackNr, this.lastAcked);
    const ack = (pkt: OutPacket): void => {
      if (pkt.needResend) pkt.needResend = false;
      else this.inflight -= pkt.payload.length;
      ackedBytes += pkt.payload.length;
      if (pkt.transmissions === 1) minRtt = Math.min(minRtt, now - pkt.sentAt);
    };
    if (ahead > 0) {
      for (let i = 1; i <= ahead; i++) {
        const seq = (this.lastAcked + i) & 0xffff;
        const pkt = this.outbuf.get(seq);
        if (!pkt) continue;
        this.outbuf.delete(seq);
        this.outbufBytes -= pkt.payload.length;
        if (!pkt.sacked) ack(pkt);
      }
      this.lastAcked = p.ackNr;
      this.dupAcks = 0;
      this.timeouts = 0;
      if (this.lossRecoverySeq !== undefined && seqDiff(this.lastAcked, this.lossRecoverySeq) >= 0) this.lossRecoverySeq = undefined;
    } else if (ahead === 0 && p.type === ST_STATE && this.outbuf.size > 0) {
      this.dupAcks++;
      this.stats.dupAcks++;
    }
    const lostBySack: number[] = [];
    if (p.sack) {
      let after = 0;
      const bits = p.sack.length * 8;
      for (let i = bits - 1; i >= -1; i--) {
        const seq = (p.ackNr + 2 + i) & 0xffff;
        if (seqDiff(seq, (this.seqNr - 1) & 0xffff) > 0) continue; // never sent: ignore the bit
        const pkt = this.outbuf.get(seq);
        if (i >= 0 && sackHas(p.sack, i)) {
          after++;
          if (pkt && !pkt.sacked) { pkt.sacked = true; ack(pkt); }
        } else if (pkt && !pkt.sacked && after >= 3) {
          lostBySack.push(seq);
        }
      }
    }
    if (minRtt !== Infinity) this.updateRtt(minRtt);
    if (ackedBytes > 0) {
      this.rtoDeadline = this.inflight > 0 || this.outbuf.size > 0 ? now + this.rtoMs : undefined;
      this.ledbat(ackedBytes, p.timestampDiffUs);
    } else if (this.outbuf.size === 0) {
      this.rtoDeadline = undefined;
    }
    if (this.finSeq !== undefined && !this.outbuf.has(this.finSeq)) this.finAcked = true;
    const first = this.outbuf.get((this.lastAcked + 1) & 0xffff);
    if (this.dupAcks >= 3 && first && !first.sacked) {
      this.dupAcks = 0;
      this.fastResend(first);
    } else {
      // The lowest holes first; a few per ACK.
      for (const seq of lostBySack.reverse().slice(0, 4)) {
        const pkt = this.outbuf.get(seq);
        if (pkt) this.fastResend(pkt);
      }
    }
  }

  private fastResend(pkt: OutPacket): void {
    if (pkt.needResend) return;
    if (pkt.transmissions > 1 && this.now() - pkt.sentAt < this.rttMs) return; // resent recently
    this.stats.fastResends++;
    this.onLoss();
    this.inflight -= pkt.payload.length;
    pkt.needResend = true;
    this.transmit(pkt);
  }

  private onLoss(): void {
    this.slowStart = false;
    if (this.lossRecoverySeq !== undefined) return;
    this.lossRecoverySeq = (this.seqNr - 1) & 0xffff;
    this.cwnd = Math.max(MSS, this.cwnd / 2);
    this.ssthresh = this.cwnd;
  }

  private updateRtt(sample: number): void {
    if (this.rttMs === 0) {
      this.rttMs = sample;
      this.rttVar = sample / 2;
    } else {
      const delta = this.rttMs - sample;
      this.rttVar += (Math.abs(delta) - this.rttVar) / 4;
      this.rttMs += (sample - this.rttMs) / 8;
    }
    this.rtoMs = Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, this.rttMs + 4 * this.rttVar));
  }

  /** LEDBAT (BEP 29 / RFC 6817): grow or shrink cwnd by how far the queuing delay is from the target. */
  private ledbat(ackedBytes: number, delayUs: number): void {
    let offTarget = TARGET_DELAY_US;
    if (delayUs !== 0) {
      const base = this.observeDelay(delayUs);
      const queuing = Math.max(0, usDiff(delayUs, base));
      offTarget = TARGET_DELAY_US - queuing;
    }
    if (this.slowStart) {
      if (offTarget < TARGET_DELAY_US / 10 || this.cwnd >= this.ssthresh) this.slowStart = false;
      else { this.cwnd = Math.min(MAX_CWND, this.cwnd + ackedBytes); return; }
    }
    const gain = MAX_CWND_GAIN_PER_RTT * (offTarget / TARGET_DELAY_US) * (ackedBytes / this.cwnd);
    this.cwnd = Math.min(MAX_CWND, Math.max(MSS, this.cwnd + gain));
  }

  /** Record a delay sample in the per-minute history; returns the base delay (the history's minimum). */
  private observeDelay(delayUs: number): number {
    const minute = Math.floor(this.now() / 60_000);
    if (minute !== this.baseMinute || this.baseHist.length === 0) {
      this.baseMinute = minute;
      this.baseHist.push(delayUs);
      if (this.baseHist.length > BASE_HISTORY_MINUTES) this.baseHist.shift();
    } else if (usDiff(delayUs, this.baseHist[this.baseHist.length - 1]!) < 0) {
      this.baseHist[this.baseHist.length - 1] = delayUs;
    }
    let base = this.baseHist[0]!;
    for (const d of this.baseHist) if (usDiff(d, base) < 0) base = d;
    return base;
  }

  private onTimeout(now: number): void {
    if (this.state === 'syn-sent') {
      if (this.synAttempts >= SYN_ATTEMPTS) { this.close(new BtError('TIMEOUT', 'uTP connect timeout')); return; }
      this.rtoMs = Math.min(MAX_RTO_MS, this.rtoMs * 2);
      this.sendSyn();
      return;
    }
    if (this.outbuf.size === 0) { this.rtoDeadline = undefined; return; }
    this.timeouts++;
    this.stats.timeouts++;
    if (this.timeouts > MAX_TIMEOUTS) { this.close(new BtError('TIMEOUT', 'uTP connection timed out')); return; }
    this.slowStart = false;
    this.ssthresh = Math.max(2 * MSS, this.cwnd / 2);
    this.cwnd = MSS;
    this.lossRecoverySeq = (this.seqNr - 1) & 0xffff;
    this.rtoMs = Math.min(MAX_RTO_MS, this.rtoMs * 2);
    for (const pkt of this.outbuf.values()) {
      if (pkt.sacked || pkt.needResend) continue;
      pkt.needResend = true;
      this.inflight -= pkt.payload.length;
    }
    this.rtoDeadline = now + this.rtoMs;
    const first = [...this.outbuf.values()].find((p) => p.needResend);
    if (first) this.transmit(first);
  }

  // ---- receiving ----

  private onIncoming(p: UtpPacket): void {
    const d = seqDiff(p.seqNr, this.ackNr);
    if (d <= 0) { this.sendState(); return; } // a duplicate: ack again, at once (its ACK was lost)
    if (this.eofSeq !== undefined && seqDiff(p.seqNr, this.eofSeq) > 0) return;
    if (d === 1 && this.pendingBytes + p.payload.length > RECV_BUFFER) return; // the peer ignored our window
    if (p.type === ST_FIN) this.eofSeq = p.seqNr;
    if (d === 1) {
      this.deliver(p.payload, p.type === ST_FIN);
      for (;;) {
        const next = (this.ackNr + 1) & 0xffff;
        const buf = this.reorder.get(next);
        if (buf === undefined) break;
        this.reorder.delete(next);
        this.reorderBytes -= buf.length;
        this.deliver(buf, next === this.eofSeq);
      }
      this.ackDue = true;
      this.maybeEnd();
      if (this.reorder.size > 0) this.sendState();
      return;
    }
    if (d > MAX_REORDER_AHEAD || this.reorder.has(p.seqNr)) { this.sendState(); return; }
    if (this.reorderBytes + this.pendingBytes + p.payload.length > RECV_BUFFER) return;
    const copy = Buffer.from(p.payload);
    this.reorder.set(p.seqNr, copy);
    this.reorderBytes += copy.length;
    this.sendState(); // with a SACK: tells the sender at once
  }

  private deliver(payload: Buffer, fin: boolean): void {
    this.ackNr = (this.ackNr + 1) & 0xffff;
    if (fin || payload.length === 0) return;
    if (this.paused || this.pending.length > 0) {
      const copy = Buffer.from(payload);
      this.pending.push(copy);
      this.pendingBytes += copy.length;
    } else {
      this.hooks.onData(Buffer.from(payload));
    }
  }

  private maybeEnd(): void {
    if (this.ended || this.eofSeq === undefined || this.ackNr !== this.eofSeq || this.pending.length > 0) return;
    this.ended = true;
    this.sendState();
    this.hooks.onEnd();
    if (!this.isClosedNow()) this.end(); // no half-open streams: answer with our own FIN
    this.checkClosed();
  }

  private windowUpdate(): void {
    if (this.state !== 'connected') return;
    if (this.lastAdvertised < MSS * 4 && this.recvWindow() >= MSS * 4) this.sendState();
  }

  private checkClosed(): void {
    if (this.state !== 'closed' && this.ended && this.finSeq !== undefined && this.finAcked) this.close();
  }

  private isClosedNow(): boolean { return this.state === 'closed'; }

  private close(err?: BtError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.outbuf.clear();
    this.outbufBytes = 0;
    this.reorder.clear();
    this.sendQueue.length = 0;
    this.pending.length = 0;
    this.queued = this.inflight = this.reorderBytes = this.pendingBytes = 0;
    this.hooks.onClose(err);
  }
}

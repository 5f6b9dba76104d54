/**
 * A peer's address: the one parse of `host:port` / `[v6]:port` text and the one format, which is also the key a
 * peer is known by (candidates, connections, bans, the picker, PEX, events, resume data).
 *
 * Invariants:
 * - {@link formatPeerAddress} writes an IPv6 host in brackets (`[::1]:6881`), anything else bare (`1.2.3.4:6881`,
 *   `name:6881`), so a key is never ambiguous. The host is written as given: no canonical form is imposed, and an
 *   IPv4-mapped address (`::ffff:1.2.3.4`, as a dual-stack socket reports IPv4 peers) stays as it is (normalising it
 *   is the caller's choice, as PEX and the tracker do).
 * - {@link parsePeerAddress} accepts exactly: an IPv4 literal, a host name (unless `ipOnly`), or a bracketed IPv6
 *   literal (an optional `%zone` kept in the host), then `:` and a decimal port 1..65535. A bare IPv6 literal is
 *   refused (its port would be ambiguous). `formatPeerAddress(parse(s))` gives `s` back for every accepted `s`.
 * BEP: none (the text form libtorrent and Transmission use for peers, e.g. magnet `x.pe`).
 */
import { BtError, type ErrorCode } from './errors.js';
import { parseIPv4, parseIPv6 } from './ip.js';

/** A host (an IP literal, or a host name where the caller accepts names) and a port 1..65535. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PeerAddressOptions {
  /** Refuse host names: only IP literals (default false). */
  ipOnly?: boolean;
}

/** True for an integer port 1..65535. */
export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** The text of an address and its key: `a.b.c.d:port`, `[v6]:port`, `name:port`. */
export function formatPeerAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The key of a peer address (same as {@link formatPeerAddress}). */
export function peerKey(a: PeerAddress): string {
  return formatPeerAddress(a.host, a.port);
}

const LABEL = /^[A-Za-z0-9_-]{1,63}$/;
const ZONE = /^[A-Za-z0-9_.-]{1,64}$/;

function isHostName(s: string): boolean {
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1]!); // all-numeric: a bad IPv4 literal, not a name
}

/** Why `s` is not a peer address, or the address. */
function parse(s: string, ipOnly: boolean): PeerAddress | string {
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return 'expected [IPv6]:PORT';
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    const pct = host.indexOf('%');
    const zone = pct < 0 ? undefined : host.slice(pct + 1);
    if (zone !== undefined && !ZONE.test(zone)) return 'bad IPv6 zone';
    if (parseIPv6(pct < 0 ? host : host.slice(0, pct)) === null) return 'not an IPv6 address in the brackets';
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return 'no port';
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) return 'an IPv6 address needs brackets, as in [::1]:6881';
    if (parseIPv4(host) === null && (ipOnly || !isHostName(host))) return ipOnly ? 'not an IP address' : 'not an IP address or host name';
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return 'the port is not a number';
  const port = Number(portText);
  if (!isValidPort(port)) return 'the port is not 1..65535';
  return { host, port };
}

/** The address in `s`, or null when it is not one (see the module invariant). */
export function tryParsePeerAddress(s: string, opts: PeerAddressOptions = {}): PeerAddress | null {
  const r = parse(s, opts.ipOnly ?? false);
  return typeof r === 'string' ? null : r;
}

/**
 * The address in `s`.
 * @throws BtError(code, default 'USAGE') `bad peer address "<s>" (expected HOST:PORT: <why>)`.
 */
export function parsePeerAddress(s: string, opts: PeerAddressOptions & { code?: ErrorCode } = {}): PeerAddress {
  const r = parse(s, opts.ipOnly ?? false);
  if (typeof r === 'string') {
    throw new BtError(opts.code ?? 'USAGE', `bad peer address ${JSON.stringify(s)} (expected HOST:PORT: ${r})`);
  }
  return r;
}

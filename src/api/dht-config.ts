/**
 * The DHT's settings as the facade chooses them (BEP 5): which bootstrap nodes, whether it is a private network.
 *
 * The public routers are the default bootstrap only for a user's real runs: when the environment variable
 * BITPEER_DHT_BOOTSTRAP is set, its comma-separated HOST:PORT list replaces them ("" or "none": no default bootstrap
 * at all). scripts/run-tests.js and scripts/bench.js set it to "none", so no test or benchmark ever contacts them.
 * Private-network mode (loopback and private addresses accepted, several nodes per IP) is on by default when every
 * bootstrap node is a loopback or private IPv4 literal (or there is none), off otherwise.
 *
 * Pure: no I/O (the environment is passed in).
 */
import { BtError } from '../util/errors.js';
import { parseHostPort as parseHostPortOrNull } from '../discovery/dht/host-port.js';
import { isPrivateOrLoopback } from '../discovery/dht/node-id.js';

/** The public DHT routers (libtorrent's and Transmission's defaults). */
export const PUBLIC_DHT_ROUTERS: readonly string[] = [
  'router.bittorrent.com:6881', 'dht.transmissionbt.com:6881', 'router.utorrent.com:6881', 'dht.libtorrent.org:25401',
];

/** The environment variable that replaces the default bootstrap list. */
export const DHT_BOOTSTRAP_ENV = 'BITPEER_DHT_BOOTSTRAP';

/** A bootstrap node as HOST:PORT: an IPv4 address or a host name, and a port 1..65535. */
export function parseHostPort(s: string): { host: string; port: number } {
  const hp = parseHostPortOrNull(s);
  if (!hp) throw new BtError('USAGE', `bad DHT bootstrap node "${s}" (expected HOST:PORT, e.g. 192.168.1.20:6881 or router.example.org:6881)`);
  return hp;
}

/** `list` checked (each HOST:PORT, see parseHostPort) and normalised (trimmed). Throws BtError('USAGE'). */
export function checkBootstrapList(list: readonly string[]): string[] {
  return list.map((s) => { const { host, port } = parseHostPort(s); return `${host}:${port}`; });
}

/**
 * The default bootstrap list: BITPEER_DHT_BOOTSTRAP's nodes when it is set ("" or "none": none; a malformed entry is
 * an error), else the public routers.
 */
export function defaultDhtBootstrap(env: Readonly<Record<string, string | undefined>>): string[] {
  const v = env[DHT_BOOTSTRAP_ENV];
  if (v === undefined) return [...PUBLIC_DHT_ROUTERS];
  const t = v.trim();
  if (t === '' || t.toLowerCase() === 'none') return [];
  try {
    return checkBootstrapList(t.split(',').map((x) => x.trim()).filter((x) => x !== ''));
  } catch (err) {
    throw new BtError('USAGE', `${DHT_BOOTSTRAP_ENV}: ${(err as Error).message}`);
  }
}

/** Private-network default: every bootstrap node is a loopback or private IP literal (or there is none). */
export function isPrivateBootstrap(list: readonly string[]): boolean {
  return list.every((s) => {
    const i = s.lastIndexOf(':');
    return isPrivateOrLoopback(i > 0 ? s.slice(0, i) : s);
  });
}

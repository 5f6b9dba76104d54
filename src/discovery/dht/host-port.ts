/**
 * A DHT bootstrap node written as HOST:PORT (BEP 5 routers are named this way): an IPv4 literal or a DNS name, and a
 * port 1..65535. The one parser of the form, used by the facade's settings (src/api/dht-config.ts: a malformed entry
 * is a usage error) and by the node (dht-node.ts: a malformed entry is skipped and logged).
 *
 * Invariant: a non-null result has a host that is an IPv4 literal or a syntactically valid DNS name (never an IPv6
 * literal, never a dotted-number string that is not an IPv4 address) and an integer port in 1..65535.
 *
 * Pure: no I/O.
 */
import { parseIPv4 } from '../../util/ip.js';

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `s` (trimmed) as host and port, or null when it is not HOST:PORT as described above. */
export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = /^(.+):(\d{1,5})$/.exec(s.trim());
  if (!m) return null;
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  const isName = HOST_NAME.test(host) && !/^[\d.]+$/.test(host);
  return parseIPv4(host) !== null || isName ? { host, port } : null;
}

/**
 * Which address this host announces in its own tracker URL (`bitpeer create`/`share` with no --announce).
 *
 * Rule (documented in docs/cli.md): `--announce-host` wins. Otherwise the first non-internal IPv4 address of the
 * machine's interfaces, preferring private LAN ranges (10/8, 172.16/12, 192.168/16) over others, skipping link-local
 * 169.254/16; interfaces are taken in the order the OS lists them. With none, 127.0.0.1.
 * Pure: the interface table is passed in (os.networkInterfaces() in production).
 */
import type { NetworkInterfaceInfo } from 'node:os';

function isPrivateV4(a: string): boolean {
  const [x, y] = a.split('.').map(Number) as [number, number];
  return x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168);
}

export function chooseLanAddress(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string {
  const candidates: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      if (info.internal || info.family !== 'IPv4') continue;
      if (info.address.startsWith('169.254.')) continue;
      candidates.push(info.address);
    }
  }
  return candidates.find(isPrivateV4) ?? candidates[0] ?? '127.0.0.1';
}

export function ownTrackerUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}/announce`;
}

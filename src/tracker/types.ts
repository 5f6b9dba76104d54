/**
 * Types shared by the tracker server and client (BEP 3, BEP 15).
 *
 * Invariant: addresses are plain strings in Node's textual form; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is
 * always normalised to its IPv4 form (`1.2.3.4`) before it is stored or compared (see `normalizeIp` in address.ts).
 */

/** A peer's address: host (IPv4 or IPv6 text) and TCP port. */
export interface PeerAddress {
  host: string;
  port: number;
}

/** The announce `event` (BEP 3). `''` is a regular re-announce (BEP 15 `none`). */
export type TrackerEvent = 'started' | 'completed' | 'stopped' | '';

/** Address family of a peer entry: 4 (6-byte compact entries) or 6 (18-byte entries). */
export type IpFamily = 4 | 6;

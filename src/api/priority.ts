/**
 * File priorities on Transmission's scale (−1 low, 0 normal, 1 high: the RPC, `bitpeer files` and the resume files
 * of the state directory) to and from the core's neutral 'low' | 'normal' | 'high' (src/session/torrent-status.ts).
 */
import type { FilePriority } from '../session/torrent-status.js';

export type TransmissionPriority = -1 | 0 | 1;

export function toTransmissionPriority(p: FilePriority): TransmissionPriority {
  return p === 'low' ? -1 : p === 'high' ? 1 : 0;
}

export function fromTransmissionPriority(p: number): FilePriority {
  return p < 0 ? 'low' : p > 0 ? 'high' : 'normal';
}

/**
 * File priorities on Transmission's scale (−1 low, 0 normal, 1 high), as the RPC answers them (`fileStats`,
 * `priorities`), from the facade's neutral 'low' | 'normal' | 'high' (FileInfo.priority, src/api/types.ts). The RPC
 * takes priorities as lists of file indexes (`priority-high`…), so there is no reverse mapping.
 *
 * Invariant: the only place the RPC maps priorities. (The state directory's resume files use the same numbers for
 * their own format: they map at their codec boundary, src/api/state-dir.ts, and do not depend on the RPC.)
 */
import type { FilePriority } from '../types.js';

export type TransmissionPriority = -1 | 0 | 1;

export function toTransmissionPriority(p: FilePriority): TransmissionPriority {
  return p === 'low' ? -1 : p === 'high' ? 1 : 0;
}

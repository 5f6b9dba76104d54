/**
 * The simulation tier's scenarios (test/sim/*.test.ts), in one place so the report and the tests agree.
 *
 * Links are residential: leechers upload 1 MiB/s and download 6 MiB/s, the seed uploads 8 MiB/s; each host's access
 * latency is 5–40 ms (a link's one-way latency is the sum of its two ends', so 10–80 ms); 0.1 % of packets are lost.
 * Leechers arrive in a flash crowd over the first 10 s. A joining peer gets the seed and up to 30 present peers.
 */
import type { SwarmOptions } from '../support/sim-swarm.js';

const MiB = 1024 * 1024;

const base: Omit<SwarmOptions, 'seed' | 'leechers' | 'sizeBytes'> = {
  pieceLength: 256 * 1024,
  seedUpload: 8 * MiB, leecherUpload: 1 * MiB, leecherDownload: 6 * MiB,
  accessLatencyMs: [5, 40], loss: 0.001,
  joinWindowMs: 10_000, trackerPeers: 30,
  deadlineMs: 30 * 60_000,
};

/** A small, fast swarm: 1 seed, 10 leechers, 4 MiB. */
export const small: SwarmOptions = { ...base, seed: 7, leechers: 10, sizeBytes: 4 * MiB, deadlineMs: 10 * 60_000 };

/** (a) 1 seed and 200 leechers of a 64 MiB torrent. */
export const flashCrowd: SwarmOptions = { ...base, seed: 2026, leechers: 200, sizeBytes: 64 * MiB };

/** (b) The same, while 20 % of the leechers (40) leave and 40 new ones arrive between 15 s and 45 s. */
export const churn: SwarmOptions = {
  ...base, seed: 2027, leechers: 200, sizeBytes: 64 * MiB,
  churn: { leave: 40, arrive: 40, fromMs: 15_000, toMs: 45_000 },
};

/** (c) A churning swarm run twice from one seed: 1 seed, 60 leechers, 16 MiB, 12 leave and 12 arrive. */
export const replay: SwarmOptions = {
  ...base, seed: 99, leechers: 60, sizeBytes: 16 * MiB,
  churn: { leave: 12, arrive: 12, fromMs: 5_000, toMs: 20_000 },
};

/**
 * A small seeded PRNG (mulberry32) for the engine's injectable `rng` options in tests and replayable random runs.
 *
 * Invariant: the same seed always gives the same sequence of numbers in [0, 1). Not for anything secret: peer ids,
 * tokens and connection ids use node:crypto.
 */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

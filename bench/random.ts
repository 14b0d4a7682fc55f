/**
 * A seeded pseudo-random generator (mulberry32), so that a run's end times and choices of
 * mirrors can be repeated with the same `--seed`. It is not for cryptography.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Returns `count` distinct items chosen uniformly at random, in random order. */
export function sample<T>(items: readonly T[], count: number, random: Random): T[] {
  if (count > items.length) {
    throw new RangeError(`cannot choose ${count} of ${items.length} items`);
  }
  const pool = [...items];
  for (let index = 0; index < count; index += 1) {
    const other = index + Math.floor(random() * (pool.length - index));
    [pool[index], pool[other]] = [pool[other] as T, pool[index] as T];
  }
  return pool.slice(0, count);
}

/** Returns `count` times uniformly at random in [0, spanMs), ascending. */
export function randomOffsets(count: number, spanMs: number, random: Random): number[] {
  return Array.from({ length: count }, () => random() * spanMs).sort((a, b) => a - b);
}

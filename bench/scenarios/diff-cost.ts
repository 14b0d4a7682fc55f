/**
 * Diff cost: processors/planner.ts planFork against the scan baseline of bench/scan-planner.ts
 * on two channels that share half of their sessions, and the planner alone at growing sizes.
 * Both run in the bench process on inputs built in memory, so no I/O is timed.
 */
import { isDeepStrictEqual } from 'node:util';
import { planFork } from '../../processors/planner.ts';
import type { BenchSizes } from '../options.ts';
import { halfOverlapRooms } from '../planner-input.ts';
import type { Progress } from '../progress.ts';
import type { Random } from '../random.ts';
import { planForkByScan } from '../scan-planner.ts';
import { medianTimeMs } from '../stats.ts';

export interface DiffCostResult {
  sizes: BenchSizes['diff'];
  plannerMs: number;
  scanMs: number;
  /** Joins and departures of the compared plan, which both produce alike. */
  joins: number;
  departures: number;
  growth: { members: number; plannerMs: number }[];
}

export function runDiffCost(
  sizes: BenchSizes['diff'],
  random: Random,
  progress: Progress,
): DiffCostResult {
  progress.log(`diff cost: planner and scan baseline on two ${sizes.members}-member channels`);
  const input = halfOverlapRooms(sizes.members, random);
  const plan = planFork(input);
  // A faster baseline that plans something else would prove nothing.
  if (!isDeepStrictEqual(plan, planForkByScan(input))) {
    throw new Error('the scan baseline planned a different fork than processors/planner.ts');
  }
  const plannerMs = medianTimeMs(sizes.runs, () => planFork(input));
  const scanMs = medianTimeMs(sizes.runs, () => planForkByScan(input));
  progress.log(
    `diff cost: planner ${plannerMs.toFixed(1)} ms, scan baseline ${scanMs.toFixed(1)} ms`,
  );

  const growth = sizes.growth.map((members) => {
    const grown = halfOverlapRooms(members, random);
    const ms = medianTimeMs(sizes.runs, () => planFork(grown));
    progress.log(`diff cost: planner at ${members} members ${ms.toFixed(1)} ms`);
    return { members, plannerMs: ms };
  });
  return {
    sizes,
    plannerMs,
    scanMs,
    joins: plan.joins.length,
    departures: plan.departures.length,
    growth,
  };
}

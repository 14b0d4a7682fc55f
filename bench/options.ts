/**
 * Command-line options of `npm run bench` and the size of each scenario in the full and the
 * smoke run. Sizes that are smaller than the scenario's stated target are reported with both
 * numbers, so a reader sees what was scaled.
 */
import { parseArgs } from 'node:util';

export const SCENARIOS = ['diff', 'polling', 'heal', 'fork', 'throughput', 'memory'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchSizes {
  heal: {
    destinations: number;
    membersPerDestination: number;
    /** Mirror ends, at uniformly random moments over `spreadMs`. */
    ends: number;
    spreadMs: number;
    /** How long after the last end the bench waits for the remaining heals. */
    settleTimeoutMs: number;
  };
  polling: {
    destinations: number;
    membersPerDestination: number;
    ends: number;
    /** The ends happen at uniformly random moments over this window. */
    windowMs: number;
    /** The polling client forks every destination with `refresh-stale` this often. */
    pollIntervalMs: number;
  };
  fork: { members: number; streamsPerMember: number; repetitions: number };
  diff: {
    /** Members of each room in the planner against scan comparison. */
    members: number;
    /** Room sizes of the planner growth series. */
    growth: number[];
    runs: number;
  };
  throughput: {
    destinations: number;
    mirrorsPerDestination: number;
    /** Heals are counted over this window, which starts at the first end. */
    windowMs: number;
    /** How long after the window the bench waits for the service to work off its backlog. */
    drainTimeoutMs: number;
  };
  memory: { destinations: number; members: number; forks: number };
}

/** Sizes that a full run scales down from, which the report compares with the sizes used. */
export const TARGETS = {
  throughputDestinations: 1_000,
  throughputMirrors: 10_000,
} as const;

/** The sizes of a full run, which fits in ten minutes on a two-core machine. */
export const FULL_SIZES: BenchSizes = {
  heal: {
    destinations: 10,
    membersPerDestination: 10,
    ends: 200,
    spreadMs: 40_000,
    settleTimeoutMs: 60_000,
  },
  polling: {
    destinations: 4,
    membersPerDestination: 5,
    ends: 20,
    windowMs: 40_000,
    pollIntervalMs: 10_000,
  },
  fork: { members: 100, streamsPerMember: 2, repetitions: 20 },
  diff: { members: 10_000, growth: [1_000, 10_000, 100_000], runs: 3 },
  // NOTE: 2 mirrors per destination, not 10. Creating 10,000 mirrors took about 200 s of a
  // ten-minute run on the two-core machine, and the report states the scaling.
  throughput: {
    destinations: 1_000,
    mirrorsPerDestination: 2,
    windowMs: 40_000,
    drainTimeoutMs: 10_000,
  },
  memory: { destinations: 10_000, members: 100_000, forks: 20 },
};

/** Enough of every scenario to prove that it runs, in well under a minute. */
export const SMOKE_SIZES: BenchSizes = {
  heal: {
    destinations: 2,
    membersPerDestination: 2,
    ends: 6,
    spreadMs: 1_000,
    settleTimeoutMs: 15_000,
  },
  polling: {
    destinations: 1,
    membersPerDestination: 2,
    ends: 2,
    windowMs: 1_000,
    pollIntervalMs: 1_000,
  },
  fork: { members: 3, streamsPerMember: 2, repetitions: 2 },
  diff: { members: 1_000, growth: [100, 1_000], runs: 1 },
  throughput: {
    destinations: 5,
    mirrorsPerDestination: 4,
    windowMs: 3_000,
    drainTimeoutMs: 10_000,
  },
  memory: { destinations: 20, members: 100, forks: 2 },
};

export interface BenchOptions {
  smoke: boolean;
  /** Folder for REPORT.md and the chart. */
  outDir: string;
  seed: number;
  scenarios: ScenarioName[];
  sizes: BenchSizes;
  /** The command line as typed, for the report. */
  commandLine: string;
}

export const USAGE = `usage: npm run bench -- [--smoke] [--out DIR] [--seed N] [--scenarios LIST]

  --smoke          run every scenario at a tiny size (under a minute), for the test suite
  --out DIR        folder for REPORT.md and heal-latency-cdf.png (default: bench/, or a new
                   temporary folder with --smoke)
  --seed N         seed of the random end times and mirror choices (default 1)
  --scenarios LIST comma-separated subset of ${SCENARIOS.join(',')} (default: all)

Kafka and the MongoDB wire server are started on free loopback ports unless
TEST_KAFKA_BROKERS and TEST_MONGODB_URI name running ones.`;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses the arguments; `defaultOutDir` is called only when `--out` is missing. */
export function parseOptions(
  argv: string[],
  defaultOutDir: (smoke: boolean) => string,
): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        smoke: { type: 'boolean', default: false },
        out: { type: 'string' },
        seed: { type: 'string', default: '1' },
        scenarios: { type: 'string', default: SCENARIOS.join(',') },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    throw new UsageError('');
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) {
    throw new UsageError(`invalid --seed ${JSON.stringify(values.seed)}: expected an integer`);
  }
  const scenarios = values.scenarios.split(',').map((name) => name.trim());
  const unknown = scenarios.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `unknown scenario ${unknown.join(', ')} in --scenarios; expected some of ${SCENARIOS.join(', ')}`,
    );
  }
  return {
    smoke: values.smoke,
    outDir: values.out ?? defaultOutDir(values.smoke),
    seed,
    scenarios: SCENARIOS.filter((name) => scenarios.includes(name)),
    sizes: values.smoke ? SMOKE_SIZES : FULL_SIZES,
    commandLine: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
  };
}

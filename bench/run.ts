/**
 * Entry point of `npm run bench`: measures heal latency against the polling baseline, fork
 * latency, diff cost, heal throughput and memory against the real test servers, and writes
 * REPORT.md and heal-latency-cdf.png. `--help` lists the options.
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { renderCdfPng, type Series } from './chart.ts';
import { REPO_ROOT } from './child-process.ts';
import {
  startEnvironment,
  startServers,
  type ServiceEnvironment,
  type Servers,
} from './environment.ts';
import { loadAverage, readMachineFacts } from './machine.ts';
import {
  USAGE,
  UsageError,
  parseOptions,
  type BenchOptions,
  type ScenarioName,
} from './options.ts';
import { Progress } from './progress.ts';
import { seededRandom } from './random.ts';
import { renderReport, type BenchResults } from './report.ts';
import { runDiffCost } from './scenarios/diff-cost.ts';
import { runForkLatency } from './scenarios/fork-latency.ts';
import { runHealLatency } from './scenarios/heal-latency.ts';
import { runMemory } from './scenarios/memory.ts';
import { runPollingBaseline } from './scenarios/polling-baseline.ts';
import { runThroughput } from './scenarios/throughput.ts';

const CHART_FILE = 'heal-latency-cdf.png';
const EVENT_DRIVEN_SCENARIOS = ['heal', 'fork', 'throughput', 'memory'] as const;

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2), (smoke) =>
      smoke ? mkdtempSync(join(tmpdir(), 'fork-bench-smoke-')) : join(REPO_ROOT, 'bench'),
    );
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message ? `${error.message}\n\n` : ''}${USAGE}\n`);
      process.exit(error.message ? 2 : 0);
    }
    throw error;
  }

  // Created first, so that a bad --out fails before the run instead of after it.
  await mkdir(options.outDir, { recursive: true });
  const progress = new Progress();
  const logDir = await mkdtemp(join(tmpdir(), 'fork-bench-logs-'));
  const logger = pino({ level: 'warn' }, pino.destination(join(logDir, 'bench.log')));
  progress.log(`bench: ${options.smoke ? 'smoke' : 'full'} run; process logs in ${logDir}`);
  const results: BenchResults = {
    options,
    machine: readMachineFacts(),
    startedAt: new Date(),
    durationSeconds: 0,
    loadAverage: { start: loadAverage(), end: Number.NaN },
  };
  const random = seededRandom(options.seed);
  const { sizes, scenarios } = options;
  // Each run gets its own topics and databases, so servers from an earlier run can be reused.
  const runId = `bench${Date.now().toString(36)}`;

  if (scenarios.includes('diff')) {
    results.diff = runDiffCost(sizes.diff, random, progress);
  }

  let servers: Servers | undefined;
  let polling: ServiceEnvironment | undefined;
  let eventDriven: ServiceEnvironment | undefined;
  try {
    if (scenarios.some((name) => name !== 'diff')) {
      progress.log('bench: starting Kafka and the MongoDB wire server');
      servers = await startServers();
      progress.log('bench: starting the services and their media nodes');
      // The event-driven service starts now and idles while the baseline runs.
      [polling, eventDriven] = await startEnvironments(servers, scenarios, runId, logDir);
    }

    if (servers && polling) {
      results.polling = await runPollingBaseline(servers, polling, sizes.polling, random, progress);
      await polling.stop();
      polling = undefined;
    }

    if (servers && eventDriven) {
      if (scenarios.includes('heal')) {
        results.heal = await runHealLatency(
          servers,
          eventDriven,
          sizes.heal,
          random,
          progress,
          logger,
        );
      }
      if (scenarios.includes('fork')) {
        results.fork = await runForkLatency(servers, eventDriven, sizes.fork, progress);
      }
      if (scenarios.includes('throughput')) {
        results.throughput = await runThroughput(
          servers,
          eventDriven,
          sizes.throughput,
          progress,
          logger,
        );
      }
      if (scenarios.includes('memory')) {
        const backlog =
          results.throughput !== undefined && results.throughput.drainSeconds === null;
        if (backlog) {
          // Heals still queued would keep the service busy while memory is measured.
          progress.log('bench: replacing the service by one on new topics, without the backlog');
          await eventDriven.restartService(`${runId}m.`);
        }
        results.memory = await runMemory(
          servers,
          eventDriven,
          sizes.memory,
          random,
          progress,
          logger,
          backlog,
        );
      }
    }
  } finally {
    progress.log('bench: stopping processes');
    await Promise.all([polling?.stop(), eventDriven?.stop()]);
    await servers?.stop();
  }

  results.loadAverage.end = loadAverage();
  results.durationSeconds = progress.elapsedSeconds();
  await writeOutputs(options, results);
  progress.log(`bench: wrote ${join(options.outDir, 'REPORT.md')}`);
}

/**
 * Starts the environments that the chosen scenarios need, one after the other: two services
 * creating their topics at the same moment made one fail at start-up (kafkajs raised
 * UNKNOWN_TOPIC_OR_PARTITION while waiting for the new topics' leaders).
 */
async function startEnvironments(
  servers: Servers,
  scenarios: readonly ScenarioName[],
  runId: string,
  logDir: string,
): Promise<[ServiceEnvironment | undefined, ServiceEnvironment | undefined]> {
  const polling = scenarios.includes('polling')
    ? await startEnvironment(servers, 'polling', `${runId}p.`, logDir)
    : undefined;
  try {
    const needsEventDriven = EVENT_DRIVEN_SCENARIOS.some((name) => scenarios.includes(name));
    const eventDriven = needsEventDriven
      ? await startEnvironment(servers, 'event-driven', `${runId}e.`, logDir)
      : undefined;
    return [polling, eventDriven];
  } catch (error) {
    await polling?.stop();
    throw error;
  }
}

async function writeOutputs(options: BenchOptions, results: BenchResults): Promise<void> {
  const series: Series[] = [];
  if (results.heal) {
    series.push({ label: 'event-driven', color: '#1f77b4', samplesMs: results.heal.latenciesMs });
  }
  if (results.polling) {
    series.push({
      label: `polling with refresh-stale every ${results.polling.sizes.pollIntervalMs / 1000} s`,
      color: '#d62728',
      samplesMs: results.polling.latenciesMs,
    });
  }
  if (series.length > 0) {
    await writeFile(
      join(options.outDir, CHART_FILE),
      renderCdfPng('Heal latency: stream end at the media node to member update', series),
    );
    results.chartFile = CHART_FILE;
  }
  await writeFile(join(options.outDir, 'REPORT.md'), renderReport(results));
}

try {
  await main();
  // Idle keep-alive sockets to the stopped services could otherwise delay the exit.
  process.exit(0);
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}

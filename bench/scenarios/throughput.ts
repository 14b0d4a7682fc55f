/**
 * Heal throughput: every mirror of many destinations ends at its media node as fast as the
 * bench can send the ends, and the service heals them. Heals are counted as their MirrorHealed
 * events arrive on fork.events, over a window that starts at the first end. At the end of the
 * window the bench reads the consumer lag of the service's groups from the broker.
 */
import type { Logger } from 'pino';
import { sleep } from '../concurrency.ts';
import { readConsumerLag, waitForNoLag, type GroupLag } from '../consumer-lag.ts';
import {
  processesOf,
  waitUntilIdle,
  type ServiceEnvironment,
  type Servers,
} from '../environment.ts';
import { HealEventLog } from '../fork-events.ts';
import { endAllAtOnce } from '../mirror-ends.ts';
import type { BenchSizes } from '../options.ts';
import { CpuMeter, readProcessMemory, type ProcessMemory } from '../process-stats.ts';
import type { Progress } from '../progress.ts';
import { Seeder } from '../seed.ts';
import { createSource, sourceStreams } from '../setup.ts';
import { summarize, type Summary } from '../stats.ts';

/** End calls in flight: enough to keep the three media nodes busy. */
const END_CONCURRENCY = 64;
/**
 * Heals in the first seconds of the window (at most a third of it) are left out of the
 * sustained rate, while the ends are still filling the pipeline.
 */
const RAMP_UP_MS = 10_000;

export interface ThroughputResult {
  sizes: BenchSizes['throughput'];
  mirrors: number;
  /** Seconds the bench took to create the mirrors (setup, not measured by the scenario). */
  seedSeconds: number;
  ended: number;
  endSeconds: number;
  /** Heals that arrived within the window. */
  healedInWindow: number;
  /** Heals per second over the window after its ramp-up. */
  sustainedHealsPerSecond: number;
  /** Heals per second over the whole window. */
  windowHealsPerSecond: number;
  /** Heal latency of the heals that arrived in the window, queueing included. */
  latency: Summary;
  /** Lag of the service's consumer groups at the end of the window. */
  lag: GroupLag[];
  cpu: { name: string; cpuSeconds: number }[];
  /** The service's memory at the end of the window. */
  serviceMemory: ProcessMemory;
  /**
   * Seconds from the last end until the service's consumers had no lag, or null when they
   * still lagged `drainTimeoutMs` after the window.
   */
  drainSeconds: number | null;
  /** False when the service still lagged behind the setup's work as the ends began. */
  startedIdle: boolean;
}

export async function runThroughput(
  servers: Servers,
  environment: ServiceEnvironment,
  sizes: BenchSizes['throughput'],
  progress: Progress,
  logger: Logger,
): Promise<ThroughputResult> {
  const { pcast, media } = environment;
  const source = await createSource(pcast, sizes.mirrorsPerDestination, 1);
  const streams = await sourceStreams(pcast, source);
  const seeder = await Seeder.open(servers.mongodbUri, environment.mongoDbName, media, logger);
  const total = sizes.destinations * sizes.mirrorsPerDestination;
  let mirrors;
  const seedStart = performance.now();
  try {
    progress.log(`throughput: creating ${sizes.destinations} channels with ${total} mirrors`);
    const channels = await seeder.createChannels(sizes.destinations, 'throughput');
    mirrors = await seeder.mirrorInto(channels, streams, (done) =>
      progress.tick(`throughput: ${done}/${total} mirrors created`),
    );
  } finally {
    await seeder.close();
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const startedIdle = await waitUntilIdle(servers, environment, progress, 'throughput');

  const events = await HealEventLog.open(servers.kafkaBrokers, environment.topicPrefix, logger);
  try {
    const cpu = new CpuMeter(processesOf(servers, environment));
    await cpu.start();
    progress.log(`throughput: ending ${mirrors.length} mirrors as fast as possible`);
    const start = performance.now();
    let lastEndAt = start;
    const ending = endAllAtOnce(media, mirrors, END_CONCURRENCY, (ended) =>
      progress.tick(`throughput: ${ended}/${mirrors.length} ended, ${events.heals.size} healed`),
    ).then(() => {
      lastEndAt = performance.now();
    });

    const rampUpMs = Math.min(RAMP_UP_MS, sizes.windowMs / 3);
    await sleep(rampUpMs);
    const healedAfterRampUp = events.heals.size;
    while (performance.now() - start < sizes.windowMs) {
      progress.tick(`throughput: ${events.heals.size} healed`);
      await sleep(250);
    }
    const windowSeconds = (performance.now() - start) / 1000;
    const healed = [...events.heals.values()];
    const lag = await readConsumerLag(servers.kafkaBrokers, environment.topicPrefix);
    const serviceMemory = await readProcessMemory(environment.service.pid);
    const cpuUsed = await cpu.stop();
    await ending;
    progress.log(
      `throughput: ${healed.length} healed in ${windowSeconds.toFixed(0)} s; ` +
        `lag ${lag.map((group) => `${group.groupId}=${group.lag}`).join(' ')}`,
    );
    const drained = await waitForNoLag(
      servers.kafkaBrokers,
      environment.topicPrefix,
      sizes.drainTimeoutMs,
      (total) => progress.tick(`throughput: draining the backlog (lag ${total})`),
    );
    const drainSeconds = drained === null ? null : (performance.now() - lastEndAt) / 1000;
    return {
      sizes,
      mirrors: mirrors.length,
      seedSeconds,
      ended: mirrors.length,
      endSeconds: (lastEndAt - start) / 1000,
      healedInWindow: healed.length,
      sustainedHealsPerSecond:
        (healed.length - healedAfterRampUp) / (windowSeconds - rampUpMs / 1000),
      windowHealsPerSecond: healed.length / windowSeconds,
      latency: summarize(healed.flatMap((event) => event.durationMs ?? [])),
      lag,
      cpu: cpuUsed,
      serviceMemory,
      drainSeconds,
      startedIdle,
    };
  } finally {
    await events.close();
  }
}

/**
 * Fork latency: a source channel whose members each publish two streams is forked into a new,
 * empty channel, one fork at a time. Each latency runs from sending the REST call to its reply,
 * which the service sends once every member has joined with its mirrors.
 */
import {
  processesOf,
  waitUntilIdle,
  type ServiceEnvironment,
  type Servers,
} from '../environment.ts';
import type { BenchSizes } from '../options.ts';
import { CpuMeter } from '../process-stats.ts';
import type { Progress } from '../progress.ts';
import { createSource } from '../setup.ts';
import { summarize, type Summary } from '../stats.ts';

export interface ForkLatencyResult {
  sizes: BenchSizes['fork'];
  latenciesMs: number[];
  summary: Summary;
  /** Mirrors created per second of fork latency, at the median. */
  mirrorsPerSecondAtMedian: number;
  /** CPU seconds each process used during the timed forks. */
  cpu: { name: string; cpuSeconds: number }[];
  /** False when the service still lagged behind the setup's work as the forks began. */
  startedIdle: boolean;
}

export async function runForkLatency(
  servers: Servers,
  environment: ServiceEnvironment,
  sizes: BenchSizes['fork'],
  progress: Progress,
): Promise<ForkLatencyResult> {
  const { pcast } = environment;
  progress.log(
    `fork latency: publishing a source of ${sizes.members} members with ` +
      `${sizes.streamsPerMember} streams each`,
  );
  const source = await createSource(pcast, sizes.members, sizes.streamsPerMember);
  const startedIdle = await waitUntilIdle(servers, environment, progress, 'fork latency');

  const cpu = new CpuMeter(processesOf(servers, environment));
  await cpu.start();
  const latenciesMs: number[] = [];
  for (let repetition = 1; repetition <= sizes.repetitions; repetition += 1) {
    const destinationId = await pcast.createChannel(`Bench fork target ${repetition}`);
    const start = performance.now();
    await pcast.fork(destinationId, source.channelId);
    latenciesMs.push(performance.now() - start);
    progress.log(
      `fork latency: fork ${repetition}/${sizes.repetitions} took ` +
        `${Math.round(latenciesMs.at(-1) ?? 0)} ms`,
    );
  }
  const summary = summarize(latenciesMs);
  return {
    sizes,
    latenciesMs,
    summary,
    mirrorsPerSecondAtMedian: (sizes.members * sizes.streamsPerMember) / (summary.p50 / 1000),
    cpu: await cpu.stop(),
    startedIdle,
  };
}

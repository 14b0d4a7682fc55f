/**
 * Heal latency, event-driven: mirrors end at their media nodes at random moments, and the
 * service replaces each one on its own. The latency of each heal is the `durationMs` of its
 * MirrorHealed event: the service's time of the member write that points at the replacement,
 * minus the media node's time of the stream-ended event.
 */
import type { Logger } from 'pino';
import { waitUntilIdle, type ServiceEnvironment, type Servers } from '../environment.ts';
import { HealEventLog } from '../fork-events.ts';
import { endOnSchedule } from '../mirror-ends.ts';
import type { BenchSizes } from '../options.ts';
import type { Progress } from '../progress.ts';
import { randomOffsets, sample, type Random } from '../random.ts';
import { carriedMirrors, createSource, forkIntoNewChannels } from '../setup.ts';
import { summarize, type Summary } from '../stats.ts';

export interface HealLatencyResult {
  sizes: BenchSizes['heal'];
  /** Mirrors the destinations carried before the ends. */
  mirrors: number;
  ended: number;
  /** Ended mirrors for which no MirrorHealed event arrived within the settle timeout. */
  unhealed: number;
  latenciesMs: number[];
  summary: Summary;
  /** False when the service still lagged behind the setup's work as the ends began. */
  startedIdle: boolean;
}

export async function runHealLatency(
  servers: Servers,
  environment: ServiceEnvironment,
  sizes: BenchSizes['heal'],
  random: Random,
  progress: Progress,
  logger: Logger,
): Promise<HealLatencyResult> {
  const { pcast, media } = environment;
  const events = await HealEventLog.open(servers.kafkaBrokers, environment.topicPrefix, logger);
  try {
    progress.log(
      `heal latency: forking ${sizes.membersPerDestination} members with 2 streams each ` +
        `into ${sizes.destinations} channels`,
    );
    const source = await createSource(pcast, sizes.membersPerDestination, 2);
    const destinations = await forkIntoNewChannels(pcast, source, sizes.destinations, (done) =>
      progress.tick(`heal latency: ${done}/${sizes.destinations} forks done`),
    );
    const mirrors = await carriedMirrors(pcast, media, destinations);
    const chosen = sample(mirrors, sizes.ends, random);
    const offsets = randomOffsets(chosen.length, sizes.spreadMs, random);
    const startedIdle = await waitUntilIdle(servers, environment, progress, 'heal latency');

    progress.log(
      `heal latency: ending ${chosen.length} of ${mirrors.length} mirrors at random moments ` +
        `over ${sizes.spreadMs / 1000} s`,
    );
    await endOnSchedule(media, chosen, offsets, performance.now(), (ended) =>
      progress.tick(
        `heal latency: ${ended}/${chosen.length} mirrors ended, ${events.heals.size} healed`,
      ),
    );
    const ids = chosen.map((mirror) => mirror.streamId);
    const unhealed = await events.waitFor(ids, sizes.settleTimeoutMs, (healed) =>
      progress.tick(`heal latency: ${healed}/${ids.length} healed`),
    );
    const latenciesMs = ids.flatMap((id) => {
      const durationMs = events.heals.get(id)?.durationMs;
      return durationMs === undefined || durationMs === null ? [] : [durationMs];
    });
    progress.log(`heal latency: ${latenciesMs.length}/${ids.length} healed`);
    return {
      sizes,
      mirrors: mirrors.length,
      ended: chosen.length,
      unhealed: unhealed.length,
      latenciesMs,
      summary: summarize(latenciesMs),
      startedIdle,
    };
  } finally {
    await events.close();
  }
}

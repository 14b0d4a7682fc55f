/**
 * Heal latency, polling baseline: the service runs without automatic healing, and a client
 * forks every destination with `refresh-stale` at a fixed interval, as operators do without
 * it. Mirrors end at random moments. Each latency is measured like the event-driven one, from
 * times that the service's components record: the member record's `lastUpdate` once it points
 * at a live replacement, minus the media node's time of the stream-ended event.
 */
import type { MediaCluster } from '../../media/media-cluster.ts';
import { sleep } from '../concurrency.ts';
import { waitUntilIdle, type ServiceEnvironment, type Servers } from '../environment.ts';
import { endOnSchedule } from '../mirror-ends.ts';
import type { BenchSizes } from '../options.ts';
import { streamIdOf, type PcastClient } from '../pcast-client.ts';
import type { Progress } from '../progress.ts';
import { randomOffsets, sample, type Random } from '../random.ts';
import { carriedMirrors, createSource, forkIntoNewChannels, type CarriedMirror } from '../setup.ts';
import { summarize, type Summary } from '../stats.ts';

export interface PollingBaselineResult {
  sizes: BenchSizes['polling'];
  mirrors: number;
  ended: number;
  /** Ended mirrors still not replaced when the bench stopped polling. */
  unhealed: number;
  latenciesMs: number[];
  summary: Summary;
  /** Duration of each polling fork, from the REST call to its reply. */
  pollForkMs: number[];
  /** False when the service still lagged behind the setup's work as the ends began. */
  startedIdle: boolean;
}

/** Polling continues this many intervals after the last end, for the forks to catch up. */
const EXTRA_POLLS = 3;

export async function runPollingBaseline(
  servers: Servers,
  environment: ServiceEnvironment,
  sizes: BenchSizes['polling'],
  random: Random,
  progress: Progress,
): Promise<PollingBaselineResult> {
  const { pcast, media } = environment;
  progress.log(
    `polling baseline: forking ${sizes.membersPerDestination} members with 2 streams each ` +
      `into ${sizes.destinations} channels`,
  );
  const source = await createSource(pcast, sizes.membersPerDestination, 2);
  const destinations = await forkIntoNewChannels(pcast, source, sizes.destinations);
  const mirrors = await carriedMirrors(pcast, media, destinations);
  const chosen = sample(mirrors, sizes.ends, random);
  const offsets = randomOffsets(chosen.length, sizes.windowMs, random);
  const pending = new Map(chosen.map((mirror) => [mirror.streamId, mirror]));
  const latenciesMs: number[] = [];
  const pollForkMs: number[] = [];
  const endTimes = new EndTimes(media);
  const startedIdle = await waitUntilIdle(servers, environment, progress, 'polling baseline');

  progress.log(
    `polling baseline: ending ${chosen.length} of ${mirrors.length} mirrors over ` +
      `${sizes.windowMs / 1000} s while a client forks with refresh-stale every ` +
      `${sizes.pollIntervalMs / 1000} s`,
  );
  const startedAt = performance.now();
  const ending = endOnSchedule(media, chosen, offsets, startedAt);
  const deadline = startedAt + sizes.windowMs + EXTRA_POLLS * sizes.pollIntervalMs;
  for (let round = 0; pending.size > 0 && performance.now() < deadline; round += 1) {
    const roundStart = startedAt + round * sizes.pollIntervalMs;
    await sleep(roundStart - performance.now());
    await Promise.all(
      destinations.map(async (destinationId) => {
        const forkStart = performance.now();
        await pcast.fork(destinationId, source.channelId, ['refresh-stale']);
        pollForkMs.push(performance.now() - forkStart);
        const replaced = await replacedMirrors(pcast, destinationId, pending);
        for (const { mirror, replacedAt } of replaced) {
          pending.delete(mirror.streamId);
          latenciesMs.push(replacedAt - (await endTimes.of(mirror)));
        }
      }),
    );
    progress.log(
      `polling baseline: poll ${round + 1} done, ${chosen.length - pending.size}/` +
        `${chosen.length} replaced`,
    );
  }
  await ending;
  return {
    sizes,
    mirrors: mirrors.length,
    ended: chosen.length,
    unhealed: pending.size,
    latenciesMs,
    summary: summarize(latenciesMs),
    pollForkMs,
    startedIdle,
  };
}

/**
 * Returns the pending mirrors of the destination whose member now points at live streams only
 * and no longer at the mirror, with the member record's `lastUpdate`.
 */
async function replacedMirrors(
  pcast: PcastClient,
  destinationId: string,
  pending: ReadonlyMap<string, CarriedMirror>,
): Promise<{ mirror: CarriedMirror; replacedAt: number }[]> {
  const waiting = [...pending.values()].filter((mirror) => mirror.destinationId === destinationId);
  if (waiting.length === 0) {
    return [];
  }
  const members = await pcast.members(destinationId);
  const replaced = [];
  for (const mirror of waiting) {
    const member = members.find((candidate) => candidate.sessionId === mirror.sessionId);
    if (member === undefined) {
      continue;
    }
    const streamIds = member.streams.map((stream) => streamIdOf(stream.uri));
    if (streamIds.includes(mirror.streamId)) {
      continue;
    }
    const states = await Promise.all(streamIds.map(async (id) => (await pcast.stream(id)).state));
    if (states.every((state) => state === 'started')) {
      replaced.push({ mirror, replacedAt: member.lastUpdate });
    }
  }
  return replaced;
}

/** The media nodes' times of stream-ended events, read from each node's lifecycle log. */
class EndTimes {
  readonly #media: MediaCluster;
  readonly #endedAt = new Map<string, number>();
  readonly #cursor = new Map<string, number>();

  constructor(media: MediaCluster) {
    this.#media = media;
  }

  async of(mirror: CarriedMirror): Promise<number> {
    let endedAt = this.#endedAt.get(mirror.streamId);
    if (endedAt === undefined) {
      await this.#read(mirror.nodeId);
      endedAt = this.#endedAt.get(mirror.streamId);
    }
    if (endedAt === undefined) {
      throw new Error(`media node ${mirror.nodeId} logged no end of mirror ${mirror.streamId}`);
    }
    return endedAt;
  }

  async #read(nodeId: string): Promise<void> {
    for (;;) {
      const after = this.#cursor.get(nodeId) ?? 0;
      const batch = await this.#media.lifecycleEvents(nodeId, { after, limit: 1_000, waitMs: 0 });
      if (batch.gap) {
        throw new Error(`media node ${nodeId} dropped lifecycle events before the bench read them`);
      }
      for (const event of batch.events) {
        if (event.event === 'ended' && !this.#endedAt.has(event.streamId)) {
          this.#endedAt.set(event.streamId, event.at);
        }
      }
      this.#cursor.set(nodeId, batch.next);
      if (batch.events.length === 0) {
        return;
      }
    }
  }
}

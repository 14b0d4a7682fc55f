/** Consumer lag of the service's groups, read from the broker with the Kafka admin API. */
import kafkajs from 'kafkajs';
import { sleep } from './concurrency.ts';

/** Prefix of the consumer groups of the bench's own readers, which are not the service's. */
export const BENCH_GROUP_PREFIX = 'bench-';

export interface GroupLag {
  /** Group id without the topic prefix, such as `executor`. */
  groupId: string;
  /** Messages published to the group's topics and not yet committed by it. */
  lag: number;
}

/**
 * Sums each of the service's groups' lag over its partitions. A partition with no committed offset counts in
 * full from its low watermark, since the group has processed none of it.
 */
export async function readConsumerLag(
  kafkaBrokers: string,
  topicPrefix: string,
): Promise<GroupLag[]> {
  const kafka = new kafkajs.Kafka({
    clientId: 'fork-bench-lag',
    brokers: kafkaBrokers.split(','),
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const result: GroupLag[] = [];
    const watermarks = new Map<string, Map<number, { low: bigint; high: bigint }>>();
    const serviceGroups = groups.filter(
      (group) =>
        group.groupId.startsWith(topicPrefix) &&
        !group.groupId.startsWith(topicPrefix + BENCH_GROUP_PREFIX),
    );
    for (const { groupId } of serviceGroups) {
      let lag = 0n;
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId })) {
        let marks = watermarks.get(topic);
        if (marks === undefined) {
          const offsets = await admin.fetchTopicOffsets(topic);
          marks = new Map(
            offsets.map((entry) => [
              entry.partition,
              { low: BigInt(entry.low), high: BigInt(entry.high) },
            ]),
          );
          watermarks.set(topic, marks);
        }
        for (const { partition, offset } of partitions) {
          const mark = marks.get(partition);
          if (mark === undefined) {
            continue;
          }
          const committed = BigInt(offset) < 0n ? mark.low : BigInt(offset);
          lag += mark.high > committed ? mark.high - committed : 0n;
        }
      }
      result.push({ groupId: groupId.slice(topicPrefix.length), lag: Number(lag) });
    }
    return result.sort((a, b) => a.groupId.localeCompare(b.groupId));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until no group of the service lags, so that a measurement does not start behind the
 * work of its setup. Returns the seconds waited, or null when the lag stayed above zero for
 * `timeoutMs`.
 */
export async function waitForNoLag(
  kafkaBrokers: string,
  topicPrefix: string,
  timeoutMs: number,
  onLag: (total: number) => void = () => undefined,
): Promise<number | null> {
  const start = performance.now();
  for (;;) {
    const lag = await readConsumerLag(kafkaBrokers, topicPrefix);
    const total = lag.reduce((sum, group) => sum + group.lag, 0);
    if (total === 0) {
      return (performance.now() - start) / 1000;
    }
    if (performance.now() - start > timeoutMs) {
      return null;
    }
    onLag(total);
    await sleep(500);
  }
}

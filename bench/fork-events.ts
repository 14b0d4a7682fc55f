/**
 * Reads the service's `fork.events` topic from Kafka, as an analytics consumer would, and keeps
 * the MirrorHealed events: their `durationMs` is the heal latency that the service records.
 */
import type { Logger } from 'pino';
import type { Bus, Subscription } from '../bus/bus.ts';
import { createKafkaBus } from '../bus/kafka-bus.ts';
import { namespacedBus } from '../bus/namespaced-bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkEventMessage } from '../schemas/types.ts';
import { sleep } from './concurrency.ts';
import { BENCH_GROUP_PREFIX } from './consumer-lag.ts';

export class HealEventLog {
  /** MirrorHealed events by the id of the mirror they replaced. */
  readonly heals = new Map<string, ForkEventMessage>();
  readonly #bus: Bus;
  readonly #subscription: Subscription;

  private constructor(bus: Bus, groupId: string) {
    this.#bus = bus;
    this.#subscription = bus.consume({
      groupId,
      topics: [TOPICS.forkEvents],
      fromBeginning: false,
      handler: async (message) => {
        const event = codecs.forkEvent.decode(message.value);
        const replaced = event.streamIds[1];
        if (event.type === 'MirrorHealed' && replaced !== undefined) {
          this.heals.set(replaced, event);
        }
      },
    });
  }

  /** Subscribes to the topic and resolves once events published from now on are seen. */
  static async open(
    kafkaBrokers: string,
    topicPrefix: string,
    logger: Logger,
  ): Promise<HealEventLog> {
    const bus = namespacedBus(
      createKafkaBus({ brokers: kafkaBrokers.split(','), clientId: 'fork-bench', logger }),
      topicPrefix,
    );
    const log = new HealEventLog(
      bus,
      `${BENCH_GROUP_PREFIX}heal-events-${process.pid}-${Date.now()}`,
    );
    await log.#subscription.ready;
    return log;
  }

  /**
   * Waits until a MirrorHealed event arrived for every id, or the timeout passed. Returns the
   * ids still missing. `onProgress` is called about once a second with the count received.
   */
  async waitFor(
    replacedIds: readonly string[],
    timeoutMs: number,
    onProgress: (received: number) => void = () => undefined,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let lastReport = 0;
    for (;;) {
      const missing = replacedIds.filter((id) => !this.heals.has(id));
      if (missing.length === 0 || Date.now() > deadline) {
        return missing;
      }
      if (Date.now() - lastReport >= 1_000) {
        lastReport = Date.now();
        onProgress(replacedIds.length - missing.length);
      }
      await sleep(50);
    }
  }

  async close(): Promise<void> {
    await this.#subscription.stop();
    await this.#bus.close();
  }
}

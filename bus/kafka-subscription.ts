/**
 * One `consume` call on the Kafka bus: a kafkajs consumer with manual commits.
 *
 * Retries pause the partition instead of looping inside `eachMessage`. kafkajs 2.2.4 sends the
 * next fetch to a broker only after every batch of the previous fetch from it was handled
 * (src/consumer/fetcher.js), so a handler retrying in place would stall every partition led by
 * that broker. A failed message is instead sought back to, its partition paused for the
 * backoff and then resumed, and the next fetch delivers it again. The offset stays uncommitted
 * throughout, and the consumer keeps its partitions because it keeps fetching and heartbeating.
 *
 * NOTE: the same fetch rule means a slow handler (one that does not fail) still delays the other
 * partitions led by its broker until it returns. kafkajs also heartbeats only between messages,
 * so a handler running longer than the session timeout (kafkajs default 30 s) loses its
 * partitions to a rebalance, and the message is delivered again.
 */
import kafkajs, { type Consumer, type EachMessagePayload, type IHeaders } from 'kafkajs';
import type { Logger } from 'pino';
import type { BusMessage, ConsumeOptions, Headers, Subscription } from './bus.ts';
import type { KafkaConsumerSettings } from './kafka-bus.ts';
import { retryDelayMs } from './retry.ts';

const { KafkaJSNonRetriableError } = kafkajs;

/** Retry state of the message at the head of one partition. */
interface PartitionRetry {
  offset: string;
  attempt: number;
  timer?: NodeJS.Timeout;
}

export class KafkaSubscription implements Subscription {
  readonly ready: Promise<void>;
  private readonly consumer: Consumer;
  private readonly logger: Logger;
  private readonly topics: string[];
  private readonly fromBeginning: boolean;
  private readonly retries = new Map<string, PartitionRetry>();
  private resolveReady: () => void = () => undefined;
  private rejectReady: (error: unknown) => void = () => undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly options: ConsumeOptions,
    private readonly settings: KafkaConsumerSettings,
    private readonly onStopped: () => void,
  ) {
    this.topics = [...new Set(options.topics)];
    this.fromBeginning = options.fromBeginning ?? true;
    this.logger = settings.logger.child({ groupId: options.groupId });
    this.consumer = settings.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: settings.maxWaitTimeInMs,
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Callers that never await `ready` must not turn a failed start into an unhandled
    // rejection: the failure is logged in start().
    this.ready.catch(ignoreHandledElsewhere);
  }

  get groupId(): string {
    return this.options.groupId;
  }

  get topicNames(): readonly string[] {
    return this.topics;
  }

  start(): void {
    this.starting = this.run().catch((error: unknown) => {
      this.logger.error({ err: error, topics: this.topics }, 'kafka consumer failed to start');
      this.rejectReady(error);
    });
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.shutDown();
    }
    return this.stopping;
  }

  private get stopped(): boolean {
    return this.stopping !== undefined;
  }

  private async run(): Promise<void> {
    await this.settings.ensureTopics(this.topics);
    if (this.stopped) {
      return;
    }

    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.onGroupJoin(event.payload.memberAssignment);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      const { error, restart } = event.payload;
      this.logger.error({ err: error, restart }, 'kafka consumer crashed');
      if (!restart) {
        this.rejectReady(error);
      }
    });

    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: this.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
      eachMessage: (payload) => this.handle(payload),
    });
  }

  private async shutDown(): Promise<void> {
    for (const retry of this.retries.values()) {
      clearTimeout(retry.timer);
    }
    this.retries.clear();
    await this.starting;
    try {
      // Resolves after the in-flight eachMessage calls returned and the member left the group.
      await this.consumer.disconnect();
    } finally {
      this.rejectReady(new Error(`subscription of group ${this.options.groupId} was stopped`));
      this.onStopped();
    }
  }

  /**
   * Calls the handler and commits the next offset once it resolved. A failure leaves the offset
   * uncommitted and schedules the message again after a backoff (see the file comment).
   */
  private async handle({ topic, partition, message }: EachMessagePayload): Promise<void> {
    if (this.stopped) {
      // Skipped messages are never committed, so the group's next member receives them.
      return;
    }
    const busMessage: BusMessage = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString('utf8') ?? '',
      value: message.value ?? Buffer.alloc(0),
      headers: decodeHeaders(message.headers),
      timestamp: Number(message.timestamp),
    };

    try {
      await this.options.handler(busMessage);
    } catch (error) {
      if (!this.stopped) {
        this.scheduleRetry(busMessage, error);
      }
      return;
    }

    this.retries.delete(partitionKey(topic, partition));
    await this.consumer.commitOffsets([
      { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
    ]);
  }

  private scheduleRetry(message: BusMessage, error: unknown): void {
    const { topic, partition, offset } = message;
    const key = partitionKey(topic, partition);
    const previous = this.retries.get(key);
    const attempt = previous?.offset === offset ? previous.attempt + 1 : 1;
    const delayMs = retryDelayMs(attempt, this.settings.backoff);
    this.logger.warn(
      { err: error, topic, partition, offset, attempt, delayMs },
      'message handler failed, retrying after backoff',
    );

    // Pausing makes kafkajs stop handling this partition's batch after this message, and the
    // seek makes the fetch after the resume start at this message again.
    this.consumer.pause([{ topic, partitions: [partition] }]);
    this.consumer.seek({ topic, partition, offset });
    const retry: PartitionRetry = { offset, attempt };
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      if (!this.stopped) {
        this.consumer.resume([{ topic, partitions: [partition] }]);
      }
    }, delayMs);
    this.retries.set(key, retry);
  }

  /**
   * Resolves `ready` once the member owns its partitions. With `fromBeginning: false`, kafkajs
   * would look up the log end of a partition without a committed offset only at its first
   * fetch, after the join, so a message published in between would be skipped. Those
   * partitions are therefore paused while the current log end is committed as the group's
   * start and sought to, and `ready` resolves after that.
   */
  private onGroupJoin(assignment: Record<string, number[]>): void {
    this.logger.info({ assignment }, 'kafka consumer joined its group');
    if (this.fromBeginning) {
      this.resolveReady();
      return;
    }

    const assigned = Object.entries(assignment).map(([topic, partitions]) => ({
      topic,
      partitions,
    }));
    this.consumer.pause(assigned);
    this.commitLogEndWhereUncommitted(assigned)
      .catch((error: unknown) => {
        // The partitions then start where kafkajs resolves them, at the log end of their first
        // fetch, which may miss messages published right after `ready`.
        this.logger.warn({ err: error, assignment }, 'failed to commit the start offsets');
      })
      .finally(() => {
        this.resumeUnlessRetrying(assigned);
        this.resolveReady();
      });
  }

  private async commitLogEndWhereUncommitted(
    assigned: Array<{ topic: string; partitions: number[] }>,
  ): Promise<void> {
    const admin = await this.settings.admin();
    const committed = await admin.fetchOffsets({
      groupId: this.options.groupId,
      topics: assigned.map(({ topic }) => topic),
    });

    const starts: Array<{ topic: string; partition: number; offset: string }> = [];
    for (const { topic, partitions } of assigned) {
      const committedByPartition = new Map(
        committed
          .find((entry) => entry.topic === topic)
          ?.partitions.map((entry) => [entry.partition, entry.offset]),
      );
      const uncommitted = partitions.filter(
        (partition) => (committedByPartition.get(partition) ?? '-1') === '-1',
      );
      if (uncommitted.length === 0) {
        continue;
      }
      const logEnds = await admin.fetchTopicOffsets(topic);
      for (const partition of uncommitted) {
        const logEnd = logEnds.find((entry) => entry.partition === partition);
        if (!logEnd) {
          throw new KafkaJSNonRetriableError(`no log end offset for ${topic}/${partition}`);
        }
        starts.push({ topic, partition, offset: logEnd.high });
      }
    }

    if (starts.length === 0) {
      return;
    }
    await this.consumer.commitOffsets(starts);
    for (const start of starts) {
      this.consumer.seek(start);
    }
    this.logger.debug({ starts }, 'committed the log end as the group start');
  }

  private resumeUnlessRetrying(assigned: Array<{ topic: string; partitions: number[] }>): void {
    const resumable = assigned.map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.filter((partition) => {
        const retry = this.retries.get(partitionKey(topic, partition));
        return retry?.timer === undefined;
      }),
    }));
    this.consumer.resume(resumable);
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** Decodes header values to strings. Of a header repeated in one record, the last value wins. */
function decodeHeaders(headers: IHeaders | undefined): Headers {
  const decoded: Headers = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) {
      decoded[name] = Buffer.isBuffer(last) ? last.toString('utf8') : last;
    }
  }
  return decoded;
}

function ignoreHandledElsewhere(): void {}

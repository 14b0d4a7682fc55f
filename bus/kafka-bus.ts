/**
 * Kafka adapter of the bus port, on kafkajs 2.2.4. Publishing goes through one idempotent
 * producer with ZSTD compression; each `consume` call runs its own kafkajs consumer (see
 * kafka-subscription.ts). Topics are created on first use with `defaultPartitions`, because a
 * broker's own auto-creation would use its `num.partitions` (1 unless configured).
 */
import kafkajs, { type Admin, type Kafka as KafkaClient, type Producer } from 'kafkajs';
import { pino, type Logger } from 'pino';
import type {
  Bus,
  ConsumeOptions,
  ConsumerLag,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from './bus.ts';
import { registerZstdCodec } from './kafka-codecs.ts';
import { kafkaLogLevel, pinoLogCreator } from './kafka-log.ts';
import { KafkaSubscription } from './kafka-subscription.ts';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry.ts';
import { DEFAULT_PARTITIONS } from './topics.ts';
import {
  validateConsumeOptions,
  validateOutgoingMessages,
  validateTopicSpecs,
} from './validate.ts';

const { CompressionTypes, Kafka, Partitioners } = kafkajs;

export interface KafkaBusOptions {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** Partition count of topics created on first publish or consume. Default 6. */
  defaultPartitions?: number;
  /** Replication factor of created topics. Default -1: the broker's `default.replication.factor`. */
  replicationFactor?: number;
  /** Delay before the first retry of a failed handler, ms, doubled per attempt. Default 100. */
  retryBackoffMs?: number;
  /** Upper bound of the retry delay, ms. Default 10000. */
  maxRetryBackoffMs?: number;
  /** Batches (one per partition) one consumer handles at once. Default: `defaultPartitions`. */
  partitionsConsumedConcurrently?: number;
  /**
   * Maximum time a fetch waits for new messages, ms. It also bounds how late a paused partition
   * resumes after its retry backoff. Default 1000.
   */
  maxWaitTimeInMs?: number;
}

/** Settings a subscription takes from its bus. */
export interface KafkaConsumerSettings {
  kafka: KafkaClient;
  logger: Logger;
  backoff: RetryBackoff;
  partitionsConsumedConcurrently: number;
  maxWaitTimeInMs: number;
  admin: () => Promise<Admin>;
  ensureTopics: (topics: string[]) => Promise<void>;
}

/** Creates a Kafka bus. Connections open on first use; `close()` ends them all. */
export function createKafkaBus(options: KafkaBusOptions): Bus {
  return new KafkaBus(options);
}

class KafkaBus implements Bus {
  private readonly kafka: KafkaClient;
  private readonly logger: Logger;
  private readonly defaultPartitions: number;
  private readonly replicationFactor: number;
  private readonly settings: KafkaConsumerSettings;
  private readonly subscriptions = new Set<KafkaSubscription>();
  /** Topics known to exist or being created, so publish and consume request each creation once. */
  private readonly knownTopics = new Map<string, Promise<void>>();
  private producerConnection: Promise<Producer> | undefined;
  private adminConnection: Promise<Admin> | undefined;
  private closed = false;

  constructor(options: KafkaBusOptions) {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
      throw new TypeError('invalid brokers: expected a non-empty array of host:port strings');
    }
    this.defaultPartitions = options.defaultPartitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(this.defaultPartitions) || this.defaultPartitions < 1) {
      throw new RangeError(
        `invalid defaultPartitions ${String(options.defaultPartitions)}: expected an integer >= 1`,
      );
    }
    this.replicationFactor = options.replicationFactor ?? -1;
    this.logger = (options.logger ?? pino({ name: 'bus' })).child({ adapter: 'kafka' });

    registerZstdCodec();
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: kafkaLogLevel(this.logger),
      logCreator: pinoLogCreator(this.logger),
    });

    const initialMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF.initialMs;
    this.settings = {
      kafka: this.kafka,
      logger: this.logger,
      backoff: {
        initialMs,
        maxMs: Math.max(options.maxRetryBackoffMs ?? DEFAULT_RETRY_BACKOFF.maxMs, initialMs),
      },
      partitionsConsumedConcurrently:
        options.partitionsConsumedConcurrently ?? this.defaultPartitions,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 1_000,
      admin: () => this.admin(),
      ensureTopics: (topics) => this.ensureKnownTopics(topics),
    };
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    this.assertOpen();
    validateTopicSpecs(specs);
    if (specs.length === 0) {
      return;
    }
    const admin = await this.admin();
    const created = await admin.createTopics({
      topics: specs.map((spec) => ({
        topic: spec.topic,
        numPartitions: spec.partitions,
        replicationFactor: this.replicationFactor,
      })),
    });
    // createTopics returns false when every topic already existed. An existing topic keeps its
    // partition count: Kafka never changes it on create.
    this.logger.debug({ topics: specs.map((spec) => spec.topic), created }, 'topics ensured');
    for (const spec of specs) {
      this.knownTopics.set(spec.topic, Promise.resolve());
    }
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    validateOutgoingMessages(topic, messages);
    if (messages.length === 0) {
      return;
    }
    await this.ensureKnownTopics([topic]);
    const producer = await this.producer();
    await producer.send({
      topic,
      compression: CompressionTypes.ZSTD,
      messages: messages.map((message) => ({
        key: message.key,
        value: message.value,
        headers: message.headers ?? {},
      })),
    });
  }

  consume(options: ConsumeOptions): Subscription {
    this.assertOpen();
    validateConsumeOptions(options);
    const subscription = new KafkaSubscription(options, this.settings, () =>
      this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /**
   * Reads each group's committed offsets and each topic's high watermark from the brokers, so
   * the lag is the brokers' view at the time of the call, not a cached one.
   */
  async consumerLag(): Promise<ConsumerLag[]> {
    this.assertOpen();
    const topicsByGroup = new Map<string, Set<string>>();
    for (const subscription of this.subscriptions) {
      const topics = topicsByGroup.get(subscription.groupId) ?? new Set<string>();
      subscription.topicNames.forEach((topic) => topics.add(topic));
      topicsByGroup.set(subscription.groupId, topics);
    }
    const admin = await this.admin();
    const allTopics = [...new Set([...topicsByGroup.values()].flatMap((topics) => [...topics]))];
    const highWatermarks = new Map<string, Map<number, bigint>>();
    for (const topic of allTopics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      highWatermarks.set(
        topic,
        new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)])),
      );
    }

    const entries: ConsumerLag[] = [];
    for (const [groupId, topics] of topicsByGroup) {
      const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
      for (const { topic, partitions } of committed) {
        for (const { partition, offset } of partitions) {
          const high = highWatermarks.get(topic)?.get(partition);
          // kafkajs reports -1 for a partition the group has committed nothing on.
          if (high === undefined || BigInt(offset) < 0n) {
            continue;
          }
          entries.push({ groupId, topic, partition, lag: Number(high - BigInt(offset)) });
        }
      }
    }
    return entries;
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    const results = await Promise.allSettled([
      this.producerConnection?.then((producer) => producer.disconnect()),
      this.adminConnection?.then((admin) => admin.disconnect()),
    ]);
    for (const result of results) {
      if (result.status === 'rejected') {
        this.logger.warn({ err: result.reason }, 'kafka client failed to disconnect');
      }
    }
  }

  /** Creates the topics this bus has not seen yet, with the default partition count. */
  private async ensureKnownTopics(topics: string[]): Promise<void> {
    const pending = topics.map((topic) => {
      let creation = this.knownTopics.get(topic);
      if (!creation) {
        creation = this.ensureTopics([{ topic, partitions: this.defaultPartitions }]);
        this.knownTopics.set(topic, creation);
        // A failed creation is tried again by the next caller.
        creation.catch(() => this.knownTopics.delete(topic));
      }
      return creation;
    });
    await Promise.all(pending);
  }

  private producer(): Promise<Producer> {
    if (!this.producerConnection) {
      const producer = this.kafka.producer({
        // Explicit, because kafkajs 2.x warns when the default partitioner is left implicit.
        createPartitioner: Partitioners.DefaultPartitioner,
        // The idempotent producer gets sequence numbers per partition, so its retries neither
        // duplicate nor reorder messages; kafkajs requires one request in flight for that.
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
      });
      const connection = producer.connect().then(() => producer);
      this.producerConnection = connection;
      connection.catch(() => (this.producerConnection = undefined));
    }
    return this.producerConnection;
  }

  private admin(): Promise<Admin> {
    if (!this.adminConnection) {
      const admin = this.kafka.admin();
      const connection = admin.connect().then(() => admin);
      this.adminConnection = connection;
      connection.catch(() => (this.adminConnection = undefined));
    }
    return this.adminConnection;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Error('kafka bus is closed: create a new bus to publish or consume');
    }
  }
}

/**
 * Checks that kafkajs 2.2.4, which predates Kafka 4, works against the Kafka 4 broker of the
 * test setup. Kafka 4 raised the minimum version of several protocol APIs (Kafka 4.4 serves
 * Fetch from version 4 and OffsetCommit from 2, for example), and kafkajs sends at most the
 * versions it implements. The first test compares the two ranges for every API kafkajs implements,
 * and the others exercise the calls the service makes.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import * as zstd from '@mongodb-js/zstd';
import kafkajs, {
  type Admin,
  type Consumer,
  type EachMessagePayload,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { kafkaBrokers } from './env.ts';

const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, Partitioners, logLevel } =
  kafkajs;

interface Received {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

let kafka: InstanceType<typeof Kafka>;

beforeAll(() => {
  // kafkajs ships no zstd codec. The registration is process-wide, so other test files that run
  // in the same worker get it too.
  CompressionCodecs[CompressionTypes.ZSTD] = () => ({
    compress: (encoder: { buffer: Buffer }) => zstd.compress(encoder.buffer),
    decompress: (buffer: Buffer) => zstd.decompress(buffer),
  });
  kafka = new Kafka({
    clientId: 'kafka-compat-test',
    brokers: kafkaBrokers().split(','),
    logLevel: logLevel.WARN,
  });
});

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

async function connectedAdmin(): Promise<Admin> {
  const admin = kafka.admin();
  await admin.connect();
  onTestFinished(() => admin.disconnect());
  return admin;
}

async function connectedProducer(config: ProducerConfig = {}): Promise<Producer> {
  // Naming the partitioner silences the kafkajs warning about its changed default.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    ...config,
  });
  await producer.connect();
  onTestFinished(() => producer.disconnect());
  return producer;
}

async function connectedConsumer(groupId: string): Promise<Consumer> {
  // disconnect() waits for the fetch in flight, which waits up to maxWaitTimeInMs (default 5 s)
  // on a topic with no new messages.
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
  await consumer.connect();
  onTestFinished(() => consumer.disconnect());
  return consumer;
}

/**
 * Runs the consumer until `count` messages arrived, committing each offset by hand after the
 * message is handled, which is how the service commits.
 */
async function consumeAndCommit(
  consumer: Consumer,
  topic: string,
  count: number,
): Promise<Received[]> {
  const received: Received[] = [];
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const eachMessage = async ({ partition, message }: EachMessagePayload) => {
      received.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
      });
      const next = (BigInt(message.offset) + 1n).toString();
      await consumer.commitOffsets([{ topic, partition, offset: next }]);
      if (received.length === count) {
        resolve();
      }
    };
    consumer.run({ autoCommit: false, eachMessage }).catch(reject);
  });
  return received;
}

/** Polls read() until it returns expected or 10 s passed, and returns the last value read. */
async function waitForValue<T>(expected: T, read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

/** Version range of one protocol API that the broker reported in its ApiVersions reply. */
interface VersionRange {
  minVersion: number;
  maxVersion: number;
}

/**
 * Returns, for each API that kafkajs implements, its highest request version and the range the
 * broker serves. The kafkajs modules used here are internal and have no type declarations.
 */
async function compareApiVersions(): Promise<
  { api: string; kafkajsMax: number; broker: VersionRange }[]
> {
  const require = createRequire(import.meta.url);
  const apiKeys: Record<string, number> = require('kafkajs/src/protocol/requests/apiKeys');
  const { requests } = require('kafkajs/src/protocol/requests') as {
    requests: Record<string, { versions: string[] }>;
  };
  const ConnectionPool = require('kafkajs/src/network/connectionPool');
  const Broker = require('kafkajs/src/broker');
  const socketFactory = require('kafkajs/src/network/socketFactory');
  const { createLogger, LEVELS } = require('kafkajs/src/loggers');

  const [host, port] = kafkaBrokers().split(',')[0]?.split(':') ?? [];
  const logger = createLogger({ level: LEVELS.NOTHING, logCreator: () => () => undefined });
  const connectionPool = new ConnectionPool({
    host,
    port: Number(port),
    logger,
    socketFactory: socketFactory(),
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
    enforceRequestTimeout: true,
    maxInFlightRequests: null,
  });
  const broker = new Broker({ connectionPool, logger });
  await broker.connect();
  try {
    const brokerVersions = broker.versions as Record<string, VersionRange>;
    return Object.entries(apiKeys).flatMap(([api, key]) => {
      const versions = requests[api]?.versions.map(Number) ?? [];
      const range = brokerVersions[key];
      if (versions.length === 0 || range === undefined) {
        return [];
      }
      return [{ api, kafkajsMax: Math.max(...versions), broker: range }];
    });
  } finally {
    await broker.disconnect();
  }
}

describe('kafkajs 2.2.4 against Kafka 4', () => {
  test('every kafkajs API version is served', async () => {
    const apis = await compareApiVersions();

    // Produce, Fetch, the group APIs and the admin APIs kafkajs implements: about 30.
    expect(apis.length).toBeGreaterThan(25);
    const unserved = apis.filter(({ kafkajsMax, broker }) => kafkajsMax < broker.minVersion);
    expect(unserved).toEqual([]);
  });

  test('admin creates and describes topics', async () => {
    const admin = await connectedAdmin();
    const topic = uniqueName('compat-admin');

    const created = await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 2,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toContain(topic);

    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(3);

    const configs = await admin.describeConfigs({
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] },
      ],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');

    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toHaveLength(1);

    await admin.deleteTopics({ topics: [topic] });
    expect(await admin.listTopics()).not.toContain(topic);
  });

  test('plain, gzip and zstd batches reach a consumer group', async () => {
    const admin = await connectedAdmin();
    const topic = uniqueName('compat-produce');
    const groupId = uniqueName('compat-group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

    const producer = await connectedProducer();
    const batches = [
      { compression: CompressionTypes.None, key: 'room-a', values: ['plain-1', 'plain-2'] },
      { compression: CompressionTypes.GZIP, key: 'room-b', values: ['gzip-1', 'gzip-2'] },
      { compression: CompressionTypes.ZSTD, key: 'room-c', values: ['zstd-1', 'zstd-2'] },
    ];
    for (const batch of batches) {
      const metadata = await producer.send({
        topic,
        compression: batch.compression,
        messages: batch.values.map((value) => ({ key: batch.key, value })),
      });
      expect(metadata[0]?.errorCode).toBe(0);
    }

    const consumer = await connectedConsumer(groupId);
    const received = await consumeAndCommit(consumer, topic, 6);

    for (const batch of batches) {
      const values = received.filter((message) => message.key === batch.key);
      // Messages with one key share a partition and keep their publish order.
      expect(values.map((message) => message.value)).toEqual(batch.values);
      expect(new Set(values.map((message) => message.partition)).size).toBe(1);
    }

    const running = await admin.describeGroups([groupId]);
    expect(running.groups[0]?.state).toBe('Stable');
    expect(running.groups[0]?.members).toHaveLength(1);

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedByPartition = new Map(
      committed[0]?.partitions.map((entry) => [entry.partition, entry.offset]),
    );
    const latest = await admin.fetchTopicOffsets(topic);
    for (const partition of latest) {
      const expected = partition.high === '0' ? '-1' : partition.high;
      expect(committedByPartition.get(partition.partition)).toBe(expected);
    }

    await consumer.disconnect();
    const stopped = await admin.describeGroups([groupId]);
    expect(stopped.groups[0]?.state).toBe('Empty');
  });

  test('producer auto-creates missing topic', async () => {
    const admin = await connectedAdmin();
    const producer = await connectedProducer();
    const topic = uniqueName('compat-auto');

    const metadata = await producer.send({ topic, messages: [{ key: 'k', value: 'v' }] });

    expect(metadata[0]?.errorCode).toBe(0);
    expect(await admin.listTopics()).toContain(topic);
  });

  test('admin sets and deletes group offsets', async () => {
    const admin = await connectedAdmin();
    const producer = await connectedProducer();
    const topic = uniqueName('compat-offsets');
    const groupId = uniqueName('compat-group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] });

    // kafkajs commits these offsets through a consumer that joins the group, which takes
    // about 5 s: its default fetch wait.
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets[0]?.partitions[0]?.offset).toBe('2');

    const byTimestamp = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - 60_000);
    expect(byTimestamp[0]?.offset).toBe('0');

    const deleted = await admin.deleteGroups([groupId]);
    expect(deleted[0]?.errorCode).toBe(0);
  });

  test('transactional producer commits with offsets', async () => {
    const admin = await connectedAdmin();
    const topic = uniqueName('compat-tx');
    const groupId = uniqueName('compat-group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });

    const producer = await connectedProducer({
      transactionalId: uniqueName('compat-tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const transaction = await producer.transaction();
    await transaction.send({ topic, messages: [{ key: 'k', value: 'in-transaction' }] });
    await transaction.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }],
    });
    await transaction.commit();

    // commit() returns once the coordinator logged the decision. It writes the commit markers,
    // which make the offsets and the record visible, a moment later.
    const committedOffset = await waitForValue('1', async () => {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      return offsets[0]?.partitions[0]?.offset;
    });
    expect(committedOffset).toBe('1');
    // The record and the commit marker each take one offset.
    const highWatermark = await waitForValue('2', async () => {
      const latest = await admin.fetchTopicOffsets(topic);
      return latest[0]?.high;
    });
    expect(highWatermark).toBe('2');
  });
});

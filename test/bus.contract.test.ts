/**
 * Contract of the bus port (bus/bus.ts), run against the in-memory adapter and against a real
 * Kafka broker. Every test uses its own topics and groups, so tests do not see each other's
 * messages on the shared broker.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Bus, BusMessage, ConsumeOptions, MessageHandler, Subscription } from '../bus/bus.ts';
import { withDeadLetter } from '../bus/dead-letter.ts';
import { DecodeError } from '../bus/decode-error.ts';
import { createKafkaBus } from '../bus/kafka-bus.ts';
import { createMemoryBus } from '../bus/memory-bus.ts';
import { partitionForKey } from '../bus/partitioner.ts';
import { deadLetterTopic, DEFAULT_PARTITIONS } from '../bus/topics.ts';
import { kafkaBrokers } from './infra/env.ts';

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs;
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

interface AdapterFixture {
  name: string;
  /** Upper bound for one message to travel from publish to handler, ms. */
  deliveryTimeoutMs: number;
  createBus(): Bus;
  /** Deletes the topics a test created, where the adapter keeps them beyond the bus. */
  deleteTopics(topics: string[]): Promise<void>;
}

/** Returns the brokers of the test Kafka; fails with a message naming the missing setting. */
function brokerList(): string[] {
  return kafkaBrokers()
    .split(',')
    .map((broker) => broker.trim());
}

const fixtures: AdapterFixture[] = [
  {
    name: 'memory',
    deliveryTimeoutMs: 2_000,
    createBus: () => createMemoryBus({ retryBackoffMs: 20, maxRetryBackoffMs: 200, logger }),
    deleteTopics: async () => undefined,
  },
  {
    name: 'kafka',
    deliveryTimeoutMs: 15_000,
    createBus: () =>
      createKafkaBus({
        brokers: brokerList(),
        clientId: 'bus-contract-test',
        retryBackoffMs: 50,
        maxRetryBackoffMs: 500,
        logger,
      }),
    deleteTopics: async (topics) => {
      if (topics.length === 0) {
        return;
      }
      const admin = new Kafka({
        brokers: brokerList(),
        clientId: 'bus-contract-cleanup',
        logLevel: logLevel.NOTHING,
      }).admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const created = topics.filter((topic) => existing.has(topic));
        if (created.length > 0) {
          await admin.deleteTopics({ topics: created, timeout: 10_000 });
        }
      } finally {
        await admin.disconnect();
      }
    },
  },
];

/** Polls until `check` returns true, and fails naming `what` once the timeout passes. */
async function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(10);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function text(message: BusMessage): string {
  return message.value.toString('utf8');
}

describe.each(fixtures)('bus on $name', (fixture) => {
  let bus: Bus;

  beforeAll(() => {
    bus = fixture.createBus();
  });

  // Topics are deleted only after the bus closed: a kafkajs client keeps refreshing metadata
  // of every topic it has used and fails its requests once one of them is gone.
  const createdTopics: string[] = [];
  afterAll(async () => {
    await bus?.close();
    await fixture.deleteTopics(createdTopics);
  });

  // Cleanups run last-registered first.
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (let cleanup = cleanups.pop(); cleanup; cleanup = cleanups.pop()) {
      await cleanup();
    }
  });

  /** Returns a fresh topic name. The topic and its dead-letter topic are deleted after the suite. */
  function newTopic(label: string): string {
    const topic = `test.bus.${label}.${randomUUID().slice(0, 8)}`;
    createdTopics.push(topic, deadLetterTopic(topic));
    return topic;
  }

  function newGroup(label: string): string {
    return `test-bus-${label}-${randomUUID().slice(0, 8)}`;
  }

  /** Subscribes, stops the subscription after the test, and waits until it is ready. */
  async function subscribe(options: ConsumeOptions): Promise<Subscription> {
    const subscription = bus.consume(options);
    cleanups.push(() => subscription.stop());
    await subscription.ready;
    return subscription;
  }

  function collect(): { messages: BusMessage[]; handler: MessageHandler } {
    const messages: BusMessage[] = [];
    return {
      messages,
      handler: async (message) => {
        messages.push(message);
      },
    };
  }

  test('round-trips key, value, headers and timestamp', async () => {
    const topic = newTopic('roundtrip');
    await bus.ensureTopics([{ topic, partitions: 3 }]);
    const received = collect();
    await subscribe({ groupId: newGroup('roundtrip'), topics: [topic], handler: received.handler });

    const before = Date.now();
    const value = Buffer.from([0, 1, 2, 250, 255]);
    await bus.publish(topic, [
      {
        key: 'us-east#app#room.abc',
        value,
        headers: { 'content-type': 'application/json', 'x-trace': 'é #1' },
      },
      { key: 'no-headers', value: Buffer.alloc(0) },
    ]);
    await waitFor(() => received.messages.length === 2, '2 messages', fixture.deliveryTimeoutMs);

    const [first, second] = received.messages.sort((a, b) => a.key.localeCompare(b.key));
    expect(first?.topic).toBe(topic);
    expect(first?.key).toBe('no-headers');
    expect(first?.value.length).toBe(0);
    expect(first?.headers).toEqual({});
    expect(second?.key).toBe('us-east#app#room.abc');
    expect(second?.value.equals(value)).toBe(true);
    expect(second?.headers).toEqual({ 'content-type': 'application/json', 'x-trace': 'é #1' });
    expect(second?.timestamp).toBeGreaterThanOrEqual(before - 1_000);
    expect(second?.timestamp).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(typeof second?.offset).toBe('string');
  });

  test('consumer lag counts uncommitted messages', async () => {
    const topic = newTopic('lag');
    await bus.ensureTopics([{ topic, partitions: 1 }]);
    const groupId = newGroup('lag');
    let gate: Promise<void> = Promise.resolve();
    let release: () => void = () => undefined;
    const received = collect();
    await subscribe({
      groupId,
      topics: [topic],
      handler: async (message) => {
        await received.handler(message);
        await gate;
      },
    });
    // Registered after the subscription, so it runs first and no stop waits on the gate.
    cleanups.push(async () => release());
    const lagOfGroup = async () =>
      (await bus.consumerLag())
        .filter((entry) => entry.groupId === groupId && entry.topic === topic)
        .reduce((sum, entry) => sum + entry.lag, 0);
    const waitForLag = async (expected: number) => {
      const deadline = Date.now() + fixture.deliveryTimeoutMs;
      while ((await lagOfGroup()) !== expected && Date.now() < deadline) {
        await delay(50);
      }
      return lagOfGroup();
    };

    // A first message gives the group a committed offset; before that, its lag is unknown.
    await bus.publish(topic, [{ key: 'k', value: Buffer.from('0') }]);
    await waitFor(() => received.messages.length === 1, 'first message', fixture.deliveryTimeoutMs);
    expect(await waitForLag(0)).toBe(0);

    gate = new Promise<void>((resolve) => (release = resolve));
    await bus.publish(topic, [
      { key: 'k', value: Buffer.from('1') },
      { key: 'k', value: Buffer.from('2') },
      { key: 'k', value: Buffer.from('3') },
    ]);
    await waitFor(
      () => received.messages.length === 2,
      'blocked message',
      fixture.deliveryTimeoutMs,
    );
    expect(await lagOfGroup()).toBe(3);

    release();
    await waitFor(() => received.messages.length === 4, '4 messages', fixture.deliveryTimeoutMs);
    expect(await waitForLag(0)).toBe(0);
  });

  test('same key always maps to the same partition', async () => {
    const topic = newTopic('partition');
    const received = collect();
    await subscribe({ groupId: newGroup('partition'), topics: [topic], handler: received.handler });

    const keys = Array.from({ length: 20 }, (_, i) => `room-${i}`);
    for (let round = 0; round < 3; round++) {
      await bus.publish(
        topic,
        keys.map((key) => ({ key, value: Buffer.from(String(round)) })),
      );
    }
    await waitFor(() => received.messages.length === 60, '60 messages', fixture.deliveryTimeoutMs);

    for (const key of keys) {
      const partitions = new Set(
        received.messages.filter((m) => m.key === key).map((m) => m.partition),
      );
      expect(partitions.size, `partitions of key ${key}`).toBe(1);
      // Auto-created topics have DEFAULT_PARTITIONS, and both adapters use Kafka's murmur2 mapping.
      expect([...partitions][0], `partition of key ${key}`).toBe(
        partitionForKey(key, DEFAULT_PARTITIONS),
      );
    }
    const used = new Set(received.messages.map((m) => m.partition));
    expect(used.size).toBeGreaterThan(1);
  });

  test('keeps per-key order and one call per partition', async () => {
    const topic = newTopic('order');
    await bus.ensureTopics([{ topic, partitions: 4 }]);
    const seen = new Map<string, number[]>();
    const active = new Map<number, number>();
    let maxActivePerPartition = 0;
    let maxActiveOverall = 0;
    let handled = 0;

    await subscribe({
      groupId: newGroup('order'),
      topics: [topic],
      handler: async (message) => {
        const running = (active.get(message.partition) ?? 0) + 1;
        active.set(message.partition, running);
        maxActivePerPartition = Math.max(maxActivePerPartition, running);
        const overall = [...active.values()].reduce((sum, n) => sum + n, 0);
        maxActiveOverall = Math.max(maxActiveOverall, overall);
        await delay(Math.random() < 0.1 ? 2 : 0);
        const sequence = seen.get(message.key) ?? [];
        sequence.push(Number(text(message)));
        seen.set(message.key, sequence);
        active.set(message.partition, running - 1);
        handled += 1;
      },
    });

    const keyCount = 100;
    const perKey = 10;
    for (let round = 0; round < perKey; round++) {
      const batch = Array.from({ length: keyCount }, (_, k) => ({
        key: `key-${k}`,
        value: Buffer.from(String(round)),
      }));
      await bus.publish(topic, batch);
    }
    await waitFor(
      () => handled === keyCount * perKey,
      `${keyCount * perKey} messages`,
      fixture.deliveryTimeoutMs * 2,
    );

    const expected = Array.from({ length: perKey }, (_, i) => i);
    for (let k = 0; k < keyCount; k++) {
      expect(seen.get(`key-${k}`), `sequence of key-${k}`).toEqual(expected);
    }
    expect(maxActivePerPartition).toBe(1);
    expect(maxActiveOverall).toBeGreaterThan(1);
  });

  test('a failing partition does not hold up the others', async () => {
    const topic = newTopic('independent');
    await bus.ensureTopics([{ topic, partitions: 2 }]);
    const failingKey = keyOnPartition(0, 2);
    const healthyKey = keyOnPartition(1, 2);
    let failing = true;
    let failedCalls = 0;
    const handled: string[] = [];

    await subscribe({
      groupId: newGroup('independent'),
      topics: [topic],
      handler: async (message) => {
        if (message.key === failingKey && failing) {
          failedCalls += 1;
          throw new Error('injected failure until released');
        }
        handled.push(message.key);
      },
    });

    await bus.publish(topic, [{ key: failingKey, value: Buffer.from('failing') }]);
    await waitFor(() => failedCalls >= 2, 'a retry', fixture.deliveryTimeoutMs);
    await bus.publish(topic, [{ key: healthyKey, value: Buffer.from('healthy') }]);
    await waitFor(
      () => handled.includes(healthyKey),
      'the healthy partition',
      fixture.deliveryTimeoutMs,
    );
    expect(handled).toEqual([healthyKey]);

    failing = false;
    await waitFor(() => handled.length === 2, 'the failing partition', fixture.deliveryTimeoutMs);
    expect(handled).toEqual([healthyKey, failingKey]);
  });

  test('retries a failing handler without skipping the message', async () => {
    const topic = newTopic('retry');
    const calls: string[] = [];
    let failuresLeft = 2;

    await subscribe({
      groupId: newGroup('retry'),
      topics: [topic],
      handler: async (message) => {
        calls.push(text(message));
        if (text(message) === 'first' && failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('injected handler failure');
        }
      },
    });

    await bus.publish(topic, [
      { key: 'room-1', value: Buffer.from('first') },
      { key: 'room-1', value: Buffer.from('second') },
      { key: 'room-1', value: Buffer.from('third') },
    ]);
    await waitFor(() => calls.includes('third'), 'the third message', fixture.deliveryTimeoutMs);
    await delay(200);

    expect(calls).toEqual(['first', 'first', 'first', 'second', 'third']);
  });

  test('a restarted group resumes after its committed offset', async () => {
    const topic = newTopic('restart');
    const groupId = newGroup('restart');
    const firstRun: string[] = [];

    const first = await subscribe({
      groupId,
      topics: [topic],
      handler: async (message) => {
        firstRun.push(text(message));
        if (text(message) === 'm3') {
          throw new Error('injected failure: m3 stays uncommitted');
        }
      },
    });
    await bus.publish(
      topic,
      ['m1', 'm2', 'm3', 'm4'].map((value) => ({ key: 'room-1', value: Buffer.from(value) })),
    );
    await waitFor(() => firstRun.includes('m3'), 'm3 in the first run', fixture.deliveryTimeoutMs);
    await first.stop();
    const stoppedAt = firstRun.length;
    await delay(300);
    expect(firstRun.length, 'handler calls after stop() resolved').toBe(stoppedAt);
    expect(firstRun.slice(0, 3)).toEqual(['m1', 'm2', 'm3']);
    expect(firstRun).not.toContain('m4');

    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('m5') }]);
    const secondRun = collect();
    await subscribe({ groupId, topics: [topic], handler: secondRun.handler });
    await waitFor(() => secondRun.messages.length >= 3, 'm3..m5', fixture.deliveryTimeoutMs);
    await delay(200);

    expect(secondRun.messages.map(text)).toEqual(['m3', 'm4', 'm5']);
  });

  test('stop waits for the in-flight handler', async () => {
    const topic = newTopic('stop');
    let finished = false;
    let started = false;
    const subscription = await subscribe({
      groupId: newGroup('stop'),
      topics: [topic],
      handler: async () => {
        started = true;
        await delay(300);
        finished = true;
      },
    });
    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('slow') }]);
    await waitFor(() => started, 'the handler to start', fixture.deliveryTimeoutMs);

    await subscription.stop();
    expect(finished).toBe(true);
  });

  test('fromBeginning false starts at the end', async () => {
    const topic = newTopic('latest');
    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('before') }]);
    const received = collect();
    await subscribe({
      groupId: newGroup('latest'),
      topics: [topic],
      handler: received.handler,
      fromBeginning: false,
    });

    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('after') }]);
    await waitFor(() => received.messages.length >= 1, 'one message', fixture.deliveryTimeoutMs);
    await delay(200);

    expect(received.messages.map(text)).toEqual(['after']);
  });

  test('fromBeginning false commits where the group started', async () => {
    const topic = newTopic('latest-restart');
    const groupId = newGroup('latest-restart');
    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('before') }]);
    const first = await subscribe({
      groupId,
      topics: [topic],
      handler: async () => undefined,
      fromBeginning: false,
    });
    await first.stop();

    // The group never handled a message, yet its start was committed: a restart resumes there
    // instead of jumping to the new end past the messages published while it was down.
    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('while-down') }]);
    const received = collect();
    await subscribe({ groupId, topics: [topic], handler: received.handler, fromBeginning: false });
    await waitFor(() => received.messages.length >= 1, 'one message', fixture.deliveryTimeoutMs);
    await delay(200);

    expect(received.messages.map(text)).toEqual(['while-down']);
  });

  test('fromBeginning defaults to true', async () => {
    const topic = newTopic('earliest');
    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('before') }]);
    const received = collect();
    await subscribe({ groupId: newGroup('earliest'), topics: [topic], handler: received.handler });

    await bus.publish(topic, [{ key: 'room-1', value: Buffer.from('after') }]);
    await waitFor(() => received.messages.length >= 2, 'two messages', fixture.deliveryTimeoutMs);
    await delay(200);

    expect(received.messages.map(text)).toEqual(['before', 'after']);
  });

  test('two groups each get every message', async () => {
    const topic = newTopic('groups');
    const a = collect();
    const b = collect();
    await subscribe({ groupId: newGroup('groups-a'), topics: [topic], handler: a.handler });
    await subscribe({ groupId: newGroup('groups-b'), topics: [topic], handler: b.handler });

    const values = Array.from({ length: 30 }, (_, i) => `v${i}`);
    await bus.publish(
      topic,
      values.map((value, i) => ({ key: `room-${i % 7}`, value: Buffer.from(value) })),
    );
    await waitFor(() => a.messages.length === 30, 'group a', fixture.deliveryTimeoutMs);
    await waitFor(() => b.messages.length === 30, 'group b', fixture.deliveryTimeoutMs);

    expect(a.messages.map(text).sort()).toEqual([...values].sort());
    expect(b.messages.map(text).sort()).toEqual([...values].sort());
  });

  test('poison message goes to the dead-letter topic', async () => {
    const topic = newTopic('dlq');
    const dlq = deadLetterTopic(topic);
    const decoded: unknown[] = [];
    let transientFailures = 1;

    const handler = withDeadLetter(
      bus,
      async (message) => {
        let body: unknown;
        try {
          body = JSON.parse(text(message));
        } catch (error) {
          throw new DecodeError(`invalid JSON at offset ${message.offset}`, { cause: error });
        }
        if (transientFailures > 0) {
          transientFailures -= 1;
          throw new Error('injected transient failure');
        }
        decoded.push(body);
      },
      { logger },
    );
    const deadLetters = collect();
    await subscribe({ groupId: newGroup('dlq'), topics: [topic], handler });
    await subscribe({
      groupId: newGroup('dlq-reader'),
      topics: [dlq],
      handler: deadLetters.handler,
    });

    await bus.publish(topic, [
      {
        key: 'room-1',
        value: Buffer.from('{not json'),
        headers: { 'content-type': 'application/json' },
      },
      { key: 'room-1', value: Buffer.from('{"n":1}') },
    ]);
    await waitFor(() => decoded.length === 1, 'the valid message', fixture.deliveryTimeoutMs);
    await waitFor(
      () => deadLetters.messages.length === 1,
      'the dead letter',
      fixture.deliveryTimeoutMs,
    );
    await delay(200);

    expect(decoded).toEqual([{ n: 1 }]);
    expect(deadLetters.messages).toHaveLength(1);
    const [dead] = deadLetters.messages;
    expect(dead?.key).toBe('room-1');
    expect(dead?.value.toString('utf8')).toBe('{not json');
    expect(dead?.headers['content-type']).toBe('application/json');
    expect(dead?.headers['x-error']).toMatch(/^invalid JSON at offset \d+$/);
    expect(dead?.headers['x-error-class']).toBe('DecodeError');
    expect(dead?.headers['x-original-topic']).toBe(topic);
    expect(dead?.headers['x-original-partition']).toBe(
      String(partitionForKey('room-1', DEFAULT_PARTITIONS)),
    );
    expect(dead?.headers['x-original-offset']).toBe('0');
  });

  test.runIf(fixture.name === 'kafka')('round-trips a large zstd-compressed value', async () => {
    const topic = newTopic('zstd');
    const received = collect();
    await subscribe({ groupId: newGroup('zstd'), topics: [topic], handler: received.handler });

    // Counts the batches the registered ZSTD codec compresses, so the test fails if the
    // producer sent them uncompressed.
    const zstdFactory = CompressionCodecs[CompressionTypes.ZSTD];
    let compressedBatches = 0;
    CompressionCodecs[CompressionTypes.ZSTD] = () => {
      const codec = zstdFactory();
      return {
        compress: async (encoder: { buffer: Buffer }) => {
          compressedBatches += 1;
          return codec.compress(encoder);
        },
        decompress: (buffer: Buffer) => codec.decompress(buffer),
      };
    };
    cleanups.push(async () => {
      CompressionCodecs[CompressionTypes.ZSTD] = zstdFactory;
    });

    // About 4 MiB of compressible text with random islands: over the broker's default
    // message.max.bytes of about 1 MiB, so the broker accepts it only compressed.
    const chunks: Buffer[] = [];
    for (let i = 0; i < 4096; i++) {
      const line = `{"member":${i},"streams":["pcast://host/stream-${i}"]}`;
      chunks.push(Buffer.from(line.padEnd(1000, ' ')));
      chunks.push(randomBytes(24));
    }
    const value = Buffer.concat(chunks);
    expect(value.length).toBeGreaterThan(4_000_000);
    await bus.publish(topic, [{ key: 'room-1', value }]);
    await waitFor(
      () => received.messages.length === 1,
      'the large message',
      fixture.deliveryTimeoutMs,
    );

    expect(compressedBatches).toBeGreaterThanOrEqual(1);
    expect(received.messages[0]?.value.equals(value)).toBe(true);
  });
});

/** Finds a key that the murmur2 partitioner maps to `partition` of `partitions`. */
function keyOnPartition(partition: number, partitions: number): string {
  for (let i = 0; ; i++) {
    const key = `room-${i}`;
    if (partitionForKey(key, partitions) === partition) {
      return key;
    }
  }
}

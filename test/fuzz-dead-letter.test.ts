/**
 * Garbage bytes on every topic the service consumes, on the real Kafka broker: each message
 * lands in its topic's dead-letter topic with the error in its headers, and a valid fork
 * published after them still completes. The consumed topics are read from the broker's
 * consumer groups, so a consumer added later is covered without editing this test.
 */
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import type { BusMessage } from '../bus/bus.ts';
import { DEAD_LETTER_HEADERS } from '../bus/dead-letter.ts';
import { TOPICS, deadLetterTopic } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import { kafkaBrokers } from './infra/env.ts';
import { PcastClient } from './support/pcast.ts';
import { APP, startTestService, waitFor, type TestService } from './support/service.ts';

const { Kafka, AssignerProtocol, logLevel } = kafkajs;

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
});

afterAll(async () => {
  await service?.stop();
});

/** Topics that the service's consumer groups are assigned, without the service's prefix. */
async function consumedTopics(prefix: string): Promise<string[]> {
  const admin = new Kafka({
    brokers: kafkaBrokers().split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const groupIds = groups.map((group) => group.groupId).filter((id) => id.startsWith(prefix));
    const described = await admin.describeGroups(groupIds);
    const topics = new Set<string>();
    for (const group of described.groups) {
      for (const member of group.members) {
        const assignment = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
        for (const topic of Object.keys(assignment?.assignment ?? {})) {
          topics.add(topic.slice(prefix.length));
        }
      }
    }
    return [...topics].sort();
  } finally {
    await admin.disconnect();
  }
}

describe('dead-letter topics', () => {
  test('garbage on every consumed topic is dead-lettered', async () => {
    const topics = await waitFor(async () => {
      const found = await consumedTopics(service.topicPrefix);
      return found.includes(TOPICS.forkRequests) && found.includes(TOPICS.mirrorCommands)
        ? found
        : undefined;
    });
    console.log(`consumed topics under test: ${topics.join(', ')}`);
    expect(topics).toEqual(
      expect.arrayContaining([TOPICS.forkRequests, TOPICS.mirrorCommands, TOPICS.forkEvents]),
    );

    const dead: BusMessage[] = [];
    const subscription = service.bus.consume({
      groupId: `dlq-reader-${Date.now()}`,
      topics: topics.map(deadLetterTopic),
      fromBeginning: false,
      handler: async (message) => {
        dead.push(message);
      },
    });
    onTestFinished(() => subscription.stop());
    await subscription.ready;

    const client = new PcastClient(service);
    const source = await client.sourceWith(1, { streams: 1 });
    const destination = await client.createChannel('Dead letters');
    const garbage = (topic: string) =>
      Buffer.from(`\u0000garbage for ${topic} \u00ff\u00fe`, 'latin1');
    for (const topic of topics) {
      await service.bus.publish(topic, [
        { key: destination.channelId, value: garbage(topic), headers: { 'x-test': 'garbage' } },
      ]);
    }

    // A fork after the garbage: its request, commands and events share partitions with it.
    const reply = await client.fork(destination.channelId, source.channelId);
    expect(reply.code).toBe(200);
    expect(reply.body.members.map((member: { sessionId: string }) => member.sessionId)).toEqual(
      source.sessions,
    );

    for (const topic of topics) {
      const letter = await waitFor(
        async () =>
          dead.find((message) => message.headers[DEAD_LETTER_HEADERS.originalTopic] === topic),
        { timeoutMs: 20_000 },
      );
      expect(letter.topic, topic).toBe(deadLetterTopic(topic));
      expect(letter.value.equals(garbage(topic)), topic).toBe(true);
      expect(letter.key, topic).toBe(destination.channelId);
      expect(letter.headers['x-test'], topic).toBe('garbage');
      expect(letter.headers[DEAD_LETTER_HEADERS.error], topic).toMatch(/.+/);
      expect(letter.headers[DEAD_LETTER_HEADERS.errorClass], topic).toBe('DecodeError');
    }
  });

  test('fork produced to Kafka after garbage completes', async () => {
    const client = new PcastClient(service);
    const source = await client.sourceWith(1, { streams: 1 });
    const destination = await client.createChannel('After garbage');
    const forkId = `after-garbage-${Date.now()}`;

    await service.bus.publish(TOPICS.forkRequests, [
      { key: destination.channelId, value: Buffer.from([0xc3, 0x01, 0xff]) },
      {
        key: destination.channelId,
        value: Buffer.from('{"roomId": 7}'),
        headers: { 'content-type': 'application/json' },
      },
      {
        key: destination.channelId,
        value: codecs.forkRequest.encode({
          forkId,
          applicationId: APP.id,
          roomId: destination.channelId,
          sourceRoomId: source.channelId,
          streamCapabilities: [],
          streamTags: [],
          options: [],
          desiredRegion: null,
          requested: Date.now(),
        }),
      },
    ]);

    const record = await waitFor(async () => {
      const stored = await service.store.forks.get(forkId);
      return stored?.state === 'completed' ? stored : undefined;
    });
    expect(record.status).toBe('ok');
    expect(record.joined).toEqual(source.sessions);
  });
});

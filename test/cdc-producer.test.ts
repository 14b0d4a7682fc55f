import { pino } from 'pino';
import { describe, expect, onTestFinished, test } from 'vitest';
import type { BusMessage } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory-bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { CDC_CHECKPOINT, CdcProducer } from '../producers/cdc-producer.ts';
import { codecs } from '../schemas/codec.ts';
import type { RoomChange } from '../schemas/types.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { waitFor } from './support/service.ts';

const logger = pino({ level: 'silent' });

function member(roomId: string, sessionId: string) {
  return {
    roomId,
    sessionId,
    screenName: sessionId,
    role: 'Presenter' as const,
    state: 'Active' as const,
    streams: [],
    lastUpdate: Date.now(),
  };
}

async function started(followed: string[] = []) {
  const store = createMemoryStore();
  const bus = createMemoryBus({ logger });
  const changes: RoomChange[] = [];
  const subscription = bus.consume({
    groupId: 'reader',
    topics: [TOPICS.roomChanges],
    handler: async (message: BusMessage) => {
      changes.push(codecs.roomChange.decode(message.value));
    },
  });
  onTestFinished(() => subscription.stop());
  const producer = new CdcProducer(store, bus, logger, async () => followed);
  return { store, bus, changes, producer };
}

describe('cdc producer', () => {
  test('publishes member changes keyed by room', async () => {
    const { store, changes, producer } = await started();
    await producer.start();
    onTestFinished(() => producer.stop());

    await store.members.insert(member('r#a#one', 'alice'));
    await store.members.remove('r#a#one', 'alice');

    await waitFor(async () => (changes.length === 2 ? true : undefined));
    expect(changes.map((change) => [change.roomId, change.sessionId, change.operation])).toEqual([
      ['r#a#one', 'alice', 'upsert'],
      ['r#a#one', 'alice', 'delete'],
    ]);
    expect(await store.checkpoints.get(CDC_CHECKPOINT)).toBe('2');
  });

  test('resumes after a restart without loss or rescan', async () => {
    const { store, changes, producer } = await started();
    await producer.start();
    await store.members.insert(member('r#a#one', 'first'));
    await waitFor(async () => (changes.length === 1 ? true : undefined));
    await producer.stop();

    await store.members.insert(member('r#a#one', 'second'));
    await producer.start();
    onTestFinished(() => producer.stop());
    await store.members.insert(member('r#a#one', 'third'));

    await waitFor(async () => (changes.length === 3 ? true : undefined));
    expect(changes.map((change) => change.sessionId)).toEqual(['first', 'second', 'third']);
  });

  test('lost history resyncs followed rooms and carries on', async () => {
    const { store, changes, producer } = await started(['r#a#followed']);
    await store.checkpoints.put(CDC_CHECKPOINT, '999');

    await producer.start();
    onTestFinished(() => producer.stop());
    await store.members.insert(member('r#a#followed', 'after'));

    await waitFor(async () => (changes.length === 2 ? true : undefined));
    expect(changes[0]?.operation).toBe('resync');
    expect(changes[0]?.roomId).toBe('r#a#followed');
    expect(changes[0]?.sessionId).toBeNull();
    expect(changes[1]?.sessionId).toBe('after');
    expect(await store.checkpoints.get(CDC_CHECKPOINT)).toBe('1');
  });
});

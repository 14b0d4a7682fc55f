/**
 * Healing and cascade end to end on Kafka and the MongoDB wire server: media node lifecycle
 * events reach the service through stream.lifecycle, and no fork request is sent.
 */
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { TOPICS } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkEventMessage } from '../schemas/types.ts';
import { PcastClient, streamIdOf, type MemberView } from './support/pcast.ts';
import { startTestService, waitFor, type TestService } from './support/service.ts';

let service: TestService;
let pcast: PcastClient;

beforeAll(async () => {
  service = await startTestService();
  pcast = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
});

/** Collects fork.events published from now on. */
async function collectEvents(): Promise<ForkEventMessage[]> {
  const events: ForkEventMessage[] = [];
  const subscription = service.bus.consume({
    groupId: `heal-test-${Date.now()}-${Math.random()}`,
    topics: [TOPICS.forkEvents],
    fromBeginning: false,
    handler: async (message) => {
      events.push(codecs.forkEvent.decode(message.value));
    },
  });
  onTestFinished(() => subscription.stop());
  await subscription.ready;
  return events;
}

async function forked(members: number, body: object = {}, region?: string) {
  const source = await pcast.sourceWith(members, { region });
  const destination = await pcast.createChannel('Destination');
  const reply = await pcast.fork(destination.channelId, source.channelId, body);
  expect(reply.code).toBe(200);
  return { source, destination };
}

function mirrorIds(members: MemberView[]): string[] {
  return members.flatMap((member) => member.streams.map((stream) => streamIdOf(stream.uri)));
}

/** Fails unless every member stream of the room points at a started stream. */
async function expectAllLive(channelId: string): Promise<void> {
  for (const id of mirrorIds(await pcast.members(channelId))) {
    expect((await pcast.stream(id)).state, `stream ${id}`).toBe('started');
  }
}

describe('healing', () => {
  test('ended mirror is replaced within 1 s', async () => {
    const events = await collectEvents();
    const { source, destination } = await forked(1);
    const [before] = await pcast.members(destination.channelId);
    const oldUri = before?.streams[0]?.uri ?? '';
    const oldId = streamIdOf(oldUri);
    const origin = (await pcast.stream(oldId)).upstreamId;

    await pcast.endStream(oldId, 'media-node-ended');

    const healed = await waitFor(async () => {
      const [member] = await pcast.members(destination.channelId);
      const uri = member?.streams[0]?.uri;
      return uri !== undefined && uri !== oldUri ? uri : undefined;
    });
    const replacement = await pcast.stream(streamIdOf(healed));
    expect(replacement.state).toBe('started');
    expect(replacement.upstreamId).toBe(origin);
    expect(replacement.tags).toContain('x-fork');
    expect(healed.replace(streamIdOf(healed), '')).toBe(oldUri.replace(oldId, ''));
    expect((await pcast.stream(oldId)).state).toBe('ended');
    const event = await waitFor(async () => events.find((e) => e.type === 'MirrorHealed'));
    expect(event.streamIds).toEqual([streamIdOf(healed), oldId]);
    expect(event.durationMs).not.toBeNull();
    expect(event.durationMs ?? Infinity).toBeLessThan(1000);
    expect((await pcast.members(source.channelId))[0]?.streams).toHaveLength(2);
  });

  test('node failure heals its 10 mirrors onto other nodes', async () => {
    const { destination } = await forked(5, { desiredRegion: 'eu-west' }, 'us-east');
    const before = mirrorIds(await pcast.members(destination.channelId));
    expect(before).toHaveLength(10);
    for (const id of before) {
      expect((await pcast.stream(id)).node).toBe('eu-west-1');
    }

    await service.media.injectFault('eu-west-1', { type: 'fail-node' });
    onTestFinished(() => service.media.injectFault('eu-west-1', { type: 'recover-node' }));

    const after = await waitFor(async () => {
      const ids = mirrorIds(await pcast.members(destination.channelId));
      return ids.every((id) => !before.includes(id)) ? ids : undefined;
    });
    expect(after).toHaveLength(10);
    for (const id of after) {
      const mirror = await pcast.stream(id);
      expect(mirror.state).toBe('started');
      expect(mirror.node).not.toBe('eu-west-1');
    }
  });

  test('stalled mirror is healed and then destroyed', async () => {
    const { destination } = await forked(1);
    const oldId = mirrorIds(await pcast.members(destination.channelId))[0] ?? '';
    const { node } = await pcast.stream(oldId);

    await service.media.injectFault(node, { type: 'stall', streamId: oldId });

    await waitFor(async () =>
      mirrorIds(await pcast.members(destination.channelId)).includes(oldId) ? undefined : true,
    );
    const old = await waitFor(async () => {
      const record = await pcast.stream(oldId);
      return record.state === 'ended' ? record : undefined;
    });
    expect(old.endReason).toBe('stalled');
    await expectAllLive(destination.channelId);
  });

  test('ending an origin cascades to 3 destinations', async () => {
    const source = await pcast.sourceWith(1);
    const [member] = await pcast.members(source.channelId);
    const [firstOrigin, secondOrigin] = (member?.streams ?? []).map((s) => streamIdOf(s.uri));
    const destinations = [];
    for (let index = 0; index < 3; index += 1) {
      const destination = await pcast.createChannel('Destination');
      expect((await pcast.fork(destination.channelId, source.channelId)).code).toBe(200);
      destinations.push(destination.channelId);
    }

    await pcast.endStream(firstOrigin ?? '');

    for (const channelId of destinations) {
      const [remaining] = await waitFor(async () => {
        const current = await pcast.members(channelId);
        return current[0]?.streams.length === 1 ? current : undefined;
      });
      const kept = await pcast.stream(streamIdOf(remaining?.streams[0]?.uri ?? ''));
      expect(kept.upstreamId).toBe(secondOrigin);
      await expectAllLive(channelId);
    }
    const mirrors = await service.store.streams.listMirrors(firstOrigin ?? '');
    expect(mirrors).toHaveLength(3);
    for (const mirror of mirrors) {
      const ended = await waitFor(async () => {
        const record = await pcast.stream(mirror.streamId);
        return record.state === 'ended' ? record : undefined;
      });
      expect(ended.endReason).toBe('origin-stream-ended');
    }

    await pcast.endStream(secondOrigin ?? '');

    for (const channelId of destinations) {
      await waitFor(async () => ((await pcast.members(channelId)).length === 0 ? true : undefined));
    }
  });

  test('refresh-stale replaces a mirror whose end was missed', async () => {
    const { source, destination } = await forked(1);
    const oldId = mirrorIds(await pcast.members(destination.channelId))[0] ?? '';
    // The record is ended but no lifecycle event came, so only a polling fork can find it.
    await service.store.streams.transition(oldId, ['started'], 'ended', 'missed');

    const reply = await pcast.fork(destination.channelId, source.channelId, {
      options: ['refresh-stale'],
    });

    expect(reply.code).toBe(200);
    const ids = mirrorIds(await pcast.members(destination.channelId));
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(oldId);
    await expectAllLive(destination.channelId);
  });

  test('metrics expose the heal latency histogram', async () => {
    const text = await service.registry.metrics();
    expect(text).toContain('fork_heal_latency_seconds_bucket');
    const count = Number(/fork_heal_latency_seconds_count (\d+)/.exec(text)?.[1]);
    expect(count).toBeGreaterThan(0);
  });
});

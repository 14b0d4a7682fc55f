/**
 * Standing forks (`follow`) end to end: source joins, leaves and stream changes reach the
 * destination through the change feed, room.changes and fork.triggers, until the fork stops.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import { channelPath, startTestService, waitFor, type TestService } from './support/service.ts';

let service: TestService;
let pcast: PcastClient;

beforeAll(async () => {
  service = await startTestService();
  pcast = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
});

async function sessionsOf(channelId: string): Promise<string[]> {
  return (await pcast.members(channelId)).map((member) => member.sessionId).sort();
}

async function waitForSessions(channelId: string, expected: string[]): Promise<void> {
  const sorted = [...expected].sort();
  await waitFor(async () => {
    const sessions = await sessionsOf(channelId);
    return JSON.stringify(sessions) === JSON.stringify(sorted) ? true : undefined;
  });
}

/** Lets the pipeline go quiet, so a change that should not arrive has had its chance. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
}

describe('follow', () => {
  test('joins and leaves reach the destination until stopped', async () => {
    const source = await pcast.sourceWith(1);
    const destination = await pcast.createChannel('Destination');
    const reply = await pcast.fork(destination.channelId, source.channelId, {
      options: ['follow'],
    });
    expect(reply.code).toBe(200);

    const uris = [await pcast.publish('late-joiner'), await pcast.publish('late-joiner')];
    await pcast.join(source.channelId, 'late-joiner', uris);
    await waitForSessions(destination.channelId, [...source.sessions, 'late-joiner']);
    const joined = (await pcast.members(destination.channelId)).find(
      (m) => m.sessionId === 'late-joiner',
    );
    expect(joined?.streams).toHaveLength(2);
    for (const [index, stream] of (joined?.streams ?? []).entries()) {
      const mirror = await pcast.stream(streamIdOf(stream.uri));
      expect(mirror.upstreamId).toBe(streamIdOf(uris[index] ?? ''));
      expect(mirror.state).toBe('started');
    }

    await pcast.leave(source.channelId, source.sessions[0] ?? '');
    await waitForSessions(destination.channelId, ['late-joiner']);

    const stopped = await service.call(
      'DELETE',
      channelPath(destination.channelId, `/fork/${encodeURIComponent(source.channelId)}`),
    );
    expect(stopped.code).toBe(200);
    await pcast.join(source.channelId, 'after-stop', [await pcast.publish('after-stop')]);
    await pcast.leave(source.channelId, 'late-joiner');
    await settle();
    expect(await sessionsOf(destination.channelId)).toEqual(['late-joiner']);
  });

  test('stream change of a source member is mirrored', async () => {
    const source = await pcast.sourceWith(1, { streams: 1 });
    const destination = await pcast.createChannel('Destination');
    expect(
      (await pcast.fork(destination.channelId, source.channelId, { options: ['follow'] })).code,
    ).toBe(200);
    const session = source.sessions[0] ?? '';
    const newOrigin = await pcast.publish(session);

    await pcast.join(source.channelId, session, [newOrigin]);

    const mirror = await waitFor(async () => {
      const [member] = await pcast.members(destination.channelId);
      const record = member
        ? await pcast.stream(streamIdOf(member.streams[0]?.uri ?? ''))
        : undefined;
      return record?.upstreamId === streamIdOf(newOrigin) ? record : undefined;
    });
    expect(mirror.state).toBe('started');
  });

  test('stopping a fork that does not stand answers not-found', async () => {
    const source = await pcast.createChannel('Source');
    const destination = await pcast.createChannel('Destination');
    const reply = await service.call(
      'DELETE',
      channelPath(destination.channelId, `/fork/${encodeURIComponent(source.channelId)}`),
    );
    expect(reply.code).toBe(404);
    expect(reply.body.status).toBe('not-found');
  });

  test('changes made while the change producer is down arrive once', async () => {
    const source = await pcast.createChannel('Source');
    const destination = await pcast.createChannel('Destination');
    expect(
      (await pcast.fork(destination.channelId, source.channelId, { options: ['follow'] })).code,
    ).toBe(200);

    await pcast.join(source.channelId, 'first', [await pcast.publish('first')]);
    await waitForSessions(destination.channelId, ['first']);
    await service.pipeline.cdc.stop();
    await pcast.join(source.channelId, 'second', [await pcast.publish('second')]);
    await service.pipeline.cdc.start();
    await pcast.join(source.channelId, 'third', [await pcast.publish('third')]);

    await waitForSessions(destination.channelId, ['first', 'second', 'third']);
    await settle();
    for (const member of await pcast.members(source.channelId)) {
      const origin = streamIdOf(member.streams[0]?.uri ?? '');
      const mirrors = await service.store.streams.listMirrors(origin);
      expect(mirrors.map((mirror) => mirror.state)).toEqual(['started']);
    }
  });
});

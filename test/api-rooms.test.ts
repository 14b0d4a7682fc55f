/**
 * Room routes beyond their status codes: the streams query and its filters, re-entry between
 * the audience set and the room set, kill with its options and events, and room deletion. On
 * Kafka and the MongoDB wire server, so kills travel through mirror.commands to the executor.
 */
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import type { BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { ServiceError } from '../domain/errors.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkEventMessage } from '../schemas/types.ts';
import { PcastClient, streamIdOf } from './support/pcast.ts';
import {
  channelPath,
  roomPath,
  startTestService,
  waitFor,
  type TestService,
} from './support/service.ts';
import { memberSets } from './support/store-snapshot.ts';

let service: TestService;
let client: PcastClient;

beforeAll(async () => {
  service = await startTestService();
  client = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
});

let counter = 0;

async function joinAs(
  roomId: string,
  sessionId: string,
  fields: { role?: string; state?: string; screenName?: string; uris?: string[] },
  options: string[] = ['reenter'],
) {
  return service.call('PUT', channelPath(roomId, '/members'), {
    member: {
      sessionId,
      screenName: fields.screenName ?? sessionId,
      role: fields.role ?? 'Presenter',
      state: fields.state ?? 'Active',
      streams: (fields.uris ?? []).map((uri) => ({ uri })),
    },
    options,
  });
}

async function streamIds(roomId: string, query = ''): Promise<string[]> {
  const reply = await service.call('GET', channelPath(roomId, `/streams${query}`));
  expect(reply.code).toBe(200);
  return reply.body.streamIds;
}

/** Collects fork.events of one room from now on. */
async function eventsOf(roomId: string): Promise<ForkEventMessage[]> {
  const events: ForkEventMessage[] = [];
  const subscription = service.bus.consume({
    groupId: `api-rooms-events-${++counter}-${Date.now()}`,
    topics: [TOPICS.forkEvents],
    fromBeginning: false,
    handler: async (message: BusMessage) => {
      const event = codecs.forkEvent.decode(message.value);
      if (event.roomId === roomId) {
        events.push(event);
      }
    },
  });
  onTestFinished(() => subscription.stop());
  await subscription.ready;
  return events;
}

describe('streams query', () => {
  test('filters by role, state and screenName in member order', async () => {
    const { channelId } = await client.createChannel('Query');
    const first = `pcast://pcast.local/first#1?capabilities=hd`;
    const second = `pcast://pcast.local/second#2?capabilities=rtmp,hd`;
    const third = `pcast://pcast.local/third#3?capabilities=streaming`;
    expect((await joinAs(channelId, 'a', { role: 'Presenter', uris: [first] })).code).toBe(200);
    expect(
      (await joinAs(channelId, 'b', { role: 'Audience', state: 'Passive', uris: [second] })).code,
    ).toBe(200);
    expect(
      (await joinAs(channelId, 'c', { role: 'Presenter', screenName: 'Cee', uris: [third] })).code,
    ).toBe(200);

    expect(await streamIds(channelId)).toEqual(['first#1', 'second#2', 'third#3']);
    expect(await streamIds(channelId, '?role=Presenter')).toEqual(['first#1', 'third#3']);
    expect(await streamIds(channelId, '?state=Passive')).toEqual(['second#2']);
    expect(await streamIds(channelId, '?screenName=Cee')).toEqual(['third#3']);
    expect(await streamIds(channelId, '?role=Moderator')).toEqual([]);
  });

  test('capability filter follows the URI capabilities', async () => {
    const { channelId } = await client.createChannel('Capability');
    await joinAs(channelId, 'a', {
      uris: [
        'pcast://pcast.local/plain',
        'pcast://pcast.local/rtmp?capabilities=rtmp',
        'pcast://pcast.local/hls?capabilities=hd,streaming',
      ],
    });

    expect(await streamIds(channelId, '?capability=RealTime')).toEqual(['plain', 'rtmp', 'hls']);
    expect(await streamIds(channelId, '?capability=RTMP')).toEqual(['rtmp']);
    expect(await streamIds(channelId, '?capability=HLS')).toEqual(['hls']);
    expect(await streamIds(channelId, '?capability=DASH')).toEqual(['hls']);
  });

  test('re-entry moves the member to the end of the order', async () => {
    const { channelId } = await client.createChannel('Order');
    await joinAs(channelId, 'a', { uris: ['pcast://pcast.local/a'] });
    await joinAs(channelId, 'b', { uris: ['pcast://pcast.local/b'] });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await joinAs(channelId, 'a', { uris: ['pcast://pcast.local/a2'] });

    expect(await streamIds(channelId)).toEqual(['b', 'a2']);
  });
});

describe('re-entry', () => {
  test('moves a member between the audience set and the room set', async () => {
    const { channelId } = await client.createChannel('Reentry');
    expect((await joinAs(channelId, 'viewer', { role: 'Participant' }, [])).code).toBe(200);
    expect(await memberSets(service.mongoDbName, channelId)).toEqual({
      members: ['viewer'],
      audienceMembers: [],
    });

    const toAudience = await joinAs(channelId, 'viewer', { role: 'Audience' });
    expect(toAudience.code).toBe(200);
    expect(await memberSets(service.mongoDbName, channelId)).toEqual({
      members: [],
      audienceMembers: ['viewer'],
    });
    const listed = await client.members(channelId);
    expect(listed.map((member) => [member.sessionId, member.role])).toEqual([
      ['viewer', 'Audience'],
    ]);

    expect((await joinAs(channelId, 'viewer', { role: 'Moderator' })).code).toBe(200);
    expect(await memberSets(service.mongoDbName, channelId)).toEqual({
      members: ['viewer'],
      audienceMembers: [],
    });
    const room = await service.call('GET', channelPath(channelId));
    expect(room.body.channel.estimatedSize).toBe(1);
  });

  test('second join without reenter is already-exists', async () => {
    const { channelId } = await client.createChannel('Twice');
    expect((await joinAs(channelId, 'once', { role: 'Audience' }, [])).code).toBe(200);
    const again = await joinAs(channelId, 'once', { role: 'Participant' }, []);
    expect(again.code).toBe(409);
    expect(again.body.status).toBe('already-exists');
    expect(await memberSets(service.mongoDbName, channelId)).toEqual({
      members: [],
      audienceMembers: ['once'],
    });
  });
});

describe('kill', () => {
  test('destroys streams, removes members and emits events', async () => {
    const source = await client.sourceWith(2, { streams: 1 });
    const events = await eventsOf(source.channelId);
    const before = await client.members(source.channelId);
    const streamIdsBefore = before.flatMap((member) =>
      member.streams.map((s) => streamIdOf(s.uri)),
    );

    const reply = await service.call('PUT', channelPath(source.channelId, '/kill'), {
      reason: 'show-over',
    });

    expect(reply.code).toBe(200);
    expect(reply.body.status).toBe('ok');
    expect([...reply.body.killedMembers].sort()).toEqual([...source.sessions].sort());
    expect(await client.members(source.channelId)).toEqual([]);
    for (const streamId of streamIdsBefore) {
      const stream = await client.stream(streamId);
      expect(stream.state).toBe('ended');
      expect(stream.endReason).toBe('show-over');
    }
    const seen = await waitFor(async () =>
      events.some((event) => event.type === 'KillCompleted') ? events : undefined,
    );
    const left = seen.filter((event) => event.type === 'MemberLeft');
    expect(left.map((event) => event.sessionId).sort()).toEqual([...source.sessions].sort());
    expect(left.every((event) => event.reason === 'show-over')).toBe(true);
    const destroyed = seen.filter((event) => event.type === 'MirrorDestroyed');
    expect(destroyed.flatMap((event) => event.streamIds).sort()).toEqual(streamIdsBefore.sort());
    expect(seen.find((event) => event.type === 'KillCompleted')?.forkId).toBe(reply.body.killId);
  });

  test('keep-streams leaves streams running', async () => {
    const source = await client.sourceWith(1, { streams: 2 });
    const [member] = await client.members(source.channelId);

    const reply = await service.call('PUT', roomPath(source.channelId, '/kill'), {
      reason: 'keep',
      options: ['keep-streams'],
    });

    expect(reply.code).toBe(200);
    expect(reply.body.killedMembers).toEqual(source.sessions);
    expect(await client.members(source.channelId)).toEqual([]);
    for (const memberStream of member?.streams ?? []) {
      expect((await client.stream(streamIdOf(memberStream.uri))).state).toBe('started');
    }
  });

  test('destroy-required stops at a failed destroy', async () => {
    const source = await client.sourceWith(2, { streams: 1 });
    const { media } = service;
    const destroy = media.destroy;
    media.destroy = async () => {
      throw new ServiceError('capacity', 'media node unreachable (injected)');
    };
    onTestFinished(() => {
      media.destroy = destroy;
    });

    const reply = await service.call('PUT', channelPath(source.channelId, '/kill'), {
      reason: 'strict',
      options: ['destroy-required'],
    });

    expect(reply.code).toBe(503);
    expect(reply.body.status).toBe('capacity');
    expect(reply.body.message).toContain('injected');
    expect((await client.members(source.channelId)).map((m) => m.sessionId).sort()).toEqual(
      [...source.sessions].sort(),
    );
  });

  test('without destroy-required a failed destroy does not stop it', async () => {
    const source = await client.sourceWith(1, { streams: 1 });
    const { media } = service;
    const destroy = media.destroy;
    media.destroy = async () => {
      throw new ServiceError('capacity', 'media node unreachable (injected)');
    };
    onTestFinished(() => {
      media.destroy = destroy;
    });

    const reply = await service.call('PUT', channelPath(source.channelId, '/kill'), {
      reason: 'lenient',
    });

    expect(reply.code).toBe(200);
    expect(reply.body.killedMembers).toEqual(source.sessions);
    expect(await client.members(source.channelId)).toEqual([]);
  });

  test('kill of an empty room answers ok', async () => {
    const { channelId } = await client.createChannel('Empty');
    const reply = await service.call('PUT', channelPath(channelId, '/kill'), { reason: 'none' });
    expect(reply.code).toBe(200);
    expect(reply.body.killedMembers).toEqual([]);
  });

  test('kill without reason is rejected', async () => {
    const { channelId } = await client.createChannel('Reasonless');
    const reply = await service.call('PUT', channelPath(channelId, '/kill'), {});
    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe('invalid-request');
    expect(reply.body.message).toBe('body.reason is required');
  });
});

describe('delete', () => {
  test('removes the room, its members and their streams', async () => {
    const source = await client.sourceWith(1, { streams: 1 });
    const [member] = await client.members(source.channelId);

    const reply = await service.call('DELETE', channelPath(source.channelId));

    expect(reply.code).toBe(200);
    expect(reply.body.killedMembers).toEqual(source.sessions);
    expect((await service.call('GET', channelPath(source.channelId))).code).toBe(404);
    const listed = await service.call('GET', '/pcast/channels');
    expect(listed.body.channels.map((c: any) => c.channelId)).not.toContain(source.channelId);
    const stream = await client.stream(streamIdOf(member?.streams[0]?.uri ?? ''));
    expect(stream.endReason).toBe('room-deleted');
    expect(await memberSets(service.mongoDbName, source.channelId)).toEqual({
      members: [],
      audienceMembers: [],
    });
  });

  test('deleted room can be deleted no more', async () => {
    const { channelId } = await client.createChannel('Gone');
    expect((await service.call('DELETE', channelPath(channelId))).code).toBe(200);
    const again = await service.call('DELETE', channelPath(channelId));
    expect(again.code).toBe(404);
    expect(again.body.status).toBe('not-found');
  });
});

describe('room lists', () => {
  test('rooms by type for the caller only', async () => {
    const name = `Listed ${Date.now()}`;
    const town = await service.call('PUT', '/pcast/room', { room: { name, type: 'TownHall' } });
    const chat = await service.call('PUT', '/pcast/room', {
      room: { name: `${name} chat`, type: 'DirectChat' },
    });
    const other = await service.call(
      'PUT',
      '/pcast/room',
      { room: { name: `${name} other`, type: 'TownHall' } },
      { id: 'other-app', secret: 'other-secret' },
    );

    const reply = await service.call('GET', '/pcast/rooms?type=TownHall');

    expect(reply.code).toBe(200);
    const ids = reply.body.rooms.map((room: any) => room.roomId);
    expect(ids).toContain(town.body.room.roomId);
    expect(ids).not.toContain(chat.body.room.roomId);
    expect(ids).not.toContain(other.body.room.roomId);
    expect(reply.body.rooms.every((room: any) => room.type === 'TownHall')).toBe(true);
    expect(reply.body.rooms.every((room: any) => !('applicationId' in room))).toBe(true);
  });

  test('channels list has channel ids and only channels', async () => {
    const { channelId } = await client.createChannel('Listed');
    await service.call('PUT', '/pcast/room', {
      room: { name: `Not a channel ${Date.now()}`, type: 'MultiPartyChat' },
    });

    const reply = await service.call('GET', '/pcast/channels');

    expect(reply.code).toBe(200);
    expect(reply.body.channels.map((c: any) => c.channelId)).toContain(channelId);
    expect(
      reply.body.channels.every((c: any) => c.type === 'Channel' || c.type === 'MultiAngleChannel'),
    ).toBe(true);
  });

  test('channel form hides rooms that are not channels', async () => {
    const created = await service.call('PUT', '/pcast/room', {
      room: { name: `Chat ${Date.now()}`, type: 'MultiPartyChat' },
    });
    const roomId = created.body.room.roomId;
    expect((await service.call('GET', roomPath(roomId))).code).toBe(200);
    const viaChannel = await service.call('GET', channelPath(roomId, '/members'));
    expect(viaChannel.code).toBe(404);
    expect(viaChannel.body.message).toContain('channel');
  });
});

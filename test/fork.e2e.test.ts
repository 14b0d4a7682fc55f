/**
 * The fork flow end to end: REST over real HTTP, Kafka for fork.requests, mirror.commands and
 * fork.events, the MongoDB wire server for state, and simulated media node agents.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import type { BusMessage } from '../bus/bus.ts';
import { TOPICS, deadLetterTopic } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { MirrorCommand } from '../schemas/types.ts';
import { body } from '../processors/fork-commands.ts';
import { kafkaBrokers } from './infra/env.ts';
import { PcastClient, streamIdOf, type MemberView } from './support/pcast.ts';
import {
  OTHER_APP,
  channelPath,
  roomPath,
  startTestService,
  waitFor,
  type TestService,
} from './support/service.ts';

let service: TestService;

beforeAll(async () => {
  service = await startTestService();
  pcast = new PcastClient(service);
});

afterAll(async () => {
  await service?.stop();
});

let pcast: PcastClient;

const createChannel = (name?: string) => pcast.createChannel(name);
const publish = (sessionId: string) => pcast.publish(sessionId);
const join = (channelId: string, sessionId: string, uris: string[]) =>
  pcast.join(channelId, sessionId, uris);
const sourceWith = (members: number) => pcast.sourceWith(members);
const members = (channelId: string) => pcast.members(channelId);
const stream = (streamId: string) => pcast.stream(streamId);
const fork = (destination: string, source: string, body: object = {}) =>
  pcast.fork(destination, source, body);

describe('fork', () => {
  test('mirrors every member into an empty channel', async () => {
    const source = await sourceWith(3);
    const destination = await createChannel('Destination');

    const reply = await fork(destination.channelId, source.channelId, {
      streamCapabilities: ['hd', 'rtmp'],
    });

    expect(reply.code).toBe(200);
    expect(reply.body.status).toBe('ok');
    expect(reply.body.members.map((m: any) => m.sessionId).sort()).toEqual(
      [...source.sessions].sort(),
    );
    const sourceMembers = new Map((await members(source.channelId)).map((m) => [m.sessionId, m]));
    for (const member of await members(destination.channelId)) {
      expect(member.streams).toHaveLength(2);
      const origins = (sourceMembers.get(member.sessionId)?.streams ?? []).map((s) =>
        streamIdOf(s.uri),
      );
      for (const [index, memberStream] of member.streams.entries()) {
        expect(memberStream.uri).toMatch(
          /^pcast:\/\/pcast\.local\/mirror#.+\?capabilities=hd,rtmp$/,
        );
        const mirror = await stream(streamIdOf(memberStream.uri));
        expect(mirror.state).toBe('started');
        expect(mirror.upstreamId).toBe(origins[index]);
        expect(mirror.tags).toContain('x-fork');
        expect(mirror.tags).toContain(`channelId:${destination.channelId}`);
        expect(mirror.tags).toContain(`channelAlias:${destination.alias}`);
      }
    }
  });

  test('repeated fork changes nothing', async () => {
    const source = await sourceWith(2);
    const destination = await createChannel('Destination');
    expect((await fork(destination.channelId, source.channelId)).code).toBe(200);
    const before = await members(destination.channelId);

    const again = await fork(destination.channelId, source.channelId);

    expect(again.code).toBe(200);
    const record = await service.call('GET', `/pcast/fork/${again.body.forkId}`);
    expect(record.body.fork.mirrorsCreated).toEqual([]);
    expect(record.body.fork.joined).toEqual([]);
    expect(await members(destination.channelId)).toEqual(before);
  });

  test('force replaces every mirror and ends the old ones', async () => {
    const source = await sourceWith(2);
    const destination = await createChannel('Destination');
    await fork(destination.channelId, source.channelId);
    const before = await members(destination.channelId);
    const oldIds = before.flatMap((m) => m.streams.map((s) => streamIdOf(s.uri)));

    const reply = await fork(destination.channelId, source.channelId, { options: ['force'] });

    expect(reply.code).toBe(200);
    const after = await members(destination.channelId);
    const newIds = after.flatMap((m) => m.streams.map((s) => streamIdOf(s.uri)));
    expect(newIds).toHaveLength(oldIds.length);
    expect(newIds.filter((id) => oldIds.includes(id))).toEqual([]);
    for (const id of oldIds) {
      const old = await stream(id);
      expect(old.state).toBe('ended');
      expect(old.endReason).toBe('replaced-by-fork');
    }
    for (const id of newIds) {
      expect((await stream(id)).state).toBe('started');
    }
  });

  test('plain fork removes members missing from the source', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const extraUri = await publish('extra');
    await join(destination.channelId, 'extra', [extraUri]);

    expect((await fork(destination.channelId, source.channelId)).code).toBe(200);

    const sessions = (await members(destination.channelId)).map((m) => m.sessionId);
    expect(sessions).toEqual(source.sessions);
    const extra = await stream(streamIdOf(extraUri));
    expect(extra.state).toBe('ended');
    expect(extra.endReason).toBe('terminated-by-fork');
  });

  test('keep-streams leaves departing streams alive', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const extraUri = await publish('extra-kept');
    await join(destination.channelId, 'extra-kept', [extraUri]);

    expect(
      (await fork(destination.channelId, source.channelId, { options: ['keep-streams'] })).code,
    ).toBe(200);

    const sessions = (await members(destination.channelId)).map((m) => m.sessionId);
    expect(sessions).not.toContain('extra-kept');
    expect((await stream(streamIdOf(extraUri))).state).toBe('started');
  });

  test('additive keeps members missing from the source', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const extraUri = await publish('extra-additive');
    await join(destination.channelId, 'extra-additive', [extraUri]);

    expect(
      (await fork(destination.channelId, source.channelId, { options: ['additive'] })).code,
    ).toBe(200);

    const sessions = (await members(destination.channelId)).map((m) => m.sessionId).sort();
    expect(sessions).toEqual(['extra-additive', ...source.sessions].sort());
    expect((await stream(streamIdOf(extraUri))).state).toBe('started');
  });

  test('ended origin fails with origin-stream-ended', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const [member] = await members(source.channelId);
    const ended = await service.call(
      'DELETE',
      `/pcast/stream/${encodeURIComponent(streamIdOf(member?.streams[0]?.uri ?? ''))}`,
      {
        reason: 'test',
      },
    );
    expect(ended.code).toBe(200);

    const reply = await fork(destination.channelId, source.channelId);

    expect(reply.code).toBe(422);
    expect(reply.body.status).toBe('origin-stream-ended');
    expect(await members(destination.channelId)).toEqual([]);
  });

  test('wait=false answers 202 and records the outcome', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');

    const reply = await service.call(
      'PUT',
      channelPath(
        destination.channelId,
        `/fork/${encodeURIComponent(source.channelId)}?wait=false`,
      ),
      {},
    );

    expect(reply.code).toBe(202);
    expect(reply.body.status).toBe('accepted');
    const record = await waitFor(async () => {
      const fetched = await service.call('GET', `/pcast/fork/${reply.body.forkId}`);
      return fetched.body.fork.state === 'completed' ? fetched.body.fork : undefined;
    });
    expect(record.status).toBe('ok');
    expect(record.joined).toEqual(source.sessions);
  });

  test('missing source room answers not-found', async () => {
    const destination = await createChannel('Destination');
    const reply = await fork(destination.channelId, 'us-east#test-app#missing.AAAAAAAAAAAA');
    expect(reply.code).toBe(404);
    expect(reply.body.status).toBe('not-found');
  });

  test('room of another application answers 403', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const reply = await service.call(
      'PUT',
      channelPath(destination.channelId, `/fork/${encodeURIComponent(source.channelId)}`),
      {},
      OTHER_APP,
    );
    expect(reply.code).toBe(403);
    expect(reply.body.status).toBe('unauthorized');
  });

  test('unknown option is rejected with the known ones', async () => {
    const destination = await createChannel('Destination');
    const reply = await fork(destination.channelId, destination.channelId, {
      options: ['sideways'],
    });
    expect(reply.code).toBe(400);
    expect(reply.body.status).toBe('invalid-option');
    expect(reply.body.message).toContain('additive, force, keep-streams, refresh-stale, follow');
  });

  test('two concurrent identical forks create one set of mirrors', async () => {
    const source = await sourceWith(2);
    const destination = await createChannel('Destination');

    const [first, second] = await Promise.all([
      fork(destination.channelId, source.channelId),
      fork(destination.channelId, source.channelId),
    ]);

    expect(first.code).toBe(200);
    expect(second.code).toBe(200);
    const records = await Promise.all(
      [first, second].map((reply) => service.call('GET', `/pcast/fork/${reply.body.forkId}`)),
    );
    const created = records.map((record) => record.body.fork.mirrorsCreated.length).sort();
    expect(created).toEqual([0, 4]);
    expect(second.body.members).toEqual(first.body.members);
  });

  test('fork produced by kcat as JSON has the REST effect', async () => {
    const source = await sourceWith(2);
    const destination = await createChannel('Destination');
    const message = JSON.stringify({
      roomId: destination.channelId,
      sourceRoomId: source.channelId,
    });

    const kcat = execFile('kcat', [
      '-P',
      '-b',
      kafkaBrokers(),
      '-t',
      service.topicPrefix + TOPICS.forkRequests,
      '-k',
      destination.channelId,
      '-H',
      'content-type=application/json',
    ]);
    kcat.stdin?.end(message + '\n');
    const [code] = await once(kcat, 'exit');
    expect(code).toBe(0);

    const joined = await waitFor(async () => {
      const current = await members(destination.channelId);
      return current.length === 2 ? current : undefined;
    });
    expect(joined.map((m) => m.sessionId).sort()).toEqual([...source.sessions].sort());
    for (const member of joined) {
      for (const memberStream of member.streams) {
        const mirror = await stream(streamIdOf(memberStream.uri));
        expect(mirror.tags).toContain('x-fork');
        expect(mirror.state).toBe('started');
      }
    }
  });

  test('redelivered mirror command creates nothing twice', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const [first] = await members(source.channelId);
    expect(first).toBeDefined();
    const sourceMember = first as MemberView;
    const originId = streamIdOf(sourceMember.streams[0]?.uri ?? '');
    const forkId = `redelivery-${Date.now()}`;
    await service.store.forks.insert({
      forkId,
      applicationId: null,
      roomId: destination.channelId,
      sourceRoomId: source.channelId,
      options: [],
      state: 'running',
      status: null,
      message: null,
      requested: Date.now(),
      completed: null,
      joined: [],
      departed: [],
      mirrorsCreated: [],
      streamsDestroyed: [],
    });
    const mirrorId = `mirror#redelivery${Date.now()}`;
    const join: MirrorCommand = {
      commandId: `${forkId}:0`,
      forkId,
      roomId: destination.channelId,
      sourceRoomId: source.channelId,
      step: 0,
      steps: 2,
      ...body('MemberJoin'),
      memberJoin: {
        sessionId: sourceMember.sessionId,
        screenName: sourceMember.screenName,
        role: sourceMember.role,
        state: sourceMember.state,
        streams: [
          {
            uri: `pcast://pcast.local/${mirrorId}`,
            type: 'User',
            audioState: 'TRACK_ENABLED',
            videoState: 'TRACK_ENABLED',
            mirror: {
              mirrorStreamId: mirrorId,
              originStreamId: originId,
              tags: ['x-fork'],
              capabilities: [],
            },
          },
        ],
        replacedStreamIds: [],
        expectedStreamUris: null,
        desiredRegion: null,
      },
    };
    const complete: MirrorCommand = {
      ...join,
      commandId: `${forkId}:1`,
      step: 1,
      kind: 'CompleteFork',
      memberJoin: null,
    };
    const encoded = (command: MirrorCommand) => ({
      key: destination.channelId,
      value: codecs.mirrorCommand.encode(command),
    });

    await service.bus.publish(TOPICS.mirrorCommands, [
      encoded(join),
      encoded(join),
      encoded(complete),
    ]);

    const record = await waitFor(async () => {
      const stored = await service.store.forks.get(forkId);
      return stored?.state === 'completed' ? stored : undefined;
    });
    expect(record.mirrorsCreated).toEqual([mirrorId]);
    expect(record.joined).toEqual([sourceMember.sessionId]);
    expect(await service.store.streams.listMirrors(originId)).toHaveLength(1);
    const destinationMembers = await members(destination.channelId);
    expect(destinationMembers).toHaveLength(1);
    expect(destinationMembers[0]?.streams[0]?.uri).toBe(`pcast://pcast.local/${mirrorId}`);
  });

  test('undecodable fork request goes to the dead-letter topic', async () => {
    const source = await sourceWith(1);
    const destination = await createChannel('Destination');
    const dead: BusMessage[] = [];
    const subscription = service.bus.consume({
      groupId: `dlq-reader-${Date.now()}`,
      topics: [deadLetterTopic(TOPICS.forkRequests)],
      fromBeginning: false,
      handler: async (message) => {
        dead.push(message);
      },
    });
    onTestFinished(() => subscription.stop());
    await subscription.ready;

    await service.bus.publish(TOPICS.forkRequests, [
      { key: destination.channelId, value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
    ]);
    const reply = await fork(destination.channelId, source.channelId);

    expect(reply.code).toBe(200);
    const [letter] = await waitFor(async () => (dead.length > 0 ? dead : undefined));
    expect(letter?.value).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect(letter?.headers['x-error']).toMatch(/not an Avro single-object message/);
    expect(letter?.headers['x-original-topic']).toBe(TOPICS.forkRequests);
  });

  test('room routes decode ids from paths', async () => {
    const { channelId } = await createChannel('Decode');
    expect(channelId).toContain('#');
    const viaRoom = await service.call('GET', roomPath(channelId));
    expect(viaRoom.code).toBe(200);
    expect(viaRoom.body.room.roomId).toBe(channelId);
  });
});

/**
 * Contract of the store port (store/store.ts), run against the in-memory adapter and against the
 * MongoDB adapter on the MongoDB wire server of the test infrastructure. Every MongoDB test uses
 * its own database, dropped when the test finishes.
 */
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { afterAll, describe, expect, onTestFinished, test } from 'vitest';
import type { ForkRecord, Member, MemberRole, Room, Stream } from '../domain/types.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { connectMongoStore, MONGO_COLLECTIONS, memberDocumentId } from '../store/mongo-store.ts';
import type { Store } from '../store/store.ts';
import { mongodbUri } from './infra/env.ts';

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** One client for dropping the test databases, opened on first use. */
let cleanupClient: MongoClient | undefined;

async function dropDatabase(dbName: string): Promise<void> {
  cleanupClient ??= await new MongoClient(mongodbUri()).connect();
  await cleanupClient.db(dbName).dropDatabase();
}

afterAll(async () => {
  await cleanupClient?.close();
});

/** Opens a MongoDB store on a fresh database and registers its cleanup with the running test. */
async function openMongoStore(): Promise<{ store: Store; dbName: string }> {
  const dbName = `store-test-${randomUUID()}`;
  const store = await connectMongoStore(mongodbUri(), { dbName, logger });
  onTestFinished(async () => {
    await store.close();
    await dropDatabase(dbName);
  });
  return { store, dbName };
}

interface AdapterFixture {
  name: string;
  /** Opens an empty store whose cleanup is registered with the running test. */
  open(): Promise<Store>;
}

const fixtures: AdapterFixture[] = [
  {
    name: 'memory',
    open: async () => {
      const store = createMemoryStore();
      onTestFinished(() => store.close());
      return store;
    },
  },
  {
    name: 'mongo',
    open: async () => (await openMongoStore()).store,
  },
];

const APP = 'app#1';
const OTHER_APP = 'app#2';

function makeRoom(overrides: Partial<Room> = {}): Room {
  return {
    roomId: `us-east#${APP}#lobby.${randomUUID().slice(0, 12)}`,
    applicationId: APP,
    alias: 'lobby',
    name: 'Lobby',
    description: 'a room',
    type: 'MultiPartyChat',
    options: ['streamKey=abc'],
    streamKey: 'k'.repeat(96),
    created: 1_000,
    lastUpdate: 1_000,
    ...overrides,
  };
}

function makeMember(roomId: string, sessionId: string, overrides: Partial<Member> = {}): Member {
  return {
    roomId,
    sessionId,
    screenName: `screen ${sessionId}`,
    role: 'Participant',
    state: 'Active',
    streams: [
      {
        uri: `pcast://node-1/us-east#${sessionId}#stream`,
        type: 'User',
        audioState: 'TRACK_ENABLED',
        videoState: 'TRACK_ENABLED',
      },
    ],
    lastUpdate: 2_000,
    ...overrides,
  };
}

function makeStream(streamId: string, overrides: Partial<Stream> = {}): Stream {
  return {
    streamId,
    sessionId: 'session#1',
    node: 'us-east-0',
    region: 'us-east',
    state: 'started',
    endReason: null,
    capabilities: ['rtmp'],
    tags: ['x-test'],
    upstreamId: null,
    roomId: null,
    createdBy: null,
    created: 3_000,
    ended: null,
    ...overrides,
  };
}

function makeFork(forkId: string, overrides: Partial<ForkRecord> = {}): ForkRecord {
  return {
    forkId,
    applicationId: APP,
    roomId: `us-east#${APP}#destination.aaaaaaaaaaaa`,
    sourceRoomId: `us-east#${APP}#source.bbbbbbbbbbbb`,
    options: ['additive'],
    state: 'accepted',
    status: null,
    message: null,
    requested: 4_000,
    completed: null,
    joined: [],
    departed: [],
    mirrorsCreated: [],
    streamsDestroyed: [],
    ...overrides,
  };
}

/** Returns the value, and fails the test when it is undefined. */
function defined<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new Error('expected a record, got undefined');
  }
  return value;
}

function byRoomId(a: Room, b: Room): number {
  return a.roomId < b.roomId ? -1 : 1;
}

function byStreamId(a: Stream, b: Stream): number {
  return a.streamId < b.streamId ? -1 : 1;
}

describe.each(fixtures.map((fixture) => [fixture.name, fixture] as const))(
  '%s store',
  (_name, fixture) => {
    describe('standing forks', () => {
      const standing = (roomId: string, sourceRoomId: string) => ({
        roomId,
        sourceRoomId,
        applicationId: 'app',
        forkId: `fork-${roomId}`,
        streamCapabilities: [],
        streamTags: ['t'],
        options: ['follow'],
        desiredRegion: null,
        created: 1,
      });

      test('put, get, list and delete', async () => {
        const store = await fixture.open();
        await store.standingForks.put(standing('r#a#d1', 'r#a#src'));
        await store.standingForks.put(standing('r#a#d2', 'r#a#src'));
        await store.standingForks.put(standing('r#a#d3', 'r#a#other'));

        expect(await store.standingForks.get('r#a#d1', 'r#a#src')).toEqual(
          standing('r#a#d1', 'r#a#src'),
        );
        const bySource = await store.standingForks.listBySource('r#a#src');
        expect(bySource.map((fork) => fork.roomId).sort()).toEqual(['r#a#d1', 'r#a#d2']);
        expect((await store.standingForks.listSources()).sort()).toEqual(['r#a#other', 'r#a#src']);
        expect(await store.standingForks.delete('r#a#d1', 'r#a#src')).toBe(true);
        expect(await store.standingForks.delete('r#a#d1', 'r#a#src')).toBe(false);
        expect(await store.standingForks.get('r#a#d1', 'r#a#src')).toBeUndefined();
      });
    });

    describe('checkpoints', () => {
      test('put replaces and get reads', async () => {
        const store = await fixture.open();
        expect(await store.checkpoints.get('cdc')).toBeUndefined();
        await store.checkpoints.put('cdc', 'one');
        await store.checkpoints.put('cdc', 'two');
        expect(await store.checkpoints.get('cdc')).toBe('two');
      });
    });

    describe('change feed', () => {
      test('sees joins, re-entries and leaves', async () => {
        const store = await fixture.open();
        const cursor = await store.changes.open(null);
        onTestFinished(() => cursor.close());
        await store.members.insert(makeMember('r#a#feed', 'alice'));
        await store.members.put(makeMember('r#a#feed', 'alice', { role: 'Audience' }));
        await store.members.remove('r#a#feed', 'alice');

        // The MongoDB adapter reports a re-entry into the other set as an insert there and a
        // delete from the first set, on two change streams whose order relative to each other
        // is not fixed; so count operations instead of comparing sequences.
        const counts = { upsert: 0, delete: 0 };
        while (counts.upsert < 2 || counts.delete < 1) {
          const change = await cursor.next();
          expect(change.roomId).toBe('r#a#feed');
          expect(change.sessionId).toBe('alice');
          counts[change.operation] += 1;
        }
        expect(counts.upsert).toBe(2);
      });

      test('resumes after a token', async () => {
        const store = await fixture.open();
        const first = await store.changes.open(null);
        await store.members.insert(makeMember('r#a#resume', 'one'));
        const token = (await first.next()).token;
        await first.close();
        await store.members.insert(makeMember('r#a#resume', 'two'));

        const resumed = await store.changes.open(token);
        onTestFinished(() => resumed.close());
        const next = await resumed.next();

        expect(next.sessionId).toBe('two');
        expect(next.operation).toBe('upsert');
      });
    });

    describe('applications', () => {
      test('upsert then get', async () => {
        const store = await fixture.open();
        await store.applications.upsert({ applicationId: APP, secret: 's1' });

        const application = await store.applications.get(APP);

        expect(application).toEqual({ applicationId: APP, secret: 's1' });
        expect(application).not.toHaveProperty('_id');
      });

      test('upsert replaces secret', async () => {
        const store = await fixture.open();
        await store.applications.upsert({ applicationId: APP, secret: 's1' });
        await store.applications.upsert({ applicationId: APP, secret: 's2' });

        expect(await store.applications.get(APP)).toEqual({ applicationId: APP, secret: 's2' });
      });

      test('get unknown application', async () => {
        const store = await fixture.open();

        expect(await store.applications.get('missing')).toBeUndefined();
      });
    });

    describe('rooms', () => {
      test('create then get', async () => {
        const store = await fixture.open();
        const room = makeRoom();

        const result = await store.rooms.create(room);

        expect(result).toEqual({ created: true, room });
        const stored = await store.rooms.get(room.roomId);
        expect(stored).toEqual(room);
        expect(stored).not.toHaveProperty('_id');
      });

      test('create with taken alias', async () => {
        const store = await fixture.open();
        const first = makeRoom({ name: 'First' });
        const second = makeRoom({ name: 'Second' });
        await store.rooms.create(first);

        const result = await store.rooms.create(second);

        expect(result.created).toBe(false);
        expect(result.room).toEqual(first);
        expect(result.room).not.toHaveProperty('_id');
        expect(await store.rooms.get(second.roomId)).toBeUndefined();
      });

      test('same alias in two applications', async () => {
        const store = await fixture.open();
        const first = makeRoom();
        const second = makeRoom({
          applicationId: OTHER_APP,
          roomId: `us-east#${OTHER_APP}#lobby.cccccccccccc`,
        });

        expect((await store.rooms.create(first)).created).toBe(true);
        expect((await store.rooms.create(second)).created).toBe(true);
        expect(await store.rooms.get(first.roomId)).toEqual(first);
        expect(await store.rooms.get(second.roomId)).toEqual(second);
      });

      test('create with taken room id', async () => {
        const store = await fixture.open();
        const first = makeRoom({ alias: 'first' });
        await store.rooms.create(first);

        const result = await store.rooms.create({ ...first, alias: 'second', name: 'Second' });

        expect(result).toEqual({ created: false, room: first });
      });

      test('concurrent creates of one alias', async () => {
        const store = await fixture.open();
        const rooms = [makeRoom(), makeRoom(), makeRoom()];

        const results = await Promise.all(rooms.map((room) => store.rooms.create(room)));

        const created = results.filter((result) => result.created);
        expect(created).toHaveLength(1);
        for (const result of results) {
          expect(result.room).toEqual(created[0]?.room);
        }
      });

      test('list filters by application and type', async () => {
        const store = await fixture.open();
        const chat = makeRoom({ alias: 'chat', created: 2 });
        const channel = makeRoom({ alias: 'channel', type: 'Channel', created: 1 });
        const foreign = makeRoom({
          applicationId: OTHER_APP,
          roomId: `us-east#${OTHER_APP}#chat.dddddddddddd`,
          alias: 'chat',
        });
        for (const room of [chat, channel, foreign]) {
          await store.rooms.create(room);
        }

        const all = await store.rooms.list(APP);
        const channels = await store.rooms.list(APP, 'Channel');

        expect([...all].sort(byRoomId)).toEqual([chat, channel].sort(byRoomId));
        expect(channels).toEqual([channel]);
        expect(await store.rooms.list(APP, 'TownHall')).toEqual([]);
        expect(await store.rooms.list('missing')).toEqual([]);
      });

      test('delete removes room and members', async () => {
        const store = await fixture.open();
        const room = makeRoom();
        await store.rooms.create(room);
        await store.members.insert(makeMember(room.roomId, 'session#1'));
        await store.members.insert(makeMember(room.roomId, 'session#2', { role: 'Audience' }));

        expect(await store.rooms.delete(room.roomId)).toBe(true);

        expect(await store.rooms.get(room.roomId)).toBeUndefined();
        expect(await store.members.list(room.roomId)).toEqual([]);
        expect(await store.members.count(room.roomId)).toBe(0);
        expect(await store.rooms.list(APP)).toEqual([]);
      });

      test('delete frees the alias', async () => {
        const store = await fixture.open();
        await store.rooms.create(makeRoom());
        const [stored] = await store.rooms.list(APP);
        await store.rooms.delete(stored?.roomId ?? 'missing');
        const replacement = makeRoom();

        expect((await store.rooms.create(replacement)).created).toBe(true);
      });

      test('delete unknown room', async () => {
        const store = await fixture.open();

        expect(await store.rooms.delete('us-east#app#missing.eeeeeeeeeeee')).toBe(false);
      });

      test('get unknown room', async () => {
        const store = await fixture.open();

        expect(await store.rooms.get('us-east#app#missing.eeeeeeeeeeee')).toBeUndefined();
      });
    });

    describe('members', () => {
      const roomId = `us-east#${APP}#stage.ffffffffffff`;

      test('insert then get', async () => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1');

        expect(await store.members.insert(member)).toBe(true);

        const stored = await store.members.get(roomId, 'session#1');
        expect(stored).toEqual(member);
        expect(stored).not.toHaveProperty('_id');
      });

      test('insert audience then get', async () => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1', { role: 'Audience' });

        expect(await store.members.insert(member)).toBe(true);

        expect(await store.members.get(roomId, 'session#1')).toEqual(member);
      });

      test('insert duplicate session', async () => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1');
        await store.members.insert(member);

        const inserted = await store.members.insert({ ...member, screenName: 'changed' });

        expect(inserted).toBe(false);
        expect(await store.members.get(roomId, 'session#1')).toEqual(member);
      });

      test.each<[MemberRole, MemberRole]>([
        ['Participant', 'Audience'],
        ['Audience', 'Presenter'],
      ])('insert duplicate session, %s then %s', async (firstRole, secondRole) => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1', { role: firstRole });
        await store.members.insert(member);

        const inserted = await store.members.insert({ ...member, role: secondRole });

        expect(inserted).toBe(false);
        expect(await store.members.get(roomId, 'session#1')).toEqual(member);
        expect(await store.members.count(roomId)).toBe(1);
      });

      test('get unknown member', async () => {
        const store = await fixture.open();
        await store.members.insert(makeMember(roomId, 'session#1'));

        expect(await store.members.get(roomId, 'session#2')).toBeUndefined();
        expect(
          await store.members.get('us-east#app#other.gggggggggggg', 'session#1'),
        ).toBeUndefined();
      });

      test('list orders by lastUpdate', async () => {
        const store = await fixture.open();
        const members = [
          makeMember(roomId, 'session#a', { role: 'Audience', lastUpdate: 40 }),
          makeMember(roomId, 'session#b', { role: 'Moderator', lastUpdate: 10 }),
          makeMember(roomId, 'session#c', { role: 'Audience', lastUpdate: 20 }),
          makeMember(roomId, 'session#d', { role: 'Presenter', lastUpdate: 30 }),
        ];
        for (const member of members) {
          await store.members.insert(member);
        }

        const listed = await store.members.list(roomId);

        expect(listed.map((member) => member.sessionId)).toEqual([
          'session#b',
          'session#c',
          'session#d',
          'session#a',
        ]);
        expect(listed[0]).toEqual(members[1]);
        for (const member of listed) {
          expect(member).not.toHaveProperty('_id');
        }
      });

      test('list of empty room', async () => {
        const store = await fixture.open();

        expect(await store.members.list(roomId)).toEqual([]);
      });

      test('count covers both sets', async () => {
        const store = await fixture.open();
        await store.members.insert(makeMember(roomId, 'session#1', { role: 'Audience' }));
        await store.members.insert(makeMember(roomId, 'session#2', { role: 'Audience' }));
        await store.members.insert(makeMember(roomId, 'session#3', { role: 'Moderator' }));

        expect(await store.members.count(roomId)).toBe(3);
        expect(await store.members.count('us-east#app#other.gggggggggggg')).toBe(0);
      });

      test('members scoped by room', async () => {
        const store = await fixture.open();
        const otherRoomId = `us-east#${APP}#other.hhhhhhhhhhhh`;
        const firstRoomMember = makeMember(roomId, 'session#1');
        const otherRoomMember = makeMember(otherRoomId, 'session#1', { role: 'Audience' });

        expect(await store.members.insert(firstRoomMember)).toBe(true);
        expect(await store.members.insert(otherRoomMember)).toBe(true);
        await store.members.remove(roomId, 'session#1');

        expect(await store.members.get(roomId, 'session#1')).toBeUndefined();
        expect(await store.members.get(otherRoomId, 'session#1')).toEqual(otherRoomMember);
      });

      test.each<[MemberRole, MemberRole]>([
        ['Audience', 'Participant'],
        ['Moderator', 'Audience'],
      ])('put moves %s to %s', async (fromRole, toRole) => {
        const store = await fixture.open();
        await store.members.insert(makeMember(roomId, 'session#1', { role: fromRole }));
        const reentered = makeMember(roomId, 'session#1', { role: toRole, lastUpdate: 5_000 });

        await store.members.put(reentered);

        expect(await store.members.get(roomId, 'session#1')).toEqual(reentered);
        expect(await store.members.list(roomId)).toEqual([reentered]);
        expect(await store.members.count(roomId)).toBe(1);
      });

      test('put replaces same role', async () => {
        const store = await fixture.open();
        await store.members.insert(makeMember(roomId, 'session#1'));
        const reentered = makeMember(roomId, 'session#1', {
          screenName: 'renamed',
          streams: [],
          lastUpdate: 5_000,
        });

        await store.members.put(reentered);

        expect(await store.members.list(roomId)).toEqual([reentered]);
      });

      test('put inserts new session', async () => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1', { role: 'Audience' });

        await store.members.put(member);

        expect(await store.members.list(roomId)).toEqual([member]);
      });

      test('remove returns removed record', async () => {
        const store = await fixture.open();
        const audience = makeMember(roomId, 'session#1', { role: 'Audience' });
        const presenter = makeMember(roomId, 'session#2', { role: 'Presenter' });
        await store.members.insert(audience);
        await store.members.insert(presenter);

        const removedAudience = await store.members.remove(roomId, 'session#1');
        const removedPresenter = await store.members.remove(roomId, 'session#2');

        expect(removedAudience).toEqual(audience);
        expect(removedAudience).not.toHaveProperty('_id');
        expect(removedPresenter).toEqual(presenter);
        expect(await store.members.list(roomId)).toEqual([]);
      });

      test('remove unknown member', async () => {
        const store = await fixture.open();

        expect(await store.members.remove(roomId, 'session#1')).toBeUndefined();
      });

      test('insert after remove', async () => {
        const store = await fixture.open();
        const member = makeMember(roomId, 'session#1');
        await store.members.insert(member);
        await store.members.remove(roomId, 'session#1');

        expect(await store.members.insert(member)).toBe(true);
      });
    });

    describe('streams', () => {
      test('insert then get', async () => {
        const store = await fixture.open();
        const stream = makeStream('us-east#origin#1');

        expect(await store.streams.insert(stream)).toBe(true);

        const stored = await store.streams.get('us-east#origin#1');
        expect(stored).toEqual(stream);
        expect(stored).not.toHaveProperty('_id');
      });

      test('insert duplicate id', async () => {
        const store = await fixture.open();
        const stream = makeStream('us-east#origin#1');
        await store.streams.insert(stream);

        expect(await store.streams.insert({ ...stream, node: 'other' })).toBe(false);
        expect(await store.streams.get('us-east#origin#1')).toEqual(stream);
      });

      test('get unknown stream', async () => {
        const store = await fixture.open();

        expect(await store.streams.get('missing')).toBeUndefined();
      });

      test('getMany keeps requested order', async () => {
        const store = await fixture.open();
        const first = makeStream('stream#1');
        const second = makeStream('stream#2');
        await store.streams.insert(first);
        await store.streams.insert(second);

        const found = await store.streams.getMany(['stream#2', 'missing', 'stream#1', 'stream#2']);

        expect(found).toEqual([second, first]);
        for (const stream of found) {
          expect(stream).not.toHaveProperty('_id');
        }
      });

      test('getMany of no ids', async () => {
        const store = await fixture.open();
        await store.streams.insert(makeStream('stream#1'));

        expect(await store.streams.getMany([])).toEqual([]);
      });

      test('transition from matching state', async () => {
        const store = await fixture.open();
        const stream = makeStream('stream#1', { state: 'starting' });
        await store.streams.insert(stream);

        const started = await store.streams.transition('stream#1', ['starting'], 'started');

        const expected = { ...stream, state: 'started' };
        expect(started).toEqual(expected);
        expect(started).not.toHaveProperty('_id');
        expect(await store.streams.get('stream#1')).toEqual(expected);
      });

      test('transition to ended sets end fields', async () => {
        const store = await fixture.open();
        await store.streams.insert(makeStream('stream#1'));
        const before = Date.now();

        const ended = await store.streams.transition(
          'stream#1',
          ['starting', 'started'],
          'ended',
          'terminated-by-fork',
        );

        expect(ended?.state).toBe('ended');
        expect(ended?.endReason).toBe('terminated-by-fork');
        expect(ended?.ended).toBeGreaterThanOrEqual(before);
        expect(ended?.ended).toBeLessThanOrEqual(Date.now());
        expect(await store.streams.get('stream#1')).toEqual(ended);
      });

      test('transition keeps reason when omitted', async () => {
        const store = await fixture.open();
        await store.streams.insert(makeStream('stream#1'));
        await store.streams.transition('stream#1', ['started'], 'ending', 'origin-stream-ended');

        const ended = await store.streams.transition('stream#1', ['ending'], 'ended');

        expect(ended?.state).toBe('ended');
        expect(ended?.endReason).toBe('origin-stream-ended');
      });

      test('transition from other state', async () => {
        const store = await fixture.open();
        const stream = makeStream('stream#1', { state: 'ended', endReason: 'gone', ended: 5 });
        await store.streams.insert(stream);

        const result = await store.streams.transition(
          'stream#1',
          ['starting', 'started'],
          'ending',
          'terminated-by-fork',
        );

        expect(result).toBeUndefined();
        expect(await store.streams.get('stream#1')).toEqual(stream);
      });

      test('transition with empty from', async () => {
        const store = await fixture.open();
        const stream = makeStream('stream#1');
        await store.streams.insert(stream);

        expect(await store.streams.transition('stream#1', [], 'ended', 'x')).toBeUndefined();
        expect(await store.streams.get('stream#1')).toEqual(stream);
      });

      test('transition unknown stream', async () => {
        const store = await fixture.open();

        expect(await store.streams.transition('missing', ['started'], 'ended')).toBeUndefined();
        expect(await store.streams.get('missing')).toBeUndefined();
      });

      test('concurrent transitions, one wins', async () => {
        const store = await fixture.open();
        await store.streams.insert(makeStream('stream#1'));

        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((reason) =>
            store.streams.transition('stream#1', ['started'], 'ending', reason),
          ),
        );

        const winners = results.filter((result) => result !== undefined);
        expect(winners).toHaveLength(1);
        expect((await store.streams.get('stream#1'))?.endReason).toBe(winners[0]?.endReason);
      });

      test('listMirrors returns mirrors in any state', async () => {
        const store = await fixture.open();
        const origin = makeStream('us-east#origin#1');
        const otherOrigin = makeStream('us-east#origin#2');
        const started = makeStream('eu-west#mirror#1', { upstreamId: origin.streamId });
        const ended = makeStream('eu-west#mirror#2', {
          upstreamId: origin.streamId,
          state: 'ended',
          endReason: 'stalled',
          ended: 9_000,
        });
        const foreign = makeStream('eu-west#mirror#3', { upstreamId: otherOrigin.streamId });
        for (const stream of [origin, otherOrigin, started, ended, foreign]) {
          await store.streams.insert(stream);
        }

        const mirrors = await store.streams.listMirrors(origin.streamId);

        expect([...mirrors].sort(byStreamId)).toEqual([started, ended].sort(byStreamId));
        expect(await store.streams.listMirrors(started.streamId)).toEqual([]);
        expect(await store.streams.listMirrors('missing')).toEqual([]);
      });
    });

    describe('forks', () => {
      test('insert then get', async () => {
        const store = await fixture.open();
        const record = makeFork('fork#1');

        expect(await store.forks.insert(record)).toBe(true);

        const stored = await store.forks.get('fork#1');
        expect(stored).toEqual(record);
        expect(stored).not.toHaveProperty('_id');
      });

      test('insert duplicate fork id', async () => {
        const store = await fixture.open();
        const record = makeFork('fork#1');
        await store.forks.insert(record);

        expect(await store.forks.insert({ ...record, state: 'failed' })).toBe(false);
        expect(await store.forks.get('fork#1')).toEqual(record);
      });

      test('get unknown fork', async () => {
        const store = await fixture.open();

        expect(await store.forks.get('missing')).toBeUndefined();
      });

      test('update merges fields', async () => {
        const store = await fixture.open();
        const record = makeFork('fork#1');
        await store.forks.insert(record);

        const updated = await store.forks.update('fork#1', {
          state: 'completed',
          status: 'ok',
          completed: 5_000,
          joined: ['session#1'],
          mirrorsCreated: ['eu-west#mirror#1'],
        });

        const expected: ForkRecord = {
          ...record,
          state: 'completed',
          status: 'ok',
          completed: 5_000,
          joined: ['session#1'],
          mirrorsCreated: ['eu-west#mirror#1'],
        };
        expect(updated).toEqual(expected);
        expect(updated).not.toHaveProperty('_id');
        expect(await store.forks.get('fork#1')).toEqual(expected);
      });

      test('update skips undefined and forkId', async () => {
        const store = await fixture.open();
        const record = makeFork('fork#1', { status: 'running' });
        await store.forks.insert(record);
        // forkId is outside the parameter type, so only a cast reaches the runtime guard.
        const fields = { status: undefined, message: 'hello', forkId: 'fork#2' } as Partial<
          Omit<ForkRecord, 'forkId'>
        >;

        const updated = await store.forks.update('fork#1', fields);

        expect(updated).toEqual({ ...record, message: 'hello' });
        expect(await store.forks.get('fork#2')).toBeUndefined();
      });

      test('update with no fields', async () => {
        const store = await fixture.open();
        const record = makeFork('fork#1');
        await store.forks.insert(record);

        expect(await store.forks.update('fork#1', {})).toEqual(record);
      });

      test('update unknown fork', async () => {
        const store = await fixture.open();

        expect(await store.forks.update('missing', { state: 'running' })).toBeUndefined();
        expect(await store.forks.get('missing')).toBeUndefined();
      });
    });

    describe('copies', () => {
      test('returned records are copies', async () => {
        const store = await fixture.open();
        const room = makeRoom();
        const member = makeMember(room.roomId, 'session#1');
        const stream = makeStream('stream#1');
        const record = makeFork('fork#1');
        await store.applications.upsert({ applicationId: APP, secret: 's1' });
        await store.rooms.create(room);
        await store.members.insert(member);
        await store.streams.insert(stream);
        await store.forks.insert(record);

        const application = defined(await store.applications.get(APP));
        const storedRoom = defined(await store.rooms.get(room.roomId));
        const listedRoom = defined((await store.rooms.list(APP))[0]);
        const storedMember = defined(await store.members.get(room.roomId, 'session#1'));
        const listedMember = defined((await store.members.list(room.roomId))[0]);
        const storedStream = defined(await store.streams.get('stream#1'));
        const manyStream = defined((await store.streams.getMany(['stream#1']))[0]);
        const transitioned = defined(
          await store.streams.transition('stream#1', ['started'], 'started'),
        );
        const storedFork = defined(await store.forks.get('fork#1'));
        const updatedFork = defined(await store.forks.update('fork#1', { state: 'running' }));
        application.secret = 'changed';
        storedRoom.options.push('changed');
        listedRoom.alias = 'changed';
        storedMember.streams.pop();
        listedMember.role = 'Audience';
        storedStream.tags.push('changed');
        manyStream.state = 'ended';
        transitioned.capabilities.push('changed');
        storedFork.joined.push('changed');
        updatedFork.departed.push('changed');

        expect(await store.applications.get(APP)).toEqual({ applicationId: APP, secret: 's1' });
        expect(await store.rooms.get(room.roomId)).toEqual(room);
        expect(await store.members.get(room.roomId, 'session#1')).toEqual(member);
        expect(await store.streams.get('stream#1')).toEqual(stream);
        expect(await store.forks.get('fork#1')).toEqual({ ...record, state: 'running' });
      });

      test('stored records are copies', async () => {
        const store = await fixture.open();
        const room = makeRoom();
        const member = makeMember(room.roomId, 'session#1');
        const stream = makeStream('stream#1');
        const record = makeFork('fork#1');
        const application = { applicationId: APP, secret: 's1' };
        const reentered = makeMember(room.roomId, 'session#2', { role: 'Audience' });
        const joined = ['session#1'];
        const expected = structuredClone({ room, member, reentered, stream, record });
        await store.applications.upsert(application);
        await store.rooms.create(room);
        await store.members.insert(member);
        await store.members.put(reentered);
        await store.streams.insert(stream);
        await store.forks.insert(record);
        await store.forks.update('fork#1', { joined });

        application.secret = 'changed';
        room.options.push('changed');
        member.streams.pop();
        reentered.streams.pop();
        stream.tags.push('changed');
        record.departed.push('changed');
        joined.push('changed');

        expect(await store.applications.get(APP)).toEqual({ applicationId: APP, secret: 's1' });
        expect(await store.rooms.get(room.roomId)).toEqual(expected.room);
        expect(await store.members.get(room.roomId, 'session#1')).toEqual(expected.member);
        expect(await store.members.get(room.roomId, 'session#2')).toEqual(expected.reentered);
        expect(await store.streams.get('stream#1')).toEqual(expected.stream);
        expect(await store.forks.get('fork#1')).toEqual({
          ...expected.record,
          joined: ['session#1'],
        });
      });
    });
  },
);

describe('mongo store layout', () => {
  async function openWithClient(): Promise<{ store: Store; client: MongoClient; dbName: string }> {
    const { store, dbName } = await openMongoStore();
    const client = await new MongoClient(mongodbUri()).connect();
    onTestFinished(() => client.close());
    return { store, client, dbName };
  }

  test('members split by role', async () => {
    const { store, client, dbName } = await openWithClient();
    const roomId = `us-east#${APP}#stage.ffffffffffff`;
    await store.members.insert(makeMember(roomId, 'session#1', { role: 'Audience' }));
    await store.members.insert(makeMember(roomId, 'session#2', { role: 'Moderator' }));
    const db = client.db(dbName);

    const audience = await db.collection(MONGO_COLLECTIONS.audienceMembers).find().toArray();
    const others = await db.collection(MONGO_COLLECTIONS.members).find().toArray();

    expect(audience.map((document) => document._id)).toEqual([
      memberDocumentId(roomId, 'session#1'),
    ]);
    expect(others.map((document) => document._id)).toEqual([memberDocumentId(roomId, 'session#2')]);
  });

  test('put leaves one collection', async () => {
    const { store, client, dbName } = await openWithClient();
    const roomId = `us-east#${APP}#stage.ffffffffffff`;
    await store.members.insert(makeMember(roomId, 'session#1', { role: 'Audience' }));
    await store.members.put(makeMember(roomId, 'session#1', { role: 'Participant' }));
    const db = client.db(dbName);

    expect(await db.collection(MONGO_COLLECTIONS.audienceMembers).countDocuments()).toBe(0);
    expect(await db.collection(MONGO_COLLECTIONS.members).countDocuments()).toBe(1);
  });

  test('records keyed by their ids', async () => {
    const { store, client, dbName } = await openWithClient();
    const room = makeRoom();
    await store.rooms.create(room);
    await store.streams.insert(makeStream('stream#1'));
    await store.forks.insert(makeFork('fork#1'));
    await store.applications.upsert({ applicationId: APP, secret: 's1' });
    const db = client.db(dbName);

    expect(
      await db.collection(MONGO_COLLECTIONS.rooms).findOne({ _id: room.roomId as never }),
    ).not.toBeNull();
    expect(
      await db.collection(MONGO_COLLECTIONS.streams).findOne({ _id: 'stream#1' as never }),
    ).not.toBeNull();
    expect(
      await db.collection(MONGO_COLLECTIONS.forks).findOne({ _id: 'fork#1' as never }),
    ).not.toBeNull();
    expect(
      await db.collection(MONGO_COLLECTIONS.applications).findOne({ _id: APP as never }),
    ).not.toBeNull();
  });

  test('indexes created on connect', async () => {
    const { client, dbName } = await openWithClient();
    const db = client.db(dbName);
    const keysOf = async (name: string) =>
      (await db.collection(name).listIndexes().toArray()).map((index) => ({
        key: index.key as unknown,
        unique: index.unique === true,
      }));

    expect(await keysOf(MONGO_COLLECTIONS.rooms)).toContainEqual({
      key: { applicationId: 1, alias: 1 },
      unique: true,
    });
    for (const name of [MONGO_COLLECTIONS.members, MONGO_COLLECTIONS.audienceMembers]) {
      expect(await keysOf(name)).toContainEqual({
        key: { roomId: 1, lastUpdate: 1 },
        unique: false,
      });
    }
    expect(await keysOf(MONGO_COLLECTIONS.streams)).toContainEqual({
      key: { upstreamId: 1 },
      unique: false,
    });
  });

  test('reads tolerate a half-done re-entry', async () => {
    const { store, client, dbName } = await openWithClient();
    const roomId = `us-east#${APP}#stage.ffffffffffff`;
    const older = makeMember(roomId, 'session#1', { role: 'Audience', lastUpdate: 10 });
    const newer = makeMember(roomId, 'session#1', { role: 'Participant', lastUpdate: 20 });
    const _id = memberDocumentId(roomId, 'session#1');
    const db = client.db(dbName);
    // The state a crash between the two writes of `put` leaves behind.
    await db.collection(MONGO_COLLECTIONS.audienceMembers).insertOne({ _id, ...older } as never);
    await db.collection(MONGO_COLLECTIONS.members).insertOne({ _id, ...newer } as never);

    expect(await store.members.get(roomId, 'session#1')).toEqual(newer);
    expect(await store.members.list(roomId)).toEqual([newer]);

    await store.members.put(newer);

    expect(await db.collection(MONGO_COLLECTIONS.audienceMembers).countDocuments()).toBe(0);
    expect(await store.members.count(roomId)).toBe(1);
  });
});

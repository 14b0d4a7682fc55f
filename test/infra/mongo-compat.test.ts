/**
 * Checks what the mongodb 6.22 driver gets from the mongo-java-server 1.47 instance of the test
 * setup: the commands the store adapter uses, and change streams for the CDC producer.
 *
 * The last group pins gaps of the server that a MongoDB contract test must work around. If
 * one of those tests fails after an upgrade of mongo-java-server, the gap is probably gone.
 */
import { randomUUID } from 'node:crypto';
import {
  MongoClient,
  MongoServerError,
  type ChangeStream,
  type ChangeStreamDocument,
  type Collection,
  type Document,
} from 'mongodb';
import { afterAll, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { mongodbUri } from './env.ts';

interface Member {
  _id: string;
  roomId: string;
  streamId?: string;
  version?: number;
}

const DUPLICATE_KEY = 11000;

let client: MongoClient;

beforeAll(async () => {
  // The driver offers zstd in its handshake. The server replies with no compression field,
  // so messages go uncompressed (see the handshake test below).
  client = new MongoClient(mongodbUri(), { compressors: ['zstd'], monitorCommands: true });
  await client.connect();
});

afterAll(async () => {
  await client.close();
});

function newCollection(): Collection<Member> {
  return client.db('mongo_compat').collection<Member>(`members_${randomUUID()}`);
}

/** Opens a change stream and waits until the server created its cursor. */
async function openChangeStream(
  collection: Collection<Member>,
  options: Parameters<Collection<Member>['watch']>[1] = {},
): Promise<ChangeStream<Member>> {
  const stream = collection.watch<Member>([], options);
  onTestFinished(() => stream.close());
  // watch() sends no command until the stream is read, and a change stream reports only writes
  // made after its aggregate command.
  expect(await stream.tryNext()).toBeNull();
  return stream;
}

/** Returns the next change, or fails the test when none arrives within timeoutMs. */
async function nextChange(
  stream: ChangeStream<Member>,
  timeoutMs = 5_000,
): Promise<ChangeStreamDocument<Member>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const change = await stream.tryNext();
    if (change !== null) {
      return change;
    }
  }
  throw new Error(`no change event within ${timeoutMs} ms`);
}

/** Returns the fullDocument of an insert, update or replace event, else undefined. */
function fullDocumentOf(change: ChangeStreamDocument<Member>): Member | undefined {
  return 'fullDocument' in change ? (change.fullDocument ?? undefined) : undefined;
}

describe('mongodb driver against mongo-java-server', () => {
  test('handshake negotiates no wire compression', async () => {
    const reply = await client.db('admin').command({ isMaster: 1, compression: ['zstd'] });

    expect(reply.ok).toBe(1);
    expect(reply.maxWireVersion).toBeGreaterThanOrEqual(8);
    expect(reply.compression).toBeUndefined();
  });

  test('insert, find, update and delete', async () => {
    const members = newCollection();

    await members.insertOne({ _id: 'm1', roomId: 'room-a', streamId: 's1' });
    await members.insertOne({ _id: 'm2', roomId: 'room-a' });
    await members.insertOne({ _id: 'm3', roomId: 'room-b' });
    const inRoomA = await members.find({ roomId: 'room-a' }).sort({ _id: 1 }).toArray();
    expect(inRoomA.map((member) => member._id)).toEqual(['m1', 'm2']);

    const updated = await members.updateOne({ _id: 'm2' }, { $set: { streamId: 's2' } });
    expect(updated.matchedCount).toBe(1);
    expect(updated.modifiedCount).toBe(1);
    expect(await members.findOne({ _id: 'm2' })).toEqual({
      _id: 'm2',
      roomId: 'room-a',
      streamId: 's2',
    });

    const deleted = await members.deleteOne({ _id: 'm1' });
    expect(deleted.deletedCount).toBe(1);
    expect(await members.countDocuments({ roomId: 'room-a' })).toBe(1);
  });

  test('unique index rejects duplicate key', async () => {
    const members = newCollection();
    const indexName = await members.createIndex({ roomId: 1, streamId: 1 }, { unique: true });
    expect(indexName).toBe('roomId_1_streamId_1');

    await members.insertOne({ _id: 'm1', roomId: 'room-a', streamId: 's1' });
    const duplicate = members.insertOne({ _id: 'm2', roomId: 'room-a', streamId: 's1' });

    await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
    await expect(duplicate).rejects.toMatchObject({ code: DUPLICATE_KEY });
    const indexes = await members.indexes();
    expect(indexes.find((index) => index.name === indexName)?.unique).toBe(true);
  });

  test('findOneAndUpdate applies only when filter matches', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a', streamId: 'stale', version: 1 });

    // A precondition write: replace the stream only if the member still carries the stale one.
    const applied = await members.findOneAndUpdate(
      { _id: 'm1', streamId: 'stale' },
      { $set: { streamId: 'mirror' }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    );
    expect(applied).toEqual({ _id: 'm1', roomId: 'room-a', streamId: 'mirror', version: 2 });

    const skipped = await members.findOneAndUpdate(
      { _id: 'm1', streamId: 'stale' },
      { $set: { streamId: 'other' } },
      { returnDocument: 'after' },
    );
    expect(skipped).toBeNull();
    expect((await members.findOne({ _id: 'm1' }))?.streamId).toBe('mirror');
  });

  test('change stream delivers insert', async () => {
    const members = newCollection();
    const stream = await openChangeStream(members);

    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const change = await nextChange(stream);

    expect(change.operationType).toBe('insert');
    if (change.operationType !== 'insert') {
      return;
    }
    expect(change.fullDocument).toEqual({ _id: 'm1', roomId: 'room-a' });
    expect(change.documentKey).toEqual({ _id: 'm1' });
    expect(change._id).toBeDefined();
  });

  test('resumeAfter token delivers later insert', async () => {
    const members = newCollection();
    const first = await openChangeStream(members);
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const firstChange = await nextChange(first);
    const token = first.resumeToken;
    expect(token).toEqual(firstChange._id);
    await first.close();

    await members.insertOne({ _id: 'm2', roomId: 'room-a' });
    const resumed = members.watch<Member>([], { resumeAfter: token });
    onTestFinished(() => resumed.close());
    const change = await nextChange(resumed);

    expect(change.operationType).toBe('insert');
    expect(fullDocumentOf(change)?._id).toBe('m2');
  });

  test('change stream with $match filters events', async () => {
    const members = newCollection();
    const stream = members.watch<Member>([{ $match: { 'fullDocument.roomId': 'room-b' } }]);
    onTestFinished(() => stream.close());
    expect(await stream.tryNext()).toBeNull();

    await members.insertMany([
      { _id: 'm1', roomId: 'room-a' },
      { _id: 'm2', roomId: 'room-b' },
    ]);
    const change = await nextChange(stream);

    expect(change.operationType).toBe('insert');
    expect(fullDocumentOf(change)?._id).toBe('m2');
  });

  test('updateLookup returns full document of update', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a', streamId: 's1' });
    const stream = await openChangeStream(members, { fullDocument: 'updateLookup' });

    await members.updateOne({ _id: 'm1' }, { $set: { streamId: 's2' } });
    const change = await nextChange(stream);

    expect(change.operationType).toBe('update');
    expect(fullDocumentOf(change)).toEqual({
      _id: 'm1',
      roomId: 'room-a',
      streamId: 's2',
    });
  });

  test('delete event carries document key', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const stream = await openChangeStream(members);

    await members.deleteOne({ _id: 'm1' });
    const change = await nextChange(stream);

    expect(change.operationType).toBe('delete');
    expect('documentKey' in change && change.documentKey).toEqual({ _id: 'm1' });
  });

  test('idle change stream waits between getMores', async () => {
    const members = newCollection();
    const stream = await openChangeStream(members);
    let getMores = 0;
    const countGetMore = (event: { commandName: string }) => {
      if (event.commandName === 'getMore') {
        getMores++;
      }
    };
    client.on('commandStarted', countGetMore);
    onTestFinished(() => {
      client.off('commandStarted', countGetMore);
    });

    // next() keeps sending getMore until an event arrives, here the insert after one second.
    const late = setTimeout(() => void members.insertOne({ _id: 'late', roomId: 'room-a' }), 1_000);
    onTestFinished(() => clearTimeout(late));
    const change = await stream.next();

    expect(change.operationType).toBe('insert');
    // MongoServer.java delays an empty getMore reply by up to 100 ms, so about 10 are expected.
    // Without that delay the driver sent thousands per second.
    expect(getMores).toBeLessThan(40);
  });
});

// NOTE: these tests pin behaviour of mongo-java-server 1.47 that differs from MongoDB. Code
// under test must not depend on the MongoDB behaviour in these cases when it runs against the
// test server.
describe('mongo-java-server 1.47 change stream gaps', () => {
  test('findOneAndUpdate emits no change event', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const stream = await openChangeStream(members);

    await members.findOneAndUpdate({ _id: 'm1' }, { $set: { streamId: 's1' } });
    await members.insertOne({ _id: 'marker', roomId: 'room-a' });
    const change = await nextChange(stream);

    // MongoDB would deliver the update first.
    expect(change.operationType).toBe('insert');
    expect(fullDocumentOf(change)?._id).toBe('marker');
  });

  test('update event lacks updateDescription and documentKey', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const stream = await openChangeStream(members);

    await members.updateOne({ _id: 'm1' }, { $set: { streamId: 's1' } });
    const change: Document = await nextChange(stream);

    expect(change.operationType).toBe('update');
    expect(change.updateDescription).toBeUndefined();
    // The server puts the update operators where MongoDB puts { _id }.
    expect(change.documentKey).toEqual({ $set: { streamId: 's1' } });
    expect(change.ns).toBeUndefined();
  });

  test('replaceOne is reported as update', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    const stream = await openChangeStream(members);

    await members.replaceOne({ _id: 'm1' }, { roomId: 'room-b' });
    const change = await nextChange(stream);

    expect(change.operationType).toBe('update');
  });

  test('cluster-wide change stream is rejected', async () => {
    const stream = client.watch();
    onTestFinished(() => stream.close());

    const opened = stream.tryNext();

    await expect(opened).rejects.toBeInstanceOf(MongoServerError);
    await expect(opened).rejects.toMatchObject({
      code: 59,
      message: "no such command: 'aggregate'",
    });
  });

  test('unknown resume token replays from start', async () => {
    const members = newCollection();
    await members.insertOne({ _id: 'm1', roomId: 'room-a' });
    await members.insertOne({ _id: 'm2', roomId: 'room-a' });

    // MongoDB fails such a stream with ChangeStreamHistoryLost (code 286), which is what a
    // CDC producer handles with a full resync. This server starts at its first oplog entry.
    const stream = members.watch<Member>([], { resumeAfter: { _data: '0000000000000001' } });
    onTestFinished(() => stream.close());
    const change = await nextChange(stream);

    expect(change.operationType).toBe('insert');
    expect(fullDocumentOf(change)?._id).toBe('m1');
  });
});

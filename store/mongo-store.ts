/**
 * MongoDB store adapter on the official driver. Each record is a document whose `_id` is its id
 * (members: `{ roomId, sessionId }`), so change-stream events name the record even for deletes,
 * and the `_id` index enforces the uniqueness that `insert` relies on. Audience members live in
 * `audienceMembers`, every other role in `members`.
 *
 * Tested against mongo-java-server 1.47 (in-memory backend), which speaks the wire protocol but
 * lacks some MongoDB features: this file keeps to CRUD commands, `countDocuments` (a `$match` and
 * `$group` aggregation), `createIndexes` and `findAndModify`, and uses no transactions.
 */
import { MongoClient, MongoServerError } from 'mongodb';
import type { Collection, CompressorName, Db, Document } from 'mongodb';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { MongoChangeFeed } from './mongo-change-feed.ts';
import type {
  Application,
  ForkRecord,
  Member,
  Room,
  RoomType,
  Stream,
  StreamState,
} from '../domain/types.ts';
import type {
  ApplicationRepository,
  CheckpointRepository,
  ForkRepository,
  MemberRepository,
  RoomRepository,
  StandingFork,
  StandingForkRepository,
  Store,
  StreamRepository,
} from './store.ts';
import {
  compareMembers,
  compareRooms,
  compareStreams,
  forkUpdateFields,
  transitionFields,
} from './store-rules.ts';

/** Collection names, for code that reads the collections directly (change streams, tools). */
export const MONGO_COLLECTIONS = {
  applications: 'applications',
  rooms: 'rooms',
  members: 'members',
  audienceMembers: 'audienceMembers',
  streams: 'streams',
  forks: 'forks',
  standingForks: 'standingForks',
  checkpoints: 'checkpoints',
} as const;

/** `_id` of a member document, in both member collections. */
export interface MemberDocumentId {
  roomId: string;
  sessionId: string;
}

type ApplicationDocument = Application & { _id: string };
type RoomDocument = Room & { _id: string };
type MemberDocument = Member & { _id: MemberDocumentId };
type StreamDocument = Stream & { _id: string };
type ForkDocument = ForkRecord & { _id: string };

export interface MongoStoreOptions {
  /** Database name. Default: the database of the URI, else the driver's default (`test`). */
  dbName?: string;
  logger?: Logger;
  /**
   * Wire compressors to offer the server, in order of preference. Default `['zstd']`, which
   * needs the `@mongodb-js/zstd` package. Replaces any `compressors` option of the URI. A
   * server that accepts none of them gets uncompressed messages, so the default also works with
   * mongo-java-server 1.47, whose handshake reply lists no compressor.
   */
  compressors?: CompressorName[];
}

/**
 * Connects to MongoDB, creates the indexes the repositories rely on and returns the store.
 * Closes the client again when index creation fails.
 */
export async function connectMongoStore(
  uri: string,
  options: MongoStoreOptions = {},
): Promise<Store> {
  const compressors = options.compressors ?? ['zstd'];
  const client = new MongoClient(uri, { compressors });
  await client.connect();

  const db = client.db(options.dbName);
  const logger = (options.logger ?? pino()).child({
    module: 'mongo-store',
    dbName: db.databaseName,
  });
  try {
    await createIndexes(db);
  } catch (error) {
    logger.error({ err: error }, 'creating store indexes failed, closing the client');
    await client.close();
    throw error;
  }
  logger.info({ compressors }, 'mongo store connected');

  const members = new MongoMemberRepository(
    db.collection<MemberDocument>(MONGO_COLLECTIONS.members),
    db.collection<MemberDocument>(MONGO_COLLECTIONS.audienceMembers),
  );
  return {
    applications: new MongoApplicationRepository(
      db.collection<ApplicationDocument>(MONGO_COLLECTIONS.applications),
    ),
    rooms: new MongoRoomRepository(db.collection<RoomDocument>(MONGO_COLLECTIONS.rooms), members),
    members,
    streams: new MongoStreamRepository(db.collection<StreamDocument>(MONGO_COLLECTIONS.streams)),
    forks: new MongoForkRepository(db.collection<ForkDocument>(MONGO_COLLECTIONS.forks)),
    standingForks: new MongoStandingForkRepository(db.collection(MONGO_COLLECTIONS.standingForks)),
    checkpoints: new MongoCheckpointRepository(db.collection(MONGO_COLLECTIONS.checkpoints)),
    changes: new MongoChangeFeed(
      {
        [MONGO_COLLECTIONS.members]: db.collection(MONGO_COLLECTIONS.members),
        [MONGO_COLLECTIONS.audienceMembers]: db.collection(MONGO_COLLECTIONS.audienceMembers),
      },
      logger,
    ),
    close: async () => {
      await client.close();
      logger.info('mongo store closed');
    },
  };
}

class MongoStandingForkRepository implements StandingForkRepository {
  constructor(private readonly collection: Collection<Document>) {}

  async put(fork: StandingFork): Promise<void> {
    const _id = { roomId: fork.roomId, sourceRoomId: fork.sourceRoomId };
    await this.collection.replaceOne({ _id }, { ...fork }, { upsert: true });
  }

  async get(roomId: string, sourceRoomId: string): Promise<StandingFork | undefined> {
    const found = await this.collection.findOne({ _id: { roomId, sourceRoomId } });
    return found === null ? undefined : withoutId<StandingFork>(found);
  }

  async listBySource(sourceRoomId: string): Promise<StandingFork[]> {
    const found = await this.collection.find({ sourceRoomId }).toArray();
    return found.map((document) => withoutId<StandingFork>(document));
  }

  async listSources(): Promise<string[]> {
    const found = await this.collection.find({}, { projection: { sourceRoomId: 1 } }).toArray();
    return [...new Set(found.map((document) => String(document.sourceRoomId)))];
  }

  async delete(roomId: string, sourceRoomId: string): Promise<boolean> {
    const result = await this.collection.deleteOne({ _id: { roomId, sourceRoomId } });
    return result.deletedCount === 1;
  }
}

class MongoCheckpointRepository implements CheckpointRepository {
  constructor(private readonly collection: Collection<Document>) {}

  async get(name: string): Promise<string | undefined> {
    const found = await this.collection.findOne({ _id: name as never });
    return typeof found?.value === 'string' ? found.value : undefined;
  }

  async put(name: string, value: string): Promise<void> {
    await this.collection.replaceOne({ _id: name as never }, { value }, { upsert: true });
  }
}

function withoutId<T>(document: Document): T {
  const fields: Document = { ...document };
  delete fields._id;
  return fields as T;
}

async function createIndexes(db: Db): Promise<void> {
  await db
    .collection(MONGO_COLLECTIONS.rooms)
    .createIndex({ applicationId: 1, alias: 1 }, { unique: true });
  await db.collection(MONGO_COLLECTIONS.members).createIndex({ roomId: 1, lastUpdate: 1 });
  await db.collection(MONGO_COLLECTIONS.audienceMembers).createIndex({ roomId: 1, lastUpdate: 1 });
  await db.collection(MONGO_COLLECTIONS.streams).createIndex({ upstreamId: 1 });
  await db.collection(MONGO_COLLECTIONS.standingForks).createIndex({ sourceRoomId: 1 });
}

/** True for a write that broke a unique index (MongoDB error code 11000, `DuplicateKey`). */
export function isDuplicateKeyError(error: unknown): boolean {
  return error instanceof MongoServerError && error.code === 11000;
}

/** Inserts the document and returns false when a unique index already contains its key. */
async function insertUnlessDuplicate<T extends { _id: unknown }>(
  collection: Collection<T>,
  document: T,
): Promise<boolean> {
  try {
    // The driver types the argument as a conditional type that T does not narrow to.
    await collection.insertOne(document as Parameters<Collection<T>['insertOne']>[0]);
    return true;
  } catch (error) {
    if (isDuplicateKeyError(error)) {
      return false;
    }
    throw error;
  }
}

/** Returns the record of a document: a copy without the storage key `_id`. */
function recordOf<T extends { _id: unknown }>(document: T): Omit<T, '_id'> {
  const record: Partial<T> = { ...document };
  delete record._id;
  return record as Omit<T, '_id'>;
}

function recordOrUndefined<T extends { _id: unknown }>(
  document: T | null,
): Omit<T, '_id'> | undefined {
  return document === null ? undefined : recordOf(document);
}

class MongoApplicationRepository implements ApplicationRepository {
  constructor(private readonly collection: Collection<ApplicationDocument>) {}

  async upsert(application: Application): Promise<void> {
    await this.collection.replaceOne(
      { _id: application.applicationId },
      { ...application },
      { upsert: true },
    );
  }

  async get(applicationId: string): Promise<Application | undefined> {
    return recordOrUndefined(await this.collection.findOne({ _id: applicationId }));
  }
}

/**
 * Insert attempts of `create`. A duplicate key error costs one attempt when the conflicting room
 * is deleted before it can be read.
 */
const ROOM_CREATE_ATTEMPTS = 3;

class MongoRoomRepository implements RoomRepository {
  constructor(
    private readonly collection: Collection<RoomDocument>,
    private readonly members: MongoMemberRepository,
  ) {}

  async create(room: Room): Promise<{ created: boolean; room: Room }> {
    for (let attempt = 1; attempt <= ROOM_CREATE_ATTEMPTS; attempt += 1) {
      if (await insertUnlessDuplicate(this.collection, { ...room, _id: room.roomId })) {
        return { created: true, room: structuredClone(room) };
      }
      // The duplicate is either the alias within the application or the room id. The alias
      // comes first, because that is the conflict the contract returns the stored room for.
      const stored =
        (await this.collection.findOne({ applicationId: room.applicationId, alias: room.alias })) ??
        (await this.collection.findOne({ _id: room.roomId }));
      if (stored !== null) {
        return { created: false, room: recordOf(stored) };
      }
    }
    throw new Error(
      `creating room ${room.roomId} failed: ${ROOM_CREATE_ATTEMPTS} inserts met a room with its ` +
        'alias or id that was deleted before it could be read. Retry the request.',
    );
  }

  async get(roomId: string): Promise<Room | undefined> {
    return recordOrUndefined(await this.collection.findOne({ _id: roomId }));
  }

  async list(applicationId: string, type?: RoomType): Promise<Room[]> {
    const filter = type === undefined ? { applicationId } : { applicationId, type };
    const documents = await this.collection.find(filter).toArray();
    return documents.map(recordOf).sort(compareRooms);
  }

  async delete(roomId: string): Promise<boolean> {
    const result = await this.collection.deleteOne({ _id: roomId });
    // Members go even when the room is already gone, so a repeated delete after a crash
    // between the two steps removes what the first one left.
    await this.members.removeRoom(roomId);
    return result.deletedCount > 0;
  }
}

/**
 * Members in two collections. MongoDB writes to two collections atomically only in a
 * transaction, and mongo-java-server 1.47 supports no sessions, so it has no transactions. A
 * re-entry that changes sets is therefore two writes: the new record first, then the delete of
 * the old one. Until the delete, and for good after a crash between the two, the session is in
 * both collections. Reads then use the record with the later lastUpdate, and the next `put` or
 * `remove` of the session repairs it.
 *
 * NOTE: `insert` checks the other collection and then inserts, so two concurrent inserts of one
 * session with roles on opposite sides can both succeed. The service has one writer per
 * destination room, which rules this out there.
 */
class MongoMemberRepository implements MemberRepository {
  constructor(
    private readonly others: Collection<MemberDocument>,
    private readonly audience: Collection<MemberDocument>,
  ) {}

  async list(roomId: string): Promise<Member[]> {
    const [audience, others] = await Promise.all([
      this.audience.find({ roomId }).toArray(),
      this.others.find({ roomId }).toArray(),
    ]);
    return newestPerSession([...audience, ...others].map(recordOf)).sort(compareMembers);
  }

  async get(roomId: string, sessionId: string): Promise<Member | undefined> {
    const _id = memberDocumentId(roomId, sessionId);
    const [audience, others] = await Promise.all([
      this.audience.findOne({ _id }),
      this.others.findOne({ _id }),
    ]);
    return newerMember(recordOrUndefined(audience), recordOrUndefined(others));
  }

  /** NOTE: counts a session twice while it is in both collections (see the class comment). */
  async count(roomId: string): Promise<number> {
    const [audience, others] = await Promise.all([
      this.audience.countDocuments({ roomId }),
      this.others.countDocuments({ roomId }),
    ]);
    return audience + others;
  }

  async insert(member: Member): Promise<boolean> {
    const _id = memberDocumentId(member.roomId, member.sessionId);
    const existing = await this.otherCollection(member).findOne(
      { _id },
      { projection: { _id: 1 } },
    );
    if (existing !== null) {
      return false;
    }
    return insertUnlessDuplicate(this.collectionFor(member), { ...member, _id });
  }

  async put(member: Member): Promise<void> {
    const _id = memberDocumentId(member.roomId, member.sessionId);
    await this.collectionFor(member).replaceOne({ _id }, { ...member }, { upsert: true });
    await this.otherCollection(member).deleteOne({ _id });
  }

  async remove(roomId: string, sessionId: string): Promise<Member | undefined> {
    const _id = memberDocumentId(roomId, sessionId);
    // Read then deleteOne rather than findOneAndDelete: mongo-java-server 1.47 emits no change
    // event for findOneAndDelete, and the change-stream producer must see every leave.
    const [audience, others] = await Promise.all([
      this.audience.findOne({ _id }),
      this.others.findOne({ _id }),
    ]);
    await Promise.all([
      audience === null ? undefined : this.audience.deleteOne({ _id }),
      others === null ? undefined : this.others.deleteOne({ _id }),
    ]);
    return newerMember(recordOrUndefined(audience), recordOrUndefined(others));
  }

  /** Deletes every member of the room from both collections, for `RoomRepository.delete`. */
  async removeRoom(roomId: string): Promise<void> {
    await Promise.all([this.audience.deleteMany({ roomId }), this.others.deleteMany({ roomId })]);
  }

  private collectionFor(member: Member): Collection<MemberDocument> {
    return member.role === 'Audience' ? this.audience : this.others;
  }

  private otherCollection(member: Member): Collection<MemberDocument> {
    return member.role === 'Audience' ? this.others : this.audience;
  }
}

/** Builds the `_id` of a member document. Field order matters: MongoDB compares it. */
export function memberDocumentId(roomId: string, sessionId: string): MemberDocumentId {
  return { roomId, sessionId };
}

function newerMember(a: Member | undefined, b: Member | undefined): Member | undefined {
  if (a === undefined || b === undefined) {
    return a ?? b;
  }
  return b.lastUpdate > a.lastUpdate ? b : a;
}

function newestPerSession(members: Member[]): Member[] {
  const bySession = new Map<string, Member>();
  for (const member of members) {
    const newer = newerMember(bySession.get(member.sessionId), member);
    if (newer !== undefined) {
      bySession.set(member.sessionId, newer);
    }
  }
  return [...bySession.values()];
}

class MongoStreamRepository implements StreamRepository {
  constructor(private readonly collection: Collection<StreamDocument>) {}

  async insert(stream: Stream): Promise<boolean> {
    return insertUnlessDuplicate(this.collection, { ...stream, _id: stream.streamId });
  }

  async get(streamId: string): Promise<Stream | undefined> {
    return recordOrUndefined(await this.collection.findOne({ _id: streamId }));
  }

  async getMany(streamIds: string[]): Promise<Stream[]> {
    const requested = [...new Set(streamIds)];
    if (requested.length === 0) {
      return [];
    }
    const documents = await this.collection.find({ _id: { $in: requested } }).toArray();
    const byId = new Map(documents.map((document) => [document._id, recordOf(document)]));
    return requested.flatMap((streamId) => byId.get(streamId) ?? []);
  }

  async transition(
    streamId: string,
    from: StreamState[],
    to: StreamState,
    endReason?: string,
  ): Promise<Stream | undefined> {
    // One findAndModify: the state check and the write are atomic, so of two concurrent
    // transitions from the same state exactly one matches.
    const updated = await this.collection.findOneAndUpdate(
      { _id: streamId, state: { $in: from } },
      { $set: { state: to, ...transitionFields(to, endReason, Date.now()) } },
      { returnDocument: 'after' },
    );
    return recordOrUndefined(updated);
  }

  async listMirrors(upstreamId: string): Promise<Stream[]> {
    const documents = await this.collection.find({ upstreamId }).toArray();
    return documents.map(recordOf).sort(compareStreams);
  }
}

class MongoForkRepository implements ForkRepository {
  constructor(private readonly collection: Collection<ForkDocument>) {}

  async insert(record: ForkRecord): Promise<boolean> {
    return insertUnlessDuplicate(this.collection, { ...record, _id: record.forkId });
  }

  async get(forkId: string): Promise<ForkRecord | undefined> {
    return recordOrUndefined(await this.collection.findOne({ _id: forkId }));
  }

  async update(
    forkId: string,
    fields: Partial<Omit<ForkRecord, 'forkId'>>,
  ): Promise<ForkRecord | undefined> {
    const updates = forkUpdateFields(fields);
    if (Object.keys(updates).length === 0) {
      // Older MongoDB servers reject an empty `$set` (error 9, "'$set' is empty"), and there is
      // nothing to write anyway.
      return this.get(forkId);
    }
    const updated = await this.collection.findOneAndUpdate(
      { _id: forkId },
      { $set: updates },
      { returnDocument: 'after' },
    );
    return recordOrUndefined(updated);
  }
}

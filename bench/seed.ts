/**
 * Bulk setup for the throughput and memory scenarios, which need more destinations than forks
 * through the REST API could make within the bench's time. The bench writes to the service's
 * own database with the service's store adapter, and creates mirrors with the executor's own
 * StreamOperations. So the records are those a fork leaves: a mirror record tagged for its
 * channel, a live mirror on a media node, and a member whose URI names the mirror.
 */
import { MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import { randomAlphanumeric } from '../domain/ids.ts';
import { formatStreamUri } from '../domain/stream-uri.ts';
import type { Member, Room } from '../domain/types.ts';
import type { MediaCluster } from '../media/media-cluster.ts';
import { mirrorStreamId } from '../processors/mirror-ids.ts';
import { StreamOperations } from '../processors/stream-operations.ts';
import { MONGO_COLLECTIONS, connectMongoStore } from '../store/mongo-store.ts';
import type { Store } from '../store/store.ts';
import { forEachLimit, mapLimit } from './concurrency.ts';
import { BENCH_APP } from './service-process.ts';
import type { CarriedMirror } from './setup.ts';

/** Store and media node calls in flight while seeding. */
const SEED_CONCURRENCY = 64;
const SEED_FORK_ID = 'bench-seed';

/** A source member and the origin stream it publishes. */
export interface SourceStream {
  sessionId: string;
  originStreamId: string;
}

export class Seeder {
  readonly #store: Store;
  readonly #streams: StreamOperations;
  readonly #mongodbUri: string;
  readonly #dbName: string;

  private constructor(store: Store, streams: StreamOperations, mongodbUri: string, dbName: string) {
    this.#store = store;
    this.#streams = streams;
    this.#mongodbUri = mongodbUri;
    this.#dbName = dbName;
  }

  static async open(
    mongodbUri: string,
    dbName: string,
    media: MediaCluster,
    logger: Logger,
  ): Promise<Seeder> {
    const store = await connectMongoStore(mongodbUri, { dbName, logger });
    return new Seeder(store, new StreamOperations(store, media, logger), mongodbUri, dbName);
  }

  /** Creates channels like `PUT /pcast/channel` does, with the bench's application. */
  async createChannels(count: number, label: string): Promise<Room[]> {
    const now = Date.now();
    return mapLimit(Array.from({ length: count }), SEED_CONCURRENCY, async (_, index) => {
      const alias = `${label}${index}`;
      const room: Room = {
        roomId: `us-east#${BENCH_APP.id}#${alias}.${randomAlphanumeric(12)}`,
        applicationId: BENCH_APP.id,
        alias,
        name: alias,
        description: '',
        type: 'Channel',
        options: [],
        streamKey: randomAlphanumeric(32),
        created: now,
        lastUpdate: now,
      };
      const result = await this.#store.rooms.create(room);
      if (!result.created) {
        throw new Error(`channel alias ${alias} already exists`);
      }
      return room;
    });
  }

  /**
   * Gives every channel a member per source stream, carrying a new mirror of that stream, as
   * a fork of the source would. Returns the mirrors.
   */
  async mirrorInto(
    channels: readonly Room[],
    sources: readonly SourceStream[],
    onProgress: (done: number) => void,
  ): Promise<CarriedMirror[]> {
    const jobs = channels.flatMap((channel) => sources.map((source) => ({ channel, source })));
    let done = 0;
    return mapLimit(jobs, SEED_CONCURRENCY, async ({ channel, source }) => {
      const mirrorId = mirrorStreamId(
        SEED_FORK_ID,
        channel.roomId,
        source.sessionId,
        source.originStreamId,
      );
      const { stream } = await this.#streams.createMirror({
        mirrorStreamId: mirrorId,
        originStreamId: source.originStreamId,
        sessionId: source.sessionId,
        tags: ['x-fork', `channelId:${channel.roomId}`, `channelAlias:${channel.alias}`],
        capabilities: ['hd'],
        roomId: channel.roomId,
        createdBy: SEED_FORK_ID,
        desiredRegion: null,
      });
      await this.#store.members.put(memberOf(channel, source.sessionId, [mirrorId]));
      done += 1;
      onProgress(done);
      return {
        destinationId: channel.roomId,
        sessionId: source.sessionId,
        streamId: stream.streamId,
        nodeId: stream.node,
      };
    });
  }

  /**
   * Gives every channel a member per source stream that carries the origin stream itself, as a
   * member that joined the channel directly does. A fork of the source into such a channel then
   * finds every member in both rooms and plans nothing.
   */
  async addMembers(
    channels: readonly Room[],
    sources: readonly SourceStream[],
    onProgress: (done: number) => void,
  ): Promise<void> {
    const jobs = channels.flatMap((channel) => sources.map((source) => ({ channel, source })));
    let done = 0;
    await forEachLimit(jobs, SEED_CONCURRENCY, async ({ channel, source }) => {
      await this.#store.members.put(memberOf(channel, source.sessionId, [source.originStreamId]));
      done += 1;
      onProgress(done);
    });
  }

  /** Counts the channels and members in the database, straight from MongoDB. */
  async count(): Promise<{ rooms: number; members: number }> {
    const client = new MongoClient(this.#mongodbUri);
    try {
      const db = client.db(this.#dbName);
      const rooms = await db.collection(MONGO_COLLECTIONS.rooms).countDocuments({});
      const members =
        (await db.collection(MONGO_COLLECTIONS.members).countDocuments({})) +
        (await db.collection(MONGO_COLLECTIONS.audienceMembers).countDocuments({}));
      return { rooms, members };
    } finally {
      await client.close();
    }
  }

  async close(): Promise<void> {
    await this.#store.close();
  }
}

function memberOf(channel: Room, sessionId: string, streamIds: readonly string[]): Member {
  return {
    roomId: channel.roomId,
    sessionId,
    screenName: sessionId,
    role: 'Presenter',
    state: 'Active',
    streams: streamIds.map((streamId) => ({
      uri: formatStreamUri({
        scheme: 'pcast',
        host: 'pcast.local',
        streamId,
        capabilities: ['hd'],
      }),
      type: 'User',
      audioState: 'TRACK_ENABLED',
      videoState: 'TRACK_ENABLED',
    })),
    lastUpdate: Date.now(),
  };
}

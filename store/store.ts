/**
 * The store port: repositories for every record the service keeps. The MongoDB adapter is the
 * production one; the in-memory adapter backs the embedded mode and fast tests. One contract
 * suite (test/store.contract.test.ts) runs against both.
 */
import type {
  Application,
  ForkRecord,
  Member,
  Room,
  RoomType,
  Stream,
  StreamState,
} from '../domain/types.ts';

export interface ApplicationRepository {
  /** Inserts the application or replaces its secret. */
  upsert(application: Application): Promise<void>;
  get(applicationId: string): Promise<Application | undefined>;
}

export interface RoomRepository {
  /**
   * Inserts the room unless a room of the same application has the same alias; then returns
   * the stored room and `created: false`.
   */
  create(room: Room): Promise<{ created: boolean; room: Room }>;
  get(roomId: string): Promise<Room | undefined>;
  list(applicationId: string, type?: RoomType): Promise<Room[]>;
  /** Deletes the room and its members. Returns false when the room did not exist. */
  delete(roomId: string): Promise<boolean>;
}

export interface MemberRepository {
  /** Members of the room, both the audience set and the other roles, by ascending lastUpdate. */
  list(roomId: string): Promise<Member[]>;
  get(roomId: string, sessionId: string): Promise<Member | undefined>;
  count(roomId: string): Promise<number>;
  /** Inserts the member unless the session is already in the room; returns whether it did. */
  insert(member: Member): Promise<boolean>;
  /**
   * Writes the member as a re-entry: replaces any record of the same session, removing it from
   * the audience set or the room set it was in when its role moved it to the other.
   */
  put(member: Member): Promise<void>;
  /** Removes the member; returns the removed record. */
  remove(roomId: string, sessionId: string): Promise<Member | undefined>;
}

export interface StreamRepository {
  /** Inserts the stream unless its id exists; returns whether it did. */
  insert(stream: Stream): Promise<boolean>;
  get(streamId: string): Promise<Stream | undefined>;
  /** Returns the records of the ids that exist, once each, in the order of `streamIds`. */
  getMany(streamIds: string[]): Promise<Stream[]>;
  /**
   * Sets the stream's state (and `endReason`, `ended` for `ending`/`ended`) when its current
   * state is one of `from`; returns the updated record, or undefined when nothing matched.
   */
  transition(
    streamId: string,
    from: StreamState[],
    to: StreamState,
    endReason?: string,
  ): Promise<Stream | undefined>;
  /** Mirrors of the origin stream, in any state. */
  listMirrors(upstreamId: string): Promise<Stream[]>;
}

export interface ForkRepository {
  /** Inserts the record unless its forkId exists; returns whether it did. */
  insert(record: ForkRecord): Promise<boolean>;
  get(forkId: string): Promise<ForkRecord | undefined>;
  /** Merges the fields into the stored record and returns it. */
  update(
    forkId: string,
    fields: Partial<Omit<ForkRecord, 'forkId'>>,
  ): Promise<ForkRecord | undefined>;
}

/** A fork with `follow`: it keeps the destination in step with the source until stopped. */
export interface StandingFork {
  roomId: string;
  sourceRoomId: string;
  applicationId: string | null;
  /** The fork that started it. */
  forkId: string;
  streamCapabilities: string[];
  streamTags: string[];
  options: string[];
  desiredRegion: string | null;
  created: number;
}

export interface StandingForkRepository {
  /** Inserts or replaces the standing fork of the (destination, source) pair. */
  put(fork: StandingFork): Promise<void>;
  get(roomId: string, sourceRoomId: string): Promise<StandingFork | undefined>;
  /** Standing forks whose source is the room. */
  listBySource(sourceRoomId: string): Promise<StandingFork[]>;
  /** Ids of every room that a standing fork follows. */
  listSources(): Promise<string[]>;
  /** Deletes it; returns false when there was none. */
  delete(roomId: string, sourceRoomId: string): Promise<boolean>;
}

/** Small named values that must survive restarts, such as change-stream resume tokens. */
export interface CheckpointRepository {
  get(name: string): Promise<string | undefined>;
  put(name: string, value: string): Promise<void>;
}

/** One change of a room's member set, read from the store's change feed. */
export interface MemberChange {
  /** Resume token: opening the feed after it continues with the next change. */
  token: string;
  roomId: string;
  sessionId: string;
  operation: 'upsert' | 'delete';
}

export interface ChangeCursor {
  /** Resolves with the next change; waits for one. Rejects with ChangeHistoryLostError. */
  next(): Promise<MemberChange>;
  close(): Promise<void>;
}

/** The resume token is too old for the feed: changes after it are gone. */
export class ChangeHistoryLostError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChangeHistoryLostError';
  }
}

export interface ChangeFeed {
  /** Opens the member change feed after `resumeToken`, or at its current end when null. */
  open(resumeToken: string | null): Promise<ChangeCursor>;
}

export interface Store {
  applications: ApplicationRepository;
  rooms: RoomRepository;
  members: MemberRepository;
  streams: StreamRepository;
  forks: ForkRepository;
  standingForks: StandingForkRepository;
  checkpoints: CheckpointRepository;
  changes: ChangeFeed;
  close(): Promise<void>;
}

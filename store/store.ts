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

export interface Store {
  applications: ApplicationRepository;
  rooms: RoomRepository;
  members: MemberRepository;
  streams: StreamRepository;
  forks: ForkRepository;
  close(): Promise<void>;
}

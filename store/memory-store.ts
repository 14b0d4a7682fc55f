/**
 * In-memory store adapter for the embedded mode and fast tests. It keeps every record as a
 * private copy: writes clone their input and reads return clones, so no caller can change
 * stored state except through the repositories.
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
import { MemoryChangeFeed } from './memory-change-feed.ts';
import type {
  ApplicationRepository,
  CheckpointRepository,
  StandingFork,
  StandingForkRepository,
  ForkRepository,
  MemberRepository,
  RoomRepository,
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

/** Creates an empty in-memory store. */
export function createMemoryStore(): Store {
  const changes = new MemoryChangeFeed();
  const members = new MemoryMemberRepository(changes);
  return {
    applications: new MemoryApplicationRepository(),
    rooms: new MemoryRoomRepository(members),
    members,
    streams: new MemoryStreamRepository(),
    forks: new MemoryForkRepository(),
    standingForks: new MemoryStandingForkRepository(),
    checkpoints: new MemoryCheckpointRepository(),
    changes,
    close: async () => {},
  };
}

class MemoryStandingForkRepository implements StandingForkRepository {
  private readonly forks = new Map<string, StandingFork>();

  async put(fork: StandingFork): Promise<void> {
    this.forks.set(standingKey(fork.roomId, fork.sourceRoomId), copyOf(fork));
  }

  async get(roomId: string, sourceRoomId: string): Promise<StandingFork | undefined> {
    return copyOrUndefined(this.forks.get(standingKey(roomId, sourceRoomId)));
  }

  async listBySource(sourceRoomId: string): Promise<StandingFork[]> {
    return [...this.forks.values()]
      .filter((fork) => fork.sourceRoomId === sourceRoomId)
      .map(copyOf);
  }

  async listSources(): Promise<string[]> {
    return [...new Set([...this.forks.values()].map((fork) => fork.sourceRoomId))];
  }

  async delete(roomId: string, sourceRoomId: string): Promise<boolean> {
    return this.forks.delete(standingKey(roomId, sourceRoomId));
  }
}

function standingKey(roomId: string, sourceRoomId: string): string {
  return JSON.stringify([roomId, sourceRoomId]);
}

class MemoryCheckpointRepository implements CheckpointRepository {
  private readonly values = new Map<string, string>();

  async get(name: string): Promise<string | undefined> {
    return this.values.get(name);
  }

  async put(name: string, value: string): Promise<void> {
    this.values.set(name, value);
  }
}

function copyOf<T>(record: T): T {
  return structuredClone(record);
}

function copyOrUndefined<T>(record: T | undefined): T | undefined {
  return record === undefined ? undefined : structuredClone(record);
}

class MemoryApplicationRepository implements ApplicationRepository {
  private readonly applications = new Map<string, Application>();

  async upsert(application: Application): Promise<void> {
    this.applications.set(application.applicationId, copyOf(application));
  }

  async get(applicationId: string): Promise<Application | undefined> {
    return copyOrUndefined(this.applications.get(applicationId));
  }
}

class MemoryRoomRepository implements RoomRepository {
  private readonly rooms = new Map<string, Room>();
  /** Room ids by application id, then alias: the unique index on (applicationId, alias). */
  private readonly aliases = new Map<string, Map<string, string>>();

  constructor(private readonly members: MemoryMemberRepository) {}

  async create(room: Room): Promise<{ created: boolean; room: Room }> {
    const aliasOwnerId = this.aliases.get(room.applicationId)?.get(room.alias);
    const stored = this.rooms.get(aliasOwnerId ?? room.roomId);
    if (stored !== undefined) {
      return { created: false, room: copyOf(stored) };
    }

    this.rooms.set(room.roomId, copyOf(room));
    let applicationAliases = this.aliases.get(room.applicationId);
    if (applicationAliases === undefined) {
      applicationAliases = new Map();
      this.aliases.set(room.applicationId, applicationAliases);
    }
    applicationAliases.set(room.alias, room.roomId);
    return { created: true, room: copyOf(room) };
  }

  async get(roomId: string): Promise<Room | undefined> {
    return copyOrUndefined(this.rooms.get(roomId));
  }

  async list(applicationId: string, type?: RoomType): Promise<Room[]> {
    const rooms = [...this.rooms.values()].filter(
      (room) => room.applicationId === applicationId && (type === undefined || room.type === type),
    );
    return rooms.sort(compareRooms).map(copyOf);
  }

  async delete(roomId: string): Promise<boolean> {
    // The members go even when the room is already gone, as in the MongoDB adapter.
    this.members.removeRoom(roomId);

    const room = this.rooms.get(roomId);
    if (room === undefined) {
      return false;
    }
    this.rooms.delete(roomId);
    const applicationAliases = this.aliases.get(room.applicationId);
    applicationAliases?.delete(room.alias);
    if (applicationAliases?.size === 0) {
      this.aliases.delete(room.applicationId);
    }
    return true;
  }
}

/** The two member sets of one room: audience members apart from every other role. */
interface RoomMemberSets {
  audience: Map<string, Member>;
  others: Map<string, Member>;
}

class MemoryMemberRepository implements MemberRepository {
  private readonly rooms = new Map<string, RoomMemberSets>();

  constructor(private readonly changes: MemoryChangeFeed) {}

  async list(roomId: string): Promise<Member[]> {
    const sets = this.rooms.get(roomId);
    if (sets === undefined) {
      return [];
    }
    const members = [...sets.audience.values(), ...sets.others.values()];
    return members.sort(compareMembers).map(copyOf);
  }

  async get(roomId: string, sessionId: string): Promise<Member | undefined> {
    const sets = this.rooms.get(roomId);
    return copyOrUndefined(sets?.audience.get(sessionId) ?? sets?.others.get(sessionId));
  }

  async count(roomId: string): Promise<number> {
    const sets = this.rooms.get(roomId);
    return sets === undefined ? 0 : sets.audience.size + sets.others.size;
  }

  async insert(member: Member): Promise<boolean> {
    const sets = this.setsOf(member.roomId);
    if (sets.audience.has(member.sessionId) || sets.others.has(member.sessionId)) {
      return false;
    }
    setFor(sets, member).set(member.sessionId, copyOf(member));
    this.changes.record(member.roomId, member.sessionId, 'upsert');
    return true;
  }

  async put(member: Member): Promise<void> {
    const sets = this.setsOf(member.roomId);
    sets.audience.delete(member.sessionId);
    sets.others.delete(member.sessionId);
    setFor(sets, member).set(member.sessionId, copyOf(member));
    this.changes.record(member.roomId, member.sessionId, 'upsert');
  }

  async remove(roomId: string, sessionId: string): Promise<Member | undefined> {
    const sets = this.rooms.get(roomId);
    if (sets === undefined) {
      return undefined;
    }
    // A session is in at most one of the two sets, because insert and put keep it so.
    const removed = sets.audience.get(sessionId) ?? sets.others.get(sessionId);
    sets.audience.delete(sessionId);
    sets.others.delete(sessionId);
    if (sets.audience.size === 0 && sets.others.size === 0) {
      this.rooms.delete(roomId);
    }
    if (removed !== undefined) {
      this.changes.record(roomId, sessionId, 'delete');
    }
    return removed;
  }

  /** Drops every member of the room, for `RoomRepository.delete`. */
  removeRoom(roomId: string): void {
    const sets = this.rooms.get(roomId);
    this.rooms.delete(roomId);
    for (const sessionId of [...(sets?.audience.keys() ?? []), ...(sets?.others.keys() ?? [])]) {
      this.changes.record(roomId, sessionId, 'delete');
    }
  }

  private setsOf(roomId: string): RoomMemberSets {
    let sets = this.rooms.get(roomId);
    if (sets === undefined) {
      sets = { audience: new Map(), others: new Map() };
      this.rooms.set(roomId, sets);
    }
    return sets;
  }
}

function setFor(sets: RoomMemberSets, member: Member): Map<string, Member> {
  return member.role === 'Audience' ? sets.audience : sets.others;
}

class MemoryStreamRepository implements StreamRepository {
  private readonly streams = new Map<string, Stream>();

  async insert(stream: Stream): Promise<boolean> {
    if (this.streams.has(stream.streamId)) {
      return false;
    }
    this.streams.set(stream.streamId, copyOf(stream));
    return true;
  }

  async get(streamId: string): Promise<Stream | undefined> {
    return copyOrUndefined(this.streams.get(streamId));
  }

  async getMany(streamIds: string[]): Promise<Stream[]> {
    const found: Stream[] = [];
    for (const streamId of new Set(streamIds)) {
      const stream = this.streams.get(streamId);
      if (stream !== undefined) {
        found.push(copyOf(stream));
      }
    }
    return found;
  }

  async transition(
    streamId: string,
    from: StreamState[],
    to: StreamState,
    endReason?: string,
  ): Promise<Stream | undefined> {
    const stream = this.streams.get(streamId);
    if (stream === undefined || !from.includes(stream.state)) {
      return undefined;
    }
    Object.assign(stream, { state: to }, transitionFields(to, endReason, Date.now()));
    return copyOf(stream);
  }

  async listMirrors(upstreamId: string): Promise<Stream[]> {
    const mirrors = [...this.streams.values()].filter((stream) => stream.upstreamId === upstreamId);
    return mirrors.sort(compareStreams).map(copyOf);
  }
}

class MemoryForkRepository implements ForkRepository {
  private readonly forks = new Map<string, ForkRecord>();

  async insert(record: ForkRecord): Promise<boolean> {
    if (this.forks.has(record.forkId)) {
      return false;
    }
    this.forks.set(record.forkId, copyOf(record));
    return true;
  }

  async get(forkId: string): Promise<ForkRecord | undefined> {
    return copyOrUndefined(this.forks.get(forkId));
  }

  async update(
    forkId: string,
    fields: Partial<Omit<ForkRecord, 'forkId'>>,
  ): Promise<ForkRecord | undefined> {
    const record = this.forks.get(forkId);
    if (record === undefined) {
      return undefined;
    }
    Object.assign(record, copyOf(forkUpdateFields(fields)));
    return copyOf(record);
  }
}

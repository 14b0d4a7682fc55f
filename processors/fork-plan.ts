/**
 * Types of a fork plan: the pure planner's output and the executor's input. A plan names every
 * effect by a deterministic id so that running it twice, or running a second plan computed from
 * the same state, creates nothing twice.
 */
import type { ForkRequest, Member, Room, Stream } from '../domain/types.ts';

export interface ForkPlanInput {
  request: Pick<
    ForkRequest,
    | 'forkId'
    | 'roomId'
    | 'sourceRoomId'
    | 'streamCapabilities'
    | 'streamTags'
    | 'options'
    | 'desiredRegion'
  >;
  destination: { room: Room; members: Member[] };
  source: { room: Room; members: Member[] };
  /** Stream records by id, for every stream that a member of either room references. */
  streams: ReadonlyMap<string, Stream>;
}

/** A destination member that leaves; its streams are destroyed unless `keep-streams`. */
export interface PlannedDeparture {
  sessionId: string;
  destroyStreamIds: string[];
}

/** A new mirror of one origin stream for a joining member. */
export interface PlannedMirror {
  /** Deterministic: derived from fork id, destination, session and origin stream id. */
  mirrorStreamId: string;
  originStreamId: string;
  /** The member's URI for this stream: origin scheme and host, mirror id, fork capabilities. */
  memberUri: string;
  tags: string[];
  capabilities: string[];
}

/** One stream of the member record the destination will hold after the join. */
export interface PlannedMemberStream {
  uri: string;
  type: string;
  audioState: string;
  videoState: string;
  /** Set when this stream needs a new mirror; absent when an existing live mirror is kept. */
  mirror?: PlannedMirror;
}

export interface PlannedJoin {
  sessionId: string;
  /** The member record to write (re-entry) into the destination once every mirror exists. */
  member: Omit<Member, 'streams' | 'lastUpdate'> & {
    streams: PlannedMemberStream[];
  };
  /**
   * Destination streams of this session that the new record no longer references; destroyed
   * with `replaced-by-fork` after the member record switched (make-before-break).
   */
  replacedStreamIds: string[];
  /** The member's destination record when the plan was made, or null if absent (precondition). */
  expectedStreamUris: string[] | null;
}

/** Stale destination streams destroyed with `stale-stream-refresh` before the member rejoins. */
export interface PlannedStaleRefresh {
  sessionId: string;
  destroyStreamIds: string[];
}

export interface ForkPlan {
  forkId: string;
  roomId: string;
  sourceRoomId: string;
  desiredRegion: string | null;
  departures: PlannedDeparture[];
  staleRefreshes: PlannedStaleRefresh[];
  joins: PlannedJoin[];
}

/**
 * Pure fork planner. From both rooms' members and the stream records it computes which members
 * leave the destination, which join it with which mirrors, and which streams are destroyed.
 * It does no I/O and reads no clock or randomness, so the same input always gives the same plan.
 * Rooms are checked for existence and ownership before planning, and the executor applies the
 * plan and reports mirror failures.
 */
import { formatStreamUri, parseStreamUri } from '../domain/stream-uri.ts';
import { isChannel, isStale } from '../domain/types.ts';
import type { Member, MemberStream, Room, Stream } from '../domain/types.ts';
import type {
  ForkPlan,
  ForkPlanInput,
  PlannedDeparture,
  PlannedJoin,
  PlannedMemberStream,
  PlannedStaleRefresh,
} from './fork-plan.ts';
import { mirrorStreamId } from './mirror-ids.ts';

/** A member's destination record with the stream id of each of its URIs, parsed once. */
interface CurrentRecord {
  member: Member;
  streamIds: string[];
}

/** Values shared by every join of one plan. */
interface JoinContext {
  forkId: string;
  destinationRoomId: string;
  force: boolean;
  streams: ReadonlyMap<string, Stream>;
  mirrorTags: string[];
  mirrorCapabilities: string[];
}

/**
 * Plans one fork. Members of both rooms are matched by `sessionId`:
 *
 * - Departing starts as the destination members and joining as the source members.
 * - `additive` keeps only departing members that are also in the source.
 * - Unless `force`, members in both rooms neither depart nor join.
 * - `refresh-stale` destroys the stale destination streams of a member in both rooms and adds
 *   that member to joining, once.
 * - A departing member's streams are destroyed unless `keep-streams`.
 * - A joining member gets a new mirror of the origin named in each source stream URI, except
 *   that without `force` a live mirror of that origin it already has in the destination is kept.
 *
 * A member in both rooms that would both depart and join (only possible with `force`) is planned
 * as a join alone. Its re-entry replaces its record, and its old streams are destroyed with
 * `replaced-by-fork` after the switch, so its viewers never see it leave. Departures keep the
 * destination's member order and joins and stale refreshes the source's. The `follow` option
 * does not change the plan.
 *
 * Throws when the request's room ids differ from the rooms given, which is a caller bug.
 */
export function planFork(input: ForkPlanInput): ForkPlan {
  const { request, destination, source, streams } = input;
  if (request.roomId !== destination.room.roomId || request.sourceRoomId !== source.room.roomId) {
    throw new Error(
      `fork ${request.forkId} names rooms ${request.roomId} <- ${request.sourceRoomId} but was ` +
        `given ${destination.room.roomId} <- ${source.room.roomId}. Load the rooms the request names.`,
    );
  }

  const options = new Set(request.options);
  const additive = options.has('additive');
  const force = options.has('force');
  const keepStreams = options.has('keep-streams');
  const refreshStale = options.has('refresh-stale');

  const destinationBySession = indexBySession(destination.members);
  const sourceBySession = indexBySession(source.members);
  const context: JoinContext = {
    forkId: request.forkId,
    destinationRoomId: request.roomId,
    force,
    streams,
    mirrorTags: mirrorTagsFor(request.streamTags, destination.room),
    mirrorCapabilities: [...request.streamCapabilities],
  };

  const joins: PlannedJoin[] = [];
  const staleRefreshes: PlannedStaleRefresh[] = [];
  const joiningSessions = new Set<string>();
  for (const member of source.members) {
    if (sourceBySession.get(member.sessionId) !== member) {
      continue;
    }
    const currentMember = destinationBySession.get(member.sessionId);
    let current: CurrentRecord | undefined;
    let staleIds: string[] = [];
    if (refreshStale && currentMember !== undefined) {
      current = readCurrentRecord(currentMember);
      staleIds = unique(current.streamIds.filter((id) => isStale(streams.get(id))));
    }
    if (staleIds.length > 0) {
      staleRefreshes.push({ sessionId: member.sessionId, destroyStreamIds: staleIds });
    }

    const joining = force || currentMember === undefined || staleIds.length > 0;
    if (!joining) {
      continue;
    }
    if (current === undefined && currentMember !== undefined) {
      current = readCurrentRecord(currentMember);
    }
    joiningSessions.add(member.sessionId);
    joins.push(planJoin(member, current, new Set(staleIds), context));
  }

  const departures: PlannedDeparture[] = [];
  for (const member of destination.members) {
    if (destinationBySession.get(member.sessionId) !== member) {
      continue;
    }
    const inSource = sourceBySession.has(member.sessionId);
    const departing = (!additive || inSource) && (force || !inSource);
    if (!departing || joiningSessions.has(member.sessionId)) {
      continue;
    }
    departures.push({
      sessionId: member.sessionId,
      destroyStreamIds: keepStreams ? [] : unique(readCurrentRecord(member).streamIds),
    });
  }

  return {
    forkId: request.forkId,
    roomId: request.roomId,
    sourceRoomId: request.sourceRoomId,
    desiredRegion: request.desiredRegion,
    departures,
    staleRefreshes,
    joins,
  };
}

/**
 * Plans the re-entry of one source member into the destination. `current` is its destination
 * record, if any, and `staleIds` the destination streams already destroyed as stale.
 */
function planJoin(
  member: Member,
  current: CurrentRecord | undefined,
  staleIds: ReadonlySet<string>,
  context: JoinContext,
): PlannedJoin {
  const reusableUris =
    !context.force && current !== undefined
      ? liveMirrorUrisByOrigin(current, context.streams)
      : new Map<string, string>();

  const plannedStreams: PlannedMemberStream[] = [];
  const referencedIds = new Set<string>();
  for (const stream of member.streams) {
    const origin = parseStreamUri(stream.uri);
    // An unparsable source URI still gets a mirror, keyed by the raw URI text, so the executor
    // finds no origin under that id and fails the fork with origin-not-found instead of the
    // member silently joining without that stream.
    const originStreamId = origin?.streamId ?? stream.uri;
    const reusedUri = reusableUris.get(originStreamId);
    if (reusedUri !== undefined) {
      plannedStreams.push({ ...copyStreamFields(stream), uri: reusedUri });
      referencedIds.add(streamIdOf(reusedUri));
      continue;
    }

    const mirrorId = mirrorStreamId(
      context.forkId,
      context.destinationRoomId,
      member.sessionId,
      originStreamId,
    );
    // The result of rewriteStreamUri, without parsing the origin URI a second time.
    const memberUri =
      origin === undefined
        ? stream.uri
        : formatStreamUri({
            ...origin,
            streamId: mirrorId,
            capabilities: context.mirrorCapabilities,
          });
    plannedStreams.push({
      ...copyStreamFields(stream),
      uri: memberUri,
      mirror: {
        mirrorStreamId: mirrorId,
        originStreamId,
        memberUri,
        tags: [...context.mirrorTags],
        capabilities: [...context.mirrorCapabilities],
      },
    });
    // A replanned fork derives the same mirror id, so a mirror that the member already switched
    // to must not be listed as replaced.
    referencedIds.add(mirrorId);
  }

  const replacedStreamIds =
    current === undefined
      ? []
      : unique(current.streamIds).filter((id) => !referencedIds.has(id) && !staleIds.has(id));

  return {
    sessionId: member.sessionId,
    member: {
      roomId: context.destinationRoomId,
      sessionId: member.sessionId,
      screenName: member.screenName,
      role: member.role,
      state: member.state,
      streams: plannedStreams,
    },
    replacedStreamIds,
    expectedStreamUris:
      current === undefined ? null : current.member.streams.map((stream) => stream.uri),
  };
}

/**
 * Indexes members by session id. If a session appears twice, the first record wins and callers
 * skip the others by checking that the index contains the record they are looking at.
 */
function indexBySession(members: readonly Member[]): Map<string, Member> {
  const bySession = new Map<string, Member>();
  for (const member of members) {
    if (!bySession.has(member.sessionId)) {
      bySession.set(member.sessionId, member);
    }
  }
  return bySession;
}

/**
 * Returns the stream id in a URI. An unparsable URI yields its raw text, which names no stream
 * record. Such a stream counts as stale, and a command that names it finds no stream.
 */
function streamIdOf(uri: string): string {
  return parseStreamUri(uri)?.streamId ?? uri;
}

function readCurrentRecord(member: Member): CurrentRecord {
  return { member, streamIds: member.streams.map((stream) => streamIdOf(stream.uri)) };
}

/** Returns the values without repeats, each at its first position. */
function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Maps each origin id to the URI of the member's first live mirror of it. */
function liveMirrorUrisByOrigin(
  current: CurrentRecord,
  streams: ReadonlyMap<string, Stream>,
): Map<string, string> {
  const urisByOrigin = new Map<string, string>();
  current.member.streams.forEach((memberStream, index) => {
    const record = streams.get(current.streamIds[index] ?? memberStream.uri);
    if (record === undefined || isStale(record) || record.upstreamId === null) {
      return;
    }
    if (!urisByOrigin.has(record.upstreamId)) {
      urisByOrigin.set(record.upstreamId, memberStream.uri);
    }
  });
  return urisByOrigin;
}

function mirrorTagsFor(streamTags: readonly string[], room: Room): string[] {
  const kind = isChannel(room) ? 'channel' : 'room';
  return [
    ...new Set([...streamTags, 'x-fork', `${kind}Id:${room.roomId}`, `${kind}Alias:${room.alias}`]),
  ];
}

function copyStreamFields(stream: MemberStream): MemberStream {
  return {
    uri: stream.uri,
    type: stream.type,
    audioState: stream.audioState,
    videoState: stream.videoState,
  };
}

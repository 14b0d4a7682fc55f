/**
 * The straightforward baseline of the diff-cost scenario: the same fork plan as
 * processors/planner.ts, but each member is matched by scanning the other room's member list,
 * which costs O(n * m) where the planner's session index costs O(n + m). The rest of the work
 * (stale checks, mirror ids, URIs) is the planner's, so the comparison isolates the matching.
 *
 * It assumes that no session appears twice in a room, which the bench's inputs ensure; the
 * planner also handles duplicates (the first record wins).
 */
import { formatStreamUri, parseStreamUri } from '../domain/stream-uri.ts';
import { isChannel, isStale } from '../domain/types.ts';
import type { Member, MemberStream, Room, Stream } from '../domain/types.ts';
import type {
  ForkPlan,
  ForkPlanInput,
  PlannedJoin,
  PlannedMemberStream,
} from '../processors/fork-plan.ts';
import { mirrorStreamId } from '../processors/mirror-ids.ts';

export function planForkByScan(input: ForkPlanInput): ForkPlan {
  const { request, destination, source, streams } = input;
  const options = new Set(request.options);
  const additive = options.has('additive');
  const force = options.has('force');
  const keepStreams = options.has('keep-streams');
  const refreshStale = options.has('refresh-stale');
  const mirrorTags = mirrorTagsFor(request.streamTags, destination.room);

  const joins: PlannedJoin[] = [];
  const staleRefreshes: ForkPlan['staleRefreshes'] = [];
  const joiningSessions = new Set<string>();
  for (const member of source.members) {
    // The scan: the destination record of this session, if any.
    const current = destination.members.find((other) => other.sessionId === member.sessionId);
    const staleIds =
      refreshStale && current !== undefined
        ? unique(streamIdsOf(current).filter((id) => isStale(streams.get(id))))
        : [];
    if (staleIds.length > 0) {
      staleRefreshes.push({ sessionId: member.sessionId, destroyStreamIds: staleIds });
    }
    if (!force && current !== undefined && staleIds.length === 0) {
      continue;
    }
    joiningSessions.add(member.sessionId);
    joins.push(planJoin(member, current, new Set(staleIds), streams, force, mirrorTags, request));
  }

  const departures: ForkPlan['departures'] = [];
  for (const member of destination.members) {
    // The scan: whether the source has this session.
    const inSource = source.members.some((other) => other.sessionId === member.sessionId);
    const departing = (!additive || inSource) && (force || !inSource);
    if (!departing || joiningSessions.has(member.sessionId)) {
      continue;
    }
    departures.push({
      sessionId: member.sessionId,
      destroyStreamIds: keepStreams ? [] : unique(streamIdsOf(member)),
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

function planJoin(
  member: Member,
  current: Member | undefined,
  staleIds: ReadonlySet<string>,
  streams: ReadonlyMap<string, Stream>,
  force: boolean,
  mirrorTags: string[],
  request: ForkPlanInput['request'],
): PlannedJoin {
  const reusableUris =
    !force && current !== undefined ? liveMirrorUrisByOrigin(current, streams) : new Map();
  const plannedStreams: PlannedMemberStream[] = [];
  const referencedIds = new Set<string>();
  for (const stream of member.streams) {
    const origin = parseStreamUri(stream.uri);
    const originStreamId = origin?.streamId ?? stream.uri;
    const reusedUri = reusableUris.get(originStreamId);
    if (reusedUri !== undefined) {
      plannedStreams.push({ ...copyStreamFields(stream), uri: reusedUri });
      referencedIds.add(streamIdOf(reusedUri));
      continue;
    }
    const mirrorId = mirrorStreamId(
      request.forkId,
      request.roomId,
      member.sessionId,
      originStreamId,
    );
    const memberUri =
      origin === undefined
        ? stream.uri
        : formatStreamUri({
            ...origin,
            streamId: mirrorId,
            capabilities: request.streamCapabilities,
          });
    plannedStreams.push({
      ...copyStreamFields(stream),
      uri: memberUri,
      mirror: {
        mirrorStreamId: mirrorId,
        originStreamId,
        memberUri,
        tags: [...mirrorTags],
        capabilities: [...request.streamCapabilities],
      },
    });
    referencedIds.add(mirrorId);
  }
  return {
    sessionId: member.sessionId,
    member: {
      roomId: request.roomId,
      sessionId: member.sessionId,
      screenName: member.screenName,
      role: member.role,
      state: member.state,
      streams: plannedStreams,
    },
    replacedStreamIds:
      current === undefined
        ? []
        : unique(streamIdsOf(current)).filter((id) => !referencedIds.has(id) && !staleIds.has(id)),
    expectedStreamUris: current === undefined ? null : current.streams.map((stream) => stream.uri),
  };
}

function liveMirrorUrisByOrigin(
  current: Member,
  streams: ReadonlyMap<string, Stream>,
): Map<string, string> {
  const urisByOrigin = new Map<string, string>();
  for (const memberStream of current.streams) {
    const record = streams.get(streamIdOf(memberStream.uri));
    if (record === undefined || isStale(record) || record.upstreamId === null) {
      continue;
    }
    if (!urisByOrigin.has(record.upstreamId)) {
      urisByOrigin.set(record.upstreamId, memberStream.uri);
    }
  }
  return urisByOrigin;
}

function streamIdsOf(member: Member): string[] {
  return member.streams.map((stream) => streamIdOf(stream.uri));
}

function streamIdOf(uri: string): string {
  return parseStreamUri(uri)?.streamId ?? uri;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
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

/**
 * Planner inputs for the diff-cost scenario: a destination and a source channel of the same
 * size that share half of their sessions, in random order. Every member carries two streams:
 * origins in the source, and live mirrors of those origins in the destination.
 */
import { formatStreamUri } from '../domain/stream-uri.ts';
import type { Member, Room, Stream } from '../domain/types.ts';
import type { ForkPlanInput } from '../processors/fork-plan.ts';
import { sample, type Random } from './random.ts';

const STREAMS_PER_MEMBER = 2;

export function halfOverlapRooms(members: number, random: Random): ForkPlanInput {
  const destinationRoom = room('us-east#bench#destination.0000');
  const sourceRoom = room('us-east#bench#source.0000');
  const shared = Math.floor(members / 2);
  const streams = new Map<string, Stream>();

  const sourceMembers: Member[] = [];
  for (let index = 0; index < members; index += 1) {
    const sessionId = `session-${index}`;
    const originIds = streamIds(`us-east#us-east-1#origin-${index}`);
    for (const streamId of originIds) {
      streams.set(streamId, stream(streamId, sessionId, null, null));
    }
    sourceMembers.push(member(sourceRoom.roomId, sessionId, originIds));
  }

  const destinationMembers: Member[] = [];
  for (let index = 0; index < members; index += 1) {
    // The first `shared` sessions are in both rooms; the rest are in the destination only.
    const inBoth = index < shared;
    const sessionId = inBoth ? `session-${index}` : `destination-only-${index}`;
    const mirrorIds = streamIds(`mirror#bench-${index}`);
    mirrorIds.forEach((streamId, position) => {
      const upstreamId = inBoth ? `us-east#us-east-1#origin-${index}-${position}` : null;
      streams.set(streamId, stream(streamId, sessionId, upstreamId, destinationRoom.roomId));
    });
    destinationMembers.push(member(destinationRoom.roomId, sessionId, mirrorIds));
  }

  return {
    request: {
      forkId: 'bench-fork',
      roomId: destinationRoom.roomId,
      sourceRoomId: sourceRoom.roomId,
      streamCapabilities: ['hd'],
      streamTags: [],
      options: [],
      desiredRegion: null,
    },
    destination: { room: destinationRoom, members: sample(destinationMembers, members, random) },
    source: { room: sourceRoom, members: sample(sourceMembers, members, random) },
    streams,
  };
}

function streamIds(prefix: string): string[] {
  return Array.from({ length: STREAMS_PER_MEMBER }, (_, position) => `${prefix}-${position}`);
}

function room(roomId: string): Room {
  return {
    roomId,
    applicationId: 'bench',
    alias: roomId.split('#')[2] ?? roomId,
    name: roomId,
    description: '',
    type: 'Channel',
    options: [],
    streamKey: 'bench',
    created: 0,
    lastUpdate: 0,
  };
}

function member(roomId: string, sessionId: string, ids: string[]): Member {
  return {
    roomId,
    sessionId,
    screenName: sessionId,
    role: 'Presenter',
    state: 'Active',
    streams: ids.map((streamId) => ({
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
    lastUpdate: 0,
  };
}

function stream(
  streamId: string,
  sessionId: string,
  upstreamId: string | null,
  roomId: string | null,
): Stream {
  return {
    streamId,
    sessionId,
    node: 'us-east-1',
    region: 'us-east',
    state: 'started',
    endReason: null,
    capabilities: ['hd'],
    tags: [],
    upstreamId,
    roomId,
    createdBy: null,
    created: 0,
    ended: null,
  };
}

/** Records of the room model, as stored and as returned by the REST API. Times are epoch ms. */

export const ROOM_TYPES = [
  'DirectChat',
  'MultiPartyChat',
  'ModeratedChat',
  'TownHall',
  'Channel',
  'MultiAngleChannel',
] as const;
export type RoomType = (typeof ROOM_TYPES)[number];

export const MEMBER_ROLES = ['Participant', 'Moderator', 'Presenter', 'Audience'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export const MEMBER_STATES = ['Active', 'Passive', 'HandRaised', 'Inactive', 'Offline'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

export const STREAM_STATES = ['starting', 'started', 'ending', 'ended'] as const;
export type StreamState = (typeof STREAM_STATES)[number];

export interface Application {
  applicationId: string;
  secret: string;
}

export interface Room {
  roomId: string;
  applicationId: string;
  alias: string;
  name: string;
  description: string;
  type: RoomType;
  options: string[];
  streamKey: string;
  created: number;
  lastUpdate: number;
}

export interface MemberStream {
  uri: string;
  type: string;
  audioState: string;
  videoState: string;
}

export interface Member {
  roomId: string;
  sessionId: string;
  screenName: string;
  role: MemberRole;
  state: MemberState;
  streams: MemberStream[];
  lastUpdate: number;
}

export interface Stream {
  streamId: string;
  sessionId: string;
  /** Media node that carries the stream. */
  node: string;
  region: string;
  state: StreamState;
  endReason: string | null;
  capabilities: string[];
  tags: string[];
  /** For a mirror: the stream it copies. Null for an origin. */
  upstreamId: string | null;
  /** For a mirror: the destination room it was created for. */
  roomId: string | null;
  /** For a mirror: the fork or heal that created it. */
  createdBy: string | null;
  created: number;
  ended: number | null;
}

export const FORK_OPTIONS = [
  'additive',
  'force',
  'keep-streams',
  'refresh-stale',
  'follow',
] as const;
export type ForkOption = (typeof FORK_OPTIONS)[number];

export interface ForkRequest {
  forkId: string;
  applicationId: string | null;
  roomId: string;
  sourceRoomId: string;
  streamCapabilities: string[];
  streamTags: string[];
  options: ForkOption[];
  desiredRegion: string | null;
  requested: number;
  /** Limits the fork to these sessions of both rooms; null forks every member. */
  sessionIds?: string[] | null;
}

export type ForkStatus = 'accepted' | 'running' | 'completed' | 'failed';

/** Stored record of one fork request and its outcome, served by `GET /pcast/fork/:forkId`. */
export interface ForkRecord {
  forkId: string;
  applicationId: string | null;
  roomId: string;
  sourceRoomId: string;
  options: ForkOption[];
  state: ForkStatus;
  /** Outcome status string (`ok`, `not-found`, `origin-stream-ended`, ...), null until done. */
  status: string | null;
  message: string | null;
  requested: number;
  completed: number | null;
  joined: string[];
  departed: string[];
  mirrorsCreated: string[];
  streamsDestroyed: string[];
}

/** Returns whether a member's stream is stale: its record is missing, ending or ended. */
export function isStale(stream: Stream | undefined): boolean {
  return stream === undefined || stream.state === 'ending' || stream.state === 'ended';
}

export function isChannel(room: Pick<Room, 'type'>): boolean {
  return room.type === 'Channel' || room.type === 'MultiAngleChannel';
}

/** TypeScript shapes of the Avro messages; the `.avsc` files beside this one document fields. */
import type { ForkRequest } from '../domain/types.ts';

export type ForkRequestMessage = ForkRequest;

export type StreamLifecycleKind = 'started' | 'ended' | 'stalled';

export interface StreamLifecycleMessage {
  eventId: string;
  event: StreamLifecycleKind;
  streamId: string;
  nodeId: string;
  upstreamId: string | null;
  reason: string | null;
  timestamp: number;
}

export const FORK_EVENT_TYPES = [
  'ForkRequested',
  'MemberJoined',
  'MemberLeft',
  'MirrorCreated',
  'MirrorDestroyed',
  'StaleDetected',
  'MirrorHealed',
  'ForkCompleted',
  'ForkFailed',
] as const;
export type ForkEventType = (typeof FORK_EVENT_TYPES)[number];

export interface ForkEventMessage {
  eventId: string;
  type: ForkEventType;
  forkId: string | null;
  healId: string | null;
  roomId: string;
  sourceRoomId: string | null;
  sessionId: string | null;
  streamIds: string[];
  reason: string | null;
  status: string | null;
  message: string | null;
  timestamp: number;
  durationMs: number | null;
}

export interface MirrorSpec {
  mirrorStreamId: string;
  originStreamId: string;
  tags: string[];
  capabilities: string[];
}

export interface JoinStream {
  uri: string;
  type: string;
  audioState: string;
  videoState: string;
  mirror: MirrorSpec | null;
}

export interface DestroyStreams {
  sessionId: string;
  streamIds: string[];
  reason: string;
}

export interface MemberLeave {
  sessionId: string;
  streamIds: string[];
  reason: string;
}

export interface MemberJoin {
  sessionId: string;
  screenName: string;
  role: string;
  state: string;
  streams: JoinStream[];
  replacedStreamIds: string[];
  expectedStreamUris: string[] | null;
  desiredRegion: string | null;
}

export type MirrorCommandKind = 'DestroyStreams' | 'MemberLeave' | 'MemberJoin' | 'CompleteFork';

export interface MirrorCommand {
  commandId: string;
  forkId: string;
  roomId: string;
  sourceRoomId: string;
  step: number;
  steps: number;
  kind: MirrorCommandKind;
  destroyStreams: DestroyStreams | null;
  memberLeave: MemberLeave | null;
  memberJoin: MemberJoin | null;
}

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
  'KillCompleted',
  'KillFailed',
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

export interface HealMirror {
  sessionId: string;
  oldStreamId: string;
  originStreamId: string;
  mirrorStreamId: string;
  tags: string[];
  capabilities: string[];
  preferredRegion: string | null;
  reason: string;
  detectedAt: number;
}

export interface DropStreams {
  sessionId: string;
  streamIds: string[];
  reason: string;
}

export interface Kill {
  reason: string;
  keepStreams: boolean;
  destroyRequired: boolean;
  deleteRoom: boolean;
}

export type MirrorCommandKind =
  | 'DestroyStreams'
  | 'MemberLeave'
  | 'MemberJoin'
  | 'CompleteFork'
  | 'HealMirror'
  | 'DropStreams'
  | 'Kill';

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
  healMirror: HealMirror | null;
  dropStreams: DropStreams | null;
  /** Optional in code that builds other kinds; the codec writes it as null when absent. */
  kill?: Kill | null;
}

export type ForkTriggerKind = 'MirrorEnded' | 'MirrorStalled' | 'OriginEnded' | 'SourceChanged';

export interface ForkTrigger {
  triggerId: string;
  kind: ForkTriggerKind;
  roomId: string;
  streamId: string | null;
  upstreamId: string | null;
  sourceRoomId: string | null;
  sessionId: string | null;
  reason: string | null;
  detectedAt: number;
}

export interface RoomChange {
  eventId: string;
  roomId: string;
  sessionId: string | null;
  operation: 'upsert' | 'delete' | 'resync';
  timestamp: number;
}

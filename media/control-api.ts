/**
 * The media node control API: paths and JSON bodies shared by the agent's server, the agents'
 * calls to each other and the service's MediaCluster client. Every reply body carries `status`
 * (`ok` or an error status of domain/errors.ts) and, for errors, a `message`. The HTTP code
 * follows the status as in the REST API.
 *
 * Stream ids may contain `#` and other reserved characters, so every path segment is encoded
 * with encodeURIComponent, and the server decodes path parameters.
 */
import type { EngineStream, PipeAnswer, PipeOffer, Subscriber } from './engine.ts';
import type { SequencedLifecycleEvent } from './lifecycle.ts';

export const controlPaths = {
  health: () => '/health',
  node: () => '/node',
  streams: () => '/streams',
  stream: (streamId: string) => `/streams/${encodeURIComponent(streamId)}`,
  subscriber: (upstreamId: string, mirrorId: string) =>
    `/streams/${encodeURIComponent(upstreamId)}/subscribers/${encodeURIComponent(mirrorId)}`,
  subscribers: (upstreamId: string) => `/streams/${encodeURIComponent(upstreamId)}/subscribers`,
  upstreamEnded: (mirrorId: string) => `/streams/${encodeURIComponent(mirrorId)}/upstream-ended`,
  events: () => '/events',
  endFault: (streamId: string) => `/faults/end/${encodeURIComponent(streamId)}`,
  stallFault: (streamId: string) => `/faults/stall/${encodeURIComponent(streamId)}`,
  failNodeFault: () => '/faults/fail-node',
  recoverNodeFault: () => '/faults/recover-node',
} as const;

/** Identity of a media node agent. */
export interface MediaNodeInfo {
  nodeId: string;
  region: string;
  /** Base URL of the agent's control API, such as `http://127.0.0.1:4100`. */
  url: string;
}

export interface ErrorReply {
  status: string;
  message: string;
}

/** `GET /node`. */
export interface NodeReply {
  status: 'ok';
  nodeId: string;
  region: string;
  /** Live streams on the node. */
  load: number;
  /** Maximum number of live streams. */
  capacity: number;
  failed: boolean;
}

/** `PUT /streams/:streamId` for an origin. */
export interface PublishOriginBody {
  kind: 'origin';
  sessionId: string;
  capabilities?: string[];
}

/** `PUT /streams/:streamId` for a mirror of `upstreamId`, which lives on the node at `upstreamUrl`. */
export interface CreateMirrorBody {
  kind: 'mirror';
  sessionId: string;
  upstreamId: string;
  upstreamUrl: string;
  /** Defaults to the upstream stream's capabilities. */
  capabilities?: string[];
}

/** Reply of the stream routes. `created` is false when a PUT found the same stream live. */
export interface StreamReply {
  status: 'ok';
  stream: EngineStream;
  created?: boolean;
}

export interface StreamListReply {
  status: 'ok';
  streams: EngineStream[];
}

/** `DELETE /streams/:streamId`. */
export interface DestroyBody {
  reason: string;
}

/** `PUT /streams/:upstreamId/subscribers/:mirrorId`, sent by the mirror's node. */
export interface AttachSubscriberBody {
  /** Control API URL of the mirror's node, which is notified when the upstream ends. */
  url: string;
  offer: PipeOffer;
}

export interface AttachSubscriberReply {
  status: 'ok';
  upstream: EngineStream;
  answer: PipeAnswer;
}

export interface SubscriberListReply {
  status: 'ok';
  subscribers: Subscriber[];
}

export interface DetachSubscriberReply {
  status: 'ok';
  detached: boolean;
}

/** `POST /streams/:mirrorId/upstream-ended`, sent by the upstream's node. */
export interface UpstreamEndedBody {
  upstreamId: string;
}

/**
 * `GET /events?after=<seq>&limit=<n>&waitMs=<ms>`: lifecycle events with `seq > after`, waiting
 * up to `waitMs` (at most 30000) for the first one. `gap` reports events dropped unread.
 */
export interface LifecycleEventsReply {
  status: 'ok';
  events: SequencedLifecycleEvent[];
  next: number;
  gap: boolean;
}

export const MAX_EVENTS_WAIT_MS = 30_000;
export const MAX_EVENTS_LIMIT = 1_000;

/** `POST /faults/end/:streamId` and `POST /faults/stall/:streamId`. */
export interface FaultBody {
  reason?: string;
}

export interface FailNodeReply {
  status: 'ok';
  ended: EngineStream[];
}

/** Default end reason of `POST /faults/end/:streamId`. */
export const DEFAULT_FAULT_END_REASON = 'media-node-ended';
/** Default reason of `POST /faults/stall/:streamId`. */
export const DEFAULT_STALL_REASON = 'no-media-received';

/**
 * The media engine port: what a media node agent needs from the software that carries media.
 * The `simulated` engine keeps stream state in memory. The `mediasoup` engine maps the same calls
 * onto one Router per stream:
 * - an origin is a Producer fed through a PlainTransport;
 * - a mirror is a Producer at one end of a PipeTransport pair whose other end consumes the
 *   upstream. The nodes connect the ends by exchanging a `PipeOffer` and a `PipeAnswer`, over
 *   their control APIs when the upstream is on another node.
 *
 * The engine owns the media state of one node. Federation across nodes (HTTP calls between
 * agents) belongs to the agent, which hands the engine an `UpstreamConnector` for that step.
 */
import type { EventEmitter } from 'node:events';

export type EngineStreamKind = 'origin' | 'mirror';
export type EngineStreamState = 'started' | 'ended';

/** A stream as the media node that carries it records it. Times are epoch ms. */
export interface EngineStream {
  streamId: string;
  nodeId: string;
  kind: EngineStreamKind;
  /** For a mirror: the stream it copies. Null for an origin. */
  upstreamId: string | null;
  /** For a mirror of a stream on another node: that node's control API URL. Null otherwise. */
  upstreamNodeUrl: string | null;
  sessionId: string;
  capabilities: string[];
  state: EngineStreamState;
  endReason: string | null;
  started: number;
  ended: number | null;
  /** For an origin of an engine that receives real media: where the publisher sends it. */
  ingest?: RtpIngest;
}

/**
 * An RTP ingest point: plain RTP over UDP, with RTCP on the same port (RFC 5761). The engine
 * accepts packets only with this payload type and SSRC.
 */
export interface RtpIngest {
  ip: string;
  port: number;
  payloadType: number;
  ssrc: number;
  /** Codec as `type/subtype`, such as `audio/opus`. */
  mimeType: string;
  clockRate: number;
  channels?: number;
}

/** A mirror that copies a stream of this node. */
export interface Subscriber {
  mirrorId: string;
  /** Control API URL of the node that carries the mirror, or null when it is this node. */
  nodeUrl: string | null;
  attached: number;
}

/**
 * Engine-specific JSON that the mirror's node sends to the upstream node when it attaches. For
 * mediasoup: the IP address and port of the mirror node's PipeTransport (no SRTP).
 */
export type PipeOffer = Record<string, unknown>;

/**
 * Engine-specific JSON that the upstream node returns to an attaching mirror. For mediasoup: the
 * upstream PipeTransport's IP address and port and the kind and RTP parameters of the pipe
 * Consumer, from which the mirror node produces.
 */
export type PipeAnswer = Record<string, unknown>;

export interface UpstreamAttachment {
  /** The upstream stream at the time of the attach. */
  upstream: EngineStream;
  answer: PipeAnswer;
}

/**
 * Attaches the mirror being built to its upstream stream and returns the upstream's PipeAnswer.
 * The agent supplies it: a direct engine call for an upstream on the same node, an HTTP call to
 * the upstream agent otherwise. It throws a ServiceError with status `origin-not-found` or
 * `origin-stream-ended` when the upstream cannot be mirrored.
 */
export type UpstreamConnector = (offer: PipeOffer) => Promise<UpstreamAttachment>;

export interface PublishRequest {
  streamId: string;
  sessionId: string;
  capabilities: string[];
}

export interface MirrorRequest {
  streamId: string;
  sessionId: string;
  upstreamId: string;
  /** Control API URL of the upstream's node, or null when the upstream is on this node. */
  upstreamNodeUrl: string | null;
  /** Capabilities of the mirror. The upstream's capabilities apply when absent. */
  capabilities?: string[];
}

export interface EngineLoad {
  /** Streams in state `started`. */
  live: number;
  /** Maximum number of live streams, counting mirrors that are still being built. */
  capacity: number;
  /** True from `failNode` until `recoverNode`. A failed node accepts no streams. */
  failed: boolean;
}

/**
 * Lifecycle events. Each is emitted synchronously from inside the engine call that caused it,
 * before that call's promise settles, so listeners must not throw. An engine that carries real
 * media also emits them outside any call, when the media itself ends a stream (a closed
 * transport, a dead worker process).
 */
export interface MediaEngineEvents {
  streamstarted: [stream: EngineStream];
  /** `subscribers` are the mirrors that were attached to the stream when it ended. */
  streamended: [stream: EngineStream, subscribers: Subscriber[]];
  /** The stream still reads `started`, but no media has reached it. */
  streamstalled: [stream: EngineStream, reason: string];
}

/**
 * One media node's engine. Methods that reject a request throw a ServiceError: `capacity` when
 * the node is full or failed, `already-exists` when the stream id is taken, `not-found` for an
 * unknown stream. Returned streams are copies, so callers cannot change engine state.
 */
export interface MediaEngine {
  readonly nodeId: string;
  readonly events: EventEmitter<MediaEngineEvents>;

  /** Starts an origin stream and emits `streamstarted`. */
  publish(request: PublishRequest): Promise<EngineStream>;

  /**
   * Builds a mirror: prepares this node's end, calls `connect` to attach to the upstream, then
   * completes the mirror and emits `streamstarted`. When a step after `connect` fails, the engine
   * closes its own end and rethrows. Detaching from the upstream is the caller's part.
   */
  createMirror(request: MirrorRequest, connect: UpstreamConnector): Promise<EngineStream>;

  /**
   * Attaches a mirror to a live stream of this node. Attaching the same mirror id again replaces
   * the earlier attachment. Throws `origin-not-found` for an unknown stream and
   * `origin-stream-ended` for an ended one.
   */
  attachSubscriber(
    upstreamId: string,
    subscriber: Pick<Subscriber, 'mirrorId' | 'nodeUrl'>,
    offer: PipeOffer,
  ): Promise<UpstreamAttachment>;

  /** Detaches a mirror and returns false when it was not attached. */
  detachSubscriber(upstreamId: string, mirrorId: string): Promise<boolean>;

  /**
   * Ends a stream and, with reason `origin-stream-ended`, every mirror of it on this node, then
   * returns the streams this call ended, the requested one first. Returns an empty list when the
   * stream had already ended. Emits `streamended` for each.
   */
  destroy(streamId: string, reason: string): Promise<EngineStream[]>;

  get(streamId: string): EngineStream | undefined;
  list(): EngineStream[];
  /** Returns the mirrors attached to a stream, none for an unknown or ended stream. */
  subscribers(streamId: string): Subscriber[];
  load(): EngineLoad;

  // Fault injection, for tests and drills. The mediasoup engine pauses the stream's Producer to
  // stall it, closes the Worker to fail the node and starts a new one to recover.

  /** Reports a live stream as stalled (`streamstalled`) while its state stays `started`. */
  stall(streamId: string, reason: string): Promise<EngineStream>;

  /**
   * Ends every live stream with reason `node-failed` and rejects new streams until
   * `recoverNode`. Returns the streams it ended.
   */
  failNode(): Promise<EngineStream[]>;

  recoverNode(): Promise<void>;

  /** Releases the engine's resources without ending streams or emitting events. */
  close(): Promise<void>;
}

/**
 * A media engine that carries no media: it keeps stream state in memory and follows the same
 * rules as a real engine (capacity, failure, cascade to mirrors), so the rest of the system can
 * run and be tested without mediasoup.
 */
import { EventEmitter } from 'node:events';

import { ServiceError } from '../domain/errors.ts';
import type {
  EngineLoad,
  EngineStream,
  MediaEngine,
  MediaEngineEvents,
  MirrorRequest,
  PipeOffer,
  PublishRequest,
  Subscriber,
  UpstreamAttachment,
  UpstreamConnector,
} from './engine.ts';

export const DEFAULT_CAPACITY = 10_000;
export const DEFAULT_ENDED_RETENTION = 10_000;

export interface SimulatedEngineOptions {
  nodeId: string;
  /** Maximum number of live streams. Default 10000. */
  capacity?: number;
  /**
   * Number of ended streams kept for lookups, dropping the oldest first. Default 10000. An ended
   * stream that was dropped reads as unknown, so mirroring it fails with `origin-not-found` in
   * place of `origin-stream-ended`.
   */
  endedRetention?: number;
}

export class SimulatedEngine implements MediaEngine {
  readonly nodeId: string;
  readonly events = new EventEmitter<MediaEngineEvents>();
  readonly #capacity: number;
  readonly #endedRetention: number;
  readonly #streams = new Map<string, EngineStream>();
  /** Mirrors attached to each live stream, by upstream id and then mirror id. */
  readonly #subscribers = new Map<string, Map<string, Subscriber>>();
  /** Ids of mirrors between capacity check and completion, which count against capacity. */
  readonly #reserved = new Set<string>();
  /** Ended stream ids in the order they ended, for retention. */
  readonly #endedOrder = new Set<string>();
  #live = 0;
  #failed = false;
  #closed = false;

  constructor(options: SimulatedEngineOptions) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    const endedRetention = options.endedRetention ?? DEFAULT_ENDED_RETENTION;
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    }
    if (!Number.isInteger(endedRetention) || endedRetention < 0) {
      throw new RangeError(`endedRetention must be a non-negative integer, got ${endedRetention}`);
    }
    this.nodeId = options.nodeId;
    this.#capacity = capacity;
    this.#endedRetention = endedRetention;
  }

  async publish(request: PublishRequest): Promise<EngineStream> {
    this.#checkAccepting();
    this.#checkIdFree(request.streamId);

    const stream: EngineStream = {
      streamId: request.streamId,
      nodeId: this.nodeId,
      kind: 'origin',
      upstreamId: null,
      upstreamNodeUrl: null,
      sessionId: request.sessionId,
      capabilities: [...request.capabilities],
      state: 'started',
      endReason: null,
      started: Date.now(),
      ended: null,
    };
    this.#start(stream);
    return copy(stream);
  }

  async createMirror(request: MirrorRequest, connect: UpstreamConnector): Promise<EngineStream> {
    this.#checkAccepting();
    this.#checkIdFree(request.streamId);

    this.#reserved.add(request.streamId);
    let attachment: UpstreamAttachment;
    try {
      attachment = await connect({ engine: 'simulated', nodeId: this.nodeId });
      this.#checkStillBuildable(request);
    } finally {
      this.#reserved.delete(request.streamId);
    }

    const stream: EngineStream = {
      streamId: request.streamId,
      nodeId: this.nodeId,
      kind: 'mirror',
      upstreamId: request.upstreamId,
      upstreamNodeUrl: request.upstreamNodeUrl,
      sessionId: request.sessionId,
      capabilities: [...(request.capabilities ?? attachment.upstream.capabilities)],
      state: 'started',
      endReason: null,
      started: Date.now(),
      ended: null,
    };
    this.#start(stream);
    return copy(stream);
  }

  async attachSubscriber(
    upstreamId: string,
    subscriber: Pick<Subscriber, 'mirrorId' | 'nodeUrl'>,
    _offer: PipeOffer,
  ): Promise<UpstreamAttachment> {
    const upstream = this.#streams.get(upstreamId);
    if (upstream === undefined) {
      throw new ServiceError(
        'origin-not-found',
        `stream ${upstreamId} is not on media node ${this.nodeId}`,
      );
    }
    if (upstream.state === 'ended') {
      throw new ServiceError(
        'origin-stream-ended',
        `stream ${upstreamId} ended (${upstream.endReason ?? 'no reason'})`,
      );
    }

    let attached = this.#subscribers.get(upstreamId);
    if (attached === undefined) {
      attached = new Map();
      this.#subscribers.set(upstreamId, attached);
    }
    attached.set(subscriber.mirrorId, { ...subscriber, attached: Date.now() });
    return { upstream: copy(upstream), answer: { engine: 'simulated', nodeId: this.nodeId } };
  }

  async detachSubscriber(upstreamId: string, mirrorId: string): Promise<boolean> {
    return this.#detach(upstreamId, mirrorId);
  }

  async destroy(streamId: string, reason: string): Promise<EngineStream[]> {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      throw new ServiceError('not-found', `stream ${streamId} is not on media node ${this.nodeId}`);
    }
    const ended: EngineStream[] = [];
    this.#endWithLocalMirrors(stream, reason, ended);
    return ended;
  }

  get(streamId: string): EngineStream | undefined {
    const stream = this.#streams.get(streamId);
    return stream === undefined ? undefined : copy(stream);
  }

  list(): EngineStream[] {
    return [...this.#streams.values()].map(copy);
  }

  subscribers(streamId: string): Subscriber[] {
    return [...(this.#subscribers.get(streamId)?.values() ?? [])].map((s) => ({ ...s }));
  }

  load(): EngineLoad {
    return { live: this.#live, capacity: this.#capacity, failed: this.#failed };
  }

  async stall(streamId: string, reason: string): Promise<EngineStream> {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      throw new ServiceError('not-found', `stream ${streamId} is not on media node ${this.nodeId}`);
    }
    if (stream.state === 'ended') {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended and cannot stall`);
    }
    this.events.emit('streamstalled', copy(stream), reason);
    return copy(stream);
  }

  async failNode(): Promise<EngineStream[]> {
    this.#failed = true;
    // Every stream ends with `node-failed`, mirrors included, so no local cascade: a mirror on
    // this node must not read `origin-stream-ended` when the node itself failed.
    const ended: EngineStream[] = [];
    for (const stream of [...this.#streams.values()]) {
      if (stream.state === 'started') {
        this.#end(stream, 'node-failed');
        ended.push(copy(stream));
      }
    }
    return ended;
  }

  async recoverNode(): Promise<void> {
    this.#failed = false;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.events.removeAllListeners();
    this.#streams.clear();
    this.#subscribers.clear();
    this.#reserved.clear();
    this.#endedOrder.clear();
    this.#live = 0;
  }

  #checkAccepting(): void {
    if (this.#closed) {
      throw new ServiceError('capacity', `media node ${this.nodeId} is closed`);
    }
    if (this.#failed) {
      throw new ServiceError(
        'capacity',
        `media node ${this.nodeId} has failed and accepts no streams until it recovers`,
      );
    }
    if (this.#live + this.#reserved.size >= this.#capacity) {
      throw new ServiceError(
        'capacity',
        `media node ${this.nodeId} is at capacity (${this.#capacity} live streams)`,
      );
    }
  }

  #checkIdFree(streamId: string): void {
    if (this.#streams.has(streamId) || this.#reserved.has(streamId)) {
      throw new ServiceError(
        'already-exists',
        `stream ${streamId} already exists on media node ${this.nodeId}`,
      );
    }
  }

  /** Rechecks, after the upstream attach, what may have changed while it was in flight. */
  #checkStillBuildable(request: MirrorRequest): void {
    if (this.#closed || this.#failed) {
      throw new ServiceError(
        'capacity',
        `media node ${this.nodeId} failed while mirror ${request.streamId} was being built`,
      );
    }
    if (request.upstreamNodeUrl !== null) {
      return;
    }
    const upstream = this.#streams.get(request.upstreamId);
    if (upstream === undefined || upstream.state === 'ended') {
      throw new ServiceError(
        'origin-stream-ended',
        `stream ${request.upstreamId} ended while mirror ${request.streamId} was being built`,
      );
    }
  }

  #start(stream: EngineStream): void {
    this.#streams.set(stream.streamId, stream);
    this.#live += 1;
    this.events.emit('streamstarted', copy(stream));
  }

  #endWithLocalMirrors(stream: EngineStream, reason: string, ended: EngineStream[]): void {
    if (stream.state === 'ended') {
      return;
    }
    const subscribers = this.#end(stream, reason);
    ended.push(copy(stream));
    for (const subscriber of subscribers) {
      const mirror = this.#streams.get(subscriber.mirrorId);
      if (subscriber.nodeUrl === null && mirror?.upstreamId === stream.streamId) {
        this.#endWithLocalMirrors(mirror, 'origin-stream-ended', ended);
      }
    }
  }

  /** Ends one stream, detaches it from a local upstream and returns its former subscribers. */
  #end(stream: EngineStream, reason: string): Subscriber[] {
    stream.state = 'ended';
    stream.endReason = reason;
    stream.ended = Date.now();
    this.#live -= 1;

    const subscribers = [...(this.#subscribers.get(stream.streamId)?.values() ?? [])];
    this.#subscribers.delete(stream.streamId);
    if (stream.upstreamId !== null && stream.upstreamNodeUrl === null) {
      this.#detach(stream.upstreamId, stream.streamId);
    }
    this.#retainEnded(stream.streamId);

    this.events.emit(
      'streamended',
      copy(stream),
      subscribers.map((subscriber) => ({ ...subscriber })),
    );
    return subscribers;
  }

  #detach(upstreamId: string, mirrorId: string): boolean {
    const attached = this.#subscribers.get(upstreamId);
    if (attached === undefined || !attached.delete(mirrorId)) {
      return false;
    }
    if (attached.size === 0) {
      this.#subscribers.delete(upstreamId);
    }
    return true;
  }

  #retainEnded(streamId: string): void {
    this.#endedOrder.add(streamId);
    while (this.#endedOrder.size > this.#endedRetention) {
      const oldest = this.#endedOrder.values().next().value;
      if (oldest === undefined) {
        break;
      }
      this.#endedOrder.delete(oldest);
      this.#streams.delete(oldest);
    }
  }
}

function copy(stream: EngineStream): EngineStream {
  return { ...stream, capabilities: [...stream.capabilities] };
}

/**
 * Stream operations that touch both the store and the media nodes. Every operation records its
 * intent in the store before it calls a media node, so a crash leaves a record that a retry or
 * the reconciler can finish, never a media stream that no record names.
 */
import type { Logger } from 'pino';
import { ServiceError, isServiceError } from '../domain/errors.ts';
import { originStreamId } from '../domain/ids.ts';
import type { Stream } from '../domain/types.ts';
import type { MediaCluster } from '../media/media-cluster.ts';
import type { Store } from '../store/store.ts';

export interface MirrorSpecInput {
  mirrorStreamId: string;
  originStreamId: string;
  sessionId: string;
  tags: string[];
  capabilities: string[];
  roomId: string;
  createdBy: string;
  desiredRegion: string | null;
  /** Place the mirror in any region when the desired one has no capacity (heals do). */
  regionFallback?: boolean;
}

export class StreamOperations {
  constructor(
    private readonly store: Store,
    private readonly media: MediaCluster,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Publishes an origin stream on the least loaded node of the region (or of any region). */
  async publishOrigin(request: {
    sessionId: string;
    capabilities: string[];
    region: string | null;
  }): Promise<Stream> {
    const node = await this.media.place(request.region);
    const stream: Stream = {
      streamId: originStreamId(node.region, node.nodeId),
      sessionId: request.sessionId,
      node: node.nodeId,
      region: node.region,
      state: 'starting',
      endReason: null,
      capabilities: request.capabilities,
      tags: [],
      upstreamId: null,
      roomId: null,
      createdBy: null,
      created: this.now(),
      ended: null,
    };
    await this.store.streams.insert(stream);
    try {
      await this.media.publish(node, {
        streamId: stream.streamId,
        sessionId: stream.sessionId,
        capabilities: stream.capabilities,
      });
    } catch (error) {
      await this.store.streams.transition(stream.streamId, ['starting'], 'ended', 'publish-failed');
      throw error;
    }
    return this.started(stream.streamId);
  }

  /**
   * Creates the mirror unless a live record of that id exists, which makes a repeated call
   * with the same deterministic id return the mirror made the first time.
   */
  async createMirror(spec: MirrorSpecInput): Promise<{ stream: Stream; created: boolean }> {
    const existing = await this.store.streams.get(spec.mirrorStreamId);
    if (existing !== undefined && (existing.state === 'started' || existing.state === 'starting')) {
      if (existing.state === 'started') {
        return { stream: existing, created: false };
      }
      // A crash between the record and the media call left it starting: finish the creation.
      return { stream: await this.attachMirror(existing), created: true };
    }
    if (existing !== undefined) {
      throw new ServiceError(
        'origin-stream-ended',
        `mirror ${spec.mirrorStreamId} already ended (${existing.endReason ?? 'no reason'})`,
      );
    }

    const origin = await this.store.streams.get(spec.originStreamId);
    if (origin === undefined) {
      throw new ServiceError('origin-not-found', `origin stream ${spec.originStreamId} not found`);
    }
    if (origin.state === 'ending' || origin.state === 'ended') {
      throw new ServiceError(
        'origin-stream-ended',
        `origin stream ${spec.originStreamId} has ${origin.state}`,
      );
    }

    const node = await this.placeMirror(spec);
    const stream: Stream = {
      streamId: spec.mirrorStreamId,
      sessionId: spec.sessionId,
      node: node.nodeId,
      region: node.region,
      state: 'starting',
      endReason: null,
      capabilities: spec.capabilities,
      tags: spec.tags,
      upstreamId: origin.streamId,
      roomId: spec.roomId,
      createdBy: spec.createdBy,
      created: this.now(),
      ended: null,
    };
    if (!(await this.store.streams.insert(stream))) {
      // Another writer inserted the same id between our read and insert; use its record.
      return this.createMirror(spec);
    }
    return { stream: await this.attachMirror(stream), created: true };
  }

  private async placeMirror(spec: MirrorSpecInput) {
    try {
      return await this.media.place(spec.desiredRegion);
    } catch (error) {
      if (!spec.regionFallback || spec.desiredRegion === null || !isCapacityError(error)) {
        throw error;
      }
      this.logger.info(
        { streamId: spec.mirrorStreamId, region: spec.desiredRegion },
        'no capacity in the preferred region; placing the mirror in another',
      );
      return this.media.place(null);
    }
  }

  private async attachMirror(stream: Stream): Promise<Stream> {
    const upstreamId = stream.upstreamId ?? '';
    const origin = await this.store.streams.get(upstreamId);
    const node = this.media.node(stream.node);
    try {
      if (origin === undefined || node === undefined) {
        throw new ServiceError('origin-not-found', `origin stream ${upstreamId} not found`);
      }
      await this.media.createMirror(node, {
        streamId: stream.streamId,
        sessionId: stream.sessionId,
        upstreamId,
        upstreamNodeId: origin.node,
      });
    } catch (error) {
      const reason = error instanceof ServiceError ? error.status : 'mirror-failed';
      await this.store.streams.transition(stream.streamId, ['starting'], 'ended', reason);
      throw error;
    }
    return this.started(stream.streamId);
  }

  private async started(streamId: string): Promise<Stream> {
    const stream = await this.store.streams.transition(streamId, ['starting'], 'started');
    if (stream !== undefined) {
      return stream;
    }
    // It ended while we were creating it (for example its origin ended); report the record.
    const current = await this.store.streams.get(streamId);
    if (current === undefined) {
      throw new ServiceError('internal-error', `stream ${streamId} record disappeared`);
    }
    return current;
  }

  /** Asks the stream's media node whether the stream still runs there. */
  async isLiveOnNode(stream: Stream): Promise<boolean> {
    const onNode = await this.media.getStream(stream.node, stream.streamId);
    return onNode !== undefined && onNode.state === 'started';
  }

  /**
   * Ends a stream on its media node as if the node had ended it on its own, so the lifecycle
   * path reacts as it would to a real failure (a mirror is healed). Waits up to `waitMs` for the
   * end to reach the store and returns the record as it is then.
   */
  async endOnNode(streamId: string, reason: string, waitMs = 3_000): Promise<Stream | undefined> {
    const stream = await this.store.streams.get(streamId);
    if (stream === undefined || stream.state === 'ended') {
      return stream;
    }
    await this.media.injectFault(stream.node, { type: 'end', streamId, reason });
    const deadline = Date.now() + waitMs;
    for (;;) {
      const current = await this.store.streams.get(streamId);
      if (current === undefined || current.state === 'ended' || Date.now() > deadline) {
        return current;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Ends a stream on its media node and in the store. Idempotent: a missing or ended stream is
   * left as it is. Returns the ended record, or undefined when there was nothing to end.
   */
  async destroy(streamId: string, reason: string): Promise<Stream | undefined> {
    const ending = await this.store.streams.transition(
      streamId,
      ['starting', 'started', 'ending'],
      'ending',
      reason,
    );
    if (ending === undefined) {
      return undefined;
    }
    await this.media.destroy(ending.node, streamId, ending.endReason ?? reason);
    const ended = await this.store.streams.transition(streamId, ['ending'], 'ended');
    this.logger.debug({ streamId, reason }, 'stream destroyed');
    return ended;
  }
}

function isCapacityError(error: unknown): boolean {
  return isServiceError(error) && error.status === 'capacity';
}

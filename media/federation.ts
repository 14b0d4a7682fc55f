/**
 * Federation between media node agents: a mirror on one node attaches to its upstream stream on
 * another node through that node's control API, and each side notifies the other when its
 * stream ends. An upstream on the same node is reached through the engine directly.
 */
import type { Logger } from 'pino';

import { ServiceError, isServiceError } from '../domain/errors.ts';
import type { Status } from '../domain/errors.ts';
import { controlPaths, type AttachSubscriberBody, type UpstreamEndedBody } from './control-api.ts';
import { sendControlRequest } from './control-client.ts';
import type {
  EngineStream,
  MediaEngine,
  PipeOffer,
  Subscriber,
  UpstreamAttachment,
  UpstreamConnector,
} from './engine.ts';

export interface FederationOptions {
  engine: MediaEngine;
  /** This agent's control API URL, known once its server listens. */
  selfUrl: () => string;
  timeoutMs: number;
  logger: Logger;
}

export interface FederatedMirrorRequest {
  streamId: string;
  sessionId: string;
  upstreamId: string;
  /** Control API URL of the upstream's node, which may be this agent's own URL. */
  upstreamUrl: string;
  capabilities?: string[];
}

/** Upstream statuses that a mirror request passes on to its caller unchanged. */
const PASSED_ON_STATUSES: ReadonlySet<string> = new Set<Status>([
  'origin-not-found',
  'origin-stream-ended',
  'capacity',
  'timeout',
]);

export class Federation {
  readonly #engine: MediaEngine;
  readonly #selfUrl: () => string;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  constructor(options: FederationOptions) {
    this.#engine = options.engine;
    this.#selfUrl = options.selfUrl;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.logger;
  }

  /** True when `url` has the same origin (scheme, host, port) as this agent's URL. */
  isSelf(url: string): boolean {
    return new URL(url).origin === new URL(this.#selfUrl()).origin;
  }

  /**
   * Builds a mirror and attaches it to its upstream. When a step fails after the upstream may
   * have recorded the attachment (an accepted attach, a lost reply, a timeout), the attachment is
   * removed again before the error is rethrown, so no half-built pair remains.
   */
  async createMirror(request: FederatedMirrorRequest): Promise<EngineStream> {
    const local = this.isSelf(request.upstreamUrl);
    const upstreamNodeUrl = local ? null : request.upstreamUrl;
    // Written by `connect`, which the engine calls, so it is an object and not a narrowed let.
    const attach: { state: 'not-sent' | 'rejected' | 'maybe-attached' } = { state: 'not-sent' };

    const connect: UpstreamConnector = async (offer) => {
      attach.state = 'maybe-attached';
      try {
        if (local) {
          return await this.#engine.attachSubscriber(
            request.upstreamId,
            { mirrorId: request.streamId, nodeUrl: null },
            offer,
          );
        }
        return await this.#attachRemote(request, offer);
      } catch (error) {
        // A local attach that throws recorded nothing. A remote one recorded nothing only when
        // the upstream replied with an error status, and a timeout or lost reply stays uncertain.
        if (local || (isServiceError(error) && error.cause instanceof UpstreamRejection)) {
          attach.state = 'rejected';
        }
        throw error;
      }
    };

    try {
      return await this.#engine.createMirror(
        {
          streamId: request.streamId,
          sessionId: request.sessionId,
          upstreamId: request.upstreamId,
          upstreamNodeUrl,
          ...(request.capabilities === undefined ? {} : { capabilities: request.capabilities }),
        },
        connect,
      );
    } catch (error) {
      if (attach.state === 'maybe-attached') {
        this.#log.info(
          { mirrorId: request.streamId, upstreamId: request.upstreamId, err: error },
          'mirror failed after attach, detaching from upstream',
        );
        await this.detach(request.upstreamId, request.streamId, upstreamNodeUrl);
      }
      throw error;
    }
  }

  /**
   * Detaches a mirror from its upstream. A remote detach that fails is logged, not thrown: the
   * upstream then keeps a stale subscriber, which only costs a notice to a gone mirror later.
   */
  async detach(upstreamId: string, mirrorId: string, upstreamUrl: string | null): Promise<void> {
    if (upstreamUrl === null) {
      await this.#engine.detachSubscriber(upstreamId, mirrorId);
      return;
    }
    try {
      const reply = await sendControlRequest({
        method: 'DELETE',
        baseUrl: upstreamUrl,
        path: controlPaths.subscriber(upstreamId, mirrorId),
        timeoutMs: this.#timeoutMs,
        target: `upstream node ${upstreamUrl}`,
      });
      if (reply.body.status !== 'ok') {
        this.#log.warn(
          {
            upstreamId,
            mirrorId,
            upstreamUrl,
            status: reply.body.status,
            message: reply.body.message,
          },
          'upstream node rejected detach',
        );
      }
    } catch (error) {
      this.#log.warn(
        { upstreamId, mirrorId, upstreamUrl, err: error },
        'detach from upstream failed',
      );
    }
  }

  /**
   * Carries the end of a stream to other nodes: each remote mirror of it is notified that its
   * upstream ended, and a mirror of a remote upstream is detached from it unless
   * `upstreamGone` says the upstream ended first. Never rejects, because failures are logged.
   */
  async propagateEnd(
    stream: EngineStream,
    subscribers: Subscriber[],
    upstreamGone: boolean,
  ): Promise<void> {
    const calls: Promise<void>[] = [];
    for (const subscriber of subscribers) {
      if (subscriber.nodeUrl !== null) {
        calls.push(this.#notifyUpstreamEnded(subscriber.nodeUrl, subscriber.mirrorId, stream));
      }
    }
    if (
      stream.kind === 'mirror' &&
      stream.upstreamId !== null &&
      stream.upstreamNodeUrl !== null &&
      !upstreamGone
    ) {
      calls.push(this.detach(stream.upstreamId, stream.streamId, stream.upstreamNodeUrl));
    }
    await Promise.all(calls);
  }

  async #attachRemote(
    request: FederatedMirrorRequest,
    offer: PipeOffer,
  ): Promise<UpstreamAttachment> {
    const target = `upstream node ${request.upstreamUrl}`;
    const body: AttachSubscriberBody = { url: this.#selfUrl(), offer };
    const reply = await sendControlRequest({
      method: 'PUT',
      baseUrl: request.upstreamUrl,
      path: controlPaths.subscriber(request.upstreamId, request.streamId),
      body,
      timeoutMs: this.#timeoutMs,
      target,
    });

    const { status, message } = reply.body;
    if (status !== 'ok') {
      const rejection = new UpstreamRejection(status, message ?? '');
      if (PASSED_ON_STATUSES.has(status)) {
        throw new ServiceError(status as Status, `${target}: ${message ?? status}`, {
          cause: rejection,
        });
      }
      throw new ServiceError(
        'internal-error',
        `${target} rejected the attach of mirror ${request.streamId} with ${status}: ${message ?? ''}`,
        { cause: rejection },
      );
    }

    const { upstream, answer } = reply.body;
    if (!isRecord(upstream) || !isRecord(answer) || !Array.isArray(upstream['capabilities'])) {
      throw new ServiceError(
        'internal-error',
        `${target} returned an attach reply without upstream stream or answer`,
      );
    }
    return { upstream: upstream as unknown as EngineStream, answer };
  }

  async #notifyUpstreamEnded(
    nodeUrl: string,
    mirrorId: string,
    upstream: EngineStream,
  ): Promise<void> {
    const body: UpstreamEndedBody = { upstreamId: upstream.streamId };
    const context = { upstreamId: upstream.streamId, mirrorId, nodeUrl };
    try {
      const reply = await sendControlRequest({
        method: 'POST',
        baseUrl: nodeUrl,
        path: controlPaths.upstreamEnded(mirrorId),
        body,
        timeoutMs: this.#timeoutMs,
        target: `mirror node ${nodeUrl}`,
      });
      if (reply.body.status === 'not-found') {
        this.#log.debug(context, 'mirror of ended upstream already gone');
      } else if (reply.body.status !== 'ok') {
        this.#log.warn(
          { ...context, status: reply.body.status, message: reply.body.message },
          'mirror node rejected upstream-ended notice',
        );
      }
    } catch (error) {
      this.#log.warn({ ...context, err: error }, 'upstream-ended notice failed');
    }
  }
}

/**
 * The upstream node replied with an error status, so it did not record the attachment. Set as
 * the cause of the ServiceError that the mirror request fails with.
 */
class UpstreamRejection extends Error {
  readonly status: string;

  constructor(status: string, message: string) {
    super(`upstream replied ${status}: ${message}`);
    this.name = 'UpstreamRejection';
    this.status = status;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

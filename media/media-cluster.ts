/**
 * The service's client of the media node agents (the federation client): placement of new
 * streams and the calls that publish, mirror, destroy and read streams. Every failure is a
 * ServiceError with the agent's status, so callers decide retries by `retryable`: an unreachable
 * node is `capacity`, a node that does not reply in time is `timeout`.
 */
import { pino } from 'pino';
import type { Logger } from 'pino';

import { STATUS_CODES, ServiceError } from '../domain/errors.ts';
import type { Status } from '../domain/errors.ts';
import {
  controlPaths,
  type CreateMirrorBody,
  type DestroyBody,
  type LifecycleEventsReply,
  type MediaNodeInfo,
  type NodeReply,
  type PublishOriginBody,
} from './control-api.ts';
import { DEFAULT_CONTROL_TIMEOUT_MS, sendControlRequest } from './control-client.ts';
import type { ControlReply, ControlRequest } from './control-client.ts';
import type { EngineStream } from './engine.ts';
import { describeMissingRegion, selectNode } from './placement.ts';
import type { PlacementCandidate } from './placement.ts';

export type { MediaNodeInfo } from './control-api.ts';

export interface MediaClusterOptions {
  /** Timeout in ms of each call to an agent. Default 5000. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface PublishOriginRequest {
  streamId: string;
  sessionId: string;
  capabilities: string[];
}

export interface CreateMirrorRequest {
  streamId: string;
  sessionId: string;
  /** The stream to copy. */
  upstreamId: string;
  /** The node that carries `upstreamId`. */
  upstreamNodeId: string;
  /** Defaults to the upstream stream's capabilities. */
  capabilities?: string[];
}

export type NodeStatus = Omit<NodeReply, 'status'>;

export type MediaFault =
  | { type: 'end'; streamId: string; reason?: string }
  | { type: 'stall'; streamId: string; reason?: string }
  | { type: 'fail-node' }
  | { type: 'recover-node' };

export class MediaCluster {
  readonly #nodes: ReadonlyMap<string, MediaNodeInfo>;
  readonly #timeoutMs: number;
  readonly #log: Logger;

  /** Throws a TypeError or RangeError for a duplicate node id, an invalid URL or timeout. */
  constructor(nodes: readonly MediaNodeInfo[], options: MediaClusterOptions = {}) {
    const byId = new Map<string, MediaNodeInfo>();
    for (const node of nodes) {
      if (byId.has(node.nodeId)) {
        throw new TypeError(`media node ${node.nodeId} is listed twice`);
      }
      if (!URL.canParse(node.url) || !/^https?:$/.test(new URL(node.url).protocol)) {
        throw new TypeError(`media node ${node.nodeId} has an invalid http URL: ${node.url}`);
      }
      byId.set(node.nodeId, { nodeId: node.nodeId, region: node.region, url: node.url });
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    this.#nodes = byId;
    this.#timeoutMs = timeoutMs;
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ module: 'media-cluster' });
  }

  nodes(): MediaNodeInfo[] {
    return [...this.#nodes.values()].map((node) => ({ ...node }));
  }

  node(nodeId: string): MediaNodeInfo | undefined {
    const node = this.#nodes.get(nodeId);
    return node === undefined ? undefined : { ...node };
  }

  /** Reads the node's load. Throws `internal-error` when the agent reports another node id. */
  async nodeStatus(nodeId: string): Promise<NodeStatus> {
    const node = this.#require(nodeId);
    const body = await this.#call(node, { method: 'GET', path: controlPaths.node() });
    const status = body as unknown as NodeReply;
    if (
      typeof status.load !== 'number' ||
      typeof status.capacity !== 'number' ||
      typeof status.failed !== 'boolean'
    ) {
      throw malformedReply(node, 'load, capacity and failed');
    }
    if (status.nodeId !== node.nodeId) {
      throw new ServiceError(
        'internal-error',
        `media node ${node.nodeId} at ${node.url} reports node id ${String(status.nodeId)}; check the cluster configuration`,
      );
    }
    return {
      nodeId: status.nodeId,
      region: status.region,
      load: status.load,
      capacity: status.capacity,
      failed: status.failed,
    };
  }

  /**
   * Chooses the node for a new stream: the least loaded node of `desiredRegion` (of any region
   * when null) that has neither failed nor reached capacity, ties going to the lowest node id.
   * Nodes that do not respond to `GET /node` are logged and skipped. Throws `capacity` when no node
   * fits, naming the region and why each node was rejected.
   */
  async place(desiredRegion: string | null): Promise<MediaNodeInfo> {
    const nodes = [...this.#nodes.values()];
    const inRegion = nodes.filter(
      (node) => desiredRegion === null || node.region === desiredRegion,
    );
    if (inRegion.length === 0) {
      throw new ServiceError('capacity', describeMissingRegion(nodes, desiredRegion));
    }

    const candidates = await Promise.all(
      inRegion.map(async (node): Promise<PlacementCandidate> => {
        try {
          return {
            nodeId: node.nodeId,
            region: node.region,
            report: await this.nodeStatus(node.nodeId),
          };
        } catch (error) {
          this.#log.warn(
            { nodeId: node.nodeId, url: node.url, err: error },
            'media node skipped for placement',
          );
          return toUnreportedCandidate(node);
        }
      }),
    );

    const decision = selectNode(candidates, desiredRegion);
    if (decision.nodeId === null) {
      throw new ServiceError('capacity', decision.reason);
    }
    this.#log.debug({ nodeId: decision.nodeId, desiredRegion }, 'stream placed');
    return this.#require(decision.nodeId);
  }

  /** Publishes an origin stream. Repeating it for the same live origin returns that origin. */
  async publish(
    node: MediaNodeInfo | string,
    request: PublishOriginRequest,
  ): Promise<EngineStream> {
    const target = this.#resolve(node);
    const body: PublishOriginBody = {
      kind: 'origin',
      sessionId: request.sessionId,
      capabilities: request.capabilities,
    };
    const reply = await this.#call(target, {
      method: 'PUT',
      path: controlPaths.stream(request.streamId),
      body,
    });
    return readStream(reply, target);
  }

  /**
   * Creates a mirror of `upstreamId` on `node`. Throws the agent's status: `origin-not-found`
   * (also when `upstreamNodeId` is not in the cluster), `origin-stream-ended`, `capacity`,
   * `already-exists` for an id taken by another stream.
   */
  async createMirror(
    node: MediaNodeInfo | string,
    request: CreateMirrorRequest,
  ): Promise<EngineStream> {
    const target = this.#resolve(node);
    const upstreamNode = this.#nodes.get(request.upstreamNodeId);
    if (upstreamNode === undefined) {
      throw new ServiceError(
        'origin-not-found',
        `upstream node ${request.upstreamNodeId} of stream ${request.upstreamId} is not in the media cluster`,
      );
    }
    const body: CreateMirrorBody = {
      kind: 'mirror',
      sessionId: request.sessionId,
      upstreamId: request.upstreamId,
      upstreamUrl: upstreamNode.url,
      ...(request.capabilities === undefined ? {} : { capabilities: request.capabilities }),
    };
    const reply = await this.#call(target, {
      method: 'PUT',
      path: controlPaths.stream(request.streamId),
      body,
    });
    return readStream(reply, target);
  }

  /**
   * Ends a stream with `reason` and returns its record, or undefined when the node does not know
   * the stream (nothing left to destroy). Ending an ended stream changes nothing.
   */
  async destroy(
    nodeId: string,
    streamId: string,
    reason: string,
  ): Promise<EngineStream | undefined> {
    const node = this.#require(nodeId);
    const body: DestroyBody = { reason };
    const reply = await this.#call(
      node,
      { method: 'DELETE', path: controlPaths.stream(streamId), body },
      ['not-found'],
    );
    return reply.status === 'not-found' ? undefined : readStream(reply, node);
  }

  /** Returns the stream's record, or undefined when the node does not know it. */
  async getStream(nodeId: string, streamId: string): Promise<EngineStream | undefined> {
    const node = this.#require(nodeId);
    const reply = await this.#call(node, { method: 'GET', path: controlPaths.stream(streamId) }, [
      'not-found',
    ]);
    return reply.status === 'not-found' ? undefined : readStream(reply, node);
  }

  async listStreams(nodeId: string): Promise<EngineStream[]> {
    const node = this.#require(nodeId);
    const reply = await this.#call(node, { method: 'GET', path: controlPaths.streams() });
    if (!Array.isArray(reply['streams'])) {
      throw malformedReply(node, 'streams');
    }
    return reply['streams'] as EngineStream[];
  }

  /**
   * Reads lifecycle events with `seq > after`, waiting up to `waitMs` for the first one. The
   * request timeout is extended by `waitMs`.
   */
  async lifecycleEvents(
    nodeId: string,
    options: { after: number; limit?: number; waitMs?: number },
  ): Promise<Omit<LifecycleEventsReply, 'status'>> {
    const node = this.#require(nodeId);
    const query = new URLSearchParams({ after: String(options.after) });
    if (options.limit !== undefined) {
      query.set('limit', String(options.limit));
    }
    const waitMs = options.waitMs ?? 0;
    query.set('waitMs', String(waitMs));
    const reply = await this.#call(
      node,
      { method: 'GET', path: `${controlPaths.events()}?${query.toString()}` },
      [],
      this.#timeoutMs + waitMs,
    );
    if (!Array.isArray(reply['events']) || typeof reply['next'] !== 'number') {
      throw malformedReply(node, 'events');
    }
    const body = reply as unknown as LifecycleEventsReply;
    return { events: body.events, next: body.next, gap: body.gap === true };
  }

  /** Injects a fault into a node, for tests, benchmarks and drills. */
  async injectFault(nodeId: string, fault: MediaFault): Promise<void> {
    const node = this.#require(nodeId);
    let request: Pick<ControlRequest, 'method' | 'path' | 'body'>;
    if (fault.type === 'end') {
      request = {
        method: 'POST',
        path: controlPaths.endFault(fault.streamId),
        body: { reason: fault.reason },
      };
    } else if (fault.type === 'stall') {
      request = {
        method: 'POST',
        path: controlPaths.stallFault(fault.streamId),
        body: { reason: fault.reason },
      };
    } else if (fault.type === 'fail-node') {
      request = { method: 'POST', path: controlPaths.failNodeFault(), body: {} };
    } else {
      request = { method: 'POST', path: controlPaths.recoverNodeFault(), body: {} };
    }
    await this.#call(node, request);
    this.#log.info({ nodeId, fault }, 'media fault injected');
  }

  /**
   * Sends one request and returns the reply body. Throws a ServiceError with the agent's status
   * unless the status is `ok` or one of `allowedStatuses`.
   */
  async #call(
    node: MediaNodeInfo,
    request: Pick<ControlRequest, 'method' | 'path' | 'body'>,
    allowedStatuses: readonly string[] = [],
    timeoutMs = this.#timeoutMs,
  ): Promise<ControlReply['body']> {
    const target = `media node ${node.nodeId} (${node.url})`;
    let reply: ControlReply;
    try {
      reply = await sendControlRequest({ ...request, baseUrl: node.url, timeoutMs, target });
    } catch (error) {
      this.#log.warn(
        {
          nodeId: node.nodeId,
          url: node.url,
          method: request.method,
          path: request.path,
          err: error,
        },
        'media node request failed',
      );
      throw error;
    }

    const { status, message } = reply.body;
    if (status === 'ok' || allowedStatuses.includes(status)) {
      return reply.body;
    }
    throw new ServiceError(toStatus(status), `${target}: ${message ?? status}`);
  }

  #resolve(node: MediaNodeInfo | string): MediaNodeInfo {
    return this.#require(typeof node === 'string' ? node : node.nodeId);
  }

  /** Throws `invalid-request` (not retryable) for a node id that is not in the cluster. */
  #require(nodeId: string): MediaNodeInfo {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) {
      throw new ServiceError(
        'invalid-request',
        `media node ${nodeId} is not in the media cluster; known nodes: ${[...this.#nodes.keys()].join(', ')}`,
      );
    }
    return node;
  }
}

function toUnreportedCandidate(node: MediaNodeInfo): PlacementCandidate {
  return { nodeId: node.nodeId, region: node.region, report: null };
}

function readStream(body: ControlReply['body'], node: MediaNodeInfo): EngineStream {
  const stream = body['stream'];
  if (typeof stream !== 'object' || stream === null || Array.isArray(stream)) {
    throw malformedReply(node, 'stream');
  }
  return stream as EngineStream;
}

function malformedReply(node: MediaNodeInfo, field: string): ServiceError {
  return new ServiceError(
    'internal-error',
    `media node ${node.nodeId} (${node.url}) returned a reply without a valid ${field}`,
  );
}

/** Maps an agent's status to a known one, or to `internal-error` for an unknown status. */
function toStatus(status: string): Status {
  return Object.hasOwn(STATUS_CODES, status) ? (status as Status) : 'internal-error';
}

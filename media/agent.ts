/**
 * A media node agent: one media engine behind an HTTP control API on its own port. It runs as a
 * process of its own (bin/media-node.ts) or inside another process for tests and the embedded
 * mode. The service reaches it only through MediaCluster, and agents reach each other for
 * federation.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import type { Logger } from 'pino';

import { ServiceError } from '../domain/errors.ts';
import { MAX_STREAM_ID_LENGTH, registerControlRoutes } from './agent-routes.ts';
import type { MediaNodeInfo, NodeReply } from './control-api.ts';
import { DEFAULT_CONTROL_TIMEOUT_MS } from './control-client.ts';
import type {
  EngineStream,
  MediaEngine,
  PipeOffer,
  Subscriber,
  UpstreamAttachment,
} from './engine.ts';
import { Federation } from './federation.ts';
import { LifecycleLog } from './lifecycle.ts';
import type { MediaAgentEvents, MediaLifecycleEvent } from './lifecycle.ts';
import { SimulatedEngine } from './simulated-engine.ts';

/** Node ids and regions become parts of stream ids, which use `#` as a separator. */
export const MEDIA_NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface MediaAgentOptions {
  nodeId: string;
  region: string;
  /** Address the control API listens on. Default 127.0.0.1. */
  host?: string;
  /** Port of the control API, or 0 for a free one. Default 0. */
  port?: number;
  /** Maximum number of live streams of the simulated engine. Default 10000. */
  capacity?: number;
  logger?: Logger;
  /** Timeout in ms of each call to another agent. Default 5000. */
  peerTimeoutMs?: number;
  /** Engine to run in place of a SimulatedEngine, which makes `capacity` ignored. */
  engine?: MediaEngine;
  /** Number of lifecycle events kept for `GET /events`. Default 10000. */
  lifecycleRetention?: number;
  /** Registers the engine's own control routes, after the agent's routes and error handler. */
  controlRoutes?: (app: FastifyInstance) => void;
}

export interface OriginRequest {
  sessionId: string;
  capabilities: string[];
}

export interface MirrorRequestBody {
  sessionId: string;
  upstreamId: string;
  upstreamUrl: string;
  capabilities?: string[];
}

export interface PutStreamResult {
  stream: EngineStream;
  /** False when the same stream was already live and the request changed nothing. */
  created: boolean;
}

/**
 * Starts an agent with a simulated engine (unless `options.engine` is given) and resolves once
 * its control API listens.
 */
export async function startMediaAgent(options: MediaAgentOptions): Promise<MediaAgent> {
  validateOptions(options);
  const logger = (options.logger ?? pino({ level: 'silent' })).child({
    module: 'media-agent',
    nodeId: options.nodeId,
    region: options.region,
  });
  const engine =
    options.engine ?? new SimulatedEngine({ nodeId: options.nodeId, capacity: options.capacity });
  const agent = new MediaAgent(options, engine, logger);

  try {
    await agent.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  } catch (error) {
    await agent.close();
    throw error;
  }
  logger.info({ url: agent.info.url, capacity: engine.load().capacity }, 'media agent listening');
  return agent;
}

export class MediaAgent {
  readonly engine: MediaEngine;
  /** Emits `lifecycle` for every stream that starts, ends or stalls on this node. */
  readonly events = new EventEmitter<MediaAgentEvents>();
  readonly lifecycle: LifecycleLog;
  readonly #nodeId: string;
  readonly #region: string;
  readonly #log: Logger;
  readonly #server: FastifyInstance;
  readonly #federation: Federation;
  /** Tail of the queued operations on each stream id, so operations on one id run one by one. */
  readonly #locks = new Map<string, Promise<void>>();
  /** Cross-node work still running after a stream ended, by stream id. */
  readonly #propagations = new Map<string, Promise<void>>();
  /** Mirrors being ended because their upstream ended, which need no detach. */
  readonly #upstreamGone = new Set<string>();
  #url = '';
  #closed = false;

  /** Use `startMediaAgent`. */
  constructor(options: MediaAgentOptions, engine: MediaEngine, logger: Logger) {
    this.engine = engine;
    this.#nodeId = options.nodeId;
    this.#region = options.region;
    this.#log = logger;
    this.lifecycle = new LifecycleLog(options.lifecycleRetention);
    this.#federation = new Federation({
      engine,
      selfUrl: () => this.#url,
      timeoutMs: options.peerTimeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS,
      logger,
    });
    engine.events.on('streamstarted', (stream) => this.#record('started', stream, null));
    engine.events.on('streamstalled', (stream, reason) => this.#record('stalled', stream, reason));
    engine.events.on('streamended', (stream, subscribers) => this.#onEnded(stream, subscribers));

    this.#server = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      // The agent logs its own operations with stream ids, so per-request lines would add noise.
      logController: new LogController({ disableRequestLogging: true }),
      // Fastify's default limit of 100 characters is too short for encoded stream ids. One
      // character encodes to at most 12 (four UTF-8 bytes as `%XX`).
      routerOptions: { maxParamLength: MAX_STREAM_ID_LENGTH * 12 },
    });
    registerControlRoutes(this.#server, this);
    options.controlRoutes?.(this.#server);
  }

  get info(): MediaNodeInfo {
    return { nodeId: this.#nodeId, region: this.#region, url: this.#url };
  }

  /** @internal Called once by `startMediaAgent`. */
  async listen(host: string, port: number): Promise<void> {
    await this.#server.listen({ host, port });
    const address = this.#server.server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    // NOTE: an agent bound to a wildcard address (0.0.0.0, ::) advertises that address, which
    // other hosts cannot reach. Bind to the address that peers and the service should use.
    this.#url = `http://${hostPart}:${address.port}`;
  }

  nodeStatus(): NodeReply {
    const load = this.engine.load();
    return {
      status: 'ok',
      nodeId: this.#nodeId,
      region: this.#region,
      load: load.live,
      capacity: load.capacity,
      failed: load.failed,
    };
  }

  /**
   * Publishes an origin stream. Repeating the request for a live origin of the same session
   * returns it unchanged. Any other use of a known id is `already-exists`.
   */
  async publishOrigin(streamId: string, request: OriginRequest): Promise<PutStreamResult> {
    return this.#exclusive(streamId, async () => {
      const existing = this.engine.get(streamId);
      if (existing !== undefined) {
        if (
          existing.state === 'started' &&
          existing.kind === 'origin' &&
          existing.sessionId === request.sessionId
        ) {
          return { stream: existing, created: false };
        }
        throw conflictError(existing);
      }

      const stream = await this.engine.publish({ streamId, ...request });
      this.#log.info({ streamId, sessionId: request.sessionId }, 'origin published');
      return { stream, created: true };
    });
  }

  /**
   * Creates a mirror of `upstreamId`, attaching it to the upstream node's stream. Repeating the
   * request for a live mirror of the same upstream and session returns it unchanged.
   */
  async createMirror(streamId: string, request: MirrorRequestBody): Promise<PutStreamResult> {
    if (request.upstreamId === streamId) {
      throw new ServiceError('invalid-request', `stream ${streamId} cannot mirror itself`);
    }
    return this.#exclusive(streamId, async () => {
      const existing = this.engine.get(streamId);
      if (existing !== undefined) {
        if (
          existing.state === 'started' &&
          existing.kind === 'mirror' &&
          existing.upstreamId === request.upstreamId &&
          existing.sessionId === request.sessionId
        ) {
          return { stream: existing, created: false };
        }
        throw conflictError(existing);
      }

      const stream = await this.#federation.createMirror({ streamId, ...request });
      this.#log.info(
        { streamId, upstreamId: request.upstreamId, upstreamUrl: request.upstreamUrl },
        'mirror created',
      );
      return { stream, created: true };
    });
  }

  /**
   * Ends a stream with `reason` and resolves once its mirrors on this node have ended and the
   * nodes of its remote mirrors and of its upstream have been notified. Ending an ended stream
   * changes nothing. Throws `not-found` for an unknown stream.
   */
  async endStream(streamId: string, reason: string): Promise<EngineStream> {
    return this.#exclusive(streamId, async () => {
      const ended = await this.engine.destroy(streamId, reason);
      if (ended.length > 0) {
        this.#log.info({ streamId, reason, cascaded: ended.length - 1 }, 'stream ended');
      }
      await this.#settle(ended);
      return this.#current(streamId, ended);
    });
  }

  /**
   * Ends a mirror because the node of its upstream reported that the upstream ended. A notice
   * naming another upstream than the mirror's is stale (the id was reused) and changes nothing.
   */
  async upstreamEnded(mirrorId: string, upstreamId: string): Promise<EngineStream> {
    return this.#exclusive(mirrorId, async () => {
      const mirror = this.engine.get(mirrorId);
      if (mirror === undefined) {
        throw new ServiceError(
          'not-found',
          `stream ${mirrorId} is not on media node ${this.#nodeId}`,
        );
      }
      if (mirror.upstreamId !== upstreamId || mirror.state === 'ended') {
        this.#log.debug({ mirrorId, upstreamId }, 'upstream-ended notice changed nothing');
        return mirror;
      }

      this.#upstreamGone.add(mirrorId);
      let ended: EngineStream[];
      try {
        ended = await this.engine.destroy(mirrorId, 'origin-stream-ended');
      } finally {
        this.#upstreamGone.delete(mirrorId);
      }
      await this.#settle(ended);
      return this.#current(mirrorId, ended);
    });
  }

  /** Attaches a mirror on the node at `mirrorNodeUrl` to a stream of this node. */
  async attachSubscriber(
    upstreamId: string,
    mirrorId: string,
    mirrorNodeUrl: string,
    offer: PipeOffer,
  ): Promise<UpstreamAttachment> {
    const attachment = await this.engine.attachSubscriber(
      upstreamId,
      { mirrorId, nodeUrl: mirrorNodeUrl },
      offer,
    );
    this.#log.debug({ upstreamId, mirrorId, mirrorNodeUrl }, 'subscriber attached');
    return attachment;
  }

  async detachSubscriber(upstreamId: string, mirrorId: string): Promise<boolean> {
    return this.engine.detachSubscriber(upstreamId, mirrorId);
  }

  async stallStream(streamId: string, reason: string): Promise<EngineStream> {
    const stream = await this.engine.stall(streamId, reason);
    this.#log.info({ streamId, reason }, 'stream stall injected');
    return stream;
  }

  /** Fails the node: every stream ends with `node-failed` and new streams get `capacity`. */
  async failNode(): Promise<EngineStream[]> {
    const ended = await this.engine.failNode();
    this.#log.warn({ ended: ended.length }, 'node failure injected');
    await this.#settle(ended);
    return ended;
  }

  async recoverNode(): Promise<void> {
    await this.engine.recoverNode();
    this.#log.info('node recovered');
  }

  /**
   * Stops the control API and releases the engine. Streams are dropped without ending them and
   * without notices to other agents, as if the node had vanished.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.lifecycle.close();
    await this.#server.close();
    await Promise.all(this.#propagations.values());
    await this.engine.close();
    this.events.removeAllListeners();
    this.#log.info('media agent closed');
  }

  #onEnded(stream: EngineStream, subscribers: Subscriber[]): void {
    this.#record('ended', stream, stream.endReason);
    const upstreamGone = this.#upstreamGone.has(stream.streamId);
    const propagation = this.#federation.propagateEnd(stream, subscribers, upstreamGone);
    this.#propagations.set(stream.streamId, propagation);
    void propagation.finally(() => {
      if (this.#propagations.get(stream.streamId) === propagation) {
        this.#propagations.delete(stream.streamId);
      }
    });
  }

  #record(event: MediaLifecycleEvent['event'], stream: EngineStream, reason: string | null): void {
    let at = Date.now();
    if (event === 'started') {
      at = stream.started;
    } else if (event === 'ended' && stream.ended !== null) {
      at = stream.ended;
    }
    const lifecycleEvent: MediaLifecycleEvent = {
      event,
      streamId: stream.streamId,
      nodeId: this.#nodeId,
      upstreamId: stream.upstreamId,
      reason,
      at,
    };
    this.lifecycle.append(lifecycleEvent);
    // A listener that throws must not abort the engine call that emitted the event.
    try {
      this.events.emit('lifecycle', lifecycleEvent);
    } catch (error) {
      this.#log.error({ err: error, streamId: stream.streamId, event }, 'lifecycle listener threw');
    }
  }

  async #settle(ended: EngineStream[]): Promise<void> {
    await Promise.all(ended.map((stream) => this.#propagations.get(stream.streamId)));
  }

  /** The stream's record, or the copy returned when it ended if retention already dropped it. */
  #current(streamId: string, ended: EngineStream[]): EngineStream {
    const stream = this.engine.get(streamId) ?? ended.find((s) => s.streamId === streamId);
    if (stream === undefined) {
      throw new ServiceError(
        'not-found',
        `stream ${streamId} is not on media node ${this.#nodeId}`,
      );
    }
    return stream;
  }

  async #exclusive<T>(streamId: string, operation: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new ServiceError('capacity', `media node ${this.#nodeId} is shutting down`);
    }
    const previous = this.#locks.get(streamId) ?? Promise.resolve();
    const result = previous.then(operation);
    const tail = result.then(ignoreOutcome, ignoreOutcome);
    this.#locks.set(streamId, tail);
    try {
      return await result;
    } finally {
      if (this.#locks.get(streamId) === tail) {
        this.#locks.delete(streamId);
      }
    }
  }
}

/** Discards a queued operation's outcome, which its own caller handles. */
function ignoreOutcome(): void {}

function conflictError(existing: EngineStream): ServiceError {
  let detail: string;
  if (existing.state === 'ended') {
    detail = `ended (${existing.endReason ?? 'no reason'})`;
  } else if (existing.kind === 'mirror') {
    detail = `live as mirror of ${existing.upstreamId ?? '?'} for session ${existing.sessionId}`;
  } else {
    detail = `live as origin of session ${existing.sessionId}`;
  }
  return new ServiceError(
    'already-exists',
    `stream ${existing.streamId} already exists, ${detail}`,
  );
}

function validateOptions(options: MediaAgentOptions): void {
  for (const key of ['nodeId', 'region'] as const) {
    const value: unknown = options[key];
    if (typeof value !== 'string' || !MEDIA_NODE_NAME_PATTERN.test(value)) {
      throw new TypeError(
        `${key} must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(value)}`,
      );
    }
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  const timeout = options.peerTimeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new RangeError(`peerTimeoutMs must be a positive number, got ${timeout}`);
  }
}

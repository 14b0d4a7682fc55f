/**
 * The mediasoup engine: the media of one node on one mediasoup Worker process.
 *
 * Every stream has a Router of its own, so closing that Router releases everything of the
 * stream at once:
 * - an origin's Router contains a PlainTransport in comedia mode, which takes the publisher's
 *   address from the first packet, and the Producer that receives the publisher's RTP;
 * - a mirror's Router contains its end of a PipeTransport pair and a Producer built from the
 *   parameters of the pipe Consumer at the other end, which sits in the upstream's Router.
 *
 * A mirror on the same node uses the same pipe pair as one on another node, with both ends in
 * this Worker, and not `pipeToRouter`: in mediasoup 3.12.16 the pipe Producer of `pipeToRouter`
 * keeps the piped Producer's id, and the Worker registers ids once per Worker, so piping between
 * two Routers of one Worker fails with "Channel request handler with ID ... already exists".
 * A mirror's Producer gets an id of its own instead.
 *
 * When mediasoup closes a stream's media (its Producer or transport closed, the Worker process
 * died), the engine ends the stream and emits `streamended` outside any call.
 */
import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { isIP } from 'node:net';

import { createWorker, workerBin } from 'mediasoup';
import type { types as mediasoupTypes } from 'mediasoup';
import { pino } from 'pino';
import type { Logger } from 'pino';

import { ServiceError, isServiceError } from '../domain/errors.ts';
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
import {
  ROUTER_MEDIA_CODECS,
  originIngest,
  originRtpParameters,
  parsePipeAnswer,
  parsePipeOffer,
  pipeAnswer,
  pipeOffer,
  randomSsrc,
} from './mediasoup-media.ts';
import type { PipeTuple } from './mediasoup-media.ts';
import { DEFAULT_CAPACITY, DEFAULT_ENDED_RETENTION } from './simulated-engine.ts';

export interface MediasoupEngineOptions {
  nodeId: string;
  /** Maximum number of live streams. Default 10000. */
  capacity?: number;
  /** Number of ended streams kept for lookups, dropping the oldest first. Default 10000. */
  endedRetention?: number;
  /** IP address that the RTP transports listen on. Default 127.0.0.1. */
  listenIp?: string;
  /** IP address given to publishers and peers in place of `listenIp`, for a node behind NAT. */
  announcedIp?: string;
  logger?: Logger;
}

/** An RTP copy of a stream that the node sends to a fixed address. */
export interface RtpEgress {
  consumerId: string;
  kind: mediasoupTypes.MediaKind;
  rtpParameters: mediasoupTypes.RtpParameters;
}

/** Counters of a stream's Producer and the size of its Router. */
export interface StreamMediaStats {
  producerId: string;
  paused: boolean;
  /** RTP packets the Producer received, summed over its encodings. */
  packetCount: number;
  byteCount: number;
  /** Transports in the stream's Router: ingest or pipe end, pipes to mirrors, RTP egresses. */
  transportCount: number;
}

export interface WorkerInfo {
  pid: number;
  /** Routers in the Worker, one per live stream when nothing leaked. */
  routerCount: number;
}

interface StreamEntry {
  stream: EngineStream;
  /** Null once the stream ended, like `producer` and `pipeTransport`. */
  router: mediasoupTypes.Router | null;
  producer: mediasoupTypes.Producer | null;
  /** A mirror's end of its pipe pair. Null for an origin. */
  pipeTransport: mediasoupTypes.PipeTransport | null;
  /** Pipes to the mirrors of this stream, by mirror id. */
  subscribers: Map<string, SubscriberLink>;
}

interface SubscriberLink {
  subscriber: Subscriber;
  /** This node's end of the pipe pair toward the mirror, in the stream's Router. */
  transport: mediasoupTypes.PipeTransport;
  consumer: mediasoupTypes.Consumer;
}

/**
 * Checks that the worker binary that mediasoup will spawn exists. mediasoup reads its path from
 * MEDIASOUP_WORKER_BIN when the module loads, and otherwise looks inside node_modules, where the
 * denied install script would have put it.
 */
export async function checkWorkerBinary(): Promise<void> {
  try {
    await access(workerBin, constants.X_OK);
  } catch (error) {
    throw new Error(
      `mediasoup worker binary ${workerBin} is missing or not executable; build it with test/infra/build-mediasoup-worker.sh and set MEDIASOUP_WORKER_BIN to the path it prints`,
      { cause: error },
    );
  }
}

/** Starts an engine with a running Worker. Throws when the worker binary is missing. */
export async function startMediasoupEngine(
  options: MediasoupEngineOptions,
): Promise<MediasoupEngine> {
  await checkWorkerBinary();
  const engine = new MediasoupEngine(options);
  await engine.recoverNode();
  return engine;
}

export class MediasoupEngine implements MediaEngine {
  readonly nodeId: string;
  readonly events = new EventEmitter<MediaEngineEvents>();
  readonly #capacity: number;
  readonly #endedRetention: number;
  readonly #listenIp: mediasoupTypes.TransportListenIp;
  readonly #log: Logger;
  readonly #streams = new Map<string, StreamEntry>();
  /** Ids of streams between capacity check and completion, which count against capacity. */
  readonly #reserved = new Set<string>();
  /** Ended stream ids in the order they ended, for retention. */
  readonly #endedOrder = new Set<string>();
  #worker: mediasoupTypes.Worker | null = null;
  /** The Worker start in progress, shared by concurrent `recoverNode` calls. */
  #workerStart: Promise<void> | null = null;
  #live = 0;
  /** True while there is no usable Worker: from construction, `failNode` or a Worker death. */
  #failed = true;
  #closed = false;

  /** Use `startMediasoupEngine`, which also starts the Worker. */
  constructor(options: MediasoupEngineOptions) {
    const capacity = options.capacity ?? DEFAULT_CAPACITY;
    const endedRetention = options.endedRetention ?? DEFAULT_ENDED_RETENTION;
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    }
    if (!Number.isInteger(endedRetention) || endedRetention < 0) {
      throw new RangeError(`endedRetention must be a non-negative integer, got ${endedRetention}`);
    }
    const listenIp = options.listenIp ?? '127.0.0.1';
    for (const [name, ip] of [
      ['listenIp', listenIp],
      ['announcedIp', options.announcedIp],
    ] as const) {
      if (ip !== undefined && isIP(ip) === 0) {
        throw new TypeError(`${name} must be an IP address, got ${JSON.stringify(ip)}`);
      }
    }
    this.nodeId = options.nodeId;
    this.#capacity = capacity;
    this.#endedRetention = endedRetention;
    this.#listenIp =
      options.announcedIp === undefined
        ? { ip: listenIp }
        : { ip: listenIp, announcedIp: options.announcedIp };
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({
      module: 'mediasoup-engine',
      nodeId: options.nodeId,
    });
  }

  /**
   * Starts an origin: a Router, a comedia PlainTransport and a Producer for the RTP that the
   * publisher sends to the returned stream's `ingest` address.
   */
  async publish(request: PublishRequest): Promise<EngineStream> {
    const worker = this.#checkAccepting();
    this.#checkIdFree(request.streamId);

    this.#reserved.add(request.streamId);
    let router: mediasoupTypes.Router | undefined;
    let entry: StreamEntry;
    try {
      router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
      const transport = await router.createPlainTransport({
        listenIp: this.#listenIp,
        rtcpMux: true,
        comedia: true,
      });
      const ssrc = randomSsrc();
      const producer = await transport.produce({
        kind: 'audio',
        rtpParameters: originRtpParameters(ssrc),
      });
      this.#checkStillAccepting(request.streamId);

      const { localIp, localPort } = transport.tuple;
      entry = {
        stream: {
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
          ingest: originIngest(localIp, localPort, ssrc),
        },
        router,
        producer,
        pipeTransport: null,
        subscribers: new Map(),
      };
    } catch (error) {
      router?.close();
      throw this.#mediaError(error, `publish stream ${request.streamId}`);
    } finally {
      this.#reserved.delete(request.streamId);
    }

    this.#start(entry);
    return copy(entry.stream);
  }

  /**
   * Builds a mirror: a Router with one end of a pipe pair, offered to the upstream through
   * `connect`, then a Producer from the upstream's pipe Consumer. When a step fails, the
   * mirror's Router closes with whatever was built in it.
   */
  async createMirror(request: MirrorRequest, connect: UpstreamConnector): Promise<EngineStream> {
    const worker = this.#checkAccepting();
    this.#checkIdFree(request.streamId);

    this.#reserved.add(request.streamId);
    let router: mediasoupTypes.Router | undefined;
    let entry: StreamEntry;
    try {
      router = await worker.createRouter({ mediaCodecs: ROUTER_MEDIA_CODECS });
      const pipeTransport = await router.createPipeTransport({ listenIp: this.#listenIp });
      const attachment = await connect(pipeOffer(tupleOf(pipeTransport)));
      const answer = parsePipeAnswer(attachment.answer);
      await pipeTransport.connect({ ip: answer.ip, port: answer.port });
      const producer = await pipeTransport.produce({
        kind: answer.kind,
        rtpParameters: answer.rtpParameters,
        paused: answer.paused,
      });
      this.#checkStillBuildable(request);

      entry = {
        stream: {
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
        },
        router,
        producer,
        pipeTransport,
        subscribers: new Map(),
      };
    } catch (error) {
      router?.close();
      throw this.#mediaError(error, `build mirror ${request.streamId}`);
    } finally {
      this.#reserved.delete(request.streamId);
    }

    this.#start(entry);
    return copy(entry.stream);
  }

  /**
   * Opens a pipe from a live stream to a mirror: a PipeTransport in the stream's Router,
   * connected to the mirror's end from `offer`, and a pipe Consumer of the stream's Producer.
   * Attaching the same mirror again closes the earlier pipe.
   */
  async attachSubscriber(
    upstreamId: string,
    subscriber: Pick<Subscriber, 'mirrorId' | 'nodeUrl'>,
    offer: PipeOffer,
  ): Promise<UpstreamAttachment> {
    const entry = this.#liveUpstream(upstreamId);
    const mirrorEnd = parsePipeOffer(offer);
    const { router, producer } = entry;
    if (router === null || producer === null) {
      throw endedError(entry.stream);
    }

    let transport: mediasoupTypes.PipeTransport | undefined;
    try {
      transport = await router.createPipeTransport({ listenIp: this.#listenIp });
      await transport.connect(mirrorEnd);
      const consumer = await transport.consume({ producerId: producer.id });
      if (hasEnded(entry)) {
        throw endedError(entry.stream);
      }

      const link: SubscriberLink = {
        subscriber: { ...subscriber, attached: Date.now() },
        transport,
        consumer,
      };
      const previous = entry.subscribers.get(subscriber.mirrorId);
      entry.subscribers.set(subscriber.mirrorId, link);
      previous?.transport.close();
      this.#watchSubscriber(entry, link);

      const answer = pipeAnswer({
        ...tupleOf(transport),
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
        paused: consumer.producerPaused,
      });
      return { upstream: copy(entry.stream), answer };
    } catch (error) {
      transport?.close();
      // Ending the stream closes its Router, which fails a mediasoup call still in flight.
      if (hasEnded(entry) && !isServiceError(error)) {
        throw endedError(entry.stream);
      }
      throw this.#mediaError(error, `pipe stream ${upstreamId} to mirror ${subscriber.mirrorId}`);
    }
  }

  /** Closes the pipe to a mirror and returns false when the mirror was not attached. */
  async detachSubscriber(upstreamId: string, mirrorId: string): Promise<boolean> {
    return this.#detach(upstreamId, mirrorId);
  }

  async destroy(streamId: string, reason: string): Promise<EngineStream[]> {
    const entry = this.#requireEntry(streamId);
    const ended: EngineStream[] = [];
    this.#endWithLocalMirrors(entry, reason, ended);
    return ended;
  }

  get(streamId: string): EngineStream | undefined {
    const entry = this.#streams.get(streamId);
    return entry === undefined ? undefined : copy(entry.stream);
  }

  list(): EngineStream[] {
    return [...this.#streams.values()].map((entry) => copy(entry.stream));
  }

  subscribers(streamId: string): Subscriber[] {
    const links = this.#streams.get(streamId)?.subscribers.values() ?? [];
    return [...links].map((link) => ({ ...link.subscriber }));
  }

  load(): EngineLoad {
    return { live: this.#live, capacity: this.#capacity, failed: this.#failed };
  }

  /**
   * Pauses the stream's Producer, so that its consumers and mirrors receive no more media, and
   * emits `streamstalled`. The stream stays `started`.
   */
  async stall(streamId: string, reason: string): Promise<EngineStream> {
    const entry = this.#requireEntry(streamId);
    const producer = entry.producer;
    if (entry.stream.state === 'ended' || producer === null) {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended and cannot stall`);
    }
    try {
      await producer.pause();
    } catch (error) {
      throw this.#mediaError(error, `pause stream ${streamId}`);
    }
    if (hasEnded(entry)) {
      throw new ServiceError('invalid-state', `stream ${streamId} ended while it was paused`);
    }
    this.events.emit('streamstalled', copy(entry.stream), reason);
    return copy(entry.stream);
  }

  /** Ends every live stream with `node-failed`, then closes the Worker. */
  async failNode(): Promise<EngineStream[]> {
    this.#failed = true;
    const ended = this.#endAll('node-failed');
    const worker = this.#worker;
    this.#worker = null;
    worker?.close();
    return ended;
  }

  /**
   * Starts a new Worker when there is none, so the node accepts streams again. Concurrent calls
   * share one start.
   */
  async recoverNode(): Promise<void> {
    if (this.#closed) {
      throw new ServiceError('capacity', `media node ${this.nodeId} is closed`);
    }
    if (this.#worker !== null) {
      this.#failed = false;
      return;
    }
    this.#workerStart ??= this.#startWorker().finally(() => {
      this.#workerStart = null;
    });
    await this.#workerStart;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failed = true;
    this.events.removeAllListeners();
    const worker = this.#worker;
    this.#worker = null;
    worker?.close();
    this.#streams.clear();
    this.#reserved.clear();
    this.#endedOrder.clear();
    this.#live = 0;
  }

  /** Returns the Worker's process id and Router count. Throws `capacity` without a Worker. */
  async workerInfo(): Promise<WorkerInfo> {
    const worker = this.#requireWorker();
    const dump = await worker.dump();
    return { pid: worker.pid, routerCount: dump.routerIds.length };
  }

  /**
   * Sends a copy of a live stream's RTP to `target` (RTP and RTCP on one port) through a
   * PlainTransport in the stream's Router, until the stream ends.
   */
  async createRtpEgress(streamId: string, target: PipeTuple): Promise<RtpEgress> {
    const entry = this.#requireEntry(streamId);
    const { router, producer } = entry;
    if (router === null || producer === null) {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended`);
    }
    let transport: mediasoupTypes.PlainTransport | undefined;
    try {
      transport = await router.createPlainTransport({
        listenIp: this.#listenIp,
        rtcpMux: true,
        comedia: false,
      });
      await transport.connect(target);
      const consumer = await transport.consume({
        producerId: producer.id,
        rtpCapabilities: router.rtpCapabilities,
      });
      return {
        consumerId: consumer.id,
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters,
      };
    } catch (error) {
      transport?.close();
      throw this.#mediaError(error, `send stream ${streamId} to ${target.ip}:${target.port}`);
    }
  }

  async mediaStats(streamId: string): Promise<StreamMediaStats> {
    const entry = this.#requireEntry(streamId);
    const { router, producer } = entry;
    if (router === null || producer === null) {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended`);
    }
    try {
      const [stats, dump] = await Promise.all([producer.getStats(), router.dump()]);
      return {
        producerId: producer.id,
        paused: producer.paused,
        packetCount: stats.reduce((sum, stat) => sum + stat.packetCount, 0),
        byteCount: stats.reduce((sum, stat) => sum + stat.byteCount, 0),
        transportCount: dump.transportIds.length,
      };
    } catch (error) {
      throw this.#mediaError(error, `read the media stats of stream ${streamId}`);
    }
  }

  /**
   * Closes a live stream's Producer as a fault, as if mediasoup had lost it. The engine then
   * ends the stream with `producer-closed`.
   */
  closeProducer(streamId: string): EngineStream {
    const entry = this.#requireEntry(streamId);
    if (entry.producer === null) {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended`);
    }
    entry.producer.close();
    return copy(entry.stream);
  }

  /**
   * Closes a live mirror's end of its pipe pair as a fault. The engine then ends the mirror
   * with `transport-closed`.
   */
  closePipeTransport(streamId: string): EngineStream {
    const entry = this.#requireEntry(streamId);
    if (entry.stream.kind !== 'mirror') {
      throw new ServiceError('invalid-state', `stream ${streamId} is an origin, with no pipe end`);
    }
    if (entry.pipeTransport === null) {
      throw new ServiceError('invalid-state', `stream ${streamId} has ended`);
    }
    entry.pipeTransport.close();
    return copy(entry.stream);
  }

  async #startWorker(): Promise<void> {
    const worker = await createWorker({ logLevel: 'warn' });
    if (this.#closed) {
      worker.close();
      throw new ServiceError('capacity', `media node ${this.nodeId} closed while it recovered`);
    }
    worker.on('died', (error) => this.#onWorkerDied(worker, error));
    this.#worker = worker;
    this.#failed = false;
    this.#log.info({ pid: worker.pid }, 'mediasoup worker started');
  }

  #checkAccepting(): mediasoupTypes.Worker {
    if (this.#closed) {
      throw new ServiceError('capacity', `media node ${this.nodeId} is closed`);
    }
    if (this.#failed || this.#worker === null) {
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
    return this.#worker;
  }

  #checkIdFree(streamId: string): void {
    if (this.#streams.has(streamId) || this.#reserved.has(streamId)) {
      throw new ServiceError(
        'already-exists',
        `stream ${streamId} already exists on media node ${this.nodeId}`,
      );
    }
  }

  /** Rechecks, after the awaits of a build, that the node did not fail or close meanwhile. */
  #checkStillAccepting(streamId: string): void {
    if (this.#closed || this.#failed) {
      throw new ServiceError(
        'capacity',
        `media node ${this.nodeId} failed while stream ${streamId} was being built`,
      );
    }
  }

  /** Rechecks what may have changed while a mirror's upstream attach was in flight. */
  #checkStillBuildable(request: MirrorRequest): void {
    this.#checkStillAccepting(request.streamId);
    if (request.upstreamNodeUrl !== null) {
      return;
    }
    const upstream = this.#streams.get(request.upstreamId);
    if (upstream === undefined || upstream.stream.state === 'ended') {
      throw new ServiceError(
        'origin-stream-ended',
        `stream ${request.upstreamId} ended while mirror ${request.streamId} was being built`,
      );
    }
  }

  #requireWorker(): mediasoupTypes.Worker {
    if (this.#worker === null) {
      throw new ServiceError('capacity', `media node ${this.nodeId} has no running worker`);
    }
    return this.#worker;
  }

  #requireEntry(streamId: string): StreamEntry {
    const entry = this.#streams.get(streamId);
    if (entry === undefined) {
      throw new ServiceError('not-found', `stream ${streamId} is not on media node ${this.nodeId}`);
    }
    return entry;
  }

  #liveUpstream(upstreamId: string): StreamEntry {
    const entry = this.#streams.get(upstreamId);
    if (entry === undefined) {
      throw new ServiceError(
        'origin-not-found',
        `stream ${upstreamId} is not on media node ${this.nodeId}`,
      );
    }
    if (entry.stream.state === 'ended') {
      throw endedError(entry.stream);
    }
    return entry;
  }

  /**
   * Turns a failure of a mediasoup call into a ServiceError: `capacity` when the node failed or
   * closed during the call, `internal-error` otherwise. ServiceErrors pass unchanged.
   */
  #mediaError(error: unknown, action: string): ServiceError {
    if (isServiceError(error)) {
      return error;
    }
    const detail = error instanceof Error ? error.message : String(error);
    if (this.#closed || this.#failed) {
      return new ServiceError(
        'capacity',
        `media node ${this.nodeId} failed while trying to ${action}: ${detail}`,
        { cause: error },
      );
    }
    this.#log.error({ err: error, action }, 'mediasoup call failed');
    return new ServiceError('internal-error', `mediasoup failed to ${action}: ${detail}`, {
      cause: error,
    });
  }

  #start(entry: StreamEntry): void {
    this.#streams.set(entry.stream.streamId, entry);
    this.#live += 1;
    this.#watchStream(entry);
    this.events.emit('streamstarted', copy(entry.stream));
  }

  /** Ends the stream when mediasoup closes its Producer, directly or with its transport. */
  #watchStream(entry: StreamEntry): void {
    const producer = entry.producer;
    if (producer === null) {
      return;
    }
    // A closed transport closes its Producers, which emit `transportclose` before the
    // observer's `close`, so the first handler names the transport.
    producer.on('transportclose', () => this.#onMediaClosed(entry, 'transport-closed'));
    producer.observer.on('close', () => this.#onMediaClosed(entry, 'producer-closed'));
  }

  #watchSubscriber(entry: StreamEntry, link: SubscriberLink): void {
    const mirrorId = link.subscriber.mirrorId;
    link.consumer.on('producerclose', () => this.#onMediaClosed(entry, 'producer-closed'));
    link.transport.observer.on('close', () => {
      if (this.#closed || entry.subscribers.get(mirrorId) !== link) {
        return;
      }
      const worker = this.#worker;
      if (worker !== null && worker.died) {
        this.#onWorkerDied(worker, new Error('worker process died'));
        return;
      }
      entry.subscribers.delete(mirrorId);
      // TODO: tell the mirror's node, whose mirror now receives no media but stays `started`.
      // The federation has a notice for an ended upstream only, and this upstream is live.
      this.#log.warn(
        { streamId: entry.stream.streamId, mirrorId, nodeUrl: link.subscriber.nodeUrl },
        'pipe to mirror closed while the stream is live',
      );
    });
  }

  #onMediaClosed(entry: StreamEntry, reason: string): void {
    if (this.#closed || entry.stream.state === 'ended') {
      return;
    }
    // mediasoup closes every Router of a dead Worker before it emits `died`.
    const worker = this.#worker;
    if (worker !== null && worker.died) {
      this.#onWorkerDied(worker, new Error('worker process died'));
      return;
    }
    this.#log.warn({ streamId: entry.stream.streamId, reason }, 'stream media closed');
    this.#endWithLocalMirrors(entry, reason, []);
  }

  /** Ends every stream with `node-failed` once per dead Worker. `recoverNode` starts a new one. */
  #onWorkerDied(worker: mediasoupTypes.Worker, error: Error): void {
    if (this.#closed || worker !== this.#worker) {
      return;
    }
    this.#worker = null;
    this.#failed = true;
    const ended = this.#endAll('node-failed');
    this.#log.error({ err: error, pid: worker.pid, ended: ended.length }, 'mediasoup worker died');
  }

  /** Ends every live stream with `reason`, mirrors included, with no cascade. */
  #endAll(reason: string): EngineStream[] {
    const ended: EngineStream[] = [];
    for (const entry of [...this.#streams.values()]) {
      if (entry.stream.state === 'started') {
        this.#end(entry, reason);
        ended.push(copy(entry.stream));
      }
    }
    return ended;
  }

  #endWithLocalMirrors(entry: StreamEntry, reason: string, ended: EngineStream[]): void {
    if (entry.stream.state === 'ended') {
      return;
    }
    const subscribers = this.#end(entry, reason);
    ended.push(copy(entry.stream));
    for (const subscriber of subscribers) {
      const mirror = this.#streams.get(subscriber.mirrorId);
      if (
        subscriber.nodeUrl === null &&
        mirror !== undefined &&
        mirror.stream.upstreamId === entry.stream.streamId
      ) {
        this.#endWithLocalMirrors(mirror, 'origin-stream-ended', ended);
      }
    }
  }

  /**
   * Ends one stream: marks it ended before closing its Router, so the close events that follow
   * find it ended and change nothing. Returns its former subscribers.
   */
  #end(entry: StreamEntry, reason: string): Subscriber[] {
    const stream = entry.stream;
    stream.state = 'ended';
    stream.endReason = reason;
    stream.ended = Date.now();
    this.#live -= 1;

    const subscribers = [...entry.subscribers.values()].map((link) => link.subscriber);
    entry.subscribers.clear();
    if (stream.upstreamId !== null && stream.upstreamNodeUrl === null) {
      this.#detach(stream.upstreamId, stream.streamId);
    }
    const router = entry.router;
    entry.router = null;
    entry.producer = null;
    entry.pipeTransport = null;
    router?.close();
    this.#retainEnded(stream.streamId);

    this.events.emit(
      'streamended',
      copy(stream),
      subscribers.map((subscriber) => ({ ...subscriber })),
    );
    return subscribers;
  }

  #detach(upstreamId: string, mirrorId: string): boolean {
    const upstream = this.#streams.get(upstreamId);
    const link = upstream?.subscribers.get(mirrorId);
    if (upstream === undefined || link === undefined) {
      return false;
    }
    upstream.subscribers.delete(mirrorId);
    link.transport.close();
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

/** Reads the state through a call, so a check after an await is not narrowed by one before. */
function hasEnded(entry: StreamEntry): boolean {
  return entry.stream.state === 'ended';
}

function tupleOf(transport: mediasoupTypes.PipeTransport): PipeTuple {
  return { ip: transport.tuple.localIp, port: transport.tuple.localPort };
}

function endedError(stream: EngineStream): ServiceError {
  return new ServiceError(
    'origin-stream-ended',
    `stream ${stream.streamId} ended (${stream.endReason ?? 'no reason'})`,
  );
}

function copy(stream: EngineStream): EngineStream {
  const result: EngineStream = { ...stream, capabilities: [...stream.capabilities] };
  if (stream.ingest !== undefined) {
    result.ingest = { ...stream.ingest };
  }
  return result;
}

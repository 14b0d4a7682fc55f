/**
 * Composition root: builds the bus, store, media cluster, processors and REST API from a
 * configuration, in the embedded mode (in-memory bus and store, in-process media nodes) or
 * against Kafka and MongoDB. Tests start the service through this too.
 */
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { buildApp } from '../api/app.ts';
import { createServiceMetrics } from '../api/metrics.ts';
import type { Bus } from '../bus/bus.ts';
import { createKafkaBus } from '../bus/kafka-bus.ts';
import { createMemoryBus } from '../bus/memory-bus.ts';
import { namespacedBus } from '../bus/namespaced-bus.ts';
import { DEFAULT_PARTITIONS, TOPICS, deadLetterTopic } from '../bus/topics.ts';
import { startMediaAgent, type MediaAgent } from '../media/agent.ts';
import { MediaCluster, type MediaNodeInfo } from '../media/media-cluster.ts';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../store/memory-store.ts';
import { connectMongoStore } from '../store/mongo-store.ts';
import type { Store } from '../store/store.ts';
import type { ServiceConfig } from './config.ts';
import { startPipeline, type Pipeline } from './pipeline.ts';

export interface RuntimeOptions {
  logger?: Logger;
  /** Media nodes that run elsewhere; when given, no media node is started in this process. */
  mediaNodes?: MediaNodeInfo[];
  /** Database name for the MongoDB store (tests use one per suite). */
  mongoDbName?: string;
  /** Prefix of every topic and consumer group, so services sharing one Kafka stay apart. */
  topicPrefix?: string;
  /** Default true; false runs without automatic healing (see PipelineParts.healing). */
  healing?: boolean;
}

export interface Runtime {
  url: string;
  app: FastifyInstance;
  bus: Bus;
  store: Store;
  media: MediaCluster;
  agents: MediaAgent[];
  logger: Logger;
  /** Prometheus registry of the service's metrics. */
  registry: Registry;
  pipeline: Pipeline;
  stop(): Promise<void>;
}

const WORK_TOPICS = [
  TOPICS.forkRequests,
  TOPICS.mirrorCommands,
  TOPICS.forkEvents,
  TOPICS.forkTriggers,
  TOPICS.roomChanges,
  TOPICS.streamLifecycle,
];

export async function startRuntime(
  config: ServiceConfig,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const logger =
    options.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) {
      await stop();
    }
  };

  try {
    const store = config.mongodbUri
      ? await connectMongoStore(config.mongodbUri, { dbName: options.mongoDbName, logger })
      : createMemoryStore();
    stops.push(() => store.close());
    for (const application of config.applications) {
      await store.applications.upsert(application);
    }

    const bus = namespacedBus(
      config.kafkaBrokers
        ? createKafkaBus({ brokers: config.kafkaBrokers, clientId: 'fork-service', logger })
        : createMemoryBus({ logger }),
      options.topicPrefix ?? '',
    );
    stops.push(() => bus.close());
    await bus.ensureTopics(
      WORK_TOPICS.flatMap((topic) => [
        { topic, partitions: DEFAULT_PARTITIONS },
        { topic: deadLetterTopic(topic), partitions: 1 },
      ]),
    );

    const agents: MediaAgent[] = [];
    let nodes = options.mediaNodes ?? config.mediaNodeUrls ?? undefined;
    if (nodes === undefined) {
      for (const { region, count } of config.mediaNodes) {
        for (let index = 1; index <= count; index += 1) {
          const agent = await startMediaAgent({ nodeId: `${region}-${index}`, region, logger });
          agents.push(agent);
          stops.push(() => agent.close());
        }
      }
      nodes = agents.map((agent) => agent.info);
    }
    const media = new MediaCluster(nodes, { logger });
    const registry = new Registry();
    const metrics = createServiceMetrics({
      registry,
      lag: () => bus.consumerLag(),
      logger: logger.child({ component: 'metrics' }),
    });
    const pipeline = await startPipeline({
      bus,
      store,
      media,
      agents,
      registry,
      logger,
      // Nodes in other processes publish to Kafka themselves; the in-memory bus is this process's.
      relayRemoteNodes: config.kafkaBrokers === null,
      healing: options.healing ?? true,
    });
    stops.push(() => pipeline.stop());
    const { streams, outcomes } = pipeline;
    outcomes.addListener((event) => metrics.countForkOutcome(event));

    const app = await buildApp({
      store,
      bus,
      streams,
      outcomes,
      logger,
      metrics,
      defaultRegion: config.mediaNodes[0]?.region ?? 'us-east',
      streamUriBase: 'pcast://pcast.local',
      forkTimeoutMs: config.forkTimeoutMs,
    });
    await app.listen({ port: config.port, host: config.host });
    stops.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    logger.info(
      {
        url,
        kafka: config.kafkaBrokers !== null,
        mongodb: config.mongodbUri !== null,
        nodes: nodes.length,
      },
      'fork service started',
    );

    return { url, app, bus, store, media, agents, logger, registry, pipeline, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * The fork service without automatic healing, for the polling baseline. It is composed like
 * bin/runtime.ts and bin/pipeline.ts, on Kafka and MongoDB with media nodes in other processes,
 * but without the trigger planner. The stream router still keeps stream records in step with
 * the media nodes' lifecycle events, so a fork with `refresh-stale` finds an ended mirror
 * stale. Nothing replaces a mirror until such a fork arrives.
 *
 * NOTE: this copies the runtime's composition because the runtime has no switch to leave the
 * trigger planner out. Keep it in step with bin/pipeline.ts until the runtime has one.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { buildApp } from '../api/app.ts';
import { createServiceMetrics } from '../api/metrics.ts';
import { createKafkaBus } from '../bus/kafka-bus.ts';
import { namespacedBus } from '../bus/namespaced-bus.ts';
import { DEFAULT_PARTITIONS, TOPICS, deadLetterTopic } from '../bus/topics.ts';
import type { ServiceConfig } from '../bin/config.ts';
import { MediaCluster } from '../media/media-cluster.ts';
import { Executor } from '../processors/executor.ts';
import { ForkEventPublisher } from '../processors/fork-events.ts';
import { ForkOutcomes } from '../processors/fork-outcomes.ts';
import { ForkPlanner } from '../processors/fork-planner.ts';
import { HealApplier } from '../processors/heal-applier.ts';
import { StreamOperations } from '../processors/stream-operations.ts';
import { StreamRouter } from '../processors/stream-router.ts';
import { connectMongoStore } from '../store/mongo-store.ts';

export interface PollingServiceOptions {
  topicPrefix: string;
  mongoDbName: string;
  logger: Logger;
}

export interface PollingService {
  url: string;
  app: FastifyInstance;
  stop(): Promise<void>;
}

const TOPICS_USED = [
  TOPICS.forkRequests,
  TOPICS.mirrorCommands,
  TOPICS.forkEvents,
  TOPICS.forkTriggers,
  TOPICS.streamLifecycle,
];

export async function startPollingService(
  config: ServiceConfig,
  options: PollingServiceOptions,
): Promise<PollingService> {
  const { logger } = options;
  if (config.kafkaBrokers === null || config.mongodbUri === null || !config.mediaNodeUrls) {
    throw new Error('the polling service needs KAFKA_BROKERS, MONGODB_URI and MEDIA_NODE_URLS');
  }
  const child = (component: string) => logger.child({ component });
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopOne of stops.reverse()) {
      await stopOne();
    }
  };

  try {
    const store = await connectMongoStore(config.mongodbUri, {
      dbName: options.mongoDbName,
      logger,
    });
    stops.push(() => store.close());
    for (const application of config.applications) {
      await store.applications.upsert(application);
    }
    const bus = namespacedBus(
      createKafkaBus({ brokers: config.kafkaBrokers, clientId: 'fork-service-polling', logger }),
      options.topicPrefix,
    );
    stops.push(() => bus.close());
    await bus.ensureTopics(
      TOPICS_USED.flatMap((topic) => [
        { topic, partitions: DEFAULT_PARTITIONS },
        { topic: deadLetterTopic(topic), partitions: 1 },
      ]),
    );

    const media = new MediaCluster(config.mediaNodeUrls, { logger });
    const streams = new StreamOperations(store, media, child('streams'));
    const events = new ForkEventPublisher(bus);
    const outcomes = new ForkOutcomes(bus, store, child('outcomes'));
    await outcomes.start();
    stops.push(() => outcomes.stop());
    // The executor takes a heal applier for heal commands, which nothing publishes here.
    const heals = new HealApplier(store, streams, events, child('heals'));
    const executor = new Executor(bus, store, streams, events, heals, child('executor'));
    const planner = new ForkPlanner(bus, store, events, outcomes, child('planner'));
    const streamRouter = new StreamRouter(bus, store, child('stream-router'));
    for (const processor of [executor, planner, streamRouter]) {
      await processor.start();
      stops.push(() => processor.stop());
    }

    const metrics = createServiceMetrics({
      registry: new Registry(),
      lag: () => bus.consumerLag(),
      logger: child('metrics'),
    });
    const app = await buildApp({
      store,
      bus,
      streams,
      outcomes,
      logger,
      metrics,
      defaultRegion: config.mediaNodeUrls[0]?.region ?? 'us-east',
      streamUriBase: 'pcast://pcast.local',
      forkTimeoutMs: config.forkTimeoutMs,
    });
    await app.listen({ port: config.port, host: config.host });
    stops.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : config.port;
    return { url: `http://${config.host}:${port}`, app, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

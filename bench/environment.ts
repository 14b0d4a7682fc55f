/**
 * The environment of the scenarios: the real test servers (Kafka and the MongoDB wire server),
 * and per service mode a set of media node processes and a service process that share a topic
 * prefix and a database of their own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MediaCluster } from '../media/media-cluster.ts';
import {
  kafkaJarsDir,
  mongoJarsDir,
  startKafka,
  startMongo,
  type KafkaServer,
  type MongoServer,
} from '../test/infra/servers.ts';
import { REPO_ROOT } from './child-process.ts';
import { startMediaNodes, type MediaNodeProcess, type MediaNodeSpec } from './media-nodes.ts';
import { PcastClient } from './pcast-client.ts';
import type { NamedProcess } from './process-stats.ts';
import type { Progress } from './progress.ts';
import { waitForNoLag } from './consumer-lag.ts';
import {
  BENCH_APP,
  startServiceProcess,
  type ServiceMode,
  type ServiceProcess,
} from './service-process.ts';

export interface Servers {
  kafkaBrokers: string;
  mongodbUri: string;
  /** Process ids of servers this run started; empty for servers it reused. */
  pids: { name: string; pid: number }[];
  stop(): Promise<void>;
}

/** Three nodes in two regions, like the service's default `MEDIA_NODES=us-east:2,eu-west:1`. */
export const MEDIA_NODES: MediaNodeSpec[] = [
  { nodeId: 'us-east-1', region: 'us-east' },
  { nodeId: 'us-east-2', region: 'us-east' },
  { nodeId: 'eu-west-1', region: 'eu-west' },
];

/** Live streams each simulated node accepts: more than the largest scenario places on it. */
const NODE_CAPACITY = 200_000;

/**
 * Starts Kafka and the MongoDB wire server, or reuses the ones that TEST_KAFKA_BROKERS and
 * TEST_MONGODB_URI name, as the test suite does. Fetches the server jars when they are missing.
 */
export async function startServers(): Promise<Servers> {
  const reusedKafka = process.env.TEST_KAFKA_BROKERS || undefined;
  const reusedMongo = process.env.TEST_MONGODB_URI || undefined;
  fetchMissingJars(reusedKafka === undefined, reusedMongo === undefined);

  const [kafka, mongo] = await Promise.allSettled([
    reusedKafka === undefined ? startKafka() : Promise.resolve(undefined),
    // mongo-java-server keeps every document on the Java heap.
    reusedMongo === undefined ? startMongo({ maxHeap: '6g' }) : Promise.resolve(undefined),
  ]);
  const started = [kafka, mongo].flatMap((result) =>
    result.status === 'fulfilled' && result.value !== undefined ? [result.value] : [],
  );
  const stop = async () => {
    await Promise.all(started.map((server) => server.stop()));
  };
  if (kafka.status === 'rejected' || mongo.status === 'rejected') {
    await stop();
    const errors = [kafka, mongo].flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    throw new AggregateError(errors, 'test servers failed to start');
  }
  const kafkaServer: KafkaServer | undefined = kafka.value;
  const mongoServer: MongoServer | undefined = mongo.value;
  return {
    kafkaBrokers: kafkaServer?.brokers ?? reusedKafka ?? '',
    mongodbUri: mongoServer?.uri ?? reusedMongo ?? '',
    pids: [
      ...(kafkaServer ? [{ name: 'Kafka broker', pid: kafkaServer.pid }] : []),
      ...(mongoServer ? [{ name: 'MongoDB wire server', pid: mongoServer.pid }] : []),
    ],
    stop,
  };
}

function fetchMissingJars(needKafka: boolean, needMongo: boolean): void {
  const cached = (dir: string) => existsSync(join(dir, 'SHA256SUMS'));
  if ((!needKafka || cached(kafkaJarsDir())) && (!needMongo || cached(mongoJarsDir()))) {
    return;
  }
  const script = join(REPO_ROOT, 'test/infra/fetch-servers.sh');
  process.stderr.write(`server jars are missing, running ${script}\n`);
  const result = spawnSync('bash', [script], { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `${script} failed with ${result.error?.message ?? `exit code ${result.status}`}`,
    );
  }
}

/** Media nodes and one service process, with their own topic prefix. */
export interface ServiceEnvironment {
  mode: ServiceMode;
  topicPrefix: string;
  mongoDbName: string;
  nodes: MediaNodeProcess[];
  service: ServiceProcess;
  pcast: PcastClient;
  /** The media nodes' control API client, for ending streams at a node. */
  media: MediaCluster;
  /** Replaces the service process by a new one on `topicPrefix`, keeping nodes and database. */
  restartService(topicPrefix: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startEnvironment(
  servers: Servers,
  mode: ServiceMode,
  topicPrefix: string,
  logDir: string,
): Promise<ServiceEnvironment> {
  const mongoDbName = `fork_bench_${topicPrefix.replace(/\W/g, '')}`;
  const nodes = await startMediaNodes(MEDIA_NODES, {
    kafkaBrokers: servers.kafkaBrokers,
    topicPrefix,
    capacity: NODE_CAPACITY,
    logDir,
  });
  const startService = (prefix: string) =>
    startServiceProcess({
      mode,
      kafkaBrokers: servers.kafkaBrokers,
      mongodbUri: servers.mongodbUri,
      nodes,
      topicPrefix: prefix,
      mongoDbName,
      logDir,
    });
  let service: ServiceProcess;
  try {
    service = await startService(topicPrefix);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }

  const environment: ServiceEnvironment = {
    mode,
    topicPrefix,
    mongoDbName,
    nodes,
    service,
    pcast: new PcastClient(service.url, BENCH_APP),
    media: new MediaCluster(nodes.map((node) => node.info)),
    restartService: async (prefix) => {
      await environment.service.stop();
      environment.service = await startService(prefix);
      environment.topicPrefix = prefix;
      environment.pcast = new PcastClient(environment.service.url, BENCH_APP);
    },
    stop: async () => {
      await environment.service.stop();
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  return environment;
}

/** Returns the processes that serve a mode, the servers and the bench itself, by name. */
export function processesOf(servers: Servers, environment: ServiceEnvironment): NamedProcess[] {
  return [
    { name: `${environment.mode} service`, pid: environment.service.pid },
    ...environment.nodes.map((node) => ({ name: `media node ${node.info.nodeId}`, pid: node.pid })),
    ...servers.pids,
    { name: 'bench (load generator)', pid: process.pid },
  ];
}

/** Maximum wait for the service to finish the work of a scenario's setup. */
const SETUP_SETTLE_TIMEOUT_MS = 180_000;

/**
 * Waits until the service's consumers have no lag, so that a measurement does not start behind
 * the work of its setup (lifecycle events of new mirrors, fork events). Returns false when the
 * lag stayed above zero for the whole timeout; the measurement then runs anyway.
 */
export async function waitUntilIdle(
  servers: Servers,
  environment: ServiceEnvironment,
  progress: Progress,
  label: string,
): Promise<boolean> {
  const waited = await waitForNoLag(
    servers.kafkaBrokers,
    environment.topicPrefix,
    SETUP_SETTLE_TIMEOUT_MS,
    (lag) => progress.tick(`${label}: waiting for the service to catch up (lag ${lag})`),
  );
  if (waited === null) {
    progress.log(`${label}: the service still lags after the setup; measuring anyway`);
    return false;
  }
  return true;
}

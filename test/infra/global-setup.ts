/**
 * Vitest global setup: starts one Kafka broker and one MongoDB wire server for the whole run
 * and passes their addresses to tests, both through `provide` (read them with the helpers of
 * test/infra/env.ts) and as TEST_KAFKA_BROKERS and TEST_MONGODB_URI for child processes.
 *
 * When TEST_KAFKA_BROKERS or TEST_MONGODB_URI is already set, that server is reused and
 * nothing is started for it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  kafkaJarsDir,
  mongoJarsDir,
  startKafka,
  startMongo,
  type KafkaServer,
  type MongoServer,
} from './servers.ts';

const FETCH_SCRIPT = fileURLToPath(new URL('./fetch-servers.sh', import.meta.url));

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // An empty variable counts as unset, so `TEST_KAFKA_BROKERS= npx vitest` starts a broker.
  const externalKafka = process.env.TEST_KAFKA_BROKERS || undefined;
  const externalMongo = process.env.TEST_MONGODB_URI || undefined;
  fetchMissingJars(externalKafka === undefined, externalMongo === undefined);

  let kafka: KafkaServer | undefined;
  let mongo: MongoServer | undefined;
  const stopServers = async () => {
    await Promise.all([kafka?.stop(), mongo?.stop()]);
  };
  const kafkaBrokers = async (): Promise<string> => {
    if (externalKafka !== undefined) {
      return externalKafka;
    }
    kafka = await timed('Kafka', () => startKafka());
    return kafka.brokers;
  };
  const mongodbUri = async (): Promise<string> => {
    if (externalMongo !== undefined) {
      return externalMongo;
    }
    mongo = await timed('MongoDB wire server', () => startMongo());
    return mongo.uri;
  };

  // Both JVMs start in parallel. When one fails, the other is stopped before the error is
  // raised, because vitest runs no teardown for a setup that threw.
  const setupStart = performance.now();
  const [kafkaResult, mongoResult] = await Promise.allSettled([kafkaBrokers(), mongodbUri()]);
  if (kafkaResult.status === 'rejected' || mongoResult.status === 'rejected') {
    await stopServers();
    const errors = [kafkaResult, mongoResult].flatMap((result) =>
      result.status === 'rejected' ? [result.reason] : [],
    );
    throw new AggregateError(errors, 'test servers failed to start');
  }
  const brokers = kafkaResult.value;
  const uri = mongoResult.value;
  console.log(
    `test servers ready in ${seconds(setupStart)} s: Kafka ${brokers}` +
      `${externalKafka ? ' (from TEST_KAFKA_BROKERS)' : ''}, MongoDB ${uri}` +
      `${externalMongo ? ' (from TEST_MONGODB_URI)' : ''}`,
  );

  process.env.TEST_KAFKA_BROKERS = brokers;
  process.env.TEST_MONGODB_URI = uri;
  project.provide('kafkaBrokers', brokers);
  project.provide('mongodbUri', uri);

  return async () => {
    await stopServers();
    restoreEnv('TEST_KAFKA_BROKERS', externalKafka);
    restoreEnv('TEST_MONGODB_URI', externalMongo);
  };
}

/** Runs fetch-servers.sh when the jars of a server that has to be started are not cached. */
function fetchMissingJars(needKafka: boolean, needMongo: boolean): void {
  const missing =
    (needKafka && !isCached(kafkaJarsDir())) || (needMongo && !isCached(mongoJarsDir()));
  if (!missing) {
    return;
  }
  console.log(`test server jars are missing, running ${FETCH_SCRIPT}`);
  const result = spawnSync('bash', [FETCH_SCRIPT], { stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `${FETCH_SCRIPT} failed with ${result.error?.message ?? `exit code ${result.status}`}`,
    );
  }
}

function isCached(jarsDir: string): boolean {
  return existsSync(join(jarsDir, 'SHA256SUMS'));
}

async function timed<T>(name: string, start: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  const server = await start();
  console.log(`${name} started in ${seconds(startedAt)} s`);
  return server;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) {
    delete process.env[name];
  } else {
    process.env[name] = value;
  }
}

/** Starts bench/service-main.ts as a child process and returns its URL and process id. */
import { join } from 'node:path';
import { startChild, type RunningChild } from './child-process.ts';
import { mediaNodeUrls, type MediaNodeProcess } from './media-nodes.ts';

export type ServiceMode = 'event-driven' | 'polling';

export const BENCH_APP = { id: 'bench', secret: 'bench-secret' };

export interface ServiceProcess extends RunningChild {
  mode: ServiceMode;
  url: string;
  topicPrefix: string;
}

export interface ServiceProcessOptions {
  mode: ServiceMode;
  kafkaBrokers: string;
  mongodbUri: string;
  nodes: readonly MediaNodeProcess[];
  topicPrefix: string;
  mongoDbName: string;
  logDir: string;
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const { child, match } = await startChild({
    name: `${options.mode} service`,
    script: 'bench/service-main.ts',
    env: {
      ...process.env,
      BENCH_MODE: options.mode,
      BENCH_TOPIC_PREFIX: options.topicPrefix,
      BENCH_DB_NAME: options.mongoDbName,
      KAFKA_BROKERS: options.kafkaBrokers,
      MONGODB_URI: options.mongodbUri,
      MEDIA_NODE_URLS: mediaNodeUrls(options.nodes),
      APPLICATIONS: `${BENCH_APP.id}:${BENCH_APP.secret}`,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      // Forks of the largest scenarios take longer than the default 30 s wait.
      FORK_TIMEOUT_MS: '300000',
    },
    logFile: join(options.logDir, `service-${options.mode}.log`),
    readyLine: /^bench-service listening (http:\/\/\S+)$/,
    readyTimeoutMs: 120_000,
  });
  return { ...child, mode: options.mode, url: match[1] ?? '', topicPrefix: options.topicPrefix };
}

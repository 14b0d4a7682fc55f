/**
 * Starts the whole fork service for a test suite, on the real Kafka broker and MongoDB wire
 * server of the test infra, with its own topic prefix and database so suites stay apart.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../bin/config.ts';
import { startRuntime, type Runtime } from '../../bin/runtime.ts';
import { kafkaBrokers, mongodbUri } from '../infra/env.ts';

export const APP = { id: 'test-app', secret: 'test-secret' };
export const OTHER_APP = { id: 'other-app', secret: 'other-secret' };

export interface TestService extends Runtime {
  /** Prefix of this service's topics on the shared broker. */
  topicPrefix: string;
  /** MongoDB database of this service; unused in the embedded mode. */
  mongoDbName: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    auth?: { id: string; secret: string } | null,
  ): Promise<{ code: number; body: any }>;
}

export interface TestServiceOptions {
  /** In-memory bus and store instead of the test Kafka broker and MongoDB server. */
  embedded?: boolean;
  /** Environment variables that replace the test defaults, such as FORK_TIMEOUT_MS. */
  env?: NodeJS.ProcessEnv;
  /** Logger of the service. Default: pino at TEST_LOG_LEVEL, else silent. */
  logger?: Logger;
}

export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const suffix = randomBytes(4).toString('hex');
  const topicPrefix = `t${suffix}.`;
  const env: NodeJS.ProcessEnv = {
    PORT: '0',
    APPLICATIONS: `${APP.id}:${APP.secret},${OTHER_APP.id}:${OTHER_APP.secret}`,
    MEDIA_NODES: 'us-east:2,eu-west:1',
    LOG_LEVEL: 'silent',
    FORK_TIMEOUT_MS: '20000',
  };
  if (!options.embedded) {
    env.KAFKA_BROKERS = kafkaBrokers();
    env.MONGODB_URI = mongodbUri();
  }
  Object.assign(env, options.env);
  const mongoDbName = `fork_test_${suffix}`;
  const runtime = await startRuntime(loadConfig(env), {
    logger: options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    topicPrefix,
    mongoDbName,
  });

  const call: TestService['call'] = async (method, path, body, auth = APP) => {
    const headers: Record<string, string> = {};
    if (auth !== null) {
      headers.authorization = `Basic ${Buffer.from(`${auth.id}:${auth.secret}`).toString('base64')}`;
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(runtime.url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { code: response.status, body: text === '' ? undefined : JSON.parse(text) };
  };
  return { ...runtime, topicPrefix, mongoDbName, call };
}

/** `/pcast/channel/<encoded id>`: room ids contain `#`, which a path must carry as `%23`. */
export function channelPath(channelId: string, rest = ''): string {
  return `/pcast/channel/${encodeURIComponent(channelId)}${rest}`;
}

export function roomPath(roomId: string, rest = ''): string {
  return `/pcast/room/${encodeURIComponent(roomId)}${rest}`;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

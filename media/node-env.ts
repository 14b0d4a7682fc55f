/**
 * Configuration of a media node process (bin/media-node.ts) from environment variables.
 */
import { isIP } from 'node:net';

import { MEDIA_NODE_NAME_PATTERN } from './agent.ts';
import { DEFAULT_CAPACITY } from './simulated-engine.ts';

export interface MediaNodeEnv {
  nodeId: string;
  region: string;
  host: string;
  port: number;
  capacity: number;
  logLevel: string;
  /** Kafka brokers to publish lifecycle events to; null leaves relaying to the service. */
  kafkaBrokers: string[] | null;
  /** Prefix of the topic names, as the service's own (empty in production). */
  topicPrefix: string;
  engineName: MediaEngineName;
  /** IP address that the mediasoup engine's RTP transports listen on. */
  mediasoupListenIp: string;
  /** IP address that the mediasoup engine gives out in place of the listen address. */
  mediasoupAnnouncedIp: string | undefined;
}

export const MEDIA_ENGINE_NAMES = ['simulated', 'mediasoup'] as const;
export type MediaEngineName = (typeof MEDIA_ENGINE_NAMES)[number];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Error for a missing or invalid environment variable, which `variable` names. */
export class InvalidEnvError extends Error {
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'InvalidEnvError';
    this.variable = variable;
  }
}

/**
 * Reads `NODE_ID` and `REGION` (required), `HOST` (default 127.0.0.1), `PORT` (default 0, a
 * free port), `CAPACITY` (maximum live streams, default 10000), `LOG_LEVEL` (default info),
 * `KAFKA_BROKERS` (unset: no relay), `TOPIC_PREFIX` (default empty), `MEDIA_ENGINE` (`simulated`
 * or `mediasoup`, default simulated), `MEDIASOUP_LISTEN_IP` (default 127.0.0.1) and
 * `MEDIASOUP_ANNOUNCED_IP` (optional). Throws InvalidEnvError naming the first variable that is
 * missing or invalid.
 */
export function parseMediaNodeEnv(env: Record<string, string | undefined>): MediaNodeEnv {
  return {
    nodeId: readName(env, 'NODE_ID'),
    region: readName(env, 'REGION'),
    host: readHost(env),
    port: readInteger(env, 'PORT', 0, 0, 65_535),
    capacity: readInteger(env, 'CAPACITY', DEFAULT_CAPACITY, 0, Number.MAX_SAFE_INTEGER),
    logLevel: readLogLevel(env),
    kafkaBrokers: readBrokers(env),
    topicPrefix: env['TOPIC_PREFIX'] ?? '',
    engineName: readEngine(env),
    mediasoupListenIp: readIp(env, 'MEDIASOUP_LISTEN_IP') ?? '127.0.0.1',
    mediasoupAnnouncedIp: readIp(env, 'MEDIASOUP_ANNOUNCED_IP'),
  };
}

function readEngine(env: Record<string, string | undefined>): MediaEngineName {
  const value = env['MEDIA_ENGINE'];
  if (value === undefined || value === '') {
    return 'simulated';
  }
  const name = MEDIA_ENGINE_NAMES.find((engine) => engine === value);
  if (name === undefined) {
    throw new InvalidEnvError(
      'MEDIA_ENGINE',
      `must be one of ${MEDIA_ENGINE_NAMES.join(', ')}; got ${JSON.stringify(value)}`,
    );
  }
  return name;
}

function readIp(env: Record<string, string | undefined>, variable: string): string | undefined {
  const value = env[variable];
  if (value === undefined || value === '') {
    return undefined;
  }
  if (isIP(value) === 0) {
    throw new InvalidEnvError(
      variable,
      `must be an IPv4 or IPv6 address; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function readBrokers(env: Record<string, string | undefined>): string[] | null {
  const value = env['KAFKA_BROKERS']?.trim();
  if (value === undefined || value === '') {
    return null;
  }
  const brokers = value.split(',').map((broker) => broker.trim());
  if (brokers.some((broker) => !/^[^:\s]+:\d+$/.test(broker))) {
    throw new InvalidEnvError(
      'KAFKA_BROKERS',
      `must be host:port pairs separated by commas; got ${JSON.stringify(value)}`,
    );
  }
  return brokers;
}

function readName(env: Record<string, string | undefined>, variable: string): string {
  const value = env[variable];
  if (value === undefined || value === '') {
    throw new InvalidEnvError(variable, 'is required, for example us-east-1');
  }
  if (!MEDIA_NODE_NAME_PATTERN.test(value)) {
    throw new InvalidEnvError(
      variable,
      `must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function readHost(env: Record<string, string | undefined>): string {
  const value = env['HOST'];
  if (value === undefined || value === '') {
    return '127.0.0.1';
  }
  if (/\s/.test(value)) {
    throw new InvalidEnvError(
      'HOST',
      `must be a host name or IP address; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function readInteger(
  env: Record<string, string | undefined>,
  variable: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidEnvError(
      variable,
      `must be an integer from ${min} to ${max}; got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function readLogLevel(env: Record<string, string | undefined>): string {
  const value = env['LOG_LEVEL'];
  if (value === undefined || value === '') {
    return 'info';
  }
  if (!LOG_LEVELS.includes(value)) {
    throw new InvalidEnvError(
      'LOG_LEVEL',
      `must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Configuration of a media node process (bin/media-node.ts) from environment variables.
 */
import { MEDIA_NODE_NAME_PATTERN } from './agent.ts';
import { DEFAULT_CAPACITY } from './simulated-engine.ts';

export interface MediaNodeEnv {
  nodeId: string;
  region: string;
  host: string;
  port: number;
  capacity: number;
  logLevel: string;
}

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
 * free port), `CAPACITY` (maximum live streams, default 10000) and `LOG_LEVEL` (default info).
 * Throws InvalidEnvError naming the first variable that is missing or invalid.
 */
export function parseMediaNodeEnv(env: Record<string, string | undefined>): MediaNodeEnv {
  return {
    nodeId: readName(env, 'NODE_ID'),
    region: readName(env, 'REGION'),
    host: readHost(env),
    port: readInteger(env, 'PORT', 0, 0, 65_535),
    capacity: readInteger(env, 'CAPACITY', DEFAULT_CAPACITY, 0, Number.MAX_SAFE_INTEGER),
    logLevel: readLogLevel(env),
  };
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

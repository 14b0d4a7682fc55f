/**
 * Service configuration from environment variables. Every variable has a default that lets
 * `npm start` run on a fresh machine; an invalid value stops start-up with a message naming it.
 */

export interface ServiceConfig {
  port: number;
  host: string;
  applications: { applicationId: string; secret: string }[];
  kafkaBrokers: string[] | null;
  mongodbUri: string | null;
  /** Simulated media nodes to start in this process, per region. */
  mediaNodes: { region: string; count: number }[];
  /** Media nodes running as their own processes; when set, none is started in this one. */
  mediaNodeUrls: { nodeId: string; region: string; url: string }[] | null;
  logLevel: string;
  forkTimeoutMs: number;
}

export class ConfigError extends Error {
  /** `value` is left out of the message when it may hold secrets. */
  constructor(variable: string, expected: string, value: string | null) {
    super(
      value === null
        ? `invalid ${variable}: expected ${expected}`
        : `invalid ${variable}=${JSON.stringify(value)}: expected ${expected}`,
    );
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DEFAULTS = {
  PORT: '8080',
  HOST: '127.0.0.1',
  APPLICATIONS: 'demo:demo-secret',
  MEDIA_NODES: 'us-east:2,eu-west:1',
  LOG_LEVEL: 'info',
  FORK_TIMEOUT_MS: '30000',
};

function integer(variable: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new ConfigError(variable, `an integer from ${min} to ${max}`, value);
  }
  return parsed;
}

export function parseApplications(value: string): ServiceConfig['applications'] {
  return value.split(',').map((pair) => {
    // Split on the first colon only: a secret may contain colons.
    const colon = pair.indexOf(':');
    const applicationId = pair.slice(0, colon).trim();
    const secret = pair.slice(colon + 1);
    if (colon <= 0 || secret === '' || /[#:\s]/.test(applicationId)) {
      throw new ConfigError(
        'APPLICATIONS',
        'id:secret pairs separated by commas, ids without #, colon or spaces',
        null,
      );
    }
    return { applicationId, secret };
  });
}

export function parseMediaNodes(value: string): ServiceConfig['mediaNodes'] {
  const nodes = value.split(',').map((entry) => {
    const match = /^\s*([a-z0-9-]+):(\d+)\s*$/i.exec(entry);
    if (match === null || match[1] === undefined || match[2] === undefined) {
      throw new ConfigError('MEDIA_NODES', 'region:count pairs such as us-east:2,eu-west:1', value);
    }
    return { region: match[1], count: integer('MEDIA_NODES', match[2], 1, 64) };
  });
  return nodes;
}

/** Parses `nodeId@region=url` entries separated by commas. */
export function parseMediaNodeUrls(value: string): NonNullable<ServiceConfig['mediaNodeUrls']> {
  return value.split(',').map((entry) => {
    const match = /^\s*([A-Za-z0-9][\w.-]*)@([a-z0-9-]+)=(https?:\/\/\S+)\s*$/i.exec(entry);
    if (
      match === null ||
      match[1] === undefined ||
      match[2] === undefined ||
      match[3] === undefined
    ) {
      throw new ConfigError(
        'MEDIA_NODE_URLS',
        'nodeId@region=url entries such as us-east-1@us-east=http://127.0.0.1:7001',
        value,
      );
    }
    return { nodeId: match[1], region: match[2], url: match[3] };
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const read = (name: keyof typeof DEFAULTS) => env[name] ?? DEFAULTS[name];
  const logLevel = read('LOG_LEVEL');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel);
  }
  const brokers = env.KAFKA_BROKERS?.trim();
  const mongodbUri = env.MONGODB_URI?.trim();
  if (mongodbUri && !/^mongodb(\+srv)?:\/\//.test(mongodbUri)) {
    throw new ConfigError('MONGODB_URI', 'a mongodb:// URI', mongodbUri);
  }
  const kafkaBrokers = brokers ? brokers.split(',').map((broker) => broker.trim()) : null;
  if (kafkaBrokers?.some((broker) => !/^[^:\s]+:\d+$/.test(broker))) {
    throw new ConfigError('KAFKA_BROKERS', 'host:port pairs separated by commas', brokers ?? '');
  }
  return {
    port: integer('PORT', read('PORT'), 0, 65535),
    host: read('HOST'),
    applications: parseApplications(read('APPLICATIONS')),
    kafkaBrokers,
    mongodbUri: mongodbUri || null,
    mediaNodes: parseMediaNodes(read('MEDIA_NODES')),
    mediaNodeUrls: env.MEDIA_NODE_URLS?.trim() ? parseMediaNodeUrls(env.MEDIA_NODE_URLS) : null,
    logLevel,
    forkTimeoutMs: integer('FORK_TIMEOUT_MS', read('FORK_TIMEOUT_MS'), 100, 600_000),
  };
}

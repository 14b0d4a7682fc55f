/**
 * Prometheus metrics of one service process, served at `GET /metrics`. The registry belongs to
 * the process, not to the API: other components add their own metrics to it with
 * `new Histogram({ ..., registers: [metrics.registry] })`, or with `registerMetric`.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
} from 'prom-client';
import type { ConsumerLag } from '../bus/bus.ts';
import type { ForkEventMessage } from '../schemas/types.ts';

/** Lag of this process's consumers; the bus computes it when the metrics are scraped. */
export type LagSource = () => Promise<ConsumerLag[]>;

/** A scrape waits this long for consumer lag before it reports the other metrics without it. */
const LAG_TIMEOUT_MS = 2_000;

export interface ServiceMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  forkOutcomes: Counter<'outcome' | 'status'>;
  consumerLag: Gauge<'group' | 'topic'>;
  /** Counts a ForkCompleted or ForkFailed event; other event types are ignored. */
  countForkOutcome(event: Pick<ForkEventMessage, 'type' | 'status'>): void;
  /** Adds a metric of another component to this registry. */
  registerMetric(metric: Metric): void;
}

export interface ServiceMetricsOptions {
  /** Registry to add the metrics to. Default: a new one. */
  registry?: Registry;
  lag?: LagSource;
  logger?: Logger;
  /** Process metrics (CPU, memory, event loop lag) of prom-client. Default true. */
  processMetrics?: boolean;
}

export function createServiceMetrics(options: ServiceMetricsOptions = {}): ServiceMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
  }

  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to sending its reply, in seconds.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const forkOutcomes = new Counter({
    name: 'fork_outcomes_total',
    help:
      'Fork outcomes seen on fork.events by this process, by outcome (completed, failed) and ' +
      'status. Every process counts every fork, so aggregate across processes with max, not sum.',
    labelNames: ['outcome', 'status'] as const,
    registers: [registry],
  });
  const lag = options.lag;
  const logger = options.logger;
  const consumerLag = new Gauge({
    name: 'consumer_lag_messages',
    help:
      'Messages published but not yet committed by the consumer groups of this process, per ' +
      'group and topic, read from the bus when scraped. Absent when the bus did not answer in time.',
    labelNames: ['group', 'topic'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (lag === undefined) {
        return;
      }
      try {
        for (const entry of sumByTopic(await withTimeout(lag(), LAG_TIMEOUT_MS))) {
          this.set({ group: entry.groupId, topic: entry.topic }, entry.lag);
        }
      } catch (error) {
        logger?.warn({ err: error }, 'consumer lag not read; scrape goes on without it');
      }
    },
  });

  return {
    registry,
    httpRequests,
    httpRequestDuration,
    forkOutcomes,
    consumerLag,
    countForkOutcome(event) {
      if (event.type === 'ForkCompleted' || event.type === 'ForkFailed') {
        forkOutcomes.inc({
          outcome: event.type === 'ForkCompleted' ? 'completed' : 'failed',
          status: event.status ?? 'unknown',
        });
      }
    },
    registerMetric(metric) {
      registry.registerMetric(metric);
    },
  };
}

/**
 * Counts every reply by its route template, so ids in paths do not make a label value each.
 * Requests that matched no route share the route label `unmatched`.
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: ServiceMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpRequestDuration.observe(labels, reply.elapsedTime / 1000);
  });
}

function sumByTopic(entries: ConsumerLag[]): { groupId: string; topic: string; lag: number }[] {
  const sums = new Map<string, { groupId: string; topic: string; lag: number }>();
  for (const entry of entries) {
    const key = `${entry.groupId}\u0000${entry.topic}`;
    const sum = sums.get(key) ?? { groupId: entry.groupId, topic: entry.topic, lag: 0 };
    sum.lag += entry.lag;
    sums.set(key, sum);
  }
  return [...sums.values()];
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

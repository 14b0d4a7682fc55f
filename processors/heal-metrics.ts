import { Histogram, type Registry } from 'prom-client';

/**
 * Heal latency: from the media node's stream-ended (or stalled) event to the member record
 * pointing at the replacement mirror, both timestamps taken by the service's components.
 */
export function createHealLatencyHistogram(registry: Registry): Histogram {
  return new Histogram({
    name: 'fork_heal_latency_seconds',
    help: 'Time from a mirror ending or stalling on its media node to its member pointing at a replacement',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
}

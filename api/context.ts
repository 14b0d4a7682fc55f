import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import type { ForkOutcomes } from '../processors/fork-outcomes.ts';
import type { StreamOperations } from '../processors/stream-operations.ts';
import type { Store } from '../store/store.ts';
import type { ServiceMetrics } from './metrics.ts';

/** Services the routes use from the rest of the process. */
export interface ApiContext {
  store: Store;
  bus: Bus;
  streams: StreamOperations;
  outcomes: ForkOutcomes;
  logger: Logger;
  metrics: ServiceMetrics;
  /** Region part of new room ids. */
  defaultRegion: string;
  /** Scheme and host of published stream URIs, such as `pcast://pcast.local`. */
  streamUriBase: string;
  /** Wait for a fork's outcome, in ms, before a waiting request replies `timeout`. */
  forkTimeoutMs: number;
}

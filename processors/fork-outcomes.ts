/**
 * Waits for fork and kill outcomes. Listens to fork.events for ForkCompleted, ForkFailed,
 * KillCompleted and KillFailed and reads the record from the store, so a waiter registered after
 * the event was published still returns.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bus, Subscription } from '../bus/bus.ts';
import { withDeadLetter } from '../bus/dead-letter.ts';
import { TOPICS } from '../bus/topics.ts';
import { ServiceError } from '../domain/errors.ts';
import type { ForkRecord } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkEventMessage, ForkEventType } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';

/** Events that end an operation with a record in the fork repository: a fork or a kill. */
const OUTCOME_EVENT_TYPES: ReadonlySet<ForkEventType> = new Set([
  'ForkCompleted',
  'ForkFailed',
  'KillCompleted',
  'KillFailed',
]);

interface Waiter {
  resolve(record: ForkRecord): void;
}

export function isFinal(record: Pick<ForkRecord, 'state'>): boolean {
  return record.state === 'completed' || record.state === 'failed';
}

export class ForkOutcomes {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private subscription: Subscription | undefined;
  private readonly listeners: ((event: ForkEventMessage) => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Adds a listener for every decoded event, for metrics. The listener must not throw. */
  addListener(listener: (event: ForkEventMessage) => void): void {
    this.listeners.push(listener);
  }

  /** Subscribes with a group of its own, so every instance receives every outcome. */
  async start(): Promise<void> {
    this.subscription = this.bus.consume({
      groupId: `fork-outcomes-${randomUUID()}`,
      topics: [TOPICS.forkEvents],
      fromBeginning: false,
      handler: withDeadLetter(
        this.bus,
        async (message) => {
          const event = codecs.forkEvent.decode(message.value);
          for (const listener of this.listeners) {
            listener(event);
          }
          if (OUTCOME_EVENT_TYPES.has(event.type) && event.forkId) {
            await this.settle(event.forkId);
          }
        },
        { logger: this.logger },
      ),
    });
    await this.subscription.ready;
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }

  /** Returns the final record of the fork, or throws `timeout` after `timeoutMs`. */
  async wait(forkId: string, timeoutMs: number): Promise<ForkRecord> {
    let waiter: Waiter | undefined;
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<ForkRecord>((resolve) => {
      waiter = { resolve };
    });
    const set = this.waiters.get(forkId) ?? new Set<Waiter>();
    set.add(waiter as Waiter);
    this.waiters.set(forkId, set);

    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new ServiceError('timeout', `fork ${forkId} did not complete within ${timeoutMs} ms`),
        );
      }, timeoutMs);
    });
    try {
      // Checked after registering, so an outcome published in between is not missed.
      const stored = await this.store.forks.get(forkId);
      if (stored !== undefined && isFinal(stored)) {
        return stored;
      }
      return await Promise.race([settled, timedOut]);
    } finally {
      clearTimeout(timer);
      set.delete(waiter as Waiter);
      if (set.size === 0) {
        this.waiters.delete(forkId);
      }
    }
  }

  private async settle(forkId: string): Promise<void> {
    const set = this.waiters.get(forkId);
    if (set === undefined) {
      return;
    }
    const record = await this.store.forks.get(forkId);
    if (record === undefined || !isFinal(record)) {
      this.logger.warn({ forkId }, 'fork outcome event without a final fork record');
      return;
    }
    for (const waiter of set) {
      waiter.resolve(record);
    }
  }
}

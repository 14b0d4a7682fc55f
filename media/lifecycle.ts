/**
 * Stream lifecycle events of a media node: what the service relays to the `stream.lifecycle`
 * topic. An agent emits them on its event emitter for a service in the same process. It also
 * keeps the latest ones in a numbered log, which a service in another process reads with
 * `GET /events`.
 */
import { EventEmitter } from 'node:events';

export type LifecycleEventType = 'started' | 'ended' | 'stalled';

export interface MediaLifecycleEvent {
  event: LifecycleEventType;
  streamId: string;
  nodeId: string;
  /** For a mirror: the stream it copies. Null for an origin. */
  upstreamId: string | null;
  /** End reason for `ended`, stall reason for `stalled`, null for `started`. */
  reason: string | null;
  /** Epoch ms. */
  at: number;
}

export interface MediaAgentEvents {
  lifecycle: [event: MediaLifecycleEvent];
}

/** A lifecycle event with its position `seq` in one agent's log, starting at 1. */
export interface SequencedLifecycleEvent extends MediaLifecycleEvent {
  seq: number;
}

export interface LifecycleBatch {
  events: SequencedLifecycleEvent[];
  /** The `after` value for the next read. */
  next: number;
  /**
   * True when events after the requested position were dropped from the log before this read,
   * so the reader missed some and should reconcile from stream state.
   */
  gap: boolean;
}

export const DEFAULT_LIFECYCLE_RETENTION = 10_000;

/**
 * The latest lifecycle events of one agent, numbered in emit order, with a wait for new ones.
 * At most `retention` events are kept, and the oldest are dropped first.
 */
export class LifecycleLog {
  readonly #retention: number;
  readonly #events: SequencedLifecycleEvent[] = [];
  readonly #appended = new EventEmitter<{ appended: [] }>();
  #lastSeq = 0;
  #closed = false;

  constructor(retention = DEFAULT_LIFECYCLE_RETENTION) {
    if (!Number.isInteger(retention) || retention < 1) {
      throw new RangeError(`lifecycle retention must be a positive integer, got ${retention}`);
    }
    this.#retention = retention;
    // Each long-poll waits with one listener, and many concurrent readers are expected.
    this.#appended.setMaxListeners(0);
  }

  append(event: MediaLifecycleEvent): void {
    this.#lastSeq += 1;
    this.#events.push({ ...event, seq: this.#lastSeq });
    if (this.#events.length > this.#retention) {
      this.#events.splice(0, this.#events.length - this.#retention);
    }
    this.#appended.emit('appended');
  }

  /** Returns up to `limit` events with `seq > after`, without waiting. */
  read(after: number, limit: number): LifecycleBatch {
    // A position past the last event comes from a reader of an earlier run of this agent,
    // whose numbering restarted at 1: start over and report the gap.
    const restarted = after > this.#lastSeq;
    const from = restarted ? 0 : Math.max(after, 0);
    const firstSeq = this.#events[0]?.seq ?? this.#lastSeq + 1;
    const gap = restarted || from + 1 < firstSeq;
    const start = Math.max(0, from + 1 - firstSeq);
    const events = this.#events.slice(start, start + limit);
    const last = events.at(-1);
    return { events, next: last === undefined ? from : last.seq, gap };
  }

  /**
   * Returns events with `seq > after`, waiting up to `waitMs` for the first one. Resolves early
   * with an empty batch when `signal` aborts.
   */
  async wait(
    after: number,
    limit: number,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<LifecycleBatch> {
    const ready = this.read(after, limit);
    if (
      ready.events.length > 0 ||
      ready.gap ||
      waitMs <= 0 ||
      this.#closed ||
      signal?.aborted === true
    ) {
      return ready;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#appended.off('appended', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      this.#appended.on('appended', done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.read(after, limit);
  }

  /** Wakes every waiting reader, which returns what it has. Later reads do not wait. */
  close(): void {
    this.#closed = true;
    this.#appended.emit('appended');
    this.#appended.removeAllListeners();
  }
}

/**
 * Relays a media node's lifecycle events to the stream.lifecycle topic, keyed by stream id. It
 * reads the node's numbered event log from a cursor and moves the cursor only after a publish
 * succeeded, so a failed publish is retried and no event is skipped while the relay runs.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import type { LifecycleBatch } from '../media/lifecycle.ts';
import { codecs } from '../schemas/codec.ts';

/** A node's lifecycle log: the agent's own log in its process, or its `GET /events` remotely. */
export interface LifecycleSource {
  nodeId: string;
  wait(after: number, limit: number, waitMs: number): Promise<LifecycleBatch>;
}

const BATCH_LIMIT = 500;
const WAIT_MS = 1_000;
const RETRY_MS = 500;

export class LifecycleRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private cursor = 0;

  constructor(
    private readonly source: LifecycleSource,
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    const log = this.logger.child({ nodeId: this.source.nodeId });
    while (this.running) {
      try {
        const batch = await this.source.wait(this.cursor, BATCH_LIMIT, WAIT_MS);
        if (batch.gap) {
          // TODO: reconcile stream records with the node's stream list after a gap; until then
          // a missed end is repaired only by a fork with refresh-stale.
          log.warn(
            { after: this.cursor, next: batch.next },
            'lifecycle events were dropped before relay',
          );
        }
        if (batch.events.length > 0) {
          await this.bus.publish(
            TOPICS.streamLifecycle,
            batch.events.map((event) => ({
              key: event.streamId,
              value: codecs.streamLifecycle.encode({
                eventId: `${event.nodeId}:${event.at}:${event.seq}`,
                event: event.event,
                streamId: event.streamId,
                nodeId: event.nodeId,
                upstreamId: event.upstreamId,
                reason: event.reason,
                timestamp: event.at,
              }),
            })),
          );
        }
        this.cursor = batch.next;
      } catch (error) {
        if (!this.running) {
          return;
        }
        log.error({ err: error, after: this.cursor }, 'lifecycle relay failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }
}

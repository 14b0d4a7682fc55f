/**
 * One consumer group on its topics, with poison messages sent to dead-letter topics. Every
 * processor of the pipeline consumes through it, so they share start, stop and dead-letter
 * behaviour.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage, Subscription } from '../bus/bus.ts';
import { withDeadLetter } from '../bus/dead-letter.ts';

export interface TopicConsumerOptions {
  groupId: string;
  topics: string[];
  logger: Logger;
  /** Default true; false starts a new group at the end of its topics. */
  fromBeginning?: boolean;
}

export class TopicConsumer {
  private subscription: Subscription | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly options: TopicConsumerOptions,
    private readonly handle: (message: BusMessage) => Promise<void>,
  ) {}

  /** Resolves once the group owns its partitions. */
  async start(): Promise<void> {
    this.subscription = this.bus.consume({
      groupId: this.options.groupId,
      topics: this.options.topics,
      fromBeginning: this.options.fromBeginning ?? true,
      handler: withDeadLetter(this.bus, this.handle, { logger: this.options.logger }),
    });
    await this.subscription.ready;
  }

  /** Waits for the message being handled, then leaves the group. */
  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}

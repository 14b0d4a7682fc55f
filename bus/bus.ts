/**
 * The bus port: a partitioned, ordered log with consumer groups. Kafka is the production adapter;
 * the in-memory adapter gives the same semantics inside one process. One contract suite
 * (test/bus.contract.test.ts) runs against both.
 *
 * Semantics both adapters keep:
 * - messages with the same key go to the same partition and are delivered in publish order;
 * - within a group, each partition is handled by one handler call at a time;
 * - delivery is at least once: an offset is committed only after the handler resolved, so a
 *   handler that throws sees the message again (after a backoff) and one that crashed mid-way
 *   sees it on restart.
 */

export type Headers = Record<string, string>;

export interface OutgoingMessage {
  key: string;
  value: Buffer;
  headers?: Headers;
}

export interface BusMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: Buffer;
  headers: Headers;
  /** Publish time, epoch ms. */
  timestamp: number;
}

export type MessageHandler = (message: BusMessage) => Promise<void>;

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  handler: MessageHandler;
  /** Start position of a group with no committed offset. Default: earliest. */
  fromBeginning?: boolean;
}

export interface Subscription {
  /** Resolves once the group owns its partitions and will see messages published after now. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
}

/** How far one consumer group is behind on one partition. */
export interface ConsumerLag {
  groupId: string;
  topic: string;
  partition: number;
  /** Messages published to the partition after the group's committed offset. */
  lag: number;
}

export interface Bus {
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  consume(options: ConsumeOptions): Subscription;
  /**
   * Lag of the groups that consume through this bus instance, per partition. A partition the
   * group has committed no offset on yet is left out, because its lag is not known.
   */
  consumerLag(): Promise<ConsumerLag[]>;
  close(): Promise<void>;
}

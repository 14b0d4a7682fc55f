/**
 * In-memory adapter of the bus port, for the embedded mode and fast tests. It keeps the port's
 * semantics inside one process: keyed partitions, per-group committed offsets, one handler call
 * at a time per partition of a group, and at-least-once delivery with retries after a backoff.
 * Nothing survives the process.
 */
import { pino, type Logger } from 'pino';
import type {
  Bus,
  BusMessage,
  ConsumeOptions,
  ConsumerLag,
  Headers,
  MessageHandler,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from './bus.ts';
import { partitionForKey } from './partitioner.ts';
import { DEFAULT_RETRY_BACKOFF, retryDelayMs, type RetryBackoff } from './retry.ts';
import { DEFAULT_PARTITIONS } from './topics.ts';
import {
  validateConsumeOptions,
  validateOutgoingMessages,
  validateTopicSpecs,
} from './validate.ts';

export interface MemoryBusOptions {
  /** Partition count of topics created on first publish or consume. Default 6. */
  defaultPartitions?: number;
  /** Delay before the first retry of a failed handler, ms, doubled per attempt. Default 100. */
  retryBackoffMs?: number;
  /** Upper bound of the retry delay, ms. Default 10000. */
  maxRetryBackoffMs?: number;
  logger?: Logger;
}

interface StoredMessage {
  key: string;
  value: Buffer;
  headers: Headers;
  timestamp: number;
}

interface MemoryTopic {
  name: string;
  partitions: StoredMessage[][];
}

/** Creates an in-memory bus. Its `ready` promises resolve at once. */
export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  return new MemoryBus(options);
}

class MemoryBus implements Bus {
  readonly logger: Logger;
  readonly backoff: RetryBackoff;
  private readonly defaultPartitions: number;
  private readonly topics = new Map<string, MemoryTopic>();
  private readonly groups = new Map<string, MemoryGroup>();
  private closed = false;

  constructor(options: MemoryBusOptions) {
    this.defaultPartitions = options.defaultPartitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(this.defaultPartitions) || this.defaultPartitions < 1) {
      throw new RangeError(
        `invalid defaultPartitions ${String(options.defaultPartitions)}: expected an integer >= 1`,
      );
    }
    const initialMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF.initialMs;
    this.backoff = {
      initialMs,
      maxMs: Math.max(options.maxRetryBackoffMs ?? DEFAULT_RETRY_BACKOFF.maxMs, initialMs),
    };
    this.logger = (options.logger ?? pino({ name: 'bus' })).child({ adapter: 'memory' });
  }

  async ensureTopics(specs: TopicSpec[]): Promise<void> {
    this.assertOpen();
    validateTopicSpecs(specs);
    for (const spec of specs) {
      this.topic(spec.topic, spec.partitions);
    }
  }

  async publish(topicName: string, messages: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    validateOutgoingMessages(topicName, messages);
    const topic = this.topic(topicName, this.defaultPartitions);
    const timestamp = Date.now();

    for (const message of messages) {
      const partition = partitionForKey(message.key, topic.partitions.length);
      topic.partitions[partition]?.push({
        key: message.key,
        // Copied so a publisher that reuses its buffer cannot change a stored message.
        value: Buffer.from(message.value),
        headers: { ...message.headers },
        timestamp,
      });
    }
    for (const group of this.groups.values()) {
      group.wakeWorkers(topicName);
    }
  }

  consume(options: ConsumeOptions): Subscription {
    this.assertOpen();
    validateConsumeOptions(options);
    const topics = [...new Set(options.topics)].map((name) =>
      this.topic(name, this.defaultPartitions),
    );
    let group = this.groups.get(options.groupId);
    if (!group) {
      group = new MemoryGroup(this, options.groupId);
      this.groups.set(options.groupId, group);
    }
    return group.join(topics, options.handler, options.fromBeginning ?? true);
  }

  async consumerLag(): Promise<ConsumerLag[]> {
    const entries: ConsumerLag[] = [];
    for (const group of this.groups.values()) {
      entries.push(...group.lag((name) => this.topics.get(name)));
    }
    return entries;
  }

  async close(): Promise<void> {
    if (this.closed) {
      return;
    }
    this.closed = true;
    await Promise.all([...this.groups.values()].map((group) => group.stopAll()));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Returns the topic, creating it when missing. An existing topic keeps its partition count. */
  private topic(name: string, partitions: number): MemoryTopic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = { name, partitions: Array.from({ length: partitions }, () => []) };
      this.topics.set(name, topic);
    }
    return topic;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new Error('memory bus is closed: create a new bus to publish or consume');
    }
  }
}

/**
 * A consumer group: its committed offsets, its members (one per `consume` call) and one worker
 * per subscribed partition. The worker, not the member, is the unit that runs handlers, so a
 * partition stays sequential while it moves between members as they join and leave.
 */
class MemoryGroup {
  /** Committed offset (next offset to handle) per topic, indexed by partition. */
  private readonly committed = new Map<string, Array<number | undefined>>();
  private readonly members: MemoryMember[] = [];
  private readonly workers = new Map<string, PartitionWorker>();

  constructor(
    readonly bus: MemoryBus,
    readonly groupId: string,
  ) {}

  join(topics: MemoryTopic[], handler: MessageHandler, fromBeginning: boolean): MemoryMember {
    const member = new MemoryMember(this, topics, handler);
    this.members.push(member);

    for (const topic of topics) {
      const offsets = this.committed.get(topic.name) ?? [];
      this.committed.set(topic.name, offsets);
      topic.partitions.forEach((messages, partition) => {
        // A group without a committed offset starts at the beginning or at the current end, and
        // commits that start so a restart of the group resumes there instead of resolving again.
        if (offsets[partition] === undefined) {
          offsets[partition] = fromBeginning ? 0 : messages.length;
        }
        this.startWorker(topic, partition);
      });
    }
    this.wakeWorkers();
    return member;
  }

  /** Returns the member that handles the partition: round-robin over the subscribers, by join order. */
  ownerOf(topicName: string, partition: number): MemoryMember | undefined {
    const subscribers = this.members.filter((member) => member.subscribes(topicName));
    return subscribers[partition % Math.max(subscribers.length, 1)];
  }

  committedOffset(topicName: string, partition: number): number {
    return this.committed.get(topicName)?.[partition] ?? 0;
  }

  commit(topicName: string, partition: number, offset: number): void {
    const offsets = this.committed.get(topicName);
    if (offsets) {
      offsets[partition] = offset;
    }
  }

  /** Lag per partition of the topics this group has members for. */
  lag(topicOf: (name: string) => MemoryTopic | undefined): ConsumerLag[] {
    const entries: ConsumerLag[] = [];
    for (const [topicName, offsets] of this.committed) {
      const topic = topicOf(topicName);
      if (topic === undefined || !this.members.some((member) => member.subscribes(topicName))) {
        continue;
      }
      topic.partitions.forEach((messages, partition) => {
        const committed = offsets[partition];
        if (committed !== undefined) {
          entries.push({
            groupId: this.groupId,
            topic: topicName,
            partition,
            lag: messages.length - committed,
          });
        }
      });
    }
    return entries;
  }

  leave(member: MemoryMember): void {
    const index = this.members.indexOf(member);
    if (index >= 0) {
      this.members.splice(index, 1);
    }
    this.wakeWorkers(undefined, true);
  }

  workerStopped(worker: PartitionWorker): void {
    if (this.workers.get(worker.id) === worker) {
      this.workers.delete(worker.id);
    }
  }

  /** Wakes idle workers of one topic (or all), and with `membershipChanged` also those in backoff. */
  wakeWorkers(topicName?: string, membershipChanged = false): void {
    for (const worker of this.workers.values()) {
      if (topicName === undefined || worker.topic.name === topicName) {
        worker.wake(membershipChanged);
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members].map((member) => member.stop()));
  }

  private startWorker(topic: MemoryTopic, partition: number): void {
    const id = `${topic.name}/${partition}`;
    if (this.workers.has(id)) {
      return;
    }
    const worker = new PartitionWorker(this, topic, partition);
    this.workers.set(id, worker);
    void worker.run();
  }
}

/** One `consume` call: the handler and its in-flight calls. */
class MemoryMember implements Subscription {
  readonly ready: Promise<void> = Promise.resolve();
  private readonly topicNames: Set<string>;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly group: MemoryGroup,
    topics: MemoryTopic[],
    private readonly handler: MessageHandler,
  ) {
    this.topicNames = new Set(topics.map((topic) => topic.name));
  }

  subscribes(topicName: string): boolean {
    return this.topicNames.has(topicName);
  }

  /** Calls the handler and tracks the call, so `stop()` can wait for it. */
  async deliver(message: BusMessage): Promise<void> {
    // Wrapped so a handler that throws before returning its promise is a failed call too.
    const call = (async () => this.handler(message))();
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    try {
      await call;
    } finally {
      this.inFlight.delete(settled);
    }
  }

  stop(): Promise<void> {
    if (!this.stopping) {
      this.group.leave(this);
      this.stopping = Promise.all(this.inFlight).then(() => undefined);
    }
    return this.stopping;
  }
}

/** Runs the handlers of one partition of one group, one message at a time, in offset order. */
class PartitionWorker {
  readonly id: string;
  private attempt = 0;
  private idleWake: (() => void) | undefined;
  private backoffWake: (() => void) | undefined;

  constructor(
    private readonly group: MemoryGroup,
    readonly topic: MemoryTopic,
    private readonly partition: number,
  ) {
    this.id = `${topic.name}/${partition}`;
  }

  async run(): Promise<void> {
    const { bus } = this.group;
    for (;;) {
      const owner = this.group.ownerOf(this.topic.name, this.partition);
      if (!owner || bus.isClosed) {
        // Checked and removed in one synchronous step, so a member joining later starts a new
        // worker instead of relying on this one.
        this.group.workerStopped(this);
        return;
      }

      const offset = this.group.committedOffset(this.topic.name, this.partition);
      const stored = this.topic.partitions[this.partition]?.[offset];
      if (!stored) {
        await new Promise<void>((resolve) => (this.idleWake = resolve));
        continue;
      }

      try {
        await owner.deliver(this.toBusMessage(stored, offset));
        this.group.commit(this.topic.name, this.partition, offset + 1);
        this.attempt = 0;
      } catch (error) {
        this.attempt += 1;
        const delayMs = retryDelayMs(this.attempt, bus.backoff);
        bus.logger.warn(
          {
            err: error,
            groupId: this.group.groupId,
            topic: this.topic.name,
            partition: this.partition,
            offset,
            attempt: this.attempt,
            delayMs,
          },
          'message handler failed, retrying after backoff',
        );
        await this.sleep(delayMs);
      }
    }
  }

  /** Resolves a pending wait: an idle wait on any wake, a backoff only on a membership change. */
  wake(membershipChanged: boolean): void {
    const idleWake = this.idleWake;
    this.idleWake = undefined;
    idleWake?.();
    if (membershipChanged) {
      const backoffWake = this.backoffWake;
      this.backoffWake = undefined;
      backoffWake?.();
    }
  }

  /** Waits out a retry backoff, cut short when a member joins or leaves so no stop waits for it. */
  private async sleep(delayMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.backoffWake = resolve;
      timer = setTimeout(resolve, delayMs);
    });
    clearTimeout(timer);
    this.backoffWake = undefined;
  }

  private toBusMessage(stored: StoredMessage, offset: number): BusMessage {
    return {
      topic: this.topic.name,
      partition: this.partition,
      offset: String(offset),
      key: stored.key,
      value: stored.value,
      headers: { ...stored.headers },
      timestamp: stored.timestamp,
    };
  }
}

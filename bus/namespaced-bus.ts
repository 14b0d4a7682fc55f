/**
 * A view of a bus whose topic names and consumer group ids carry a prefix, so that several
 * services (test suites, or staging beside production) can share one Kafka cluster without
 * seeing each other's messages. Handlers see the unprefixed topic name.
 */
import type {
  Bus,
  BusMessage,
  ConsumerLag,
  ConsumeOptions,
  OutgoingMessage,
  Subscription,
  TopicSpec,
} from './bus.ts';

export function namespacedBus(bus: Bus, prefix: string): Bus {
  if (prefix === '') {
    return bus;
  }
  const strip = (message: BusMessage): BusMessage => ({
    ...message,
    topic: message.topic.startsWith(prefix) ? message.topic.slice(prefix.length) : message.topic,
  });
  return {
    ensureTopics: (topics: TopicSpec[]) =>
      bus.ensureTopics(topics.map((spec) => ({ ...spec, topic: prefix + spec.topic }))),
    publish: (topic: string, messages: OutgoingMessage[]) => bus.publish(prefix + topic, messages),
    consume: (options: ConsumeOptions): Subscription =>
      bus.consume({
        ...options,
        groupId: prefix + options.groupId,
        topics: options.topics.map((topic) => prefix + topic),
        handler: (message) => options.handler(strip(message)),
      }),
    consumerLag: async (): Promise<ConsumerLag[]> => {
      const entries = await bus.consumerLag();
      return entries
        .filter((entry) => entry.groupId.startsWith(prefix) && entry.topic.startsWith(prefix))
        .map((entry) => ({
          ...entry,
          groupId: entry.groupId.slice(prefix.length),
          topic: entry.topic.slice(prefix.length),
        }));
    },
    close: () => bus.close(),
  };
}

/** Argument checks shared by the bus adapters, so both reject the same calls the same way. */
import type { ConsumeOptions, OutgoingMessage, TopicSpec } from './bus.ts';

export function validateTopicName(topic: unknown): asserts topic is string {
  if (typeof topic !== 'string' || topic.length === 0) {
    throw new TypeError(`invalid topic ${JSON.stringify(topic)}: expected a non-empty string`);
  }
}

export function validateTopicSpecs(specs: TopicSpec[]): void {
  for (const spec of specs) {
    validateTopicName(spec.topic);
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new RangeError(
        `invalid partition count ${String(spec.partitions)} for topic ${spec.topic}: expected an integer >= 1`,
      );
    }
  }
}

export function validateOutgoingMessages(topic: string, messages: OutgoingMessage[]): void {
  validateTopicName(topic);
  if (!Array.isArray(messages)) {
    throw new TypeError(`invalid messages for topic ${topic}: expected an array`);
  }
  messages.forEach((message, index) => {
    if (typeof message.key !== 'string') {
      throw new TypeError(`invalid key of message ${index} for topic ${topic}: expected a string`);
    }
    if (!Buffer.isBuffer(message.value)) {
      throw new TypeError(
        `invalid value of message ${index} for topic ${topic}: expected a Buffer`,
      );
    }
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      if (typeof value !== 'string') {
        throw new TypeError(
          `invalid header ${name} of message ${index} for topic ${topic}: expected a string value`,
        );
      }
    }
  });
}

export function validateConsumeOptions(options: ConsumeOptions): void {
  if (typeof options.groupId !== 'string' || options.groupId.length === 0) {
    throw new TypeError(
      `invalid groupId ${JSON.stringify(options.groupId)}: expected a non-empty string`,
    );
  }
  if (!Array.isArray(options.topics) || options.topics.length === 0) {
    throw new TypeError(`invalid topics for group ${options.groupId}: expected a non-empty array`);
  }
  options.topics.forEach(validateTopicName);
  if (typeof options.handler !== 'function') {
    throw new TypeError(`invalid handler for group ${options.groupId}: expected a function`);
  }
}

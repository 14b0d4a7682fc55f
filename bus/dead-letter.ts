/**
 * Dead-letter handling. A message whose handler fails with a poison error (by default a
 * `DecodeError` from decode-error.ts) can never succeed, so retrying it would block its
 * partition forever. It is published to `<topic>.dlq` instead and the handler resolves, so the
 * consumer commits the offset and carries on. Every other error is rethrown and retried by the
 * bus. */
import { pino, type Logger } from 'pino';
import type { Bus, BusMessage, Headers, MessageHandler } from './bus.ts';
import { isDecodeError } from './decode-error.ts';
import { deadLetterTopic } from './topics.ts';

/** Header names added to a dead-lettered message, next to its original headers. */
export const DEAD_LETTER_HEADERS = {
  error: 'x-error',
  errorClass: 'x-error-class',
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
} as const;

export interface DeadLetterOptions {
  /** Selects the errors that send a message to the dead-letter topic. Default: `isDecodeError`. */
  isPoison?: (error: unknown) => boolean;
  logger?: Logger;
}

/**
 * Wraps a handler so poison messages go to the dead-letter topic of their topic. When that
 * publish fails, the wrapper throws and the bus retries the message, so none is lost.
 */
export function withDeadLetter(
  bus: Bus,
  handler: MessageHandler,
  options: DeadLetterOptions = {},
): MessageHandler {
  const isPoison = options.isPoison ?? isDecodeError;
  const logger = (options.logger ?? pino({ name: 'bus' })).child({ component: 'dead-letter' });

  return async (message) => {
    try {
      await handler(message);
    } catch (error) {
      if (!isPoison(error)) {
        throw error;
      }
      const topic = deadLetterTopic(message.topic);
      await bus.publish(topic, [
        { key: message.key, value: message.value, headers: deadLetterHeaders(message, error) },
      ]);
      logger.warn(
        {
          err: error,
          topic: message.topic,
          partition: message.partition,
          offset: message.offset,
          key: message.key,
          deadLetterTopic: topic,
        },
        'message sent to dead-letter topic',
      );
    }
  };
}

function deadLetterHeaders(message: BusMessage, error: unknown): Headers {
  return {
    ...message.headers,
    [DEAD_LETTER_HEADERS.error]: error instanceof Error ? error.message : String(error),
    [DEAD_LETTER_HEADERS.errorClass]: errorClassName(error),
    [DEAD_LETTER_HEADERS.originalTopic]: message.topic,
    [DEAD_LETTER_HEADERS.originalPartition]: String(message.partition),
    [DEAD_LETTER_HEADERS.originalOffset]: message.offset,
  };
}

function errorClassName(error: unknown): string {
  if (error instanceof Error) {
    return error.constructor.name || error.name;
  }
  return typeof error;
}

/** Topic names. Every topic that carries work for a destination is keyed by its room id. */
export const TOPICS = {
  forkRequests: 'fork.requests',
  mirrorCommands: 'mirror.commands',
  forkEvents: 'fork.events',
  forkTriggers: 'fork.triggers',
  roomChanges: 'room.changes',
  streamLifecycle: 'stream.lifecycle',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

export const DEFAULT_PARTITIONS = 6;

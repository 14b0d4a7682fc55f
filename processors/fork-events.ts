/**
 * Publisher of fork.events. Event ids are derived from the effect they describe, so a consumer
 * that receives an event twice after a redelivery can drop the copy.
 */
import type { Bus } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkEventMessage, ForkEventType } from '../schemas/types.ts';

export type ForkEventInput = Partial<Omit<ForkEventMessage, 'type' | 'roomId' | 'eventId'>> & {
  type: ForkEventType;
  roomId: string;
  /** Identifies the effect within its fork or heal; becomes part of the event id. */
  effect: string;
};

export class ForkEventPublisher {
  constructor(
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
  ) {}

  static toMessage(input: ForkEventInput, timestamp: number): ForkEventMessage {
    const operation = input.forkId ?? input.healId ?? 'none';
    return {
      eventId: `${operation}:${input.type}:${input.effect}`,
      type: input.type,
      forkId: input.forkId ?? null,
      healId: input.healId ?? null,
      roomId: input.roomId,
      sourceRoomId: input.sourceRoomId ?? null,
      sessionId: input.sessionId ?? null,
      streamIds: input.streamIds ?? [],
      reason: input.reason ?? null,
      status: input.status ?? null,
      message: input.message ?? null,
      timestamp: input.timestamp ?? timestamp,
      durationMs: input.durationMs ?? null,
    };
  }

  async publish(...inputs: ForkEventInput[]): Promise<void> {
    if (inputs.length === 0) {
      return;
    }
    const timestamp = this.now();
    await this.bus.publish(
      TOPICS.forkEvents,
      inputs.map((input) => ({
        key: input.roomId,
        value: codecs.forkEvent.encode(ForkEventPublisher.toMessage(input, timestamp)),
      })),
    );
  }
}

/**
 * The room router: consumes room.changes and fans each change of a followed room out to every
 * destination that follows it, as a SourceChanged trigger on fork.triggers keyed by destination.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { codecs } from '../schemas/codec.ts';
import type { Store } from '../store/store.ts';

export const ROOM_ROUTER_GROUP = 'room-router';

export class RoomRouter {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  async handle(message: BusMessage): Promise<void> {
    const change = codecs.roomChange.decode(message.value);
    const followers = await this.store.standingForks.listBySource(change.roomId);
    if (followers.length === 0) {
      return;
    }
    await this.bus.publish(
      TOPICS.forkTriggers,
      followers.map((standing) => ({
        key: standing.roomId,
        value: codecs.forkTrigger.encode({
          triggerId: `SourceChanged:${change.eventId}:${standing.roomId}`,
          kind: 'SourceChanged',
          roomId: standing.roomId,
          streamId: null,
          upstreamId: null,
          sourceRoomId: change.roomId,
          sessionId: change.operation === 'resync' ? null : change.sessionId,
          reason: change.operation,
          detectedAt: change.timestamp,
        }),
      })),
    );
    this.logger.debug(
      { roomId: change.roomId, followers: followers.length },
      'source change routed',
    );
  }
}

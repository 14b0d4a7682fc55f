/**
 * The stream router: consumes stream.lifecycle, keeps stream records in step with what the media
 * nodes report, and fans source-side events out to the destinations they affect, on
 * fork.triggers keyed by destination room id.
 *
 * A mirror that ends while its record is `started` ended on its own, so its destination heals
 * it. A record in `ending` means this service destroyed the stream on purpose (a departure, a
 * replacement, a refresh, a kill), so nothing is healed. Triggers are published before the
 * record changes: a crash in between redelivers the event, which publishes the same triggers
 * again (same ids), and once the record is `ended` a redelivery does nothing.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import type { Stream } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkTrigger, StreamLifecycleMessage } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';

export const STREAM_ROUTER_GROUP = 'stream-router';

export const ORIGIN_ENDED = 'origin-stream-ended';

export class StreamRouter {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  async handle(message: BusMessage): Promise<void> {
    const event = codecs.streamLifecycle.decode(message.value);
    const stream = await this.store.streams.get(event.streamId);
    if (stream === undefined) {
      this.logger.debug({ streamId: event.streamId }, 'lifecycle event for an unknown stream');
      return;
    }
    switch (event.event) {
      case 'started':
        await this.store.streams.transition(stream.streamId, ['starting'], 'started');
        return;
      case 'stalled':
        await this.stalled(stream, event);
        return;
      case 'ended':
        await this.ended(stream, event);
        return;
    }
  }

  private async stalled(stream: Stream, event: StreamLifecycleMessage): Promise<void> {
    if (stream.state !== 'started' || stream.roomId === null || stream.upstreamId === null) {
      return;
    }
    await this.publish([
      this.trigger('MirrorStalled', stream.roomId, stream, event, event.reason ?? 'stalled'),
    ]);
  }

  private async ended(stream: Stream, event: StreamLifecycleMessage): Promise<void> {
    if (stream.state === 'ended' && stream.upstreamId !== null) {
      return;
    }
    const reason = event.reason ?? 'ended';
    const triggers: ForkTrigger[] = [];

    // A mirror in a destination that ended without this service deciding it: heal or cascade.
    const unexpected = stream.state === 'started' || stream.state === 'starting';
    if (unexpected && stream.roomId !== null && stream.upstreamId !== null) {
      triggers.push(this.trigger('MirrorEnded', stream.roomId, stream, event, reason));
    }

    // The mirrors of an ended stream lose their media, whichever component ended it, so cascade.
    for (const mirror of await this.store.streams.listMirrors(stream.streamId)) {
      if (mirror.roomId !== null && mirror.state !== 'ended') {
        triggers.push(this.trigger('OriginEnded', mirror.roomId, mirror, event, ORIGIN_ENDED));
      }
    }

    await this.publish(triggers);
    await this.store.streams.transition(
      stream.streamId,
      ['starting', 'started', 'ending'],
      'ended',
      reason,
    );
  }

  private trigger(
    kind: ForkTrigger['kind'],
    roomId: string,
    mirror: Stream,
    event: StreamLifecycleMessage,
    reason: string,
  ): ForkTrigger {
    return {
      triggerId: `${kind}:${mirror.streamId}:${event.eventId}`,
      kind,
      roomId,
      streamId: mirror.streamId,
      upstreamId: mirror.upstreamId,
      sourceRoomId: null,
      sessionId: mirror.sessionId,
      reason,
      detectedAt: event.timestamp,
    };
  }

  private async publish(triggers: ForkTrigger[]): Promise<void> {
    if (triggers.length === 0) {
      return;
    }
    await this.bus.publish(
      TOPICS.forkTriggers,
      triggers.map((trigger) => ({
        key: trigger.roomId,
        value: codecs.forkTrigger.encode(trigger),
      })),
    );
  }
}

/**
 * The trigger planner: consumes fork.triggers, keyed by destination room, and turns each
 * source-side change into commands for the executor. A mirror that ended or stalled while its
 * upstream is live is healed; a mirror whose upstream ended is dropped from its member.
 * Standing forks (`follow`) turn source changes into forks of the changed member.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { parseStreamUri } from '../domain/stream-uri.ts';
import type { Member, Stream } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type { ForkTrigger, MirrorCommand } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';
import { body } from './fork-commands.ts';
import type { ForkEventPublisher } from './fork-events.ts';
import { mirrorStreamId } from './mirror-ids.ts';
import { ORIGIN_ENDED } from './stream-router.ts';

export const TRIGGER_PLANNER_GROUP = 'trigger-planner';

export class TriggerPlanner {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly events: ForkEventPublisher,
    private readonly followSource: (trigger: ForkTrigger) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  async handle(message: BusMessage): Promise<void> {
    const trigger = codecs.forkTrigger.decode(message.value);
    if (trigger.kind === 'SourceChanged') {
      await this.followSource(trigger);
      return;
    }
    const mirror =
      trigger.streamId === null ? undefined : await this.store.streams.get(trigger.streamId);
    if (mirror === undefined) {
      return;
    }
    const members = await this.membersCarrying(trigger.roomId, mirror);
    if (members.length === 0) {
      this.logger.debug(
        { roomId: trigger.roomId, streamId: mirror.streamId },
        'no member carries the mirror',
      );
      return;
    }

    const upstream =
      mirror.upstreamId === null ? undefined : await this.store.streams.get(mirror.upstreamId);
    const upstreamLive =
      upstream !== undefined && (upstream.state === 'started' || upstream.state === 'starting');
    const heal = trigger.kind !== 'OriginEnded' && trigger.reason !== ORIGIN_ENDED && upstreamLive;

    const commands: MirrorCommand[] = [];
    for (const member of members) {
      if (heal && upstream !== undefined) {
        commands.push(this.healCommand(trigger, member, mirror, upstream));
      } else {
        commands.push(this.dropCommand(trigger, member, mirror));
      }
      if (trigger.kind === 'MirrorStalled' || heal) {
        await this.events.publish({
          type: 'StaleDetected',
          effect: `${member.sessionId}:${mirror.streamId}`,
          healId: healIdOf(mirror.streamId),
          roomId: trigger.roomId,
          sessionId: member.sessionId,
          streamIds: [mirror.streamId],
          reason: trigger.reason,
        });
      }
    }
    await this.bus.publish(
      TOPICS.mirrorCommands,
      commands.map((command) => ({
        key: command.roomId,
        value: codecs.mirrorCommand.encode(command),
      })),
    );
  }

  private healCommand(
    trigger: ForkTrigger,
    member: Member,
    mirror: Stream,
    upstream: Stream,
  ): MirrorCommand {
    const healId = healIdOf(mirror.streamId);
    return {
      commandId: `${healId}:${member.sessionId}`,
      forkId: healId,
      roomId: trigger.roomId,
      sourceRoomId: '',
      step: 0,
      steps: 1,
      ...body('HealMirror'),
      healMirror: {
        sessionId: member.sessionId,
        oldStreamId: mirror.streamId,
        originStreamId: upstream.streamId,
        mirrorStreamId: mirrorStreamId(healId, trigger.roomId, member.sessionId, upstream.streamId),
        tags: mirror.tags,
        capabilities: mirror.capabilities,
        preferredRegion: mirror.region,
        reason: trigger.kind === 'MirrorStalled' ? 'stalled' : (trigger.reason ?? 'ended'),
        detectedAt: trigger.detectedAt,
      },
    };
  }

  private dropCommand(trigger: ForkTrigger, member: Member, mirror: Stream): MirrorCommand {
    const dropId = `drop:${mirror.streamId}`;
    return {
      commandId: `${dropId}:${member.sessionId}`,
      forkId: dropId,
      roomId: trigger.roomId,
      sourceRoomId: '',
      step: 0,
      steps: 1,
      ...body('DropStreams'),
      dropStreams: {
        sessionId: member.sessionId,
        streamIds: [mirror.streamId],
        reason: ORIGIN_ENDED,
      },
    };
  }

  /** Members of the room whose streams include the mirror; its own session is checked first. */
  private async membersCarrying(roomId: string, mirror: Stream): Promise<Member[]> {
    const carries = (member: Member) =>
      member.streams.some((stream) => parseStreamUri(stream.uri)?.streamId === mirror.streamId);
    const owner = await this.store.members.get(roomId, mirror.sessionId);
    if (owner !== undefined && carries(owner)) {
      return [owner];
    }
    const members = await this.store.members.list(roomId);
    return members.filter(carries);
  }
}

/** Returns the heal id of a mirror, one per mirror, so a redelivered end or a stall then an end heal it once. */
export function healIdOf(mirrorStreamId: string): string {
  return `heal:${mirrorStreamId}`;
}

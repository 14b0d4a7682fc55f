/**
 * Applies heal and cascade commands for the executor. A heal is make-before-break: the new
 * mirror exists before the member's URI switches to it, and the old mirror is destroyed after.
 * A cascade removes streams whose origin ended from their member.
 */
import type { Logger } from 'pino';
import { isServiceError } from '../domain/errors.ts';
import { formatStreamUri, parseStreamUri } from '../domain/stream-uri.ts';
import type { Member } from '../domain/types.ts';
import type { DropStreams, HealMirror, MirrorCommand } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';
import type { ForkEventPublisher } from './fork-events.ts';
import type { StreamOperations } from './stream-operations.ts';

export type HealObserver = (latencyMs: number) => void;

export class HealApplier {
  constructor(
    private readonly store: Store,
    private readonly streams: StreamOperations,
    private readonly events: ForkEventPublisher,
    private readonly logger: Logger,
    private readonly onHealed: HealObserver = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async heal(command: MirrorCommand, heal: HealMirror): Promise<void> {
    const log = this.logger.child({
      healId: command.forkId,
      roomId: command.roomId,
      sessionId: heal.sessionId,
    });
    const member = await this.store.members.get(command.roomId, heal.sessionId);
    const index = member === undefined ? -1 : streamIndex(member, heal.oldStreamId);
    if (member === undefined || index < 0) {
      // Healed by an earlier delivery, replaced by a fork, or the member left: nothing to do.
      log.debug(
        { oldStreamId: heal.oldStreamId },
        'member no longer carries the mirror; heal skipped',
      );
      return;
    }

    let created;
    try {
      created = await this.streams.createMirror({
        mirrorStreamId: heal.mirrorStreamId,
        originStreamId: heal.originStreamId,
        sessionId: heal.sessionId,
        tags: heal.tags,
        capabilities: heal.capabilities,
        roomId: command.roomId,
        createdBy: command.forkId,
        desiredRegion: heal.preferredRegion,
        regionFallback: true,
      });
    } catch (error) {
      if (isServiceError(error) && !error.retryable) {
        // The origin ended meanwhile: the mirror cannot come back, so cascade instead.
        log.info({ status: error.status }, 'heal failed; dropping the mirror instead');
        await this.drop(command, {
          sessionId: heal.sessionId,
          streamIds: [heal.oldStreamId],
          reason: error.status,
        });
        return;
      }
      throw error;
    }

    const streams = member.streams.map((stream, position) => {
      if (position !== index) {
        return stream;
      }
      const parsed = parseStreamUri(stream.uri);
      const uri = parsed
        ? formatStreamUri({ ...parsed, streamId: heal.mirrorStreamId })
        : stream.uri;
      return { ...stream, uri };
    });
    const healedAt = this.now();
    await this.store.members.put({ ...member, streams, lastUpdate: healedAt });
    const latencyMs = Math.max(0, healedAt - heal.detectedAt);
    this.onHealed(latencyMs);
    const base = { healId: command.forkId, roomId: command.roomId, sessionId: heal.sessionId };
    await this.events.publish(
      ...(created.created
        ? [
            {
              ...base,
              type: 'MirrorCreated' as const,
              effect: heal.mirrorStreamId,
              streamIds: [heal.mirrorStreamId, heal.originStreamId],
            },
          ]
        : []),
      {
        ...base,
        type: 'MirrorHealed',
        effect: heal.oldStreamId,
        streamIds: [heal.mirrorStreamId, heal.oldStreamId],
        reason: heal.reason,
        durationMs: latencyMs,
      },
    );
    log.info(
      { oldStreamId: heal.oldStreamId, newStreamId: heal.mirrorStreamId, latencyMs },
      'mirror healed',
    );

    // Break after make: a stalled mirror still runs until now; an ended one is already gone.
    const destroyed = await this.streams.destroy(heal.oldStreamId, heal.reason);
    if (destroyed !== undefined) {
      await this.events.publish({
        ...base,
        type: 'MirrorDestroyed',
        effect: heal.oldStreamId,
        streamIds: [heal.oldStreamId],
        reason: heal.reason,
      });
    }
  }

  /** Removes the streams from the member; a member whose streams were all mirrors then leaves. */
  async drop(command: MirrorCommand, drop: DropStreams): Promise<void> {
    const member = await this.store.members.get(command.roomId, drop.sessionId);
    const base = { healId: command.forkId, roomId: command.roomId, sessionId: drop.sessionId };
    if (member !== undefined) {
      const dropped = new Set(drop.streamIds);
      const remaining = member.streams.filter(
        (stream) => !dropped.has(parseStreamUri(stream.uri)?.streamId ?? ''),
      );
      if (remaining.length !== member.streams.length) {
        if (remaining.length === 0 && (await this.allMirrors(member))) {
          await this.store.members.remove(command.roomId, drop.sessionId);
          await this.events.publish({
            ...base,
            type: 'MemberLeft',
            effect: drop.sessionId,
            reason: drop.reason,
          });
        } else {
          await this.store.members.put({ ...member, streams: remaining, lastUpdate: this.now() });
        }
      }
    }
    for (const streamId of drop.streamIds) {
      const destroyed = await this.streams.destroy(streamId, drop.reason);
      if (destroyed !== undefined) {
        await this.events.publish({
          ...base,
          type: 'MirrorDestroyed',
          effect: streamId,
          streamIds: [streamId],
          reason: drop.reason,
        });
      }
    }
  }

  private async allMirrors(member: Member): Promise<boolean> {
    const ids = member.streams.flatMap((stream) => parseStreamUri(stream.uri)?.streamId ?? []);
    const records = await this.store.streams.getMany(ids);
    return records.length === ids.length && records.every((stream) => stream.upstreamId !== null);
  }
}

function streamIndex(member: Member, streamId: string): number {
  return member.streams.findIndex((stream) => parseStreamUri(stream.uri)?.streamId === streamId);
}

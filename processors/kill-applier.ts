/**
 * Applies kill commands for the executor, so a kill is ordered with the forks and heals of its
 * room like every other write to it. A kill destroys every member's streams with its reason
 * (unless `keepStreams`), then every member leaves, then the room record goes when
 * `deleteRoom`. Its record in the fork repository carries the outcome back to the REST caller.
 */
import type { Logger } from 'pino';
import { isServiceError, type ServiceError } from '../domain/errors.ts';
import { parseStreamUri } from '../domain/stream-uri.ts';
import type { ForkRecord, Member } from '../domain/types.ts';
import type { Kill, MirrorCommand } from '../schemas/types.ts';
import type { Store } from '../store/store.ts';
import type { ForkEventInput, ForkEventPublisher } from './fork-events.ts';
import type { StreamOperations } from './stream-operations.ts';

export class KillApplier {
  constructor(
    private readonly store: Store,
    private readonly streams: StreamOperations,
    private readonly events: ForkEventPublisher,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Applies the kill and finishes its record. A repeated delivery finds the members that are
   * left and ends the same way, so a crash part-way through is completed by the redelivery.
   */
  async kill(command: MirrorCommand, kill: Kill, record: ForkRecord): Promise<void> {
    const log = this.logger.child({ killId: command.forkId, roomId: command.roomId });
    const members = await this.store.members.list(command.roomId);

    const destroyed: string[] = [];
    let failure: ServiceError | undefined;
    if (!kill.keepStreams) {
      failure = await this.destroyStreams(command, kill, members, destroyed, log);
    }

    const departed: string[] = [];
    if (failure === undefined) {
      for (const member of members) {
        const removed = await this.store.members.remove(command.roomId, member.sessionId);
        if (removed !== undefined) {
          departed.push(member.sessionId);
          await this.events.publish({
            ...this.eventBase(command),
            type: 'MemberLeft',
            effect: member.sessionId,
            sessionId: member.sessionId,
            reason: kill.reason,
          });
        }
      }
      if (kill.deleteRoom) {
        await this.store.rooms.delete(command.roomId);
      }
    }

    const completed = this.now();
    const status = failure?.status ?? 'ok';
    await this.store.forks.update(command.forkId, {
      state: failure === undefined ? 'completed' : 'failed',
      status,
      message: failure?.message ?? null,
      completed,
      departed: [...new Set([...record.departed, ...departed])],
      streamsDestroyed: [...new Set([...record.streamsDestroyed, ...destroyed])],
    });
    await this.events.publish({
      ...this.eventBase(command),
      type: failure === undefined ? 'KillCompleted' : 'KillFailed',
      effect: 'outcome',
      status,
      message: failure?.message ?? null,
      reason: kill.reason,
      durationMs: completed - record.requested,
    });
    log.info(
      { members: departed.length, streams: destroyed.length, status },
      failure === undefined ? 'room killed' : 'kill stopped by a failed destroy',
    );
  }

  /**
   * Destroys every member's streams and returns the first failure when `destroyRequired`;
   * without it a failed destroy is logged and the kill goes on.
   */
  private async destroyStreams(
    command: MirrorCommand,
    kill: Kill,
    members: Member[],
    destroyed: string[],
    log: Logger,
  ): Promise<ServiceError | undefined> {
    for (const member of members) {
      for (const memberStream of member.streams) {
        const streamId = parseStreamUri(memberStream.uri)?.streamId;
        if (streamId === undefined) {
          continue;
        }
        try {
          const ended = await this.streams.destroy(streamId, kill.reason);
          if (ended === undefined) {
            continue;
          }
        } catch (error) {
          if (!isServiceError(error)) {
            throw error;
          }
          if (kill.destroyRequired) {
            return error;
          }
          log.warn(
            { err: error, sessionId: member.sessionId, streamId },
            'stream destroy failed; kill goes on without it',
          );
          continue;
        }
        destroyed.push(streamId);
        await this.events.publish({
          ...this.eventBase(command),
          type: 'MirrorDestroyed',
          effect: streamId,
          sessionId: member.sessionId,
          streamIds: [streamId],
          reason: kill.reason,
        });
      }
    }
    return undefined;
  }

  private eventBase(command: MirrorCommand): Pick<ForkEventInput, 'forkId' | 'roomId'> {
    return { forkId: command.forkId, roomId: command.roomId };
  }
}

/**
 * The executor: the mirror-command consumer and the single writer of each destination. It
 * applies one command at a time per destination partition, checks each command's precondition
 * against the store and skips effects that are already there, so a redelivered or repeated
 * command does nothing twice.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { DecodeError } from '../bus/decode-error.ts';
import type { ServiceError } from '../domain/errors.ts';
import { isServiceError } from '../domain/errors.ts';
import type { ForkRecord, Member, MemberRole, MemberState, Stream } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type {
  DestroyStreams,
  Kill,
  MemberJoin,
  MemberLeave,
  MirrorCommand,
} from '../schemas/types.ts';
import type { Store } from '../store/store.ts';
import type { ForkEventInput, ForkEventPublisher } from './fork-events.ts';
import type { HealApplier } from './heal-applier.ts';
import { KillApplier } from './kill-applier.ts';
import type { StreamOperations } from './stream-operations.ts';

export const EXECUTOR_GROUP = 'executor';

type ListField = 'joined' | 'departed' | 'mirrorsCreated' | 'streamsDestroyed';

export class Executor {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly streams: StreamOperations,
    private readonly events: ForkEventPublisher,
    private readonly heals: HealApplier,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async handle(message: BusMessage): Promise<void> {
    const command = codecs.mirrorCommand.decode(message.value);
    await this.apply(command);
  }

  async apply(command: MirrorCommand): Promise<void> {
    const log = this.logger.child({
      forkId: command.forkId,
      roomId: command.roomId,
      commandId: command.commandId,
    });
    // Heals and cascades belong to no fork: their preconditions alone make them idempotent.
    if (command.kind === 'HealMirror') {
      await this.heals.heal(command, required(command.healMirror, command));
      return;
    }
    if (command.kind === 'DropStreams') {
      await this.heals.drop(command, required(command.dropStreams, command));
      return;
    }

    const record = await this.store.forks.get(command.forkId);
    if (record === undefined) {
      log.warn({ kind: command.kind }, 'mirror command for an unknown fork skipped');
      return;
    }
    if (record.state === 'completed' || record.state === 'failed') {
      log.debug({ kind: command.kind }, 'mirror command of a finished fork skipped');
      return;
    }

    switch (command.kind) {
      case 'DestroyStreams':
        await this.destroyStreams(command, required(command.destroyStreams, command));
        return;
      case 'MemberLeave':
        await this.memberLeave(command, required(command.memberLeave, command));
        return;
      case 'MemberJoin':
        await this.memberJoin(command, required(command.memberJoin, command), log);
        return;
      case 'CompleteFork':
        await this.completeFork(record);
        return;
      case 'Kill':
        await this.kill(command, required(command.kill ?? null, command), record);
        return;
    }
  }

  /** Kills carry a record like forks do, so the REST caller can wait for the outcome. */
  private async kill(command: MirrorCommand, body: Kill, record: ForkRecord): Promise<void> {
    const log = this.logger.child({ component: 'kill' });
    await new KillApplier(this.store, this.streams, this.events, log, this.now).kill(
      command,
      body,
      record,
    );
  }

  private async destroyStreams(command: MirrorCommand, body: DestroyStreams): Promise<void> {
    await this.destroyAll(command, body.sessionId, body.streamIds, body.reason);
  }

  private async memberLeave(command: MirrorCommand, body: MemberLeave): Promise<void> {
    const removed = await this.store.members.remove(command.roomId, body.sessionId);
    if (removed !== undefined) {
      await this.recordLists(command.forkId, { departed: [body.sessionId] });
      await this.events.publish({
        ...this.eventBase(command),
        type: 'MemberLeft',
        effect: body.sessionId,
        sessionId: body.sessionId,
        reason: body.reason,
      });
    }
    await this.destroyAll(command, body.sessionId, body.streamIds, body.reason);
  }

  private async memberJoin(command: MirrorCommand, body: MemberJoin, log: Logger): Promise<void> {
    const plannedUris = body.streams.map((stream) => stream.uri);
    const current = await this.store.members.get(command.roomId, body.sessionId);

    if (
      current !== undefined &&
      sameUris(
        current.streams.map((s) => s.uri),
        plannedUris,
      )
    ) {
      // Already written by an earlier delivery: only the break half may be missing.
      await this.destroyAll(command, body.sessionId, body.replacedStreamIds, 'replaced-by-fork');
      return;
    }
    const currentUris = current === undefined ? null : current.streams.map((s) => s.uri);
    if (!sameUris(currentUris, body.expectedStreamUris)) {
      log.warn(
        { sessionId: body.sessionId, expected: body.expectedStreamUris, current: currentUris },
        'member changed since the fork was planned; join skipped',
      );
      return;
    }

    const created: Stream[] = [];
    try {
      for (const stream of body.streams) {
        if (stream.mirror === null) {
          continue;
        }
        const result = await this.streams.createMirror({
          ...stream.mirror,
          sessionId: body.sessionId,
          roomId: command.roomId,
          createdBy: command.forkId,
          desiredRegion: body.desiredRegion,
        });
        if (result.created) {
          created.push(result.stream);
        }
      }
    } catch (error) {
      // A media failure, even a retryable one such as capacity, becomes the fork's outcome, because
      // retrying here would hold every later fork of the destination. Store or bus failures are retried.
      if (!isServiceError(error)) {
        throw error;
      }
      // The member does not join; mirrors made for it so far would have no member: end them.
      for (const stream of created) {
        await this.streams.destroy(stream.streamId, 'fork-failed');
      }
      log.info({ sessionId: body.sessionId, status: error.status }, 'mirror creation failed');
      await this.recordFailure(command.forkId, error);
      return;
    }

    if (created.length > 0) {
      await this.recordLists(command.forkId, { mirrorsCreated: created.map((s) => s.streamId) });
      await this.events.publish(
        ...created.map((stream) => ({
          ...this.eventBase(command),
          type: 'MirrorCreated' as const,
          effect: stream.streamId,
          sessionId: body.sessionId,
          streamIds: [stream.streamId, stream.upstreamId ?? ''],
        })),
      );
    }

    const member: Member = {
      roomId: command.roomId,
      sessionId: body.sessionId,
      screenName: body.screenName,
      role: body.role as MemberRole,
      state: body.state as MemberState,
      streams: body.streams.map(({ uri, type, audioState, videoState }) => ({
        uri,
        type,
        audioState,
        videoState,
      })),
      lastUpdate: this.now(),
    };
    await this.store.members.put(member);
    await this.recordLists(command.forkId, { joined: [body.sessionId] });
    await this.events.publish({
      ...this.eventBase(command),
      type: 'MemberJoined',
      effect: body.sessionId,
      sessionId: body.sessionId,
      streamIds: created.map((stream) => stream.streamId),
    });

    // Make-before-break: the replaced streams end only after the member points at new ones.
    await this.destroyAll(command, body.sessionId, body.replacedStreamIds, 'replaced-by-fork');

    // A mirror whose origin ended between its creation and the member write had its end
    // routed while no member carried it, so that trigger found nothing to do. Ask the nodes
    // now: an end after this check reaches a member that already carries the mirror.
    const dead: string[] = [];
    for (const stream of created) {
      if (!(await this.streams.isLiveOnNode(stream))) {
        dead.push(stream.streamId);
      }
    }
    if (dead.length > 0) {
      log.info({ sessionId: body.sessionId, streamIds: dead }, 'new mirrors ended before the join');
      await this.heals.drop(command, {
        sessionId: body.sessionId,
        streamIds: dead,
        reason: 'origin-stream-ended',
      });
    }
  }

  private async destroyAll(
    command: MirrorCommand,
    sessionId: string,
    streamIds: string[],
    reason: string,
  ): Promise<void> {
    const destroyed: string[] = [];
    for (const streamId of streamIds) {
      const stream = await this.streams.destroy(streamId, reason);
      if (stream !== undefined) {
        destroyed.push(streamId);
      }
    }
    if (destroyed.length === 0) {
      return;
    }
    await this.recordLists(command.forkId, { streamsDestroyed: destroyed });
    await this.events.publish(
      ...destroyed.map((streamId) => ({
        ...this.eventBase(command),
        type: 'MirrorDestroyed' as const,
        effect: streamId,
        sessionId,
        streamIds: [streamId],
        reason,
      })),
    );
  }

  private async completeFork(record: ForkRecord): Promise<void> {
    const completed = this.now();
    const failed = record.status !== null && record.status !== 'ok';
    await this.store.forks.update(record.forkId, {
      state: failed ? 'failed' : 'completed',
      status: failed ? record.status : 'ok',
      completed,
    });
    await this.events.publish({
      type: failed ? 'ForkFailed' : 'ForkCompleted',
      effect: 'outcome',
      forkId: record.forkId,
      roomId: record.roomId,
      sourceRoomId: record.sourceRoomId,
      status: failed ? record.status : 'ok',
      message: record.message,
      durationMs: completed - record.requested,
    });
  }

  /** Keeps the first failure, because its status is the fork's outcome. */
  private async recordFailure(forkId: string, error: ServiceError): Promise<void> {
    const record = await this.store.forks.get(forkId);
    if (record !== undefined && record.status === null) {
      await this.store.forks.update(forkId, { status: error.status, message: error.message });
    }
  }

  private async recordLists(
    forkId: string,
    lists: Partial<Record<ListField, string[]>>,
  ): Promise<void> {
    const record = await this.store.forks.get(forkId);
    if (record === undefined) {
      return;
    }
    const fields: Partial<Record<ListField, string[]>> = {};
    for (const [field, values] of Object.entries(lists) as [ListField, string[]][]) {
      fields[field] = [...new Set([...record[field], ...values])];
    }
    await this.store.forks.update(forkId, fields);
  }

  private eventBase(
    command: MirrorCommand,
  ): Pick<ForkEventInput, 'forkId' | 'roomId' | 'sourceRoomId'> {
    return { forkId: command.forkId, roomId: command.roomId, sourceRoomId: command.sourceRoomId };
  }
}

function required<T>(value: T | null, command: MirrorCommand): T {
  if (value === null) {
    // A retry cannot fix a malformed command, so it goes to the dead-letter topic.
    throw new DecodeError(
      `mirror command ${command.commandId} of kind ${command.kind} has no ${command.kind} body`,
    );
  }
  return value;
}

function sameUris(left: string[] | null, right: string[] | null): boolean {
  if (left === null || right === null) {
    return left === right;
  }
  return left.length === right.length && left.every((uri, index) => uri === right[index]);
}

/**
 * The fork planner: consumes fork.requests, keyed by destination room, so one instance owns each
 * destination. It reads both rooms, computes the plan with the pure planner and publishes the
 * plan's commands to mirror.commands. Then it waits for the executor to finish them before it
 * takes the next request of that partition. So a fork is planned on the outcome of every earlier
 * fork of its destination, and two identical forks produce one set of mirrors.
 */
import type { Logger } from 'pino';
import type { Bus, BusMessage } from '../bus/bus.ts';
import { TOPICS } from '../bus/topics.ts';
import { ServiceError } from '../domain/errors.ts';
import { parseStreamUri } from '../domain/stream-uri.ts';
import type { ForkRecord, ForkRequest, Member, Room, Stream } from '../domain/types.ts';
import { codecs } from '../schemas/codec.ts';
import type { Store } from '../store/store.ts';
import { commandsForPlan } from './fork-commands.ts';
import type { ForkEventPublisher } from './fork-events.ts';
import { isFinal, type ForkOutcomes } from './fork-outcomes.ts';
import { decodeForkRequest } from './fork-request-decoder.ts';
import { planFork } from './planner.ts';

export const PLANNER_GROUP = 'fork-planner';

/** How long the planner waits for the executor before it logs that a fork is still running. */
const OUTCOME_WAIT_MS = 30_000;

export function newForkRecord(request: ForkRequest): ForkRecord {
  return {
    forkId: request.forkId,
    applicationId: request.applicationId,
    roomId: request.roomId,
    sourceRoomId: request.sourceRoomId,
    options: request.options,
    state: 'accepted',
    status: null,
    message: null,
    requested: request.requested,
    completed: null,
    joined: [],
    departed: [],
    mirrorsCreated: [],
    streamsDestroyed: [],
  };
}

export class ForkPlanner {
  constructor(
    private readonly bus: Bus,
    private readonly store: Store,
    private readonly events: ForkEventPublisher,
    private readonly outcomes: ForkOutcomes,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async handle(message: BusMessage): Promise<void> {
    const request = decodeForkRequest(message);
    const log = this.logger.child({ forkId: request.forkId, roomId: request.roomId });

    await this.store.forks.insert(newForkRecord(request));
    const record = await this.store.forks.get(request.forkId);
    if (record !== undefined && isFinal(record)) {
      log.debug('fork request already finished; redelivery skipped');
      return;
    }
    if (record?.state === 'accepted') {
      await this.events.publish({
        type: 'ForkRequested',
        effect: 'request',
        forkId: request.forkId,
        roomId: request.roomId,
        sourceRoomId: request.sourceRoomId,
        timestamp: request.requested,
      });
    }

    let commands;
    try {
      commands = await this.plan(request);
    } catch (error) {
      if (error instanceof ServiceError && !error.retryable) {
        await this.fail(request, error);
        return;
      }
      throw error;
    }

    if (request.options.includes('follow')) {
      await this.store.standingForks.put({
        roomId: request.roomId,
        sourceRoomId: request.sourceRoomId,
        applicationId: request.applicationId,
        forkId: request.forkId,
        streamCapabilities: request.streamCapabilities,
        streamTags: request.streamTags,
        options: request.options,
        desiredRegion: request.desiredRegion,
        created: this.now(),
      });
    }
    await this.store.forks.update(request.forkId, { state: 'running' });
    await this.bus.publish(
      TOPICS.mirrorCommands,
      commands.map((command) => ({
        key: command.roomId,
        value: codecs.mirrorCommand.encode(command),
      })),
    );
    log.debug({ commands: commands.length }, 'fork planned');

    // Waiting keeps the partition's next fork from being planned on a state that is about to change.
    for (;;) {
      try {
        await this.outcomes.wait(request.forkId, OUTCOME_WAIT_MS);
        return;
      } catch (error) {
        if (!(error instanceof ServiceError && error.status === 'timeout')) {
          throw error;
        }
        log.warn({ waitedMs: OUTCOME_WAIT_MS }, 'fork still running; executor may be down');
      }
    }
  }

  private async plan(request: ForkRequest) {
    const [destination, source] = await Promise.all([
      this.room(request.roomId, request),
      this.room(request.sourceRoomId, request),
    ]);
    const scope = request.sessionIds ? new Set(request.sessionIds) : undefined;
    const inScope = (member: Member) => scope === undefined || scope.has(member.sessionId);
    const [destinationMembers, sourceMembers] = (
      await Promise.all([
        this.store.members.list(destination.roomId),
        this.store.members.list(source.roomId),
      ])
    ).map((members) => members.filter(inScope)) as [Member[], Member[]];
    const streams = await this.streamsOf([...destinationMembers, ...sourceMembers]);
    const plan = planFork({
      request: scope
        ? withForceOnChange(request, sourceMembers, destinationMembers, streams)
        : request,
      destination: { room: destination, members: destinationMembers },
      source: { room: source, members: sourceMembers },
      streams,
    });

    const stale = plan.staleRefreshes.map((refresh) => ({
      type: 'StaleDetected' as const,
      effect: refresh.sessionId,
      forkId: request.forkId,
      roomId: request.roomId,
      sourceRoomId: request.sourceRoomId,
      sessionId: refresh.sessionId,
      streamIds: refresh.destroyStreamIds,
    }));
    await this.events.publish(...stale);
    return commandsForPlan(plan);
  }

  private async room(roomId: string, request: ForkRequest): Promise<Room> {
    const room = await this.store.rooms.get(roomId);
    if (room === undefined) {
      throw new ServiceError('not-found', `room ${roomId} not found`);
    }
    if (request.applicationId !== null && room.applicationId !== request.applicationId) {
      throw new ServiceError('unauthorized', `room ${roomId} belongs to another application`, {
        forbidden: true,
      });
    }
    return room;
  }

  private async streamsOf(members: Member[]): Promise<Map<string, Stream>> {
    const ids = new Set<string>();
    for (const member of members) {
      for (const stream of member.streams) {
        const parsed = parseStreamUri(stream.uri);
        if (parsed !== undefined) {
          ids.add(parsed.streamId);
        }
      }
    }
    const records = await this.store.streams.getMany([...ids]);
    return new Map(records.map((stream) => [stream.streamId, stream]));
  }

  private async fail(request: ForkRequest, error: ServiceError): Promise<void> {
    const completed = this.now();
    await this.store.forks.update(request.forkId, {
      state: 'failed',
      status: error.status,
      message: error.message,
      completed,
    });
    await this.events.publish({
      type: 'ForkFailed',
      effect: 'outcome',
      forkId: request.forkId,
      roomId: request.roomId,
      sourceRoomId: request.sourceRoomId,
      status: error.status,
      message: error.message,
      durationMs: completed - request.requested,
    });
  }
}

/**
 * Adds `force` to a fork scoped to sessions (a standing fork applying a source change) when a
 * member's origins no longer match its destination mirrors' upstreams. The comparison is made
 * here, on the state the fork is planned on, because the state when the change was routed may
 * already be out of date.
 */
function withForceOnChange(
  request: ForkRequest,
  sourceMembers: Member[],
  destinationMembers: Member[],
  streams: ReadonlyMap<string, Stream>,
): ForkRequest {
  if (request.options.includes('force')) {
    return request;
  }
  const destination = new Map(destinationMembers.map((member) => [member.sessionId, member]));
  const changed = sourceMembers.some((member) => {
    const mirrored = destination.get(member.sessionId);
    if (mirrored === undefined) {
      return false;
    }
    const origins = streamIdsOf(member);
    const upstreams = streamIdsOf(mirrored).map((id) => streams.get(id)?.upstreamId ?? id);
    return origins.length !== upstreams.length || origins.some((id, i) => upstreams[i] !== id);
  });
  return changed ? { ...request, options: [...request.options, 'force'] } : request;
}

function streamIdsOf(member: Member): string[] {
  return member.streams.flatMap((stream) => parseStreamUri(stream.uri)?.streamId ?? []);
}

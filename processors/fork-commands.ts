/**
 * Turns a fork plan into the executor's commands, in the order the fork applies them: stale
 * streams are destroyed first, then departing members leave, then joining members get their
 * mirrors, and a last command completes the fork.
 */
import type { MirrorCommand, MirrorCommandKind } from '../schemas/types.ts';
import type { ForkPlan } from './fork-plan.ts';

export type CommandBody = Omit<
  MirrorCommand,
  'commandId' | 'forkId' | 'roomId' | 'sourceRoomId' | 'step' | 'steps'
>;

/** Returns a command body of the kind with every kind's field null. Callers set their kind's field. */
export function body(kind: MirrorCommandKind): CommandBody {
  return {
    kind,
    destroyStreams: null,
    memberLeave: null,
    memberJoin: null,
    healMirror: null,
    dropStreams: null,
  };
}

export function commandsForPlan(plan: ForkPlan): MirrorCommand[] {
  const bodies: CommandBody[] = [];

  for (const refresh of plan.staleRefreshes) {
    bodies.push({
      ...body('DestroyStreams'),
      destroyStreams: {
        sessionId: refresh.sessionId,
        streamIds: refresh.destroyStreamIds,
        reason: 'stale-stream-refresh',
      },
    });
  }
  for (const departure of plan.departures) {
    bodies.push({
      ...body('MemberLeave'),
      memberLeave: {
        sessionId: departure.sessionId,
        streamIds: departure.destroyStreamIds,
        reason: 'terminated-by-fork',
      },
    });
  }
  for (const join of plan.joins) {
    bodies.push({
      ...body('MemberJoin'),
      memberJoin: {
        sessionId: join.sessionId,
        screenName: join.member.screenName,
        role: join.member.role,
        state: join.member.state,
        streams: join.member.streams.map((stream) => ({
          uri: stream.uri,
          type: stream.type,
          audioState: stream.audioState,
          videoState: stream.videoState,
          mirror: stream.mirror
            ? {
                mirrorStreamId: stream.mirror.mirrorStreamId,
                originStreamId: stream.mirror.originStreamId,
                tags: stream.mirror.tags,
                capabilities: stream.mirror.capabilities,
              }
            : null,
        })),
        replacedStreamIds: join.replacedStreamIds,
        expectedStreamUris: join.expectedStreamUris,
        desiredRegion: plan.desiredRegion,
      },
    });
  }
  bodies.push(body('CompleteFork'));

  return bodies.map((command, step) => ({
    commandId: `${plan.forkId}:${step}`,
    forkId: plan.forkId,
    roomId: plan.roomId,
    sourceRoomId: plan.sourceRoomId,
    step,
    steps: bodies.length,
    ...command,
  }));
}

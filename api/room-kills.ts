/**
 * Kill requests from the REST API. A kill is published to mirror.commands keyed by the room id,
 * so the executor, the single writer of the room, applies it in order with the room's forks and
 * heals. Its record in the fork repository carries the outcome back here.
 */
import { randomUUID } from 'node:crypto';
import { TOPICS } from '../bus/topics.ts';
import { httpCodeOf } from '../domain/errors.ts';
import type { ForkRecord, Room } from '../domain/types.ts';
import { newForkRecord } from '../processors/fork-planner.ts';
import { codecs } from '../schemas/codec.ts';
import type { Kill, MirrorCommand } from '../schemas/types.ts';
import type { ApiContext } from './context.ts';

export const KILL_OPTIONS = ['keep-streams', 'destroy-required'] as const;
export type KillOption = (typeof KILL_OPTIONS)[number];

export interface KillResult {
  code: number;
  body: Record<string, unknown>;
}

/** Publishes the kill, waits for its outcome and returns the reply of the route. */
export async function requestKill(
  context: ApiContext,
  room: Room,
  applicationId: string,
  kill: Kill,
): Promise<{ record: ForkRecord; result: KillResult }> {
  const killId = randomUUID();
  await context.store.forks.insert(
    newForkRecord({
      forkId: killId,
      applicationId,
      roomId: room.roomId,
      sourceRoomId: room.roomId,
      streamCapabilities: [],
      streamTags: [],
      options: kill.keepStreams ? ['keep-streams'] : [],
      desiredRegion: null,
      requested: Date.now(),
    }),
  );
  const command: MirrorCommand = {
    commandId: `${killId}:0`,
    forkId: killId,
    roomId: room.roomId,
    sourceRoomId: room.roomId,
    step: 0,
    steps: 1,
    kind: 'Kill',
    destroyStreams: null,
    memberLeave: null,
    memberJoin: null,
    healMirror: null,
    dropStreams: null,
    kill,
  };
  await context.bus.publish(TOPICS.mirrorCommands, [
    { key: room.roomId, value: codecs.mirrorCommand.encode(command) },
  ]);

  const record = await context.outcomes.wait(killId, context.forkTimeoutMs);
  const status = record.status ?? 'internal-error';
  if (status !== 'ok') {
    return {
      record,
      result: { code: httpCodeOf(status), body: { status, message: record.message, killId } },
    };
  }
  return { record, result: { code: 200, body: { status: 'ok', killId } } };
}

/**
 * Every `/room` route also answers as `/channel` for channels. There the object is named
 * `channel` and carries its id as `channelId` (the same value as `roomId`).
 */
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { ServiceError } from '../domain/errors.ts';
import { assertRoomId } from '../domain/fork-request.ts';
import { isChannel, type Member, type Room } from '../domain/types.ts';
import { assertOwner, authenticate } from './auth.ts';
import type { ApiContext } from './context.ts';

export type RoomKind = 'room' | 'channel';

export const ROOM_KINDS: readonly RoomKind[] = ['room', 'channel'];

export function presentRoom(room: Room, kind: RoomKind, extra: Record<string, unknown> = {}) {
  const { applicationId: _applicationId, ...fields } = room;
  if (kind === 'channel') {
    return { channelId: room.roomId, ...fields, ...extra };
  }
  return { ...fields, ...extra };
}

export function presentMember(member: Member) {
  const { roomId: _roomId, ...fields } = member;
  return fields;
}

/**
 * Reads the room named by the `roomId` path parameter after authenticating the caller: 404
 * when missing, 403 when another application owns it, 404 on the `/channel` form for a room
 * that is not a channel.
 */
export async function loadRoom(
  request: FastifyRequest,
  context: ApiContext,
  kind: RoomKind,
): Promise<{ applicationId: string; room: Room }> {
  const applicationId = await authenticate(request, context.store);
  const roomId = (request.params as { roomId?: string }).roomId;
  assertRoomId(roomId, `${kind}Id`);
  const room = await context.store.rooms.get(roomId);
  if (room === undefined || (kind === 'channel' && !isChannel(room))) {
    throw new ServiceError('not-found', `${kind} ${roomId} not found`);
  }
  assertOwner(room, applicationId);
  return { applicationId, room };
}

/** Registers a route under `/pcast/room...` and `/pcast/channel...`. */
export function forEachKind(
  app: FastifyInstance,
  method: 'GET' | 'PUT' | 'DELETE',
  path: string,
  options: RouteShorthandOptions,
  handler: (kind: RoomKind, request: FastifyRequest) => Promise<{ code?: number; body: object }>,
): void {
  for (const kind of ROOM_KINDS) {
    app.route({
      method,
      url: `/pcast/${kind}${path}`,
      ...options,
      handler: async (request, reply) => {
        const result = await handler(kind, request);
        return reply.code(result.code ?? 200).send(result.body);
      },
    });
  }
}

/**
 * Every `/room` route also answers as `/channel` for channels. There the object is named
 * `channel` and carries its id as `channelId` (the same value as `roomId`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ServiceError, type Status } from '../domain/errors.ts';
import { assertRoomId } from '../domain/fork-request.ts';
import { isChannel, type Member, type Room } from '../domain/types.ts';
import { assertOwner } from './auth.ts';
import type { ApiContext } from './context.ts';
import { ROOM_ID_SCHEMA, type JsonSchema } from './schemas.ts';

export type RoomKind = 'room' | 'channel';

export const ROOM_KINDS: readonly RoomKind[] = ['room', 'channel'];

export function presentRoom(room: Room, kind: RoomKind, extra: Record<string, unknown> = {}) {
  // The owning application is an internal field; clients see only their own rooms.
  const fields: Partial<Pick<Room, 'applicationId'>> & Omit<Room, 'applicationId'> = { ...room };
  delete fields.applicationId;
  if (kind === 'channel') {
    return { channelId: room.roomId, ...fields, ...extra };
  }
  return { ...fields, ...extra };
}

export function presentMember(member: Member) {
  const fields: Partial<Pick<Member, 'roomId'>> & Omit<Member, 'roomId'> = { ...member };
  delete fields.roomId;
  return fields;
}

/** Name of the path parameter that carries the room id: `roomId` or `channelId`. */
export function roomIdParameter(kind: RoomKind): 'roomId' | 'channelId' {
  return kind === 'channel' ? 'channelId' : 'roomId';
}

/** Returns the room id of the request's path, checked against the room id pattern. */
export function roomIdOf(request: FastifyRequest, kind: RoomKind): string {
  const name = roomIdParameter(kind);
  const roomId = (request.params as Record<string, string | undefined>)[name];
  assertRoomId(roomId, name);
  return roomId;
}

/**
 * Reads the room named by the path of an authenticated request: 404 when missing, 403 when
 * another application owns it, 404 on the `/channel` form for a room that is not a channel.
 */
export async function loadRoom(
  request: FastifyRequest,
  context: ApiContext,
  kind: RoomKind,
): Promise<Room> {
  const roomId = roomIdOf(request, kind);
  const room = await context.store.rooms.get(roomId);
  if (room === undefined || (kind === 'channel' && !isChannel(room))) {
    throw new ServiceError('not-found', `${kind} ${roomId} not found`);
  }
  assertOwner(room, request.applicationId);
  return room;
}

export interface RoomRouteSpec {
  summary: string;
  /** Statuses the route replies with, besides the ones every authenticated route can return. */
  statuses: Status[];
  body?: JsonSchema;
  querystring?: JsonSchema;
  /** Path parameters after the room id, such as `sessionId`. */
  params?: Record<string, JsonSchema>;
}

/**
 * Registers a route under `/pcast/room/:roomId...` and `/pcast/channel/:channelId...`; `path`
 * is the part after the room id.
 */
export function forEachKind(
  app: FastifyInstance,
  method: 'GET' | 'PUT' | 'DELETE',
  path: string,
  spec: RoomRouteSpec,
  handler: (kind: RoomKind, request: FastifyRequest) => Promise<{ code?: number; body: object }>,
): void {
  for (const kind of ROOM_KINDS) {
    const idName = roomIdParameter(kind);
    const params: JsonSchema = {
      type: 'object',
      required: [idName, ...Object.keys(spec.params ?? {})],
      properties: { [idName]: ROOM_ID_SCHEMA, ...spec.params },
    };
    app.route({
      method,
      url: `/pcast/${kind}/:${idName}${path}`,
      config: { statuses: spec.statuses },
      schema: {
        summary: `${spec.summary} (${kind} form)`,
        params,
        ...(spec.body === undefined ? {} : { body: spec.body }),
        ...(spec.querystring === undefined ? {} : { querystring: spec.querystring }),
      },
      handler: async (request, reply) => {
        const result = await handler(kind, request);
        return reply.code(result.code ?? 200).send(result.body);
      },
    });
  }
}

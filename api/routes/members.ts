import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../domain/errors.ts';
import { parseStreamUri } from '../../domain/stream-uri.ts';
import { MEMBER_ROLES, MEMBER_STATES, type Member } from '../../domain/types.ts';
import type { ApiContext } from '../context.ts';
import { forEachKind, loadRoom, presentMember, presentRoom } from '../rooms-view.ts';

const MEMBER_OPTIONS = ['reenter'] as const;

const joinBodySchema = {
  type: 'object',
  required: ['member'],
  additionalProperties: false,
  properties: {
    member: {
      type: 'object',
      required: ['sessionId', 'screenName', 'role', 'state'],
      additionalProperties: false,
      properties: {
        sessionId: { type: 'string', minLength: 1, maxLength: 256 },
        screenName: { type: 'string', maxLength: 256 },
        role: { type: 'string', enum: [...MEMBER_ROLES] },
        state: { type: 'string', enum: [...MEMBER_STATES] },
        streams: {
          type: 'array',
          maxItems: 64,
          items: {
            type: 'object',
            required: ['uri'],
            additionalProperties: false,
            properties: {
              uri: { type: 'string', minLength: 1, maxLength: 2048 },
              type: { type: 'string', maxLength: 64 },
              audioState: { type: 'string', maxLength: 64 },
              videoState: { type: 'string', maxLength: 64 },
            },
          },
        },
      },
    },
    options: {
      type: 'array',
      maxItems: MEMBER_OPTIONS.length,
      items: { type: 'string', enum: [...MEMBER_OPTIONS] },
    },
  },
} as const;

interface JoinBody {
  member: {
    sessionId: string;
    screenName: string;
    role: Member['role'];
    state: Member['state'];
    streams?: { uri: string; type?: string; audioState?: string; videoState?: string }[];
  };
  options?: string[];
}

export function registerMemberRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(
    app,
    'GET',
    '/members',
    {
      summary: 'List the members of a room, by ascending lastUpdate',
      statuses: ['ok', 'invalid-room-id', 'not-found', 'unauthorized'],
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const members = await context.store.members.list(room.roomId);
      return {
        body: {
          status: 'ok',
          [kind]: presentRoom(room, kind),
          members: members.map(presentMember),
        },
      };
    },
  );

  forEachKind(
    app,
    'PUT',
    '/members',
    {
      summary:
        'Join a member; with option reenter, replace any record of the same session, moving it ' +
        'between the audience set and the room set when its role changes',
      statuses: [
        'ok',
        'already-exists',
        'invalid-room-id',
        'invalid-session-id',
        'invalid-role',
        'invalid-state',
        'invalid-uri',
        'invalid-option',
        'not-found',
        'unauthorized',
      ],
      body: joinBodySchema,
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const body = request.body as JoinBody;
      const options = body.options ?? [];
      const streams = (body.member.streams ?? []).map((stream, index) => {
        if (parseStreamUri(stream.uri) === undefined) {
          throw new ServiceError(
            'invalid-uri',
            `member.streams.${index}.uri must be <scheme>://<host>/<streamId>, got ${JSON.stringify(stream.uri)}`,
          );
        }
        return {
          uri: stream.uri,
          type: stream.type ?? 'User',
          audioState: stream.audioState ?? 'TRACK_ENABLED',
          videoState: stream.videoState ?? 'TRACK_ENABLED',
        };
      });
      const member: Member = {
        roomId: room.roomId,
        sessionId: body.member.sessionId,
        screenName: body.member.screenName,
        role: body.member.role,
        state: body.member.state,
        streams,
        lastUpdate: Date.now(),
      };

      // TODO: member writes from the API go straight to the store, not through the executor,
      // so they are not ordered with forks and kills that the executor applies to this room.
      if (options.includes('reenter')) {
        const previous = await context.store.members.get(room.roomId, member.sessionId);
        await context.store.members.put(member);
        await endDroppedMirrors(context, room.roomId, previous, member, 'member-reentered');
      } else if (!(await context.store.members.insert(member))) {
        throw new ServiceError(
          'already-exists',
          `session ${member.sessionId} is already a member; join with option reenter to replace it`,
        );
      }
      request.log.info({ roomId: room.roomId, sessionId: member.sessionId }, 'member joined');
      return {
        body: { status: 'ok', [kind]: presentRoom(room, kind), member: presentMember(member) },
      };
    },
  );

  forEachKind(
    app,
    'DELETE',
    '/members/:sessionId',
    {
      summary: 'Remove a member from the room',
      statuses: ['ok', 'invalid-room-id', 'invalid-session-id', 'not-found', 'unauthorized'],
      params: { sessionId: { type: 'string', minLength: 1, maxLength: 256 } },
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const { sessionId } = request.params as { sessionId: string };
      const removed = await context.store.members.remove(room.roomId, sessionId);
      if (removed === undefined) {
        throw new ServiceError(
          'not-found',
          `session ${sessionId} is not a member of ${room.roomId}`,
        );
      }
      await endDroppedMirrors(context, room.roomId, removed, undefined, 'member-left');
      request.log.info({ roomId: room.roomId, sessionId }, 'member left');
      return { body: { status: 'ok' } };
    },
  );
}

/**
 * Ends the mirrors that forks placed in this room for the member's previous record and that its
 * new record (none after a leave) no longer references, so none is left without a member. The
 * member's own origin streams keep running: their publisher decides when they end.
 */
async function endDroppedMirrors(
  context: ApiContext,
  roomId: string,
  previous: Member | undefined,
  next: Member | undefined,
  reason: string,
): Promise<void> {
  const kept = new Set(next?.streams.map((stream) => parseStreamUri(stream.uri)?.streamId));
  const dropped = (previous?.streams ?? [])
    .map((stream) => parseStreamUri(stream.uri)?.streamId)
    .filter((streamId): streamId is string => streamId !== undefined && !kept.has(streamId));
  for (const stream of await context.store.streams.getMany(dropped)) {
    if (stream.upstreamId !== null && stream.roomId === roomId) {
      await context.streams.destroy(stream.streamId, reason);
    }
  }
}

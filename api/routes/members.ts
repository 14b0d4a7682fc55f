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
    options: { type: 'array', items: { type: 'string' }, maxItems: 16 },
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
  forEachKind(app, 'GET', '/:roomId/members', {}, async (kind, request) => {
    const { room } = await loadRoom(request, context, kind);
    const members = await context.store.members.list(room.roomId);
    return {
      body: { status: 'ok', [kind]: presentRoom(room, kind), members: members.map(presentMember) },
    };
  });

  forEachKind(
    app,
    'PUT',
    '/:roomId/members',
    { schema: { body: joinBodySchema } },
    async (kind, request) => {
      const { room } = await loadRoom(request, context, kind);
      const body = request.body as JoinBody;
      const options = body.options ?? [];
      for (const option of options) {
        if (!(MEMBER_OPTIONS as readonly string[]).includes(option)) {
          throw new ServiceError(
            'invalid-option',
            `options: unknown member option ${JSON.stringify(option)}; known options are ${MEMBER_OPTIONS.join(', ')}`,
          );
        }
      }
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

      if (options.includes('reenter')) {
        await context.store.members.put(member);
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

  forEachKind(app, 'DELETE', '/:roomId/members/:sessionId', {}, async (kind, request) => {
    const { room } = await loadRoom(request, context, kind);
    const { sessionId } = request.params as { sessionId: string };
    const removed = await context.store.members.remove(room.roomId, sessionId);
    if (removed === undefined) {
      throw new ServiceError('not-found', `session ${sessionId} is not a member of ${room.roomId}`);
    }
    request.log.info({ roomId: room.roomId, sessionId }, 'member left');
    return { body: { status: 'ok' } };
  });
}

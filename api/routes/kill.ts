import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.ts';
import { KILL_OPTIONS, requestKill, type KillOption } from '../room-kills.ts';
import { forEachKind, loadRoom } from '../rooms-view.ts';

const killBodySchema = {
  type: 'object',
  required: ['reason'],
  additionalProperties: false,
  properties: {
    reason: { type: 'string', minLength: 1, maxLength: 256 },
    options: {
      type: 'array',
      maxItems: KILL_OPTIONS.length,
      items: { type: 'string', enum: [...KILL_OPTIONS] },
    },
  },
} as const;

export function registerKillRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(
    app,
    'PUT',
    '/kill',
    {
      summary:
        "Kill the room: every member's streams end with the reason (unless keep-streams), then " +
        'every member leaves. With destroy-required a failed destroy stops the kill and its ' +
        'status is returned. killedMembers lists the session ids that left.',
      statuses: [
        'ok',
        'invalid-room-id',
        'invalid-option',
        'not-found',
        'unauthorized',
        'capacity',
        'timeout',
      ],
      body: killBodySchema,
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const body = request.body as { reason: string; options?: KillOption[] };
      const options = new Set(body.options ?? []);
      const { record, result } = await requestKill(context, room, request.applicationId, {
        reason: body.reason,
        keepStreams: options.has('keep-streams'),
        destroyRequired: options.has('destroy-required'),
        deleteRoom: false,
      });
      request.log.info(
        { roomId: room.roomId, killId: record.forkId, status: result.body.status },
        'room kill finished',
      );
      if (result.code !== 200) {
        return result;
      }
      return { body: { ...result.body, killedMembers: record.departed } };
    },
  );
}

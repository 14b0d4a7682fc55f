import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../domain/errors.ts';
import type { ApiContext } from '../context.ts';
import { forEachKind, loadRoom } from '../rooms-view.ts';
import { ROOM_ID_SCHEMA } from '../schemas.ts';

/** Stopping a standing fork (`follow`) leaves the destination as it is. */
export function registerStandingForkRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(
    app,
    'DELETE',
    '/fork/:sourceRoomId',
    {
      summary: 'Stop the standing fork (follow) of the source room into this room.',
      statuses: ['ok', 'invalid-room-id', 'not-found', 'unauthorized'],
      params: { sourceRoomId: ROOM_ID_SCHEMA },
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const { sourceRoomId } = request.params as { sourceRoomId: string };
      const stopped = await context.store.standingForks.delete(room.roomId, sourceRoomId);
      if (!stopped) {
        throw new ServiceError(
          'not-found',
          `no standing fork of ${sourceRoomId} into ${room.roomId}; start one with option follow`,
        );
      }
      request.log.info({ roomId: room.roomId, sourceRoomId }, 'standing fork stopped');
      return { body: { status: 'ok' } };
    },
  );
}

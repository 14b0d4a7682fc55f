import type { FastifyInstance } from 'fastify';
import { parseStreamUri } from '../../domain/stream-uri.ts';
import { MEMBER_ROLES, MEMBER_STATES, type Member } from '../../domain/types.ts';
import type { ApiContext } from '../context.ts';
import { forEachKind, loadRoom, presentRoom } from '../rooms-view.ts';
import { querySchema } from '../schemas.ts';

/**
 * Stream capabilities a viewer can ask for, and the URI capability each one needs. `RealTime`
 * needs none: every stream plays in real time.
 */
const CAPABILITY_FILTERS = {
  RealTime: undefined,
  RTMP: 'rtmp',
  HLS: 'streaming',
  DASH: 'streaming',
} as const;
type Capability = keyof typeof CAPABILITY_FILTERS;

interface StreamsQuery {
  role?: Member['role'];
  state?: Member['state'];
  screenName?: string;
  capability?: Capability;
}

export function registerRoomStreamRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(
    app,
    'GET',
    '/streams',
    {
      summary:
        "List the stream ids of the room's members, in member order (ascending lastUpdate), " +
        'filtered by role, state, screenName and capability',
      statuses: [
        'ok',
        'invalid-room-id',
        'invalid-role',
        'invalid-state',
        'invalid-capability',
        'not-found',
        'unauthorized',
      ],
      querystring: querySchema({
        role: { type: 'string', enum: [...MEMBER_ROLES] },
        state: { type: 'string', enum: [...MEMBER_STATES] },
        screenName: { type: 'string', maxLength: 256 },
        capability: { type: 'string', enum: Object.keys(CAPABILITY_FILTERS) },
      }),
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const query = request.query as StreamsQuery;
      const members = await context.store.members.list(room.roomId);
      const required =
        query.capability === undefined ? undefined : CAPABILITY_FILTERS[query.capability];

      const streamIds: string[] = [];
      for (const member of members) {
        if (
          (query.role !== undefined && member.role !== query.role) ||
          (query.state !== undefined && member.state !== query.state) ||
          (query.screenName !== undefined && member.screenName !== query.screenName)
        ) {
          continue;
        }
        for (const stream of member.streams) {
          const parsed = parseStreamUri(stream.uri);
          if (parsed === undefined) {
            continue;
          }
          if (required === undefined || parsed.capabilities.includes(required)) {
            streamIds.push(parsed.streamId);
          }
        }
      }
      return { body: { status: 'ok', [kind]: presentRoom(room, kind), streamIds } };
    },
  );
}

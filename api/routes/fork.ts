import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { TOPICS } from '../../bus/topics.ts';
import { ServiceError, httpCodeOf } from '../../domain/errors.ts';
import { assertRoomId, parseForkBody } from '../../domain/fork-request.ts';
import { FORK_OPTIONS, type ForkRecord, type ForkRequest } from '../../domain/types.ts';
import { newForkRecord } from '../../processors/fork-planner.ts';
import { codecs } from '../../schemas/codec.ts';
import type { ApiContext } from '../context.ts';
import { assertOwner } from '../auth.ts';
import { forEachKind, loadRoom, presentMember } from '../rooms-view.ts';
import { ROOM_ID_SCHEMA, querySchema } from '../schemas.ts';

const stringList = {
  type: 'array',
  maxItems: 64,
  items: { type: 'string', maxLength: 256 },
} as const;

/** The same rules as parseForkBody, which also checks fork requests read from Kafka. */
const forkBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    streamCapabilities: {
      ...stringList,
      // Capabilities travel as a comma-separated URI query, so one cannot hold a comma.
      items: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^,]+$' },
    },
    streamTags: stringList,
    options: {
      type: 'array',
      maxItems: FORK_OPTIONS.length,
      items: { type: 'string', enum: [...FORK_OPTIONS] },
    },
    desiredRegion: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

export function registerForkRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(
    app,
    'PUT',
    '/fork/:sourceRoomId',
    {
      summary:
        'Fork the source room into this room: mirror its members and streams. With ' +
        'wait=false, answer 202 with a forkId at once.',
      statuses: [
        'ok',
        'accepted',
        'invalid-room-id',
        'invalid-option',
        'invalid-region',
        'not-found',
        'unauthorized',
        'origin-stream-ended',
        'origin-not-found',
        'capacity',
        'timeout',
      ],
      params: { sourceRoomId: ROOM_ID_SCHEMA },
      querystring: querySchema({ wait: { type: 'string', enum: ['true', 'false'] } }),
      body: forkBodySchema,
    },
    async (kind, request) => {
      const { sourceRoomId } = request.params as { sourceRoomId: string };
      assertRoomId(sourceRoomId, 'sourceRoomId');
      const wait = (request.query as { wait?: string }).wait !== 'false';
      const body = parseForkBody(request.body);
      // Checked here as well as by the planner, so a fork that cannot run leaves no record.
      const { roomId } = await loadRoom(request, context, kind);
      const source = await context.store.rooms.get(sourceRoomId);
      if (source === undefined) {
        throw new ServiceError('not-found', `source room ${sourceRoomId} not found`);
      }
      assertOwner(source, request.applicationId);
      if (sourceRoomId === roomId) {
        throw new ServiceError(
          'invalid-room-id',
          'sourceRoomId must differ from the destination: a room cannot be forked into itself',
        );
      }

      const forkRequest: ForkRequest = {
        forkId: randomUUID(),
        applicationId: request.applicationId,
        roomId,
        sourceRoomId,
        ...body,
        requested: Date.now(),
      };
      // Stored before it is published, so `GET /pcast/fork/:forkId` finds it at once.
      await context.store.forks.insert(newForkRecord(forkRequest));
      await context.bus.publish(TOPICS.forkRequests, [
        { key: roomId, value: codecs.forkRequest.encode(forkRequest) },
      ]);
      request.log.info({ forkId: forkRequest.forkId, roomId, sourceRoomId }, 'fork accepted');
      if (!wait) {
        return { code: 202, body: { status: 'accepted', forkId: forkRequest.forkId } };
      }

      const record = await context.outcomes.wait(forkRequest.forkId, context.forkTimeoutMs);
      return forkReply(record, context);
    },
  );

  app.get(
    '/pcast/fork/:forkId',
    {
      config: { statuses: ['ok', 'invalid-request', 'not-found'] },
      schema: {
        summary: 'Get the stored record of one fork request and its outcome',
        params: {
          type: 'object',
          required: ['forkId'],
          properties: { forkId: { type: 'string', minLength: 1, maxLength: 256 } },
        },
      },
    },
    async (request) => {
      const { forkId } = request.params as { forkId: string };
      const record = await context.store.forks.get(forkId);
      if (record === undefined || record.applicationId !== request.applicationId) {
        throw new ServiceError('not-found', `fork ${forkId} not found`);
      }
      return { status: 'ok', fork: record };
    },
  );
}

async function forkReply(record: ForkRecord, context: ApiContext) {
  const status = record.status ?? 'internal-error';
  if (status !== 'ok') {
    // A caller that passed authentication gets `unauthorized` only for a room it does not own.
    const code = httpCodeOf(status, status === 'unauthorized');
    return { code, body: { status, message: record.message, forkId: record.forkId } };
  }
  const members = await context.store.members.list(record.roomId);
  return { body: { status: 'ok', forkId: record.forkId, members: members.map(presentMember) } };
}

import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../domain/errors.ts';
import { camelCase, randomAlphanumeric } from '../../domain/ids.ts';
import { ROOM_TYPES, type Room, type RoomType } from '../../domain/types.ts';
import { authenticate } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { forEachKind, loadRoom, presentRoom, type RoomKind } from '../rooms-view.ts';

const STREAM_KEY_LENGTH = 96;

const roomFields = {
  alias: { type: 'string', minLength: 1, maxLength: 256 },
  name: { type: 'string', maxLength: 256 },
  description: { type: 'string', maxLength: 4096 },
  options: { type: 'array', items: { type: 'string' }, maxItems: 64 },
} as const;

function createBodySchema(kind: RoomKind) {
  const fields =
    kind === 'room'
      ? { ...roomFields, type: { type: 'string', enum: [...ROOM_TYPES] } }
      : roomFields;
  return {
    type: 'object',
    required: [kind],
    additionalProperties: false,
    properties: {
      [kind]: { type: 'object', additionalProperties: false, properties: fields },
    },
  };
}

interface RoomInput {
  alias?: string;
  name?: string;
  description?: string;
  type?: RoomType;
  options?: string[];
}

export function registerRoomRoutes(app: FastifyInstance, context: ApiContext): void {
  for (const kind of ['room', 'channel'] as const) {
    app.put(
      `/pcast/${kind}`,
      { schema: { body: createBodySchema(kind) } },
      async (request, reply) => {
        const applicationId = await authenticate(request, context.store);
        const input = (request.body as Record<RoomKind, RoomInput>)[kind];
        const room = newRoom(
          applicationId,
          input,
          kind === 'channel' ? 'Channel' : input.type,
          context,
        );

        const result = await context.store.rooms.create(room);
        if (!result.created) {
          const status = result.room.type === room.type ? 'already-exists' : 'type-conflict';
          return reply.code(409).send({ status, [kind]: presentRoom(result.room, kind) });
        }
        request.log.info({ roomId: room.roomId, type: room.type }, 'room created');
        return reply.send({ status: 'ok', [kind]: presentRoom(result.room, kind) });
      },
    );
  }

  forEachKind(app, 'GET', '/:roomId', {}, async (kind, request) => {
    const { room } = await loadRoom(request, context, kind);
    const estimatedSize = await context.store.members.count(room.roomId);
    return { body: { status: 'ok', [kind]: presentRoom(room, kind, { estimatedSize }) } };
  });
}

function newRoom(
  applicationId: string,
  input: RoomInput,
  type: RoomType | undefined,
  context: ApiContext,
): Room {
  const name = input.name?.trim() ?? '';
  if (name === '') {
    throw new ServiceError('name-required', 'name is required and must not be empty');
  }
  if (type === undefined) {
    throw new ServiceError(
      'invalid-type',
      `type is required; expected one of ${ROOM_TYPES.join(', ')}`,
    );
  }
  const options = input.options ?? [];
  if (options.some((option) => option.trim() === '')) {
    throw new ServiceError('invalid-option', 'options must be non-empty strings');
  }
  const streamKeyOption = options.find((option) => option.startsWith('streamKey='));
  const alias = input.alias ?? camelCase(name);
  if (alias === '') {
    throw new ServiceError(
      'invalid-request',
      'alias: name has no letters or digits to derive an alias from; give one',
    );
  }
  const now = Date.now();
  return {
    roomId: `${context.defaultRegion}#${applicationId}#${camelCase(name) || 'room'}.${randomAlphanumeric(12)}`,
    applicationId,
    alias,
    name,
    description: input.description ?? '',
    type,
    options,
    streamKey: streamKeyOption?.slice('streamKey='.length) || randomAlphanumeric(STREAM_KEY_LENGTH),
    created: now,
    lastUpdate: now,
  };
}

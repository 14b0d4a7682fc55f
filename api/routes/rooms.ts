import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../domain/errors.ts';
import { camelCase, randomAlphanumeric } from '../../domain/ids.ts';
import { ROOM_TYPES, isChannel, type Room, type RoomType } from '../../domain/types.ts';
import type { ApiContext } from '../context.ts';
import { requestKill } from '../room-kills.ts';
import { ROOM_KINDS, forEachKind, loadRoom, presentRoom, type RoomKind } from '../rooms-view.ts';
import { querySchema } from '../schemas.ts';

const STREAM_KEY_LENGTH = 96;
const CHANNEL_TYPES: readonly RoomType[] = ROOM_TYPES.filter((type) => isChannel({ type }));

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
  for (const kind of ROOM_KINDS) {
    app.put(
      `/pcast/${kind}`,
      {
        config: {
          statuses: [
            'ok',
            'already-exists',
            'type-conflict',
            'name-required',
            'invalid-option',
            ...(kind === 'room' ? (['invalid-type'] as const) : []),
          ],
        },
        schema: {
          summary:
            kind === 'room'
              ? 'Create a room; an existing alias returns the stored room'
              : 'Create a channel; an existing alias returns the stored channel',
          body: createBodySchema(kind),
        },
      },
      async (request, reply) => {
        const input = (request.body as Record<RoomKind, RoomInput>)[kind];
        const type = kind === 'channel' ? 'Channel' : input.type;
        const room = newRoom(request.applicationId, input, type, kind, context);

        const result = await context.store.rooms.create(room);
        if (!result.created) {
          const status = result.room.type === room.type ? 'already-exists' : 'type-conflict';
          return reply.code(409).send({
            status,
            message: `alias ${JSON.stringify(room.alias)} is taken by ${result.room.type} ${result.room.roomId}`,
            [kind]: presentRoom(result.room, kind),
          });
        }
        request.log.info({ roomId: room.roomId, type: room.type }, 'room created');
        return reply.send({ status: 'ok', [kind]: presentRoom(result.room, kind) });
      },
    );

    const types = kind === 'room' ? ROOM_TYPES : CHANNEL_TYPES;
    app.get(
      `/pcast/${kind}s`,
      {
        config: { statuses: ['ok', 'invalid-type'] },
        schema: {
          summary:
            kind === 'room'
              ? "List the caller's rooms, of one type when `type` is given"
              : "List the caller's channels, of one channel type when `type` is given",
          querystring: querySchema({ type: { type: 'string', enum: [...types] } }),
        },
      },
      async (request) => {
        const { type } = request.query as { type?: RoomType };
        const rooms = await context.store.rooms.list(request.applicationId, type);
        const listed = kind === 'room' ? rooms : rooms.filter((room) => isChannel(room));
        return { status: 'ok', [`${kind}s`]: listed.map((room) => presentRoom(room, kind)) };
      },
    );
  }

  forEachKind(
    app,
    'GET',
    '',
    {
      summary: 'Get a room with its estimatedSize (member count)',
      statuses: ['ok', 'invalid-room-id', 'not-found', 'unauthorized'],
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const estimatedSize = await context.store.members.count(room.roomId);
      return { body: { status: 'ok', [kind]: presentRoom(room, kind, { estimatedSize }) } };
    },
  );

  forEachKind(
    app,
    'DELETE',
    '',
    {
      summary:
        'Delete the room: its members leave and their streams end with reason room-deleted. ' +
        'To keep the streams, kill the room with keep-streams first.',
      statuses: ['ok', 'invalid-room-id', 'not-found', 'unauthorized', 'timeout'],
    },
    async (kind, request) => {
      const room = await loadRoom(request, context, kind);
      const { record, result } = await requestKill(context, room, request.applicationId, {
        reason: 'room-deleted',
        keepStreams: false,
        destroyRequired: false,
        deleteRoom: true,
      });
      request.log.info({ roomId: room.roomId, killId: record.forkId }, 'room deleted');
      if (result.code !== 200) {
        return result;
      }
      return { body: { status: 'ok', killedMembers: record.departed } };
    },
  );
}

function newRoom(
  applicationId: string,
  input: RoomInput,
  type: RoomType | undefined,
  kind: RoomKind,
  context: ApiContext,
): Room {
  const name = input.name?.trim() ?? '';
  if (name === '') {
    throw new ServiceError('name-required', `${kind}.name is required and must not be empty`);
  }
  if (type === undefined) {
    throw new ServiceError(
      'invalid-type',
      `${kind}.type is required; expected one of ${ROOM_TYPES.join(', ')}`,
    );
  }
  const options = input.options ?? [];
  if (options.some((option) => option.trim() === '')) {
    throw new ServiceError('invalid-option', `${kind}.options must contain non-empty strings`);
  }
  const streamKeyOption = options.find((option) => option.startsWith('streamKey='));
  const alias = input.alias ?? camelCase(name);
  if (alias === '') {
    throw new ServiceError(
      'invalid-request',
      `${kind}.alias is required when the name has no letters or digits to derive it from`,
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

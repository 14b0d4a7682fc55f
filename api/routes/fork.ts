import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { TOPICS } from '../../bus/topics.ts';
import { ServiceError, httpCodeOf } from '../../domain/errors.ts';
import { assertRoomId, parseForkBody } from '../../domain/fork-request.ts';
import type { ForkRecord, ForkRequest } from '../../domain/types.ts';
import { newForkRecord } from '../../processors/fork-planner.ts';
import { codecs } from '../../schemas/codec.ts';
import { authenticate } from '../auth.ts';
import type { ApiContext } from '../context.ts';
import { forEachKind, presentMember } from '../rooms-view.ts';

export function registerForkRoutes(app: FastifyInstance, context: ApiContext): void {
  forEachKind(app, 'PUT', '/:roomId/fork/:sourceRoomId', {}, async (kind, request) => {
    const applicationId = await authenticate(request, context.store);
    const { roomId, sourceRoomId } = request.params as { roomId: string; sourceRoomId: string };
    assertRoomId(roomId, `${kind}Id`);
    assertRoomId(sourceRoomId, 'sourceRoomId');
    const wait = parseWait((request.query as { wait?: unknown }).wait);
    const body = parseForkBody(request.body);

    const forkRequest: ForkRequest = {
      forkId: randomUUID(),
      applicationId,
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
  });

  app.get('/pcast/fork/:forkId', async (request) => {
    const applicationId = await authenticate(request, context.store);
    const { forkId } = request.params as { forkId: string };
    const record = await context.store.forks.get(forkId);
    if (record === undefined || record.applicationId !== applicationId) {
      throw new ServiceError('not-found', `fork ${forkId} not found`);
    }
    return { status: 'ok', fork: record };
  });
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

function parseWait(value: unknown): boolean {
  if (value === undefined || value === 'true') {
    return true;
  }
  if (value === 'false') {
    return false;
  }
  throw new ServiceError(
    'invalid-request',
    `wait must be true or false, got ${JSON.stringify(value)}`,
  );
}

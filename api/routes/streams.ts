import type { FastifyInstance } from 'fastify';
import { ServiceError } from '../../domain/errors.ts';
import { formatStreamUri } from '../../domain/stream-uri.ts';
import type { ApiContext } from '../context.ts';

const publishBodySchema = {
  type: 'object',
  required: ['sessionId'],
  additionalProperties: false,
  properties: {
    sessionId: { type: 'string', minLength: 1, maxLength: 256 },
    capabilities: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 32 },
    region: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

const endBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { reason: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

const streamParamsSchema = {
  type: 'object',
  required: ['streamId'],
  properties: { streamId: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;

export function registerStreamRoutes(app: FastifyInstance, context: ApiContext): void {
  app.put(
    '/pcast/stream',
    {
      config: { statuses: ['ok', 'invalid-session-id', 'invalid-region', 'capacity'] },
      schema: {
        summary: 'Publish an origin stream on the least loaded media node of the region',
        body: publishBodySchema,
      },
    },
    async (request) => {
      const body = request.body as { sessionId: string; capabilities?: string[]; region?: string };
      const stream = await context.streams.publishOrigin({
        sessionId: body.sessionId,
        capabilities: body.capabilities ?? [],
        region: body.region ?? null,
      });
      const base = new URL(context.streamUriBase);
      const uri = formatStreamUri({
        scheme: base.protocol.replace(/:$/, ''),
        host: base.host,
        streamId: stream.streamId,
        capabilities: stream.capabilities,
      });
      request.log.info({ streamId: stream.streamId, node: stream.node }, 'stream published');
      return { status: 'ok', streamId: stream.streamId, uri };
    },
  );

  app.get(
    '/pcast/stream/:streamId',
    {
      config: { statuses: ['ok', 'invalid-stream-id', 'not-found'] },
      schema: { summary: 'Get the record of a stream', params: streamParamsSchema },
    },
    async (request) => {
      const { streamId } = request.params as { streamId: string };
      const stream = await context.store.streams.get(streamId);
      if (stream === undefined) {
        throw new ServiceError('not-found', `stream ${streamId} not found`);
      }
      return { status: 'ok', stream };
    },
  );

  app.delete(
    '/pcast/stream/:streamId',
    {
      config: { statuses: ['ok', 'invalid-stream-id', 'not-found'] },
      schema: {
        summary:
          'End a stream as if its media node had ended it; a mirror ended this way is healed',
        params: streamParamsSchema,
        body: endBodySchema,
      },
    },
    async (request) => {
      const { streamId } = request.params as { streamId: string };
      const reason =
        (request.body as { reason?: string } | undefined)?.reason ?? 'ended-by-request';
      const stream = await context.store.streams.get(streamId);
      if (stream === undefined) {
        throw new ServiceError('not-found', `stream ${streamId} not found`);
      }
      if (stream.state === 'ended') {
        return { status: 'ok', stream };
      }
      const ended = await context.streams.endOnNode(streamId, reason);
      request.log.info({ streamId, reason }, 'stream ended by request');
      return { status: 'ok', stream: ended ?? stream };
    },
  );
}

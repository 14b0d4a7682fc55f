/**
 * HTTP routes of the media node control API (paths and bodies in control-api.ts). Handlers
 * validate the request and delegate to the MediaAgent. Errors become `{status, message}` with
 * the HTTP code of the status.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { ServiceError, isServiceError } from '../domain/errors.ts';
import type { MediaAgent, PutStreamResult } from './agent.ts';
import {
  DEFAULT_FAULT_END_REASON,
  DEFAULT_STALL_REASON,
  MAX_EVENTS_LIMIT,
  MAX_EVENTS_WAIT_MS,
  type AttachSubscriberReply,
  type DetachSubscriberReply,
  type FailNodeReply,
  type LifecycleEventsReply,
  type StreamListReply,
  type StreamReply,
  type SubscriberListReply,
} from './control-api.ts';

/** Maximum length of a stream id, in characters after decoding. */
export const MAX_STREAM_ID_LENGTH = 512;

type StreamParams = { Params: { streamId: string } };
type SubscriberParams = { Params: { streamId: string; mirrorId: string } };

export function registerControlRoutes(app: FastifyInstance, agent: MediaAgent): void {
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      status: 'not-found',
      message: `no control API route for ${request.method} ${request.url}`,
    });
  });

  app.get('/health', async () => ({ status: 'ok', nodeId: agent.info.nodeId }));
  app.get('/node', async () => agent.nodeStatus());

  app.get<{ Querystring: { state?: string } }>('/streams', async (request) => {
    const state = request.query.state;
    if (state !== undefined && state !== 'started' && state !== 'ended') {
      throw new ServiceError('invalid-state', `state must be started or ended, got ${state}`);
    }
    const streams = agent.engine.list().filter((s) => state === undefined || s.state === state);
    const reply: StreamListReply = { status: 'ok', streams };
    return reply;
  });

  app.get<StreamParams>('/streams/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const stream = agent.engine.get(streamId);
    if (stream === undefined) {
      throw new ServiceError(
        'not-found',
        `stream ${streamId} is not on media node ${agent.info.nodeId}`,
      );
    }
    const reply: StreamReply = { status: 'ok', stream };
    return reply;
  });

  app.put<StreamParams>('/streams/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const body = readBody(request.body);
    const kind = body['kind'];
    if (kind !== 'origin' && kind !== 'mirror') {
      throw new ServiceError(
        'invalid-request',
        `kind must be origin or mirror, got ${JSON.stringify(kind)}`,
      );
    }
    const sessionId = readString(body, 'sessionId');
    const capabilities = readOptionalStringArray(body, 'capabilities');

    let result: PutStreamResult;
    if (kind === 'origin') {
      result = await agent.publishOrigin(streamId, { sessionId, capabilities: capabilities ?? [] });
    } else {
      result = await agent.createMirror(streamId, {
        sessionId,
        upstreamId: readStreamId(readString(body, 'upstreamId'), 'upstreamId'),
        upstreamUrl: readHttpUrl(body, 'upstreamUrl'),
        ...(capabilities === undefined ? {} : { capabilities }),
      });
    }
    const reply: StreamReply = { status: 'ok', stream: result.stream, created: result.created };
    return reply;
  });

  app.delete<StreamParams>('/streams/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const reason = readString(readBody(request.body), 'reason');
    const reply: StreamReply = { status: 'ok', stream: await agent.endStream(streamId, reason) };
    return reply;
  });

  app.get<StreamParams>('/streams/:streamId/subscribers', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    if (agent.engine.get(streamId) === undefined) {
      throw new ServiceError(
        'not-found',
        `stream ${streamId} is not on media node ${agent.info.nodeId}`,
      );
    }
    const reply: SubscriberListReply = {
      status: 'ok',
      subscribers: agent.engine.subscribers(streamId),
    };
    return reply;
  });

  app.put<SubscriberParams>('/streams/:streamId/subscribers/:mirrorId', async (request) => {
    const upstreamId = readStreamId(request.params.streamId);
    const mirrorId = readStreamId(request.params.mirrorId, 'mirrorId');
    const body = readBody(request.body);
    const url = readHttpUrl(body, 'url');
    const offer = body['offer'] ?? {};
    if (typeof offer !== 'object' || offer === null || Array.isArray(offer)) {
      throw new ServiceError('invalid-request', 'offer must be a JSON object');
    }
    const attachment = await agent.attachSubscriber(
      upstreamId,
      mirrorId,
      url,
      offer as Record<string, unknown>,
    );
    const reply: AttachSubscriberReply = { status: 'ok', ...attachment };
    return reply;
  });

  app.delete<SubscriberParams>('/streams/:streamId/subscribers/:mirrorId', async (request) => {
    const upstreamId = readStreamId(request.params.streamId);
    const mirrorId = readStreamId(request.params.mirrorId, 'mirrorId');
    const detached = await agent.detachSubscriber(upstreamId, mirrorId);
    const reply: DetachSubscriberReply = { status: 'ok', detached };
    return reply;
  });

  app.post<StreamParams>('/streams/:streamId/upstream-ended', async (request) => {
    const mirrorId = readStreamId(request.params.streamId);
    const upstreamId = readStreamId(readString(readBody(request.body), 'upstreamId'), 'upstreamId');
    const reply: StreamReply = {
      status: 'ok',
      stream: await agent.upstreamEnded(mirrorId, upstreamId),
    };
    return reply;
  });

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/events',
    async (request, reply) => {
      const after = readIntegerQuery(request.query, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
      const limit = readIntegerQuery(request.query, 'limit', 500, 1, MAX_EVENTS_LIMIT);
      const waitMs = readIntegerQuery(request.query, 'waitMs', 0, 0, MAX_EVENTS_WAIT_MS);
      // Stop waiting when the client goes away.
      const abandoned = new AbortController();
      reply.raw.once('close', () => abandoned.abort());
      const batch = await agent.lifecycle.wait(after, limit, waitMs, abandoned.signal);
      const body: LifecycleEventsReply = { status: 'ok', ...batch };
      return body;
    },
  );

  app.post<StreamParams>('/faults/end/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const reason =
      readOptionalString(readOptionalBody(request.body), 'reason') ?? DEFAULT_FAULT_END_REASON;
    const reply: StreamReply = { status: 'ok', stream: await agent.endStream(streamId, reason) };
    return reply;
  });

  app.post<StreamParams>('/faults/stall/:streamId', async (request) => {
    const streamId = readStreamId(request.params.streamId);
    const reason =
      readOptionalString(readOptionalBody(request.body), 'reason') ?? DEFAULT_STALL_REASON;
    const reply: StreamReply = { status: 'ok', stream: await agent.stallStream(streamId, reason) };
    return reply;
  });

  app.post('/faults/fail-node', async () => {
    const reply: FailNodeReply = { status: 'ok', ended: await agent.failNode() };
    return reply;
  });

  app.post('/faults/recover-node', async () => {
    await agent.recoverNode();
    return agent.nodeStatus();
  });
}

function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (isServiceError(error)) {
    if (error.status === 'internal-error') {
      request.log.error({ err: error, url: request.url }, 'control request failed');
    } else {
      request.log.debug(
        { status: error.status, message: error.message, url: request.url },
        'control request rejected',
      );
    }
    void reply.code(error.httpCode).send({ status: error.status, message: error.message });
    return;
  }
  // Errors of fastify itself (malformed JSON, body too large, bad content type) carry a 4xx code.
  const code = error.statusCode ?? 500;
  if (code === 413) {
    void reply.code(413).send({ status: 'payload-too-large', message: error.message });
  } else if (code >= 400 && code < 500) {
    void reply.code(400).send({ status: 'invalid-request', message: error.message });
  } else {
    request.log.error({ err: error, url: request.url }, 'control request failed');
    void reply.code(500).send({ status: 'internal-error', message: error.message });
  }
}

function readStreamId(value: string, field = 'streamId'): string {
  if (value.length === 0 || value.length > MAX_STREAM_ID_LENGTH) {
    throw new ServiceError(
      'invalid-stream-id',
      `${field} must be 1 to ${MAX_STREAM_ID_LENGTH} characters, got ${value.length}`,
    );
  }
  return value;
}

function readBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ServiceError('invalid-request', 'request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Reads the body as an object, taking a missing body as `{}` so fault requests need none. */
function readOptionalBody(body: unknown): Record<string, unknown> {
  return body === undefined || body === null ? {} : readBody(body);
}

function readString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new ServiceError('invalid-request', `${field} must be a non-empty string`);
  }
  return value;
}

function readOptionalString(body: Record<string, unknown>, field: string): string | undefined {
  return body[field] === undefined ? undefined : readString(body, field);
}

function readOptionalStringArray(
  body: Record<string, unknown>,
  field: string,
): string[] | undefined {
  const value = body[field];
  if (value === undefined) {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    throw new ServiceError('invalid-request', `${field} must be an array of non-empty strings`);
  }
  return value as string[];
}

function readHttpUrl(body: Record<string, unknown>, field: string): string {
  const value = readString(body, field);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ServiceError('invalid-uri', `${field} must be an absolute http URL, got ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ServiceError('invalid-uri', `${field} must be an http or https URL, got ${value}`);
  }
  return value;
}

function readIntegerQuery(
  query: Record<string, string | undefined>,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = query[field];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ServiceError(
      'invalid-request',
      `query ${field} must be an integer from ${min} to ${max}, got ${raw}`,
    );
  }
  return value;
}

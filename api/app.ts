/**
 * The REST API: a fastify app whose routes map the `/pcast` contract onto the store, the bus and
 * the media nodes. Every reply carries `status`, and the HTTP code follows from it.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { ServiceError, httpCodeOf, isServiceError } from '../domain/errors.ts';
import type { ApiContext } from './context.ts';
import { registerForkRoutes } from './routes/fork.ts';
import { registerMemberRoutes } from './routes/members.ts';
import { registerRoomRoutes } from './routes/rooms.ts';
import { registerStreamRoutes } from './routes/streams.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export async function buildApp(context: ApiContext): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is fastify's logger type with more generics; the cast only drops them.
    loggerInstance: context.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Room and stream ids contain `#`, sent as `%23`; fastify decodes path parameters.
    routerOptions: { maxParamLength: 1000 },
    ajv: {
      // Strict bodies: a string is not a number and unknown keys are errors, not dropped.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
    },
  });

  // A JSON body with a `__proto__` or `constructor` key is rejected rather than sanitized.
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
    (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') {
        done(null, undefined);
        return;
      }
      try {
        done(null, JSON.parse(text, rejectPrototypeKeys));
      } catch (error) {
        const message = error instanceof ServiceError ? error.message : 'body is not valid JSON';
        done(new ServiceError('invalid-request', message, { cause: error }), undefined);
      }
    },
  );

  app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    if (isServiceError(error)) {
      return reply.code(error.httpCode).send({ status: error.status, message: error.message });
    }
    if (error.validation !== undefined) {
      const first = error.validation[0];
      const field = first?.instancePath
        ? first.instancePath.replace(/^\//, '').replaceAll('/', '.')
        : '';
      const message = `${error.validationContext ?? 'request'}${field ? `.${field}` : ''} ${first?.message ?? 'is invalid'}`;
      const extra =
        first?.params && 'additionalProperty' in first.params
          ? `: ${String(first.params.additionalProperty)}`
          : '';
      return reply.code(400).send({ status: 'invalid-request', message: message + extra });
    }
    if (error.statusCode === 413) {
      return reply
        .code(413)
        .send({ status: 'payload-too-large', message: `body exceeds ${BODY_LIMIT_BYTES} bytes` });
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return reply
        .code(error.statusCode)
        .send({ status: 'invalid-request', message: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ status: 'internal-error', message: 'internal error' });
  });

  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .send({ status: 'not-found', message: `no route ${request.method} ${request.url}` });
  });

  app.get('/health', async () => ({ status: 'ok' }));

  registerRoomRoutes(app, context);
  registerMemberRoutes(app, context);
  registerForkRoutes(app, context);
  registerStreamRoutes(app, context);
  return app;
}

function rejectPrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
    throw new ServiceError('invalid-request', `key ${JSON.stringify(key)} is not allowed`);
  }
  return value;
}

/** Sends a result whose `status` decides the HTTP code. */
export function statusCodeFor(status: string): number {
  return httpCodeOf(status);
}

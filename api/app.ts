/**
 * The REST API: a fastify app whose routes map the `/pcast` contract onto the store, the bus and
 * the media nodes. Every reply carries `status`, and the HTTP code follows from it.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { registerAuthentication } from './auth.ts';
import type { ApiContext } from './context.ts';
import {
  BODY_LIMIT_BYTES,
  MAX_PARAM_LENGTH,
  replyToClientError,
  replyToError,
  replyToFrameworkError,
} from './error-replies.ts';
import { registerJsonParser } from './json-body.ts';
import { registerHttpMetrics } from './metrics.ts';
import { collectRoutes, registerOpenApiRoute } from './openapi.ts';
import { registerForkRoutes } from './routes/fork.ts';
import { registerKillRoutes } from './routes/kill.ts';
import { registerMemberRoutes } from './routes/members.ts';
import { registerRoomStreamRoutes } from './routes/room-streams.ts';
import { registerRoomRoutes } from './routes/rooms.ts';
import { registerStandingForkRoutes } from './routes/standing-fork.ts';
import { registerStreamRoutes } from './routes/streams.ts';

export { BODY_LIMIT_BYTES };

/**
 * Request fields that carry credentials. pino replaces them in every log line of the API,
 * whatever the root logger's own redaction is.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'request.headers.authorization',
];

export async function buildApp(context: ApiContext): Promise<FastifyInstance> {
  const logger = context.logger.child(
    { component: 'api' },
    { redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
  );
  const app = Fastify({
    // pino's Logger is fastify's logger type with more generics; the cast only drops them.
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Room and stream ids contain `#`, sent as `%23`; fastify decodes path parameters.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ajv: {
      // Strict bodies: a string is not a number and unknown keys are errors, not dropped.
      // `verbose` keeps the failing value and schema, so messages can name the expected keys.
      customOptions: {
        coerceTypes: false,
        removeAdditional: false,
        allErrors: false,
        verbose: true,
      },
    },
    frameworkErrors: replyToFrameworkError,
    clientErrorHandler: replyToClientError,
  });

  registerJsonParser(app, BODY_LIMIT_BYTES);
  app.setErrorHandler(replyToError);
  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .send({ status: 'not-found', message: `no route ${request.method} ${request.url}` });
  });
  registerAuthentication(app, context.store);
  registerHttpMetrics(app, context.metrics);
  // Collects every route registered after this line, for the OpenAPI document.
  const routes = collectRoutes(app);

  app.get(
    '/health',
    { config: { public: true, statuses: ['ok'] }, schema: { summary: 'Liveness check' } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/metrics',
    {
      config: { public: true, statuses: ['ok'] },
      schema: { summary: 'Prometheus metrics in the text exposition format' },
    },
    async (_request, reply) => {
      const text = await context.metrics.registry.metrics();
      return reply.type(context.metrics.registry.contentType).send(text);
    },
  );

  registerRoomRoutes(app, context);
  registerMemberRoutes(app, context);
  registerRoomStreamRoutes(app, context);
  registerForkRoutes(app, context);
  registerStandingForkRoutes(app, context);
  registerKillRoutes(app, context);
  registerStreamRoutes(app, context);
  registerOpenApiRoute(app, routes);
  return app;
}

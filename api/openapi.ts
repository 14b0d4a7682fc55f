/**
 * The OpenAPI 3.1 document of the API, generated from the routes' own schemas: every route
 * registered after `collectRoutes` appears with its parameters, body schema and the statuses it
 * replies with. Served without credentials at `GET /openapi.json`.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { STATUS_CODES, httpCodeOf, type Status } from '../domain/errors.ts';
import type { JsonSchema } from './schemas.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Statuses the route replies with, for the OpenAPI document and the route table test. */
    statuses?: readonly Status[];
  }
  interface FastifySchema {
    summary?: string;
  }
}

export interface CollectedRoute {
  method: string;
  url: string;
  schema: JsonSchema;
  public: boolean;
  statuses: readonly Status[];
}

/** Records every route registered on the app from now on. */
export function collectRoutes(app: FastifyInstance): CollectedRoute[] {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // fastify adds a HEAD route for each GET route; the GET entry documents both.
      if (method === 'HEAD') {
        continue;
      }
      routes.push({
        method,
        url: route.url,
        schema: (route.schema ?? {}) as JsonSchema,
        public: route.config?.public === true,
        statuses: route.config?.statuses ?? [],
      });
    }
  });
  return routes;
}

export function registerOpenApiRoute(app: FastifyInstance, routes: CollectedRoute[]): void {
  let document: object | undefined;
  app.get(
    '/openapi.json',
    {
      config: { public: true, statuses: ['ok'] },
      schema: { summary: 'This OpenAPI document' },
    },
    async () => {
      // Built on first use, when every route is registered.
      document ??= buildOpenApiDocument(routes);
      return document;
    },
  );
}

/** Statuses a route replies with: its own plus the ones its shape implies. */
export function routeStatuses(route: CollectedRoute): Status[] {
  const statuses = new Set<Status>(route.statuses);
  if (!route.public) {
    statuses.add('unauthorized');
  }
  if (route.schema.body !== undefined) {
    statuses.add('invalid-request');
    statuses.add('payload-too-large');
    statuses.add('unsupported-media-type');
  }
  if (route.schema.querystring !== undefined) {
    // Unknown query parameters; path parameters have statuses of their own, listed by the route.
    statuses.add('invalid-request');
  }
  statuses.add('internal-error');
  return [...statuses];
}

/**
 * HTTP codes of a route's statuses. `unauthorized` is 401 on every authenticated route, and
 * 403 as well on a route that lists it, because those touch rooms of one application.
 */
export function routeResponses(route: CollectedRoute): Map<number, Status[]> {
  const byCode = new Map<number, Status[]>();
  const add = (code: number, status: Status) => {
    byCode.set(code, [...(byCode.get(code) ?? []), status]);
  };
  for (const status of routeStatuses(route)) {
    add(httpCodeOf(status), status);
    if (status === 'unauthorized' && route.statuses.includes('unauthorized')) {
      add(403, status);
    }
  }
  return byCode;
}

export function buildOpenApiDocument(routes: CollectedRoute[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'fork-service',
      version: '0.1.0',
      description:
        'The /pcast REST API of the fork service. Every reply carries `status`; the HTTP code follows from it.',
    },
    paths,
    components: {
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
      schemas: {
        Reply: {
          type: 'object',
          required: ['status'],
          properties: {
            status: { type: 'string', enum: Object.keys(STATUS_CODES) },
            message: {
              type: 'string',
              description: 'For errors: what failed, naming the field and what is expected.',
            },
          },
        },
      },
    },
  };
}

function operation(route: CollectedRoute): object {
  const parameters = [
    ...parametersOf(route.schema.params, 'path'),
    ...parametersOf(route.schema.querystring, 'query'),
  ];
  const responses: Record<string, object> = {};
  const byCode = [...routeResponses(route)].sort(([left], [right]) => left - right);
  for (const [code, statuses] of byCode) {
    responses[String(code)] = {
      description: `status ${statuses.join(', ')}`,
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/Reply' },
              { properties: { status: { enum: statuses } } },
            ],
          },
        },
      },
    };
  }
  return {
    summary: route.schema.summary,
    ...(route.public ? { security: [] } : { security: [{ basicAuth: [] }] }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.schema.body === undefined
      ? {}
      : {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: route.schema.body } },
          },
        }),
    responses,
  };
}

function parametersOf(schema: unknown, location: 'path' | 'query'): object[] {
  if (typeof schema !== 'object' || schema === null) {
    return [];
  }
  const { properties = {}, required = [] } = schema as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || required.includes(name),
    schema: property,
  }));
}
